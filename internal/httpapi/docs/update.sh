#!/usr/bin/env bash
# Vendors Swagger UI from the npm package swagger-ui-dist: only the two files
# the /docs page needs, gzipped (the API serves them as they are to clients
# that accept gzip), with the package's licenses and the checksums of the
# uncompressed files (openapi_test.go checks them).
#
#   internal/httpapi/docs/update.sh [VERSION]     (default: the version in VERSION)
set -euo pipefail
cd "$(dirname "$0")"
version=${1:-$(cat VERSION)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
p=$tmp/package
gzip -9nc "$p/swagger-ui-bundle.js" >swagger-ui-bundle.js.gz
gzip -9nc "$p/swagger-ui.css" >swagger-ui.css.gz
cp "$p/LICENSE" "$p/NOTICE" "$p/swagger-ui-bundle.js.LICENSE.txt" .
(cd "$p" && sha256sum swagger-ui-bundle.js swagger-ui.css) >SHA256SUMS
echo "$version" >VERSION
ls -l swagger-ui-bundle.js.gz swagger-ui.css.gz

#!/usr/bin/env bash
# govulncheck against a vulnerability database built locally from the
# golang.org/x/vulndb module (its data/osv reports), fetched through the Go
# module proxy like any module. vuln.go.dev is not reachable from every
# machine this runs on (our CI's is one), the module proxy is; the data is
# the same, at the commit pinned below.
#
# Environment: VULNDB_VERSION (default the pinned commit; "latest" takes the
# newest), VULNDB_DIR (where the built database is kept, default under
# $XDG_CACHE_HOME or ~/.cache). Exits non-zero when the code calls a known
# vulnerability.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
if [ "$VULNDB_VERSION" = latest ]; then
	VULNDB_VERSION=$(go list -m -f '{{.Version}}' golang.org/x/vulndb@latest)
fi
DB=${VULNDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trend-vulndb}/$VULNDB_VERSION

if [ ! -f "$DB/index/db.json" ]; then
	echo "govulncheck: building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION" >&2
	go mod download "golang.org/x/vulndb@$VULNDB_VERSION"
	src=$(go env GOMODCACHE)/golang.org/x/vulndb@$VULNDB_VERSION
	mkdir -p "$(dirname "$DB")"
	tmp=$(mktemp -d "$DB.XXXXXX") # a run of its own: two at once must not share it
	go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$tmp/db"
	# The first to finish puts it in place; a later one finds it there.
	mv -T "$tmp/db" "$DB" 2>/dev/null || true
	rm -rf "$tmp"
fi
echo "govulncheck: $(go version), database golang.org/x/vulndb@$VULNDB_VERSION" >&2
go run "$GOVULNCHECK" -db "file://$DB" ./...

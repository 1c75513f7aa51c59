#!/usr/bin/env bash
# Install the programs that tests run for real, when they are missing and
# this machine can install them (root with apt-get). `make test` runs it
# first (`make test-tools`). Now:
#   - a C compiler (Debian's gcc and libc6-dev): `go test -race` needs cgo,
#     which Go turns off where there is no gcc, and then refuses -race.
#   - nginx, for internal/deploy's TestNginxProxiesTheStream, which runs
#     frontend/nginx.conf in an nginx of its own (its own prefix, config,
#     pid file and port, in the foreground, stopped by the test). No nginx
#     service is started here: Debian's packages would start one on port 80.
# Where it cannot install, it says so and succeeds: the test then skips,
# or fails when CI is set.
set -euo pipefail

# Server tools live in sbin; CI shells do not always have it on PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

SCRIPT=test-tools.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Debian 12's nginx-light is only a metapackage (nginx and the echo
# module); the test needs the nginx binary alone.
readonly NGINX_PKG=nginx

# Packages' maintainer scripts start services through invoke-rc.d or
# deb-systemd-invoke, which ask /usr/sbin/policy-rc.d first: exit 101
# forbids. Containers usually have one that forbids all; where there is
# none, one is put there for the install, and removed after.
readonly POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
drop_policy() {
	if [ "$OWN_POLICY" -eq 1 ]; then rm -f "$POLICY"; fi
	OWN_POLICY=0
}
trap drop_policy EXIT

nginx_service_pid() {
	local pid
	pid=$(cat /run/nginx.pid 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# apt_install_no_start PKG...: apt_install without starting the services
# the packages bring.
apt_install_no_start() {
	if [ ! -e "$POLICY" ]; then
		printf '#!/bin/sh\n# %s: no service starts while it installs packages.\nexit 101\n' "$SCRIPT" >"$POLICY"
		chmod 755 "$POLICY"
		OWN_POLICY=1
	fi
	apt_install "$@"
	drop_policy
}

ensure_nginx() {
	if have nginx; then
		echo "nginx: installed ($(nginx -v 2>&1 | sed 's/^nginx version: //'))"
		return 0
	fi
	if ! can_apt; then
		log "nginx is not installed and cannot be installed here (needs root and apt-get): internal/deploy's TestNginxProxiesTheStream will skip (and fail when CI is set); install it with: sudo apt-get install $NGINX_PKG"
		return 0
	fi
	local running=""
	running=$(nginx_service_pid) || true
	apt_install_no_start "$NGINX_PKG"
	have nginx || die "'apt-get install $NGINX_PKG' finished but there is no nginx on PATH or in /usr/sbin." \
		"Check: dpkg -L $NGINX_PKG | grep bin/"
	# An existing policy-rc.d may allow starts: stop what the install started.
	local pid
	if [ -z "$running" ] && pid=$(nginx_service_pid); then
		log "the install started Debian's nginx service (pid $pid): stopping it (the test runs its own)"
		nginx -s quit 2>/dev/null || kill "$pid" 2>/dev/null || true
	fi
	echo "nginx: installed Debian's $NGINX_PKG ($(nginx -v 2>&1 | sed 's/^nginx version: //')), no service started"
}

ensure_cc() {
	if have gcc; then
		echo "gcc: installed (for go test -race)"
		return 0
	fi
	if ! can_apt; then
		log "there is no gcc, and it cannot be installed here (needs root and apt-get): go test -race needs it (cgo); install it with: sudo apt-get install gcc libc6-dev"
		return 0
	fi
	apt_install gcc libc6-dev
	have gcc || die "'apt-get install gcc libc6-dev' finished but there is no gcc on PATH."
	echo "gcc: installed Debian's gcc and libc6-dev (for go test -race)"
}

ensure_cc
ensure_nginx

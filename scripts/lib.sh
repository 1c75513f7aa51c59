# shellcheck shell=bash
# Helpers the scripts share. Source it with SCRIPT set to the name their
# messages carry: SCRIPT=services.sh; . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log() { echo "$SCRIPT: $*" >&2; }

# die MESSAGE [DETAIL...]: the message, each detail on a line of its own, exit 1.
die() {
	echo "$SCRIPT: ERROR: $1" >&2
	shift || true
	local line
	for line in "$@"; do echo "$SCRIPT:   $line" >&2; done
	exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

# tcp_open PORT: something listens on 127.0.0.1:PORT.
tcp_open() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" >/dev/null 2>&1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# can_apt: packages can be installed here (root, with apt-get).
can_apt() { is_root && have apt-get; }

# apt_install PKG...: install Debian packages (apt-get update at most once
# per run of the script); apt's output is shown only when it fails.
APT_UPDATED=0
apt_install() {
	local opts=(-y -q -o DPkg::Lock::Timeout=120) out
	out=$(mktemp -t "${SCRIPT:-lib}-apt.XXXXXX")
	if [ "$APT_UPDATED" -eq 0 ]; then
		log "apt-get update"
		if ! apt-get update -q -o DPkg::Lock::Timeout=120 >"$out" 2>&1; then
			tail -n 20 "$out" >&2
			rm -f "$out"
			die "'apt-get update' failed (output above)." "Check network access to the Debian mirror / /etc/apt/sources.list, then re-run $0."
		fi
		APT_UPDATED=1
	fi
	log "apt-get install $* (this can take a minute)"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >"$out" 2>&1; then
		tail -n 30 "$out" >&2
		rm -f "$out"
		die "'apt-get install $*' failed (output above)." "Fix the apt problem, or install the package(s) yourself: apt-get install $*"
	fi
	rm -f "$out"
}

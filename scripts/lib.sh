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

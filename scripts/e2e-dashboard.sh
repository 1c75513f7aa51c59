#!/usr/bin/env bash
# End-to-end tests of the dashboard (frontend/e2e/): Debian's Chromium,
# driven by playwright-core, against the real system built from this
# checkout. Run by `make test-dashboard` after `make dashboard`.
#   - installs the `chromium` Debian package when it is missing (as root)
#   - makes sure PostgreSQL and RabbitMQ run (scripts/services.sh)
#   - runs `node --test frontend/e2e/`; each run uses its own database and
#     RabbitMQ virtual host and removes them afterwards
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "e2e-dashboard: installing Debian's chromium (apt-get)" >&2
		log=$(mktemp)
		if ! { apt-get update -q -o DPkg::Lock::Timeout=300 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 chromium; } >"$log" 2>&1; then
			tail -n 20 "$log" >&2
			rm -f "$log"
			echo "e2e-dashboard: ERROR: could not install chromium (output above)" >&2
			exit 1
		fi
		rm -f "$log"
	elif [ -n "${CI:-}" ]; then
		echo "e2e-dashboard: ERROR: no Chromium at $CHROMIUM. Install it (Debian: apt-get install chromium) or set CHROMIUM_PATH." >&2
		exit 1
	else
		# As the other tests that need a program they cannot install here.
		echo "e2e-dashboard: skipped: no Chromium at $CHROMIUM and it cannot be installed here (needs root and apt-get); install it (Debian: apt-get install chromium) or set CHROMIUM_PATH. With CI set, this fails." >&2
		exit 0
	fi
fi

bash scripts/services.sh

cd frontend
exec node --test e2e/

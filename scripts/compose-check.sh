#!/usr/bin/env bash
# Validate docker-compose.yml without a Docker engine (none runs on our
# machines), with every validator that can run here, each twice: with no
# .env (every default) and with .env.example.
#
#   1. compose-go, the loader inside Compose v2 (deploy/composecheck): always.
#      Interpolation, the Compose Specification's JSON schema, consistency.
#   2. `docker compose config` (the Compose v2 CLI plugin), when installed.
#   3. Debian's docker-compose (v1.29, Python), installed here when missing if
#      we are root with apt-get (without its recommended Docker engine).
#      v1 predates the specification's top-level `name:`, so it validates a
#      copy without that one line; everything else it checks as written.
#
# Exits non-zero if any validator rejects the file or none could run.
# internal/deploy/compose_test.go checks the content (services, ports,
# health checks, order, variables) and runs the same validators.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
compose=$root/docker-compose.yml
example=$root/.env.example

SCRIPT=compose-check
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

tmp=$(mktemp -d -t compose-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/empty.env"
ran=0

# A clean environment, so that nothing exported on this machine changes the
# interpolation: only the env file given.
clean_env=(env -i "PATH=$PATH" "HOME=${HOME:-/root}")

# 1. compose-go
log "compose-go (deploy/composecheck)"
if ! (cd deploy/composecheck && go build -o "$tmp/composecheck" .) >"$tmp/build.log" 2>&1; then
	cat "$tmp/build.log" >&2
	log "ERROR: cannot build deploy/composecheck (the Go module proxy must be reachable once to fetch compose-go)"
	exit 1
fi
"$tmp/composecheck" "$compose"
"$tmp/composecheck" -env-file "$example" "$compose"
ran=$((ran + 1))

# 2. docker compose (v2 plugin): needs the client only, not the engine.
if have docker && docker compose version >/dev/null 2>&1; then
	log "$(docker compose version)"
	for envfile in "$tmp/empty.env" "$example"; do
		"${clean_env[@]}" docker compose --project-directory "$root" -f "$compose" --env-file "$envfile" config -q
	done
	log "docker compose config: valid"
	ran=$((ran + 1))
else
	log "no Compose v2 plugin here (docker compose version failed): skipped"
fi

# 3. docker-compose v1 (Debian)
if ! have docker-compose && [ "$(id -u)" -eq 0 ] && have apt-get; then
	log "installing Debian's docker-compose (apt-get install --no-install-recommends docker-compose)"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 docker-compose >"$tmp/apt.log" 2>&1; then
		apt-get update -q -o DPkg::Lock::Timeout=120 >>"$tmp/apt.log" 2>&1 || true
		apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 docker-compose >>"$tmp/apt.log" 2>&1 || {
			tail -n 20 "$tmp/apt.log" >&2
			log "WARNING: could not install docker-compose (output above); v1 check skipped"
		}
	fi
fi
if have docker-compose; then
	log "docker-compose $(docker-compose version --short 2>/dev/null || echo '?') (v1)"
	sed '/^name:/d' "$compose" >"$tmp/docker-compose.yml"
	for envfile in "$tmp/empty.env" "$example"; do
		"${clean_env[@]}" docker-compose --project-directory "$root" -f "$tmp/docker-compose.yml" --env-file "$envfile" config -q
	done
	log "docker-compose config (v1, without the top-level name): valid"
	ran=$((ran + 1))
else
	log "docker-compose (v1) not installed and not installable here (needs root and apt-get): skipped"
fi

if [ "$ran" -eq 0 ]; then
	log "ERROR: no validator could run"
	exit 1
fi
log "docker-compose.yml is valid ($ran validators)"

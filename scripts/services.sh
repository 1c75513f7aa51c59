#!/usr/bin/env bash
# Ensure the local services the project needs are running and configured:
#   - PostgreSQL on localhost:5432, role trend/trend (LOGIN CREATEDB), database trend owned by it
#   - RabbitMQ on localhost:5672 (guest/guest), management API on http://localhost:15672
# Idempotent; when everything already runs it only probes (well under 2 s).
# A role or user that exists with another password is left as it is, and the
# script stops saying how to proceed, unless SERVICES_RESET_CREDENTIALS=1.
# Installs missing packages with apt-get when run as root on Debian/Ubuntu.
# Services are started by hand (no systemd needed).
set -euo pipefail

# Fixed project defaults (intentionally not overridable).
readonly PG_PORT=5432 PG_ROLE=trend PG_PASSWORD=trend PG_DB=trend
readonly RMQ_PORT=5672 RMQ_USER=guest RMQ_PASS=guest
readonly RMQ_API=http://localhost:15672/api
readonly PG_WAIT=60 RMQ_WAIT=90

# Server tools live in sbin; CI shells do not always have it on PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

SCRIPT=services.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Output of the commands whose output is shown only when they fail.
APT_LOG=$(mktemp -t services-apt.XXXXXX)
trap 'rm -f "$APT_LOG"' EXIT

# cannot_install WHAT PKGS : we need PKGS but cannot install them here.
cannot_install() {
	local what=$1 pkgs=$2
	if have docker && timeout 10 docker info >/dev/null 2>&1; then
		die "$what is not running on this machine and cannot be installed here (installing needs root and apt-get)." \
			"A Docker engine is available: define 'postgres' (postgres:15, POSTGRES_USER=trend POSTGRES_PASSWORD=trend POSTGRES_DB=trend, port 5432)" \
			"and 'rabbitmq' (rabbitmq:3-management, ports 5672 and 15672) services in a compose file, then run:" \
			"  docker compose up -d postgres rabbitmq" \
			"and re-run $0."
	fi
	die "$what is not running on localhost and cannot be installed automatically (needs root and apt-get)." \
		"Install it yourself, e.g. on Debian/Ubuntu as root: apt-get install $pkgs" \
		"then re-run $0 (as root it also starts the services and creates the role/database)."
}


########################################################################
# PostgreSQL
########################################################################
pg_ready() {
	if have pg_isready; then
		pg_isready -q -h localhost -p "$PG_PORT" -t 3 >/dev/null 2>&1
	else
		tcp_open "$PG_PORT"
	fi
}

# Is the project's role/database usable exactly as the tests use it?
pg_project_ok() {
	local out
	out=$(PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 psql -X -q -t -A -w -h localhost -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" -c \
		"SELECT r.rolcanlogin AND r.rolcreatedb AND d.datdba = r.oid FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()" 2>&1) || {
		PG_LAST_ERR=$out
		return 1
	}
	[ "$out" = "t" ] || { PG_LAST_ERR="role/database exist but are not configured as expected (got '$out')"; return 1; }
}

pg_server_installed() {
	have pg_ctlcluster && have pg_lsclusters && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

pg_start_local() {
	if ! pg_server_installed; then
		can_apt || cannot_install "PostgreSQL" "postgresql"
		apt_install postgresql
		pg_server_installed || die "'apt-get install postgresql' finished but the Debian cluster tools (pg_ctlcluster) or server binaries are missing." \
			"Check the apt output: apt-get install --reinstall postgresql postgresql-common"
	fi
	is_root || die "PostgreSQL is installed but not running on localhost:$PG_PORT, and starting it needs root." \
		"Run $0 as root, or start it yourself: sudo pg_ctlcluster --skip-systemctl-redirect <version> <cluster> start (see pg_lsclusters)."

	local clusters line ver name status
	clusters=$(pg_lsclusters -h 2>/dev/null || true)
	if [ -z "$clusters" ]; then
		ver=$(basename "$(dirname "$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1)")")")
		log "no PostgreSQL cluster exists: creating $ver/main on port $PG_PORT"
		pg_createcluster "$ver" main -p "$PG_PORT" >"$APT_LOG" 2>&1 || {
			cat "$APT_LOG" >&2
			die "pg_createcluster $ver main failed (output above)."
		}
		clusters=$(pg_lsclusters -h)
	fi
	line=$(awk -v p="$PG_PORT" '$3 == p { print; exit }' <<<"$clusters")
	if [ -z "$line" ]; then
		die "PostgreSQL clusters exist but none is configured for port $PG_PORT:" \
			"$(pg_lsclusters | tr '\n' ';')" \
			"Set 'port = $PG_PORT' in /etc/postgresql/<version>/<cluster>/postgresql.conf (or create one: pg_createcluster <version> main -p $PG_PORT), then re-run $0."
	fi
	read -r ver name _ status _ <<<"$line"
	if [ "$status" != "online" ]; then
		log "starting PostgreSQL cluster $ver/$name"
		if ! pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >"$APT_LOG" 2>&1; then
			cat "$APT_LOG" >&2
			tail -n 20 "/var/log/postgresql/postgresql-$ver-$name.log" >&2 2>/dev/null || true
			die "pg_ctlcluster $ver $name start failed (output above)." \
				"Inspect /var/log/postgresql/postgresql-$ver-$name.log, fix the problem, and re-run $0."
		fi
	fi
	PG_CLUSTER="$ver/$name"
}

pg_wait_ready() {
	local i
	for ((i = 0; i < PG_WAIT * 2; i++)); do
		pg_ready && return 0
		sleep 0.5
	done
	die "PostgreSQL did not accept connections on localhost:$PG_PORT within ${PG_WAIT}s." \
		"Check 'pg_lsclusters' and the log in /var/log/postgresql/, and that listen_addresses includes localhost."
}

# Run SQL (from stdin) as the postgres superuser through the local socket (peer auth).
pg_admin_psql() {
	if is_root && id postgres >/dev/null 2>&1; then
		(cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres)
	elif [ "$(id -un)" = postgres ]; then
		(cd / && psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres)
	else
		return 1
	fi
}

# An existing role keeps its password unless SERVICES_RESET_CREDENTIALS=1:
# someone may have changed it on purpose, and a `make run` must not undo that.
if [ "${SERVICES_RESET_CREDENTIALS:-0}" = 1 ]; then PG_KEEP_PASSWORD=""; else PG_KEEP_PASSWORD="--"; fi
PG_SETUP_SQL=$(
	cat <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_ROLE LOGIN CREATEDB;
    $PG_KEEP_PASSWORD ALTER ROLE $PG_ROLE PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
ALTER DATABASE $PG_DB OWNER TO $PG_ROLE;
SQL
)

ensure_postgres() {
	local did="running"
	PG_CLUSTER=""
	PG_LAST_ERR=""
	if ! pg_ready; then
		pg_start_local
		pg_wait_ready
		did="started${PG_CLUSTER:+ cluster $PG_CLUSTER}"
	fi
	if ! have psql; then
		can_apt || die "PostgreSQL runs on localhost:$PG_PORT but the 'psql' client is missing." "Install it: apt-get install postgresql-client"
		apt_install postgresql-client
	fi
	if ! pg_project_ok; then
		log "creating/updating role '$PG_ROLE' and database '$PG_DB'"
		local out
		if ! out=$(pg_admin_psql <<<"$PG_SETUP_SQL" 2>&1); then
			[ -n "$out" ] && echo "$out" >&2
			die "PostgreSQL runs on localhost:$PG_PORT but role '$PG_ROLE'/database '$PG_DB' are not usable ($PG_LAST_ERR)" \
				"and they could not be created as the 'postgres' OS user (needs root and a local cluster)." \
				"Run as a PostgreSQL superuser:" \
				"  CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';" \
				"  CREATE DATABASE $PG_DB OWNER $PG_ROLE;"
		fi
		pg_project_ok || die "role '$PG_ROLE' and database '$PG_DB' were set up, but password login still fails:" \
			"$PG_LAST_ERR" \
			"If the role's password was changed, it is kept: re-run with SERVICES_RESET_CREDENTIALS=1 to set it back to '$PG_PASSWORD'," \
			"or give trend your own DATABASE_URL (make services and make test need $PG_ROLE/$PG_PASSWORD)." \
			"Otherwise make pg_hba.conf allow password auth from localhost, e.g. 'host all all 127.0.0.1/32 scram-sha-256' and 'host all all ::1/128 scram-sha-256', then reload PostgreSQL."
		did="$did, role/database created/updated"
	fi
	echo "PostgreSQL: $did on localhost:$PG_PORT (role $PG_ROLE, database $PG_DB)"
}

########################################################################
# RabbitMQ
########################################################################
# rmq_api_code: HTTP code of GET /api/whoami as guest; 403 is reported when guest
# authenticates but lacks the administrator tag (tests create vhosts via the API).
rmq_api_code() {
	local out code
	out=$(curl -s -m 5 -w '\n%{http_code}' -u "$RMQ_USER:$RMQ_PASS" "$RMQ_API/whoami" 2>/dev/null) || true
	code=${out##*$'\n'}
	if [ "$code" = 200 ] && [[ "$out" != *administrator* ]]; then code=403; fi
	echo "${code:-000}"
}
rmq_ok() { tcp_open "$RMQ_PORT" && [ "$(rmq_api_code)" = 200 ]; }

# Debian's wrappers in /usr/sbin switch to the rabbitmq user when run as root,
# so the CLI uses /var/lib/rabbitmq/.erlang.cookie (the server's cookie).
rmqctl() { (cd /var/lib/rabbitmq 2>/dev/null || cd /; HOME=/var/lib/rabbitmq rabbitmqctl "$@"); }
rmq_node_up() { rmqctl -q ping >/dev/null 2>&1; }

rmq_logs() {
	local f
	for f in /var/log/rabbitmq/*.log; do
		[ -f "$f" ] || continue
		echo "--- tail $f" >&2
		tail -n 15 "$f" >&2
	done
}

rmq_fix_env() {
	# Erlang cookie must be owned by rabbitmq and private, or the node and CLI refuse it.
	local cookie=/var/lib/rabbitmq/.erlang.cookie
	if [ -f "$cookie" ]; then
		chown rabbitmq:rabbitmq "$cookie" 2>/dev/null || true
		chmod 400 "$cookie" 2>/dev/null || true
	fi
	# Erlang distribution needs the short hostname to resolve; if it does not,
	# pin the node name to rabbit@localhost (also stable across container hostnames).
	local envf=/etc/rabbitmq/rabbitmq-env.conf
	if ! getent hosts "$(hostname -s)" >/dev/null 2>&1 && ! grep -qs '^ *NODENAME=' "$envf"; then
		log "hostname '$(hostname -s)' does not resolve: setting NODENAME=rabbit@localhost in $envf"
		echo 'NODENAME=rabbit@localhost' >>"$envf"
	fi
}

rmq_guest_fix() {
	log "$RMQ_USER cannot administer via the management API: resetting $RMQ_USER/$RMQ_PASS as administrator"
	rmqctl -q add_user "$RMQ_USER" "$RMQ_PASS" >/dev/null 2>&1 || rmqctl -q change_password "$RMQ_USER" "$RMQ_PASS" >/dev/null
	rmqctl -q set_user_tags "$RMQ_USER" administrator >/dev/null
	rmqctl -q set_permissions -p / "$RMQ_USER" '.*' '.*' '.*' >/dev/null
}

ensure_rabbitmq() {
	local did="running" notes=""
	if ! have curl; then
		can_apt || die "'curl' is missing (needed to probe the RabbitMQ management API)." "Install it: apt-get install curl"
		apt_install curl
	fi
	if rmq_ok; then
		echo "RabbitMQ: $did on localhost:$RMQ_PORT (management API http://localhost:15672, $RMQ_USER/$RMQ_PASS)"
		return 0
	fi

	if ! have rabbitmq-server || ! have rabbitmqctl; then
		can_apt || cannot_install "RabbitMQ" "rabbitmq-server"
		apt_install rabbitmq-server
		did="installed"
	fi
	is_root || die "RabbitMQ is installed but not running (or its management API is off), and fixing that needs root." \
		"As root: rabbitmq-plugins enable --offline rabbitmq_management && rabbitmq-server -detached  (or re-run $0 as root)."

	rmq_fix_env
	local up=0
	rmq_node_up && up=1

	if ! grep -qs 'rabbitmq_management' /etc/rabbitmq/enabled_plugins; then
		log "enabling rabbitmq_management plugin"
		notes="$notes, management plugin enabled"
		if [ "$up" -eq 1 ]; then
			(cd /var/lib/rabbitmq && HOME=/var/lib/rabbitmq rabbitmq-plugins -q enable rabbitmq_management) >/dev/null
		else
			(cd /var/lib/rabbitmq && HOME=/var/lib/rabbitmq rabbitmq-plugins -q enable --offline rabbitmq_management) >/dev/null
		fi
	fi

	if [ "$up" -eq 0 ]; then
		if tcp_open "$RMQ_PORT"; then
			die "something listens on localhost:$RMQ_PORT but the local RabbitMQ node does not answer 'rabbitmqctl ping'." \
				"Find it with 'ss -ltnp | grep $RMQ_PORT' (another broker or container?), stop it, and re-run $0."
		fi
		log "starting rabbitmq-server"
		if [ "$did" = installed ]; then did="installed and started"; else did="started"; fi
		(cd /var/lib/rabbitmq && rabbitmq-server -detached) >/dev/null 2>&1 || true
		local i
		for ((i = 0; i < RMQ_WAIT * 2; i++)); do
			rmq_node_up && break
			sleep 0.5
		done
		if ! timeout "$RMQ_WAIT" bash -c "cd /var/lib/rabbitmq; HOME=/var/lib/rabbitmq rabbitmqctl -q await_startup" >/dev/null 2>&1; then
			rmq_logs
			die "RabbitMQ did not start within ${RMQ_WAIT}s (logs above)." \
				"Common causes: stale Erlang cookie (/var/lib/rabbitmq/.erlang.cookie must be owned by rabbitmq, mode 400)," \
				"unresolvable hostname (set NODENAME=rabbit@localhost in /etc/rabbitmq/rabbitmq-env.conf), or ports 5672/15672/25672 in use."
		fi
	fi

	local i code=""
	for ((i = 0; i < RMQ_WAIT * 2; i++)); do
		code=$(rmq_api_code)
		[ "$code" = 200 ] && break
		if [ "$code" = 401 ] || [ "$code" = 403 ]; then
			# Changed on purpose, perhaps: kept unless asked.
			[ "${SERVICES_RESET_CREDENTIALS:-0}" = 1 ] || die "RabbitMQ refuses $RMQ_USER/$RMQ_PASS as an administrator of its management API (HTTP $code)," \
				"which make services and make test need (the tests create virtual hosts). The user is not changed unless asked:" \
				"re-run with SERVICES_RESET_CREDENTIALS=1 to set $RMQ_USER/$RMQ_PASS back, as administrator of /," \
				"or do it yourself: rabbitmqctl change_password $RMQ_USER $RMQ_PASS; rabbitmqctl set_user_tags $RMQ_USER administrator; rabbitmqctl set_permissions -p / $RMQ_USER '.*' '.*' '.*'"
			rmq_guest_fix
			notes="$notes, $RMQ_USER reset to administrator"
			code=$(rmq_api_code)
			[ "$code" = 200 ] && break
			die "RabbitMQ management API rejects $RMQ_USER/$RMQ_PASS (HTTP $code) even after resetting the user." \
				"Check 'rabbitmqctl list_users' and loopback_users in /etc/rabbitmq/rabbitmq.conf."
		fi
		sleep 0.5
	done
	if [ "$code" != 200 ]; then
		rmq_logs
		die "RabbitMQ runs but the management API $RMQ_API/whoami does not answer (last HTTP code: '${code:-none}')." \
			"Enable it: rabbitmq-plugins enable rabbitmq_management  (and check that port 15672 is free)."
	fi
	tcp_open "$RMQ_PORT" || die "RabbitMQ management API answers but AMQP port $RMQ_PORT is closed." \
		"Check listeners in /etc/rabbitmq/rabbitmq.conf (listeners.tcp.default = $RMQ_PORT)."
	echo "RabbitMQ: $did$notes on localhost:$RMQ_PORT (management API http://localhost:15672, $RMQ_USER/$RMQ_PASS)"
}

ensure_postgres
ensure_rabbitmq

#!/usr/bin/env bash
# The private PostgreSQL cluster and RabbitMQ node of the fault-injection
# suite (cmd/trend/faults_test.go, `make test-faults`). The suite stops and
# starts THESE, never the shared servers on 5432/5672 that other tests and
# benchmarks use at the same time.
#
#   PostgreSQL 15 cluster "faults"   localhost:5433   role trend/trend (CREATEDB), database trend
#   RabbitMQ node faults@localhost   localhost:5673   management API http://localhost:15673 (guest/guest)
#
# usage: scripts/faults-env.sh start|stop|status|env|destroy
#        scripts/faults-env.sh pg-stop|pg-start|mq-stop|mq-start   (the faults the tests inject)
#
# start is idempotent (well under a second when both already run). Needs root
# (it acts as the postgres and rabbitmq users) and Debian's postgresql-15 and
# rabbitmq-server packages (`make services` installs them). Not root, start
# says so and exits 0 (the tests then skip), unless FAULTS_REQUIRED is set.
# The tests use the servers through TEST_DATABASE_URL, TEST_AMQP_URL and
# TEST_RABBITMQ_API (printed by `env`).
set -euo pipefail

readonly PG_VER=15 PG_NAME=faults PG_PORT=5433 PG_ROLE=trend PG_PASSWORD=trend PG_DB=trend
readonly MQ_NODE=faults@localhost MQ_PORT=5673 MQ_DIST_PORT=25673 MQ_API_PORT=15673
readonly MQ_HOME=/var/lib/rabbitmq MQ_DIR=/var/lib/rabbitmq/faults MQ_LOG=/var/log/rabbitmq/faults
readonly WAIT=60

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

SCRIPT=faults-env.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root() {
	[ "$(id -u)" -eq 0 ] || die "must run as root: it starts and stops a private PostgreSQL cluster and RabbitMQ node." \
		"Run: sudo bash $0 ${1:-start}"
}

########################################################################
# PostgreSQL: cluster 15/faults on port 5433
########################################################################
pg_exists() { pg_lsclusters -h 2>/dev/null | awk -v v=$PG_VER -v n=$PG_NAME '$1 == v && $2 == n { f = 1 } END { exit !f }'; }
pg_online() { pg_lsclusters -h 2>/dev/null | awk -v v=$PG_VER -v n=$PG_NAME '$1 == v && $2 == n && $4 ~ /^online/ { f = 1 } END { exit !f }'; }
pg_ready() { pg_isready -q -h localhost -p $PG_PORT -t 2 >/dev/null 2>&1; }
pg_ctl() { pg_ctlcluster --skip-systemctl-redirect $PG_VER $PG_NAME "$@"; }

pg_wait() {
	local i
	for ((i = 0; i < WAIT * 5; i++)); do
		pg_ready && return 0
		sleep 0.2
	done
	tail -n 20 /var/log/postgresql/postgresql-$PG_VER-$PG_NAME.log >&2 2>/dev/null || true
	die "PostgreSQL $PG_VER/$PG_NAME did not accept connections on localhost:$PG_PORT within ${WAIT}s (log above)."
}

pg_start() {
	if ! have pg_createcluster || [ ! -x /usr/lib/postgresql/$PG_VER/bin/postgres ]; then
		die "PostgreSQL $PG_VER server is not installed." "Install it: apt-get install postgresql-$PG_VER (or run 'make services')."
	fi
	if ! pg_exists; then
		if tcp_open $PG_PORT; then
			die "port $PG_PORT is taken by something else ('ss -ltnp | grep $PG_PORT'); the private cluster needs it."
		fi
		log "creating PostgreSQL cluster $PG_VER/$PG_NAME on port $PG_PORT"
		# Room for the API, relay and worker pools of a test and the test's own connections.
		pg_createcluster $PG_VER $PG_NAME -p $PG_PORT --start-conf=manual -o max_connections=200 >/dev/null ||
			die "pg_createcluster $PG_VER $PG_NAME -p $PG_PORT failed (output above)."
	fi
	if ! pg_online; then
		log "starting PostgreSQL cluster $PG_VER/$PG_NAME"
		pg_ctl start || die "pg_ctlcluster $PG_VER $PG_NAME start failed." \
			"See /var/log/postgresql/postgresql-$PG_VER-$PG_NAME.log"
	fi
	pg_wait
	local ok
	ok=$(PGPASSWORD=$PG_PASSWORD psql -X -q -t -A -w -h localhost -p $PG_PORT -U $PG_ROLE -d $PG_DB -c \
		"SELECT r.rolcreatedb FROM pg_roles r WHERE r.rolname = current_user" 2>/dev/null || true)
	if [ "$ok" != t ]; then
		log "creating role $PG_ROLE and database $PG_DB in $PG_VER/$PG_NAME"
		(cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p $PG_PORT -d postgres) <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
SQL
	fi
}

pg_stop() {
	if pg_online; then
		pg_ctl stop -m fast
	fi
}

########################################################################
# RabbitMQ: node faults@localhost, AMQP 5673, management 15673
########################################################################
# The node's own configuration, plugins and environment file, so that
# nothing in /etc/rabbitmq (the shared node's) applies to it.
mq_env=(
	"HOME=$MQ_HOME"
	"RABBITMQ_NODENAME=$MQ_NODE"
	"RABBITMQ_NODE_PORT=$MQ_PORT"
	"RABBITMQ_DIST_PORT=$MQ_DIST_PORT"
	"RABBITMQ_CONFIG_FILE=$MQ_DIR/rabbitmq.conf"
	"RABBITMQ_ADVANCED_CONFIG_FILE=$MQ_DIR/advanced.config"
	"RABBITMQ_CONF_ENV_FILE=$MQ_DIR/rabbitmq-env.conf"
	"RABBITMQ_ENABLED_PLUGINS_FILE=$MQ_DIR/enabled_plugins"
	"RABBITMQ_MNESIA_BASE=$MQ_HOME/faults-mnesia"
	"RABBITMQ_LOG_BASE=$MQ_LOG"
)
# mq TOOL ARGS...: a RabbitMQ tool as the rabbitmq user, on the private node.
mq() {
	local tool=$1
	shift
	(cd $MQ_HOME && runuser -u rabbitmq -- env "${mq_env[@]}" /usr/lib/rabbitmq/bin/"$tool" "$@")
}
mqctl() { mq rabbitmqctl -n $MQ_NODE "$@"; }
mq_node_up() { mqctl -q ping >/dev/null 2>&1; }
mq_app_up() { tcp_open $MQ_PORT && curl -fs -m 3 -u guest:guest http://localhost:$MQ_API_PORT/api/whoami >/dev/null 2>&1; }

mq_logs() {
	local f
	for f in "$MQ_LOG"/*.log; do
		[ -f "$f" ] || continue
		echo "--- tail $f" >&2
		tail -n 20 "$f" >&2
	done
}

mq_files() {
	install -d -o rabbitmq -g rabbitmq -m 750 $MQ_DIR $MQ_HOME/faults-mnesia
	install -d -o rabbitmq -g rabbitmq -m 750 $MQ_LOG
	cat >$MQ_DIR/rabbitmq.conf <<CONF
# Private node of the fault-injection suite (scripts/faults-env.sh).
listeners.tcp.default = $MQ_PORT
management.tcp.port = $MQ_API_PORT
management.tcp.ip = 127.0.0.1
CONF
	echo '[].' >$MQ_DIR/advanced.config
	echo '# the private node reads this instead of /etc/rabbitmq/rabbitmq-env.conf' >$MQ_DIR/rabbitmq-env.conf
	echo '[rabbitmq_management].' >$MQ_DIR/enabled_plugins
	chown rabbitmq:rabbitmq $MQ_DIR/*
}

mq_wait() {
	local i
	for ((i = 0; i < WAIT * 5; i++)); do
		mq_app_up && return 0
		sleep 0.2
	done
	mq_logs
	die "RabbitMQ node $MQ_NODE did not answer on AMQP localhost:$MQ_PORT and http://localhost:$MQ_API_PORT within ${WAIT}s (logs above)."
}

mq_start() {
	have curl || die "curl is missing (apt-get install curl)."
	[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || die "RabbitMQ is not installed." "Install it: apt-get install rabbitmq-server (or run 'make services')."
	mq_app_up && return 0
	mq_files
	if mq_node_up; then
		log "starting the RabbitMQ application on $MQ_NODE"
		mqctl -q start_app >/dev/null
	else
		local p
		for p in $MQ_PORT $MQ_DIST_PORT $MQ_API_PORT; do
			tcp_open "$p" && die "port $p is taken by something else ('ss -ltnp | grep $p'); the private RabbitMQ node needs it."
		done
		log "starting RabbitMQ node $MQ_NODE"
		mq rabbitmq-server -detached >/dev/null 2>&1 || true
		local i
		for ((i = 0; i < WAIT * 2; i++)); do
			mq_node_up && break
			sleep 0.5
		done
		mq_node_up || { mq_logs; die "RabbitMQ node $MQ_NODE did not start within ${WAIT}s (logs above)."; }
		mqctl -q await_startup >/dev/null
	fi
	mq_wait
}

mq_stop() {
	if mq_node_up; then
		mqctl -q stop >/dev/null
	fi
}

########################################################################

urls() {
	cat <<ENV
TEST_DATABASE_URL=postgres://$PG_ROLE:$PG_PASSWORD@localhost:$PG_PORT/$PG_DB?sslmode=disable
TEST_AMQP_URL=amqp://guest:guest@localhost:$MQ_PORT/
TEST_RABBITMQ_API=http://guest:guest@localhost:$MQ_API_PORT/api
ENV
}

case "${1:-}" in
start)
	if [ "$(id -u)" -ne 0 ]; then
		# make test-faults as a normal user: the tests then skip, each saying why.
		[ -n "${FAULTS_REQUIRED:-}" ] && need_root start
		log "not root: cannot start the private PostgreSQL cluster and RabbitMQ node; the fault tests will SKIP (run as root to run them)"
		exit 0
	fi
	pg_start
	mq_start
	echo "faults-env: PostgreSQL $PG_VER/$PG_NAME on localhost:$PG_PORT, RabbitMQ $MQ_NODE on localhost:$MQ_PORT (management :$MQ_API_PORT)"
	;;
stop)
	need_root stop
	mq_stop
	pg_stop
	echo "faults-env: stopped"
	;;
destroy)
	need_root destroy
	mq_stop
	pg_stop
	pg_exists && pg_dropcluster $PG_VER $PG_NAME
	rm -rf $MQ_DIR $MQ_HOME/faults-mnesia $MQ_LOG
	echo "faults-env: destroyed"
	;;
status)
	if pg_ready; then echo "PostgreSQL $PG_VER/$PG_NAME: up on localhost:$PG_PORT"; else echo "PostgreSQL $PG_VER/$PG_NAME: down"; fi
	if mq_app_up; then echo "RabbitMQ $MQ_NODE: up on localhost:$MQ_PORT"; else echo "RabbitMQ $MQ_NODE: down"; fi
	;;
env) urls ;;
# The faults. Each acts on the private servers only.
pg-stop)
	need_root pg-stop
	pg_ctl stop -m fast
	;;
pg-start)
	need_root pg-start
	pg_online || pg_ctl start
	pg_wait
	;;
mq-stop)
	need_root mq-stop
	# Stops the broker application (every connection is dropped, new ones
	# are refused), keeping the Erlang node so that start is quick.
	mqctl -q stop_app >/dev/null
	;;
mq-start)
	need_root mq-start
	mqctl -q start_app >/dev/null
	mq_wait
	;;
*)
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac

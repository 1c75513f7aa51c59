#!/usr/bin/env bash
# How much memory a worker takes to catch up a backlog: the API and the
# relay run, the worker is stopped while an ingest client sends 400,000
# views (20 s at 20,000 a second), then a worker starts on the backlog and
# its RSS is sampled every 0.5 s until every queue is empty. Prints the
# drain time, the peak RSS (sampled and VmHWM) and the views counted.
# A measurement, not a test: nothing fails on a figure.
#
# Usage: scripts/catchup-memory.sh [trend binary, default bin/trend]
# Needs PostgreSQL and RabbitMQ running (make services), psql, curl and
# python3. Runs on a database and a virtual host of its own, dropped at
# the end. The worker's prefetch is a constant (internal/messaging,
# amqpConfig): to compare another, build a binary with it changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=$(realpath "${1:-bin/trend}")
NAME=catchup_$$
ADMIN_DB_URL=${TEST_DATABASE_URL:-postgres://trend:trend@localhost:5432/trend?sslmode=disable}
AMQP_BASE=${TEST_AMQP_URL:-amqp://guest:guest@localhost:5672/}
RABBIT_API=${TEST_RABBITMQ_API:-http://guest:guest@localhost:15672/api}
WORK=$(mktemp -d)
# trend reads .env from its working directory: away from the repository's,
# an operator's settings there do not change what is measured.
cd "$WORK"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql "$ADMIN_DB_URL" -qc "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" || true
	curl -s -o /dev/null -X DELETE "$RABBIT_API/vhosts/$NAME" || true
	rm -rf "$WORK"
}
trap cleanup EXIT

psql "$ADMIN_DB_URL" -qc "CREATE DATABASE $NAME" >/dev/null
curl -sf -X PUT "$RABBIT_API/vhosts/$NAME" >/dev/null
curl -sf -X PUT -H 'content-type: application/json' -d '{"configure":".*","write":".*","read":".*"}' \
	"$RABBIT_API/permissions/$NAME/guest" >/dev/null
base=${ADMIN_DB_URL%%\?*}
export DATABASE_URL="${base%/*}/$NAME?sslmode=disable" AMQP_URL="${AMQP_BASE%/}/$NAME" LOG_LEVEL=warn HTTP_ADDR=127.0.0.1:18600
API=http://$HTTP_ADDR

"$BIN" migrate >/dev/null 2>&1
"$BIN" api --no-migrate >"$WORK/api.log" 2>&1 & pids+=($!)
"$BIN" relay --no-migrate >"$WORK/relay.log" 2>&1 & pids+=($!)
"$BIN" worker --no-migrate >"$WORK/worker.log" 2>&1 & worker=$!
for _ in $(seq 100); do curl -sf -o /dev/null "$API/healthz" && break; sleep 0.3; done
"$BIN" load --target "$API" --scenario setup --movies 900 --connections 16 >/dev/null
kill -TERM "$worker"; wait "$worker" || true
"$BIN" load --target "$API" --scenario ingest --setup=false --movies 900 --batch 100 --connections 8 \
	--rate 200 --duration 20s >/dev/null
sleep 3 # the relay forwards the last rows

queued() {
	curl -sf "$RABBIT_API/queues/$NAME" | python3 -c 'import json, sys; print(sum(q.get("messages", 0) for q in json.load(sys.stdin)))'
}
echo "backlog: $(queued) messages in the queues"
"$BIN" worker --no-migrate >>"$WORK/worker.log" 2>&1 & worker=$!; pids+=("$worker")
start=$(date +%s.%N) peak=0
while rss=$(awk '/VmRSS/ {print $2}' "/proc/$worker/status" 2>/dev/null) && [ -n "$rss" ]; do
	[ "$rss" -gt "$peak" ] && peak=$rss
	elapsed=$(echo "$(date +%s.%N) - $start" | bc)
	if [ "$(echo "$elapsed > 5" | bc)" = 1 ] && [ "$(queued)" = 0 ]; then break; fi
	if [ "$(echo "$elapsed > 300" | bc)" = 1 ]; then echo "not drained in 300 s"; break; fi
	sleep 0.5
done
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$worker/status")
counted=$(psql "$DATABASE_URL" -Atc "SELECT coalesce(sum(internal_views_count), 0) FROM trend_movies")
echo "drained in ${elapsed} s; peak RSS ${peak} kB sampled, VmHWM ${hwm} kB; views counted: ${counted} of 400000"

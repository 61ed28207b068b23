#!/usr/bin/env bash
# One-command load test against a production-like stack on this machine.
#
#   deploy/loadtest/run.sh [users=200] [spawn-rate=20] [duration=60s]
#
# Starts gunicorn (API), daphne (WebSockets), a Celery worker and beat, all in production mode on a
# PostgreSQL database of its own (LOADTEST_DB, recreated) and a Redis database of its own
# (LOADTEST_REDIS_DB, flushed); seeds viewers with coins, live streams and a gift; runs locust headless
# (deploy/loadtest/locustfile.py); prints requests/s, p50/p95/p99 and the error rate of the HTTP
# requests once every user has spawned (--reset-stats: steady state), the room connects of the whole
# run apart; runs `manage.py wallet_audit` and checks that every accepted gift is in the database
# exactly once; then stops everything it started. Exit status 0 only when the run met its targets
# (HTTP p95 and error rates, deploy/loadtest/report.py) and the audit and the gift check pass.
#
# Knobs (environment): WEB_CONCURRENCY (gunicorn workers, 5 = 2 x cores + 1), CELERY_CONCURRENCY (1),
# LOADTEST_HOSTS (live streams, 20), LOADTEST_WAIT_MIN/MAX (seconds between a user's actions, 2/5),
# LOADTEST_TARGET_P95_MS (300), LOADTEST_TARGET_ERROR_RATE (0.001), LOADTEST_DB (halobuzz_loadtest),
# LOADTEST_REDIS_PORT (6379), LOADTEST_REDIS_DB (8), LOADTEST_RESULTS (results folder, default
# deploy/loadtest/results/<time>-u<users>), KEEP_DB=1 (keep the database afterwards).
set -euo pipefail
cd "$(dirname "$0")/../.."
users=${1:-200}
spawn_rate=${2:-20}
duration=${3:-60s}

py=.venv/bin/python
[ -x "$py" ] || { echo "run deploy/bin/setup dev first" >&2; exit 1; }
deploy/bin/services >/dev/null

db=${LOADTEST_DB:-halobuzz_loadtest}
redis_port=${LOADTEST_REDIS_PORT:-6379}
redis_db=${LOADTEST_REDIS_DB:-8}
results=${LOADTEST_RESULTS:-"deploy/loadtest/results/$(date -u +%Y%m%dT%H%M%SZ)-u$users"}
mkdir -p "$results"
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
web_port=$(free_port)
ws_port=$(free_port)

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
export REDIS_URL="redis://127.0.0.1:$redis_port/$redis_db"
export SECRET_KEY="loadtest-$("$py" -c 'import secrets; print(secrets.token_urlsafe(48))')"
export ALLOWED_HOSTS=127.0.0.1,localhost
export SECURE_SSL_REDIRECT=false
export MEDIA_STORAGE=${MEDIA_STORAGE:-filesystem}  # the scenarios upload no media: no buckets needed
export CELERY_TASK_ALWAYS_EAGER=false
export JWT_ACCESS_MINUTES=240
export LOG_LEVEL=${LOG_LEVEL:-WARNING}
export GUNICORN_ACCESS_LOG=false
export PROMETHEUS_MULTIPROC_DIR="$results/prometheus"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

pids=()
cleanup() {
  # INT is gunicorn's quick shutdown; daphne and Celery stop on it too.
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_DB:-0}" != "1" ]; then
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

echo "== preparing database $db and Redis db $redis_db"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE \"$db\"" >/dev/null
redis-cli -p "$redis_port" -n "$redis_db" flushdb >/dev/null
"$py" manage.py migrate --noinput -v0
"$py" deploy/loadtest/seed.py --viewers "$users" --hosts "${LOADTEST_HOSTS:-20}" --out "$results/seed.json"

echo "== starting gunicorn :$web_port, daphne :$ws_port, celery worker and beat (logs in $results)"
WEB_CONCURRENCY=${WEB_CONCURRENCY:-5} PORT=$web_port \
  .venv/bin/gunicorn --config deploy/gunicorn.conf.py --bind "127.0.0.1:$web_port" halobuzz.wsgi:application \
  >"$results/gunicorn.log" 2>&1 &
pids+=($!)
.venv/bin/daphne -b 127.0.0.1 -p "$ws_port" halobuzz.asgi:application >"$results/daphne.log" 2>&1 &
pids+=($!)
# One worker on both queues (production splits them: deploy/k8s/worker.yaml, moderation-worker.yaml).
.venv/bin/celery -A halobuzz worker -l warning -Q celery,moderation --concurrency "${CELERY_CONCURRENCY:-1}" -n "loadtest@%h" \
  >"$results/worker.log" 2>&1 &
pids+=($!)
.venv/bin/celery -A halobuzz beat -l warning -s "$results/celerybeat-schedule" >"$results/beat.log" 2>&1 &
pids+=($!)
for port in "$web_port" "$ws_port"; do
  for i in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    [ "$i" = 60 ] && { echo "server on :$port did not become ready" >&2; tail -20 "$results"/*.log >&2; exit 1; }
    sleep 1
  done
done

echo "== locust: $users users, spawn rate $spawn_rate/s, $duration"
LOADTEST_SEED="$results/seed.json" LOADTEST_WS="ws://127.0.0.1:$ws_port" LOADTEST_SUMMARY="$results/summary.json" \
  .venv/bin/locust -f deploy/loadtest/locustfile.py --headless -u "$users" -r "$spawn_rate" -t "$duration" \
  --host "http://127.0.0.1:$web_port" --csv "$results/locust" --only-summary --stop-timeout 5 --reset-stats \
  >"$results/locust.log" 2>&1 || true
[ -s "$results/summary.json" ] || { echo "locust wrote no summary" >&2; tail -30 "$results/locust.log" >&2; exit 1; }

echo "== results"
status=0
curl -fsS "http://127.0.0.1:$web_port/metrics" >"$results/metrics.txt" || true
"$py" deploy/loadtest/report.py "$results/summary.json" "$results/metrics.txt" || status=1

echo "== wallet audit"
sleep 6   # let beat's rollup run once more (the audit holds either way)
"$py" manage.py wallet_audit || status=1
"$py" deploy/loadtest/report.py --gifts "$results/summary.json" || status=1
echo "results kept in $results"
exit $status

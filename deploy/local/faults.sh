#!/usr/bin/env bash
# The fault-injection suite (RELIABILITY.md): about 7 minutes once built.
#
#   bash deploy/local/faults.sh [scenario ...]
#
# Scenarios, in this order by default: rabbitmq-outage (RabbitMQ stopped 30 s), redis-outage
# (Redis shut down 30 s), postgres-restart (PostgreSQL stopped 10 s, then started),
# worker-kill (the worker SIGKILLed mid-stream, started again 5 s later), worker-failover
# (two workers relaying the outbox's two partitions, one each; the one found relaying first is
# SIGKILLed and the survivor must take its partition over) and inventory-silence
# (Inventory's stock events flow 15 s, stop 30 s, resume 15 s: the worker's lag metric for the
# organization must rise and fall, and the stock model converge to the last report sent;
# `catalog-bench inventory-silence` drives it by itself and checks it).
#
# For each, `catalog-bench fault-load` runs a steady load (REST writes, REST and gRPC reads,
# readiness probes) for 60 s, the fault starting at 10 s; this script injects the fault and
# writes its moments to a marks file; fault-load then checks the scenario's promises against
# PostgreSQL's outbox and a private queue, appends a JSON line to target/faults/results.jsonl
# and fails when a promise is broken. A Markdown table of the run is printed at the end.
#
# FAULTS_CLUSTER=1 (deploy/local/cluster.sh) runs two replicas of each process instead — two
# catalog-grpc, two catalog-api, two catalog-worker relaying the two partitions — with the
# REST and gRPC reads going to a streaming replica of PostgreSQL (deploy/local/replica.sh);
# the load is spread over the replicas and every replica's readiness is probed.
#
# It stops and starts this machine's local PostgreSQL, Redis and RabbitMQ (loopback only):
# never run it beside the test suite or anything else that uses them. The processes under test
# use their own ports, database (catalog_faults), exchange, queue and key prefixes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

ROOT=$(pwd)
BIN="${ROOT}/target/debug"
RUN_DIR="${ROOT}/target/faults"
RESULTS="${RUN_DIR}/results.jsonl"
DB_NAME=catalog_faults
LOAD_SECONDS=60
FAULT_AT=10
read -r -a SCENARIOS <<<"${*:-rabbitmq-outage redis-outage postgres-restart worker-kill worker-failover inventory-silence}"

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export AUTH_MODE=dev AUTH_DEV_SECRET=faults-dev-secret-0123456789
export API_RATE_LIMIT_PER_MINUTE=4000000000 LOG_FORMAT=json LOG_LEVEL=info
# One load user writes far more than the production budgets (20 writes a minute) allow.
export API_RATE_LIMIT_READ_PER_MINUTE=4000000000 API_RATE_LIMIT_WRITE_PER_MINUTE=4000000000
export API_RATE_LIMIT_PRICE_PER_MINUTE=4000000000 API_RATE_LIMIT_UPLOAD_PER_MINUTE=4000000000
CLUSTER=${FAULTS_CLUSTER:-0}
export GRPC_PORT=50072 GRPC_METRICS_PORT=9171 API_PORT=8072
export RABBITMQ_EXCHANGE=catalog_faults_events RABBITMQ_QUEUE_PREFIX=faults- REDIS_KEY_PREFIX=faults:
export BENCH_PRODUCTS=2000 BENCH_ORGANIZATIONS=2 BENCH_VARIANTS_PER_PRODUCT=2
# Two relay partitions: one worker relays both, two share them (worker-failover).
export WORKER_OUTBOX_PARTITIONS=2
export BENCH_GRPC_ADDR="http://127.0.0.1:${GRPC_PORT}" BENCH_API_URL="http://127.0.0.1:${API_PORT}"
WORKER_PORTS=(9173 9174)
# The second replicas' ports (FAULTS_CLUSTER=1).
GRPC_PORT_2=50073 GRPC_METRICS_PORT_2=9172 API_PORT_2=8073
unset GRPC_SERVICE_TOKEN 2>/dev/null || true

section "Services, build, database ${DB_NAME}"
ensure_services
cargo build -p catalog-grpc -p catalog-api -p catalog-worker -p catalog-bench
for port in "${GRPC_PORT}" "${GRPC_METRICS_PORT}" "${API_PORT}" "${WORKER_PORTS[@]}" \
  "${GRPC_PORT_2}" "${GRPC_METRICS_PORT_2}" "${API_PORT_2}"; do
  if ss -ltnH "( sport = :${port} )" | grep -q .; then die "port ${port} is taken"; fi
done
psql_admin -d postgres -c "DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)" >/dev/null
ensure_database "${DB_NAME}"
"${BIN}/catalog-api" migrate
"${BIN}/catalog-api" seed --products "${BENCH_PRODUCTS}" --organizations "${BENCH_ORGANIZATIONS}" \
  --variants-per-product "${BENCH_VARIANTS_PER_PRODUCT}" >/dev/null
BENCH_TOKEN=$("${BIN}/catalog-api" dev-token --organization "$("${BIN}/catalog-bench" id org1)")
export BENCH_TOKEN

mkdir -p "${RUN_DIR}/logs"
: >"${RESULTS}"
declare -A PIDS=()

# start NAME [VAR=VALUE...]: starts a process (its own log) and waits until it is ready.
start() {
  local name=$1 binary=${1%-[0-9]}
  shift
  env "$@" setsid "${BIN}/${binary}" serve </dev/null >>"${RUN_DIR}/logs/${name}.log" 2>&1 &
  PIDS[${name}]=$!
}
wait_ready() {
  local name=$1
  shift
  "${BIN}/catalog-bench" wait-ready --process "${name}" --since-ns "$(date +%s%N)" --timeout 60 "$@" >/dev/null ||
    {
      tail -n 30 "${RUN_DIR}/logs/${name}.log" >&2
      die "${name} did not become ready"
    }
}
start_worker() {
  local n=$1
  start "catalog-worker-${n}" "WORKER_PORT=${WORKER_PORTS[n - 1]}"
}
worker_ready_url() { printf 'http://127.0.0.1:%s/health/ready' "${WORKER_PORTS[$1 - 1]}"; }
stop_all() {
  local name
  for name in "${!PIDS[@]}"; do
    kill -TERM "${PIDS[${name}]}" 2>/dev/null || true
  done
  sleep 1
  for name in "${!PIDS[@]}"; do
    kill -KILL "${PIDS[${name}]}" 2>/dev/null || true
  done
}
# Whatever happens, the machine's services end up running and the processes stopped.
trap 'stop_all; ensure_services >/dev/null' EXIT
trap 'exit 130' INT TERM

mark() { printf '%s %s\n' "$1" "$(date +%s%3N)" >>"${MARKS}"; }
# The worker replica that holds the relay lock (its metrics say so).
relay_leader() {
  local n metrics
  for n in 1 2; do
    [[ -n ${PIDS[catalog-worker-${n}]:-} ]] || continue
    # Read whole first: grep -q closing the pipe early would fail curl, hence the pipeline.
    metrics=$(curl -fsS "http://127.0.0.1:${WORKER_PORTS[n - 1]}/metrics" || true)
    if grep -Eq '^catalog_outbox_relay_leader(\{[^}]*\})? 1$' <<<"${metrics}"; then
      printf '%s' "${n}"
      return
    fi
  done
  return 1
}

if ((CLUSTER)); then
  section "Start two replicas of catalog-grpc, catalog-api and catalog-worker; reads on a PostgreSQL replica"
  bash deploy/local/replica.sh start
  wait_for "the replica's copy of ${DB_NAME}" 60 psql -X -q -w -h 127.0.0.1 -p 5433 -U postgres -d "${DB_NAME}" -tAc 'SELECT 1'
  export DATABASE_READ_URL="postgres://postgres@127.0.0.1:5433/${DB_NAME}"
  start catalog-grpc-1
  start catalog-grpc-2 "GRPC_PORT=${GRPC_PORT_2}" "GRPC_METRICS_PORT=${GRPC_METRICS_PORT_2}"
  start catalog-api-1
  start catalog-api-2 "API_PORT=${API_PORT_2}"
  start_worker 1
  start_worker 2
  wait_ready catalog-grpc-1 --grpc "${BENCH_GRPC_ADDR}"
  wait_ready catalog-grpc-2 --grpc "http://127.0.0.1:${GRPC_PORT_2}"
  wait_ready catalog-api-1 --http "${BENCH_API_URL}/health/ready"
  wait_ready catalog-api-2 --http "http://127.0.0.1:${API_PORT_2}/health/ready"
  wait_ready catalog-worker-1 --http "$(worker_ready_url 1)"
  wait_ready catalog-worker-2 --http "$(worker_ready_url 2)"
  BENCH_GRPC_ADDR_ALL="${BENCH_GRPC_ADDR},http://127.0.0.1:${GRPC_PORT_2}"
  BENCH_API_URL_ALL="${BENCH_API_URL},http://127.0.0.1:${API_PORT_2}"
else
  section "Start catalog-grpc, catalog-api, catalog-worker"
  start catalog-grpc
  start catalog-api
  start_worker 1
  wait_ready catalog-grpc --grpc "${BENCH_GRPC_ADDR}"
  wait_ready catalog-api --http "${BENCH_API_URL}/health/ready"
  wait_ready catalog-worker-1 --http "$(worker_ready_url 1)"
  BENCH_GRPC_ADDR_ALL="${BENCH_GRPC_ADDR}" BENCH_API_URL_ALL="${BENCH_API_URL}"
fi

failed=()
for scenario in "${SCENARIOS[@]}"; do
  section "Scenario ${scenario}"
  if [[ ${scenario} == inventory-silence ]]; then
    if "${BIN}/catalog-bench" inventory-silence --inventory-exchange "${RABBITMQ_QUEUE_PREFIX}inventory_events" \
      --worker-metrics "http://127.0.0.1:${WORKER_PORTS[0]}/metrics" --out "${RUN_DIR}/stock.jsonl" \
      >"${RUN_DIR}/${scenario}.json" 2>"${RUN_DIR}/${scenario}.log"; then
      log "passed: $(tail -n 1 "${RUN_DIR}/stock.jsonl")"
    else
      failed+=("${scenario}")
      tail -n 5 "${RUN_DIR}/${scenario}.log" >&2
    fi
    continue
  fi
  MARKS="${RUN_DIR}/marks-${scenario}"
  : >"${MARKS}"
  ready=(--ready "${BENCH_API_URL}/health/ready")
  ((CLUSTER)) && ready+=(--ready "http://127.0.0.1:${API_PORT_2}/health/ready")
  survivor=1
  if [[ ${scenario} == worker-failover ]]; then
    if ((!CLUSTER)); then
      start_worker 2
      wait_ready catalog-worker-2 --http "$(worker_ready_url 2)"
    fi
    sleep 3
    leader=$(relay_leader) || die "no worker holds the relay lock"
    survivor=$((3 - leader))
    log "worker ${leader} relays (partitions: see its log); worker ${survivor} must take them over"
  fi
  ready+=(--ready "$(worker_ready_url "${survivor}")")
  BENCH_API_URL="${BENCH_API_URL_ALL}" BENCH_GRPC_ADDR="${BENCH_GRPC_ADDR_ALL}" "${BIN}/catalog-bench" fault-load --fault "${scenario}" \
    --duration "${LOAD_SECONDS}" --marks "${MARKS}" "${ready[@]}" --out "${RESULTS}" >"${RUN_DIR}/${scenario}.json" 2>"${RUN_DIR}/${scenario}.log" &
  load=$!
  sleep "${FAULT_AT}"
  case ${scenario} in
    rabbitmq-outage)
      mark fault
      as_root rabbitmqctl -q stop_app
      sleep 30
      as_root rabbitmqctl -q start_app
      wait_for RabbitMQ 60 rabbitmq_answers
      ;;
    redis-outage)
      mark fault
      redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true
      sleep 30
      ensure_redis >/dev/null
      ;;
    postgres-restart)
      version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1)
      mark fault
      as_root pg_ctlcluster --skip-systemctl-redirect "${version}" main stop -m fast
      sleep 10
      as_root pg_ctlcluster --skip-systemctl-redirect "${version}" main start
      wait_for PostgreSQL 60 postgres_answers
      ;;
    worker-kill)
      mark fault
      kill -KILL "${PIDS[catalog-worker-1]}"
      sleep 5
      start_worker 1
      ;;
    worker-failover)
      mark fault
      kill -KILL "${PIDS[catalog-worker-${leader}]}"
      unset "PIDS[catalog-worker-${leader}]"
      ;;
  esac
  mark restore
  if wait "${load}"; then
    log "passed"
  else
    failed+=("${scenario}")
    tail -n 5 "${RUN_DIR}/${scenario}.log" >&2
  fi
  # Only the killed worker was restarted: every other process recovered by itself.
  for name in "${!PIDS[@]}"; do
    kill -0 "${PIDS[${name}]}" 2>/dev/null || {
      failed+=("${scenario}: ${name} died")
      log "${name} died"
    }
  done
  if [[ ${scenario} == worker-failover ]] && ((CLUSTER)); then
    # Two workers again: the killed one comes back.
    start_worker "${leader}"
    wait_ready "catalog-worker-${leader}" --http "$(worker_ready_url "${leader}")"
  elif [[ ${scenario} == worker-failover ]]; then
    # Back to one worker, numbered 1, for whatever runs next.
    kill -TERM "${PIDS[catalog-worker-${survivor}]}" 2>/dev/null || true
    wait "${PIDS[catalog-worker-${survivor}]}" 2>/dev/null || true
    unset "PIDS[catalog-worker-${survivor}]"
    start_worker 1
    wait_ready catalog-worker-1 --http "$(worker_ready_url 1)"
  fi
done

section "Results (${RESULTS})"
"${BIN}/catalog-bench" fault-table "${RESULTS}"
if ((${#failed[@]})); then
  die "broken promises: ${failed[*]}"
fi
log "every scenario kept its promises"

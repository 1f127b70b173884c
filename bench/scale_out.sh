#!/usr/bin/env bash
# Scale-out benchmark (issue 23), two parts on this machine:
#   reads   the reads a replica takes over — the REST filtered product list and the gRPC scanned
#           barcode search, both uncached — through the primary path (no DATABASE_READ_URL) and
#           through the replica path (a streaming replica, deploy/local/replica.sh, on :5433),
#           each beside its no-op ceiling (/api/v1/noop, grpc.health.v1 Check);
#   drain   the relay draining BENCH_SCALE_EVENTS outbox rows of two organizations (one in each
#           of two partitions) with one worker and one partition, then two workers and two
#           partitions, beside the publish ceiling relay-drain measures in the same run.
# The variants alternate over BENCH_SCALE_ROUNDS rounds so drift hits each alike. Both paths
# share the machine's two cores with the replica's own replay: the replica path's figure is
# what routing costs here, not what a replica on its own machine adds.
#
#   bash bench/scale_out.sh     (about 8 minutes once built)
#
# Writes JSON lines to bench/results/scale_out.jsonl (replaced at each run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROOT=$(pwd)
BIN="${ROOT}/target/release"
RUN_DIR="${ROOT}/bench/.run/scale_out"
OUT="${ROOT}/bench/results/scale_out.jsonl"
DB_NAME=catalog_bench_scaleout
DURATION="${BENCH_DURATION:-8}"
WARMUP="${BENCH_WARMUP:-2}"
ROUNDS="${BENCH_SCALE_ROUNDS:-3}"
EVENTS="${BENCH_SCALE_EVENTS:-20000}"
CLIENTS=16
PRODUCTS=2000
REPLICA_URL="postgres://postgres@127.0.0.1:5433/${DB_NAME}"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export GRPC_PORT=50083 GRPC_METRICS_PORT=9183 API_PORT=8083 LOG_FORMAT=json LOG_LEVEL=warn
export REDIS_KEY_PREFIX=bench-scaleout: RABBITMQ_EXCHANGE=catalog_bench_scaleout_events
export RABBITMQ_QUEUE_PREFIX=bench-scaleout-
export BENCH_GRPC_ADDR="http://127.0.0.1:${GRPC_PORT}" BENCH_GRPC_METRICS="http://127.0.0.1:${GRPC_METRICS_PORT}/metrics"
export BENCH_API_URL="http://127.0.0.1:${API_PORT}" BENCH_PRODUCTS="${PRODUCTS}" BENCH_ORGANIZATIONS=2
export BENCH_VARIANTS_PER_PRODUCT=3
WORKER_PORTS=(9184 9185)
unset GRPC_SERVICE_TOKEN DATABASE_READ_URL WORKER_OUTBOX_PARTITIONS 2>/dev/null || true

ensure_services
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  cargo build --release -p catalog-grpc -p catalog-api -p catalog-worker -p catalog-bench
fi
mkdir -p "${RUN_DIR}" "$(dirname "${OUT}")"
: >"${OUT}"
trap 'stop_all' EXIT

section "Database ${DB_NAME}: ${PRODUCTS} products of 2 organizations; its streaming replica"
seed_database 2
psql_admin -d "${DB_NAME}" -c "UPDATE outbox SET published_at = now() WHERE published_at IS NULL" >/dev/null
# A replica this script starts, it removes at the end (its slot would keep the primary's WAL).
if ! pg_isready -q -h 127.0.0.1 -p 5433; then
  trap 'stop_all; bash deploy/local/replica.sh destroy >/dev/null 2>&1 || true' EXIT
fi
bash deploy/local/replica.sh start
PRIMARY_PRODUCTS=$(psql_admin -d "${DB_NAME}" -tAc 'SELECT count(*) FROM products')
replayed() { [[ $(psql -X -q -w -h 127.0.0.1 -p 5433 -U postgres -d "${DB_NAME}" -tAc 'SELECT count(*) FROM products' 2>/dev/null) == "${PRIMARY_PRODUCTS}" ]]; }
wait_for "the replica's copy of ${DB_NAME}" 60 replayed
log "the replica has replayed ${DB_NAME}"

# The reads each process served from a replica and from the primary, from its metrics.
served_from() {
  curl -fsS "$1" | awk -v t="target=\"$2\"" '$1 ~ /^catalog_db_reads_total\{/ && index($1, t) { n += $2 } END { print n + 0 }'
}

measure_reads() {
  local path=$1 scenario
  for scenario in rest-products-filtered rest-noop grpc-search-barcode grpc-health; do
    timeout $((DURATION + WARMUP + 60)) "${BIN}/catalog-bench" --scenario "${scenario}" --concurrency "${CLIENTS}" \
      --duration "${DURATION}" --warmup "${WARMUP}" --label "reads-${path}" --out "${OUT}" >/dev/null ||
      die "${scenario} (${path}) failed"
  done
  printf '{"scenario":"scale-reads-served","label":"reads-%s","api_replica":%s,"api_primary":%s,"grpc_replica":%s,"grpc_primary":%s}\n' \
    "${path}" "$(served_from "${BENCH_API_URL}/metrics" replica)" "$(served_from "${BENCH_API_URL}/metrics" primary)" \
    "$(served_from "${BENCH_GRPC_METRICS}" replica)" "$(served_from "${BENCH_GRPC_METRICS}" primary)" >>"${OUT}"
}

# workers N: N workers relaying N partitions, each ready and holding one.
workers() {
  local n=$1 i since held
  for i in $(seq 1 "${n}"); do
    since=$(date +%s%N)
    WORKER_PORT=${WORKER_PORTS[i - 1]} WORKER_OUTBOX_PARTITIONS=${n} setsid "${BIN}/catalog-worker" serve \
      </dev/null >"${RUN_DIR}/catalog-worker-${i}.log" 2>&1 &
    PIDS+=($!)
    ready "catalog-worker-${i}" "http://127.0.0.1:${WORKER_PORTS[i - 1]}/health/ready" http "${since}"
  done
  for _ in $(seq 1 100); do
    held=0
    for i in $(seq 1 "${n}"); do
      held=$((held + $(curl -fsS "http://127.0.0.1:${WORKER_PORTS[i - 1]}/metrics" |
        awk '$1 ~ /^catalog_outbox_relay_partitions_held(\{|$)/ { n += $2 } END { print n + 0 }')))
    done
    [[ ${held} == "${n}" ]] && { [[ ${n} == 1 ]] || one_each "${n}"; } && return
    sleep 0.2
  done
  die "${n} workers did not take one partition each"
}
one_each() {
  local i
  for i in $(seq 1 "$1"); do
    [[ $(curl -fsS "http://127.0.0.1:${WORKER_PORTS[i - 1]}/metrics" |
      awk '$1 ~ /^catalog_outbox_relay_partitions_held(\{|$)/ { n += $2 } END { print n + 0 }') == 1 ]] || return 1
  done
}

for round in $(seq 1 "${ROUNDS}"); do
  for path in primary replica; do
    section "Round ${round}: reads through the ${path} path"
    if [[ ${path} == replica ]]; then serve "${BIN}" DATABASE_READ_URL="${REPLICA_URL}"; else serve "${BIN}"; fi
    measure_reads "${path}"
    stop_all
  done
  for partitions in 1 2; do
    section "Round ${round}: relay drain of ${EVENTS} events, ${partitions} partition(s) and worker(s)"
    workers "${partitions}"
    timeout 600 "${BIN}/catalog-bench" --scenario relay-drain --events "${EVENTS}" --label "drain-${partitions}-partitions" \
      --out "${OUT}" >/dev/null || die "relay-drain with ${partitions} partition(s) failed"
    stop_all
  done
done
printf '{"scenario":"scale-machine","nproc":%s,"commit":"%s","date":"%s"}\n' "$(nproc)" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"${OUT}"
log "results in ${OUT}"

#!/usr/bin/env bash
# Stock read model benchmark (bench/RESULTS.md, target 11; issue 19), on the `catalog_bench`
# database bench/run.sh seeds (170,000 products × 3 variants; seeded here the same way if it
# is not), with a release catalog-worker and catalog-api of their own (ports 9192 and 8092,
# queue and exchange names prefixed `bench_stock_`, Redis keys `bench-stock:`).
#
# 1. The cost of `in_stock`: `variant_stock` filled for most variants in one statement
#    (`catalog-bench sql-stock-fill`, then ANALYZE), then one page of
#    GET /api/v1/products/{id}/variants with and without `in_stock=true` (random 3-variant
#    products of organization #1; the 2,000-variant bench product), beside GET /api/v1/noop, at
#    BENCH_CONCURRENCIES [1 4 16].
# 2. Events applied per second (target ≥ 5,000/s): a burst of BENCH_STOCK_EVENTS [100000]
#    `inventory.stock.updated` events exactly as Inventory's page prints them (no event_id, a
#    timestamp to the second), one per (variant, warehouse) of organization #1 in the fill's
#    two warehouses (an update of the fill's row, or an insert where it wrote none), published
#    with confirms (persistent) to the exchange the worker binds (`bench_stock_inventory_events`);
#    timed from the first publish to the last row the worker wrote (`variant_stock.applied_at`),
#    once the worker's own counter says it consumed them all. Ceilings in the same run: the same
#    burst to a no-op consumer (the worker's prefetch, one ack per message, nothing else), and
#    pgbench applying one event per transaction — what the worker did before it applied batches
#    (commit 20a75ca) — from one connection (the worker's one consumer thread) and from four:
#    the upsert alone, and that whole transaction (the outbox insert in the share of events the
#    worker announced).
#    BENCH_STOCK_FROM_EMPTY=1 adds a second burst onto an emptied (and analyzed) `variant_stock`
#    with the worker restarted, as on a new deployment; it can take many minutes (see RESULTS.md).
#
#   bash bench/stock.sh        (about 6 minutes once built and seeded; bench/run.sh calls it)
#
# Writes JSON lines to bench/results/stock.jsonl (replaced at each run). Leaves variant_stock
# filled (the next run fills it again). BENCH_CODE_COMMIT names the commit the binaries were
# built from when it is not the checkout's (BENCH_SKIP_BUILD=1 with binaries built elsewhere).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

ROOT=$(pwd)
BIN="${ROOT}/target/release"
RUN_DIR="${ROOT}/bench/.run/stock"
OUT="${ROOT}/bench/results/stock.jsonl"
DB_NAME=catalog_bench
PRODUCTS="${BENCH_PRODUCTS:-170000}"
ORGANIZATIONS="${BENCH_ORGANIZATIONS:-4}"
VARIANTS_PER_PRODUCT="${BENCH_VARIANTS_PER_PRODUCT:-3}"
EVENTS="${BENCH_STOCK_EVENTS:-100000}"
WAREHOUSES=2
FROM_EMPTY="${BENCH_STOCK_FROM_EMPTY:-0}"
DURATION="${BENCH_DURATION:-8}"
WARMUP="${BENCH_WARMUP:-2}"
read -r -a CONCURRENCIES <<<"${BENCH_CONCURRENCIES:-1 4 16}"
API_PORT=8092
WORKER_PORT=9192
PREFIX=bench_stock_
# The worker's Inventory queue takes twice its batch (STOCK_EVENTS_BATCH_SIZE) unacknowledged;
# the no-op consumer gets the same.
STOCK_BATCH="${STOCK_EVENTS_BATCH_SIZE:-200}"
PREFETCH=$((2 * STOCK_BATCH > ${RABBITMQ_PREFETCH:-10} ? 2 * STOCK_BATCH : ${RABBITMQ_PREFETCH:-10}))
export STOCK_EVENTS_BATCH_SIZE="${STOCK_BATCH}"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export API_PORT WORKER_PORT LOG_FORMAT=json LOG_LEVEL=warn AUTH_MODE=dev AUTH_DEV_SECRET=bench-dev-secret-0123456789
export API_RATE_LIMIT_PER_MINUTE=4000000000
export API_RATE_LIMIT_READ_PER_MINUTE=4000000000 API_RATE_LIMIT_WRITE_PER_MINUTE=4000000000
export RABBITMQ_QUEUE_PREFIX="${PREFIX}" RABBITMQ_EXCHANGE="${PREFIX}catalog_events" REDIS_KEY_PREFIX=bench-stock:
export BENCH_API_URL="http://127.0.0.1:${API_PORT}" BENCH_PRODUCTS="${PRODUCTS}"
export BENCH_ORGANIZATIONS="${ORGANIZATIONS}" BENCH_VARIANTS_PER_PRODUCT="${VARIANTS_PER_PRODUCT}"
unset GRPC_SERVICE_TOKEN 2>/dev/null || true
INVENTORY_EXCHANGE="${PREFIX}inventory_events"
INVENTORY_QUEUE="${PREFIX}catalog.inventory_events"
METRICS="http://127.0.0.1:${WORKER_PORT}/metrics"

bench() { "${BIN}/catalog-bench" "$@"; }
sql() { psql_admin -d "${DB_NAME}" "$@"; }

ensure_services
ensure_database "${DB_NAME}"
for tool in pgbench python3 curl; do
  command -v "${tool}" >/dev/null || die "${tool} is needed"
done
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  cargo build --release -p catalog-api -p catalog-worker -p catalog-bench
fi
for port in "${API_PORT}" "${WORKER_PORT}"; do
  if ss -ltnH "( sport = :${port} )" | grep -q .; then
    die "port ${port} is taken; stop whatever listens there first"
  fi
done
mkdir -p "${RUN_DIR}" "$(dirname "${OUT}")"
: >"${OUT}"
STARTED_AT=${SECONDS}
# The code measured: what the build above compiled (others may commit while the run goes on).
if [[ -n ${BENCH_CODE_COMMIT:-} ]]; then
  CODE_COMMIT=${BENCH_CODE_COMMIT} CODE_DIRTY=''
else
  CODE_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  CODE_DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | awk '{print $2}' |
    grep -v -e '^bench/' -e '^Cargo.lock$' | tr '\n' ' ' | sed 's/ $//' || true)
fi
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
WORKER_PID=
API_PID=
CPU_SAMPLER=
stop() {
  local pid waited
  for pid in "${API_PID}" "${WORKER_PID}"; do
    [[ -n ${pid} ]] || continue
    kill -TERM "${pid}" 2>/dev/null || continue
    waited=0
    while kill -0 "${pid}" 2>/dev/null && ((waited < 100)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    kill -KILL "${pid}" 2>/dev/null || true
  done
  API_PID=''
  WORKER_PID=''
  touch "${RUN_DIR}/cpu.stop"
  if [[ -n ${CPU_SAMPLER} ]]; then
    wait "${CPU_SAMPLER}" 2>/dev/null || true
  fi
  CPU_SAMPLER=
}
trap stop EXIT
trap 'exit 130' INT TERM

section "Database ${DB_NAME}: ${PRODUCTS} products x ${VARIANTS_PER_PRODUCT} variants over ${ORGANIZATIONS} organizations"
"${BIN}/catalog-api" migrate >/dev/null
scale_products=$(sql -tAc "SELECT count(*) FROM products WHERE id::text LIKE '5ca1e001-%'")
scale_variants=$(sql -tAc "SELECT count(*) FROM product_variants WHERE id::text LIKE '5ca1e002-%'")
if [[ ${scale_products} == "${PRODUCTS}" && ${scale_variants} == $((PRODUCTS * VARIANTS_PER_PRODUCT)) ]]; then
  log "already seeded: ${scale_products} products, ${scale_variants} variants"
else
  log "seeding (found ${scale_products} products, ${scale_variants} variants)"
  "${BIN}/catalog-api" seed --products "${PRODUCTS}" --organizations "${ORGANIZATIONS}" \
    --variants-per-product "${VARIANTS_PER_PRODUCT}"
fi
bench sql-fixtures | sql >/dev/null
# No outbox backlog for this worker's relay to publish first.
sql -c "UPDATE outbox SET published_at = now() WHERE published_at IS NULL" -c "VACUUM ANALYZE outbox" >/dev/null
# Messages an interrupted run left in the worker's queue (best effort: the queue may not exist).
purge_inventory_queue() { rabbitmqctl purge_queue "${INVENTORY_QUEUE}" >/dev/null 2>&1 || true; }
purge_inventory_queue

section "variant_stock filled for most variants in one statement"
fill_started=$(date +%s%N)
bench sql-stock-fill | sql >/dev/null
fill_ms=$((($(date +%s%N) - fill_started) / 1000000))
read -r variants rows stocked in_stock <<<"$(sql -tAF' ' -c "
  SELECT (SELECT count(*) FROM product_variants WHERE deleted_at IS NULL),
         (SELECT count(*) FROM variant_stock),
         (SELECT count(DISTINCT variant_id) FROM variant_stock),
         (SELECT count(*) FROM (SELECT 1 FROM variant_stock GROUP BY organization_id, variant_id HAVING sum(available) > 0) s)")"
printf '{"scenario":"stock-fill","variants":%s,"rows":%s,"variants_with_rows":%s,"variants_in_stock":%s,"fill_ms":%s}\n' \
  "${variants}" "${rows}" "${stocked}" "${in_stock}" "${fill_ms}" >>"${OUT}"
log "${rows} rows for ${stocked} of ${variants} variants (${in_stock} in stock) in ${fill_ms} ms (with ANALYZE)"

rm -f "${RUN_DIR}/cpu.stop"
python3 "${ROOT}/bench/report.py" cpu-sample --stop-file "${RUN_DIR}/cpu.stop" --max-seconds 3600 \
  --database "${DB_NAME}" >"${RUN_DIR}/cpu.json" &
CPU_SAMPLER=$!

start_worker() {
  local since
  since=$(date +%s%N)
  setsid "${BIN}/catalog-worker" serve </dev/null >>"${RUN_DIR}/catalog-worker.log" 2>&1 &
  WORKER_PID=$!
  bench wait-ready --process catalog-worker --http "http://127.0.0.1:${WORKER_PORT}/health/ready" --since-ns "${since}" \
    --timeout 60 >/dev/null || {
    tail -n 30 "${RUN_DIR}/catalog-worker.log" >&2
    die "catalog-worker did not become ready"
  }
}

section "catalog-worker on :${WORKER_PORT}, catalog-api on :${API_PORT}"
: >"${RUN_DIR}/catalog-worker.log"
start_worker
since=$(date +%s%N)
setsid "${BIN}/catalog-api" serve </dev/null >"${RUN_DIR}/catalog-api.log" 2>&1 &
API_PID=$!
bench wait-ready --process catalog-api --http "${BENCH_API_URL}/health/ready" --since-ns "${since}" \
  --timeout 60 >/dev/null || {
  tail -n 30 "${RUN_DIR}/catalog-api.log" >&2
  die "catalog-api did not become ready"
}
sleep 2 # idle, before the first measurement (catalog-bench also waits for the worker's queue)
ORG1=$(bench id org1)
BENCH_TOKEN=$("${BIN}/catalog-api" dev-token --organization "${ORG1}" --ttl-minutes 60 | tail -n 1)
export BENCH_TOKEN

LARGE=$(bench id large-product)
sql -c "EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM product_variants WHERE organization_id = '${ORG1}'
  AND product_id = '${LARGE}' AND deleted_at IS NULL AND (SELECT coalesce(sum(s.available), 0) FROM variant_stock s
  WHERE s.organization_id = product_variants.organization_id AND s.variant_id = product_variants.id) > 0" \
  >"${RUN_DIR}/explain-large-in-stock-count.txt" 2>&1 || true

section "1. One page of a product's variants: in_stock=true vs unfiltered vs GET /api/v1/noop"
for c in "${CONCURRENCIES[@]}"; do
  for scenario in rest-variants rest-variants-in-stock rest-variants-large rest-variants-large-in-stock rest-noop; do
    timeout $((DURATION + WARMUP + 60)) "${BIN}/catalog-bench" --scenario "${scenario}" --concurrency "${c}" \
      --duration "${DURATION}" --warmup "${WARMUP}" --label stock --out "${OUT}" >/dev/null ||
      die "${scenario} at ${c} failed"
  done
done

# burst LABEL ARGS...: one burst to the worker; the queue is emptied after, whatever happened.
burst() {
  local label=$1
  shift
  timeout 1300 "${BIN}/catalog-bench" stock-events --consumer worker --events "${EVENTS}" --warehouses "${WAREHOUSES}" \
    --inventory-exchange "${INVENTORY_EXCHANGE}" --queue "${INVENTORY_QUEUE}" --worker-metrics "${METRICS}" \
    --worker-pid "${WORKER_PID}" --timeout 1200 --label "${label}" --out "${OUT}" "$@" >/dev/null ||
    die "the worker run failed"
  purge_inventory_queue
  tail -n 1 "${OUT}" | python3 -c '
import json, sys
line = json.load(sys.stdin)
done, events, rate = line["rows_written"], line["events"], line["events_per_s"]
print(f"    {done} of {events} events applied: {rate:.1f}/s" + ("" if done == events else " (INCOMPLETE: timed out)"))'
}

section "2a. Ceiling: the burst to a no-op consumer (prefetch ${PREFETCH}, one ack per message)"
timeout 900 "${BIN}/catalog-bench" stock-events --consumer noop --events "${EVENTS}" --warehouses "${WAREHOUSES}" \
  --inventory-exchange "${PREFIX}noop_inventory_events" --queue "${PREFIX}noop_inventory" --prefetch "${PREFETCH}" \
  --worker-pid "${WORKER_PID}" --out "${OUT}" >/dev/null || die "the no-op consumer run failed"

section "2b. The burst to the worker: ${EVENTS} inventory.stock.updated onto the fill's ${WAREHOUSES} warehouses"
burst "" --onto-fill
ANNOUNCE_PERCENT=$(tail -n 1 "${OUT}" | python3 -c '
import json, sys
line = json.load(sys.stdin)
print(round(100 * line["stock_updated_announced"] / max(1, line["rows_written"])))')
log "the worker announced catalog.variant.stock_updated for ${ANNOUNCE_PERCENT} % of the events"
curl -fsS "${METRICS}" | grep -E '^catalog_(events_consumed_total|event_handler_duration_seconds_(sum|count)|db_statements_total|outbox_published_total)' |
  sed 's/^/    /' || true

section "2c. Ceiling: pgbench sending the worker's statements per event"
# Each pgbench line also says how much CPU other work on the machine took meanwhile (the
# machine may be shared); the one-client runs are repeated and the report takes the best.
for kind in upsert transaction; do
  bench sql-stock-pgbench "${kind}" --announce-percent "${ANNOUNCE_PERCENT}" >"${RUN_DIR}/pgbench-${kind}.sql"
  for c in 1 1 1 4; do
    pg_dir=$(mktemp -d)
    threads=$((c < 2 ? c : 2))
    python3 "${ROOT}/bench/report.py" cpu-sample --stop-file "${pg_dir}/cpu.stop" --max-seconds $((DURATION + 60)) \
      --database "${DB_NAME}" >"${pg_dir}/cpu.json" &
    sampler=$!
    (cd "${pg_dir}" && timeout $((DURATION + 60)) pgbench -n -h 127.0.0.1 -U postgres -f "${RUN_DIR}/pgbench-${kind}.sql" \
      -c "${c}" -j "${threads}" -T "${DURATION}" -l --log-prefix=pgb "${DB_NAME}" >stdout.txt 2>stderr.txt) ||
      log "warning: pgbench ${kind} at ${c} failed: $(tail -n 3 "${pg_dir}/stderr.txt")"
    touch "${pg_dir}/cpu.stop"
    wait "${sampler}" || true
    python3 "${ROOT}/bench/report.py" ingest-pgbench --dir "${pg_dir}" --concurrency "${c}" \
      --scenario "pgbench-stock-${kind}" | python3 -c '
import json, sys
line = json.load(sys.stdin)
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        cpu = json.load(f)
    line["other_cpu_s"], line["busy_cpu_s"] = cpu["cpu_s"].get("other", 0.0), cpu["busy_cpu_s"]
    line["cpu_capacity_s"] = round(cpu["wall_s"] * cpu["cores"], 1)
except (OSError, ValueError, KeyError):
    pass
print(json.dumps(line))' "${pg_dir}/cpu.json" >>"${OUT}" || log "warning: could not read pgbench's output"
    rm -rf "${pg_dir}"
    log "pgbench ${kind} at ${c}: $(tail -n 1 "${OUT}" | python3 -c '
import json, sys
line = json.load(sys.stdin)
rate, p99, other = line["throughput_rps"], line["latency_ms"]["p99"], line.get("other_cpu_s", "?")
busy, capacity = line.get("busy_cpu_s", "?"), line.get("cpu_capacity_s", "?")
print(f"{rate:.1f}/s, p99 {p99} ms (machine busy {busy} of {capacity} CPU-s, other work at least {other})")' 2>/dev/null || true)"
  done
done
# pgbench's outbox rows (born published; their payload names the nil variant).
sql -c "DELETE FROM outbox WHERE event_type = 'catalog.variant.stock_updated' AND payload->'data'->>'variant_id' = '00000000-0000-0000-0000-000000000000'" >/dev/null

if [[ ${FROM_EMPTY} == 1 ]]; then
  section "2d. The burst onto an empty variant_stock (analyzed empty; the worker restarted)"
  kill -TERM "${WORKER_PID}" 2>/dev/null || true
  wait "${WORKER_PID}" 2>/dev/null || true
  sql -c "TRUNCATE variant_stock" -c "ANALYZE variant_stock" >/dev/null
  start_worker
  sleep 2
  burst from-empty
  log "variant_stock now holds only this burst's rows; the next run fills it again"
fi

stop
if [[ -s ${RUN_DIR}/cpu.json ]]; then
  cat "${RUN_DIR}/cpu.json" >>"${OUT}"
fi
{
  printf '{"scenario":"stock-machine","nproc":%s,"commit":"%s","uncommitted":"%s",' "$(nproc)" "${CODE_COMMIT}" "${CODE_DIRTY}"
  printf '"loadavg_start":"%s","loadavg":"%s","prefetch":%s,' "${LOADAVG_START}" "$(cut -d' ' -f1-3 /proc/loadavg)" "${PREFETCH}"
  printf '"autovacuum":"%s",' "$(sql -tAc 'SHOW autovacuum')"
  printf '"run_seconds":%s,"date":"%s"}\n' "$((SECONDS - STARTED_AT))" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >>"${OUT}"
log "results in ${OUT}"

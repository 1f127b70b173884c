#!/usr/bin/env bash
# Reproduces bench/RESULTS.md: one command, about 12-15 minutes on 2 cores once built.
#
#   bash bench/run.sh
#
# 1. ensures PostgreSQL, Redis and RabbitMQ (deploy/local/lib.sh), creates the database
#    `catalog_bench`, migrates it and seeds the synthetic catalog once (skipped when already
#    seeded with the same size), plus the benchmark's fixtures;
# 2. builds the release binaries and starts catalog-grpc, catalog-api and catalog-worker on their
#    normal ports (stopped again at exit), timing each start-up;
# 3. runs every scenario and its ceiling back to back at several concurrencies;
# 4. writes bench/results/run.jsonl and renders bench/RESULTS.md and bench/*.png (bench/report.py).
#
# Environment knobs (defaults in brackets): BENCH_PRODUCTS [170000], BENCH_ORGANIZATIONS [4],
# BENCH_VARIANTS_PER_PRODUCT [3], BENCH_DURATION [8] and BENCH_WARMUP [2] seconds per run,
# BENCH_CONCURRENCIES ["1 4 16"], BENCH_LOG_LEVEL [info], BENCH_SKIP_BUILD [0],
# BENCH_SUITES ["import recipes uploads stock tracing scale_out"]: the separate benchmarks run after the main one
# (each keeps its last results in bench/results/, which the report renders with their dates).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh
# shellcheck source=bench/profiling.sh
source bench/profiling.sh

ROOT=$(pwd)
BENCH_DIR="${ROOT}/bench"
BIN="${ROOT}/target/release"
RUN_DIR="${BENCH_DIR}/.run"
RESULTS_DIR="${BENCH_DIR}/results"
OUT="${RESULTS_DIR}/run.jsonl"
DB_NAME=catalog_bench
PROCESSES=(catalog-grpc catalog-api catalog-worker)

PRODUCTS="${BENCH_PRODUCTS:-170000}"
ORGANIZATIONS="${BENCH_ORGANIZATIONS:-4}"
VARIANTS_PER_PRODUCT="${BENCH_VARIANTS_PER_PRODUCT:-3}"
DURATION="${BENCH_DURATION:-8}"
WARMUP="${BENCH_WARMUP:-2}"
read -r -a CONCURRENCIES <<<"${BENCH_CONCURRENCIES:-1 4 16}"
STARTED_AT=${SECONDS}

# The processes' configuration: defaults everywhere (pools of 10, GRPC_MAX_WORKERS=10, one
# actix worker per core, JSON logs at info) except the database, dev auth and rate limits (overall
# and per kind) high enough not to answer 429 to a load generator that uses one user.
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export AUTH_MODE=dev
export AUTH_DEV_SECRET=bench-dev-secret-0123456789
export API_RATE_LIMIT_PER_MINUTE=4000000000
export API_RATE_LIMIT_READ_PER_MINUTE=4000000000 API_RATE_LIMIT_WRITE_PER_MINUTE=4000000000
export API_RATE_LIMIT_PRICE_PER_MINUTE=4000000000 API_RATE_LIMIT_UPLOAD_PER_MINUTE=4000000000
export LOG_FORMAT=json
export LOG_LEVEL="${BENCH_LOG_LEVEL:-info}"
export BENCH_PRODUCTS="${PRODUCTS}" BENCH_ORGANIZATIONS="${ORGANIZATIONS}"
export BENCH_VARIANTS_PER_PRODUCT="${VARIANTS_PER_PRODUCT}"
unset RABBITMQ_QUEUE_PREFIX REDIS_KEY_PREFIX GRPC_SERVICE_TOKEN 2>/dev/null || true

bench() { "${BIN}/catalog-bench" "$@"; }
# run_load SCENARIO CONCURRENCY [extra args...]: one measured run, appended to the results.
run_load() {
  local scenario=$1 concurrency=$2
  shift 2
  timeout $((DURATION + WARMUP + 60)) "${BIN}/catalog-bench" --scenario "${scenario}" \
    --concurrency "${concurrency}" --duration "${DURATION}" --warmup "${WARMUP}" --out "${OUT}" "$@" >/dev/null ||
    log "warning: ${scenario} at ${concurrency} failed (recorded nothing)"
}
json_line() { printf '%s\n' "$1" >>"${OUT}"; }

# ---------------------------------------------------------------------------------------------
section "Services (PostgreSQL, Redis, RabbitMQ) and the ${DB_NAME} database"
ensure_services
ensure_database "${DB_NAME}"
for tool in pgbench redis-benchmark redis-cli python3; do
  command -v "${tool}" >/dev/null || die "${tool} is needed"
done

section "Build (release)"
# The code measured: what the build below compiles (others may commit while the run goes on).
CODE_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
CODE_DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | awk '{print $2}' |
  grep -v -e '^bench/' -e '^Cargo.lock$' | tr '\n' ' ' | sed 's/ $//' || true)
BUILD_STARTED=${SECONDS}
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  cargo build --release -p catalog-grpc -p catalog-api -p catalog-worker -p catalog-bench
  export BENCH_SKIP_BUILD=1 # bench/import.sh needs no second build
fi
BUILD_SECONDS=$((SECONDS - BUILD_STARTED))

section "Ports"
for port in 50052 8002 9101 9102; do
  if ss -ltnH "( sport = :${port} )" | grep -q .; then
    die "port ${port} is taken (is deploy/local/up.sh running?); stop it first"
  fi
done
log "50052, 8002, 9101 and 9102 are free"

section "Migrate, seed ${PRODUCTS} products x ${VARIANTS_PER_PRODUCT} variants over ${ORGANIZATIONS} organizations"
SEED_STARTED=${SECONDS}
"${BIN}/catalog-api" migrate
ORG1=$(bench id org1)
scale_products=$(psql_admin -d "${DB_NAME}" -tAc "SELECT count(*) FROM products WHERE id::text LIKE '5ca1e001-%'")
scale_variants=$(psql_admin -d "${DB_NAME}" -tAc "SELECT count(*) FROM product_variants WHERE id::text LIKE '5ca1e002-%'")
if [[ ${scale_products} == "${PRODUCTS}" && ${scale_variants} == $((PRODUCTS * VARIANTS_PER_PRODUCT)) ]]; then
  log "already seeded: ${scale_products} products, ${scale_variants} variants (skipping)"
else
  log "seeding (found ${scale_products} products, ${scale_variants} variants)"
  "${BIN}/catalog-api" seed --products "${PRODUCTS}" --organizations "${ORGANIZATIONS}" \
    --variants-per-product "${VARIANTS_PER_PRODUCT}"
fi
bench sql-fixtures | psql_admin -d "${DB_NAME}" >/dev/null
mkdir -p "${BENCH_DIR}/sql"
bench sql-validate-batch >"${BENCH_DIR}/sql/validate_batch.sql"
bench sql-validate-batch-random >"${BENCH_DIR}/sql/validate_batch_random.sql"
bench sql-product-details-cold >"${BENCH_DIR}/sql/product_details_cold.sql"
bench sql-search-barcode >"${BENCH_DIR}/sql/search_barcode.sql"
# Leave no backlog from earlier runs for the relay scenarios.
psql_admin -d "${DB_NAME}" -c "UPDATE outbox SET published_at = now() WHERE published_at IS NULL" >/dev/null
psql_admin -d "${DB_NAME}" -c "VACUUM ANALYZE outbox" >/dev/null
log "variants in ${DB_NAME}: $(psql_admin -d "${DB_NAME}" -tAc 'SELECT count(*) FROM product_variants')"
SEED_SECONDS=$((SECONDS - SEED_STARTED))

# ---------------------------------------------------------------------------------------------
mkdir -p "${RUN_DIR}/logs" "${RESULTS_DIR}"
[[ -f ${OUT} ]] && mv "${OUT}" "${RESULTS_DIR}/previous.jsonl"
: >"${OUT}"
declare -A PIDS=()

stop_started() {
  local name pid waited
  for name in "${PROCESSES[@]}"; do
    pid=${PIDS[${name}]:-}
    [[ -n ${pid} ]] || continue
    if kill -0 "${pid}" 2>/dev/null; then
      kill -TERM "${pid}" 2>/dev/null || true
      waited=0
      while kill -0 "${pid}" 2>/dev/null && ((waited < 100)); do
        sleep 0.1
        waited=$((waited + 1))
      done
      if kill -0 "${pid}" 2>/dev/null; then
        kill -KILL "${pid}" 2>/dev/null || true
      fi
      log "stopped ${name} (pid ${pid})"
    fi
    unset "PIDS[${name}]"
  done
}
trap 'section "Stopping the processes"; touch "${RUN_DIR}/cpu.stop"; stop_started' EXIT
trap 'exit 130' INT TERM

# start NAME READY-ARGS...: starts a process, records its start-up time (exec to ready).
start() {
  local name=$1
  shift
  local since
  since=$(date +%s%N)
  setsid "${BIN}/${name}" serve </dev/null >"${RUN_DIR}/logs/${name}.log" 2>&1 &
  PIDS[${name}]=$!
  bench wait-ready --process "${name}" --since-ns "${since}" --timeout 60 --out "${OUT}" "$@" >/dev/null ||
    {
      tail -n 30 "${RUN_DIR}/logs/${name}.log" >&2
      die "${name} did not become ready"
    }
}

# memory PHASE: VmRSS (and VmHWM, the peak so far) of each process, as JSON lines.
memory() {
  local phase=$1 name pid rss hwm
  for name in "${PROCESSES[@]}"; do
    pid=${PIDS[${name}]}
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/${pid}/status")
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/${pid}/status")
    json_line "{\"scenario\":\"memory\",\"process\":\"${name}\",\"phase\":\"${phase}\",\"rss_kb\":${rss},\"hwm_kb\":${hwm}}"
    log "${name}: ${phase} RSS $((rss / 1024)) MB (peak so far $((hwm / 1024)) MB)"
  done
}

# sample_memory SECONDS FILE: the highest VmRSS of each process, sampled every 0.2 s.
sample_memory() {
  local seconds=$1 file=$2 end name pid rss
  declare -A max=()
  end=$((SECONDS + seconds))
  while ((SECONDS < end)); do
    for name in "${PROCESSES[@]}"; do
      pid=${PIDS[${name}]}
      rss=$(awk '/^VmRSS:/ {print $2}' "/proc/${pid}/status" 2>/dev/null || echo 0)
      ((rss > ${max[${name}]:-0})) && max[${name}]=${rss}
    done
    sleep 0.2
  done
  for name in "${PROCESSES[@]}"; do
    printf '%s %s\n' "${name}" "${max[${name}]:-0}"
  done >"${file}"
}

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
SCENARIOS_STARTED=${SECONDS}
# Where the machine's CPU goes while the scenarios run (the benchmark vs other work on the box).
rm -f "${RUN_DIR}/cpu.stop"
python3 "${BENCH_DIR}/report.py" cpu-sample --stop-file "${RUN_DIR}/cpu.stop" --max-seconds 1800 \
  --database "${DB_NAME}" >"${RUN_DIR}/cpu.json" &
CPU_SAMPLER=$!

section "Start catalog-grpc, catalog-api, catalog-worker (start-up time: exec to ready)"
start catalog-grpc --grpc http://127.0.0.1:50052
start catalog-api --http http://127.0.0.1:8002/health/ready
start catalog-worker --http http://127.0.0.1:9102/health/ready
sleep 5
memory idle

TOKEN=$("${BIN}/catalog-api" dev-token --organization "${ORG1}" --ttl-minutes 180 | tail -n 1)
export BENCH_TOKEN="${TOKEN}"
WARM_PRODUCT=$(bench id warm-product)

# run_pgbench SQL-FILE SCENARIO CONCURRENCY [PROTOCOL]: pgbench running the file, recorded as
# SCENARIO; PROTOCOL (simple) is pgbench's -M: `prepared` where the service prepares the statement.
run_pgbench() {
  local file=$1 scenario=$2 c=$3 protocol=${4:-simple} pg_dir threads
  pg_dir=$(mktemp -d)
  threads=$((c < 2 ? c : 2))
  (cd "${pg_dir}" && timeout $((DURATION + 60)) pgbench -n -h 127.0.0.1 -U postgres -f "${file}" -M "${protocol}" \
    -c "${c}" -j "${threads}" -T "${DURATION}" -l --log-prefix=pgb "${DB_NAME}" >stdout.txt 2>stderr.txt) ||
    log "warning: pgbench at ${c} failed: $(tail -n 3 "${pg_dir}/stderr.txt")"
  python3 "${BENCH_DIR}/report.py" ingest-pgbench --dir "${pg_dir}" --concurrency "${c}" --scenario "${scenario}" >>"${OUT}" ||
    log "warning: could not read pgbench's output"
  rm -rf "${pg_dir}"
}
TOP=${CONCURRENCIES[-1]}

section "Scenario 1: ValidateVariantsBatch (the same 100 ids) vs pgbench running its one SQL statement"
for c in "${CONCURRENCIES[@]}"; do
  run_load grpc-validate-batch "${c}"
  run_pgbench "${BENCH_DIR}/sql/validate_batch.sql" pgbench-validate-batch "${c}"
done
tail -n 2 "${OUT}" | cut -c1-200

section "Scenario 1b: ValidateVariantsBatch, 100 ids drawn at random over organization #1 (cold, then warm) vs pgbench drawing the same way"
# A new generation for organization #1: every variant misses at first.
redis-cli -h 127.0.0.1 INCR "catalog:org-gen:${ORG1}" >/dev/null
run_load grpc-validate-batch-random "${TOP}" --label cold
run_load grpc-validate-batch-random "${TOP}" --label warm
run_pgbench "${BENCH_DIR}/sql/validate_batch_random.sql" pgbench-validate-batch-random "${TOP}"
tail -n 3 "${OUT}" | cut -c1-200

section "Scenario 2: GetProductDetails warm vs grpc.health.v1 and redis-benchmark GET; cold"
for c in "${CONCURRENCIES[@]}"; do
  run_load grpc-product-details "${c}"
  run_load grpc-health "${c}"
done
VALUE_SIZE=$(redis-cli -h 127.0.0.1 STRLEN "product:${ORG1}:${WARM_PRODUCT}")
log "cached product value: ${VALUE_SIZE} bytes"
((VALUE_SIZE > 0)) || VALUE_SIZE=3000
for c in "${CONCURRENCIES[@]}"; do
  requests=$((c == 1 ? 50000 : 200000))
  timeout 120 redis-benchmark -h 127.0.0.1 -p 6379 -t set,get -d "${VALUE_SIZE}" -c "${c}" -n "${requests}" --csv 2>/dev/null |
    python3 "${BENCH_DIR}/report.py" ingest-redis --concurrency "${c}" --size "${VALUE_SIZE}" >>"${OUT}" ||
    log "warning: redis-benchmark at ${c} failed"
done
for c in 4 16; do
  # A new cache generation per organization: every product of the catalog misses again.
  for k in $(seq 1 "${ORGANIZATIONS}"); do
    redis-cli -h 127.0.0.1 INCR "catalog:org-gen:5ca1e000-0000-8000-8000-$(printf '%012x' "${k}")" >/dev/null
  done
  run_load grpc-product-details-cold "${c}"
  run_pgbench "${BENCH_DIR}/sql/product_details_cold.sql" pgbench-product-details-cold "${c}"
done

section "Scenario 3: POS search (barcode, SKU prefix, title with a typo)"
for c in "${CONCURRENCIES[@]}"; do
  run_load grpc-search-barcode "${c}"
  run_load grpc-search-sku-prefix "${c}"
  run_load grpc-search-title-typo "${c}"
done
# The barcode's floor at the top concurrency: its one statement alone (prepared, as sent).
run_pgbench "${BENCH_DIR}/sql/search_barcode.sql" pgbench-search-barcode "${TOP}" prepared

section "Scenario 4: REST reads vs the API's no-op endpoint"
for c in "${CONCURRENCIES[@]}"; do
  run_load rest-product "${c}"
  run_load rest-noop "${c}"
  run_load rest-noop-authenticated "${c}"
  run_load rest-products-filtered "${c}"
  run_load rest-search "${c}"
done

section "Scenario 7: PATCH one variant of a 2,000-variant product vs of a 10-variant product"
for c in 1 4; do
  run_load large-product-update "${c}" --variants 2000
  run_load large-product-update "${c}" --variants 10
done

section "Scenario 5: outbox relay (commit-to-publish latency, drain rate)"
timeout 300 "${BIN}/catalog-bench" --scenario relay-burst --concurrency 16 --events 10000 --out "${OUT}" >/dev/null ||
  log "warning: relay-burst failed"
timeout 300 "${BIN}/catalog-bench" --scenario relay-drain --events 10000 --out "${OUT}" >/dev/null ||
  log "warning: relay-drain failed"
curl -fsS http://127.0.0.1:9102/metrics | grep -E '^catalog_outbox_(backlog|published_total)' | sed 's/^/    /' || true

section "Scenario 6: memory under load (mixed gRPC + REST + relay burst), then idle again"
sample_memory 14 "${RUN_DIR}/rss_max.txt" &
sampler=$!
timeout 120 "${BIN}/catalog-bench" --scenario mix --concurrency 64 --duration 10 --warmup 1 --label memory-load \
  --mix grpc-product-details-cold:2,grpc-product-details:2,grpc-validate-batch:2,rest-product:3,rest-products-filtered:1,rest-search:1 \
  --out "${OUT}" >/dev/null &
mixer=$!
timeout 300 "${BIN}/catalog-bench" --scenario relay-burst --concurrency 8 --events 10000 --label memory-load --out "${OUT}" >/dev/null ||
  log "warning: relay burst under load failed"
wait "${mixer}" || log "warning: the mixed load failed"
wait "${sampler}" || true
while read -r name rss; do
  json_line "{\"scenario\":\"memory\",\"process\":\"${name}\",\"phase\":\"load\",\"rss_kb\":${rss}}"
  log "${name}: under load RSS max $((rss / 1024)) MB"
done <"${RUN_DIR}/rss_max.txt"
sleep 5
memory after-load

section "Profiles: where the CPU goes in the targets' runs (after the measured runs)"
# profile LABEL PROCESS COMMAND...: runs COMMAND (which writes its JSON line to $RUN_OUT) while
# every process's CPU time is sampled and PROCESS is under perf; one "profile" line in the results.
profile() {
  local label=$1 process=$2 dir="${RUN_DIR}/profile/$1"
  shift 2
  profiling_start "${dir}" "${PIDS[${process}]}" "${DB_NAME}"
  RUN_OUT="${dir}/run.jsonl" "$@" >/dev/null 2>"${dir}/stderr.txt" || log "warning: profile ${label} failed"
  profiling_stop "${dir}"
  python3 "${BENCH_DIR}/report.py" ingest-profile --label "${label}" --process "${process}" \
    --cpu "${dir}/cpu.json" --run "${dir}/run.jsonl" --perf "${dir}/perf.data" >>"${OUT}" ||
    log "warning: could not read profile ${label}"
}
# load SCENARIO [args...]: one run at the top concurrency, written to $RUN_OUT.
load() {
  local scenario=$1
  shift
  "${BIN}/catalog-bench" --scenario "${scenario}" --concurrency "${TOP}" --duration "${DURATION}" \
    --warmup "${WARMUP}" --out "${RUN_OUT}" "$@"
}
profile "GetProductDetails warm" catalog-grpc load grpc-product-details
profile "grpc.health.v1 (the ceiling)" catalog-grpc load grpc-health
profile "POS search, barcode" catalog-grpc load grpc-search-barcode
redis-cli -h 127.0.0.1 INCR "catalog:org-gen:${ORG1}" >/dev/null
profile "ValidateVariantsBatch random, cold start" catalog-grpc load grpc-validate-batch-random
drain() { BENCH_RELAY_CEILING=0 "${BIN}/catalog-bench" --scenario relay-drain --events 10000 --out "${RUN_OUT}"; }
profile "Relay drain of 10,000 events" catalog-worker drain

section "Machine"
SCENARIO_SECONDS=$((SECONDS - SCENARIOS_STARTED))
touch "${RUN_DIR}/cpu.stop"
wait "${CPU_SAMPLER}" || true
if [[ -s ${RUN_DIR}/cpu.json ]]; then
  cat "${RUN_DIR}/cpu.json" >>"${OUT}"
  log "CPU during the scenarios: $(cat "${RUN_DIR}/cpu.json")"
fi
{
  printf '{"scenario":"machine","nproc":%s,' "$(nproc)"
  printf '"cpu":"%s",' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo | sed 's/"/\\"/g')"
  printf '"mem_total_gb":%s,' "$(free -g | awk '/^Mem:/ {print $2}')"
  printf '"mem_available_gb":%s,' "$(free -g | awk '/^Mem:/ {print $7}')"
  printf '"loadavg":"%s","loadavg_start":"%s",' "$(cut -d' ' -f1-3 /proc/loadavg)" "${LOADAVG_START}"
  printf '"scenario_seconds":%s,' "${SCENARIO_SECONDS}"
  printf '"postgres":"%s",' "$(psql_admin -d postgres -tAc 'SHOW server_version' | cut -d' ' -f1)"
  printf '"redis":"%s",' "$(redis-cli -h 127.0.0.1 INFO server | awk -F: '/^redis_version/ {print $2}' | tr -d '\r')"
  printf '"kernel":"%s",' "$(uname -r)"
  printf '"rustc":"%s",' "$(rustc --version 2>/dev/null | cut -d' ' -f2)"
  printf '"commit":"%s","uncommitted":"%s",' "${CODE_COMMIT}" "${CODE_DIRTY}"
  printf '"products":%s,"variants":%s,' "${PRODUCTS}" "$((PRODUCTS * VARIANTS_PER_PRODUCT))"
  printf '"duration_s":%s,"warmup_s":%s,' "${DURATION}" "${WARMUP}"
  printf '"build_seconds":%s,"seed_seconds":%s,' "${BUILD_SECONDS}" "${SEED_SECONDS}"
  printf '"run_seconds":%s,"date":"%s"}\n' "$((SECONDS - STARTED_AT))" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >>"${OUT}"

section "Stopping the processes"
stop_started
trap - EXIT

SUITES=" ${BENCH_SUITES:-import recipes uploads stock tracing scale_out} "
for suite in import recipes uploads stock tracing scale_out; do
  if [[ ${SUITES} == *" ${suite} "* ]]; then
    section "bench/${suite}.sh"
    BENCH_SKIP_BUILD=${BENCH_SKIP_BUILD:-0} bash "${BENCH_DIR}/${suite}.sh"
  else
    log "bench/${suite}.sh skipped (BENCH_SUITES): the report keeps its last results"
  fi
done

section "Report"
if ! python3 -c 'import matplotlib' 2>/dev/null; then
  python3 -m pip install --quiet matplotlib || log "warning: matplotlib could not be installed (no charts)"
fi
python3 "${BENCH_DIR}/report.py" render --results "${OUT}" --out-dir "${BENCH_DIR}"
log "total time: $((SECONDS - STARTED_AT)) s; results in bench/results/run.jsonl, bench/RESULTS.md"

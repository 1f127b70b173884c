#!/usr/bin/env bash
# Tracing overhead benchmark (issue 22): the warm GetProductDetails and the REST cached product
# read, each beside its no-op ceiling (grpc.health.v1 Check, /api/v1/noop), for three builds
# of catalog-grpc and catalog-api started in turn against the same database and cache:
#   baseline  the commit before trace context existed (BENCH_TRACING_BASELINE, built once into
#             target/bench-baseline from a git worktree; "none" skips it),
#   off       this commit, no OTLP endpoint: trace context read and passed on, no span made,
#   on-10pct  this commit exporting to an OTLP endpoint (catalog-bench otlp-sink, a real
#             OTLP/gRPC TraceService) with OTEL_TRACES_SAMPLER=traceidratio at 0.1.
# The three alternate over BENCH_TRACING_ROUNDS rounds so drift hits each alike; the report
# compares each build's throughput with the baseline's, measured minutes apart in this run.
#
#   bash bench/tracing.sh        (about 9 minutes once built; the baseline build ~10 more once)
#
# Writes JSON lines to bench/results/tracing.jsonl (replaced at each run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROOT=$(pwd)
BIN="${ROOT}/target/release"
BASELINE_REV="${BENCH_TRACING_BASELINE:-2f14fa4}"
BASELINE_BIN="${ROOT}/target/bench-baseline/release"
RUN_DIR="${ROOT}/bench/.run/tracing"
OUT="${ROOT}/bench/results/tracing.jsonl"
DB_NAME=catalog_bench_tracing
DURATION="${BENCH_DURATION:-8}"
WARMUP="${BENCH_WARMUP:-2}"
ROUNDS="${BENCH_TRACING_ROUNDS:-3}"
CLIENTS=16
PRODUCTS=2000
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export GRPC_PORT=50082 GRPC_METRICS_PORT=9182 API_PORT=8082 LOG_FORMAT=json LOG_LEVEL=warn
export REDIS_KEY_PREFIX=bench-tracing: RABBITMQ_EXCHANGE=catalog_bench_tracing_events
export BENCH_GRPC_ADDR="http://127.0.0.1:${GRPC_PORT}" BENCH_GRPC_METRICS="http://127.0.0.1:${GRPC_METRICS_PORT}/metrics"
export BENCH_API_URL="http://127.0.0.1:${API_PORT}" BENCH_PRODUCTS="${PRODUCTS}" BENCH_ORGANIZATIONS=4
export BENCH_VARIANTS_PER_PRODUCT=3
SINK_PORT=4327
unset GRPC_SERVICE_TOKEN OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT 2>/dev/null || true

ensure_services
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  cargo build --release -p catalog-grpc -p catalog-api -p catalog-bench
fi
if [[ ${BASELINE_REV} != none && ! -x ${BASELINE_BIN}/catalog-grpc ]]; then
  section "Building the baseline (${BASELINE_REV}) into target/bench-baseline"
  worktree="${RUN_DIR}/baseline-src"
  rm -rf "${worktree}"
  git worktree add -f "${worktree}" "${BASELINE_REV}" >/dev/null
  (cd "${worktree}" && CARGO_TARGET_DIR="${ROOT}/target/bench-baseline" cargo build --release -p catalog-grpc -p catalog-api)
  git worktree remove --force "${worktree}"
fi
mkdir -p "${RUN_DIR}" "$(dirname "${OUT}")"
: >"${OUT}"
SINK_PID=
trap 'stop_all; [[ -n ${SINK_PID} ]] && kill -TERM "${SINK_PID}" 2>/dev/null || true' EXIT

section "Database ${DB_NAME}: ${PRODUCTS} products, the warm product's fixtures"
seed_database 4

"${BIN}/catalog-bench" otlp-sink --port "${SINK_PORT}" --count-file "${RUN_DIR}/spans" &
SINK_PID=$!

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measure LABEL: each scenario against the running pair, with the serving process's CPU time
# over the run (warm-up included) beside it: less noisy than throughput on a shared machine.
measure() {
  local label=$1 scenario pid before
  for scenario in grpc-product-details grpc-health rest-product rest-noop; do
    pid=${PIDS[1]}
    [[ ${scenario} == grpc-* ]] && pid=${PIDS[0]}
    before=$(cpu_ticks "${pid}")
    timeout $((DURATION + WARMUP + 60)) "${BIN}/catalog-bench" --scenario "${scenario}" --concurrency "${CLIENTS}" \
      --duration "${DURATION}" --warmup "${WARMUP}" --label "${label}" --out "${OUT}" >/dev/null ||
      die "${scenario} (${label}) failed"
    printf '{"scenario":"tracing-cpu","label":"%s","of":"%s","cpu_s":%s}\n' "${label}" "${scenario}" \
      "$(awk -v t="$(($(cpu_ticks "${pid}") - before))" -v hz="$(getconf CLK_TCK)" 'BEGIN { print t / hz }')" >>"${OUT}"
  done
}

builds=(off on-10pct)
[[ ${BASELINE_REV} != none ]] && builds=(baseline off on-10pct)
for round in $(seq 1 "${ROUNDS}"); do
  for build in "${builds[@]}"; do
    section "Round ${round}: ${build}"
    case ${build} in
      baseline) serve "${BASELINE_BIN}" ;;
      off) serve "${BIN}" ;;
      on-10pct)
        serve "${BIN}" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:${SINK_PORT}" \
          OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.1
        ;;
    esac
    before=$(cat "${RUN_DIR}/spans")
    measure "tracing-${build}"
    stop_all
    sleep 1
    log "spans exported: $(($(cat "${RUN_DIR}/spans") - before))"
    printf '{"scenario":"tracing-spans","label":"tracing-%s","round":%s,"spans":%s}\n' "${build}" "${round}" \
      "$(($(cat "${RUN_DIR}/spans") - before))" >>"${OUT}"
  done
done
section "Trace-context handling alone, per call (export off)"
"${BIN}/catalog-bench" trace-context-cost --out "${OUT}"
printf '{"scenario":"tracing-machine","nproc":%s,"commit":"%s","baseline":"%s","date":"%s"}\n' "$(nproc)" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "${BASELINE_REV}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"${OUT}"
log "results in ${OUT}"

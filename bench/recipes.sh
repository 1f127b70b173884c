#!/usr/bin/env bash
# Recipe explosion benchmark (bench/RESULTS.md, target 9): ExplodeRecipe of a POS ticket of 20
# composite dishes, three levels of recipes deep (dish → preparation → sauce → raw ingredient,
# 5–6 deductions each), against a release catalog-grpc in its own database. Warm: what one
# unit of each dish takes is cached. Cold: each call first bumps the organization's recipe
# generation (one Redis INCR, inside the measured call), so every dish misses. The ceiling,
# measured in the same run against the same process: grpc.health.v1 Check. Statements per
# call come from the process's own counter (catalog_db_statements_total).
#
#   bash bench/recipes.sh        (about 2 minutes once built; bench/run.sh calls it)
#
# Writes JSON lines to bench/results/recipes.jsonl (replaced at each run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

ROOT=$(pwd)
BIN="${ROOT}/target/release"
RUN_DIR="${ROOT}/bench/.run/recipes"
OUT="${ROOT}/bench/results/recipes.jsonl"
DB_NAME=catalog_bench_recipes
DURATION="${BENCH_DURATION:-8}"
WARMUP="${BENCH_WARMUP:-2}"
read -r -a CONCURRENCIES <<<"${BENCH_CONCURRENCIES:-1 16}"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export GRPC_PORT=50072 GRPC_METRICS_PORT=9172 LOG_FORMAT=json LOG_LEVEL=warn
export REDIS_KEY_PREFIX=bench-recipes: RABBITMQ_EXCHANGE=catalog_bench_recipes_events
export BENCH_GRPC_ADDR="http://127.0.0.1:${GRPC_PORT}" BENCH_GRPC_METRICS="http://127.0.0.1:${GRPC_METRICS_PORT}/metrics"
unset GRPC_SERVICE_TOKEN 2>/dev/null || true

ensure_services
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  cargo build --release -p catalog-grpc -p catalog-api -p catalog-bench
fi
mkdir -p "${RUN_DIR}" "$(dirname "${OUT}")"
: >"${OUT}"
GRPC_PID=
trap '[[ -n ${GRPC_PID} ]] && kill -TERM "${GRPC_PID}" 2>/dev/null || true' EXIT

section "Database ${DB_NAME} with the recipe fixture"
psql_admin -d postgres -c "DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)" >/dev/null
ensure_database "${DB_NAME}"
"${BIN}/catalog-api" migrate >/dev/null
"${BIN}/catalog-bench" sql-recipe-fixtures | psql_admin -d "${DB_NAME}" -v ON_ERROR_STOP=1 >/dev/null

section "catalog-grpc on :${GRPC_PORT}"
since=$(date +%s%N)
setsid "${BIN}/catalog-grpc" serve </dev/null >"${RUN_DIR}/catalog-grpc.log" 2>&1 &
GRPC_PID=$!
"${BIN}/catalog-bench" wait-ready --process catalog-grpc --grpc "${BENCH_GRPC_ADDR}" --since-ns "${since}" \
  --timeout 60 >/dev/null || {
  tail -n 30 "${RUN_DIR}/catalog-grpc.log" >&2
  die "catalog-grpc did not become ready"
}

section "ExplodeRecipe (20 dishes, 3 levels) warm and cold vs grpc.health.v1"
for c in "${CONCURRENCIES[@]}"; do
  for scenario in grpc-explode-ticket grpc-explode-ticket-cold grpc-health; do
    timeout $((DURATION + WARMUP + 60)) "${BIN}/catalog-bench" --scenario "${scenario}" --concurrency "${c}" \
      --duration "${DURATION}" --warmup "${WARMUP}" --label recipes --out "${OUT}" >/dev/null ||
      die "${scenario} at ${c} failed"
  done
done
printf '{"scenario":"recipes-machine","nproc":%s,"commit":"%s","date":"%s"}\n' "$(nproc)" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"${OUT}"
log "results in ${OUT}"

# shellcheck shell=bash
# What the bench scripts that start catalog-grpc and catalog-api themselves, in turn with other
# settings, share. Source it after deploy/local/lib.sh, with BIN (the release binaries),
# RUN_DIR (their logs), DB_NAME, PRODUCTS, BENCH_VARIANTS_PER_PRODUCT, BENCH_GRPC_ADDR and BENCH_API_URL set.

# A development token issuer, and rate limits out of the way: the benchmarks measure the service.
export AUTH_MODE=dev AUTH_DEV_SECRET=bench-dev-secret-0123456789
export API_RATE_LIMIT_PER_MINUTE=4000000000
export API_RATE_LIMIT_READ_PER_MINUTE=4000000000 API_RATE_LIMIT_WRITE_PER_MINUTE=4000000000

# The processes started, stopped together by stop_all.
PIDS=()

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "${pid}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
  done
  PIDS=()
}

# ready NAME URL-or-ADDR KIND SINCE: waits until the process answers its readiness (KIND: grpc
# or http), showing the end of RUN_DIR/NAME.log when it does not.
ready() {
  "${BIN}/catalog-bench" wait-ready --process "$1" "--$3" "$2" --since-ns "$4" --timeout 60 >/dev/null || {
    tail -n 30 "${RUN_DIR}/$1.log" >&2
    die "$1 did not become ready"
  }
}

# serve DIR [ENV...]: catalog-grpc and catalog-api from DIR with ENV, each ready.
serve() {
  local dir=$1 since
  shift
  since=$(date +%s%N)
  env "$@" setsid "${dir}/catalog-grpc" serve </dev/null >"${RUN_DIR}/catalog-grpc.log" 2>&1 &
  PIDS+=($!)
  ready catalog-grpc "${BENCH_GRPC_ADDR}" grpc "${since}"
  since=$(date +%s%N)
  env "$@" setsid "${dir}/catalog-api" serve </dev/null >"${RUN_DIR}/catalog-api.log" 2>&1 &
  PIDS+=($!)
  ready catalog-api "${BENCH_API_URL}/health/ready" http "${since}"
}

# seed_database ORGANIZATIONS: DB_NAME anew, migrated, PRODUCTS products (BENCH_VARIANTS_PER_PRODUCT each) over
# ORGANIZATIONS organizations and the benchmarks' fixtures; exports BENCH_TOKEN (org1's).
seed_database() {
  psql_admin -d postgres -c "DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)" >/dev/null
  ensure_database "${DB_NAME}"
  "${BIN}/catalog-api" migrate >/dev/null
  "${BIN}/catalog-api" seed --products "${PRODUCTS}" --organizations "$1" --variants-per-product "${BENCH_VARIANTS_PER_PRODUCT}" >/dev/null
  "${BIN}/catalog-bench" sql-fixtures | psql_admin -d "${DB_NAME}" >/dev/null
  BENCH_TOKEN=$("${BIN}/catalog-api" dev-token --organization "$("${BIN}/catalog-bench" id org1)" --ttl-minutes 60 | tail -n 1)
  export BENCH_TOKEN
}

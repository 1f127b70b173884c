#!/usr/bin/env bash
# Image upload benchmark (bench/RESULTS.md, target 10): a 2 MB JPEG photo uploaded as a
# multipart form to POST /api/v1/products/{id}/images of a release catalog-api, each upload
# decoded, checked and rendered into four renditions (pool of STORAGE_IMAGE_WORKERS=2, the
# machine's cores), stored (the local filesystem backend) and its row inserted. The ceiling,
# measured in the same run: the same photo rendered in-process by the service's own renderer on
# two threads (no HTTP, store or database). Peak RSS: the process's high-water mark (VmHWM)
# after 16 concurrent uploads.
#
#   bash bench/uploads.sh        (about 2 minutes once built; bench/run.sh calls it)
#
# Writes JSON lines to bench/results/uploads.jsonl (replaced at each run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

ROOT=$(pwd)
BIN="${ROOT}/target/release"
RUN_DIR="${ROOT}/bench/.run/uploads"
OUT="${ROOT}/bench/results/uploads.jsonl"
PHOTO="${ROOT}/bench/.run/photo-2mb.jpg"
DB_NAME=catalog_bench_uploads
PRODUCTS=3000
DURATION="${BENCH_DURATION:-8}"
WARMUP="${BENCH_WARMUP:-2}"
read -r -a CONCURRENCIES <<<"${BENCH_CONCURRENCIES:-1 16}"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export API_PORT=8072 LOG_FORMAT=json LOG_LEVEL=warn AUTH_MODE=dev AUTH_DEV_SECRET=bench-dev-secret-0123456789
export REDIS_KEY_PREFIX=bench-uploads: RABBITMQ_EXCHANGE=catalog_bench_uploads_events
export STORAGE_BACKEND=local STORAGE_LOCAL_PATH="${RUN_DIR}/media" STORAGE_IMAGE_WORKERS=2
export API_RATE_LIMIT_UPLOAD_PER_MINUTE=1000000 API_RATE_LIMIT_PER_MINUTE=1000000
export BENCH_API_URL="http://127.0.0.1:${API_PORT}" BENCH_PRODUCTS="${PRODUCTS}" BENCH_ORGANIZATIONS=1
export BENCH_VARIANTS_PER_PRODUCT=1

ensure_services
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  cargo build --release -p catalog-api -p catalog-bench
fi
rm -rf "${RUN_DIR}"
mkdir -p "${RUN_DIR}" "$(dirname "${OUT}")"
: >"${OUT}"
API_PID=
trap '[[ -n ${API_PID} ]] && kill -TERM "${API_PID}" 2>/dev/null || true' EXIT

section "Database ${DB_NAME}: ${PRODUCTS} products of one organization"
psql_admin -d postgres -c "DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)" >/dev/null
ensure_database "${DB_NAME}"
"${BIN}/catalog-api" migrate >/dev/null
"${BIN}/catalog-api" seed --products "${PRODUCTS}" --organizations 1 --variants-per-product 1 >/dev/null

section "Ceiling: the photo rendered in-process on 2 threads"
"${BIN}/catalog-bench" render-ceiling --photo "${PHOTO}" --threads 2 --duration "${DURATION}" --out "${OUT}"

section "catalog-api on :${API_PORT}"
since=$(date +%s%N)
setsid "${BIN}/catalog-api" serve </dev/null >"${RUN_DIR}/catalog-api.log" 2>&1 &
API_PID=$!
"${BIN}/catalog-bench" wait-ready --process catalog-api --http "${BENCH_API_URL}/health/ready" --since-ns "${since}" \
  --timeout 60 >/dev/null || {
  tail -n 30 "${RUN_DIR}/catalog-api.log" >&2
  die "catalog-api did not become ready"
}
ORG1=$("${BIN}/catalog-bench" id org1)
BENCH_TOKEN=$("${BIN}/catalog-api" dev-token --organization "${ORG1}" --ttl-minutes 30 | tail -n 1)
export BENCH_TOKEN
rss_kb() { awk -v field="$1:" '$1 == field { print $2 }' "/proc/${API_PID}/status"; }
idle_rss=$(rss_kb VmRSS)

section "POST a 2 MB photo (multipart), renditions and row"
for c in "${CONCURRENCIES[@]}"; do
  timeout $((DURATION + WARMUP + 120)) "${BIN}/catalog-bench" --scenario rest-upload --concurrency "${c}" \
    --duration "${DURATION}" --warmup "${WARMUP}" --photo "${PHOTO}" --label uploads --out "${OUT}" >/dev/null ||
    die "rest-upload at ${c} failed"
done
stored=$(find "${RUN_DIR}/media" -type f | wc -l)
rows=$(psql_admin -d "${DB_NAME}" -tAc "SELECT count(*) FROM product_images")
printf '{"scenario":"uploads-process","idle_rss_kb":%s,"peak_rss_kb":%s,"image_rows":%s,"stored_files":%s}\n' \
  "${idle_rss}" "$(rss_kb VmHWM)" "${rows}" "${stored}" >>"${OUT}"
((stored == rows * 4)) || die "${rows} image rows but ${stored} files (expected four renditions each)"
printf '{"scenario":"uploads-machine","nproc":%s,"commit":"%s","date":"%s"}\n' "$(nproc)" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"${OUT}"
log "results in ${OUT}"

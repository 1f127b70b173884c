#!/usr/bin/env bash
# Import benchmark (bench/RESULTS.md, target 8): CSV files of 20,000 and 100,000 variants
# (products of 5 variants) through POST /api/v1/imports on a release catalog-api, each in a fresh
# database and a fresh process. Reports rows/s from upload to the job's completion, and the
# process's peak resident memory (VmHWM) for each size: flat means the same peak for 5x the
# file. The ceiling, measured in the same run: PostgreSQL's own COPY of the same file into an
# unlogged table of text columns (no validation, no indexes, no events).
#
#   bash bench/import.sh        (about 2 minutes once built; bench/run.sh calls it)
#
# Appends JSON lines to bench/results/import.jsonl (replaced at each run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh
# shellcheck source=bench/profiling.sh
source bench/profiling.sh

ROOT=$(pwd)
BIN="${ROOT}/target/release"
RUN_DIR="${ROOT}/bench/.run/import"
OUT="${ROOT}/bench/results/import.jsonl"
DB_NAME=catalog_bench_import
read -r -a SIZES <<<"${BENCH_IMPORT_SIZES:-20000 100000}"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export AUTH_MODE=dev AUTH_DEV_SECRET=bench-import-secret-0123456789 API_PORT=8032
export API_RATE_LIMIT_PER_MINUTE=4000000000 LOG_FORMAT=json LOG_LEVEL=warn
export API_RATE_LIMIT_READ_PER_MINUTE=4000000000 API_RATE_LIMIT_WRITE_PER_MINUTE=4000000000
export API_RATE_LIMIT_PRICE_PER_MINUTE=4000000000 API_RATE_LIMIT_UPLOAD_PER_MINUTE=4000000000
export REDIS_KEY_PREFIX=bench-import: RABBITMQ_EXCHANGE=catalog_bench_import_events
API="http://127.0.0.1:${API_PORT}"
ORG=5ca1e000-0000-8000-8000-0000000000aa

ensure_services
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  cargo build --release -p catalog-api
fi
mkdir -p "${RUN_DIR}" "$(dirname "${OUT}")"
: >"${OUT}"
API_PID=
trap '[[ -n ${API_PID} ]] && kill -TERM "${API_PID}" 2>/dev/null || true' EXIT

# make_csv ROWS FILE: ROWS variants, 5 per product, every column a supplier list would have.
make_csv() {
  python3 - "$1" "$2" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w", encoding="utf-8") as f:
    f.write("sku,title,description,product_type,variant_sku,variant_title,barcode,price,cost,tax_rate,weight,vendor\n")
    for i in range(rows):
        p, v = divmod(i, 5)
        body = 780000000000 + i
        digits = [int(d) for d in str(body)]
        check = (10 - sum(d * (3 if k % 2 else 1) for k, d in enumerate(digits)) % 10) % 10
        f.write(f'IMP-{p:06d},"Camiseta {p}, algodón",Camiseta de algodón peinado,ropa,IMP-{p:06d}-{v},Talla {v},'
                f'{body}{check},{10 + v}.90,{4 + v}.10,19,0.{250 + v},Textiles Andinos\n')
PY
}

# Each size is measured alone; the largest is then imported once more under the profilers
# (perf takes a core's worth of CPU: a profiled run is not a measurement).
for run in "${SIZES[@]}" profile; do
  if [[ ${run} == profile ]]; then
    rows=${SIZES[-1]} profiled=1
    section "Import ${rows} variants again, profiled"
  else
    rows=${run} profiled=0
    section "Import ${rows} variants"
  fi
  psql_admin -d postgres -c "DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)" >/dev/null
  ensure_database "${DB_NAME}"
  "${BIN}/catalog-api" migrate >/dev/null
  file="${RUN_DIR}/variants-${rows}.csv"
  make_csv "${rows}" "${file}"
  bytes=$(stat -c %s "${file}")

  # Ceiling: COPY of the same file into 12 text columns.
  psql_admin -d "${DB_NAME}" -c "CREATE UNLOGGED TABLE copy_ceiling (c1 text, c2 text, c3 text, c4 text, c5 text, c6 text, c7 text, c8 text, c9 text, c10 text, c11 text, c12 text)" >/dev/null
  copy_started=$(date +%s%N)
  psql_admin -d "${DB_NAME}" -c "\\copy copy_ceiling FROM '${file}' CSV HEADER" >/dev/null
  copy_ns=$(($(date +%s%N) - copy_started))
  psql_admin -d "${DB_NAME}" -c "DROP TABLE copy_ceiling" >/dev/null

  setsid "${BIN}/catalog-api" serve </dev/null >"${RUN_DIR}/catalog-api-${rows}.log" 2>&1 &
  API_PID=$!
  "${BIN}/catalog-api" dev-token --organization "${ORG}" >"${RUN_DIR}/token"
  wait_for catalog-api 30 curl -fsS "${API}/health/ready"
  sleep 1
  idle_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/${API_PID}/status")

  started=$(date +%s%N)
  job=$(curl -fsS -X POST "${API}/api/v1/imports" -H "Authorization: Bearer $(cat "${RUN_DIR}/token")" \
    -H 'Content-Type: text/csv' --data-binary "@${file}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')
  uploaded=$(date +%s%N)
  # The profiled run's apply phase: every process's CPU time and catalog-api's hottest
  # functions (bench/report.py renders them with bench/run.sh's profiles).
  ((profiled)) && profiling_start "${RUN_DIR}/profile" "${API_PID}" "${DB_NAME}"
  status=queued
  while [[ ${status} == queued || ${status} == running ]]; do
    sleep 0.2
    status=$(curl -fsS "${API}/api/v1/imports/${job}?action=failed" -H "Authorization: Bearer $(cat "${RUN_DIR}/token")" |
      python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d["status"], d["processed_rows"], d["created"], d["failed"])' |
      tee "${RUN_DIR}/status" | cut -d' ' -f1)
  done
  finished=$(date +%s%N)
  ((profiled)) && profiling_stop "${RUN_DIR}/profile"
  read -r status processed created failed <"${RUN_DIR}/status"
  peak_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/${API_PID}/status")
  events=$(psql_admin -d "${DB_NAME}" -tAc "SELECT count(*) FROM outbox")
  kill -TERM "${API_PID}"
  wait "${API_PID}" 2>/dev/null || true
  API_PID=

  [[ ${status} == completed && ${processed} == "${rows}" && ${failed} == 0 ]] ||
    die "import of ${rows} rows ended ${status}: ${processed} processed, ${failed} failed"
  if ((profiled)); then
    python3 "${ROOT}/bench/report.py" ingest-profile --label "CSV import of ${rows} variants (applying)" \
      --process catalog-api --cpu "${RUN_DIR}/profile/cpu.json" --perf "${RUN_DIR}/profile/perf.data" --operations "${rows}" >>"${OUT}" ||
      log "warning: could not read the import's profile"
    continue
  fi
  python3 - "${rows}" "${bytes}" "${started}" "${uploaded}" "${finished}" "${copy_ns}" "${idle_kb}" "${peak_kb}" "${created}" "${events}" >>"${OUT}" <<'PY'
import json, sys
rows, size, started, uploaded, finished, copy_ns, idle_kb, peak_kb, created, events = map(int, sys.argv[1:])
total = (finished - started) / 1e9
print(json.dumps({
    "scenario": "import-csv", "rows": rows, "file_bytes": size,
    "upload_and_stage_s": round((uploaded - started) / 1e9, 3), "apply_s": round((finished - uploaded) / 1e9, 3),
    "total_s": round(total, 3), "rows_per_s": round(rows / total, 1),
    "copy_rows_per_s": round(rows / (copy_ns / 1e9), 1),
    "idle_rss_kb": idle_kb, "peak_rss_kb": peak_kb, "created_lines": created, "events": events,
}))
PY
  tail -n 1 "${OUT}"
done

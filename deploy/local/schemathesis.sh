#!/usr/bin/env bash
# Property-based fuzzing of the REST API against its own OpenAPI document (schemathesis):
# about 6 minutes once built.
#
#   bash deploy/local/schemathesis.sh [MAX_EXAMPLES]      (default 10 per operation and phase)
#
# Starts catalog-api alone (dev auth, its own database catalog_st and port 8012), then runs
# every phase (examples, coverage, fuzzing) over every operation with a valid token. It FAILS
# on the checks the API promises (RELIABILITY.md): no 5xx, and every response conforms to the
# document (status code, content type, headers, body schema), and a request the document calls
# invalid is refused. The stricter checks (`--checks all`: schema-valid requests accepted,
# undocumented methods, Allow headers) run too, in a second pass that only reports.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

MAX_EXAMPLES=${1:-10}
BIN="$(pwd)/target/debug"
RUN_DIR="$(pwd)/target/schemathesis"
DB_NAME=catalog_st
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export AUTH_MODE=dev AUTH_DEV_SECRET=st-dev-secret-0123456789abcdef
export API_PORT=8012 API_RATE_LIMIT_PER_MINUTE=4000000000 LOG_FORMAT=json LOG_LEVEL=warn
# One fuzzing user sends thousands of writes: far past the production budgets.
export API_RATE_LIMIT_READ_PER_MINUTE=4000000000 API_RATE_LIMIT_WRITE_PER_MINUTE=4000000000
export API_RATE_LIMIT_PRICE_PER_MINUTE=4000000000 API_RATE_LIMIT_UPLOAD_PER_MINUTE=4000000000
export REDIS_KEY_PREFIX=schemathesis: RABBITMQ_EXCHANGE=catalog_schemathesis_events
export BENCH_PRODUCTS=200 BENCH_ORGANIZATIONS=1 BENCH_VARIANTS_PER_PRODUCT=2
API="http://127.0.0.1:${API_PORT}"
REQUIRED_CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection

section "Services, schemathesis, build, database ${DB_NAME}"
ensure_services
if ! command -v schemathesis >/dev/null 2>&1; then
  command -v pip >/dev/null 2>&1 || apt_install python3-pip
  log "installing schemathesis (PyPI)"
  pip install --quiet schemathesis 2>/dev/null || pip install --quiet --break-system-packages schemathesis
fi
# The same build as the tests (`--workspace --all-targets`): one set of features, no rebuild.
cargo build --workspace --all-targets
psql_admin -d postgres -c "DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)" >/dev/null
ensure_database "${DB_NAME}"
"${BIN}/catalog-api" migrate
"${BIN}/catalog-api" seed --products "${BENCH_PRODUCTS}" --organizations 1 --variants-per-product 2 >/dev/null
# Both passes take longer than the default 15-minute token: an expired one would turn the rest
# of the run into 401s, which schemathesis counts as accepted.
TOKEN=$("${BIN}/catalog-api" dev-token --ttl-minutes 240 --organization "$("${BIN}/catalog-bench" id org1)")

mkdir -p "${RUN_DIR}"
setsid "${BIN}/catalog-api" serve </dev/null >"${RUN_DIR}/catalog-api.log" 2>&1 &
API_PID=$!
trap 'kill -TERM "${API_PID}" 2>/dev/null || true' EXIT
"${BIN}/catalog-bench" wait-ready --process catalog-api --http "${API}/health/ready" --since-ns "$(date +%s%N)" >/dev/null

# 412 joins the statuses a schema-valid request may meet: a generated `If-Match` names no
# current version, which no document can foresee (as 404 for a generated id, 409 for a taken
# SKU, both already in schemathesis's default list).
#
# No U+0000 in generated strings (schemathesis's own lever for it): PostgreSQL cannot store it,
# so the API refuses it in every string, naming the field (tested in catalog-api's
# `nul_characters_are_a_named_field_error_not_a_database_failure`). Top-level strings say so by
# a pattern; inside free-form `metadata` only the description can, since a recursive JSON-value
# schema breaks the generated clients (RELIABILITY.md).
cat >"${RUN_DIR}/schemathesis.toml" <<'TOML'
[generation]
allow-x00 = false

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]
TOML

st() {
  schemathesis --config-file "${RUN_DIR}/schemathesis.toml" run "${API}/openapi.json" -H "Authorization: Bearer ${TOKEN}" \
    --phases examples,coverage,fuzzing,stateful --max-examples "${MAX_EXAMPLES}" --seed 20261202 --no-color "$@"
}

# One worker in both passes: schemathesis 4.32 on Python 3.11 can crash (an AST recursion
# SystemError in hypothesis) when two threads generate at once; a tool error must not pass for
# an API failure, nor hide one.
section "Stricter checks (report only): --checks all"
st --checks all --workers 1 >"${RUN_DIR}/all-checks.txt" 2>&1 || true
grep -E '^(Test cases|API operations|Failures|Summary)|test cases|passed|failed' "${RUN_DIR}/all-checks.txt" | tail -n 8 || true
log "full report: ${RUN_DIR}/all-checks.txt"

section "Promised checks (must pass): ${REQUIRED_CHECKS}"
st --checks "${REQUIRED_CHECKS}" --workers 1 | tee "${RUN_DIR}/promised-checks.txt" | tail -n 15

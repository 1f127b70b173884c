#!/usr/bin/env bash
# The OpenAPI document, tried by a client nobody here wrote: openapi-python-client (PyPI)
# generates a Python client from the API's /openapi.json, and deploy/local/client_walkthrough.py
# drives the README's REST walk-through with it against the real API: brand, option, product
# with variants, list, update with If-Match (and a stale one), price tier, rule and price
# calculation, delete. About 15 s once catalog-api is built.
#
#   bash deploy/local/client.sh
#
# Uses target/debug/catalog-api (built when missing), a scratch database (dropped at exit) and
# a free port. It FAILS when the generator warns about the document (a warning means a piece of
# the client is skipped or guessed; the two expected ones are explained where the log is read),
# when `catalog-api openapi` and /openapi.json differ, when a call answers another status than
# the walk-through expects, or when an answer does not read into the generated models or
# carries fields the document does not declare.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

BIN="$(pwd)/target/debug/catalog-api"
# The generator version the walk-through was written against (installed only when missing).
GENERATOR_VERSION="${OPENAPI_PYTHON_CLIENT_VERSION:-0.29.1}"
READY_WAIT_SECONDS="${READY_WAIT_SECONDS:-60}"
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/catalog-client.XXXXXX")
# catalog_test_*: like the tests' databases, so drop_stale_test_databases (lib.sh) removes one
# that an interrupted run left behind.
DB_NAME="catalog_test_client_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
API_PID=""

# Stops the API started here, drops the scratch database, removes the generated client; on a
# failure, shows the end of the API's log first.
cleanup() {
  local status=$?
  if [[ -n ${API_PID} ]] && kill -0 "${API_PID}" 2>/dev/null; then
    kill -TERM "${API_PID}" 2>/dev/null || true
    wait "${API_PID}" 2>/dev/null || true
  fi
  psql_admin -d postgres -c "DROP DATABASE IF EXISTS \"${DB_NAME}\" WITH (FORCE)" >/dev/null 2>&1 || true
  if [[ ${status} -ne 0 && -s ${WORK_DIR}/catalog-api.log ]]; then
    printf '\n--- last lines of the catalog-api log ---\n' >&2
    tail -n 30 "${WORK_DIR}/catalog-api.log" >&2 || true
  fi
  rm -rf "${WORK_DIR}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Until /health/ready answers, while the process started here still runs.
wait_ready() {
  local deadline=$((SECONDS + READY_WAIT_SECONDS))
  until curl -fsS "${API}/health/ready" >/dev/null 2>&1; do
    kill -0 "${API_PID}" 2>/dev/null || die "catalog-api exited during start-up"
    ((SECONDS < deadline)) || die "catalog-api not ready within ${READY_WAIT_SECONDS} s"
    sleep 0.5
  done
  # The answer must have come from the process started here, not from an older one.
  kill -0 "${API_PID}" 2>/dev/null || die "catalog-api exited during start-up"
}

section "Services, catalog-api binary, generator"
ensure_services
command -v python3 >/dev/null 2>&1 || apt_install python3
# The generated code uses typing.Self and enum.StrEnum.
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "python3 3.11 or newer is needed (found $(python3 --version 2>&1))"
if [[ ! -x ${BIN} ]]; then
  log "target/debug/catalog-api is missing; building it"
  cargo build -p catalog-api --bin catalog-api
elif [[ -n $(find catalog-api/src catalog-core/src -name '*.rs' -newer "${BIN}" -print -quit) ]]; then
  log "note: target/debug/catalog-api is older than the sources (cargo build -p catalog-api --bin catalog-api)"
fi
if ! command -v openapi-python-client >/dev/null 2>&1; then
  pip_install "openapi-python-client==${GENERATOR_VERSION}"
fi
log "$(openapi-python-client --version)"
# What the generated client imports besides the standard library.
python3 -c 'import attrs, httpx' 2>/dev/null || pip_install attrs httpx

# The configuration of this run (every variable: README.md, "Configuration").
API_PORT=$(free_port)
API="http://127.0.0.1:${API_PORT}"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export AUTH_MODE=dev AUTH_DEV_SECRET=client-dev-secret-0123456789abcdef
export API_HOST=127.0.0.1 API_PORT
export LOG_FORMAT=text LOG_LEVEL="${LOG_LEVEL:-info}"
# Generous budgets, as up.sh sets them: the walk-through is one user writing in a burst.
export API_RATE_LIMIT_PER_MINUTE=100000 API_RATE_LIMIT_READ_PER_MINUTE=100000
export API_RATE_LIMIT_WRITE_PER_MINUTE=100000 API_RATE_LIMIT_PRICE_PER_MINUTE=100000
export API_RATE_LIMIT_UPLOAD_PER_MINUTE=100000
export REDIS_KEY_PREFIX="${DB_NAME}:"

section "Database ${DB_NAME}, catalog-api on ${API}"
psql_admin -d postgres -c "CREATE DATABASE \"${DB_NAME}\"" >/dev/null
"${BIN}" migrate >"${WORK_DIR}/migrate.log" 2>&1 || {
  cat "${WORK_DIR}/migrate.log" >&2
  die "catalog-api migrate failed"
}
ORG=$(python3 -c 'import uuid; print(uuid.uuid4())')
TOKEN=$("${BIN}" dev-token --organization "${ORG}" --ttl-minutes 60 | tail -n 1)
setsid "${BIN}" serve </dev/null >"${WORK_DIR}/catalog-api.log" 2>&1 &
API_PID=$!
wait_ready
log "ready (pid ${API_PID}, organization ${ORG})"

section "Generate the client from ${API}/openapi.json"
curl -fsS "${API}/openapi.json" -o "${WORK_DIR}/openapi.json"
"${BIN}" openapi >"${WORK_DIR}/openapi-subcommand.json"
if ! python3 -c 'import json, sys; a, b = (json.load(open(p)) for p in sys.argv[1:]); sys.exit(a != b)' \
  "${WORK_DIR}/openapi.json" "${WORK_DIR}/openapi-subcommand.json"; then
  die "/openapi.json and 'catalog-api openapi' print different documents"
fi
printf 'package_name_override: catalog_client\n' >"${WORK_DIR}/generator.yml"
if ! openapi-python-client generate --path "${WORK_DIR}/openapi.json" --meta none \
  --config "${WORK_DIR}/generator.yml" --output-path "${WORK_DIR}/client/catalog_client" \
  >"${WORK_DIR}/generator.log" 2>&1; then
  cat "${WORK_DIR}/generator.log" >&2
  die "openapi-python-client could not generate a client from the document"
fi
# A warning means the generator skipped or guessed part of the document: it must stay clean,
# with one exception. POST /api/v1/imports lists, besides the application/octet-stream and
# multipart/form-data bodies generated clients send, the raw text/csv and application/x-ndjson
# bodies curl users send (catalog-api/tests/imports.rs requires them in the document). The
# generator cannot send those two types and says so, once each, while it still generates the
# operation; those two warnings are expected, and any other fails.
if ! python3 - "${WORK_DIR}/generator.log" <<'EOF'; then
import sys

EXPECTED_HEADER = "WARNING parsing POST /api/v1/imports within imports."
EXPECTED_DETAILS = {"Unsupported content type text/csv", "Unsupported content type application/x-ndjson"}
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
rest, seen, i = [], [], 0
while i < len(lines):
    line = lines[i]
    detail = next((l for l in lines[i + 1 : i + 4] if l.strip()), "")
    if line == EXPECTED_HEADER and detail in EXPECTED_DETAILS and detail not in seen:
        seen.append(detail)
        i += 1
        # The block ends with the request body the generator prints, a JSON object.
        while i < len(lines) and lines[i] != "}":
            i += 1
    elif not (line.startswith("Generating ") or line.startswith("Warning(s) encountered while generating")
              or line.startswith("If you believe this was a mistake")):
        rest.append(line)
    i += 1
sys.exit(1 if any(l.strip() for l in rest) else 0)
EOF
  cat "${WORK_DIR}/generator.log" >&2
  die "openapi-python-client warned about the OpenAPI document (above)"
fi
operations=$(find "${WORK_DIR}/client/catalog_client/api" -name '*.py' ! -name '__init__.py' | wc -l)
models=$(find "${WORK_DIR}/client/catalog_client/models" -name '*.py' ! -name '__init__.py' | wc -l)
log "${operations} operations, ${models} models, no unexpected generator warning"

section "The README's walk-through through the generated client"
CATALOG_API_TOKEN="${TOKEN}" PYTHONPATH="${WORK_DIR}/client" PYTHONDONTWRITEBYTECODE=1 \
  python3 deploy/local/client_walkthrough.py --base-url "${API}"

#!/usr/bin/env bash
# The AsyncAPI 3.0 document of the events (`catalog-api asyncapi`, served as /asyncapi.json),
# validated by the AsyncAPI project's own parser (@asyncapi/parser from npm). About 15 s once
# catalog-api is built. FAILS on any error the parser reports.
#
#   bash deploy/local/asyncapi.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

PARSER_VERSION=3.6.6
DIR="$(pwd)/target/asyncapi"
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
mkdir -p "${DIR}"
if [[ "$(node -p "try { require('${DIR}/node_modules/@asyncapi/parser/package.json').version } catch { '' }")" != "${PARSER_VERSION}" ]]; then
  log "installing @asyncapi/parser ${PARSER_VERSION} (npm)"
  npm install --silent --no-audit --no-fund --prefix "${DIR}" "@asyncapi/parser@${PARSER_VERSION}" >/dev/null
fi
[[ -x target/debug/catalog-api ]] || cargo build --workspace --all-targets
target/debug/catalog-api asyncapi >"${DIR}/asyncapi.json"
# ES modules resolve packages from the importing file's directory: the script runs from there.
cp deploy/local/asyncapi-validate.mjs "${DIR}/validate.mjs"
node "${DIR}/validate.mjs" "${DIR}/asyncapi.json"

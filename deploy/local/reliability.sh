#!/usr/bin/env bash
# Every reliability and security proof of RELIABILITY.md, in one command (about 20 minutes
# once built):
#
#   bash deploy/local/reliability.sh [FUZZ_SECONDS_PER_TARGET]     (default 120)
#
# 1. the tenant isolation sweep (every REST route and gRPC method with another organization's
#    ids) and the malformed-request tests;
# 2. the cargo-fuzz targets, FUZZ_SECONDS each (deploy/local/fuzz.sh);
# 3. schemathesis against the OpenAPI document (deploy/local/schemathesis.sh);
# 4. the fault-injection suite (deploy/local/faults.sh) — last, because it stops and starts the
#    machine's PostgreSQL, Redis and RabbitMQ: run nothing else that uses them meanwhile.
# .ci/run runs the fast parts (the sweep with the whole test suite, and 20 s of each fuzzer).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

FUZZ_SECONDS=${1:-120}
export TEST_DATABASE_ADMIN_URL="${TEST_DATABASE_ADMIN_URL:-${PG_ADMIN_URL}}"

section "Tenant isolation sweep and malformed requests"
ensure_services
cargo nextest run -p catalog-api -p catalog-grpc --no-fail-fast -E \
  'test(/tenancy|foreign|another_organization|malformed|nul_characters|tokens_never/)'

section "Fuzz targets, ${FUZZ_SECONDS} s each"
bash deploy/local/fuzz.sh "${FUZZ_SECONDS}"

section "schemathesis against the OpenAPI document"
bash deploy/local/schemathesis.sh

section "Fault injection under load"
bash deploy/local/faults.sh

section "Every reliability proof passed"

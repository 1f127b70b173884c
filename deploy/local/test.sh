#!/usr/bin/env bash
# Every check CI runs (.ci/run calls this): local services, formatting, lints, the test suite.
# Safe to run on a fresh Debian machine as root (installs what is missing) and on a developer
# machine whose services already run (changes nothing there but for the read-replica test's
# streaming replica on 127.0.0.1:5433, started with deploy/local/replica.sh and destroyed at the
# end, slot included; replica.sh lets replication connections from loopback in once).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

export TEST_DATABASE_ADMIN_URL="${TEST_DATABASE_ADMIN_URL:-${PG_ADMIN_URL}}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
# A clean clone gains nothing from incremental compilation, which would add gigabytes to target/.
if [[ -n ${CI:-} ]]; then
  export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi

section "Disk space: about 6 GiB of debug build, 3 of fuzz build, the rest for databases and logs"
ensure_free_disk "${TEST_DISK_GIB:-12}"

section "Services (PostgreSQL, Redis, RabbitMQ; moto as the S3 server uploads are tested against)"
ensure_services
ensure_s3

section "A streaming replica of PostgreSQL for the read-replica test (deploy/local/replica.sh)"
# Nothing is left behind: a stopped replica's slot would make the primary keep its WAL.
trap 'bash deploy/local/replica.sh destroy >/dev/null 2>&1 || true' EXIT
bash deploy/local/replica.sh start
export TEST_REPLICA_URL="postgres://postgres@127.0.0.1:5433"

section "Published design pages (docs/design is the shared pages' copy)"
if [[ -d ../shared/design ]]; then
  diff -r ../shared/design docs/design >/dev/null || die "docs/design differs from ../shared/design: copy the published pages again"
  log "docs/design matches ../shared/design"
else
  log "no ../shared/design here: the committed copy is the contract"
fi

section "Formatting (cargo fmt --check)"
cargo fmt --all -- --check

section "Lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

section "Tests (real PostgreSQL, Redis and RabbitMQ; one database per test)"
drop_stale_test_databases
if ! cargo nextest --version >/dev/null 2>&1; then
  log "cargo-nextest is missing; installing it"
  cargo install cargo-nextest --locked || log "could not install cargo-nextest; falling back to cargo test"
fi
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

section "A generated client (openapi-python-client) runs the README's REST walk-through"
bash deploy/local/client.sh

section "The AsyncAPI document of the events, checked by @asyncapi/parser"
bash deploy/local/asyncapi.sh

section "Dependency policy (cargo deny: licenses, bans, sources; advisories need the network)"
if ! cargo deny --version >/dev/null 2>&1; then
  log "cargo-deny is missing; installing it"
  cargo install cargo-deny --locked
fi
cargo deny check licenses bans sources

section "Fuzz targets, 20 s each (deploy/local/fuzz.sh)"
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  bash deploy/local/fuzz.sh 20
else
  # This machine kind ships a nightly toolchain; one that does not cannot fetch it.
  log "SKIPPED: cargo fuzz needs a nightly toolchain and this machine has none"
fi

section "Kubernetes manifests (render, schema, policy, lint, alert rules, drift against the code)"
bash deploy/validate.sh

section "Every metric the alert rules and dashboards name is served by a running process"
bash deploy/local/metrics.sh

section "All checks passed"

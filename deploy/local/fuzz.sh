#!/usr/bin/env bash
# Runs each cargo-fuzz target (fuzz/fuzz_targets) for a bounded time: cursor decoding,
# consumed-event parsing, REST request bodies. A crash fails the run and leaves its input in
# fuzz/artifacts/<target>/.
#
#   deploy/local/fuzz.sh [SECONDS_PER_TARGET]     (default 20; CI runs the default)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

SECONDS_PER_TARGET=${1:-20}
# One target directory for the whole project; fuzz builds (nightly, sanitizer) live apart in it.
TARGET_DIR="$(pwd)/target/fuzz"

if ! rustup toolchain list | grep -q '^nightly'; then
  die "cargo fuzz needs a nightly toolchain (rustup toolchain list shows none)"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

for target in cursor event body; do
  section "Fuzz ${target} for ${SECONDS_PER_TARGET} s"
  # A scratch copy of the seed corpus: what the fuzzer adds stays out of the repository.
  corpus="${TARGET_DIR}/corpus/${target}"
  mkdir -p "${corpus}"
  cp -n fuzz/corpus/"${target}"/* "${corpus}/" 2>/dev/null || true
  # No sanitizer: the project forbids `unsafe`, so AddressSanitizer would find nothing the
  # coverage-guided search does not, at twice the build and run time.
  (cd fuzz && cargo +nightly fuzz run --sanitizer none --target-dir "${TARGET_DIR}" "${target}" "${corpus}" -- \
    -max_total_time="${SECONDS_PER_TARGET}" -rss_limit_mb=2048 -print_final_stats=1)
done
section "Fuzzing found nothing"

#!/usr/bin/env bash
# Runs the catalog locally: ensures PostgreSQL, Redis and RabbitMQ, creates the `catalog`
# database, builds the three binaries (release), migrates, loads the demo catalog, starts
# catalog-grpc, catalog-api and catalog-worker in the background and waits until they are ready.
#
# Then it stays in the foreground; Ctrl-C stops the three processes (not the databases).
# With --no-wait (or DETACH=1) it returns once they are ready and leaves them running; the next
# run of this script stops them first (pid files in .local/pids, logs in .local/logs).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy/local/up.sh [--no-wait]

  --no-wait, --detach   return once the services are ready, leave them running (same as DETACH=1)
  -h, --help            show this help
EOF
}

DETACH="${DETACH:-0}"
for arg in "$@"; do
  case "${arg}" in
    --no-wait | --detach) DETACH=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

ROOT=$(pwd)
RUN_DIR="${ROOT}/.local"
BIN="${ROOT}/target/release"
PROCESSES=(catalog-grpc catalog-api catalog-worker)
# A fixed user id for the development token.
DEV_USER_ID="00000000-0000-4000-8000-000000000001"
READY_WAIT_SECONDS="${READY_WAIT_SECONDS:-60}"

# The configuration of the local run (every variable: README.md, "Configuration").
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/catalog"
export LOG_FORMAT=text
export AUTH_MODE=dev
export AUTH_DEV_SECRET=local-dev-secret-change-me
export GRPC_REFLECTION=true
# Generous budgets: the production ones (20 writes, 10 uploads a minute) stop a developer who
# loads a catalog or runs scripts as the one dev user.
export API_RATE_LIMIT_PER_MINUTE=100000 API_RATE_LIMIT_READ_PER_MINUTE=100000
export API_RATE_LIMIT_WRITE_PER_MINUTE=100000 API_RATE_LIMIT_PRICE_PER_MINUTE=100000
export API_RATE_LIMIT_UPLOAD_PER_MINUTE=100000

# Stops the processes a previous run started, found through their pid files. A pid is only
# signalled while it still runs one of our binaries (pids get reused).
stop_started() {
  local name pidfile pid
  for name in "${PROCESSES[@]}"; do
    pidfile="${RUN_DIR}/pids/${name}.pid"
    [[ -f ${pidfile} ]] || continue
    pid=$(<"${pidfile}")
    if [[ ${pid} =~ ^[0-9]+$ ]] && is_ours "${pid}" "${name}"; then
      log "stopping ${name} (pid ${pid})"
      kill -TERM "${pid}" 2>/dev/null || true
      local waited=0
      while is_ours "${pid}" "${name}" && ((waited < 100)); do
        sleep 0.1
        waited=$((waited + 1))
      done
      if is_ours "${pid}" "${name}"; then
        log "${name} did not stop within 10 s; killing it"
        kill -KILL "${pid}" 2>/dev/null || true
      fi
    fi
    rm -f "${pidfile}"
  done
}

is_ours() {
  local pid=$1 name=$2
  [[ -r /proc/${pid}/cmdline ]] && tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q "${BIN}/${name} serve"
}

# Prints the end of a process's log and fails.
fail_with_log() {
  local name=$1 message=$2
  printf '\n--- last lines of .local/logs/%s.log ---\n' "${name}" >&2
  tail -n 40 "${RUN_DIR}/logs/${name}.log" >&2 || true
  die "${message}"
}

# wait_ready NAME COMMAND...: until COMMAND succeeds, the process still runs, and time remains.
wait_ready() {
  local name=$1
  shift
  local pid deadline=$((SECONDS + READY_WAIT_SECONDS))
  pid=$(<"${RUN_DIR}/pids/${name}.pid")
  until "$@" >/dev/null 2>&1; do
    kill -0 "${pid}" 2>/dev/null || fail_with_log "${name}" "${name} exited during start-up"
    ((SECONDS < deadline)) || fail_with_log "${name}" "${name} not ready within ${READY_WAIT_SECONDS} s"
    sleep 0.5
  done
  # The answer must have come from the process started here, not from an older one.
  kill -0 "${pid}" 2>/dev/null || fail_with_log "${name}" "${name} exited during start-up"
  log "${name} is ready"
}

section "Services (PostgreSQL, Redis, RabbitMQ)"
ensure_services
ensure_database catalog

section "Build (release)"
cargo build --release -p catalog-grpc -p catalog-api -p catalog-worker

section "Stop what a previous run started"
mkdir -p "${RUN_DIR}/logs" "${RUN_DIR}/pids"
stop_started

# Someone else on these ports would answer the readiness checks in our processes' place.
for port in 8002 50052 9101 9102; do
  if timeout 1 bash -c "</dev/tcp/127.0.0.1/${port}" 2>/dev/null; then
    die "port ${port} is already in use by another process ($(ss -ltnpH "sport = :${port}" 2>/dev/null | grep -o 'users:.*' || echo 'unknown')); stop it first"
  fi
done

section "Migrate and seed the demo catalog"
"${BIN}/catalog-api" migrate
seed_report=$("${BIN}/catalog-api" seed)
printf '%s\n' "${seed_report}"
mapfile -t DEMO_ORGS < <(printf '%s\n' "${seed_report}" | sed -n 's/^ *organization \([0-9a-f-]\{36\}\) .*/\1/p')
((${#DEMO_ORGS[@]} > 0)) || die "the seed report names no organization"

section "Start catalog-grpc, catalog-api, catalog-worker"
# Until the services are up and, in the foreground, for as long as the script runs: any exit
# (a failure, Ctrl-C, a process that stopped by itself) stops the processes started here.
trap 'section "Stopping"; stop_started' EXIT
trap 'exit 0' INT TERM
for name in "${PROCESSES[@]}"; do
  # setsid: in a session of their own the processes outlive a closed terminal (--no-wait) and
  # do not see the terminal's Ctrl-C; the traps above stop them instead.
  setsid "${BIN}/${name}" serve </dev/null >>"${RUN_DIR}/logs/${name}.log" 2>&1 &
  echo $! >"${RUN_DIR}/pids/${name}.pid"
  log "${name} started (pid $!, log .local/logs/${name}.log)"
done

wait_ready catalog-api curl -fsS http://127.0.0.1:8002/health/ready
wait_ready catalog-grpc "${BIN}/catalog-grpc" health-check --addr http://127.0.0.1:50052
wait_ready catalog-worker curl -fsS http://127.0.0.1:9102/health

ORG=${DEMO_ORGS[0]}
TOKEN=$("${BIN}/catalog-api" dev-token --organization "${ORG}" --user "${DEV_USER_ID}" | tail -n 1)
VARIANT=$(psql_admin -d catalog -tAc \
  "SELECT id FROM product_variants WHERE organization_id = '${ORG}' AND deleted_at IS NULL ORDER BY sku LIMIT 1")

section "Catalog running"
cat <<EOF
    REST API      http://127.0.0.1:8002   (log .local/logs/catalog-api.log)
    gRPC          127.0.0.1:50052, metrics http://127.0.0.1:9101/metrics
    worker        health/metrics http://127.0.0.1:9102

    Demo organizations:
$(printf '%s\n' "${seed_report}" | sed -n 's/^ *organization /      /p')

    Try:
      curl -s http://127.0.0.1:8002/health/ready
      target/release/catalog-grpc health-check --addr http://127.0.0.1:50052
      # if you have grpcurl (reflection is on):
      grpcurl -plaintext -d '{"organization_id":"${ORG}","variant_id":"${VARIANT}"}' 127.0.0.1:50052 catalog.CatalogService/ValidateVariant

    Development token (organization ${ORG}, user ${DEV_USER_ID}):
      TOKEN=${TOKEN}
      curl -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8002/api/v1/products
EOF

if [[ ${DETACH} == 1 ]]; then
  trap - EXIT
  log "left running; deploy/local/up.sh again restarts them, or: kill \$(cat .local/pids/*.pid)"
  exit 0
fi

log "Ctrl-C stops the three processes (PostgreSQL, Redis and RabbitMQ keep running)"
# Returns when a process exits on its own (or at Ctrl-C, through the trap).
wait -n || true
for name in "${PROCESSES[@]}"; do
  kill -0 "$(<"${RUN_DIR}/pids/${name}.pid")" 2>/dev/null ||
    printf 'error: %s exited (see .local/logs/%s.log)\n' "${name}" "${name}" >&2
done
exit 1

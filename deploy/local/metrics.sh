#!/usr/bin/env bash
# Every metric the alert rules and the Grafana dashboards name (deploy/k8s/components/monitoring)
# is served by a running process: starts catalog-grpc, catalog-api and catalog-worker (debug
# builds) against a scratch database, their own Redis key prefix and RabbitMQ names, sends each
# a little traffic (a REST read and write, a gRPC call, a stock row for the worker's lag gauge),
# then reads their /metrics and fails naming any metric the rules or dashboards use that none
# serves. About 20 s once built.
#
#   bash deploy/local/metrics.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

BIN="$(pwd)/target/debug"
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/catalog-metrics.XXXXXX")
SUFFIX=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
# catalog_test_*: drop_stale_test_databases (lib.sh) removes one an interrupted run left behind.
DB_NAME="catalog_test_metrics_${SUFFIX}"
declare -A PIDS=()

cleanup() {
  local status=$? name
  for name in "${!PIDS[@]}"; do
    kill -TERM "${PIDS[${name}]}" 2>/dev/null || true
  done
  for name in "${!PIDS[@]}"; do
    wait "${PIDS[${name}]}" 2>/dev/null || true
    if [[ ${status} -ne 0 && -s ${WORK_DIR}/${name}.log ]]; then
      printf '\n--- last lines of the %s log ---\n' "${name}" >&2
      tail -n 20 "${WORK_DIR}/${name}.log" >&2 || true
    fi
  done
  psql_admin -d postgres -c "DROP DATABASE IF EXISTS \"${DB_NAME}\" WITH (FORCE)" >/dev/null 2>&1 || true
  # The worker's queues are durable: delete them (the exchanges, unbound, cost nothing).
  if command -v rabbitmqctl >/dev/null; then
    local queue
    for queue in $(rabbitmqctl -q list_queues name 2>/dev/null | grep "^metrics_${SUFFIX}_" || true); do
      rabbitmqctl -q delete_queue "${queue}" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "${WORK_DIR}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

for bin in catalog-grpc catalog-api catalog-worker; do
  [[ -x ${BIN}/${bin} ]] || cargo build -p "${bin}"
done
ensure_database "${DB_NAME}"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_NAME}"
export AUTH_MODE=dev AUTH_DEV_SECRET=metrics-dev-secret-0123456789 LOG_LEVEL=warn
# Its own exchanges too: a queue left bound to the shared catalog_events would collect every
# event published there from then on.
export REDIS_KEY_PREFIX="metrics-${SUFFIX}:" RABBITMQ_QUEUE_PREFIX="metrics_${SUFFIX}_"
export RABBITMQ_EXCHANGE="metrics_${SUFFIX}_catalog_events" RABBITMQ_EXCHANGE_AUTH="metrics_${SUFFIX}_auth_events"
GRPC_PORT=$(free_port) GRPC_METRICS_PORT=$(free_port) API_PORT=$(free_port) WORKER_PORT=$(free_port)
export GRPC_PORT GRPC_METRICS_PORT API_PORT WORKER_PORT
"${BIN}/catalog-api" migrate >/dev/null
ORG=$("${BIN}/catalog-api" seed | sed -n 's/^ *organization \([0-9a-f-]\{36\}\) .*/\1/p' | head -n 1)
[[ -n ${ORG} ]] || die "the seed report names no organization"

for name in catalog-grpc catalog-api catalog-worker; do
  "${BIN}/${name}" serve </dev/null >"${WORK_DIR}/${name}.log" 2>&1 &
  PIDS[${name}]=$!
done
declare -A METRICS=(
  [catalog-grpc]="http://127.0.0.1:${GRPC_METRICS_PORT}"
  [catalog-api]="http://127.0.0.1:${API_PORT}"
  [catalog-worker]="http://127.0.0.1:${WORKER_PORT}"
)
for name in "${!METRICS[@]}"; do
  wait_for "${name}" 60 curl -fsS "${METRICS[${name}]}/health/ready"
done

# Traffic: a REST write and cached reads, a gRPC call, a stock row for the worker's lag gauge.
API="${METRICS[catalog-api]}"
TOKEN=$("${BIN}/catalog-api" dev-token --organization "${ORG}" --ttl-minutes 5 | tail -n 1)
product=$(curl -fsS -X POST "${API}/api/v1/products" -H "Authorization: Bearer ${TOKEN}" \
  -H 'Content-Type: application/json' -d '{"title": "Metrics probe", "sku": "METRICS-1", "sale_price": "1"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["id"])')
for _ in 1 2 3; do
  curl -fsS "${API}/api/v1/products/${product}" -H "Authorization: Bearer ${TOKEN}" >/dev/null
done
"${BIN}/catalog-grpc" health-check --addr "http://127.0.0.1:${GRPC_PORT}" >/dev/null
psql_admin -d "${DB_NAME}" -c "INSERT INTO variant_stock (organization_id, variant_id, warehouse_id, total, available,
  reserved, damaged, in_transit, observed_at, applied_at)
  SELECT organization_id, id, gen_random_uuid(), 1, 1, 0, 0, 0, now(), now() FROM product_variants LIMIT 1" >/dev/null
sleep 6 # the worker reads the stock model's lag every 5 s

for name in "${!METRICS[@]}"; do
  curl -fsS "${METRICS[${name}]}/metrics" >"${WORK_DIR}/${name}.metrics"
done
# deploy/validate.sh's virtualenv has PyYAML; a bare python3 may not.
PY="${DEPLOY_VENV:-$(pwd)/.local/deploy-venv}/bin/python"
[[ -x ${PY} ]] && "${PY}" -c 'import yaml' 2>/dev/null || PY=python3
"${PY}" -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check pyyaml
"${PY}" - "${WORK_DIR}" <<'PY'
import json, pathlib, re, sys, yaml

work = pathlib.Path(sys.argv[1])
monitoring = pathlib.Path("deploy/k8s/components/monitoring")
served = {}
for scrape in work.glob("*.metrics"):
    for line in scrape.read_text().splitlines():
        if line.startswith("# TYPE "):
            served.setdefault(line.split()[2], set()).add(scrape.stem)

exprs = []
for doc in yaml.safe_load_all((monitoring / "prometheusrules.yaml").read_text()):
    for group in doc["spec"]["groups"]:
        exprs += [("prometheusrules.yaml", rule["expr"]) for rule in group["rules"]]
for board in sorted((monitoring / "dashboards").glob("*.json")):
    dashboard = json.loads(board.read_text())
    exprs += [(board.name, t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
    exprs += [(board.name, v["query"]) for v in dashboard["templating"]["list"] if v["type"] == "query"]

named = {}
for source, expr in exprs:
    for name in re.findall(r"\bcatalog_[a-z0-9_]+", expr):
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if family not in served and name in served:
            family = name
        named.setdefault(family, set()).add(source)
missing = {name: sources for name, sources in named.items() if name not in served}
for name in sorted(named):
    where = ", ".join(sorted(served.get(name, []))) or "NOT SERVED"
    print(f"  {name:55} {where}")
if missing:
    sys.exit("metrics named by the rules or dashboards but served by no process: "
             + "; ".join(f"{n} ({', '.join(sorted(s))})" for n, s in sorted(missing.items())))
print(f"  {len(named)} metrics named by the rules and dashboards, all served")
PY

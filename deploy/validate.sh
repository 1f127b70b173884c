#!/usr/bin/env bash
# CI check for the deployment files. Run from the repository root:  bash deploy/validate.sh
#   1. renders every overlay under deploy/k8s/overlays with `kubectl kustomize`;
#   2. validates the rendered objects against the Kubernetes OpenAPI schemas (kubernetes-validate,
#      strict, schemas shipped in the package: works offline), for every version in K8S_VERSIONS;
#      CRD kinds it cannot know (KEDA, Prometheus Operator) are skipped by name;
#   3. runs checkov on the rendered manifests (skips listed, each justified, in deploy/.checkov.yaml);
#   4. lints the YAML sources with yamllint (deploy/.yamllint);
#   5. cross-checks ports, probes, variables and subcommands against the Rust code
#      (deploy/check_manifests.py, with its self-test of deliberate drifts);
#   6. when binaries are built under target/, runs each one's `check-config` with every overlay's
#      ConfigMap, so a value the code would reject at start fails here;
#   7. checks the alert rules with promtool (`check rules`, and `test rules` with their unit tests;
#      promtool comes from Debian's prometheus package, unpacked under .local/, not installed)
#      and that the Grafana dashboards are what dashboards.py writes. That every metric they name
#      is served is checked against running processes by deploy/local/metrics.sh.
# Python tools live in a virtualenv under .local/ (git-ignored), installed on first use
# (needs PyPI once; later runs are offline). Idempotent; writes nothing outside .local/ and $TMPDIR.
set -euo pipefail

start=${SECONDS}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"

VENV=${DEPLOY_VENV:-${ROOT}/.local/deploy-venv}
K8S_VERSIONS=${K8S_VERSIONS:-"1.30.0 1.32.0"}
# Pinned: a new checkov release adds checks; bump deliberately.
PY_PACKAGES=(kubernetes-validate==1.37.0 checkov==3.3.30 yamllint==1.38.0)
CRD_KINDS="ScaledObject ScaledJob TriggerAuthentication ServiceMonitor PodMonitor PrometheusRule"

step() { printf '\n== %s (%ss)\n' "$*" "$((SECONDS - start))"; }
fail() { printf 'validate.sh: %s\n' "$*" >&2; exit 1; }

command -v kubectl >/dev/null || fail "kubectl (with kustomize) is required"
command -v python3 >/dev/null || fail "python3 is required"

step "python tools"
if [[ ! -x "${VENV}/bin/python" ]]; then
  python3 -m venv "${VENV}"
fi
PY="${VENV}/bin/python"
STAMP="${VENV}/.catalog-deploy-packages"
if [[ "$(cat "${STAMP}" 2>/dev/null)" != "${PY_PACKAGES[*]}" ]] \
    || ! "${PY}" -c 'import kubernetes_validate, checkov, yamllint' 2>/dev/null; then
  "${PY}" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
  echo "${PY_PACKAGES[*]}" > "${STAMP}"
fi
"${PY}" -m pip list --disable-pip-version-check 2>/dev/null \
  | awk 'tolower($1) ~ /^(kubernetes-validate|checkov|yamllint)$/ {printf "  %s %s\n", $1, $2}'

OUT=$(mktemp -d "${TMPDIR:-/tmp}/catalog-manifests.XXXXXX")
trap 'rm -rf "${OUT}"' EXIT

step "render overlays"
rendered=()
for overlay in deploy/k8s/overlays/*/; do
  name=$(basename "${overlay}")
  kubectl kustomize "${overlay}" > "${OUT}/${name}.yaml" || fail "kubectl kustomize ${overlay} failed"
  printf '  %-16s %3d objects\n' "${name}" "$(grep -c '^kind:' "${OUT}/${name}.yaml")"
  rendered+=("${OUT}/${name}.yaml")
done
[[ ${#rendered[@]} -gt 0 ]] || fail "no overlay found under deploy/k8s/overlays"

step "schema validation (kubernetes-validate, strict, Kubernetes ${K8S_VERSIONS})"
CRD_KINDS="${CRD_KINDS}" K8S_VERSIONS="${K8S_VERSIONS}" "${PY}" - "${rendered[@]}" <<'PY'
import os, sys, yaml, kubernetes_validate as kv

crd_kinds = set(os.environ["CRD_KINDS"].split())
versions = os.environ["K8S_VERSIONS"].split()
failures = 0
for path in sys.argv[1:]:
    checked, skipped = 0, set()
    for doc in yaml.safe_load_all(open(path, encoding="utf-8")):
        if not doc:
            continue
        if doc.get("kind") in crd_kinds:
            skipped.add(f"{doc['kind']}/{doc['metadata']['name']}")
            continue
        for version in versions:
            try:
                kv.validate(doc, version, strict=True)
            except (kv.ValidationError, kv.SchemaNotFoundError, kv.InvalidSchemaError) as e:
                failures += 1
                print(f"  {os.path.basename(path)}: {doc.get('kind')}/{doc['metadata'].get('name')} "
                      f"(k8s {version}): {str(e).splitlines()[0]}", file=sys.stderr)
        checked += 1
    line = f"  {os.path.basename(path):<22} {checked} objects valid"
    if skipped:
        line += f"; CRD kinds not validated (no schema): {', '.join(sorted(skipped))}"
    print(line)
sys.exit(1 if failures else 0)
PY

step "checkov"
# Every skip-check entry in the config needs a justification comment right above it.
"${PY}" - deploy/.checkov.yaml <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
bad = [l.strip() for i, l in enumerate(lines)
       if re.match(r"\s*-\s*CKV", l) and not (i and lines[i - 1].lstrip().startswith("#"))]
if bad:
    sys.exit(f"deploy/.checkov.yaml: skipped check(s) without a justification comment: {', '.join(bad)}")
skips = [re.sub(r"\s*-\s*", "", l) for l in lines if re.match(r"\s*-\s*CKV", l)]
print(f"  skipped (justified in deploy/.checkov.yaml): {', '.join(skips) or 'none'}")
PY
"${VENV}/bin/checkov" --config-file deploy/.checkov.yaml -d "${OUT}" > "${OUT}/checkov.txt" 2>&1 || {
  cat "${OUT}/checkov.txt" >&2
  fail "checkov found problems (fix them, or skip with a justification in deploy/.checkov.yaml)"
}
grep -E '^(Passed|kubernetes scan)' "${OUT}/checkov.txt" | sed 's/^/  /' || true

step "yamllint"
"${VENV}/bin/yamllint" --strict -c deploy/.yamllint deploy/k8s deploy/.yamllint deploy/.checkov.yaml
echo "  deploy/k8s clean"

step "drift check against the code (deploy/check_manifests.py)"
"${PY}" deploy/check_manifests.py --self-test "${rendered[@]}"

step "settings accepted by the binaries (check-config with each overlay's ConfigMap)"
# Optional: needs binaries built in this checkout (cargo build); skipped, and said so, otherwise.
"${PY}" - "${rendered[@]}" <<'PY'
import sys, yaml
for path in sys.argv[1:]:
    with open(path.removesuffix(".yaml") + ".env0", "w", encoding="utf-8") as out:
        for doc in yaml.safe_load_all(open(path, encoding="utf-8")):
            if doc and doc.get("kind") == "ConfigMap":
                for key, value in (doc.get("data") or {}).items():
                    out.write(f"{key}={value}\0")
PY
for bin in catalog-grpc catalog-api catalog-worker; do
  exe=""
  for candidate in "target/release/${bin}" "target/debug/${bin}"; do   # the newest build wins
    if [[ -x "${candidate}" && ( -z "${exe}" || "${candidate}" -nt "${exe}" ) ]]; then
      exe=${candidate}
    fi
  done
  if [[ -z "${exe}" ]]; then
    echo "  ${bin}: no binary under target/ - skipped (cargo build to enable)"
    continue
  fi
  for file in "${rendered[@]}"; do
    mapfile -d '' settings < "${file%.yaml}.env0"
    # Placeholder URL: check-config parses and validates the settings, it connects to nothing.
    if ! env -i "${settings[@]}" DATABASE_URL=postgres://check@localhost/catalog "${exe}" check-config \
        > "${OUT}/check-config.txt" 2>&1; then
      cat "${OUT}/check-config.txt" >&2
      fail "${exe} check-config rejects the settings of $(basename "${file}")"
    fi
  done
  echo "  ${exe}: accepts the settings of ${#rendered[@]} overlay(s)"
done

step "alert rules (promtool) and dashboards (dashboards.py --check)"
PROMTOOL=$(command -v promtool || true)
if [[ -z ${PROMTOOL} ]]; then
  PROMTOOL="${ROOT}/.local/prometheus/usr/bin/promtool"
  if [[ ! -x ${PROMTOOL} ]]; then
    (
      cd "${OUT}"
      apt-get download prometheus >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download prometheus >/dev/null; }
      dpkg-deb -x prometheus_*.deb "${ROOT}/.local/prometheus"
    ) || fail "could not fetch promtool (Debian's prometheus package)"
  fi
fi
"${PROMTOOL}" --version 2>&1 | head -n 1 | sed 's/^/  /'
mkdir -p "${OUT}/rules"
for rendered_file in "${rendered[@]}"; do
  "${PY}" - "${rendered_file}" "${OUT}/rules/rules.yaml" <<'PY'
import sys, yaml
rules = [doc for doc in yaml.safe_load_all(open(sys.argv[1], encoding="utf-8")) if doc and doc.get("kind") == "PrometheusRule"]
if rules:
    groups = [group for doc in rules for group in doc["spec"]["groups"]]
    yaml.safe_dump({"groups": groups}, open(sys.argv[2], "w", encoding="utf-8"), sort_keys=False)
PY
done
[[ -s ${OUT}/rules/rules.yaml ]] || fail "no overlay renders the PrometheusRule (deploy/k8s/components/monitoring)"
"${PROMTOOL}" check rules "${OUT}/rules/rules.yaml" | sed 's/^/  /'
cp deploy/k8s/components/monitoring/prometheusrules_test.yaml "${OUT}/rules/"
"${PROMTOOL}" test rules "${OUT}/rules/prometheusrules_test.yaml" | sed 's/^/  /'
python3 deploy/k8s/components/monitoring/dashboards.py --check
echo "  dashboards match dashboards.py"

step "all checks passed"

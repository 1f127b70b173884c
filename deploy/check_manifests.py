#!/usr/bin/env python3
"""Cross-checks the rendered Kubernetes manifests against the code (drift check).

What must agree with the Rust sources:
  - environment variable names (container env, ConfigMap keys, Secret keys referenced) are in
    settings declared in catalog-core/src/config.rs (or their aliases), or in EXTRA_ENV below;
  - container ports, probe ports, Service target ports, NetworkPolicy ports and Prometheus
    ports are the ports the process listens on: the DEFAULTS of config.rs (grpc.port,
    grpc.metrics_port, api.port, worker.port) unless the manifests set the variable;
  - probe and scrape paths are routes served by catalog-core/src/ops.rs;
  - command/args name the image's binary and one of its clap subcommands (the binary's
    `enum Command`, flattened `SharedCommand` and `MigrateAction` of catalog-core/src/cli.rs);
  - terminationGracePeriodSeconds covers the preStop sleep plus the process's drain time
    (actix `shutdown_timeout`, tonic request `timeout`).
It also checks the manifests against each other (Service selectors and target ports,
ServiceMonitor ports, scale targets, PodDisruptionBudget selectors).

Usage:
  deploy/check_manifests.py                    render every overlay (kubectl kustomize) and check
  deploy/check_manifests.py FILE.yaml ...      check already rendered manifests
  deploy/check_manifests.py --self-test        also prove that deliberate drifts are caught
Exit status 0 when everything agrees, 1 on drift (each problem printed), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import copy
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
CONFIG_RS = ROOT / "catalog-core" / "src" / "config.rs"
OPS_RS = ROOT / "catalog-core" / "src" / "ops.rs"
CLI_RS = ROOT / "catalog-core" / "src" / "cli.rs"
MIGRATIONS = ROOT / "migrations"

# Variables read outside ENV_VARS (documented in config.rs: `CATALOG_CONFIG` names an optional
# TOML settings file). Nothing else: RUST_LOG in particular is not read (LOG_LEVEL is).
EXTRA_ENV = {"CATALOG_CONFIG"}

BINARIES = {
    "catalog-grpc": ROOT / "catalog-grpc" / "src" / "main.rs",
    "catalog-api": ROOT / "catalog-api" / "src" / "main.rs",
    "catalog-worker": ROOT / "catalog-worker" / "src" / "main.rs",
}

# What each process listens on when it `serve`s: settings key -> protocol.
LISTENERS = {
    "catalog-grpc": {"grpc.port": "grpc", "grpc.metrics_port": "http"},
    "catalog-api": {"api.port": "http"},
    "catalog-worker": {"worker.port": "http"},
}

# How long each process may take to drain after SIGTERM: (file, regex, what).
DRAIN = {
    "catalog-api": (ROOT / "catalog-api" / "src" / "main.rs", r"shutdown_timeout\((\d+)\)", "actix shutdown_timeout"),
    "catalog-grpc": (
        ROOT / "catalog-grpc" / "src" / "server.rs",
        r"\.timeout\(Duration::from_secs\((\d+)\)\)",
        "tonic request timeout",
    ),
}

CRD_KINDS = {"ScaledObject", "ScaledJob", "TriggerAuthentication", "ServiceMonitor", "PodMonitor"}


# --------------------------------------------------------------------------- facts from code


@dataclass
class Code:
    env_vars: dict[str, str]
    defaults: dict
    routes: set[str]
    subcommands: dict[str, set[str]]
    migrate_actions: set[str]
    drain_secs: dict[str, int]
    grpc_services: set[str]
    worker_source: str
    migrations_sql: str
    notes: list[str] = field(default_factory=list)

    def default(self, key: str):
        value = self.defaults
        for part in key.split("."):
            value = value[part]
        return value

    def var_for(self, key: str) -> str:
        return next(var for var, k in self.env_vars.items() if k == key)


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        sys.exit(f"check_manifests: cannot read {path.relative_to(ROOT)}: {e}")


def enum_body(source: str, name: str, path: Path) -> str:
    match = re.search(r"\benum\s+" + re.escape(name) + r"\s*\{", source)
    if not match:
        sys.exit(f"check_manifests: no `enum {name}` in {path.relative_to(ROOT)}")
    depth, start = 1, match.end()
    for i in range(start, len(source)):
        if source[i] == "{":
            depth += 1
        elif source[i] == "}":
            depth -= 1
            if depth == 0:
                return source[start:i]
    sys.exit(f"check_manifests: unbalanced `enum {name}` in {path.relative_to(ROOT)}")


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def enum_variants(body: str) -> list[tuple[str, list[str]]]:
    """Top-level variants of an enum body with the attributes written above each one."""
    variants, attrs, depth = [], [], 0
    # whole-line comments only: "//" also occurs inside strings (default_value = "http://...")
    body = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("//"))
    i = 0
    while i < len(body):
        c = body[i]
        if depth == 0 and body.startswith("#[", i):
            end, d = i + 2, 1
            while d and end < len(body):
                d += {"[": 1, "]": -1}.get(body[end], 0)
                end += 1
            attrs.append(body[i:end])
            i = end
            continue
        if c in "{(":
            depth += 1
        elif c in "})":
            depth -= 1
        elif depth == 0 and (c.isalpha() or c == "_"):
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", body[i:])
            assert m
            variants.append((m.group(0), attrs))
            attrs = []
            i += m.end()
            # skip to the comma that ends this variant
            d = 0
            while i < len(body) and not (body[i] == "," and d == 0):
                d += {"{": 1, "(": 1, "}": -1, ")": -1}.get(body[i], 0)
                i += 1
        i += 1
    return variants


def subcommand_names(source: str, enum: str, path: Path, shared: set[str]) -> set[str]:
    names = set()
    for variant, attrs in enum_variants(enum_body(source, enum, path)):
        joined = " ".join(attrs)
        if "flatten" in joined:
            names |= shared
            continue
        renamed = re.search(r'name\s*=\s*"([^"]+)"', joined)
        names.add(renamed.group(1) if renamed else kebab(variant))
    return names


def load_code() -> Code:
    config = read(CONFIG_RS)
    # Each setting is declared once, in a settings_section! of config.rs:
    #   field: Type = default, env NAME [in Unit];
    # alias("NAME", "OF") / alias_in(...) in OTHER_NAMES: another name for OF's setting. Ignored
    # names are accepted by the binaries but set nothing, so manifests must not carry them.
    keys: dict[str, str] = {}
    defaults: dict[str, dict] = {}
    for section, body in re.findall(r"pub struct \w+ in (\w+) \{(.*?)\n    \}\n\}", config, re.S):
        for field, default, name in re.findall(
            r"^\s+(\w+): [^=\n]+?(?: = (.+?))?, env ([A-Z0-9_]+)(?: in \w+)?;$", body, re.M
        ):
            keys[name] = f"{section}.{field}"
            if default:
                defaults.setdefault(section, {})[field] = tomllib.loads(f"v = {default}")["v"]
    others = re.search(r"const OTHER_NAMES[^=]*=\s*&\[(.*?)\];", config, re.S)
    if not others:
        sys.exit("check_manifests: OTHER_NAMES not found in catalog-core/src/config.rs")
    env_vars = dict(keys)
    for name, of in re.findall(r'\balias(?:_in)?\(\s*"([A-Z0-9_]+)"\s*,\s*"([A-Z0-9_]+)"', others.group(1)):
        if of not in keys:
            sys.exit(f"check_manifests: alias {name} of {of}, which no settings_section! declares")
        env_vars[name] = keys[of]
    if len(env_vars) < 10 or len(defaults) < 10:
        sys.exit("check_manifests: could not parse the settings_section! declarations in catalog-core/src/config.rs")

    routes = set(re.findall(r'\.route\(\s*"([^"]+)"', read(OPS_RS)))
    if not routes:
        sys.exit("check_manifests: no .route(\"...\") in catalog-core/src/ops.rs")

    cli = read(CLI_RS)
    migrate_actions = {kebab(v) for v, _ in enum_variants(enum_body(cli, "MigrateAction", CLI_RS))}
    shared = subcommand_names(cli, "SharedCommand", CLI_RS, set())
    subcommands = {b: subcommand_names(read(p), "Command", p, shared) for b, p in BINARIES.items()}

    notes, drain_secs = [], {}
    for binary, (path, pattern, what) in DRAIN.items():
        m = re.search(pattern, read(path))
        if m:
            drain_secs[binary] = int(m.group(1))
        else:
            notes.append(f"{binary}: {what} not found in {path.relative_to(ROOT)}; grace period not checked")

    grpc_services = {""} | set(re.findall(r'"([a-z]+\.[A-Z][A-Za-z]+)"', read(ROOT / "catalog-grpc" / "src" / "server.rs")))
    worker_source = "\n".join(read(p) for p in sorted((ROOT / "catalog-worker" / "src").rglob("*.rs")))
    migrations_sql = "\n".join(read(p) for p in sorted(MIGRATIONS.rglob("up.sql")))
    return Code(env_vars, defaults, routes, subcommands, migrate_actions, drain_secs, grpc_services,
                worker_source, migrations_sql, notes)


# --------------------------------------------------------------------------- manifests


def render_overlays() -> dict[str, list[dict]]:
    rendered = {}
    for overlay in sorted(p for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists()):
        out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"check_manifests: kubectl kustomize {overlay.relative_to(ROOT)} failed:\n{out.stderr}")
        rendered[str(overlay.relative_to(ROOT))] = [d for d in yaml.safe_load_all(out.stdout) if d]
    return rendered


def ident(doc: dict) -> str:
    meta = doc.get("metadata", {})
    return f"{doc.get('kind')}/{meta.get('name')}"


def pod_template(doc: dict) -> dict | None:
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return doc.get("spec", {}).get("template")
    if kind == "CronJob":
        return doc.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template")
    if kind == "Pod":
        return doc
    return None


def selects(selector: dict | None, labels: dict) -> bool:
    """matchLabels/matchExpressions (or a plain Service selector) against labels."""
    if selector is None:
        return False
    match_labels = selector.get("matchLabels", {}) if ("matchLabels" in selector or "matchExpressions" in selector) else selector
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expr in selector.get("matchExpressions", []) if "matchExpressions" in selector else []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class Checker:
    def __init__(self, code: Code, docs: list[dict], source: str):
        self.code, self.docs, self.source = code, docs, source
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.configmaps = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ConfigMap"}
        self.workloads = [d for d in docs if pod_template(d) is not None]

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{self.source}: {where}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{self.source}: {where}: {message}")

    # -- env

    def known_var(self, name: str) -> bool:
        return name in self.code.env_vars or name in EXTRA_ENV

    def container_env(self, where: str, container: dict) -> dict[str, str | None]:
        """Effective env of a container: name -> value (None when it comes from a Secret)."""
        env: dict[str, str | None] = {}
        for source in container.get("envFrom", []):
            if "prefix" in source:
                self.error(where, f"envFrom prefix {source['prefix']!r}: the service reads unprefixed names")
            if "configMapRef" in source:
                ref = source["configMapRef"]
                cm = self.configmaps.get(ref.get("name"))
                if cm is None:
                    if not ref.get("optional"):
                        self.error(where, f"envFrom ConfigMap {ref.get('name')!r} is not in the rendered manifests")
                    continue
                for key, value in (cm.get("data") or {}).items():
                    env[key] = value
            if "secretRef" in source:
                self.warn(where, f"envFrom Secret {source['secretRef'].get('name')!r}: keys cannot be checked; "
                          "prefer env[].valueFrom.secretKeyRef")
        for var in container.get("env", []):
            name = var.get("name")
            if not self.known_var(name):
                self.error(where, f"env {name!r} is not read by the service (not in ENV_VARS of "
                           "catalog-core/src/config.rs)")
            value_from = var.get("valueFrom")
            if value_from is None:
                env[name] = str(var.get("value", ""))
            elif "configMapKeyRef" in value_from:
                ref = value_from["configMapKeyRef"]
                cm = self.configmaps.get(ref.get("name"))
                if cm is None or ref.get("key") not in (cm.get("data") or {}):
                    if not ref.get("optional"):
                        self.error(where, f"env {name}: ConfigMap key {ref.get('name')}/{ref.get('key')} not found")
                    continue
                env[name] = cm["data"][ref["key"]]
            elif "secretKeyRef" in value_from:
                key = value_from["secretKeyRef"].get("key")
                if not self.known_var(key):
                    self.error(where, f"env {name}: Secret key {key!r} is not a variable in ENV_VARS")
                elif key != name:
                    self.error(where, f"env {name}: Secret key {key!r} differs from the variable name "
                               "(keep Secret keys equal to the variable they fill)")
                env[name] = None
            else:
                env[name] = None
        return env

    def check_configmaps(self) -> None:
        referenced = set()
        for doc in self.workloads:
            for c in pod_template(doc)["spec"].get("containers", []) + pod_template(doc)["spec"].get("initContainers", []):
                referenced |= {s["configMapRef"]["name"] for s in c.get("envFrom", []) if "configMapRef" in s}
        for name in sorted(referenced):
            cm = self.configmaps.get(name)
            for key in sorted((cm or {}).get("data") or {}):
                if not self.known_var(key):
                    self.error(f"ConfigMap/{name}", f"key {key!r} is not in ENV_VARS of catalog-core/src/config.rs")

    # -- workloads

    def listeners(self, binary: str, env: dict[str, str | None], where: str) -> dict[int, str]:
        ports = {}
        for key, protocol in LISTENERS[binary].items():
            var = self.code.var_for(key)
            value = env.get(var)
            if value is None:
                if var in env:
                    self.error(where, f"{var} comes from a Secret: ports must be visible settings")
                value = self.code.default(key)
            try:
                ports[int(value)] = protocol
            except ValueError:
                self.error(where, f"{var}={value!r} is not a port number")
        return ports

    def check_workloads(self) -> None:
        for doc in self.workloads:
            template = pod_template(doc)
            spec = template.get("spec", {})
            if spec.get("enableServiceLinks", True) is not False:
                self.error(ident(doc), "enableServiceLinks must be false: Service links inject variables such as "
                           "REDIS_PORT=tcp://... that collide with the service's own settings")
            for c in spec.get("initContainers", []) + spec.get("containers", []):
                self.check_container(doc, template, c)

    def check_container(self, doc: dict, template: dict, c: dict) -> None:
        where = f"{ident(doc)} container {c.get('name')}"
        image = str(c.get("image", ""))
        image_binary = re.split(r"[:@]", image.rsplit("/", 1)[-1])[0]
        command = c.get("command") or []
        binary = Path(command[0]).name if command else image_binary
        if binary not in BINARIES:
            self.error(where, f"runs {binary!r}, which is none of the binaries {sorted(BINARIES)}")
            return
        if image_binary in BINARIES and image_binary != binary:
            self.error(where, f"command runs {binary} but the image {image!r} contains {image_binary}")
        args = list(command[1:]) + list(c.get("args") or ["serve"])  # Dockerfile CMD is "serve"
        subcommand = args[0] if args else "serve"
        if subcommand not in self.code.subcommands[binary]:
            self.error(where, f"{binary} has no subcommand {subcommand!r} "
                       f"(has: {', '.join(sorted(self.code.subcommands[binary]))})")
        if subcommand == "migrate" and len(args) > 1 and not args[1].startswith("-"):
            if args[1] not in self.code.migrate_actions:
                self.error(where, f"migrate has no action {args[1]!r} (has: {', '.join(sorted(self.code.migrate_actions))})")

        env = self.container_env(where, c)
        declared = {p.get("containerPort"): p.get("name") for p in c.get("ports", [])}
        by_name = {p.get("name"): p.get("containerPort") for p in c.get("ports", []) if p.get("name")}
        if subcommand != "serve":
            if declared:
                self.error(where, f"`{subcommand}` listens on nothing, yet ports {sorted(declared)} are declared")
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe in c:
                    self.error(where, f"`{subcommand}` serves nothing to probe ({probe})")
            return

        listening = self.listeners(binary, env, where)
        for port in declared:
            if port not in listening:
                self.error(where, f"containerPort {port} is not a port {binary} listens on "
                           f"({self.describe(binary, listening)})")
        for port in listening:
            if port not in declared:
                self.error(where, f"{binary} listens on {port} ({listening[port]}) but no containerPort declares it")

        def resolve(port) -> int | None:
            if isinstance(port, str) and not port.isdigit():
                if port not in by_name:
                    self.error(where, f"port name {port!r} is not a named containerPort")
                    return None
                return by_name[port]
            return int(port)

        for probe_kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = c.get(probe_kind)
            if not probe:
                if probe_kind != "startupProbe":
                    self.error(where, f"no {probe_kind}")
                continue
            if "httpGet" in probe:
                get = probe["httpGet"]
                port = resolve(get.get("port"))
                if port is not None and listening.get(port) != "http":
                    self.error(where, f"{probe_kind} httpGet on port {port}, which is not an HTTP port of {binary} "
                               f"({self.describe(binary, listening)})")
                if get.get("path") not in self.code.routes:
                    self.error(where, f"{probe_kind} path {get.get('path')!r} is not served "
                               f"(routes in catalog-core/src/ops.rs: {', '.join(sorted(self.code.routes))})")
                if get.get("scheme", "HTTP") != "HTTP":
                    self.error(where, f"{probe_kind}: the operations endpoints speak plain HTTP")
            elif "grpc" in probe:
                port = resolve(probe["grpc"].get("port"))
                if port is not None and listening.get(port) != "grpc":
                    self.error(where, f"{probe_kind} grpc on port {port}, which is not a gRPC port of {binary} "
                               f"({self.describe(binary, listening)})")
                service = probe["grpc"].get("service", "")
                if service not in self.code.grpc_services:
                    self.error(where, f"{probe_kind} grpc service {service!r} is not reported by grpc.health.v1")
            elif "tcpSocket" in probe:
                port = resolve(probe["tcpSocket"].get("port"))
                if port is not None and port not in listening:
                    self.error(where, f"{probe_kind} tcpSocket port {port} is not a port {binary} listens on")
            elif "exec" in probe:
                cmd = probe["exec"].get("command") or []
                if not cmd or Path(cmd[0]).name != binary or len(cmd) < 2 or cmd[1] not in self.code.subcommands[binary]:
                    self.error(where, f"{probe_kind} exec {cmd} is not `{binary} <subcommand>`")

        annotations = template.get("metadata", {}).get("annotations", {}) or {}
        if annotations.get("prometheus.io/scrape") == "true":
            port = int(annotations.get("prometheus.io/port", "0"))
            if listening.get(port) != "http":
                self.error(where, f"prometheus.io/port {port} is not the HTTP (metrics) port of {binary}")
            path = annotations.get("prometheus.io/path", "/metrics")
            if path not in self.code.routes:
                self.error(where, f"prometheus.io/path {path!r} is not served")

        drain = self.code.drain_secs.get(binary)
        if drain is not None:
            grace = template["spec"].get("terminationGracePeriodSeconds", 30)
            sleep = ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)
            if grace < sleep + drain:
                self.error(where, f"terminationGracePeriodSeconds {grace} < preStop sleep {sleep} + "
                           f"drain {drain} s ({DRAIN[binary][2]} in {DRAIN[binary][0].relative_to(ROOT)})")

    def describe(self, binary: str, listening: dict[int, str]) -> str:
        return ", ".join(f"{p} {proto}" for p, proto in sorted(listening.items()))

    # -- cross references between manifests

    def pods_selected(self, selector: dict | None) -> list[dict]:
        return [d for d in self.workloads if selects(selector, pod_template(d).get("metadata", {}).get("labels", {}))]

    def container_ports(self, workloads: list[dict]) -> tuple[set[int], set[str]]:
        numbers, names = set(), set()
        for d in workloads:
            for c in pod_template(d)["spec"].get("containers", []):
                for p in c.get("ports", []):
                    numbers.add(p.get("containerPort"))
                    if p.get("name"):
                        names.add(p["name"])
        return numbers, names

    def check_references(self) -> None:
        services = [d for d in self.docs if d.get("kind") == "Service"]
        names = {(d["kind"], d["metadata"]["name"]) for d in self.docs}
        for svc in services:
            pods = self.pods_selected(svc["spec"].get("selector"))
            if not pods:
                self.error(ident(svc), "selects no pod template in the manifests")
                continue
            numbers, port_names = self.container_ports(pods)
            for p in svc["spec"].get("ports", []):
                target = p.get("targetPort", p.get("port"))
                if (isinstance(target, str) and target not in port_names) or (isinstance(target, int) and target not in numbers):
                    self.error(ident(svc), f"targetPort {target!r} is no containerPort of the selected pods")
        for np in (d for d in self.docs if d.get("kind") == "NetworkPolicy"):
            pods = self.pods_selected(np["spec"].get("podSelector"))
            if not pods:
                self.error(ident(np), "selects no pod template in the manifests")
                continue
            numbers, port_names = self.container_ports(pods)
            for rule in np["spec"].get("ingress", []) or []:
                for p in rule.get("ports", []) or []:
                    port = p.get("port")
                    if (isinstance(port, str) and port not in port_names) or (isinstance(port, int) and port not in numbers):
                        self.error(ident(np), f"ingress port {port!r} is no containerPort of the selected pods")
        for doc in self.docs:
            kind, spec = doc.get("kind"), doc.get("spec", {})
            if kind in ("HorizontalPodAutoscaler", "ScaledObject"):
                target = spec.get("scaleTargetRef", {})
                if (target.get("kind", "Deployment"), target.get("name")) not in names:
                    self.error(ident(doc), f"scaleTargetRef {target.get('kind')}/{target.get('name')} is not in the manifests")
            if kind == "PodDisruptionBudget" and not self.pods_selected(spec.get("selector")):
                self.error(ident(doc), "selects no pod template in the manifests")
            if kind == "ServiceMonitor":
                selected = [s for s in services if selects(spec.get("selector"), s["metadata"].get("labels", {}))]
                if not selected:
                    self.error(ident(doc), "selects no Service in the manifests")
                for endpoint in spec.get("endpoints", []):
                    for s in selected:
                        if endpoint.get("port") not in {p.get("name") for p in s["spec"].get("ports", [])}:
                            self.error(ident(doc), f"endpoint port {endpoint.get('port')!r} is not a port of {ident(s)}")
                    if endpoint.get("path", "/metrics") not in self.code.routes:
                        self.error(ident(doc), f"endpoint path {endpoint.get('path')!r} is not served")
            if kind == "TriggerAuthentication":
                for ref in spec.get("secretTargetRef", []):
                    if not self.known_var(ref.get("key")):
                        self.error(ident(doc), f"Secret key {ref.get('key')!r} is not a variable in ENV_VARS")
            if kind == "ScaledObject":
                self.check_triggers(doc)

    def check_triggers(self, doc: dict) -> None:
        for trigger in doc["spec"].get("triggers", []):
            meta = trigger.get("metadata", {})
            if trigger.get("type") == "rabbitmq":
                queue = meta.get("queueName", "")
                prefix = self.worker_setting("RABBITMQ_QUEUE_PREFIX")
                if not queue.startswith(prefix):
                    self.error(ident(doc), f"queue {queue!r} lacks RABBITMQ_QUEUE_PREFIX {prefix!r}")
                base = queue[len(prefix):]
                if not re.search(r'"(\{[a-z_]+\})?' + re.escape(base) + '"', self.code.worker_source):
                    self.error(ident(doc), f"queue {queue!r}: catalog-worker/src declares no queue {base!r} "
                               "(see catalog-worker/src/topology.rs)")
            if trigger.get("type") == "postgresql":
                for table in re.findall(r"\bFROM\s+([a-z_]+)", meta.get("query", ""), re.I):
                    if not re.search(r"CREATE TABLE\s+(IF NOT EXISTS\s+)?" + table + r"\b", self.code.migrations_sql, re.I):
                        self.error(ident(doc), f"query reads table {table!r}, which no migration creates")
                for column in re.findall(r"\bWHERE\s+([a-z_]+)", meta.get("query", ""), re.I):
                    if not re.search(r"\b" + column + r"\b", self.code.migrations_sql):
                        self.error(ident(doc), f"query uses column {column!r}, which no migration defines")

    def worker_setting(self, var: str) -> str:
        """A variable as the worker Deployment sets it (literal or ConfigMap), else ""."""
        for doc in self.workloads:
            for c in pod_template(doc)["spec"].get("containers", []):
                if c.get("name") == "catalog-worker":
                    for source in c.get("envFrom", []):
                        cm = self.configmaps.get(source.get("configMapRef", {}).get("name"), {})
                        if var in (cm.get("data") or {}):
                            return cm["data"][var]
                    for e in c.get("env", []):
                        if e.get("name") == var and "value" in e:
                            return e["value"]
        return ""

    def run(self) -> "Checker":
        for doc in self.docs:
            if not isinstance(doc, dict) or "kind" not in doc:
                self.error("document", "not a Kubernetes object")
        self.check_configmaps()
        self.check_workloads()
        self.check_references()
        return self


# --------------------------------------------------------------------------- self-test


def container(docs: list[dict], name: str) -> dict:
    for d in docs:
        t = pod_template(d)
        if t:
            for c in t["spec"].get("containers", []):
                if c.get("name") == name:
                    return c
    raise KeyError(name)


def configmap(docs: list[dict]) -> dict:
    return next(d for d in docs if d.get("kind") == "ConfigMap")["data"]


def rename_key(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


MUTATIONS = [
    ("an env var the code does not read (RUST_LOG)",
     lambda docs: container(docs, "catalog-api").setdefault("env", []).append({"name": "RUST_LOG", "value": "debug"})),
    ("a ConfigMap key renamed (GRPC_PORT -> GRPC_LISTEN_PORT)",
     lambda docs: rename_key(configmap(docs), "GRPC_PORT", "GRPC_LISTEN_PORT")),
    ("a Secret key that is no variable (DATABASE_URL -> DB_URL)",
     lambda docs: container(docs, "catalog-worker")["env"][0]["valueFrom"]["secretKeyRef"].update(key="DB_URL")),
    ("a readiness path the code does not serve (/healthz)",
     lambda docs: container(docs, "catalog-api")["readinessProbe"]["httpGet"].update(path="/healthz")),
    ("a liveness probe on the gRPC port instead of the HTTP side port",
     lambda docs: container(docs, "catalog-grpc")["livenessProbe"]["httpGet"].update(port=50052)),
    ("a containerPort that differs from the default (50052 -> 50053)",
     lambda docs: container(docs, "catalog-grpc")["ports"][0].update(containerPort=50053)),
    ("API_PORT set to 8080 while the pod declares 8002",
     lambda docs: configmap(docs).update(API_PORT="8080")),
    ("a subcommand that does not exist (serve -> server)",
     lambda docs: container(docs, "catalog-worker").update(args=["server"])),
    ("a subcommand of another binary (catalog-worker health-check)",
     lambda docs: container(docs, "catalog-worker").update(args=["health-check"])),
    ("a migrate action that does not exist (migrate latest)",
     lambda docs: container(docs, "migrate").update(args=["migrate", "latest"])),
    ("a Service targetPort that no container declares",
     lambda docs: next(d for d in docs if ident(d) == "Service/catalog-api")["spec"]["ports"][0].update(targetPort="web")),
    ("a KEDA queue the worker does not declare (catalog.auth-events)",
     lambda docs: next(d for d in docs if d.get("kind") == "ScaledObject")["spec"]["triggers"][0]["metadata"].update(
         queueName="catalog.auth-events")),
    ("a grace period shorter than preStop + drain",
     lambda docs: next(d for d in docs if ident(d) == "Deployment/catalog-api")["spec"]["template"]["spec"].update(
         terminationGracePeriodSeconds=10)),
]


def self_test(code: Code, source: str, docs: list[dict]) -> list[str]:
    failures = []
    for what, mutate in MUTATIONS:
        broken = copy.deepcopy(docs)
        mutate(broken)
        errors = Checker(code, broken, source).run().errors
        if not errors:
            failures.append(f"self-test: drift not detected: {what}")
        else:
            print(f"  caught: {what}\n    -> {errors[0].split(': ', 1)[1]}")
    return failures


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="rendered manifests (default: render every overlay)")
    parser.add_argument("--self-test", action="store_true", help="also prove deliberate drifts are detected")
    args = parser.parse_args()

    code = load_code()
    if args.files:
        rendered = {}
        for f in args.files:
            try:
                rendered[Path(f).name] = [d for d in yaml.safe_load_all(Path(f).read_text(encoding="utf-8")) if d]
            except (OSError, yaml.YAMLError) as e:
                print(f"check_manifests: {f}: {e}", file=sys.stderr)
                return 2
    else:
        rendered = render_overlays()
    if not rendered:
        print("check_manifests: no manifests to check", file=sys.stderr)
        return 2

    errors, warnings = [], list(code.notes)
    for source, docs in rendered.items():
        checker = Checker(code, docs, source).run()
        errors += checker.errors
        warnings += checker.warnings
        kinds = sorted({d.get("kind") for d in docs})
        print(f"checked {source}: {len(docs)} objects ({', '.join(kinds)})")

    if args.self_test:
        # the richest rendering (the one with the optional components, when given)
        source, docs = max(rendered.items(), key=lambda item: len(item[1]))
        print(f"self-test on {source}: {len(MUTATIONS)} deliberate drifts")
        errors += self_test(code, source, docs)

    for w in dict.fromkeys(warnings):
        print(f"warning: {w}")
    if errors:
        print(f"\nDRIFT: {len(errors)} problem(s) between deploy/k8s and the code:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    print(f"manifests agree with the code: {len(code.env_vars)} variables in ENV_VARS, routes "
          f"{', '.join(sorted(code.routes))}, subcommands "
          + "; ".join(f"{b}: {', '.join(sorted(s))}" for b, s in sorted(code.subcommands.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Turns benchmark output into JSON lines and renders bench/RESULTS.md and its charts.

    report.py ingest-pgbench --dir DIR --concurrency N [--scenario NAME]
                                                            pgbench stdout.txt + -l logs -> JSON line
    report.py ingest-redis --concurrency N --size BYTES     redis-benchmark --csv on stdin -> JSON line
    report.py cpu-sample --stop-file F --max-seconds N       CPU used by the benchmark vs other work -> JSON line
    report.py render --results bench/results/run.jsonl --out-dir bench

Only the standard library, plus matplotlib for the charts (skipped with a note when missing).
"""

import argparse
import csv
import datetime
import glob
import json
import os
import re
import subprocess
import sys

# ------------------------------------------------------------------------------------------------
# Ingest
# ------------------------------------------------------------------------------------------------


def quantile(sorted_values, q):
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values), max(1, int(-(-q * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ingest_pgbench(args):
    with open(os.path.join(args.dir, "stdout.txt"), encoding="utf-8") as f:
        text = f.read()
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text)
    if not tps:
        sys.exit("pgbench printed no tps")
    latencies = []
    for path in glob.glob(os.path.join(args.dir, "pgb.*")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    latencies.append(int(parts[2]) / 1000.0)
    latencies.sort()
    failed = re.search(r"number of failed transactions: (\d+)", text)
    line = {
        "ts": now(),
        "scenario": args.scenario,
        "label": "ceiling",
        "concurrency": args.concurrency,
        "requests": len(latencies),
        "errors": int(failed.group(1)) if failed else 0,
        "throughput_rps": float(tps.group(1)),
        "latency_ms": {
            "p50": round(quantile(latencies, 0.50), 3),
            "p90": round(quantile(latencies, 0.90), 3),
            "p99": round(quantile(latencies, 0.99), 3),
            "max": round(quantile(latencies, 1.0), 3),
            "mean": round(sum(latencies) / len(latencies), 3) if latencies else 0.0,
        },
    }
    print(json.dumps(line))


def ingest_redis(args):
    rows = list(csv.DictReader(sys.stdin))
    get = next((r for r in rows if r.get("test") == "GET"), None)
    if get is None:
        sys.exit("redis-benchmark printed no GET line")
    line = {
        "ts": now(),
        "scenario": "redis-get",
        "label": "reference",
        "concurrency": args.concurrency,
        "throughput_rps": float(get["rps"]),
        "latency_ms": {
            "p50": float(get["p50_latency_ms"]),
            "p90": float(get["p95_latency_ms"]),  # redis-benchmark reports p95, not p90
            "p99": float(get["p99_latency_ms"]),
            "max": float(get["max_latency_ms"]),
            "mean": float(get["avg_latency_ms"]),
        },
        "extra": {"value_bytes": args.size, "p90_is_p95": True},
    }
    print(json.dumps(line))


# ------------------------------------------------------------------------------------------------
# CPU accounting: how much of the machine went to the benchmark and how much to other work
# ------------------------------------------------------------------------------------------------

OURS = {"catalog-grpc", "catalog-api", "catalog-worker", "catalog-bench", "pgbench", "redis-benchmark"}
SHARED = {"redis-server", "beam.smp", "epmd", "erl_child_setup", "inet_gethost", "1_scheduler", "2_scheduler"}


def classify(pid, comm, database):
    if comm in OURS:
        return "benchmark"
    if comm == "postgres":
        cmdline = ""
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            pass
        if f" {database} " in cmdline:
            return "benchmark"
        if any(word in cmdline for word in ("checkpointer", "writer", "autovacuum", "logical replication", "stats", "archiver", "/usr/lib/postgresql")):
            return "shared"
        return "other"
    if comm in SHARED:
        return "shared"
    if comm.startswith(("kworker", "ksoftirqd", "rcu_", "migration", "kdamond", "kcompactd", "jbd2")):
        return "kernel"
    return "other"


def read_stat(pid):
    with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
        raw = f.read()
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, int(fields[11]) + int(fields[12])  # utime + stime


def busy_ticks():
    with open("/proc/stat", encoding="utf-8") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values[:8]) - idle


def cpu_sample(args):
    import time

    hz = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    seen = {}  # pid -> [class, comm, first ticks, last ticks]
    started, busy_start = time.time(), busy_ticks()

    def scan(first_round):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                comm, ticks = read_stat(entry)
            except (OSError, ValueError, IndexError):
                continue
            if entry in seen and ticks >= seen[entry][3]:
                seen[entry][3] = ticks  # same process (kernel threads rename themselves)
            else:
                # Present at the start: count from now; started later: count all of it.
                seen[entry] = [classify(entry, comm, args.database), comm, ticks if first_round else 0, ticks]

    scan(True)
    while not os.path.exists(args.stop_file) and time.time() - started < args.max_seconds:
        time.sleep(args.interval)
        scan(False)
    wall = time.time() - started
    busy = (busy_ticks() - busy_start) / hz
    by_class, by_comm = {}, {}
    for cls, comm, first, last in seen.values():
        used = max(0, last - first) / hz
        by_class[cls] = by_class.get(cls, 0.0) + used
        if cls == "other":
            by_comm[comm] = by_comm.get(comm, 0.0) + used
    top = [kv for kv in sorted(by_comm.items(), key=lambda kv: -kv[1])[:6] if kv[1] >= 0.1]
    # Every process by name, whatever its class: who spent the CPU of one scenario (bench/profile.sh).
    by_process = {}
    for cls, comm, first, last in seen.values():
        by_process[comm] = by_process.get(comm, 0.0) + max(0, last - first) / hz
    processes = [kv for kv in sorted(by_process.items(), key=lambda kv: -kv[1])[:8] if kv[1] >= 0.05]
    print(json.dumps({
        "ts": now(),
        "scenario": "cpu",
        "wall_s": round(wall, 1),
        "cores": os.cpu_count(),
        "busy_cpu_s": round(busy, 1),
        "cpu_s": {k: round(v, 1) for k, v in sorted(by_class.items())},
        "other_top": {k: round(v, 1) for k, v in top},
        "processes": {k: round(v, 2) for k, v in processes},
    }))


def ingest_profile(args):
    """One profiled run: every process's CPU seconds (cpu-sample's JSON), per operation when the
    run reports its throughput, and the profiled process's hottest functions (perf report)."""
    with open(args.cpu, encoding="utf-8") as f:
        cpu = json.loads(f.read() or "{}")
    operations = args.operations
    if operations is None and args.run and os.path.exists(args.run):
        run = next(iter(load(args.run)), {})
        rate = run.get("throughput_rps") or run.get("events_per_s")
        seconds = run.get("duration_s") or run.get("commit_to_last_publish_s")
        operations = rate * seconds if rate and seconds else None
    symbols = []
    if args.perf and os.path.exists(args.perf):
        report = subprocess.run(
            ["perf", "report", "-i", args.perf, "--stdio", "--no-children", "--sort", "dso,sym", "-q",
             "--percent-limit", "1"], capture_output=True, text=True, check=False).stdout
        for line in report.splitlines():
            parts = line.split(None, 3)
            if len(parts) == 4 and parts[0].endswith("%"):
                name = re.sub(r"::h[0-9a-f]{16}$", "", parts[3].removeprefix("[.] ").removeprefix("[k] ").strip())
                symbols.append([float(parts[0].rstrip("%")), parts[1], name[:110]])
    print(json.dumps({
        "ts": now(), "scenario": "profile", "label": args.label, "process": args.process,
        "wall_s": cpu.get("wall_s"), "busy_cpu_s": cpu.get("busy_cpu_s"), "operations": operations,
        "processes": cpu.get("processes", {}), "top_symbols": symbols[:14],
    }))


# ------------------------------------------------------------------------------------------------
# Render
# ------------------------------------------------------------------------------------------------

SECTIONS = [
    ("1. ValidateVariantsBatch (100 ids) vs pgbench", ["grpc-validate-batch", "pgbench-validate-batch"]),
    ("2. GetProductDetails warm vs gRPC ceiling (and Redis)", ["grpc-product-details", "grpc-health", "redis-get"]),
    ("2. GetProductDetails cold (cache misses)", ["grpc-product-details-cold"]),
    ("3. POS search", ["grpc-search-barcode", "grpc-search-sku-prefix", "grpc-search-title-typo"]),
    ("4. REST reads vs the no-op endpoint", ["rest-product", "rest-noop", "rest-products-filtered", "rest-search"]),
    ("7. PATCH one variant (REST)", ["large-product-update"]),
]


def load(path):
    lines = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            raw = raw.strip()
            if raw:
                try:
                    lines.append(json.loads(raw))
                except json.JSONDecodeError:
                    pass
    return lines


def key(line):
    name = line["scenario"]
    if name == "large-product-update":
        name += " (%s variants)" % line.get("extra", {}).get("variants", "?")
    return name


def runs(lines, scenario, label_filter=None):
    out = {}
    for line in lines:
        if key(line) != scenario or "throughput_rps" not in line:
            continue
        if label_filter is not None and line.get("label", "") != label_filter:
            continue
        out[line["concurrency"]] = line
    return out


def fmt(x, digits=1):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}"


def pct(x):
    return "–" if x is None else f"{100 * x:.0f} %"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def whole(x):
    """A count the metrics report as a float, as an integer."""
    return None if x is None else int(x)


def ratio(a, b):
    if a is None or not b:
        return None
    return a / b


def get(run, *path):
    value = run
    for p in path:
        if value is None:
            return None
        value = value.get(p) if isinstance(value, dict) else None
    return value


def render(args):
    lines = load(args.results)
    machine = next((l for l in lines if l["scenario"] == "machine"), {})
    hi = max(runs(lines, "grpc-health", None) or {16: None})
    md = []
    w = md.append

    w("# Catalog service — benchmark results\n")
    w(
        "Generated by `bash bench/run.sh` (rendered by `bench/report.py` from `bench/results/run.jsonl`). "
        "Every figure is a closed-loop measurement: `concurrency` clients each send a request, wait for the "
        "answer and send the next; latencies are per request, from send to full response. Each scenario runs "
        "back to back with its ceiling (or peer) on the same machine in the same run.\n"
    )
    w("## Machine and run\n")
    w("| | |\n|---|---|")
    w(f"| date (UTC) | {machine.get('date', '?')} |")
    w(f"| CPU | {machine.get('cpu', '?')} × {machine.get('nproc', '?')} (`nproc`) |")
    w(f"| memory | {machine.get('mem_total_gb', '?')} GB total, {machine.get('mem_available_gb', '?')} GB available (`free -g`) |")
    w(f"| load average (1, 5, 15 min) | before the scenarios {machine.get('loadavg_start', '?')}; at the end {machine.get('loadavg', '?')} |")
    cpu = next((l for l in lines if l["scenario"] == "cpu"), None)
    if cpu:
        cls = cpu.get("cpu_s", {})
        capacity = cpu["wall_s"] * (cpu.get("cores") or 1)
        top = ", ".join(f"{k} {v:g} s" for k, v in cpu.get("other_top", {}).items()) or "nothing notable"
        w(
            f"| CPU during the scenarios | {fmt(cpu.get('busy_cpu_s'))} CPU-s busy of {fmt(capacity)} available "
            f"({cpu['wall_s']:g} s × {cpu.get('cores')} cores): benchmark {fmt(cls.get('benchmark'))} s (the three "
            f"processes, the load generators, their PostgreSQL backends), shared services {fmt(cls.get('shared'))} s "
            f"(Redis, RabbitMQ, PostgreSQL background), kernel {fmt(cls.get('kernel'))} s, **other work "
            f"{fmt(cls.get('other'))} s** (top: {top}) |"
        )
    w(f"| code | commit {machine.get('commit', '?')}" + (f" plus uncommitted changes to {machine['uncommitted']}" if machine.get("uncommitted") else "") + " |")
    w(f"| software | PostgreSQL {machine.get('postgres', '?')}, Redis {machine.get('redis', '?')}, rustc {machine.get('rustc', '?')}, Linux {machine.get('kernel', '?')} |")
    w(f"| data | {fmt(machine.get('products'))} products, {fmt(machine.get('variants'))} variants over 4 organizations (`seed --products`) |")
    w(f"| per run | {machine.get('warmup_s', '?')} s warm-up + {machine.get('duration_s', '?')} s measured |")
    w(
        f"| whole `run.sh` | {fmt(machine.get('run_seconds'))} s (≈ {round((machine.get('run_seconds') or 0) / 60, 1)} min): "
        f"build {fmt(machine.get('build_seconds'))} s, migrate + seed check {fmt(machine.get('seed_seconds'))} s, "
        f"scenarios {fmt(machine.get('scenario_seconds'))} s |"
    )
    w(
        "| configuration | service defaults: DB pool 10 per process, `GRPC_MAX_WORKERS=10`, actix workers = cores, "
        "JSON logs at `info` (one access line per request); rate limits (`API_RATE_LIMIT_*`, overall and per kind) raised so one bench user is not throttled |"
    )
    w(
        "| caveat | load generator, PostgreSQL, Redis, RabbitMQ and the three processes share the same cores; "
        "the gRPC clients share one HTTP/2 connection, each REST client has its own keep-alive connection |\n"
    )

    # ---------------- targets ----------------
    targets = []  # (target, measured, ceiling, ratio, met, why)

    def at(scenario, c=hi, label=None):
        return runs(lines, scenario, label).get(c)

    # 1
    v, p = at("grpc-validate-batch", label=""), at("pgbench-validate-batch")
    r = ratio(get(v, "throughput_rps"), get(p, "throughput_rps"))
    p99 = get(v, "latency_ms", "p99")
    ok = r is not None and r >= 0.70 and p99 is not None and p99 <= 10
    targets.append((
        f"1. ValidateVariantsBatch ≥ 70 % of pgbench, p99 ≤ 10 ms ({hi} clients)",
        f"{fmt(get(v, 'throughput_rps'))} calls/s, p99 {fmt(p99, 2)} ms",
        f"pgbench {fmt(get(p, 'throughput_rps'))} statements/s, p99 {fmt(get(p, 'latency_ms', 'p99'), 2)} ms",
        pct(r), ok,
    ))
    # 2 warm
    d, h = at("grpc-product-details", label=""), at("grpc-health")
    r = ratio(get(d, "throughput_rps"), get(h, "throughput_rps"))
    targets.append((
        f"2. GetProductDetails warm ≥ 60 % of the gRPC ceiling ({hi} clients)",
        f"{fmt(get(d, 'throughput_rps'))} calls/s, p99 {fmt(get(d, 'latency_ms', 'p99'), 2)} ms",
        f"grpc.health.v1 Check {fmt(get(h, 'throughput_rps'))} calls/s",
        pct(r), r is not None and r >= 0.60,
    ))
    # 2 cold
    cold = runs(lines, "grpc-product-details-cold")
    spc = [get(l, "extra", "statements_per_call") for l in cold.values()]
    spc = [s for s in spc if s is not None]
    worst = max(spc) if spc else None
    targets.append((
        "2. GetProductDetails cold ≤ 3 round trips",
        f"{fmt(worst, 2)} SQL statements per call (Redis round trips not counted)",
        "—", "—", worst is not None and worst <= 3,
    ))
    # 3
    for scenario, limit in (("grpc-search-barcode", 3.0), ("grpc-search-title-typo", 25.0)):
        all_c = runs(lines, scenario)
        per = ", ".join(f"{c}: {fmt(get(l, 'latency_ms', 'p99'), 2)} ms" for c, l in sorted(all_c.items()))
        met_at = [c for c, l in sorted(all_c.items()) if (get(l, "latency_ms", "p99") or 1e9) <= limit]
        hi_run = all_c.get(hi)
        ok = hi_run is not None and get(hi_run, "latency_ms", "p99") <= limit
        targets.append((
            f"3. {scenario.replace('grpc-search-', 'search ')} p99 ≤ {limit:g} ms ({hi} clients)",
            f"p99 by clients — {per}",
            "—",
            "met at: " + (", ".join(f"{c} clients" for c in met_at) if met_at else "none"),
            ok,
        ))
    # 4
    rp, rn = at("rest-product"), at("rest-noop")
    r = ratio(get(rp, "throughput_rps"), get(rn, "throughput_rps"))
    targets.append((
        f"4. REST cached product read ≥ 40 % of the no-op endpoint ({hi} clients)",
        f"{fmt(get(rp, 'throughput_rps'))} req/s, p99 {fmt(get(rp, 'latency_ms', 'p99'), 2)} ms"
        + (f" ({get(rp, 'errors')} errors)" if get(rp, "errors") else ""),
        f"GET /api/v1/noop {fmt(get(rn, 'throughput_rps'))} req/s",
        pct(r), r is not None and r >= 0.40 and not get(rp, "errors"),
    ))
    # 5
    burst = next((l for l in lines if l["scenario"] == "relay-burst" and l.get("label", "") == ""), None)
    drain = next((l for l in lines if l["scenario"] == "relay-drain"), None)
    bp99 = get(burst, "latency_ms", "p99")
    targets.append((
        "5. relay commit-to-publish p99 ≤ 500 ms (10,000 writes from 16 connections)",
        f"p50 {fmt(get(burst, 'latency_ms', 'p50'), 1)} ms, p99 {fmt(bp99, 1)} ms; "
        f"{fmt(get(burst, 'events_received'))}/{fmt(get(burst, 'events_written'))} events received",
        f"writes committed at {fmt(get(burst, 'writes_per_s'))}/s",
        "—", bp99 is not None and bp99 <= 500 and get(burst, "events_received") == get(burst, "events_written"),
    ))
    drate = get(drain, "events_per_s")
    targets.append((
        "5. relay drain ≥ 5,000 events/s (10,000 rows committed at once)",
        f"{fmt(drate)} events/s ({fmt(get(drain, 'events_received'))} events in {fmt(get(drain, 'commit_to_last_publish_s'), 2)} s)",
        "—", "—", drate is not None and drate >= 5000 and get(drain, "events_received") == get(drain, "events_written"),
    ))
    # 6
    mem = [l for l in lines if l["scenario"] == "memory"]
    for phase, limit in (("idle", 30), ("load", 150)):
        per = {l["process"]: l["rss_kb"] / 1024 for l in mem if l["phase"] == phase}
        ok = bool(per) and all(v <= limit for v in per.values())
        targets.append((
            f"6. resident memory ≤ {limit} MB per process ({phase})",
            ", ".join(f"{p} {v:.1f} MB" for p, v in sorted(per.items())),
            "—", "—", ok,
        ))
    # 7
    big = runs(lines, "large-product-update (2000 variants)")
    small = runs(lines, "large-product-update (10 variants)")
    per = "; ".join(
        f"{c} client{'s' if c > 1 else ''}: 2,000 → {fmt(get(big.get(c), 'latency_ms', 'p99'), 2)} ms, 10 → {fmt(get(small.get(c), 'latency_ms', 'p99'), 2)} ms"
        for c in sorted(set(big) | set(small))
    )
    p99s = [get(l, "latency_ms", "p99") for l in list(big.values()) + list(small.values())]
    errs = sum((get(l, "errors") or 0) for l in list(big.values()) + list(small.values()))
    targets.append((
        "7. single-variant PATCH p99 ≤ 50 ms regardless of variant count",
        f"p99 — {per}" + (f" ({errs} errors)" if errs else ""),
        "—", "—", bool(p99s) and all(x is not None and x <= 50 for x in p99s) and not errs,
    ))

    # 8 (bench/import.sh writes its own file beside run.jsonl)
    import_path = os.path.join(os.path.dirname(args.results), "import.jsonl")
    imports = [l for l in load(import_path) if l.get("scenario") == "import-csv"] if os.path.exists(import_path) else []
    if imports:
        largest = max(imports, key=lambda l: l["rows"])
        smallest = min(imports, key=lambda l: l["rows"])
        flat = largest["peak_rss_kb"] <= smallest["peak_rss_kb"] * 1.25
        targets.append((
            f"8. CSV import of {largest['rows']:,} variants ≥ 5,000 rows/s, memory flat in the file size",
            f"{fmt(largest['rows_per_s'])} rows/s ({fmt(largest['total_s'], 1)} s: staging {fmt(largest['upload_and_stage_s'], 1)} s, "
            f"applying {fmt(largest['apply_s'], 1)} s; {largest['events']:,} events); peak RSS "
            + ", ".join(f"{l['rows']:,} rows {l['peak_rss_kb'] / 1024:.0f} MB" for l in sorted(imports, key=lambda l: l["rows"])),
            f"PostgreSQL COPY of the same file {fmt(largest['copy_rows_per_s'])} rows/s",
            pct(ratio(largest["rows_per_s"], largest["copy_rows_per_s"])),
            largest["rows_per_s"] >= 5000 and flat,
        ))

    # 9 (bench/recipes.sh writes its own file beside run.jsonl)
    recipes_path = os.path.join(os.path.dirname(args.results), "recipes.jsonl")
    recipe_lines = load(recipes_path) if os.path.exists(recipes_path) else []
    recipe_hi = max(runs(recipe_lines, "grpc-health") or {0: None})
    warm, cold, ceiling = (runs(recipe_lines, name).get(recipe_hi)
                           for name in ("grpc-explode-ticket", "grpc-explode-ticket-cold", "grpc-health"))
    recipe_run = next((l for l in recipe_lines if l["scenario"] == "recipes-machine"), {})
    if warm and cold and ceiling:
        warm_ratio = ratio(get(warm, "throughput_rps"), get(ceiling, "throughput_rps"))
        warm_sql, cold_sql = get(warm, "extra", "statements_per_call"), get(cold, "extra", "statements_per_call")
        errs = sum((get(l, "errors") or 0) for l in (warm, cold))
        targets.append((
            f"9. ExplodeRecipe, a ticket of 20 dishes 3 recipe levels deep: a constant cost whatever the depth — "
            f"no SQL warm, one statement cold; p99 and throughput reported beside the gRPC ceiling ({recipe_hi} clients; bench/recipes.sh, "
            f"{recipe_run.get('date', '?')}, commit {recipe_run.get('commit', '?')})",
            f"warm {fmt(get(warm, 'throughput_rps'))} calls/s, p99 {fmt(get(warm, 'latency_ms', 'p99'), 2)} ms, "
            f"{fmt(warm_sql, 2)} statements/call; cold {fmt(get(cold, 'throughput_rps'))} calls/s, "
            f"p99 {fmt(get(cold, 'latency_ms', 'p99'), 2)} ms, {fmt(cold_sql, 2)} statements/call"
            + (f" ({errs} errors)" if errs else ""),
            f"grpc.health.v1 {fmt(get(ceiling, 'throughput_rps'))} calls/s, p99 {fmt(get(ceiling, 'latency_ms', 'p99'), 2)} ms",
            f"warm {pct(warm_ratio)}, cold {pct(ratio(get(cold, 'throughput_rps'), get(ceiling, 'throughput_rps')))}",
            warm_sql is not None and warm_sql < 0.05 and cold_sql is not None and cold_sql <= 1.05 and not errs,
        ))

    # 10 (bench/uploads.sh writes its own file beside run.jsonl)
    uploads_path = os.path.join(os.path.dirname(args.results), "uploads.jsonl")
    upload_lines = load(uploads_path) if os.path.exists(uploads_path) else []
    upload_hi = max(runs(upload_lines, "rest-upload") or {0: None})
    uploads = runs(upload_lines, "rest-upload").get(upload_hi)
    render = next((l for l in upload_lines if l["scenario"] == "render-ceiling"), None)
    process = next((l for l in upload_lines if l["scenario"] == "uploads-process"), None)
    upload_run = next((l for l in upload_lines if l["scenario"] == "uploads-machine"), {})
    if uploads and render and process:
        upload_ratio = ratio(get(uploads, "throughput_rps"), render["renders_per_s"])
        peak_mb = process["peak_rss_kb"] / 1024
        errs = get(uploads, "errors") or 0
        targets.append((
            f"10. Image upload, a {render['photo_bytes'] / 1e6:.1f} MB JPEG with its four renditions, {upload_hi} clients: "
            f"≥ 70 % of the same renders in-process, peak RSS ≤ 150 MB (bench/uploads.sh, "
            f"{upload_run.get('date', '?')}, commit {upload_run.get('commit', '?')})",
            f"{fmt(get(uploads, 'throughput_rps'), 2)} uploads/s, p99 {fmt(get(uploads, 'latency_ms', 'p99'))} ms; "
            f"RSS idle {process['idle_rss_kb'] / 1024:.0f} MB, peak {peak_mb:.0f} MB; "
            f"{process['image_rows']:,} rows, {process['stored_files']:,} files"
            + (f" ({errs} errors)" if errs else ""),
            f"render only, {render['threads']} threads: {fmt(render['renders_per_s'], 2)} renders/s",
            pct(upload_ratio),
            upload_ratio is not None and upload_ratio >= 0.70 and peak_mb <= 150 and not errs,
        ))

    # 11 (bench/stock.sh writes its own file beside run.jsonl)
    stock_path = os.path.join(os.path.dirname(args.results), "stock.jsonl")
    stock_lines = load(stock_path) if os.path.exists(stock_path) else []
    targets.extend(stock_targets(stock_lines))

    second = second_round_targets(lines, hi, os.path.dirname(args.results))
    w("## Targets (second round, issue 21)\n")
    w(f"All at {hi} clients, each beside its ceiling measured minutes apart in this run. Chart: `targets_round2.png` "
      "(one panel per target: the figure beside its ceiling).\n")
    w("| target | figure | ceiling | ratio | verdict |\n|---|---|---|---|---|")
    for target, measured, ceiling, rat, ok, _ in second:
        w(f"| {target} | {measured} | {ceiling} | {rat} | {'not measured' if ok is None else verdict(ok)} |")
    w("\n![second-round targets](targets_round2.png)\n")
    second_round_chart(second, args.out_dir)
    tracing_section(os.path.dirname(args.results), w)
    scale_out_section(os.path.dirname(args.results), w)
    profiles_section(lines, os.path.dirname(args.results), w)

    w("## Targets (first round)\n")
    w("| target | figure | ceiling / peer | ratio | verdict |\n|---|---|---|---|---|")
    for target, measured, ceiling, rat, ok in targets:
        w(f"| {target} | {measured} | {ceiling} | {rat} | {'reported' if ok is None else verdict(ok)} |")
    w("")
    notes = os.path.join(args.out_dir, "NOTES.md")
    if os.path.exists(notes):
        with open(notes, encoding="utf-8") as f:
            w(f.read().strip() + "\n")

    # ---------------- per-section tables ----------------
    w("## All runs\n")
    w("Throughput is successful requests per second; latencies in milliseconds. `ratio` compares the "
      "scenario with its ceiling at the same concurrency (pgbench for the batch, `grpc.health.v1` for "
      "the warm read, `/api/v1/noop` for REST).\n")
    ceiling_of = {
        "grpc-validate-batch": "pgbench-validate-batch",
        "grpc-product-details": "grpc-health",
        "rest-product": "rest-noop",
        "rest-products-filtered": "rest-noop",
        "rest-search": "rest-noop",
    }
    for title, scenarios in SECTIONS:
        w(f"### {title}\n")
        w("| scenario | clients | throughput /s | p50 | p90 | p99 | max | errors | ratio | notes |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        names = []
        for s in scenarios:
            if s == "large-product-update":
                names += ["large-product-update (2000 variants)", "large-product-update (10 variants)"]
            else:
                names.append(s)
        for name in names:
            for c, l in sorted(runs(lines, name, None if name.startswith(("pgbench", "redis")) else "").items()):
                ceiling = runs(lines, ceiling_of.get(name, ""), None).get(c)
                rat = ratio(l.get("throughput_rps"), get(ceiling, "throughput_rps")) if ceiling else None
                note = []
                spc = get(l, "extra", "statements_per_call")
                if spc is not None:
                    note.append(f"{spc:g} SQL statements/call")
                if get(l, "extra", "value_bytes"):
                    note.append(f"{l['extra']['value_bytes']} B values; p90 column is p95")
                if l.get("bytes_per_response"):
                    note.append(f"{l['bytes_per_response']} B/response")
                if l.get("error_kinds"):
                    note.append("errors: " + ", ".join(f"{k} ×{v}" for k, v in l["error_kinds"].items()))
                lat = l.get("latency_ms", {})
                w(
                    f"| {name} | {c} | {fmt(l.get('throughput_rps'))} | {fmt(lat.get('p50'), 2)} | {fmt(lat.get('p90'), 2)} | "
                    f"{fmt(lat.get('p99'), 2)} | {fmt(lat.get('max'), 2)} | {fmt(l.get('errors', 0))} | {pct(rat)} | {'; '.join(note)} |"
                )
        w("")

    w("### 5. Outbox relay\n")
    w("| run | events written / received | write rate /s | publish rate /s | latency p50 | p90 | p99 | max |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for l in lines:
        if l["scenario"] == "relay-burst":
            lat = l.get("latency_ms", {})
            w(
                f"| burst: product updates, {l['concurrency']} connections{' (during the mixed load)' if l.get('label') else ''} | "
                f"{fmt(l.get('events_written'))} / {fmt(l.get('events_received'))} | {fmt(l.get('writes_per_s'))} | "
                f"{fmt(l.get('events_per_s'))} | {fmt(lat.get('p50'))} | {fmt(lat.get('p90'))} | {fmt(lat.get('p99'))} | {fmt(lat.get('max'))} |"
            )
        elif l["scenario"] == "relay-drain":
            lat = l.get("latency_from_commit_ms", {})
            w(
                f"| drain: {fmt(l.get('events_written'))} rows in one commit (latency from commit) | "
                f"{fmt(l.get('events_written'))} / {fmt(l.get('events_received'))} | — | {fmt(l.get('events_per_s'))} | "
                f"{fmt(lat.get('p50'))} | {fmt(lat.get('p90'))} | {fmt(lat.get('p99'))} | {fmt(lat.get('max'))} |"
            )
    w("\nBurst latency = arrival at a private queue bound to `#` on `catalog_events` minus the envelope's "
      "`timestamp` (stamped when the write appended its event, just before commit). Drain latency counts from "
      "the commit of all rows; the publish rate is events over (last arrival − first write or commit).\n")

    w("### 6. Memory and start-up\n")
    w("| process | start-up (exec → ready) | RSS idle | RSS under load (max sampled) | RSS after load | peak (VmHWM) |")
    w("|---|---:|---:|---:|---:|---:|")
    for process in ("catalog-grpc", "catalog-api", "catalog-worker"):
        start = next((l for l in lines if l["scenario"] == "startup" and l.get("process") == process), {})
        m = {l["phase"]: l for l in mem if l["process"] == process}
        hwm = max((l.get("hwm_kb", 0) for l in mem if l["process"] == process), default=0)
        def mb(phase):
            return f"{m[phase]['rss_kb'] / 1024:.1f} MB" if phase in m else "–"
        w(f"| {process} | {fmt(start.get('startup_ms'), 0)} ms | {mb('idle')} | {mb('load')} | {mb('after-load')} | {hwm / 1024:.1f} MB |")
    mix = next((l for l in lines if l["scenario"] == "mix"), None)
    if mix:
        w(f"\nLoad phase: {mix['concurrency']} clients of `{get(mix, 'extra', 'mix')}` "
          f"({fmt(mix.get('throughput_rps'))} req/s, p99 {fmt(get(mix, 'latency_ms', 'p99'), 2)} ms) while a relay burst of "
          "10,000 product updates ran; RSS sampled every 0.2 s.\n")

    if stock_lines:
        md.extend(stock_section(stock_lines))

    # ---------------- charts ----------------
    charts = make_charts(lines, args.out_dir)
    if charts:
        w("## Charts\n")
        for path, caption in charts:
            w(f"![{caption}]({os.path.basename(path)})\n")
    else:
        w("## Charts\n\nmatplotlib is not installed: no charts this time.\n")

    with open(os.path.join(args.out_dir, "RESULTS.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md).rstrip() + "\n")
    print(f"wrote {os.path.join(args.out_dir, 'RESULTS.md')}")


def stock_targets(stock_lines):
    """Target 11 (issue 19): the stock read model's events/s, and what in_stock costs a list."""
    targets = []
    worker = next((l for l in stock_lines if l["scenario"] == "stock-events" and l.get("consumer") == "worker"
                   and l.get("label", "") == ""), None)
    noop = next((l for l in stock_lines if l["scenario"] == "stock-events" and l.get("consumer") == "noop"), None)
    # A ceiling is the best of its repeated runs (the machine may be shared: each run says how
    # much CPU other work took meanwhile).
    pg, pg_runs = {}, {}
    for l in stock_lines:
        if l["scenario"].startswith("pgbench-stock-"):
            k = (l["scenario"], l["concurrency"])
            pg_runs[k] = pg_runs.get(k, 0) + 1
            if k not in pg or l.get("throughput_rps", 0) > pg[k].get("throughput_rps", 0):
                pg[k] = l
    run = next((l for l in stock_lines if l["scenario"] == "stock-machine"), {})
    where = f"bench/stock.sh, {run.get('date', '?')}, commit {run.get('commit', '?')}"
    if worker:
        rate = worker.get("events_per_s")
        upsert, txn = pg.get(("pgbench-stock-upsert", 1)), pg.get(("pgbench-stock-transaction", 1))
        complete = worker.get("rows_written") == worker.get("events")
        targets.append((
            f"11. Stock events applied by the worker ≥ 5,000/s ({fmt(worker['events'])} `inventory.stock.updated` as "
            f"Inventory prints them, {fmt(worker['variants'])} variants × {worker['warehouses']} warehouses; {where})",
            f"{fmt(rate)} events/s ({fmt(worker.get('rows_written'))} rows in {fmt(worker.get('seconds'), 1)} s from the "
            f"first publish; {fmt(worker.get('sql_statements_per_event'), 2)} SQL statements per event; "
            f"{fmt(whole(worker.get('handler_calls')))} handler calls of {fmt(worker.get('handler_mean_ms'), 2)} ms, "
            f"{fmt(ratio(worker.get('events'), worker.get('handler_calls')), 1)} events each on average)",
            f"no-op consumer (prefetch {get(noop, 'prefetch')}, ack each) {fmt(get(noop, 'events_per_s'))}/s; "
            f"pgbench, 1 client (best of {pg_runs.get(('pgbench-stock-upsert', 1), 0)}): the upsert "
            f"{fmt(get(upsert, 'throughput_rps'))}/s, one event per transaction (as before batching) "
            f"{fmt(get(txn, 'throughput_rps'))}/s",
            f"{pct(ratio(rate, get(noop, 'events_per_s')))} of the broker, {pct(ratio(rate, get(upsert, 'throughput_rps')))} "
            f"of the upsert, {pct(ratio(rate, get(txn, 'throughput_rps')))} of one event per transaction",
            rate is not None and rate >= 5000 and complete,
        ))
    lists = {}
    for l in stock_lines:
        if "throughput_rps" in l and l["scenario"].startswith("rest-"):
            lists[(l["scenario"], l["concurrency"])] = l
    cs = sorted({c for (_, c) in lists})
    if cs:
        hi = cs[-1]
        plain, filtered, noop_api = (lists.get((n, hi)) for n in ("rest-variants", "rest-variants-in-stock", "rest-noop"))
        big, big_filtered = lists.get(("rest-variants-large", hi)), lists.get(("rest-variants-large-in-stock", hi))
        fill = next((l for l in stock_lines if l["scenario"] == "stock-fill"), {})
        targets.append((
            f"11. `in_stock=true` on one page of a product's variants, {fmt(fill.get('variants'))} variants, "
            f"{fmt(fill.get('rows'))} stock rows ({hi} clients; no target set: reported)",
            f"3-variant products: filtered {fmt(get(filtered, 'throughput_rps'))} req/s, p99 "
            f"{fmt(get(filtered, 'latency_ms', 'p99'), 2)} ms; unfiltered {fmt(get(plain, 'throughput_rps'))} req/s, p99 "
            f"{fmt(get(plain, 'latency_ms', 'p99'), 2)} ms. 2,000-variant product: filtered "
            f"{fmt(get(big_filtered, 'throughput_rps'))} req/s, p99 {fmt(get(big_filtered, 'latency_ms', 'p99'), 2)} ms; "
            f"unfiltered {fmt(get(big, 'throughput_rps'))} req/s, p99 {fmt(get(big, 'latency_ms', 'p99'), 2)} ms",
            f"GET /api/v1/noop {fmt(get(noop_api, 'throughput_rps'))} req/s, p99 {fmt(get(noop_api, 'latency_ms', 'p99'), 2)} ms",
            f"filtered/unfiltered {pct(ratio(get(filtered, 'throughput_rps'), get(plain, 'throughput_rps')))} "
            f"(2,000 variants: {pct(ratio(get(big_filtered, 'throughput_rps'), get(big, 'throughput_rps')))}); "
            f"filtered/no-op {pct(ratio(get(filtered, 'throughput_rps'), get(noop_api, 'throughput_rps')))}",
            None,
        ))
    return targets


def stock_section(stock_lines):
    """### 11: every run of bench/stock.sh's results."""
    out = ["### 11. Stock read model (bench/stock.sh)\n"]
    out.append("| run | events | published /s | applied (or acked) /s | seconds from first publish | first publish → first apply | SQL statements / event | handler calls | ms / call | CPU-s: worker, PostgreSQL, RabbitMQ, publisher; other processes (Redis included) | machine busy / capacity CPU-s |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for l in stock_lines:
        if l["scenario"] != "stock-events":
            continue
        cpu = l.get("cpu_s", {})
        if l.get("consumer") == "noop":
            name = f"no-op consumer, prefetch {l.get('prefetch')}, ack each"
        elif l.get("label") == "from-empty":
            name = "worker → an empty variant_stock (analyzed empty, new warehouses)"
        else:
            name = "worker → variant_stock " + ("(the fill's warehouses)" if l.get("onto_fill") else "(new warehouses)")
        if l.get("consumer") == "worker" and l.get("rows_written") != l.get("events"):
            name += f" — timed out, {fmt(l.get('rows_written'))} applied"
        out.append(
            f"| {name} | {fmt(l.get('events'))} | {fmt(l.get('published_per_s'))} | {fmt(l.get('events_per_s'))} | "
            f"{fmt(l.get('seconds'), 2)} | {fmt(l.get('first_publish_to_first_apply_s'), 2)} | "
            f"{fmt(l.get('sql_statements_per_event'), 2)} | {fmt(whole(l.get('handler_calls')))} | {fmt(l.get('handler_mean_ms'), 3)} | "
            f"{fmt(cpu.get('catalog_worker'))}, {fmt(cpu.get('postgres'))}, {fmt(cpu.get('rabbitmq'))}, "
            f"{fmt(cpu.get('publisher_and_noop_consumer'))}; {fmt(cpu.get('other'))} | "
            f"{fmt(get(l, 'machine_cpu_s', 'busy'))} / {fmt(get(l, 'machine_cpu_s', 'capacity'))} |"
        )
    out.append("")
    out.append("| scenario | clients | throughput /s | p50 | p90 | p99 | max | errors | ratio | notes |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    noop_api = {l["concurrency"]: l for l in stock_lines if l["scenario"] == "rest-noop" and "throughput_rps" in l}
    order = ["pgbench-stock-upsert", "pgbench-stock-transaction", "rest-variants", "rest-variants-in-stock",
             "rest-variants-large", "rest-variants-large-in-stock", "rest-noop"]
    for name in order:
        for l in sorted((l for l in stock_lines if l["scenario"] == name and "throughput_rps" in l), key=lambda l: l["concurrency"]):
            c = l["concurrency"]
            rat = ratio(l.get("throughput_rps"), get(noop_api.get(c), "throughput_rps")) if name.startswith("rest-variants") else None
            note = []
            if l.get("bytes_per_response"):
                note.append(f"{l['bytes_per_response']} B/response")
            if l.get("error_kinds"):
                note.append("errors: " + ", ".join(f"{k} ×{v}" for k, v in l["error_kinds"].items()))
            if l.get("other_cpu_s") is not None:
                note.append(f"machine busy {fmt(l.get('busy_cpu_s'))} of {fmt(l.get('cpu_capacity_s'))} CPU-s, "
                            f"other work at least {fmt(l['other_cpu_s'])} (sampled once a second)")
            lat = l.get("latency_ms", {})
            out.append(
                f"| {name} | {c} | {fmt(l.get('throughput_rps'))} | {fmt(lat.get('p50'), 2)} | {fmt(lat.get('p90'), 2)} | "
                f"{fmt(lat.get('p99'), 2)} | {fmt(lat.get('max'), 2)} | {fmt(l.get('errors', 0))} | {pct(rat)} | {'; '.join(note)} |"
            )
    out.append("\n`ratio`: against `GET /api/v1/noop` at the same concurrency. pgbench rows: the statements the worker "
               "sends per event (`catalog-bench sql-stock-pgbench`), from `clients` connections; the one-client runs "
               "are repeated and the target row takes the best.\n")
    return out


def second_round_targets(lines, hi, results_dir):
    """Issue 21's targets: (target, figure, ceiling, ratio, met or None, chart bars {name: value})."""
    def at(scenario, label=None):
        return runs(lines, scenario, label).get(hi)

    def tput(run):
        return get(run, "throughput_rps")

    def p99(run):
        return get(run, "latency_ms", "p99")

    out = []
    pr = at("pgbench-validate-batch-random")
    for label in ("cold", "warm"):
        v = at("grpc-validate-batch-random", label)
        r = ratio(tput(v), tput(pr))
        out.append((
            f"1. ValidateVariantsBatch, 100 ids at random over organization #1, cache {label} at the start: "
            "≥ 150 % of pgbench drawing the same way, p99 ≤ 15 ms",
            f"{fmt(tput(v))} calls/s, p99 {fmt(p99(v), 2)} ms",
            f"pgbench {fmt(tput(pr))} statements/s, p99 {fmt(p99(pr), 2)} ms",
            pct(r), None if r is None else r >= 1.5 and p99(v) <= 15,
            {f"batch random ({label})": tput(v), "pgbench random": tput(pr)},
        ))
    def beside(target, run, ceiling_name, ceiling, least, bars):
        r = ratio(tput(run), tput(ceiling))
        return (
            target,
            f"{fmt(tput(run))} calls/s, p99 {fmt(p99(run), 2)} ms",
            f"{ceiling_name} {fmt(tput(ceiling))}/s, p99 {fmt(p99(ceiling), 2)} ms",
            pct(r), None if r is None else r >= least,
            dict(zip(bars, (tput(run), tput(ceiling)))),
        )

    out.append(beside("1. ValidateVariantsBatch, the same 100 ids every call (warm): ≥ 300 % of pgbench",
                      at("grpc-validate-batch", ""), "pgbench", at("pgbench-validate-batch"), 3.0,
                      ("batch repeated", "pgbench")))
    out.append(beside("2. GetProductDetails warm: ≥ 60 % of grpc.health.v1", at("grpc-product-details", ""),
                      "grpc.health.v1", at("grpc-health"), 0.60, ("details warm", "grpc health")))
    out.append(beside("2. GetProductDetails cold: ≥ 80 % of pgbench running its one statement",
                      at("grpc-product-details-cold"), "pgbench", at("pgbench-product-details-cold"), 0.80,
                      ("details cold", "pgbench")))
    rp, rn, ra = at("rest-product"), at("rest-noop"), at("rest-noop-authenticated")
    r = ratio(tput(rp), tput(rn))
    out.append((
        "3. REST cached GET /products/{id}: ≥ 40 % of the no-op endpoint (and beside the authenticated no-op)",
        f"{fmt(tput(rp))} req/s, p99 {fmt(p99(rp), 2)} ms",
        f"no-op {fmt(tput(rn))} req/s; authenticated no-op {fmt(tput(ra))} req/s "
        f"({pct(ratio(tput(rp), tput(ra)))} of it)",
        pct(r), None if r is None else r >= 0.40 and not get(rp, "errors"),
        {"product": tput(rp), "no-op": tput(rn), "authenticated no-op": tput(ra)},
    ))
    # The barcode's floor: its one statement under pgbench (prepared, as the service sends it)
    # and a gRPC call that does nothing, both at the same concurrency.
    pb, health = at("pgbench-search-barcode"), at("grpc-health")
    for scenario, limit, name in (("grpc-search-barcode", 3.0, "barcode"), ("grpc-search-title-typo", 25.0, "a typo'd title")):
        run = at(scenario)
        floors = name == "barcode" and pb is not None
        out.append((
            f"4. POS search, {name}: p99 ≤ {limit:g} ms",
            f"p99 {fmt(p99(run), 2)} ms, {fmt(tput(run))} calls/s",
            f"pgbench (prepared) p99 {fmt(p99(pb), 2)} ms at {fmt(tput(pb))}/s; grpc.health.v1 p99 "
            f"{fmt(p99(health), 2)} ms" if floors else "–",
            "–", None if p99(run) is None else p99(run) <= limit,
            dict({f"{name} p99 (ms)": p99(run), "limit (ms)": limit},
                 **({"pgbench p99 (ms)": p99(pb), "grpc health p99 (ms)": p99(health)} if floors else {})),
        ))
    drain = next((l for l in lines if l["scenario"] == "relay-drain"), None)
    rate, ceiling = get(drain, "events_per_s"), get(drain, "publish_ceiling", "events_per_s")
    out.append((
        "5. Relay drain ≥ 5,000 events/s", f"{fmt(rate)} events/s",
        "–" if ceiling is None else f"the same messages through the worker's publisher, no database: {fmt(ceiling)}/s",
        pct(ratio(rate, ceiling)), None if rate is None else rate >= 5000,
        {"drain (events/s)": rate, "publisher alone": ceiling, "target": 5000},
    ))
    import_path = os.path.join(results_dir, "import.jsonl")
    imports = [l for l in load(import_path) if l.get("scenario") == "import-csv"] if os.path.exists(import_path) else []
    largest = max(imports, key=lambda l: l["rows"]) if imports else None
    out.append((
        "5. CSV import ≥ 10,000 rows/s (100,000 variants)"
        + (" (bench/import.sh, its last run)" if largest else ""),
        f"{fmt(get(largest, 'rows_per_s'))} rows/s", "–", "–",
        None if largest is None else largest["rows_per_s"] >= 10000,
        {"import (rows/s)": get(largest, "rows_per_s"), "target": 10000},
    ))
    mem = [l for l in lines if l["scenario"] == "memory"]
    for phase, limit in (("idle", 30), ("load", 150)):
        per = {l["process"]: l["rss_kb"] / 1024 for l in mem if l["phase"] == phase}
        out.append((
            f"6. RSS ≤ {limit} MB per process ({phase})",
            ", ".join(f"{name} {mb:.1f} MB" for name, mb in sorted(per.items())), "–", "–",
            all(mb <= limit for mb in per.values()) if per else None,
            dict({name: mb for name, mb in sorted(per.items())}, limit=limit),
        ))
    return out


def tracing_section(results_dir, w):
    """Issue 22: the cost of trace context (export off) and of OTLP export at 10 % sampling,
    against the build without either, all measured in one run of bench/tracing.sh."""
    path = os.path.join(results_dir, "tracing.jsonl")
    lines = load(path) if os.path.exists(path) else []
    machine = next((l for l in lines if l["scenario"] == "tracing-machine"), None)
    if not machine:
        return

    def mean(scenario, build):
        values = [l["throughput_rps"] for l in lines
                  if l["scenario"] == scenario and l.get("label") == f"tracing-{build}" and "throughput_rps" in l]
        return sum(values) / len(values) if values else None

    def p99(scenario, build):
        values = [get(l, "latency_ms", "p99") for l in lines
                  if l["scenario"] == scenario and l.get("label") == f"tracing-{build}"]
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    def cpu_us(scenario, build):
        """The serving process's CPU per call, µs: its CPU over each run (warm-up included)
        over the calls the run made at its measured rate."""
        per_round = []
        for l in lines:
            if l["scenario"] == scenario and l.get("label") == f"tracing-{build}" and l.get("throughput_rps"):
                cpu = next((c for c in lines if c["scenario"] == "tracing-cpu" and c.get("label") == l["label"]
                            and c.get("of") == scenario and lines.index(c) > lines.index(l)), None)
                if cpu:
                    calls = l["throughput_rps"] * (l["duration_s"] + l.get("warmup_s", 0))
                    per_round.append(1e6 * cpu["cpu_s"] / calls)
        return sum(per_round) / len(per_round) if per_round else None

    builds = [b for b in ("baseline", "off", "on-10pct") if mean("grpc-health", b)]
    rounds = max((l.get("round", 0) for l in lines if l["scenario"] == "tracing-spans"), default=0)
    w("## Tracing overhead (issue 22, bench/tracing.sh)\n")
    w(f"{machine['date']}, commit {machine['commit']}, {machine['nproc']} cores; 16 clients; each figure the mean "
      f"of {rounds} rounds in which the builds took turns against the same database and Redis. `baseline` is "
      f"commit {machine['baseline']} (no trace context at all); `off` this commit without an OTLP endpoint; "
      "`on-10pct` this commit exporting every span of 10 % of the traces (`OTEL_TRACES_SAMPLER=traceidratio`, "
      "0.1) to a real OTLP/gRPC endpoint (`catalog-bench otlp-sink`). The ceilings (health check, no-op "
      "endpoint) go through the same middleware, so the cost shows as each build's throughput against the "
      "baseline's.\n")
    w("| build | GetProductDetails warm /s | p99 ms | CPU µs/call | vs baseline | health /s | REST cached product /s | p99 ms | CPU µs/call | vs baseline | REST no-op /s | spans exported |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = {s: cpu_us(s, "baseline") for s in ("grpc-product-details", "rest-product")}

    def cost(scenario, build):
        r = ratio(cpu_us(scenario, build), base[scenario])
        return None if r is None else r - 1

    def signed(x):
        return "–" if x is None else f"{100 * x:+.1f} %"

    for b in builds:
        spans = sum(l["spans"] for l in lines if l["scenario"] == "tracing-spans" and l.get("label") == f"tracing-{b}")
        w(f"| {b} | {fmt(mean('grpc-product-details', b))} | {fmt(p99('grpc-product-details', b), 2)} "
          f"| {fmt(cpu_us('grpc-product-details', b))} | {signed(cost('grpc-product-details', b))} "
          f"| {fmt(mean('grpc-health', b))} | {fmt(mean('rest-product', b))} | {fmt(p99('rest-product', b), 2)} "
          f"| {fmt(cpu_us('rest-product', b))} | {signed(cost('rest-product', b))} | {fmt(mean('rest-noop', b))} | {spans:,} |")
    off = [c for c in (cost("grpc-product-details", "off"), cost("rest-product", "off")) if c is not None]
    on = [c for c in (cost("grpc-product-details", "on-10pct"), cost("rest-product", "on-10pct")) if c is not None]
    if off:
        w(f"\nThe cost is the serving process's CPU per call against the baseline's. Export off: at most "
          f"{signed(max(off))} and as low as {signed(min(off))}, i.e. within the noise; export on at 10 %: at most "
          f"{signed(max(on) if on else None)}. Throughput on this 2-core machine, shared by the load generator, "
          "Redis and the server, moves by more than that between rounds of the same build.\n")
    context = next((l for l in lines if l["scenario"] == "tracing-context-cost"), None)
    details_cpu, rest_cpu = base["grpc-product-details"], base["rest-product"]
    if context and details_cpu and rest_cpu:
        worst = max(context["no_traceparent_ns"], context["traceparent_ns"]) / 1000
        w(f"What export off adds, timed alone (`catalog-bench trace-context-cost`, {context['calls']:,} calls): "
          f"{context['no_traceparent_ns']:.0f} ns per call without a `traceparent`, "
          f"{context['traceparent_ns']:.0f} ns with one (parsed, made current around the handler, its ids "
          f"written for the access log): {pct(worst / details_cpu)} of the baseline's CPU per warm "
          f"GetProductDetails ({fmt(details_cpu)} µs), {pct(worst / rest_cpu)} of a cached REST read "
          f"({fmt(rest_cpu)} µs) — target < 2 %: {verdict(worst / details_cpu < 0.02)}.\n")


def scale_out_section(results_dir, w):
    """Issue 23: reads through the replica path against the primary path, and the relay's drain
    with one partition and worker against two, all measured in one run of bench/scale_out.sh."""
    path = os.path.join(results_dir, "scale_out.jsonl")
    lines = load(path) if os.path.exists(path) else []
    machine = next((l for l in lines if l["scenario"] == "scale-machine"), None)
    if not machine:
        return

    def rows(scenario, label):
        return [l for l in lines if l["scenario"] == scenario and l.get("label") == label]

    def of(scenario, label, field="throughput_rps"):
        return [l[field] for l in rows(scenario, label) if field in l]

    def mean(values):
        return sum(values) / len(values) if values else None

    rounds = len(of("rest-noop", "reads-primary"))
    w("## Scale-out (issue 23, bench/scale_out.sh)\n")
    w(f"{machine['date']}, commit {machine['commit']}, {machine['nproc']} cores; each figure the mean of {rounds} "
      "rounds in which the variants took turns. Reads: 16 clients, the uncached reads a replica takes over (the "
      "REST filtered product list, the gRPC scanned-barcode search) through the primary path and through the "
      "replica path (`DATABASE_READ_URL` naming a streaming replica of the same machine, `deploy/local/replica.sh`), "
      "each beside its no-op ceiling measured in the same round. Both PostgreSQL servers, the service and the "
      "load generator share the two cores: the ratio says what the routing costs, not what a replica on its "
      "own machine adds.\n")
    w("| path | REST filtered list /s | p99 ms | vs REST no-op | gRPC barcode search /s | p99 ms | vs gRPC health | reads served by the replica (REST / gRPC) |")
    w("|---|---|---|---|---|---|---|---|")
    rates = {}
    for p in ("primary", "replica"):
        label = f"reads-{p}"
        rest, grpc = mean(of("rest-products-filtered", label)), mean(of("grpc-search-barcode", label))
        rates[p] = (rest, grpc)
        rest_p99 = mean([get(l, "latency_ms", "p99") for l in rows("rest-products-filtered", label)])
        grpc_p99 = mean([get(l, "latency_ms", "p99") for l in rows("grpc-search-barcode", label)])
        served = rows("scale-reads-served", label)
        share = "–"
        if served and sum(l["api_replica"] + l["api_primary"] + l["grpc_replica"] + l["grpc_primary"] for l in served):
            api = sum(l["api_replica"] for l in served) / max(1, sum(l["api_replica"] + l["api_primary"] for l in served))
            grpc_share = sum(l["grpc_replica"] for l in served) / max(1, sum(l["grpc_replica"] + l["grpc_primary"] for l in served))
            share = f"{pct(api)} / {pct(grpc_share)}"
        w(f"| {p} | {fmt(rest)} | {fmt(rest_p99, 2)} | {fmt(ratio(rest, mean(of('rest-noop', label))), 3)} "
          f"| {fmt(grpc)} | {fmt(grpc_p99, 2)} | {fmt(ratio(grpc, mean(of('grpc-health', label))), 3)} | {share} |")
    if all(rates.get(p) and None not in rates[p] for p in ("primary", "replica")):
        w(f"\nReplica path against primary path: REST list {fmt(ratio(rates['replica'][0], rates['primary'][0]), 3)}, "
          f"gRPC barcode search {fmt(ratio(rates['replica'][1], rates['primary'][1]), 3)}.\n")
    w("Relay drain: the same backlog of outbox rows of two organizations (one in each partition), drained by one "
      "worker relaying one partition, then by two workers relaying one partition each; the publish ceiling is "
      "the same messages published again by one `Publisher` with no database in the loop.\n")
    w("| partitions (= workers) | events | drained /s | commit → last publish s | publish ceiling /s | ratio to ceiling |")
    w("|---|---|---|---|---|---|")
    drained = {}
    for n in (1, 2):
        label = f"drain-{n}-partitions"
        runs_ = rows("relay-drain", label)
        if not runs_:
            continue
        drained[n] = mean([l["events_per_s"] for l in runs_])
        ceiling = mean([get(l, "publish_ceiling", "events_per_s") for l in runs_ if get(l, "publish_ceiling", "events_per_s")])
        w(f"| {n} | {runs_[0]['events_written']:,} | {fmt(drained[n])} | {fmt(mean([l['commit_to_last_publish_s'] for l in runs_]), 2)} "
          f"| {fmt(ceiling)} | {fmt(mean([l['ratio_to_publish_ceiling'] for l in runs_ if 'ratio_to_publish_ceiling' in l]), 3)} |")
    if drained.get(1) and drained.get(2):
        gain = ratio(drained[2], drained[1])
        note = ""
        if gain < 1.2:
            note = (" No gain on this machine: a second relay needs a core the first does not use, and here the one "
              "relay, RabbitMQ, PostgreSQL and the workers' own consumers of the relayed events (the cache "
              "invalidation) already share the two (the one-partition drain's profile below: 5.5 CPU-s in 3.5 s). "
              "The ratio to the publish ceiling, measured with the workers running, rises; the ceiling itself "
              "falls with the second worker's consumers. Where the relay has a core of its own, each partition "
              "is one more serial pipeline (claim, publish, confirm, mark).")
        w(f"\nTwo partitions against one: {fmt(gain, 2)}× the drain rate.{note}\n")


def profiles_section(lines, results_dir, w):
    """Where the CPU went in the runs of the missed targets (run.sh and import.sh `profile`)."""
    import_path = os.path.join(results_dir, "import.jsonl")
    profiles = [l for l in lines if l["scenario"] == "profile"]
    if os.path.exists(import_path):
        profiles += [l for l in load(import_path) if l.get("scenario") == "profile"]
    if not profiles:
        return
    w("## Profiles of the targets' runs\n")
    w("Each run again after the measured ones, with every process's CPU time sampled from `/proc` "
      "(`report.py cpu-sample`) and the service process under `perf record -F 499` (no call graphs: "
      "release builds keep symbols, not frame pointers). CPU per operation divides each process's CPU "
      "time by the operations the run completed (its warm-up included in the time, not in the count, "
      "so the figures are upper bounds). 2 cores = 2 CPU-seconds per second.\n")
    for p in profiles:
        ops = p.get("operations")
        w(f"**{p['label']}** ({p['process']} profiled; busy {fmt(p.get('busy_cpu_s'))} CPU-s over "
          f"{fmt(p.get('wall_s'))} s{'' if not ops else f', {fmt(ops)} operations'})\n")
        w("| process | CPU s | share of busy | CPU µs per operation |\n|---|---:|---:|---:|")
        busy = p.get("busy_cpu_s") or 0
        for name, cpu_s in p.get("processes", {}).items():
            share = f"{100 * cpu_s / busy:.0f} %" if busy else "–"
            per = f"{1e6 * cpu_s / ops:,.0f}" if ops else "–"
            w(f"| {name} | {cpu_s:.2f} | {share} | {per} |")
        if p.get("top_symbols"):
            w(f"\n<details><summary>{p['process']}: hottest functions (perf, % of its samples)</summary>\n")
            w("| % | object | function |\n|---:|---|---|")
            for pct_, dso, sym in p["top_symbols"]:
                w(f"| {pct_:.1f} | {dso} | `{sym.replace('|', '/')}` |")
            w("\n</details>\n")
        w("")


def second_round_chart(targets, out_dir):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    columns = 3
    rows = (len(targets) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(15, 3.2 * rows))
    for ax, (target, _, _, _, ok, bars) in zip(axes.flat, targets):
        names = list(bars)
        values = [bars[n] or 0 for n in names]
        colors = ["tab:green" if ok else "tab:red" if ok is False else "tab:gray"] + ["tab:blue"] * (len(names) - 1)
        ax.bar(names, values, color=colors)
        ax.set_title(target if len(target) < 70 else target[:67] + "…", fontsize=7)
        ax.tick_params(axis="x", labelsize=7, rotation=15)
        ax.grid(True, axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(targets):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "targets_round2.png"), dpi=100)
    plt.close(fig)


def make_charts(lines, out_dir):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker  # noqa: F401  (used through the matplotlib module)
    except ImportError:
        return []
    charts = []
    groups = [
        ("gRPC", ["grpc-health", "grpc-validate-batch", "pgbench-validate-batch", "grpc-product-details",
                  "grpc-search-barcode", "grpc-search-sku-prefix", "grpc-search-title-typo"]),
        ("REST", ["rest-noop", "rest-product", "rest-products-filtered", "rest-search"]),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, (title, names) in zip(axes, groups):
        for name in names:
            data = runs(lines, name, None if name.startswith("pgbench") else "")
            if not data:
                continue
            cs = sorted(data)
            ax.plot(cs, [data[c]["latency_ms"]["p99"] for c in cs], marker="o", label=f"{name} p99")
            ax.plot(cs, [data[c]["latency_ms"]["p50"] for c in cs], marker=".", linestyle=":", alpha=0.6,
                    color=ax.lines[-1].get_color())
        ax.set_xscale("log", base=2)
        all_c = sorted({c for name in names for c in runs(lines, name, None if name.startswith("pgbench") else "")})
        if all_c:
            ax.set_xticks(all_c)
            ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_yscale("log")
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("latency (ms): p99 solid, p50 dotted")
        ax.set_title(f"{title}: latency vs concurrency")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(out_dir, "latency_vs_concurrency.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    charts.append((path, "Latency vs concurrency"))

    names = ["grpc-health", "grpc-validate-batch", "pgbench-validate-batch", "grpc-product-details",
             "grpc-product-details-cold", "redis-get", "grpc-search-barcode", "grpc-search-sku-prefix",
             "grpc-search-title-typo", "rest-noop", "rest-product", "rest-products-filtered", "rest-search",
             "large-product-update (2000 variants)", "large-product-update (10 variants)"]
    concurrencies = sorted({l["concurrency"] for l in lines if "throughput_rps" in l and l.get("label", "") != "memory-load"})
    present = [n for n in names if runs(lines, n, None if n.startswith(("pgbench", "redis")) else "")]
    fig, ax = plt.subplots(figsize=(13, 6))
    width = 0.8 / max(1, len(concurrencies))
    for i, c in enumerate(concurrencies):
        values = [get(runs(lines, n, None if n.startswith(("pgbench", "redis")) else "").get(c), "throughput_rps") or 0 for n in present]
        ax.bar([x + i * width for x in range(len(present))], values, width, label=f"{c} client{'' if c == 1 else 's'}")
    ax.set_xticks([x + width * (len(concurrencies) - 1) / 2 for x in range(len(present))])
    ax.set_xticklabels(present, rotation=35, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("requests per second (log)")
    ax.set_title("Throughput per scenario (ceilings: grpc-health, pgbench, redis-get, rest-noop)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "throughput.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    charts.append((path, "Throughput per scenario"))
    return charts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ingest-pgbench")
    p.add_argument("--dir", required=True)
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--scenario", default="pgbench-validate-batch")
    p.set_defaults(func=ingest_pgbench)
    p = sub.add_parser("ingest-redis")
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.set_defaults(func=ingest_redis)
    p = sub.add_parser("cpu-sample")
    p.add_argument("--stop-file", required=True)
    p.add_argument("--max-seconds", type=float, default=3600)
    p.add_argument("--database", default="catalog_bench")
    p.add_argument("--interval", type=float, default=1.0)
    p.set_defaults(func=cpu_sample)
    p = sub.add_parser("ingest-profile")
    p.add_argument("--label", required=True)
    p.add_argument("--process", required=True)
    p.add_argument("--cpu", required=True)
    p.add_argument("--run")
    p.add_argument("--perf")
    p.add_argument("--operations", type=float)
    p.set_defaults(func=ingest_profile)
    p = sub.add_parser("render")
    p.add_argument("--results", required=True)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=render)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the Grafana dashboards of the three processes (dashboards/*.json) from the panels below.

    python3 deploy/k8s/components/monitoring/dashboards.py          # rewrite the JSON files
    python3 deploy/k8s/components/monitoring/dashboards.py --check  # fail if they differ

deploy/local/test.sh runs the check, and checks every metric the dashboards and the alert rules
name against /metrics of the running processes.
"""

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "dashboards"

# Each panel: (title, unit, [(PromQL, legend)]). `$pod` and `$namespace` are the dashboard's
# variables; every series carries `service` (the registry's constant label) and the pod's labels.
SEL = 'namespace=~"$namespace", pod=~"$pod"'


def common(service):
    sel = f'service="{service}", {SEL}'
    return [
        ("Ready (1) per pod", "none", [(f"catalog_ready{{{sel}}}", "{{pod}}")]),
        ("CPU (cores)", "none", [(f"rate(catalog_process_cpu_seconds_total{{{sel}}}[5m])", "{{pod}}")]),
        ("Resident memory", "bytes", [(f"catalog_process_resident_memory_bytes{{{sel}}}", "{{pod}}")]),
        (
            "PostgreSQL pool: busy / size",
            "percentunit",
            [
                (
                    f"catalog_db_pool_connections{{state=\"busy\", {sel}}} / catalog_db_pool_max_connections{{{sel}}}",
                    "{{pod}}",
                )
            ],
        ),
        (
            "Redis pool: busy / size",
            "percentunit",
            [
                (
                    f"catalog_redis_pool_connections{{state=\"busy\", {sel}}} / catalog_redis_pool_max_connections{{{sel}}}",
                    "{{pod}}",
                )
            ],
        ),
        ("SQL statements per second", "ops", [(f"sum(rate(catalog_db_statements_total{{{sel}}}[5m]))", "statements")]),
    ]


def cache_panels(service):
    sel = f'service="{service}", {SEL}'
    return [
        (
            "Cached reads answered from memory, Redis, or the database",
            "ops",
            [(f"sum by (answered_from) (rate(catalog_cache_lookups_total{{{sel}}}[5m]))", "{{answered_from}}")],
        ),
        (
            "Cache hit ratio",
            "percentunit",
            [
                (
                    f'sum(rate(catalog_cache_lookups_total{{answered_from!="database", {sel}}}[5m])) '
                    f"/ sum(rate(catalog_cache_lookups_total{{{sel}}}[5m]))",
                    "hit ratio",
                )
            ],
        ),
    ]


def latency_panels(histogram, by):
    """Quantiles of a request-duration histogram, and its p99 per `by` (method, route)."""
    rate = f"rate({histogram}_bucket{{{SEL}}}[5m])"
    return [
        (
            "Latency quantiles",
            "s",
            [(f"histogram_quantile({q}, sum by (le) ({rate}))", f"p{int(q * 100)}") for q in (0.5, 0.9, 0.99)],
        ),
        (f"p99 by {by}", "s", [(f"histogram_quantile(0.99, sum by ({by}, le) ({rate}))", "{{" + by + "}}")]),
    ]


GRPC = [
    (
        "Calls per second by method",
        "reqps",
        [('sum by (method) (rate(catalog_grpc_requests_total{' + SEL + '}[5m]))', "{{method}}")],
    ),
    (
        "Errors per second by code (not OK)",
        "reqps",
        [('sum by (code) (rate(catalog_grpc_requests_total{code!="Ok", ' + SEL + '}[5m]))', "{{code}}")],
    ),
] + latency_panels("catalog_grpc_request_duration_seconds", "method") + cache_panels("catalog-grpc") + common("catalog-grpc")

API = [
    (
        "Requests per second by route",
        "reqps",
        [('sum by (route) (rate(catalog_http_requests_total{' + SEL + '}[5m]))', "{{route}}")],
    ),
    (
        "Error ratio (5xx) and client errors (4xx)",
        "percentunit",
        [
            (
                f'sum(rate(catalog_http_requests_total{{status=~"{klass}", {SEL}}}[5m])) '
                f"/ sum(rate(catalog_http_requests_total{{{SEL}}}[5m]))",
                legend,
            )
            for klass, legend in (("5..", "5xx"), ("4..", "4xx"))
        ],
    ),
] + latency_panels("catalog_http_request_duration_seconds", "route") + cache_panels("catalog-api") + common("catalog-api")

WORKER = [
    ("Outbox backlog (events not yet published)", "none", [(f"max(catalog_outbox_backlog{{{SEL}}})", "backlog")]),
    (
        "Relay lag: age of the oldest unpublished event",
        "s",
        [(f"max(catalog_outbox_oldest_unpublished_age_seconds{{{SEL}}})", "oldest")],
    ),
    (
        "Published and failed per second",
        "ops",
        [
            (f"sum(rate(catalog_outbox_published_total{{{SEL}}}[5m]))", "published"),
            (f"sum(rate(catalog_outbox_publish_failures_total{{{SEL}}}[5m]))", "failed batches"),
        ],
    ),
    ("Relay leader per pod", "none", [(f"catalog_outbox_relay_leader{{{SEL}}}", "{{pod}}")]),
    (
        "Consumed events by queue and outcome",
        "ops",
        [(f"sum by (queue, outcome) (rate(catalog_events_consumed_total{{{SEL}}}[5m]))", "{{queue}} {{outcome}}")],
    ),
    (
        "Dead-letter queue depth",
        "none",
        [(f"max by (queue) (catalog_dead_letter_queue_messages{{{SEL}}})", "{{queue}}")],
    ),
    (
        "Event handling p99",
        "s",
        [
            (
                f"histogram_quantile(0.99, sum by (le) (rate(catalog_event_handler_duration_seconds_bucket{{{SEL}}}[5m])))",
                "p99",
            )
        ],
    ),
    (
        "Stock read model lag (per organization, worst 10)",
        "s",
        [(f"topk(10, max by (organization_id) (catalog_inventory_stock_lag_seconds{{{SEL}}}))", "{{organization_id}}")],
    ),
    (
        "Media files removed / failed per second",
        "ops",
        [
            (f"sum(rate(catalog_media_files_removed_total{{{SEL}}}[5m]))", "removed"),
            (f"sum(rate(catalog_media_file_removal_failures_total{{{SEL}}}[5m]))", "failed"),
        ],
    ),
] + common("catalog-worker")


def dashboard(uid, title, panels):
    built = []
    for i, (panel_title, unit, targets) in enumerate(panels):
        built.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": panel_title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + k), "expr": expr, "legendFormat": legend}
                    for k, (expr, legend) in enumerate(targets)
                ],
            }
        )
    variable = lambda name, query: {  # noqa: E731
        "name": name,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": query,
        "includeAll": True,
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
    }
    return {
        "uid": uid,
        "title": title,
        "tags": ["catalog"],
        "timezone": "utc",
        "schemaVersion": 39,
        "time": {"from": "now-3h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                variable("namespace", 'label_values(catalog_ready{service="%s"}, namespace)' % uid),
                variable("pod", 'label_values(catalog_ready{service="%s", namespace=~"$namespace"}, pod)' % uid),
            ]
        },
        "panels": built,
    }


DASHBOARDS = {
    "catalog-grpc": ("Catalog / gRPC server", GRPC),
    "catalog-api": ("Catalog / REST API", API),
    "catalog-worker": ("Catalog / worker (relay, consumers)", WORKER),
}


def rendered():
    return {
        f"{uid}.json": json.dumps(dashboard(uid, title, panels), indent=2, ensure_ascii=False) + "\n"
        for uid, (title, panels) in DASHBOARDS.items()
    }


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    OUT.mkdir(exist_ok=True)
    for name, text in rendered().items():
        path = OUT / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        sys.exit(f"dashboards differ from dashboards.py (run it): {', '.join(stale)}")


if __name__ == "__main__":
    main()

"""Monitoring objects: PodMonitors, the PrometheusRule and the Grafana dashboard.

Their PromQL may name only metrics the code exports: the names come from the code's own
registries (deeplens.metrics, inference.server and the kserve server it runs), not from a list here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from chartkit import VALUE_SETS, object_meta_problems

MONITORING_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")
# Names PromQL may use that no DeepLens registry exports: Prometheus's own scrape health.
NON_DEEPLENS_METRICS = {"up"}

# PromQL words that look like identifiers but are not metric names.
PROMQL_WORDS = {
    # aggregations and their modifiers
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
    # functions used or likely to be used
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "abs", "clamp_min", "clamp_max",
    "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "absent", "vector", "scalar", "time",
    "label_replace", "round", "ceil", "floor", "predict_linear", "changes", "resets",
    # labels used in by()/without() clauses and Grafana legend templates
    "le",
}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers outside label matchers, strings and by() lists."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals may hold anything
    expr = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers: names there are labels
    expr = re.sub(r"\[[^\]]*\]", "[]", expr)  # range durations (5m) are not names
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", expr):
        word = match.group(1)
        if word not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]?", word):
            names.add(word)
    return names


def exported_metric_names() -> set[str]:
    """Every sample name DeepLens processes expose, as Prometheus sees them (with _total, _bucket, ...)."""
    from prometheus_client import REGISTRY

    import inference.server  # noqa: F401  (registers the predictor's and kserve's metrics)
    from deeplens import metrics

    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(_sample_names(family.name, family.type))
    for gauge in (metrics.QUEUE_DELIVERIES, metrics.QUEUE_OLDEST_PENDING_AGE, metrics.DB_POOL):
        names.add(gauge)  # scrape-time collectors, registered per process with a pool
    return names


def _sample_names(name: str, kind: str) -> set[str]:
    """prometheus-client's exposition names for one family."""
    if kind == "counter":
        return {f"{name}_total", f"{name}_created"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
    if kind == "summary":
        return {name, f"{name}_sum", f"{name}_count", f"{name}_created"}
    return {name}


@pytest.fixture(scope="module")
def monitored(render):
    return render(VALUE_SETS["monitoring-on"])


def _rule_exprs(rendered) -> list[str]:
    (rule,) = rendered.of_kind("PrometheusRule")
    return [r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]]


def _dashboard(rendered) -> dict[str, Any]:
    (config,) = [c for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-dashboards")]
    return json.loads(config["data"]["deeplens.json"])


def _dashboard_exprs(rendered) -> list[str]:
    return [t["expr"] for p in _dashboard(rendered)["panels"] for t in p["targets"]]


# ----------------------------------------------------------------------------- the name extractor


def test_the_extractor_finds_metrics_and_skips_functions_labels_and_durations():
    expr = 'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route=~"/search.*", x="y"}[5m]))) / b > 2'
    assert promql_metric_names(expr) == {"a_bucket", "b"}


def test_the_extractor_sees_a_misspelled_metric():
    assert promql_metric_names("sum(rate(deeplens_event_processed_total[5m]))") - exported_metric_names() == {
        "deeplens_event_processed_total"
    }


def test_exported_names_include_the_counters_histograms_and_scrape_time_gauges():
    names = exported_metric_names()
    assert {"deeplens_events_failed_total", "deeplens_step_duration_seconds_bucket",
            "deeplens_queue_oldest_pending_age_seconds", "deeplens_predictor_batched_requests_total",
            "request_predict_seconds_bucket"} <= names
    assert "deeplens_events_failed" not in names  # a counter is never exposed without _total


# ----------------------------------------------------------------------------- objects


def test_monitoring_disabled_renders_no_monitoring_objects(defaults):
    for kind in MONITORING_KINDS:
        assert defaults.of_kind(kind) == [], kind
    assert not [c for c in defaults.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-dashboards")]


def test_monitoring_objects_match_the_prometheus_operator_crds(monitored, crd_schemas):
    for kind in MONITORING_KINDS:
        docs = monitored.of_kind(kind, "monitoring.coreos.com/v1")
        assert docs, kind
        for doc in docs:
            schema = crd_schemas[("monitoring.coreos.com/v1", kind)]
            errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                      for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
            assert not errors, errors[:5]
            assert not object_meta_problems(doc), object_meta_problems(doc)


def test_the_pod_monitor_scrapes_every_knative_services_user_port(monitored):
    monitor = monitored.get("PodMonitor", monitored.of_kind("PodMonitor")[0]["metadata"]["name"])
    (expression,) = monitor["spec"]["selector"]["matchExpressions"]
    assert sorted(expression["values"]) == sorted(monitored.knative_services())
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "user-port"


def test_the_predictor_is_scraped_when_the_chart_runs_it(monitored):
    selectors = [m["spec"]["selector"] for m in monitored.of_kind("PodMonitor")]
    assert any("serving.kserve.io/inferenceservice" in s.get("matchLabels", {}) for s in selectors)


def test_the_network_policy_lets_prometheus_reach_only_the_metrics_ports(render):
    values = {"monitoring": {"enabled": True, "prometheusNamespaces": ["monitoring"]}}
    (policy,) = render(values).of_kind("NetworkPolicy")
    (scrape,) = [rule for rule in policy["spec"]["ingress"] if rule.get("ports")]
    assert scrape["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == ["monitoring"]
    assert {p["port"] for p in scrape["ports"]} == {"user-port", "http-usermetric"}


def test_the_rule_alerts_on_lag_dead_letters_error_ratio_and_search_latency(monitored):
    (rule,) = monitored.of_kind("PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) >= {"DeepLensQueueLag", "DeepLensDeadLettersGrowing", "DeepLensStepErrorRatio",
                           "DeepLensSearchP99High"}
    for alert in alerts.values():
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]


def test_alert_thresholds_come_from_values(render):
    values = {"monitoring": {"enabled": True, "rules": {"queueLagSeconds": 42, "searchP99Seconds": 0.75}}}
    exprs = " ".join(_rule_exprs(render(values)))
    assert "> 42" in exprs and "> 0.75" in exprs


def test_the_dashboard_is_valid_json_and_every_panel_has_a_query(monitored):
    dashboard = _dashboard(monitored)
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]


def test_the_dashboard_carries_the_configurable_sidecar_label(render):
    values = {"monitoring": {"enabled": True, "dashboards": {"label": "my_dash", "labelValue": "yes"}}}
    (config,) = [c for c in render(values).of_kind("ConfigMap") if c["metadata"]["name"].endswith("-dashboards")]
    assert config["metadata"]["labels"]["my_dash"] == "yes"


def test_every_promql_expression_names_only_exported_metrics(monitored):
    allowed = exported_metric_names() | NON_DEEPLENS_METRICS
    exprs = _rule_exprs(monitored) + _dashboard_exprs(monitored)
    unknown = {expr: promql_metric_names(expr) - allowed for expr in exprs}
    assert {e: n for e, n in unknown.items() if n} == {}
    assert all(promql_metric_names(e) for e in exprs)  # every expression selects something


def test_search_latency_filters_on_the_search_route_templates(monitored):
    from deeplens.api.routers.search import router

    search_routes = [r.path for r in router.routes if r.path.startswith("/search")]
    assert search_routes and all(re.fullmatch("/search.*", path) for path in search_routes)
    assert any('route=~"/search.*"' in e for e in _rule_exprs(monitored))

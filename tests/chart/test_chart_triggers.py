"""The Broker and its Triggers come from the routing table (eventing/routing.py)."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
from chartkit import CHART, NAMESPACE, REPO, Chart

KNATIVE_SERVICE = {"apiVersion": "serving.knative.dev/v1", "kind": "Service"}


def _render_routes_module():
    spec = importlib.util.spec_from_file_location("render_routes", REPO / "charts" / "render_routes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_routes_json_is_the_routing_table(routes):
    from eventing.routing import ROUTES

    assert routes == [{"name": r.name, "type": r.event_type, "subscriber": r.subscriber} for r in ROUTES]


def test_render_routes_check_accepts_the_committed_file(capsys):
    assert _render_routes_module().main(["--check"]) == 0


def test_render_routes_check_refuses_a_stale_file(tmp_path, routes, capsys):
    stale = tmp_path / "routes.json"
    stale.write_text(json.dumps(routes[:-1], indent=2) + "\n")
    assert _render_routes_module().main(["--check", "--output", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err


def test_render_routes_rewrites_a_stale_file(tmp_path, routes):
    stale = tmp_path / "routes.json"
    stale.write_text("[]\n")
    assert _render_routes_module().main(["--output", str(stale)]) == 0
    assert json.loads(stale.read_text()) == routes


def test_there_is_one_trigger_per_routing_row(defaults, routes):
    assert sorted(defaults.triggers()) == sorted(r["name"] for r in routes)


def test_every_trigger_filters_on_its_rows_event_type(defaults, routes):
    triggers = defaults.triggers()
    for route in routes:
        assert triggers[route["name"]]["spec"]["filter"] == {"attributes": {"type": route["type"]}}


def test_every_trigger_delivers_to_the_knative_service_of_its_rows_subscriber(defaults, routes):
    triggers = defaults.triggers()
    services = defaults.knative_services()
    for route in routes:
        ref = triggers[route["name"]]["spec"]["subscriber"]["ref"]
        assert ref == {**KNATIVE_SERVICE, "name": route["subscriber"]}
        assert ref["name"] in services


def test_every_trigger_listens_on_the_charts_broker(defaults):
    (broker,) = defaults.of_kind("Broker", "eventing.knative.dev/v1")
    assert broker["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "MTChannelBasedBroker"
    assert {t["spec"]["broker"] for t in defaults.triggers().values()} == {broker["metadata"]["name"]}


def test_every_trigger_hands_undeliverable_events_to_the_deadletter_service(defaults):
    services = defaults.knative_services()
    for name, trigger in defaults.triggers().items():
        sink = trigger["spec"]["delivery"]["deadLetterSink"]
        assert sink == {"ref": {**KNATIVE_SERVICE, "name": "deadletter"}}, name
    assert services["deadletter"]["spec"]["template"]["spec"]["containers"][0]["env"][0] == {
        "name": "FUNCTION_TARGET",
        "value": "deadletter",
    }


def test_every_trigger_retries_with_exponential_backoff_by_default(defaults):
    for trigger in defaults.triggers().values():
        delivery = trigger["spec"]["delivery"]
        assert delivery["backoffPolicy"] == "exponential"
        assert delivery["retry"] >= 1
        assert delivery["backoffDelay"].startswith("P")


def test_delivery_values_reach_every_trigger_and_the_broker(render):
    values = {"eventing": {"delivery": {"retry": 7, "backoffPolicy": "linear", "backoffDelay": "PT2.5S"}}}
    rendered = render(values)
    deliveries = [t["spec"]["delivery"] for t in rendered.triggers().values()]
    deliveries.append(rendered.of_kind("Broker")[0]["spec"]["delivery"])
    for delivery in deliveries:
        assert (delivery["retry"], delivery["backoffPolicy"], delivery["backoffDelay"]) == (7, "linear", "PT2.5S")


def test_the_broker_url_given_to_the_steps_is_the_brokers_ingress(defaults):
    (broker,) = defaults.of_kind("Broker")
    assert defaults.config()["DEEPLENS_BROKER_URL"] == (
        f"http://broker-ingress.knative-eventing.svc.cluster.local/{NAMESPACE}/{broker['metadata']['name']}"
    )


def test_a_new_routing_row_gets_a_trigger_and_a_knative_service(tmp_path, routes):
    chart_dir = tmp_path / "deeplens"
    shutil.copytree(CHART, chart_dir)
    row = {"name": "caption-match-evidenced", "type": "dev.deeplens.match.evidenced", "subscriber": "caption"}
    (chart_dir / "files" / "routes.json").write_text(json.dumps([*routes, row]))
    copy = Chart(chart_dir)
    try:
        rendered = copy.render()
    finally:
        copy.chart.close()
    trigger = rendered.triggers()["caption-match-evidenced"]
    assert trigger["spec"]["subscriber"]["ref"]["name"] == "caption"
    service = rendered.knative_services()["caption"]
    assert service["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "caption"


def test_overrides_for_a_step_that_is_not_in_the_routing_table_are_refused(render):
    with pytest.raises(Exception, match="functions.steps.keyframe: no such step"):
        render({"functions": {"steps": {"keyframe": {"maxScale": 3}}}})


def test_a_name_prefix_renames_triggers_services_and_their_references(render, routes):
    rendered = render({"functionNamePrefix": "dl-"})
    triggers = rendered.triggers()
    assert sorted(triggers) == sorted(f"dl-{r['name']}" for r in routes)
    for route in routes:
        spec = triggers[f"dl-{route['name']}"]["spec"]
        assert spec["subscriber"]["ref"]["name"] == f"dl-{route['subscriber']}"
        assert spec["delivery"]["deadLetterSink"]["ref"]["name"] == "dl-deadletter"
    assert set(rendered.knative_services()) >= {f"dl-{r['subscriber']}" for r in routes} | {"dl-deadletter"}

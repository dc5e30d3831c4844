"""``/metrics`` of a step function, and the JSON log lines of a step."""

from __future__ import annotations

import json
import logging
import re

import httpx
from prometheus_client import Counter, Histogram
from test_delivery_contract import Subscriber, db, deliver, post, step_function  # noqa: F401 - fixtures

from deeplens import metrics
from deeplens.logs import JsonFormatter
from eventing.events import Event
from eventing.types import PRODUCT_UPLOADED


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in an exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_a_step_functions_metrics_count_the_event_it_received_and_processed(step_function, settings):  # noqa: F811 - the imported fixture
    with step_function("ingest") as url:
        httpx.post(url, content=b'{"Records": []}', headers={"content-type": "application/json"})
        text = httpx.get(url + "metrics").text
    assert sample(text, "deeplens_events_processed_total", step="ingest", type="dev.deeplens.object.created") >= 1
    assert sample(text, "deeplens_events_received_total", step="ingest", type="dev.deeplens.object.created") >= 1


def test_a_bad_input_counts_as_failed_with_its_reason(step_function, settings):  # noqa: F811 - the imported fixture
    data = {"key": "products/sku-1/gone.jpg", "sku": "sku-1", "sha256": "0" * 64, "size": 10}
    with step_function("features") as url:
        post(url, Event(type=PRODUCT_UPLOADED, source="tests", data=data, tenant=settings.tenant))
        text = httpx.get(url + "metrics").text
    assert sample(text, "deeplens_events_failed_total", step="features", type=PRODUCT_UPLOADED,
                  reason="object_missing") >= 1


def test_every_metric_the_metrics_module_defines_is_exported(step_function):  # noqa: F811 - the imported fixture
    defined = [m._name for m in vars(metrics).values() if isinstance(m, Counter | Histogram)]
    with step_function("ingest") as url:
        httpx.post(url, content=b'{"Records": []}', headers={"content-type": "application/json"})
        text = httpx.get(url + "metrics").text
    exported = {name.removesuffix("_total") for name in re.findall(r"^# TYPE (\S+)", text, re.MULTILINE)}
    assert set(defined) | set(metrics.SCRAPE_TIME_METRICS) <= exported


def test_a_steps_json_log_line_holds_step_event_tenant_and_key(step_function, settings):  # noqa: F811 - the imported fixture
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    handler.setFormatter(JsonFormatter())
    key = "products/sku-1/gone.jpg"
    event = Event(type=PRODUCT_UPLOADED, source="tests", data={"key": key, "sku": "sku-1", "sha256": "0" * 64, "size": 10},
                  tenant=settings.tenant, rootkey=key)
    with step_function("features", DEEPLENS_LOG_FORMAT="json") as url:
        post(url, event)  # builds the process, which configures logging
        logging.getLogger().addHandler(handler)
        try:
            post(url, Event(type=event.type, source="tests", data=event.data, tenant=settings.tenant, rootkey=key))
        finally:
            logging.getLogger().removeHandler(handler)
    records = [json.loads(line) for line in lines if '"step": "features"' in line]
    assert any(r["key"] == key and r["tenant"] == settings.tenant and r["event_id"] for r in records)


def test_the_http_brokers_metrics_show_a_retried_and_a_dead_lettered_delivery(deliver):  # noqa: F811
    from starlette.testclient import TestClient
    from werkzeug.wrappers import Response

    from eventing.http_broker import create_ingress_app

    deliver(Subscriber({"test.a": lambda: Response(status=503)}))
    text = TestClient(create_ingress_app(lambda event: None)).get("/metrics").text
    assert sample(text, "deeplens_deliveries_retried_total", subscriber="step") >= 2
    assert sample(text, "deeplens_dead_letters_total", subscriber="step") >= 1


def _appearance_series(client) -> list[str]:
    text = client.get("/metrics").text
    return [line for line in text.splitlines() if line.startswith("deeplens_http_request_duration_seconds_count")]


def test_the_results_services_request_metrics_name_the_route_template_not_the_id(runtime):
    from fastapi.testclient import TestClient

    from deeplens.api import create_app

    client = TestClient(create_app(runtime.services, runtime.queue))
    client.get("/appearances/918273")
    series = _appearance_series(client)
    assert any('route="/appearances/{appearance_id}"' in line for line in series)
    assert not any("918273" in line for line in series)


def test_the_results_services_series_do_not_grow_with_distinct_ids(runtime):
    from fastapi.testclient import TestClient

    from deeplens.api import create_app

    client = TestClient(create_app(runtime.services, runtime.queue))
    client.get("/appearances/1")
    before = len(_appearance_series(client))
    for appearance_id in range(2, 40):
        client.get(f"/appearances/{appearance_id}")
    assert len(_appearance_series(client)) == before


def test_json_logs_of_a_run_with_secrets_configured_hold_none_of_them(step_function, settings):  # noqa: F811 - the imported fixture
    secrets = {"DEEPLENS_WEBHOOK_TOKEN": "webhook-token-9f8e7d", "DEEPLENS_AUTH_HS256_SECRET": "hs256-secret-" + "x" * 32}
    lines: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    with step_function("ingest", DEEPLENS_LOG_FORMAT="json", **secrets) as url:
        httpx.post(url, content=b"{}", headers={"content-type": "application/json"})  # builds the process
        root.addHandler(handler)
        level, root.level = root.level, logging.DEBUG
        try:
            for token in (secrets["DEEPLENS_WEBHOOK_TOKEN"], "caller-bearer-1a2b3c"):
                httpx.post(url, content=b'{"Records": []}',
                           headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
    assert lines
    logged = "\n".join(lines)
    assert not any(value in logged for value in [*secrets.values(), "caller-bearer-1a2b3c"])

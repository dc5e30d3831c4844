"""``/metrics`` of a step function, and the JSON log lines of a step."""

from __future__ import annotations

import json
import logging
import re

import httpx
from prometheus_client import Counter, Histogram
from test_delivery_contract import post, step_function  # noqa: F401 - the fixture

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


def test_a_step_functions_metrics_count_the_event_it_received_and_processed(step_function, settings):
    with step_function("ingest") as url:
        httpx.post(url, content=b'{"Records": []}', headers={"content-type": "application/json"})
        text = httpx.get(url + "metrics").text
    assert sample(text, "deeplens_events_processed_total", step="ingest", type="dev.deeplens.object.created") >= 1
    assert sample(text, "deeplens_events_received_total", step="ingest", type="dev.deeplens.object.created") >= 1


def test_a_bad_input_counts_as_failed_with_its_reason(step_function, settings):
    data = {"key": "products/sku-1/gone.jpg", "sku": "sku-1", "sha256": "0" * 64, "size": 10}
    with step_function("features") as url:
        post(url, Event(type=PRODUCT_UPLOADED, source="tests", data=data, tenant=settings.tenant))
        text = httpx.get(url + "metrics").text
    assert sample(text, "deeplens_events_failed_total", step="features", type=PRODUCT_UPLOADED,
                  reason="object_missing") >= 1


def test_every_metric_the_metrics_module_defines_is_exported(step_function):
    defined = [m._name for m in vars(metrics).values() if isinstance(m, Counter | Histogram)]
    with step_function("ingest") as url:
        httpx.post(url, content=b'{"Records": []}', headers={"content-type": "application/json"})
        text = httpx.get(url + "metrics").text
    exported = {name.removesuffix("_total") for name in re.findall(r"^# TYPE (\S+)", text, re.M)}
    assert set(defined) | set(metrics.SCRAPE_TIME_METRICS) <= exported


def test_a_steps_json_log_line_holds_step_event_tenant_and_key(step_function, settings):
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

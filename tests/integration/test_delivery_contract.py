"""Knative's delivery contract, over real HTTP.

The HTTP broker reads a subscriber's answer as Knative's broker filter does (an empty 2xx
or a CloudEvent reply is done; any other 2xx body is a failed delivery; a 4xx other than
404/408/409/429 is dead-lettered without retries), and every step function answers by
those rules: 204 and no body when done, bad input included.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from deeplens.db import Database
from deeplens.results import Results
from eventing.broker import LocalBroker
from eventing.delivery import DeliverySpec
from eventing.events import Event
from eventing.http import to_binary_request
from eventing.http_broker import HttpDispatch
from eventing.queue import DeliveryQueue
from eventing.routing import Route
from eventing.types import PRODUCT_UPLOADED

ROUTES = (Route("a-to-step", "test.a", "step"), Route("b-to-step", "test.b", "step"))


@contextmanager
def serve(app: Callable) -> Iterator[str]:
    """A WSGI app on a loopback port, for the length of a test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join()


class Subscriber:
    """A subscriber that answers every delivery of a type the same way, and counts them."""

    def __init__(self, answers: dict[str, Callable[[], Response]]) -> None:
        self.answers = answers
        self.received: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        event_type = request.headers.get("ce-type", "")
        with self.lock:
            self.received.append(event_type)
        answer = self.answers.get(event_type, lambda: Response(status=204))
        return answer()(environ, start_response)


@pytest.fixture
def db(database_url):
    database = Database(database_url, max_size=4)
    yield database
    database.close()


@pytest.fixture
def deliver(db, settings):
    """Publish one event and run the HTTP broker's dispatch until it is done or dead."""

    def run(subscriber: Subscriber, event_type: str = "test.a") -> DeliveryQueue:
        queue = DeliveryQueue(db.pool, DeliverySpec(retry=2, backoff_delay=0.01), routes=ROUTES, tenant=settings.tenant)
        with serve(subscriber) as url, httpx.Client(timeout=10) as client:
            broker = LocalBroker(queue, HttpDispatch({"step": url}, client), workers=1)
            broker.publish(Event(type=event_type, source="tests", data={}, tenant=settings.tenant, rootkey="videos/v.mp4"))
            assert broker.run_until_idle(tenant=settings.tenant, timeout=30)
        return queue

    return run


def reply_event(event_type: str, tenant: str) -> Callable[[], Response]:
    headers, body = to_binary_request(Event(type=event_type, source="tests/reply", data={"replied": True}, tenant=tenant))
    return lambda: Response(body, status=200, headers=headers)


def test_an_empty_204_is_a_done_delivery(deliver, settings):
    queue = deliver(Subscriber({}))
    assert queue.counts(settings.tenant) == {"done": 1}


def test_a_200_with_a_body_that_is_not_a_cloudevent_fails_the_delivery_as_knative_does(deliver, settings):
    subscriber = Subscriber({"test.a": lambda: Response("OK", status=200, content_type="text/html")})
    queue = deliver(subscriber)
    assert subscriber.received == ["test.a"] * 3  # the first try and both retries
    [letter] = queue.dead_letters(settings.tenant)
    assert "MUST be either empty or a valid CloudEvent" in letter.error


def test_a_cloudevent_in_the_reply_is_published_back_to_the_broker(deliver, settings):
    subscriber = Subscriber({"test.a": reply_event("test.b", settings.tenant)})
    queue = deliver(subscriber)
    assert subscriber.received == ["test.a", "test.b"]
    assert queue.counts(settings.tenant) == {"done": 2}


def test_a_400_is_dead_lettered_without_retries(deliver, settings):
    subscriber = Subscriber({"test.a": lambda: Response('{"error": "malformed_event"}', status=400)})
    queue = deliver(subscriber)
    assert subscriber.received == ["test.a"]
    [letter] = queue.dead_letters(settings.tenant)
    assert letter.attempts == 1 and "HTTP 400" in letter.error


@pytest.mark.parametrize("status", [404, 408, 409, 429, 500, 503])
def test_statuses_knative_retries_are_retried(deliver, settings, status):
    subscriber = Subscriber({"test.a": lambda: Response(status=status)})
    queue = deliver(subscriber)
    assert subscriber.received == ["test.a"] * 3
    assert len(queue.dead_letters(settings.tenant)) == 1


# --- the step functions' answers ------------------------------------------------------


@pytest.fixture
def step_function(settings, monkeypatch):
    """A step's functions-framework app on a loopback port, configured like its pod."""
    import functions_framework

    from functions import _runtime

    for name, value in {
        "DEEPLENS_HOME": str(settings.home), "DATABASE_URL": settings.database_url, "DEEPLENS_TENANT": settings.tenant,
    }.items():
        monkeypatch.setenv(name, value)
    _runtime._process.cache_clear()

    @contextmanager
    def start(target: str, **env: str) -> Iterator[str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        app = functions_framework.create_app(target=target, source="functions/main.py")
        with serve(app) as url:
            yield url

    yield start
    _runtime._process.cache_clear()


def post(url: str, event: Event) -> httpx.Response:
    headers, body = to_binary_request(event)
    return httpx.post(url, headers=headers, content=body, timeout=60)


def test_a_step_that_did_its_work_answers_204_with_no_body(step_function, settings):
    notification = {"Records": []}  # a notification with nothing to ingest
    with step_function("ingest") as url:
        response = httpx.post(url, content=json.dumps(notification), headers={"content-type": "application/json"})
    assert (response.status_code, response.content) == (204, b"")


def test_a_step_answers_400_to_a_request_that_is_not_a_cloudevent(step_function):
    with step_function("features") as url:
        response = httpx.post(url, content=b"hello", headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_event"


def test_a_step_answers_400_to_an_event_type_it_does_not_take(step_function, settings):
    with step_function("features") as url:
        response = post(url, Event(type="dev.deeplens.video.uploaded", source="tests", data={}, tenant=settings.tenant))
    assert response.status_code == 400
    assert response.json()["error"] == "undeliverable"


def test_an_object_deleted_before_its_step_ran_is_recorded_and_acknowledged(step_function, settings, db):
    key = "products/sku-1/gone.jpg"
    data = {"key": key, "sku": "sku-1", "sha256": "0" * 64, "size": 10}
    with step_function("features") as url:
        response = post(url, Event(type=PRODUCT_UPLOADED, source="tests", data=data, tenant=settings.tenant, rootkey=key))
    assert (response.status_code, response.content) == (204, b"")
    [failure] = Results(db, settings.tenant).failures(limit=10, offset=0).items
    assert (failure.key, failure.reason) == (key, "object_missing")


def test_with_a_webhook_token_set_ingest_refuses_a_notification_without_it(step_function):
    with step_function("ingest", DEEPLENS_WEBHOOK_TOKEN="s3cr3t-token") as url:
        missing = httpx.post(url, content=b'{"Records": []}', headers={"content-type": "application/json"})
        wrong = httpx.post(url, content=b'{"Records": []}',
                           headers={"content-type": "application/json", "authorization": "Bearer guess"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert "s3cr3t" not in missing.text + wrong.text


def test_with_a_webhook_token_set_ingest_takes_a_notification_that_carries_it(step_function):
    with step_function("ingest", DEEPLENS_WEBHOOK_TOKEN="s3cr3t-token") as url:
        response = httpx.post(url, content=b'{"Records": []}',
                              headers={"content-type": "application/json", "authorization": "Bearer s3cr3t-token"})
    assert (response.status_code, response.content) == (204, b"")

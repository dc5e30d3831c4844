"""The broker over HTTP, for running the steps as separate functions-framework servers.

An ingress accepts CloudEvents (binary or structured) and queues them durably in
PostgreSQL; dispatcher threads deliver each one, in binary mode, to the URL of every step
the routing table subscribes to its type, with Knative's delivery semantics: retries with
backoff, then the dead-letter sink, with the ``knativeerror*`` extensions. It stands in
for a Knative Broker and its Triggers where no cluster runs, and drives the same table.

    python -m eventing.http_broker --port 8080 \\
        --subscriber ingest=http://127.0.0.1:9001 ... --dead-letter-sink http://127.0.0.1:9009
"""

from __future__ import annotations

import argparse
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import httpx
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deeplens import metrics, tracing
from deeplens.errors import BadInput
from eventing.broker import DeadLetterSink, LocalBroker, describe_error
from eventing.events import Event
from eventing.http import DeliveryFailed, error_extensions, parse_request, post_event, read_reply, to_binary_request
from eventing.queue import Delivery, DeliveryQueue

log = logging.getLogger(__name__)


class HttpDispatch:
    """Delivers an event to a step's URL and reads the answer as Knative's broker filter does.

    A step may have several URLs (instances): deliveries take them in turn, as a Knative
    Service spreads requests over its pods, so a retry goes to the next one. A connection
    error or a failed answer raises (retried, or dead-lettered at once when Knative would
    not retry it); a CloudEvent in the reply is published back to the broker.
    """

    def __init__(self, subscribers: Mapping[str, str | Sequence[str]], client: httpx.Client) -> None:
        self.subscribers = {step: [urls] if isinstance(urls, str) else list(urls) for step, urls in subscribers.items()}
        self.client = client
        self._turns = {step: itertools.count() for step in self.subscribers}
        self._lock = threading.Lock()

    def __call__(self, subscriber: str, event: Event) -> list[Event]:
        urls = self.subscribers.get(subscriber)
        if not urls:
            raise LookupError(f"no URL configured for subscriber {subscriber!r}")
        with self._lock:
            url = urls[next(self._turns[subscriber]) % len(urls)]
        # A span per delivery, as Knative's broker records one; the step's span becomes its child.
        with tracing.span("broker deliver", traceparent=event.traceparent, tracestate=event.tracestate,
                          deeplens_subscriber=subscriber, cloudevents_event_type=event.type, cloudevents_event_id=event.id):
            trace = tracing.current_headers()
            if trace:
                event = replace(event, traceparent=trace["traceparent"], tracestate=trace.get("tracestate"))
            headers, body = to_binary_request(event)
            reply = read_reply(url, self.client.post(url, headers=headers, content=body))
        # Our steps publish what they emit to the ingress themselves; a reply is what other
        # Knative subscribers may answer with instead.
        return [] if reply is None else [reply]


class HttpDeadLetterSink:
    """POSTs a dead letter to a sink with Knative's error extensions; keeps it locally if that fails too."""

    def __init__(self, url: str, subscribers: Mapping[str, Sequence[str]], client: httpx.Client, fallback: DeadLetterSink) -> None:
        self.url = url
        self.subscribers = {step: urls[0] for step, urls in subscribers.items()}
        self.client = client
        self.fallback = fallback

    def __call__(self, delivery: Delivery, error: Exception) -> None:
        code = error.status if isinstance(error, DeliveryFailed) else None
        body = error.body if isinstance(error, DeliveryFailed) else describe_error(error)
        destination = self.subscribers.get(delivery.subscriber, delivery.subscriber)
        try:
            post_event(self.client, self.url, delivery.event, error_extensions(destination, code, body))
        except httpx.HTTPError as exc:
            log.error("dead-letter sink %s unreachable (%s); keeping the dead letter locally", self.url, exc)
            self.fallback(delivery, error)


def create_ingress_app(publish: Callable[[Event], None], collectors: Iterable[Collector] = ()) -> Starlette:
    """The ingress: ``POST /`` takes a CloudEvent and queues it (202); a malformed one gets 400; ``GET /metrics`` for Prometheus."""

    async def ingress(request: Request) -> Response:
        try:
            event = parse_request(request.headers, await request.body())
        except BadInput as exc:
            return JSONResponse({"error": exc.reason, "detail": exc.message}, status_code=400)
        publish(event)
        return Response(status_code=202)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    collectors = list(collectors)

    async def scrape(_: Request) -> Response:
        body, content_type = metrics.exposition(collectors)
        return Response(body, media_type=content_type)

    return Starlette(routes=[Route("/", ingress, methods=["POST"]), Route("/healthz", health, methods=["GET"]),
                             Route("/metrics", scrape, methods=["GET"])])


def parse_subscribers(pairs: list[str]) -> dict[str, list[str]]:
    """``step=url`` pairs from the command line; a step given several times has several instances."""
    subscribers: dict[str, list[str]] = {}
    for pair in pairs:
        step, sep, url = pair.partition("=")
        if not sep or not step or not url:
            raise SystemExit(f"--subscriber wants STEP=URL, got {pair!r}")
        subscribers.setdefault(step, []).append(url)
    return subscribers


def main(argv: list[str] | None = None) -> None:
    """Run the HTTP broker until interrupted."""
    import uvicorn

    from deeplens.config import Settings
    from deeplens.db import Database
    from deeplens.logs import configure_logging
    from eventing.delivery import DeliverySpec

    parser = argparse.ArgumentParser(prog="python -m eventing.http_broker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--subscriber", action="append", default=[], metavar="STEP=URL",
                        help="where a step listens (repeat a step for each of its instances)")
    parser.add_argument("--dead-letter-sink", default=None, help="URL receiving dead letters (default: keep them in PostgreSQL)")
    parser.add_argument("--workers", type=int, default=4, help="dispatcher threads")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_format)
    tracing.configure("deeplens-broker")
    db = Database.from_settings(settings)
    queue = DeliveryQueue(db.pool, DeliverySpec.from_settings(settings))
    subscribers = parse_subscribers(args.subscriber)
    client = httpx.Client(timeout=httpx.Timeout(300.0, connect=5.0))
    broker = LocalBroker(queue, HttpDispatch(subscribers, client), workers=args.workers)
    if args.dead_letter_sink:
        broker.dead_letter_sink = HttpDeadLetterSink(args.dead_letter_sink, subscribers, client, broker.dead_letter_sink)
    broker.start()
    try:
        uvicorn.run(create_ingress_app(broker.publish, metrics.process_collectors(db.pool, queue=True)), host=args.host, port=args.port, log_level="warning")
    finally:
        broker.stop()
        db.close()


if __name__ == "__main__":
    main()

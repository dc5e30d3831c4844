"""CloudEvents over HTTP, as Knative delivers and accepts them (binary mode out, either mode in)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import httpx
from cloudevents.conversion import to_binary
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent, from_http

from deeplens.errors import BadInput, Undeliverable
from eventing.events import Event

# Knative's extensions on a dead-lettered event: where it failed, with what status and body.
ERROR_DEST = "knativeerrordest"
ERROR_CODE = "knativeerrorcode"
ERROR_DATA = "knativeerrordata"
_ERROR_DATA_LIMIT = 1024
# Besides every 5xx, the answers Knative's dispatcher retries: each can pass next time.
_RETRIED_STATUSES = frozenset({404, 408, 409, 429})
_NOT_AN_EVENT = "The response MUST be either empty or a valid CloudEvent"


class DeliveryFailed(Exception):
    """A subscriber's answer that Knative counts as a failed delivery, worth retrying."""

    def __init__(self, url: str, status: int, body: str) -> None:
        super().__init__(f"HTTP {status} from {url}: {body[:200]}")
        self.url = url
        self.status = status
        self.body = body


class DeliveryRefused(DeliveryFailed, Undeliverable):
    """A 4xx answer no redelivery can change: dead-lettered without retries."""


def is_retried(status: int) -> bool:
    """Whether Knative redelivers after this status."""
    return status >= 500 or status in _RETRIED_STATUSES


def to_binary_request(event: Event, extensions: Mapping[str, str] | None = None) -> tuple[dict[str, str], bytes]:
    """Headers (``ce-*`` attributes) and body of a binary-mode CloudEvent request."""
    attributes = {**event.attributes(), **(extensions or {})}
    headers, body = to_binary(CloudEvent(attributes, event.data))
    return dict(headers), body if isinstance(body, bytes) else json.dumps(event.data).encode()


def from_cloudevent(cloud_event: Any) -> Event:
    """Our :class:`Event` from a ``cloudevents`` SDK event (what functions-framework hands a function)."""
    attributes = {name: value for name, value in cloud_event.get_attributes().items() if not name.startswith("knativeerror")}
    data = cloud_event.get_data()
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise BadInput("malformed_event", "CloudEvent data is not JSON") from exc
    return Event.from_parts(attributes, data)


def parse_cloudevent(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """The SDK's event from an HTTP request in binary or structured mode; :class:`BadInput` if it is none."""
    try:
        return from_http(dict(headers), body)
    except (GenericException, ValueError, TypeError) as exc:
        raise BadInput("malformed_event", f"not a CloudEvent: {exc}") from exc


def parse_request(headers: Mapping[str, str], body: bytes) -> Event:
    """Parse an HTTP request carrying a CloudEvent in binary or structured mode."""
    return from_cloudevent(parse_cloudevent(headers, body))


def error_extensions(destination: str, code: int | None, body: str) -> dict[str, str]:
    """Knative's ``knativeerror*`` extensions for a dead letter."""
    extensions = {ERROR_DEST: destination, ERROR_DATA: base64.b64encode(body.encode()[:_ERROR_DATA_LIMIT]).decode()}
    if code is not None:
        extensions[ERROR_CODE] = str(code)
    return extensions


def post_event(client: httpx.Client, url: str, event: Event, extensions: Mapping[str, str] | None = None) -> None:
    """POST one event to a sink (broker ingress or subscriber); raises on a non-2xx answer."""
    headers, body = to_binary_request(event, extensions)
    response = client.post(url, headers=headers, content=body)
    response.raise_for_status()


def read_reply(url: str, response: httpx.Response) -> Event | None:
    """What a subscriber's answer means, by the rules of Knative's broker filter.

    A 2xx with an empty body is done; a 2xx carrying a CloudEvent is done and that event
    goes back to the broker. Any other 2xx body fails the delivery as a 502, as the filter
    answers it; a non-2xx raises :class:`DeliveryFailed`, or :class:`DeliveryRefused` where
    Knative would not retry.
    """
    if not response.is_success:
        error = DeliveryFailed if is_retried(response.status_code) else DeliveryRefused
        raise error(url, response.status_code, response.text)
    if not response.content:
        return None
    try:
        return parse_request(response.headers, response.content)
    except BadInput as exc:
        raise DeliveryFailed(url, 502, f"{_NOT_AN_EVENT}; got {response.headers.get('content-type')!r}: {exc.message}") from exc


class BrokerPublisher:
    """Publishes events to a Broker ingress over HTTP (what a Knative function does with its outputs)."""

    def __init__(self, url: str, client: httpx.Client | None = None) -> None:
        self.url = url
        self.client = client or httpx.Client(timeout=30.0)

    def __call__(self, event: Event) -> None:
        post_event(self.client, self.url, event)

"""CloudEvents over HTTP (binary content mode), as Knative delivers and accepts them."""

from __future__ import annotations

import json
from typing import Any

import httpx

from eventing.events import Event


def to_binary_request(event: Event) -> tuple[dict[str, str], bytes]:
    """Headers (``ce-*`` attributes) and body of a binary-mode CloudEvent request."""
    headers = {f"ce-{name}": str(value) for name, value in event.attributes().items() if name != "datacontenttype"}
    headers["content-type"] = "application/json"
    return headers, json.dumps(event.data).encode()


def from_cloudevent(cloud_event: Any) -> Event:
    """Our :class:`Event` from a ``cloudevents`` SDK event (what functions-framework hands a function)."""
    attributes = dict(cloud_event.get_attributes())
    data = cloud_event.get_data()
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except ValueError:
            pass
    return Event.from_parts(attributes, data)


def post_event(client: httpx.Client, url: str, event: Event) -> None:
    """POST one event to a sink (broker ingress or subscriber); raises on a non-2xx answer."""
    headers, body = to_binary_request(event)
    response = client.post(url, headers=headers, content=body)
    response.raise_for_status()

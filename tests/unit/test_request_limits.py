"""The request limits refuse what no route should spend on, before the app sees it."""

from __future__ import annotations

import asyncio
import json

import pytest

from deeplens.api.limits import RequestLimits, RequestLimitsMiddleware


class App:
    """An ASGI app that reads its whole body and answers 200, counting the bytes it read."""

    def __init__(self) -> None:
        self.read = 0
        self.called = False

    async def __call__(self, scope, receive, send):
        self.called = True
        more = True
        while more:
            message = await receive()
            self.read += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


LIMITS = RequestLimits(max_body_bytes=100)


def call(path: str = "/", query: bytes = b"", chunks: tuple[bytes, ...] = (b"",), content_length: int | None = None,
         limits: RequestLimits = LIMITS) -> tuple[int, dict, App, int]:
    """Run one request through the middleware: status, JSON body, the app, and the chunks the client sent."""
    app = App()
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": query, "headers": headers}
    sent: list[dict] = []
    pending = list(chunks)

    async def receive():
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    asyncio.run(RequestLimitsMiddleware(app, limits)(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    status = sent[0]["status"]
    return status, (json.loads(body) if status != 200 else {}), app, len(chunks) - len(pending)


def test_a_body_declared_larger_than_the_cap_is_refused_before_a_byte_is_read():
    status, body, app, consumed = call(chunks=(b"x" * 50,) * 10, content_length=500)
    assert (status, body["error"]) == (413, "request_too_large")
    assert not app.called and consumed == 0


def test_a_chunked_body_is_refused_once_what_was_read_passes_the_cap():
    status, body, _, consumed = call(chunks=(b"x" * 60,) * 10)
    assert (status, body["error"]) == (413, "request_too_large")
    assert consumed == 2  # the second chunk passed the cap; the other eight were never read


def test_a_body_within_the_cap_reaches_the_app():
    status, _, app, _ = call(chunks=(b"x" * 50, b"y" * 50), content_length=100)
    assert status == 200 and app.read == 100


@pytest.mark.parametrize(("path", "query"), [("/status/%00", b""), ("/appearances", b"video=%00"), ("/a", b"q=a%00b")])
def test_a_nul_byte_in_the_path_or_query_is_a_400(path, query):
    status, body, app, _ = call(path, query)
    assert (status, body["error"]) == (400, "invalid_request") and not app.called


def test_a_query_that_is_not_utf8_is_a_400():
    status, body, _, _ = call("/search/text", b"q=%ff%fe")
    assert (status, body["error"]) == (400, "invalid_request")


def test_a_url_longer_than_the_cap_is_a_414():
    status, body, _, _ = call("/products", b"q=" + b"a" * 9000)
    assert (status, body["error"]) == (414, "url_too_long")

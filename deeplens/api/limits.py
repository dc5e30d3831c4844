"""Refuse oversized and malformed requests before any route (or body parser) spends on them.

A plain ASGI middleware, so the checks run before FastAPI reads a body or parses a query:

- a body larger than the cap is answered 413 as soon as its ``Content-Length`` says so,
  or, for a chunked body, as soon as the bytes read pass the cap;
- a URL longer than the cap is answered 414;
- a path or query string holding a NUL byte (``%00``), which no PostgreSQL text can hold,
  or an invalid UTF-8 percent-encoding is answered 400.

Every refusal has the API's error shape ``{"error": code, "detail": message}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    """A chunked body passed the cap while it was read."""


@dataclass(frozen=True)
class RequestLimits:
    """The caps: body bytes and URL (path + query) bytes."""

    max_body_bytes: int
    max_url_bytes: int = 8192


def _refusal(status: int, code: str, detail: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": code, "detail": detail}).encode()


def _check_url(scope: Scope, limits: RequestLimits) -> tuple[int, bytes] | None:
    raw_path = scope.get("raw_path") or scope.get("path", "").encode()
    query = scope.get("query_string", b"")
    if len(raw_path) + len(query) > limits.max_url_bytes:
        return _refusal(414, "url_too_long", f"the URL is longer than {limits.max_url_bytes} bytes")
    for part, what in ((raw_path, "path"), (query, "query string")):
        decoded = unquote_to_bytes(part.replace(b"+", b" "))
        if b"\x00" in decoded:
            return _refusal(400, "invalid_request", f"the {what} holds a NUL byte")
        try:
            decoded.decode("utf-8")
        except UnicodeDecodeError:
            return _refusal(400, "invalid_request", f"the {what} is not UTF-8")
    return None


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestLimitsMiddleware:
    """Wraps an ASGI app with :class:`RequestLimits`."""

    def __init__(self, app: ASGIApp, limits: RequestLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = _check_url(scope, self.limits)
        declared = _declared_length(scope)
        if refusal is None and declared is not None and declared > self.limits.max_body_bytes:
            refusal = self._too_large()
        if refusal is not None:
            await _answer(send, *refusal)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._counting(receive), tracking_send)
        except _TooLarge:
            if started:
                raise
            await _answer(send, *self._too_large())

    def _too_large(self) -> tuple[int, bytes]:
        return _refusal(413, "request_too_large", f"the request body is larger than {self.limits.max_body_bytes} bytes")

    def _counting(self, receive: Receive) -> Receive:
        read = 0

        async def counting_receive() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.limits.max_body_bytes:
                    raise _TooLarge
            return message

        return counting_receive


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})

"""An ASGI middleware that lets kserve 0.21's v2 ``/infer`` take what a stock Triton client sends.

- No ``Content-Type`` and no ``inference-header-content-length``: a Triton client's JSON
  request. FastAPI hands kserve such a body as bytes, and kserve then insists on the binary
  extension's header (400 "...header is missing"); the middleware labels it
  ``application/json`` so kserve parses it as the JSON request it is.
- ``inference-header-content-length`` set: a binary-extension request. Its BYTES inputs
  are rewritten by :func:`inference.binary_tensors.base64_bytes_inputs` so raw bytes (an
  encoded image) survive kserve's UTF-8 decoding; a body whose framing does not add up is
  answered ``400 {"error": "bad_binary_data: ..."}`` here, without quoting it.

Every other request passes through untouched.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .binary_tensors import MalformedBody, base64_bytes_inputs
from .protocol import HEADER_LENGTH

INFER_PATH = re.compile(r"/v2/models/[^/]+(?:/versions/[^/]+)?/infer")


async def read_body(receive: Receive) -> bytes:
    """The whole request body, however many ``http.request`` messages carry it."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ConnectionError("the client went away before sending the whole body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then defers to ``receive`` (which reports a disconnect)."""
    sent = False

    async def once() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return once


class V2RequestAdapter:
    """Middleware for kserve's FastAPI app; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not INFER_PATH.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = MutableHeaders(scope=scope)  # edits scope["headers"] in place
        if HEADER_LENGTH in headers:
            try:
                body = await read_body(receive)
            except ConnectionError:
                return  # nobody to answer
            try:
                body, json_length = base64_bytes_inputs(body, _json_length(headers[HEADER_LENGTH]))
            except MalformedBody as exc:
                await JSONResponse({"error": f"bad_binary_data: {exc}"}, status_code=400)(scope, receive, send)
                return
            headers[HEADER_LENGTH] = str(json_length)
            headers["content-length"] = str(len(body))
            # The body is binary whatever a client labelled it: FastAPI must hand kserve its bytes.
            headers["content-type"] = "application/octet-stream"
            receive = replay(body, receive)
        elif "content-type" not in headers:
            headers["content-type"] = "application/json"
        await self.app(scope, receive, send)


def _json_length(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise MalformedBody(f"{HEADER_LENGTH} is not a number: {value[:32]!r}") from None

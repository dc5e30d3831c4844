"""A body that is not a v2 request: 400 in kserve's error shape, naming where it breaks, never quoting it.

FastAPI's default answer is ``422 {"detail": [...]}`` with each error's ``"input"``: the
offending part of the body, however large (a 300 KB ``data`` string comes back twice,
once per branch of kserve's ``InferenceRequest | bytes`` body). A JSON body that is not
UTF-8 gets FastAPI's ``400 {"detail": "There was an error parsing the body"}``, which on
the infer route is given kserve's ``{"error": ...}`` shape too.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from .http_adapter import INFER_PATH

MAX_ERRORS = 3  # enough to say what is wrong; the rest are usually the same mistake again
MAX_MESSAGE = 120  # pydantic's messages are fixed phrases; the cap guards against any that is not


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part)[:40] for part in loc) or "body"


def describe(errors: list[dict[str, Any]]) -> str:
    """``where: what`` for the first few validation errors; their ``input`` is left out."""
    # kserve's body is ``InferenceRequest | bytes``: "body.bytes: Input should be a valid bytes"
    # accompanies every JSON body's errors and says nothing about it.
    errors = [e for e in errors if tuple(e.get("loc", ())) != ("body", "bytes")]
    parts = [f"{_where(tuple(e.get('loc', ())))}: {str(e.get('msg', ''))[:MAX_MESSAGE]}" for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        parts.append(f"and {len(errors) - MAX_ERRORS} more")
    return "; ".join(parts)


async def validation_error_answer(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI exception handler: ``400 {"error": "bad_request: <where: what; ...>"}``."""
    return JSONResponse(
        {"error": f"bad_request: the body is not an Open Inference Protocol v2 request: {describe(list(exc.errors()))}"},
        status_code=400,
    )


async def http_error_answer(request: Request, exc: HTTPException) -> Response:
    """FastAPI exception handler: on the v2 infer route, FastAPI's own HTTP errors as ``{"error": ...}``; elsewhere FastAPI's answer."""
    if not INFER_PATH.fullmatch(request.url.path):
        return await http_exception_handler(request, exc)
    detail = str(exc.detail)[:MAX_MESSAGE]
    return JSONResponse(
        {"error": f"bad_request: {detail}" if exc.status_code == 400 else detail},
        status_code=exc.status_code,
        headers=exc.headers,
    )

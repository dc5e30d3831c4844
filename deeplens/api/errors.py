"""The API's error shape ``{"error": code, "detail": message}`` and the handlers that produce it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from deeplens.auth import Forbidden, Unauthenticated
from deeplens.errors import BadInput, Conflict, NotFound, Unsupported

REALM = "deeplens"


class ErrorBody(BaseModel):
    """What every refused request answers."""

    error: str
    """A short machine code (``missing_credential``, ``insufficient_scope``, ``not_found``, …)."""
    detail: str
    """What went wrong, for people."""


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No credential, or an invalid, expired or revoked one "
          "(with `WWW-Authenticate: Bearer`)."},
    403: {"model": ErrorBody, "description": "The credential lacks the scope this route needs."},
}
"""The answers of every authenticated route, for the OpenAPI schema."""


def _body(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail}


def install_error_handlers(app: FastAPI) -> None:
    """Map the errors DeepLens raises on purpose to status codes with the error shape."""

    @app.exception_handler(BadInput)
    async def bad_input(_: Request, exc: BadInput) -> JSONResponse:
        return JSONResponse(status_code=422, content=_body(exc.reason, exc.message))

    @app.exception_handler(Unsupported)
    async def unsupported(_: Request, exc: Unsupported) -> JSONResponse:
        return JSONResponse(status_code=400, content=_body("unsupported", str(exc)))

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content=_body("not_found", str(exc)))

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content=_body(exc.reason, exc.message))

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        # RFC 6750 §3: no error attribute when the request carried no credential at all.
        challenge = f'Bearer realm="{REALM}"'
        if exc.code != "missing_credential":
            challenge += ', error="invalid_token"'
        return JSONResponse(status_code=401, content=_body(exc.code, exc.message), headers={"WWW-Authenticate": challenge})

    @app.exception_handler(Forbidden)
    async def forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        challenge = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{exc.scope}"'
        return JSONResponse(status_code=403, content=_body(exc.code, exc.message), headers={"WWW-Authenticate": challenge})

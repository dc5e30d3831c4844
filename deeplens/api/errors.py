"""The API's error shape ``{"error": code, "detail": message}`` and the handlers that produce it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from deeplens.auth import Forbidden, Unauthenticated
from deeplens.errors import BadInput, Conflict, DependencyMissing, NotFound, Unsupported

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


def _validation_detail(exc: RequestValidationError) -> str:
    """FastAPI's list of validation errors as one line: ``query.limit: Input should be …; …``."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "the request is invalid"


def install_error_handlers(app: FastAPI) -> None:
    """Map the errors DeepLens raises on purpose, and FastAPI's own, to status codes with the error shape."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content=_body("invalid_request", _validation_detail(exc)))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(status_code=exc.status_code, content=_body(code, str(exc.detail)), headers=exc.headers)

    @app.exception_handler(BadInput)
    async def bad_input(_: Request, exc: BadInput) -> JSONResponse:
        return JSONResponse(status_code=422, content=_body(exc.reason, exc.message))

    @app.exception_handler(Unsupported)
    async def unsupported(_: Request, exc: Unsupported) -> JSONResponse:
        return JSONResponse(status_code=400, content=_body("unsupported", str(exc)))

    @app.exception_handler(DependencyMissing)
    async def dependency_missing(_: Request, exc: DependencyMissing) -> JSONResponse:
        # The deployment's fault, not the caller's: 503, as for a database that cannot be reached.
        return JSONResponse(status_code=503, content=_body("dependency_missing", str(exc)))

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


_EVERY_ROUTE: dict[str, str] = {
    "400": "A path or query holding a NUL byte, or not UTF-8; a request the chosen model cannot serve.",
    "404": "What the request names (an item, a video, a model) does not exist for the caller's tenant.",
    "414": "The URL is longer than 8 KB.",
    "422": "A parameter or body that does not validate, or input that cannot be processed.",
    "503": "A package or model file the deployment needs is missing (`dependency_missing`).",
}


def document_errors(app: FastAPI) -> None:
    """Give every operation in the OpenAPI schema the error answers it can give, all as :class:`ErrorBody`.

    FastAPI documents its own 422 body (``HTTPValidationError``), which the error handlers
    above replace; the request limits answer 400, 413 and 414 before any route runs.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["ErrorBody"] = ErrorBody.model_json_schema()
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.setdefault("responses", {})
                    wanted = dict(_EVERY_ROUTE)
                    if "requestBody" in operation:
                        wanted["413"] = "The request body is larger than the limit."
                    for status, description in wanted.items():
                        responses.setdefault(status, {"description": description})
                    for status, response in responses.items():
                        if status[0] in "45":
                            response["content"] = error["content"]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

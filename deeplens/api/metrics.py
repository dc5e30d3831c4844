"""Request metrics of the results service, and its public ``/metrics`` route.

``/metrics`` is public for the cluster's Prometheus and holds no tenant data: every label
is a route template, method, status class or a code-defined name, never a path, id or tenant.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deeplens import metrics


class RequestMetricsMiddleware:
    """Times each HTTP request under its matched route's path template (``unmatched`` when none)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; observe its duration once answered."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            metrics.HTTP_REQUEST_DURATION.labels(_template(scope), metrics.method(scope["method"]),
                                                 metrics.status_class(status)).observe(time.perf_counter() - start)


def _template(scope: Scope) -> str:
    route: Any = scope.get("route")  # the router sets the matched route in the scope
    return getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"


def install_metrics(app: FastAPI, pool: Any, *, queue: bool) -> None:
    """Time every request and serve ``GET /metrics`` (public, outside the OpenAPI schema)."""
    app.add_middleware(RequestMetricsMiddleware)
    collectors = metrics.process_collectors(pool, queue=queue)

    @app.get("/metrics", include_in_schema=False)
    def scrape(_: Request) -> Response:
        body, content_type = metrics.exposition(collectors)
        return Response(body, media_type=content_type)

"""FastAPI application of the results service (OpenAPI at ``/docs``).

One router per resource (:mod:`deeplens.api.routers`), each route declaring the scope it
needs through :mod:`deeplens.api.dependencies`; only ``/health``, ``/docs``,
``/openapi.json`` and the gallery's static shell are public. The tenant of a request is
its caller's (the credential's), so one service serves every tenant.
"""

from __future__ import annotations

from fastapi import FastAPI

from deeplens import __version__
from deeplens.api import gallery
from deeplens.api.dependencies import ServiceState
from deeplens.api.errors import document_errors, install_error_handlers
from deeplens.api.limits import RequestLimits, RequestLimitsMiddleware
from deeplens.api.metrics import install_metrics
from deeplens.api.routers import appearances, catalog, images, keys, operations, search, service
from deeplens.auth import Authenticator
from deeplens.pipeline.services import Services
from deeplens.search import SearchEngine
from eventing.http import BrokerPublisher
from eventing.queue import DeliveryQueue


def create_app(services: Services, queue: DeliveryQueue | None = None, *, auth: Authenticator | None = None) -> FastAPI:
    """The results service over one process's services (and its delivery queue, for the DLQ and rematch endpoints).

    ``auth`` defaults to what the settings configure; with auth on and nothing to verify a
    credential with, this raises :class:`~deeplens.auth.AuthMisconfigured`: the service
    refuses to start rather than serve unprotected.
    """
    settings = services.settings
    app = FastAPI(title="DeepLens results", version=__version__,
                  description="Products found in videos, with evidence; search by image and by text.")
    app.state.deeplens = ServiceState(
        services=services,
        queue=queue,
        auth=auth if auth is not None else Authenticator.from_settings(settings, services.db),
        engine=SearchEngine(services),
        republish=BrokerPublisher(settings.broker_url) if settings.broker_url else None,
    )
    install_error_handlers(app)
    document_errors(app)
    install_metrics(app, services.db.pool, queue=queue is not None)
    # Outermost, so an oversized or malformed request costs nothing past its headers.
    app.add_middleware(RequestLimitsMiddleware, limits=RequestLimits(settings.max_request_bytes))

    for router in (service.router, catalog.router, appearances.router, search.router, images.router, operations.router,
                   keys.router, gallery.router):
        app.include_router(router)
    if queue is not None:
        app.include_router(operations.queue_router)
    gallery.mount_gallery(app)  # the web gallery at / (deeplens/api/static)
    return app

"""FastAPI application of the results service (OpenAPI at ``/docs``)."""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from deeplens import __version__
from deeplens.errors import BadInput, NotFound, Unsupported
from deeplens.pipeline.services import Services
from deeplens.results import Appearance, ObjectStatus, Page, Results
from deeplens.search import SearchHit, search_by_image
from eventing.http import BrokerPublisher
from eventing.queue import DeadLetter, DeliveryQueue

MAX_LIMIT = 500


def create_app(services: Services, queue: DeliveryQueue | None = None) -> FastAPI:
    """The results service over one process's services (and its delivery queue, for the DLQ endpoints)."""
    app = FastAPI(title="DeepLens results", version=__version__,
                  description="Products found in videos, with evidence; search by image.")
    tenant = services.settings.tenant
    results = Results(services.db, tenant)

    @app.exception_handler(BadInput)
    async def bad_input(_: Request, exc: BadInput) -> JSONResponse:
        return JSONResponse(status_code=422, content={"error": exc.reason, "detail": exc.message})

    @app.exception_handler(Unsupported)
    async def unsupported(_: Request, exc: Unsupported) -> JSONResponse:
        return JSONResponse(status_code=400, content={"error": "unsupported", "detail": str(exc)})

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"error": "not_found", "detail": str(exc)})

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness and database reachability."""
        with services.db.pool.connection() as conn:
            conn.execute("SELECT 1")
        return {"status": "ok", "version": __version__}

    @app.get("/products", response_model=Page, tags=["catalog"])
    def products(limit: int = Query(100, ge=1, le=MAX_LIMIT), offset: int = Query(0, ge=0)) -> Page:
        """Products by sku, with photo and appearance counts."""
        return results.products(limit=limit, offset=offset)

    @app.get("/videos", response_model=Page, tags=["catalog"])
    def videos(limit: int = Query(100, ge=1, le=MAX_LIMIT), offset: int = Query(0, ge=0)) -> Page:
        """Videos by id."""
        return results.videos(limit=limit, offset=offset)

    @app.get("/appearances", response_model=Page, tags=["appearances"])
    def appearances(
        video: str | None = None,
        product: str | None = None,
        min_score: float = Query(0.0, ge=0.0, le=1.0),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0),
    ) -> Page:
        """Where products appear: filter by video, product and minimum score; paginated."""
        return results.appearances(video=video, product=product, min_score=min_score, limit=limit, offset=offset)

    @app.get("/appearances/{appearance_id}", response_model=Appearance, tags=["appearances"])
    def appearance(appearance_id: str) -> Appearance:
        """One appearance."""
        found = results.appearance(appearance_id)
        if found is None:
            raise NotFound(f"no appearance {appearance_id!r}")
        return found

    @app.get("/appearances/{appearance_id}/evidence", tags=["appearances"],
             responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "no such appearance or no evidence yet"}})
    def evidence(appearance_id: str) -> Response:
        """The evidence image: product | frame, outline and inlier correspondences drawn."""
        found = results.appearance(appearance_id)
        if found is None or found.evidence is None:
            raise NotFound(f"no evidence for appearance {appearance_id!r} (yet)")
        return Response(services.store.get(found.evidence), media_type="image/jpeg")

    @app.post("/search/image", response_model=list[SearchHit], tags=["search"])
    async def search_image(
        file: UploadFile = File(..., description="An image (JPEG, PNG, WebP, …)"),
        kind: Literal["products", "frames"] = "products",
        k: int = Query(10, ge=1, le=100),
    ) -> list[SearchHit]:
        """Items that look like the uploaded image, most similar first."""
        data = await file.read(services.settings.max_image_bytes + 1)
        return search_by_image(services, tenant, data, kind=kind, k=k)

    @app.get("/failures", response_model=Page, tags=["operations"])
    def list_failures(limit: int = Query(100, ge=1, le=MAX_LIMIT), offset: int = Query(0, ge=0)) -> Page:
        """Uploads a step could not process, and why."""
        return results.failures(limit=limit, offset=offset)

    @app.get("/status", response_model=Page, tags=["operations"])
    def statuses(limit: int = Query(100, ge=1, le=MAX_LIMIT), offset: int = Query(0, ge=0)) -> Page:
        """Processing status of every uploaded object."""
        return results.statuses(limit=limit, offset=offset)

    @app.get("/status/{key:path}", response_model=ObjectStatus, tags=["operations"])
    def status(key: str) -> ObjectStatus:
        """Processing status of one uploaded object, by key."""
        found = results.status(key)
        if found is None:
            raise NotFound(f"no uploaded object {key!r}")
        return found

    if queue is not None:
        @app.get("/dead-letters", response_model=list[DeadLetter], tags=["operations"])
        def dead_letters() -> list[DeadLetter]:
            """Events that failed every retry and wait for replay."""
            return queue.dead_letters(tenant)

        # In the cluster the Broker delivers, so a replayed event goes back through it.
        republish = BrokerPublisher(services.settings.broker_url) if services.settings.broker_url else None

        @app.post("/dead-letters/replay", tags=["operations"])
        def replay(ids: list[int] | None = None) -> dict[str, int]:
            """Deliver dead letters again (all, or the given ids)."""
            return {"replayed": queue.replay(tenant, ids, republish=republish)}

        @app.get("/queue", tags=["operations"])
        def queue_counts() -> dict[str, int]:
            """Deliveries per status."""
            return queue.counts(tenant)

    return app

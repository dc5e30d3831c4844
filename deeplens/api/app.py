"""FastAPI application of the results service (OpenAPI at ``/docs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter

from deeplens import __version__
from deeplens.api.gallery import mount_gallery
from deeplens.errors import BadInput, NotFound, Unsupported
from deeplens.pipeline.services import Services
from deeplens.rematch import request_rematch
from deeplens.results import Appearance, ObjectStatus, Page, Results
from deeplens.search import SearchEngine, SearchHit, SearchOptions
from deeplens.search.engine import MAX_WINDOW
from deeplens.search.hits import ClassInfo, ModelInfo
from deeplens.search.media import item_image
from deeplens.search.models import list_models
from eventing.http import BrokerPublisher
from eventing.queue import DeadLetter, DeliveryQueue

MAX_LIMIT = 500
# Query parameters shared by the listings (paginated pages of rows) and the searches (pages
# of hits, within the window an HNSW scan can reach).
PageLimit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")]
PageOffset = Annotated[int, Query(ge=0, description="Rows skipped.")]
HitLimit = Annotated[int, Query(ge=1, le=100, description="Hits per page.")]
HitOffset = Annotated[int, Query(ge=0, le=MAX_WINDOW, description="Hits skipped.")]
MinScore = Annotated[float | None, Query(ge=-1.0, le=1.0, description="Lowest cosine similarity listed.")]
_HITS = TypeAdapter(list[SearchHit])


def hits_response(hits: list[SearchHit]) -> Response:
    """Search hits as JSON, serialised once by pydantic's compiled core.

    The search endpoints keep ``response_model`` for the OpenAPI schema, but a returned
    ``Response`` skips FastAPI's re-validation and second encoding of the same models —
    a tenth of the CPU a search request costs (bench/search.py).
    """
    return Response(content=_HITS.dump_json(hits), media_type="application/json")


def create_app(services: Services, queue: DeliveryQueue | None = None) -> FastAPI:
    """The results service over one process's services (and its delivery queue, for the DLQ endpoints)."""
    app = FastAPI(title="DeepLens results", version=__version__,
                  description="Products found in videos, with evidence; search by image and by text.")
    tenant = services.settings.tenant
    results = Results(services.db, tenant)
    engine = SearchEngine(services)

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
    def products(limit: PageLimit = 100, offset: PageOffset = 0) -> Page:
        """Products by sku, with photo and appearance counts."""
        return results.products(limit=limit, offset=offset)

    @app.get("/videos", response_model=Page, tags=["catalog"])
    def videos(limit: PageLimit = 100, offset: PageOffset = 0) -> Page:
        """Videos by id."""
        return results.videos(limit=limit, offset=offset)

    @app.get("/appearances", response_model=Page, tags=["appearances"])
    def appearances(
        video: str | None = None,
        product: str | None = None,
        min_score: float = Query(0.0, ge=0.0, le=1.0),
        limit: PageLimit = 100,
        offset: PageOffset = 0,
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

    def options(kind: str, model: str | None, video: str | None, product: str | None, since: datetime | None,
                min_score: float | None, limit: int, offset: int) -> SearchOptions:
        return SearchOptions(kind=kind, model=model, video=video, product=product, since=since,  # type: ignore[arg-type]
                             min_score=min_score, limit=limit, offset=offset)

    @app.post("/search/image", response_model=list[SearchHit], tags=["search"])
    async def search_image(
        file: UploadFile = File(..., description="An image (JPEG, PNG, WebP, …)"),
        kind: Literal["products", "frames", "all"] = "products",
        model: str | None = Query(None, description="Model whose vectors to search; default DEEPLENS_MODEL."),
        video: str | None = Query(None, description="Only keyframes of this video."),
        product: str | None = Query(None, description="Only photos of this product (sku)."),
        since: datetime | None = Query(None, description="Only items added since (date or date-time; UTC when no zone)."),
        min_score: MinScore = None,
        limit: int | None = Query(None, ge=1, le=100, description="Hits per page (default k)."),
        offset: HitOffset = 0,
        k: int = Query(10, ge=1, le=100, description="Hits per page (older name of limit)."),
    ) -> Response:
        """Items that look like the uploaded image, most similar first (score: cosine similarity)."""
        data = await file.read(services.settings.max_image_bytes + 1)
        opts = options(kind, model, video, product, since, min_score, limit or k, offset)
        return hits_response(await run_in_threadpool(engine.by_image, data, opts))

    @app.get("/search/text", response_model=list[SearchHit], tags=["search"])
    def search_text(
        q: str = Query(..., min_length=1, max_length=500, description="What the images show, in words."),
        kind: Literal["products", "frames", "all"] = "all",
        model: str | None = Query(None, description="Model whose vectors to search; default DEEPLENS_MODEL."),
        video: str | None = None,
        product: str | None = None,
        since: datetime | None = None,
        min_score: MinScore = None,
        limit: HitLimit = 10,
        offset: HitOffset = 0,
    ) -> Response:
        """Items that show what the text describes, best first.

        open_clip models: cosine similarity of the text tower's embedding. Classifier models
        (mobilenet_v2): the query is mapped to ImageNet classes (`GET /search/text/classes`)
        and images are ranked by those classes' probabilities; each hit's `classes` says
        which it shows. A query that names no class is a 422 `no_matching_class`.
        """
        return hits_response(engine.by_text(q, options(kind, model, video, product, since, min_score, limit, offset)))

    @app.get("/search/text/classes", response_model=list[ClassInfo], tags=["search"])
    def search_text_classes(
        q: str = Query(..., min_length=1, max_length=500), model: str | None = None
    ) -> list[ClassInfo]:
        """The ImageNet classes a text query maps to on a classifier model, best first, with their weights."""
        return engine.text_classes(q, model)

    @app.get("/search/similar", response_model=list[SearchHit], tags=["search"])
    def search_similar(
        id: int = Query(..., description="Id of the indexed item."),  # shadows a builtin, but it is the API's parameter name
        kind: Literal["product_image", "frame"] = Query("product_image", description="What the id names."),
        within: Literal["products", "frames", "all"] = Query("all", description="What to search among."),
        model: str | None = None,
        video: str | None = None,
        product: str | None = None,
        since: datetime | None = None,
        min_score: MinScore = None,
        limit: HitLimit = 10,
        offset: HitOffset = 0,
    ) -> Response:
        """More like this: items most similar to an indexed product photo or keyframe (itself excluded)."""
        return hits_response(engine.similar(kind, id, options(within, model, video, product, since, min_score, limit, offset)))

    @app.get("/duplicates", response_model=Page, tags=["search"])
    def duplicates(
        threshold: float = Query(0.95, gt=0.0, le=1.0, description="Lowest cosine similarity of a pair."),
        kind: Literal["products", "frames", "all"] = "all",
        model: str | None = None,
        video: str | None = None,
        product: str | None = None,
        since: datetime | None = None,
        limit: PageLimit = 100,
        offset: PageOffset = 0,
    ) -> Page:
        """Near-duplicate pairs `{a, b, score}` (a and b are search hits), most similar first; paginated."""
        opts = options(kind, model, video, product, since, None, limit, offset)
        return engine.duplicates(threshold, opts)

    @app.get("/models", response_model=list[ModelInfo], tags=["search"])
    def models() -> list[ModelInfo]:
        """Models search can use: dimension, text support, availability and how many items each has indexed."""
        return list_models(services)

    @app.get("/images/{kind}/{item_id}", tags=["search"],
             responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, 304: {"description": "not modified"},
                        404: {"description": "no such item"}})
    def image(
        request: Request,
        kind: Literal["product_image", "frame"],
        item_id: int,
        thumb: bool = Query(False, description="A JPEG at most 256 px on its longer side."),
    ) -> Response:
        """The stored image of a product photo or keyframe (`image_url` / `thumb_url` of a hit)."""
        media = item_image(services, kind, item_id, thumb=thumb, cache=engine.cache)
        # Private: images belong to a tenant; revalidation by ETag makes repeat views cheap.
        headers = {"ETag": media.etag, "Cache-Control": "private, max-age=3600"}
        if media.etag in _etags(request.headers.get("if-none-match")):
            return Response(status_code=304, headers=headers)
        return Response(media.data, media_type=media.content_type, headers=headers)

    @app.get("/failures", response_model=Page, tags=["operations"])
    def list_failures(limit: PageLimit = 100, offset: PageOffset = 0) -> Page:
        """Uploads a step could not process, and why."""
        return results.failures(limit=limit, offset=offset)

    @app.get("/status", response_model=Page, tags=["operations"])
    def statuses(limit: PageLimit = 100, offset: PageOffset = 0) -> Page:
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

        @app.post("/rematch", status_code=202, tags=["operations"])
        def rematch(appearances_only: bool = False) -> dict[str, str]:
            """Decide every keyframe and roll up every appearance again with the match step's
            settings as they are now (after changing a matching or appearance setting);
            ``appearances_only`` rolls up only, enough for appearance settings and a raised threshold."""
            return {"requested": request_rematch(services.settings, queue, decide=not appearances_only).id}

        @app.get("/queue", tags=["operations"])
        def queue_counts() -> dict[str, int]:
            """Deliveries per status."""
            return queue.counts(tenant)

    mount_gallery(app, services)  # the web gallery at / (deeplens/api/static)
    return app


def _etags(header: str | None) -> set[str]:
    """Entity tags of an If-None-Match header (weak ones compared by their value)."""
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}

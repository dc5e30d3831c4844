"""Search by image, by text and by an indexed item; near-duplicates; the models search can use."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import TypeAdapter

from deeplens.api.dependencies import MAX_ROW_ID, HitLimit, HitOffset, MinScore, ModelChoice, PageParams, ProductFilter, Reader, VideoFilter
from deeplens.api.errors import AUTH_RESPONSES
from deeplens.results import Page
from deeplens.search import SearchHit, SearchOptions
from deeplens.search.hits import ClassInfo, ModelInfo
from deeplens.search.models import list_models

router = APIRouter(tags=["search"], responses=AUTH_RESPONSES)

_HITS = TypeAdapter(list[SearchHit])


def hits_response(hits: list[SearchHit]) -> Response:
    """Search hits as JSON, serialised once by pydantic's compiled core.

    The search endpoints keep ``response_model`` for the OpenAPI schema, but a returned
    ``Response`` skips FastAPI's re-validation and second encoding of the same models —
    a tenth of the CPU a search request costs (bench/search.py).
    """
    return Response(content=_HITS.dump_json(hits), media_type="application/json")


def options(kind: str, model: str | None, video: str | None, product: str | None, since: datetime | None,
            min_score: float | None, limit: int, offset: int) -> SearchOptions:
    return SearchOptions(kind=kind, model=model, video=video, product=product, since=since,  # type: ignore[arg-type]
                         min_score=min_score, limit=limit, offset=offset)


@router.post("/search/image", response_model=list[SearchHit])
async def search_image(
    caller: Reader,
    file: UploadFile = File(..., description="An image (JPEG, PNG, WebP, …)"),
    kind: Literal["products", "frames", "all"] = "products",
    model: ModelChoice = None,
    video: VideoFilter = None,
    product: ProductFilter = None,
    since: datetime | None = Query(None, description="Only items added since (date or date-time; UTC when no zone)."),
    min_score: MinScore = None,
    limit: int | None = Query(None, ge=1, le=100, description="Hits per page (default k)."),
    offset: HitOffset = 0,
    k: int = Query(10, ge=1, le=100, description="Hits per page (older name of limit)."),
) -> Response:
    """Items that look like the uploaded image, most similar first (score: cosine similarity)."""
    data = await file.read(caller.services.settings.max_image_bytes + 1)
    opts = options(kind, model, video, product, since, min_score, limit or k, offset)
    return hits_response(await run_in_threadpool(caller.search.by_image, data, opts))


@router.get("/search/text", response_model=list[SearchHit])
def search_text(
    caller: Reader,
    q: str = Query(..., min_length=1, max_length=500, description="What the images show, in words."),
    kind: Literal["products", "frames", "all"] = "all",
    model: ModelChoice = None,
    video: VideoFilter = None,
    product: ProductFilter = None,
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
    return hits_response(caller.search.by_text(q, options(kind, model, video, product, since, min_score, limit, offset)))


@router.get("/search/text/classes", response_model=list[ClassInfo])
def search_text_classes(
    caller: Reader, q: str = Query(..., min_length=1, max_length=500), model: ModelChoice = None
) -> list[ClassInfo]:
    """The ImageNet classes a text query maps to on a classifier model, best first, with their weights."""
    return caller.search.text_classes(q, model)


@router.get("/search/similar", response_model=list[SearchHit])
def search_similar(
    caller: Reader,
    id: int = Query(..., ge=1, le=MAX_ROW_ID, description="Id of the indexed item."),  # shadows a builtin, but it is the API's parameter name
    kind: Literal["product_image", "frame"] = Query("product_image", description="What the id names."),
    within: Literal["products", "frames", "all"] = Query("all", description="What to search among."),
    model: ModelChoice = None,
    video: VideoFilter = None,
    product: ProductFilter = None,
    since: datetime | None = None,
    min_score: MinScore = None,
    limit: HitLimit = 10,
    offset: HitOffset = 0,
) -> Response:
    """More like this: items most similar to one of the caller's indexed product photos or keyframes (itself excluded)."""
    return hits_response(caller.search.similar(kind, id, options(within, model, video, product, since, min_score, limit, offset)))


@router.get("/duplicates", response_model=Page)
def duplicates(
    caller: Reader,
    page: PageParams,
    threshold: float = Query(0.95, gt=0.0, le=1.0, description="Lowest cosine similarity of a pair."),
    kind: Literal["products", "frames", "all"] = "all",
    model: ModelChoice = None,
    video: VideoFilter = None,
    product: ProductFilter = None,
    since: datetime | None = None,
) -> Page:
    """Near-duplicate pairs `{a, b, score}` (a and b are search hits), most similar first; paginated."""
    return caller.search.duplicates(threshold, options(kind, model, video, product, since, None, page.limit, page.offset))


@router.get("/models", response_model=list[ModelInfo])
def models(caller: Reader) -> list[ModelInfo]:
    """Models search can use: dimension, text support, availability and how many of the caller's items each has indexed."""
    return list_models(caller.services, caller.tenant)

"""Where products appear in videos, and the evidence of each appearance."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from deeplens.api.dependencies import PageParams, PathName, ProductFilter, Reader, VideoFilter
from deeplens.api.errors import AUTH_RESPONSES, ErrorBody
from deeplens.errors import NotFound
from deeplens.results import Appearance, Page

router = APIRouter(prefix="/appearances", tags=["appearances"], responses=AUTH_RESPONSES)


@router.get("", response_model=Page)
def appearances(
    caller: Reader,
    page: PageParams,
    video: VideoFilter = None,
    product: ProductFilter = None,
    min_score: float = Query(0.0, ge=0.0, le=1.0),
) -> Page:
    """Where products appear: filter by video, product and minimum score; paginated."""
    return caller.results.appearances(video=video, product=product, min_score=min_score, limit=page.limit,
                                      offset=page.offset)


@router.get("/{appearance_id}", response_model=Appearance, responses={404: {"model": ErrorBody}})
def appearance(caller: Reader, appearance_id: PathName) -> Appearance:
    """One appearance."""
    found = caller.results.appearance(appearance_id)
    if found is None:
        raise NotFound(f"no appearance {appearance_id!r}")
    return found


@router.get("/{appearance_id}/evidence",
            responses={200: {"content": {"image/jpeg": {}}},
                       404: {"model": ErrorBody, "description": "no such appearance or no evidence yet"}})
def evidence(caller: Reader, appearance_id: PathName) -> Response:
    """The evidence image: product | frame, outline and inlier correspondences drawn."""
    # The object key comes from the caller's tenant's row, so only that tenant's evidence is served.
    found = caller.results.appearance(appearance_id)
    if found is None or found.evidence is None:
        raise NotFound(f"no evidence for appearance {appearance_id!r} (yet)")
    return Response(caller.services.store.get(found.evidence), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600", "Vary": "Authorization"})

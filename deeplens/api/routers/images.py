"""The stored images of product photos and keyframes (the ``image_url`` / ``thumb_url`` of a hit)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from deeplens.api.dependencies import Reader, RowId
from deeplens.api.errors import AUTH_RESPONSES, ErrorBody
from deeplens.search.media import item_image

router = APIRouter(tags=["search"], responses=AUTH_RESPONSES)


@router.get("/images/{kind}/{item_id}",
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, 304: {"description": "not modified"},
                       404: {"model": ErrorBody, "description": "no such item"}})
def image(
    caller: Reader,
    request: Request,
    kind: Literal["product_image", "frame"],
    item_id: RowId,
    thumb: bool = Query(False, description="A JPEG at most 256 px on its longer side."),
) -> Response:
    """The stored image of one of the caller's product photos or keyframes."""
    media = item_image(caller.services, caller.tenant, kind, item_id, thumb=thumb, cache=caller.search.cache)
    # Private: images belong to a tenant; revalidation by ETag makes repeat views cheap.
    # Vary: the same URL is another tenant's image under another credential.
    headers = {"ETag": media.etag, "Cache-Control": "private, max-age=3600", "Vary": "Authorization"}
    if media.etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    return Response(media.data, media_type=media.content_type, headers=headers)


def _etags(header: str | None) -> set[str]:
    """Entity tags of an If-None-Match header (weak ones compared by their value)."""
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}

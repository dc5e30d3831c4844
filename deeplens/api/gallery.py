"""The web gallery of the results service: static pages at ``/``, no build step.

The gallery is plain HTML, CSS and ES modules under ``deeplens/api/static/`` that talk to
the REST API from the browser. :func:`mount_gallery` serves them (the static shell is
public: it holds no data, and signs in when the API answers 401); :data:`router` adds small
read-only look-ups the REST API does not answer in one request — the photo ids of a page of
products and a poster keyframe of a page of videos — so a grid of thousands of products
costs one request per page, not one per card. They need the ``read`` scope and answer for
the caller's tenant, like every data route.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from deeplens.api.dependencies import PathName, Reader
from deeplens.api.errors import AUTH_RESPONSES, ErrorBody
from deeplens.db.gallery import poster_frames, product_photo_ids, video_keyframes
from deeplens.errors import NotFound

STATIC_DIR = Path(__file__).with_name("static")
#: Most products or videos one look-up answers (a gallery page is far smaller).
MAX_KEYS = 200
#: Most photo ids listed per product.
MAX_PHOTOS = 8

# Revalidate on every load (ETag / Last-Modified make that a 304): a new release is seen at once.
_NO_STALE = {"Cache-Control": "no-cache"}


class VideoInfo(BaseModel):
    """One video, as the gallery's video view needs it."""

    video: str
    duration: float
    fps: float
    width: int
    height: int
    keyframes: list[tuple[int, float]]
    """(frame id, seconds) of every keyframe, in order."""


class _Static(StaticFiles):
    async def get_response(self, path, scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        response.headers.update(_NO_STALE)
        return response


def mount_gallery(app: FastAPI) -> None:
    """Serve the gallery's static shell at ``/`` and its files at ``/static/`` (public: no data in them)."""
    index = STATIC_DIR / "index.html"

    @app.get("/", include_in_schema=False)
    def gallery_index() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=_NO_STALE)

    app.mount("/static", _Static(directory=STATIC_DIR), name="static")


router = APIRouter(prefix="/gallery", tags=["gallery"], responses=AUTH_RESPONSES)


@router.get("/product-photos")
def product_photos(caller: Reader, sku: list[str] = Query(..., max_length=MAX_KEYS)) -> dict[str, list[int]]:
    """Ids of each product's photos (``GET /images/product_image/{id}``), by object key; at most 8 each."""
    with caller.services.db.pool.connection() as conn:
        rows = product_photo_ids(conn, caller.tenant, list(sku), MAX_PHOTOS)
    out: dict[str, list[int]] = {}
    for row in rows:
        out.setdefault(row["sku"], []).append(row["id"])
    return out


@router.get("/video-posters")
def video_posters(caller: Reader, video: list[str] = Query(..., max_length=MAX_KEYS)) -> dict[str, int]:
    """A keyframe id per video to show as its poster: its best match's frame, else the keyframe nearest the middle."""
    with caller.services.db.pool.connection() as conn:
        return poster_frames(conn, caller.tenant, list(video))


@router.get("/videos/{video_id}", response_model=VideoInfo,
            responses={404: {"model": ErrorBody, "description": "no such video"}})
def video_info(caller: Reader, video_id: PathName) -> VideoInfo:
    """One video's duration, size and keyframes."""
    with caller.services.db.pool.connection() as conn:
        row, frames = video_keyframes(conn, caller.tenant, video_id)
    if row is None:
        raise NotFound(f"no video {video_id!r}")
    return VideoInfo(video=row["video_id"], duration=row["duration"], fps=row["fps"], width=row["width"],
                     height=row["height"], keyframes=[(f["id"], round(f["t"], 3)) for f in frames])

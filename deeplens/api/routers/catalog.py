"""Products and videos."""

from __future__ import annotations

from fastapi import APIRouter

from deeplens.api.dependencies import PageParams, PathName, Reader, Writer
from deeplens.api.errors import AUTH_RESPONSES, ErrorBody
from deeplens.removal import Removal, remove_product
from deeplens.results import Page

router = APIRouter(tags=["catalog"], responses=AUTH_RESPONSES)


@router.get("/products", response_model=Page)
def products(caller: Reader, page: PageParams) -> Page:
    """Products by sku, with photo and appearance counts."""
    return caller.results.products(limit=page.limit, offset=page.offset)


@router.delete("/products/{sku}", response_model=Removal, responses={
    404: {"model": ErrorBody, "description": "no such product"},
    409: {"model": ErrorBody, "description": "the product's photos are being matched against the library just now"},
})
def remove(caller: Writer, sku: PathName) -> Removal:
    """Remove a product from the catalog: its photos, matches and appearances go, and it is never
    matched again. Keyframes whose decision saw one of its photos are decided again without them
    (asynchronously; ``/status`` shows the work in flight)."""
    return remove_product(caller.services, caller.state.queue, caller.tenant, sku)


@router.get("/videos", response_model=Page)
def videos(caller: Reader, page: PageParams) -> Page:
    """Videos by id."""
    return caller.results.videos(limit=page.limit, offset=page.offset)

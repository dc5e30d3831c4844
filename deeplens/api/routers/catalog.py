"""Products and videos."""

from __future__ import annotations

from fastapi import APIRouter

from deeplens.api.dependencies import PageParams, Reader
from deeplens.api.errors import AUTH_RESPONSES
from deeplens.results import Page

router = APIRouter(tags=["catalog"], responses=AUTH_RESPONSES)


@router.get("/products", response_model=Page)
def products(caller: Reader, page: PageParams) -> Page:
    """Products by sku, with photo and appearance counts."""
    return caller.results.products(limit=page.limit, offset=page.offset)


@router.get("/videos", response_model=Page)
def videos(caller: Reader, page: PageParams) -> Page:
    """Videos by id."""
    return caller.results.videos(limit=page.limit, offset=page.offset)

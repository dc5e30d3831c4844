"""What search answers with: ranked hits, near-duplicate pairs, model descriptions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

ItemKind = Literal["product_image", "frame"]
Kind = Literal["products", "frames", "all"]

KIND_ITEMS: dict[str, tuple[str, ...]] = {
    "products": ("product_image",),
    "frames": ("frame",),
    "all": ("product_image", "frame"),
}


def image_url(kind: str, item_id: int) -> str:
    """Where the results service serves an item's stored image."""
    return f"/images/{kind}/{item_id}"


class SearchHit(BaseModel):
    """One ranked result: a product photo or a keyframe.

    ``score`` is the cosine similarity for image, "more like this" and text-tower search;
    for text search on a classifier model it is ``sum(weight * probability)`` over the
    classes the query maps to (0-1; see ``classes``).
    """

    kind: ItemKind
    id: int
    score: float
    key: str = Field(description="Object key of the image in the bucket.")
    product: str | None = Field(None, description="SKU, for product photos.")
    video: str | None = Field(None, description="Video id, for keyframes.")
    t: float | None = Field(None, description="Seconds into the video, for keyframes.")
    classes: list[str] | None = Field(
        None, description="Text search on a classifier model: the query's classes this image shows, strongest first."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def image_url(self) -> str:
        """The stored image (``GET /images/{kind}/{id}``)."""
        return image_url(self.kind, self.id)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def thumb_url(self) -> str:
        """A 256-pixel JPEG thumbnail of it."""
        return image_url(self.kind, self.id) + "?thumb=1"


class DuplicatePair(BaseModel):
    """Two items whose embeddings are at least ``score`` cosine-similar."""

    a: SearchHit
    b: SearchHit
    score: float


class ClassInfo(BaseModel):
    """A class a text query maps to (text search on classifier models)."""

    index: int
    name: str
    similarity: float
    weight: float


class ModelInfo(BaseModel):
    """A model search can use: what it can do and how much of the catalog it has indexed."""

    name: str
    dim: int | None
    family: str | None
    default: bool
    available: bool = Field(description="Its weights can be loaded here (needed to embed queries and to reindex).")
    text_search: Literal["text_tower", "classes"] | None = Field(
        description="How it answers text queries: its text tower, ImageNet classes (classifier models), or not at all."
    )
    indexed: dict[str, int] = Field(description="Items with a vector of this model, by kind (product_image, frame).")
    indexed_total: int
    class_scored: int = Field(0, description="Items with stored class scores (text search on classifier models).")
    description: str = ""

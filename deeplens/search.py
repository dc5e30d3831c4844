"""Search the index by an example image."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from deeplens.db.vectors import nearest
from deeplens.pipeline.services import Services
from deeplens.vision.images import decode_image

Kind = Literal["products", "frames"]


class SearchHit(BaseModel):
    """One ranked result: a product photo or a keyframe, with its cosine similarity."""

    kind: Literal["product_image", "frame"]
    id: int
    score: float
    key: str
    product: str | None = None
    video: str | None = None
    t: float | None = None


def search_by_image(services: Services, tenant: str, data: bytes, *, kind: Kind = "products", k: int = 10) -> list[SearchHit]:
    """The ``k`` indexed items most similar to the encoded image ``data`` (``BadInput`` if it is not one)."""
    image = decode_image(data, max_bytes=services.settings.max_image_bytes)
    query = services.embedder.embed_images([image])[0]
    item_kind = "product_image" if kind == "products" else "frame"
    with services.db.transaction() as conn:
        hits = nearest(conn, tenant, item_kind, services.embedder.model_name, query, k)
        ids = [item_id for item_id, _ in hits]
        if item_kind == "product_image":
            rows = conn.execute(
                "SELECT id, object_key, sku FROM product_images WHERE tenant_id = %s AND id = ANY(%s)", (tenant, ids)
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT id, object_key, video_id, t FROM frames WHERE tenant_id = %s AND id = ANY(%s)", (tenant, ids)
            ).fetchall()
    by_id = {row["id"]: row for row in rows}
    return [
        SearchHit(
            kind=item_kind, id=item_id, score=round(score, 4), key=by_id[item_id]["object_key"],
            product=by_id[item_id].get("sku"), video=by_id[item_id].get("video_id"), t=by_id[item_id].get("t"),
        )
        for item_id, score in hits
        if item_id in by_id
    ]

"""evidence: a side-by-side image (product | frame) with the outline and inliers drawn."""

from __future__ import annotations

from deeplens.db.catalog import get_frame, get_product_image
from deeplens.db.local_features import get_local_features
from deeplens.db.matches import get_appearance, set_evidence
from deeplens.pipeline.services import Services
from deeplens.storage.keys import evidence_key
from deeplens.vision.evidence import render_evidence
from deeplens.vision.images import decode_image, encode_jpeg
from deeplens.vision.local_features import from_bytes
from deeplens.vision.verify import verify_pair
from eventing import types
from eventing.events import Event

SOURCE = "deeplens/evidence"


def handle(event: Event, services: Services) -> list[Event]:
    """Render evidence for each appearance's best frame; emit ``match.evidenced``."""
    found = types.parse_data(types.MatchFound, event.data)
    outputs = []
    for appearance_id in found.appearance_ids:
        key = _render(event.tenant, appearance_id, services)
        if key is not None:
            evidenced = types.MatchEvidenced(appearance_id=appearance_id, evidence_key=key)
            outputs.append(event.child(types.MATCH_EVIDENCED, evidenced.model_dump(), source=SOURCE, key=key, subject=event.subject))
    return outputs


def _render(tenant: str, appearance_id: str, services: Services) -> str | None:
    with services.db.pool.connection() as conn:
        appearance = get_appearance(conn, tenant, appearance_id)
        if appearance is None:  # superseded by a later roll-up: nothing to show
            return None
        key = evidence_key(tenant, appearance_id, appearance["best_frame_id"])
        if appearance["evidence_key"] == key:
            return None
        frame = get_frame(conn, tenant, appearance["best_frame_id"])
        product = get_product_image(conn, tenant, appearance["best_product_image_id"])
        product_features = get_local_features(conn, tenant, "product_image", [product["id"]])[product["id"]]
        frame_features = get_local_features(conn, tenant, "frame", [frame["id"]])[frame["id"]]
    verification = verify_pair(
        from_bytes(product_features), from_bytes(frame_features), min_inliers=services.settings.match_min_inliers
    )
    if verification is None:
        raise RuntimeError(f"appearance {appearance_id}: best frame no longer verifies")
    title = f"{appearance['sku']} in {appearance['video_id']} at {frame['t']:.2f}s  appearance score {appearance['best_score']:.2f} |"
    image = render_evidence(
        decode_image(services.store.get(product["object_key"])),
        decode_image(services.store.get(frame["object_key"])),
        verification,
        title=title,
    )
    services.store.put(key, encode_jpeg(image, quality=85), "image/jpeg")
    with services.db.transaction() as conn:
        set_evidence(conn, tenant, appearance_id, appearance["best_frame_id"], key)
    return key

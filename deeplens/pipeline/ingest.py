"""ingest: an object-created notification becomes a typed event (product photo or video); a deleted photo leaves the catalog."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from deeplens.db.catalog import record_object
from deeplens.db.failures import clear_failures, record_failure
from deeplens.db.removal import remove_photo, removed_photo
from deeplens.errors import BadInput, NotFound
from deeplens.pipeline.admission import check_content, photo_conflict
from deeplens.pipeline.rollup import rolled_up
from deeplens.pipeline.services import Services
from deeplens.removal import delete_objects, redecisions
from deeplens.storage.base import sha256_hex
from deeplens.storage.keys import LAYOUT, parse_key
from deeplens.storage.notifications import CreatedObject, RemovedObject, parse_notification, parse_removals
from eventing import types
from eventing.events import Event

log = logging.getLogger(__name__)
SOURCE = "deeplens/ingest"


def notification_event(payload: Any, default_tenant: str) -> Event:
    """The ``object.created`` CloudEvent carrying a notification (record, webhook body or ``Records`` document).

    Its id is derived from the records (bucket, key, etag, sequencer), so a notification
    delivered twice is the same event. Its tenant is the one its first key names
    (``default_tenant`` for a key outside the layout, so its failure is still recorded).
    """
    created, removed = parse_notification(payload), parse_removals(payload)
    if created or removed:
        identity = "|".join([f"{c.bucket}/{c.key}@{c.etag}#{c.sequencer}" for c in created]
                            + [f"{r.bucket}/{r.key}@removed#{r.sequencer}" for r in removed])
    else:  # a test event: nothing to ingest, but still one identity per payload
        identity = json.dumps(payload, sort_keys=True)
    first = created[0] if created else (removed[0] if removed else None)
    return Event(
        type=types.OBJECT_CREATED,
        source=f"deeplens/bucket/{first.bucket}" if first else "deeplens/bucket",
        data=payload,
        id=hashlib.sha256(identity.encode()).hexdigest()[:32],
        subject=first.key if first else None,
        tenant=(parse_key(first.key).tenant if first else None) or default_tenant,
        rootkey=first.key if first else None,
    )


def handle(event: Event, services: Services) -> list[Event]:
    """Turn each created source object into a ``product.uploaded`` or ``video.uploaded`` event,
    and take each deleted product photo out of the catalog.

    Derived objects (frames, evidence) are ignored; a key outside the layout, an
    oversized object, content that is not the media its key names, or a product photo
    that is already another product's is recorded as a failure; unchanged content (same
    sha256) is a no-op. Each object belongs to the tenant its key names, whatever the event says.
    """
    outputs = []
    for created in parse_notification(event.data):
        outputs.extend(_ingest_object(event, created, services))
    for removed in parse_removals(event.data):
        outputs.extend(_remove_photo(event, removed, services))
    return outputs


def _remove_photo(event: Event, removed: RemovedObject, services: Services) -> list[Event]:
    """A product photo deleted from the bucket leaves the catalog (the product with its last
    photo): its matches and appearances go, and the keyframes whose decision saw it are
    decided again. A deleted video is left as it is (nothing re-reads it once processed)."""
    parsed = parse_key(removed.key)
    if parsed.kind != "product_image" or services.store.head(removed.key) is not None:
        return []  # not a photo, or uploaded again since: the newer notification holds
    tenant = parsed.tenant or event.tenant
    with services.db.transaction() as conn:
        # Again (a redelivery, or a step retried after its commit): what is left to do still is.
        done = remove_photo(conn, tenant, removed.key) or removed_photo(conn, tenant, removed.key)
    if done is None:
        return []
    delete_objects(services, done.evidence_keys)
    log.info("ingest: %s deleted from the bucket; %s%d keyframe(s) to decide again", removed.key,
             f"{done.sku} left the catalog, " if done.product_removed else "", len(done.frame_ids))
    outputs = [event.child(types.IMAGE_INDEXED, batch.model_dump(), source=SOURCE, key=f"{removed.key}/removed/{number}",
                           subject=removed.key, tenant=tenant)
               for number, batch in enumerate(redecisions(done, services.settings.model))]
    return outputs + rolled_up(event, services, done.pairs, source=SOURCE, tenant=tenant)


def _ingest_object(event: Event, created: CreatedObject, services: Services) -> list[Event]:
    settings = services.settings
    parsed = parse_key(created.key)
    if parsed.kind == "derived":
        return []
    tenant = parsed.tenant or event.tenant
    # One notification may carry several records, so failures are recorded per object here
    # instead of failing the whole event.
    if parsed.kind == "unknown":
        return _fail(event, tenant, services, created.key, parsed.kind, "unrecognised_key", f"key is not {LAYOUT}")
    limit = settings.max_image_bytes if parsed.kind == "product_image" else settings.max_object_bytes
    if created.size > limit:
        return _fail(event, tenant, services, created.key, parsed.kind, "too_large", f"object is {created.size} bytes; the limit is {limit}")
    try:
        data = services.store.get(created.key)
    except NotFound:
        log.info("ingest: %s vanished before it was read; nothing to do", created.key)
        return []
    if len(data) > limit:
        return _fail(event, tenant, services, created.key, parsed.kind, "too_large", f"object is {len(data)} bytes; the limit is {limit}")
    try:
        check_content(parsed, data)
    except BadInput as refused:
        return _fail(event, tenant, services, created.key, parsed.kind, refused.reason, refused.message)
    digest = sha256_hex(data)
    with services.db.transaction() as conn:
        conflict = photo_conflict(conn, tenant, parsed, digest)
        if conflict is None and not record_object(conn, tenant, created.key, parsed.kind, digest, len(data)):
            log.info("ingest: %s unchanged (sha256 %s…); no-op", created.key, digest[:12])
            return []
        clear_failures(conn, tenant, created.key)
    if conflict is not None:
        return _fail(event, tenant, services, created.key, parsed.kind, conflict.reason, conflict.message)
    if parsed.kind == "product_image":
        event_type = types.PRODUCT_UPLOADED
        payload = types.ProductUploaded(key=created.key, sku=parsed.sku, sha256=digest, size=len(data)).model_dump()
    else:
        event_type = types.VIDEO_UPLOADED
        payload = types.VideoUploaded(key=created.key, video_id=parsed.video_id, sha256=digest, size=len(data)).model_dump()
    # The content hash is part of the child's identity, so changed content is processed afresh.
    return [event.child(event_type, payload, source=SOURCE, key=f"{created.key}@{digest}", subject=created.key,
                        rootkey=created.key, tenant=tenant)]


def _fail(event: Event, tenant: str, services: Services, key: str, kind: str, reason: str, message: str) -> list[Event]:
    with services.db.transaction() as conn:
        record_object(conn, tenant, key, kind, "", 0)
        record_failure(conn, tenant, key, "ingest", reason, message, event.id)
    return []

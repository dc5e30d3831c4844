"""Removing a product from a tenant's catalog (``deeplens remove``, ``DELETE /products/{sku}``), or
one photo of it (its object deleted from the bucket, which ingest is notified of)."""

from __future__ import annotations

import logging

import psycopg
from pydantic import BaseModel

from deeplens.db.removal import RemovedPhotos
from deeplens.db.removal import remove_product as remove_product_rows
from deeplens.errors import NotFound
from deeplens.pipeline.services import Services
from eventing import types
from eventing.events import Event
from eventing.http import BrokerPublisher
from eventing.queue import DeliveryQueue

LOG = logging.getLogger(__name__)
SOURCE = "deeplens/removal"
FRAMES_PER_EVENT = 64
"""Keyframes each match call decides again (a keyframe batch is about this size)."""


class Removal(BaseModel):
    """What removing a product did."""

    sku: str
    photos: int
    """Photos removed from the catalog (and from the store)."""
    appearances: int
    """Appearances of the product deleted."""
    keyframes: int
    """Keyframes whose decision saw one of its photos, now decided again without them."""
    objects_kept: list[str] = []
    """Store objects (photos, evidence) that could not be deleted; nothing refers to them any more."""


def remove_product(services: Services, queue: DeliveryQueue | None, tenant: str, sku: str) -> Removal:
    """Remove ``sku`` from ``tenant``'s catalog: it is never matched again.

    One transaction deletes the product, its photos and what was derived from them (its
    matches and appearances) and records the photos as removed, so every match process's
    catalog index drops them. The keyframes whose last decision saw one of the photos (a
    candidate or a rival) are decided again, without them, by the match step: through the
    Broker in the cluster (``DEEPLENS_BROKER_URL``), else through ``queue``. The product's
    photos and evidence images are then deleted from the store.
    A product not in the catalog is :class:`NotFound`.
    """
    with services.db.transaction() as conn:
        removed = remove_product_rows(conn, tenant, sku)
        if removed is None:
            raise NotFound(f"no product {sku!r} in the catalog")
        batches = redecisions(removed, services.settings.model)
        if batches:
            events = [Event(type=types.IMAGE_INDEXED, source=SOURCE, data=batch.model_dump(), subject=f"products/{sku}", tenant=tenant)
                      for batch in batches]
            # Before the commit, so a failure to deliver them undoes the removal; a match call
            # that gets one first waits for the commit (the catalog generation's row lock).
            _deliver(services, queue, conn, events)
    kept = delete_objects(services, removed.photo_keys + removed.evidence_keys)
    LOG.info("removed %s: %d photo(s), %d appearance(s); %d keyframe(s) to decide again", sku, len(removed.photo_keys),
             removed.appearances, len(removed.frame_ids))
    return Removal(sku=sku, photos=len(removed.photo_keys), appearances=removed.appearances, keyframes=len(removed.frame_ids),
                   objects_kept=kept)


def redecisions(removed: RemovedPhotos, model: str) -> list[types.ImageIndexed]:
    """The ``image.indexed`` batches that have the match step decide again the keyframes a removal left."""
    ids = removed.frame_ids
    return [types.ImageIndexed(item_kind="frame", item_ids=ids[start:start + FRAMES_PER_EVENT], model=model)
            for start in range(0, len(ids), FRAMES_PER_EVENT)]


def delete_objects(services: Services, keys: list[str]) -> list[str]:
    """Delete these objects from the store; returns those that could not be deleted (logged)."""
    kept = []
    for key in keys:
        try:
            services.store.delete(key)
        except Exception as exc:  # noqa: BLE001 - any store fault: the catalog no longer refers to it, so report it, do not fail
            LOG.warning("could not delete %s from the store: %s", key, exc)
            kept.append(key)
    return kept


def _deliver(services: Services, queue: DeliveryQueue | None, conn: psycopg.Connection, events: list[Event]) -> None:
    if services.settings.broker_url:
        publish = BrokerPublisher(services.settings.broker_url)
        for event in events:
            publish(event)
    elif queue is not None:
        queue.enqueue(conn, events)
    else:
        raise RuntimeError("removing a product needs a delivery queue or DEEPLENS_BROKER_URL, to decide keyframes again")

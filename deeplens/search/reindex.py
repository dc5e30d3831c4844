"""Backfill a model's vectors (and class scores) for every product photo and keyframe already indexed.

Runs beside the live pipeline and the results service: it reads the stored images, embeds
them with the model in batches and writes each batch in its own transaction, so the
other models keep serving and an interrupted run loses at most one batch. Resumable by
construction: the work list is "items that lack this model's vector", so a second run
picks up where the first stopped, and a finished one has nothing left to do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from deeplens.db.backfill import Pending, count_missing, next_missing
from deeplens.db.class_scores import upsert_class_scores
from deeplens.db.failures import record_failure
from deeplens.db.index_state import bump_generation
from deeplens.db.search import ITEM_KINDS
from deeplens.db.vectors import upsert_embeddings
from deeplens.errors import BadInput, NotFound
from deeplens.pipeline.features import can_classify, embed_and_maybe_classify
from deeplens.pipeline.services import Services
from deeplens.search.embedders import EmbedderPool
from deeplens.vision.images import decode_image

log = logging.getLogger(__name__)

STEP = "reindex"


@dataclass
class ReindexReport:
    """How a backfill went: items to do at the start, embedded, and skipped as unreadable."""

    model: str
    total: int = 0
    done: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)


def pending_count(services: Services, model: str, kinds: tuple[str, ...] = ITEM_KINDS, *, with_classes: bool = False) -> int:
    """Items of ``kinds`` that lack ``model``'s vector (or class scores, ``with_classes``)."""
    with services.db.pool.connection() as conn:
        return sum(count_missing(conn, services.settings.tenant, kind, model, with_classes=with_classes) for kind in kinds)


def reindex(
    services: Services,
    model: str,
    *,
    kinds: tuple[str, ...] = ITEM_KINDS,
    batch_size: int = 32,
    embedders: EmbedderPool | None = None,
    on_progress: Callable[[ReindexReport], None] | None = None,
    stop: threading.Event | None = None,
) -> ReindexReport:
    """Embed every item of ``kinds`` that lacks ``model``'s vector; returns what was done.

    Where the model classifies (mobilenet_v2, in-process or served), items lacking its class
    scores are included and get them. An image that cannot be read or decoded is recorded
    as a failure of step ``reindex`` and skipped. ``stop`` ends the run after the current batch.
    """
    tenant = services.settings.tenant
    embedder = (embedders or EmbedderPool(services)).get(model)  # NotFound for an unknown model, before any work
    with_classes = can_classify(embedder)
    report = ReindexReport(model=model, total=pending_count(services, model, kinds, with_classes=with_classes))
    if on_progress is not None:
        on_progress(report)
    for kind in kinds:
        after = 0
        while stop is None or not stop.is_set():
            with services.db.pool.connection() as conn:
                batch = next_missing(conn, tenant, kind, model, after_id=after, limit=batch_size, with_classes=with_classes)
            if not batch:
                break
            after = batch[-1].item_id
            _embed_batch(services, embedder, model, batch, report)
            if on_progress is not None:
                on_progress(report)
    return report


def _embed_batch(services: Services, embedder, model: str, batch: list[Pending], report: ReindexReport) -> None:
    tenant = services.settings.tenant
    images, ok = [], []
    for item in batch:
        try:
            images.append(decode_image(services.store.get(item.key), max_bytes=services.settings.max_image_bytes))
            ok.append(item)
        except (BadInput, NotFound) as exc:
            # The pipeline records bad uploads itself; this covers objects gone or damaged since.
            report.failed += 1
            report.failures.append(f"{item.key}: {exc}")
            with services.db.transaction() as conn:
                record_failure(conn, tenant, item.key, STEP, getattr(exc, "reason", "not_found"), f"reindex {model}: {exc}")
    if not ok:
        return
    vectors, probs = embed_and_maybe_classify(embedder, images)
    kind = ok[0].item_kind
    ids = [item.item_id for item in ok]
    with services.db.transaction() as conn:
        upsert_embeddings(conn, tenant, kind, ids, model, vectors)
        if probs is not None:
            upsert_class_scores(conn, tenant, kind, ids, model, probs, services.settings.class_top_k)
        bump_generation(conn, tenant)
    report.done += len(ok)
    log.info("reindex %s: %d/%d", model, report.done + report.failed, report.total)

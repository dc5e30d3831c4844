"""Keypoints and descriptors of indexed images, for geometric verification."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg

from deeplens.db.matches import DecisionInputs


def put_local_features(
    conn: psycopg.Connection, tenant: str, item_kind: str, item_id: int, kind: str, count: int, data: bytes,
    words: bytes | None = None, vocabulary: str | None = None,
) -> None:
    """Store an item's serialized local features (replacing older ones), with the catalog
    generation this write sees (a product photo's is advanced later in its transaction:
    :func:`deeplens.db.index_state.advance_catalog_generation`) and, for a product photo, the
    catalog index words of its descriptors (see :mod:`deeplens.matching.vocabulary`)."""
    conn.execute(
        "INSERT INTO local_features (tenant_id, item_kind, item_id, kind, count, data, catalog_generation, words, words_vocabulary)"
        " VALUES (%s, %s, %s, %s, %s, %s, COALESCE((SELECT catalog_generation FROM index_state WHERE tenant_id = %s), 0), %s, %s)"
        " ON CONFLICT (tenant_id, item_kind, item_id) DO UPDATE SET kind = EXCLUDED.kind, count = EXCLUDED.count,"
        # New features have been matched against no keyframe yet.
        " data = EXCLUDED.data, indexed_at = clock_timestamp(), earlier_frames_through = 0,"
        " catalog_generation = EXCLUDED.catalog_generation, words = EXCLUDED.words, words_vocabulary = EXCLUDED.words_vocabulary",
        (tenant, item_kind, item_id, kind, count, data, tenant, words, vocabulary),
    )


def get_local_features(conn: psycopg.Connection, tenant: str, item_kind: str, item_ids: list[int]) -> dict[int, bytes]:
    """Serialized local features of several items, by id (absent items are left out)."""
    rows = conn.execute(
        "SELECT item_id, data FROM local_features WHERE tenant_id = %s AND item_kind = %s AND item_id = ANY(%s)",
        (tenant, item_kind, item_ids),
    ).fetchall()
    return {row["item_id"]: bytes(row["data"]) for row in rows}


@dataclass(frozen=True)
class WaitingPhoto:
    """A product photo whose earlier keyframes have not been matched against it yet."""

    image_id: int
    sku: str
    generation: int
    """The catalog generation its current features made: keyframes that saw an older one missed it."""
    through: int
    """Keyframes with ids up to this one have been matched against the photo already."""


def claim_waiting_photos(conn: psycopg.Connection, tenant: str) -> list[WaitingPhoto]:
    """Every product photo still waiting for its earlier keyframes to be matched, locked
    until this transaction ends; photos another transaction holds are skipped.

    Holding the locks for the whole pass means a pass that fails or dies leaves its photos
    waiting for the next one, and two passes never check the same photo at once.
    """
    rows = conn.execute(
        "SELECT lf.item_id, lf.catalog_generation, lf.earlier_frames_through, pi.sku FROM local_features lf"
        " JOIN product_images pi ON pi.tenant_id = lf.tenant_id AND pi.id = lf.item_id"
        " WHERE lf.tenant_id = %s AND lf.item_kind = 'product_image'"
        " AND lf.earlier_frames_waiting"
        " ORDER BY pi.object_key, pi.id FOR UPDATE OF lf SKIP LOCKED",
        (tenant,),
    ).fetchall()
    return [WaitingPhoto(r["item_id"], r["sku"], r["catalog_generation"], r["earlier_frames_through"]) for r in rows]


def waiting_photo_ids(conn: psycopg.Connection, tenant: str) -> set[int]:
    """The product photos still waiting for their earlier keyframes to be matched, claimed or not (no locks)."""
    rows = conn.execute(
        "SELECT item_id FROM local_features WHERE tenant_id = %s AND item_kind = 'product_image'"
        " AND earlier_frames_waiting",
        (tenant,),
    ).fetchall()
    return {row["item_id"] for row in rows}


def announce_photos_again(conn: psycopg.Connection, tenant: str) -> list[int]:
    """Make every product photo wait for a pass over every keyframe indexed so far, as if its
    features had just been written; returns their ids. Advance the catalog generation for
    them (:func:`deeplens.db.index_state.advance_catalog_generation`) before the transaction ends."""
    rows = conn.execute(
        "UPDATE local_features SET indexed_at = clock_timestamp(), earlier_frames_through = 0"
        " WHERE tenant_id = %s AND item_kind = 'product_image' RETURNING item_id",
        (tenant,),
    ).fetchall()
    return sorted(row["item_id"] for row in rows)


def mark_earlier_frames_matched(conn: psycopg.Connection, tenant: str, image_ids: list[int]) -> None:
    """Record that every keyframe indexed before these photos' current features was matched against them."""
    conn.execute(
        "UPDATE local_features SET earlier_frames_matched_at = indexed_at"
        " WHERE tenant_id = %s AND item_kind = 'product_image' AND item_id = ANY(%s)",
        (tenant, image_ids),
    )


def record_earlier_frames_progress(conn: psycopg.Connection, tenant: str, image_ids: list[int], through: int) -> None:
    """Record that the keyframes with ids up to ``through`` were matched against these photos; they keep waiting."""
    conn.execute(
        "UPDATE local_features SET earlier_frames_through = GREATEST(earlier_frames_through, %s)"
        " WHERE tenant_id = %s AND item_kind = 'product_image' AND item_id = ANY(%s)",
        (through, tenant, image_ids),
    )


@dataclass(frozen=True)
class IndexedFrame:
    """A keyframe's serialized local features and embedding, the catalog it saw when they were written, and where it is."""

    frame_id: int
    catalog_generation: int
    """The catalog generation its features' write saw: its own match step saw every photo up to it."""
    features: bytes
    embedding: np.ndarray
    video_id: str
    frame_index: int
    matched: bool
    """Whether the keyframe holds any verified match."""
    decided: DecisionInputs | None
    """What its last decision saw; None when it was never decided (or before migration 008)."""


def frames_indexed_before(
    conn: psycopg.Connection, tenant: str, model: str, generation: int, *, after_id: int, limit: int
) -> list[IndexedFrame]:
    """One page of the keyframes whose features' write saw a catalog older than ``generation``, by id from ``after_id`` on."""
    rows = conn.execute(
        "SELECT lf.item_id, lf.catalog_generation, lf.data, e.embedding, f.video_id, f.frame_index,"
        " EXISTS (SELECT 1 FROM frame_matches m WHERE m.tenant_id = lf.tenant_id AND m.frame_id = lf.item_id) AS matched,"
        " f.decided_candidates, f.decided_rivals"
        " FROM local_features lf"
        " JOIN embeddings e ON e.tenant_id = lf.tenant_id AND e.item_kind = lf.item_kind AND e.item_id = lf.item_id"
        " JOIN frames f ON f.tenant_id = lf.tenant_id AND f.id = lf.item_id"
        " WHERE lf.tenant_id = %s AND lf.item_kind = 'frame' AND e.model = %s AND lf.catalog_generation < %s AND lf.item_id > %s"
        " ORDER BY lf.item_id LIMIT %s",
        (tenant, model, generation, after_id, limit),
    ).fetchall()
    return [
        IndexedFrame(
            r["item_id"], r["catalog_generation"], bytes(r["data"]), r["embedding"].to_numpy().astype(np.float32), r["video_id"],
            r["frame_index"], r["matched"], _decision_inputs(r["decided_candidates"], r["decided_rivals"]),
        )
        for r in rows
    ]


def _decision_inputs(candidates: list[int] | None, rivals: list[int] | None) -> DecisionInputs | None:
    if candidates is None:
        return None
    return DecisionInputs(frozenset(candidates), None if rivals is None else frozenset(rivals))

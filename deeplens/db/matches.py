"""Verified frame matches and the appearances rolled up from them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from deeplens.matching.appearances import FrameHit, Segment
from deeplens.matching.catalog_index import Generation

_APPEARANCE_NS = uuid.UUID("2b7f0b8e-4a0c-4a55-8f0e-1d9a6a3b7c11")


@dataclass(frozen=True)
class FrameMatch:
    """A product verified in a keyframe, as a decision records it."""

    sku: str
    product_image_id: int
    """The product's photo that verified best."""
    inliers: int
    similarity: float
    """Embedding similarity of the photo and the keyframe."""
    score: float
    """The fused score the match passed the threshold with."""
    box: tuple[int, int, int, int]
    """``(x, y, w, h)`` in frame pixels."""
    corners: tuple[float, ...]
    """The projected outline, ``x0, y0, ... x3, y3``."""


def lock_frame(conn: psycopg.Connection, tenant: str, frame_id: int) -> None:
    """Serialize rewrites of one frame's matches (both match directions may touch it at once)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))", (f"{tenant}/frame/{frame_id}",))


def decided_with_newer_catalog(conn: psycopg.Connection, tenant: str, frame_id: int, generation: Generation) -> bool:
    """Whether a keyframe's matches were last decided with a newer catalog than ``generation``."""
    row = conn.execute(
        "SELECT decided_with_generation > %s AS newer FROM frames WHERE tenant_id = %s AND id = %s",
        (generation, tenant, frame_id),
    ).fetchone()
    return bool(row and row["newer"])


@dataclass(frozen=True)
class DecisionInputs:
    """What a keyframe's decision saw: a decision is a function of these photos' features and
    the keyframe's, so it stands until one of them changes."""

    candidates: frozenset[int]
    """The product photos verified as the keyframe's candidates."""
    rivals: frozenset[int] | None
    """The neighbouring keyframes' candidates, verified as rivals once a product was about to
    be matched; None when none was (they could not have changed the decision)."""


def mark_decided_with(conn: psycopg.Connection, tenant: str, frame_id: int, generation: Generation, inputs: DecisionInputs) -> None:
    """Record the catalog a keyframe's matches were just decided with, and what the decision saw."""
    conn.execute(
        "UPDATE frames SET decided_with_generation = %s, decided_candidates = %s, decided_rivals = %s"
        " WHERE tenant_id = %s AND id = %s",
        (generation, sorted(inputs.candidates), None if inputs.rivals is None else sorted(inputs.rivals), tenant, frame_id),
    )


def forget_decisions(conn: psycopg.Connection, tenant: str) -> int:
    """Forget what every keyframe's last decision saw, so the next pass decides each one again
    (its matches stay until then); returns how many keyframes."""
    return conn.execute(
        "UPDATE frames SET decided_candidates = NULL, decided_rivals = NULL WHERE tenant_id = %s", (tenant,)
    ).rowcount


def rolled_up_pairs(conn: psycopg.Connection, tenant: str, *, after: tuple[str, str] | None, limit: int) -> list[tuple[str, str]]:
    """The (video, product) pairs with a verified keyframe match or an appearance, sorted, from
    just after the pair ``after`` (from the first when None), at most ``limit``."""
    keyset, from_after = ("", ()) if after is None else (" WHERE (video_id, sku) > (%s, %s)", after)
    rows = conn.execute(
        "SELECT video_id, sku FROM (SELECT video_id, sku FROM frame_matches WHERE tenant_id = %s"
        " UNION SELECT video_id, sku FROM appearances WHERE tenant_id = %s) pairs" + keyset + " ORDER BY video_id, sku LIMIT %s",
        (tenant, tenant, *from_after, limit),
    ).fetchall()
    return [(row["video_id"], row["sku"]) for row in rows]


def frame_match_records(conn: psycopg.Connection, tenant: str, frame_id: int) -> list[dict[str, Any]]:
    """A frame's verified matches, in the form :func:`replace_frame_matches` takes."""
    rows = conn.execute(
        "SELECT sku, product_image_id, inliers, similarity, score, box, corners FROM frame_matches"
        " WHERE tenant_id = %s AND frame_id = %s",
        (tenant, frame_id),
    ).fetchall()
    return [dict(row) for row in rows]


def replace_frame_matches(conn: psycopg.Connection, tenant: str, frame: dict[str, Any], matches: Sequence[FrameMatch]) -> set[str]:
    """Make ``matches`` the frame's verified matches; returns the skus whose matches changed."""
    before = {(m["sku"], m["product_image_id"], m["inliers"]) for m in frame_match_records(conn, tenant, frame["id"])}
    after = {(m.sku, m.product_image_id, m.inliers) for m in matches}
    conn.execute("DELETE FROM frame_matches WHERE tenant_id = %s AND frame_id = %s", (tenant, frame["id"]))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO frame_matches (tenant_id, frame_id, sku, video_id, t, product_image_id, inliers, similarity, score, box, corners)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (tenant, frame["id"], m.sku, frame["video_id"], frame["t"], m.product_image_id, m.inliers,
                 m.similarity, m.score, list(m.box), list(m.corners))
                for m in matches
            ],
        )
    return {sku for sku, _, _ in before ^ after}


def frame_hits(conn: psycopg.Connection, tenant: str, video_id: str, sku: str, min_score: float) -> list[FrameHit]:
    """The verified matches of a product in a video, in time order."""
    rows = conn.execute(
        "SELECT m.frame_id, f.frame_index, m.t, m.score, m.box, m.product_image_id FROM frame_matches m"
        " JOIN frames f ON f.tenant_id = m.tenant_id AND f.id = m.frame_id"
        " WHERE m.tenant_id = %s AND m.video_id = %s AND m.sku = %s AND m.score >= %s ORDER BY m.t",
        (tenant, video_id, sku, min_score),
    ).fetchall()
    return [
        FrameHit(r["frame_id"], r["frame_index"], r["t"], float(r["score"]), tuple(r["box"]), r["product_image_id"]) for r in rows
    ]


def lock_pair(conn: psycopg.Connection, tenant: str, video_id: str, sku: str) -> None:
    """Serialize roll-ups of one (video, product) pair across workers and processes."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{tenant}/{video_id}/{sku}",))


def replace_appearances(conn: psycopg.Connection, tenant: str, video_id: str, sku: str, segments: Sequence[Segment]) -> list[str]:
    """Make ``segments`` the pair's appearances; returns ids that are new or whose best frame changed."""
    existing = {
        str(row["id"]): row
        for row in conn.execute(
            "SELECT id, best_frame_id, start_t, end_t FROM appearances WHERE tenant_id = %s AND video_id = %s AND sku = %s",
            (tenant, video_id, sku),
        ).fetchall()
    }
    changed: list[str] = []
    keep: list[str] = []
    for segment in segments:
        # Identity follows the first hit, so an appearance keeps its id as later frames extend it.
        appearance_id = str(uuid.uuid5(_APPEARANCE_NS, f"{tenant}/{video_id}/{sku}/{segment.hits[0].frame_id}"))
        best = segment.best
        keep.append(appearance_id)
        old = existing.get(appearance_id)
        if old is None or old["best_frame_id"] != best.frame_id:
            changed.append(appearance_id)
        conn.execute(
            "INSERT INTO appearances (id, tenant_id, video_id, sku, start_t, end_t, frames, best_frame_id, best_product_image_id, best_score, box)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET start_t = EXCLUDED.start_t,"
            " end_t = EXCLUDED.end_t, frames = EXCLUDED.frames, best_frame_id = EXCLUDED.best_frame_id,"
            " best_product_image_id = EXCLUDED.best_product_image_id, best_score = EXCLUDED.best_score, box = EXCLUDED.box,"
            " updated_at = now()",
            (
                appearance_id, tenant, video_id, sku, segment.start, segment.end, len(segment.hits), best.frame_id,
                best.product_image_id, best.score, list(best.box),
            ),
        )
    conn.execute(
        "DELETE FROM appearances WHERE tenant_id = %s AND video_id = %s AND sku = %s AND NOT (id::text = ANY(%s))",
        (tenant, video_id, sku, keep),
    )
    return changed


def get_appearance(conn: psycopg.Connection, tenant: str, appearance_id: str) -> dict[str, Any] | None:
    """One appearance's row."""
    try:
        uuid.UUID(appearance_id)
    except ValueError:
        return None
    return conn.execute("SELECT * FROM appearances WHERE tenant_id = %s AND id = %s", (tenant, appearance_id)).fetchone()


def set_evidence(conn: psycopg.Connection, tenant: str, appearance_id: str, best_frame_id: int, key: str) -> bool:
    """Attach an evidence image, unless the appearance's best frame changed meanwhile."""
    row = conn.execute(
        "UPDATE appearances SET evidence_key = %s WHERE tenant_id = %s AND id = %s AND best_frame_id = %s RETURNING id",
        (key, tenant, appearance_id, best_frame_id),
    ).fetchone()
    return row is not None


def list_appearances(
    conn: psycopg.Connection,
    tenant: str,
    *,
    video_id: str | None = None,
    sku: str | None = None,
    min_score: float = 0.0,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Appearances matching the filters (by video, then start time) and the total count."""
    where = ["tenant_id = %s", "best_score >= %s"]
    params: list[Any] = [tenant, min_score]
    if video_id is not None:
        where.append("video_id = %s")
        params.append(video_id)
    if sku is not None:
        where.append("sku = %s")
        params.append(sku)
    clause = " AND ".join(where)
    total = conn.execute(f"SELECT count(*) AS n FROM appearances WHERE {clause}", params).fetchone()["n"]
    rows = conn.execute(
        f"SELECT * FROM appearances WHERE {clause} ORDER BY video_id, start_t, sku LIMIT %s OFFSET %s",
        [*params, limit, offset],
    ).fetchall()
    return rows, total

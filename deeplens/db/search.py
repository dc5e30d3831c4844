"""Search queries over pgvector and class scores, with filters, pagination and hydration.

Every ranking query returns :class:`Row` s already joined with the product photo or
keyframe they stand for, in one statement (one round trip per search).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg

from deeplens.db.vectors import exact_distance, index_distance

ITEM_KINDS = ("product_image", "frame")


@dataclass(frozen=True)
class Filters:
    """What a search may return: item kinds, one video's frames, one product's photos, items added since."""

    kinds: tuple[str, ...] = ITEM_KINDS
    video: str | None = None
    product: str | None = None
    since: datetime | None = None

    def sql(self, alias: str, params: dict[str, Any]) -> str:
        """``AND …`` conditions on the ``item_kind``/``item_id`` columns of ``alias`` (adds its parameters)."""
        params["kinds"] = list(self.kinds)
        where = [f"{alias}.item_kind = ANY(%(kinds)s)"]
        frame_conds, photo_conds = [], []
        if self.video is not None:
            params["video"] = self.video
            frame_conds.append("f.video_id = %(video)s")
        if self.product is not None:
            params["product"] = self.product
            photo_conds.append("pi.sku = %(product)s")
        if self.since is not None:
            params["since"] = self.since
            photo_conds.append("pi.created_at >= %(since)s")
            # Frames have no upload time of their own: they are as new as their video.
            frame_conds.append(
                "EXISTS (SELECT 1 FROM videos v WHERE v.tenant_id = f.tenant_id AND v.video_id = f.video_id"
                " AND v.created_at >= %(since)s)"
            )
        if frame_conds and "frame" in self.kinds:
            where.append(
                f"({alias}.item_kind <> 'frame' OR EXISTS (SELECT 1 FROM frames f WHERE f.tenant_id = {alias}.tenant_id"
                f" AND f.id = {alias}.item_id AND {' AND '.join(frame_conds)}))"
            )
        if photo_conds and "product_image" in self.kinds:
            where.append(
                f"({alias}.item_kind <> 'product_image' OR EXISTS (SELECT 1 FROM product_images pi"
                f" WHERE pi.tenant_id = {alias}.tenant_id AND pi.id = {alias}.item_id AND {' AND '.join(photo_conds)}))"
            )
        return " AND " + " AND ".join(where)


@dataclass(frozen=True)
class Row:
    """One ranked item with what it stands for."""

    item_kind: str
    item_id: int
    score: float
    key: str
    product: str | None
    video: str | None
    t: float | None
    classes: tuple[int, ...] | None = None


# Joins a CTE ``ranked(item_kind, item_id, score)`` with the rows it names; drops orphans.
_HYDRATE = (
    " SELECT r.item_kind, r.item_id, r.score, coalesce(pi.object_key, f.object_key) AS key,"
    " pi.sku AS product, f.video_id AS video, f.t AS t, r.classes FROM ranked r"
    " LEFT JOIN product_images pi ON r.item_kind = 'product_image' AND pi.tenant_id = %(tenant)s AND pi.id = r.item_id"
    " LEFT JOIN frames f ON r.item_kind = 'frame' AND f.tenant_id = %(tenant)s AND f.id = r.item_id"
    " WHERE coalesce(pi.object_key, f.object_key) IS NOT NULL AND r.score >= %(min_score)s"
    " ORDER BY r.score DESC, r.item_kind, r.item_id LIMIT %(limit)s OFFSET %(offset)s"
)


def _rows(records: list[dict[str, Any]]) -> list[Row]:
    return [
        Row(r["item_kind"], int(r["item_id"]), float(r["score"]), r["key"], r["product"], r["video"], r["t"],
            None if r["classes"] is None else tuple(r["classes"]))
        for r in records
    ]


def set_ef_search(conn: psycopg.Connection, ef_search: int, *, session: bool = False) -> None:
    """HNSW search breadth for this transaction (or, with ``session``, for the connection's
    session); iterative scans keep filters from starving results.

    The planner must not trade the index for an exact scan: it prices a scan of vectors
    stored out of line (TOAST, rows written before migration 002) as nearly free, and was
    measured picking a parallel sequential scan + sort at 100k 1280-d vectors (0.65 s
    instead of 3 ms). With sequential scans off it still chooses between the HNSW index and
    an exact search over the tenant's rows through the primary key (right for small
    tenants). Custom plans only, so a prepared statement never runs a generic plan that
    cannot see the query vector.
    """
    conn.execute(
        "SELECT set_config('hnsw.ef_search', %(ef)s, %(local)s), set_config('hnsw.iterative_scan', 'relaxed_order', %(local)s),"
        " set_config('enable_seqscan', 'off', %(local)s), set_config('plan_cache_mode', 'force_custom_plan', %(local)s)",
        {"ef": str(int(ef_search)), "local": not session},
    )


def nearest_items(
    conn: psycopg.Connection,
    tenant: str,
    model: str,
    query: np.ndarray | tuple[str, int],
    filters: Filters,
    *,
    limit: int,
    offset: int = 0,
    min_score: float = -1.0,
    ef_search: int = 100,
    exclude: tuple[str, int] | None = None,
    dim: int | None = None,
) -> list[Row]:
    """Items most cosine-similar to ``query`` under ``model`` (score = cosine similarity), best first.

    ``query`` is a vector, or an indexed item ``(item_kind, item_id)`` whose stored vector
    is used without leaving the database (``dim`` then gives the model's dimension; no
    rows when the item has no vector). ``conn`` is a search connection
    (:meth:`Database.search_connection`: autocommit, its session settings are the search's).
    The inner query has the shape of the model's partial
    expression HNSW index (:func:`index_distance`, ``model`` predicate) so the planner
    uses it; its results come in relaxed order and by half-precision distance, so they are
    scored at full precision and re-sorted outside (pgvector's documented pattern for
    iterative scans).
    """
    window = offset + limit
    params: dict[str, Any] = {
        "tenant": tenant, "model": model, "window": window, "limit": limit, "offset": offset, "min_score": min_score,
    }
    if isinstance(query, np.ndarray):
        dim = int(query.shape[0])
        params["q"] = query.astype(np.float32)
        head, target, gate = "WITH ", "%(q)s", ""
    else:
        if dim is None:
            raise ValueError("an item query needs the model's dimension")
        params["q_kind"], params["q_id"] = query
        head = (
            f"WITH q AS MATERIALIZED (SELECT embedding::vector({dim}) AS v FROM embeddings WHERE tenant_id = %(tenant)s"
            " AND item_kind = %(q_kind)s AND item_id = %(q_id)s AND model = %(model)s), "
        )
        target, gate = "(SELECT v FROM q)", " AND EXISTS (SELECT 1 FROM q)"
    exclude_sql = ""
    if exclude is not None:
        params["ex_kind"], params["ex_id"] = exclude
        exclude_sql = " AND NOT (e.item_kind = %(ex_kind)s AND e.item_id = %(ex_id)s)"
    sql = (
        head + "nearest AS MATERIALIZED ("
        f" SELECT e.item_kind, e.item_id, {exact_distance('e.embedding', target, dim)} AS distance"
        " FROM embeddings e WHERE e.model = %(model)s AND e.tenant_id = %(tenant)s"
        + filters.sql("e", params) + exclude_sql + gate +
        f" ORDER BY {index_distance('e.embedding', target, dim)} LIMIT %(window)s),"
        " ranked AS (SELECT item_kind, item_id, 1 - distance AS score, NULL::smallint[] AS classes FROM nearest)"
        + _HYDRATE
    )
    # Two statements, one round trip, no transaction around them: the API's throughput is
    # bound by CPU per query (bench/search.py), and BEGIN/COMMIT in pipeline mode doubled
    # the client's share of it.
    with conn.pipeline():
        set_ef_search(conn, max(ef_search, window), session=True)
        cursor = conn.execute(sql, params)
    return _rows(cursor.fetchall())


def has_vector(conn: psycopg.Connection, tenant: str, item_kind: str, item_id: int, model: str) -> bool:
    """Whether an item has a stored vector of ``model``."""
    return conn.execute(
        "SELECT 1 FROM embeddings WHERE tenant_id = %s AND item_kind = %s AND item_id = %s AND model = %s",
        (tenant, item_kind, item_id, model),
    ).fetchone() is not None


def class_ranked_items(
    conn: psycopg.Connection,
    tenant: str,
    model: str,
    class_ids: Sequence[int],
    weights: Sequence[float],
    filters: Filters,
    *,
    limit: int,
    offset: int = 0,
    min_score: float = 0.0,
) -> list[Row]:
    """Items ranked by ``sum(weight[c] * p(c | item))`` over the query classes they have scores for.

    The GIN index on ``class_ids`` finds the candidates (items with any query class among
    their stored top-k); only those are scored. ``Row.classes`` lists the query classes
    each item has, strongest contribution first.
    """
    params: dict[str, Any] = {
        "tenant": tenant, "model": model, "qc": [int(c) for c in class_ids], "qw": [float(w) for w in weights],
        "limit": limit, "offset": offset, "min_score": min_score,
    }
    sql = (
        "WITH ranked AS ("
        " SELECT cs.item_kind, cs.item_id, m.score, m.classes FROM class_scores cs CROSS JOIN LATERAL ("
        "  SELECT sum(u.p * q.w) AS score, array_agg(u.c ORDER BY u.p * q.w DESC) AS classes"
        "  FROM unnest(cs.class_ids, cs.probs) AS u(c, p)"
        "  JOIN unnest(%(qc)s::smallint[], %(qw)s::real[]) AS q(c, w) ON q.c = u.c) m WHERE cs.tenant_id = %(tenant)s AND cs.model = %(model)s"
        " AND cs.class_ids && %(qc)s::smallint[]" + filters.sql("cs", params) + ")"
        + _HYDRATE
    )
    return _rows(conn.execute(sql, params).fetchall())


def item_row(conn: psycopg.Connection, tenant: str, item_kind: str, item_id: int) -> dict[str, Any] | None:
    """The stored object of a product photo or keyframe: ``key``, ``sha256`` (photos only), sku / video, t."""
    if item_kind == "product_image":
        return conn.execute(
            "SELECT id, object_key AS key, sha256, sku AS product, NULL::text AS video, NULL::float8 AS t"
            " FROM product_images WHERE tenant_id = %s AND id = %s",
            (tenant, item_id),
        ).fetchone()
    if item_kind == "frame":
        return conn.execute(
            "SELECT id, object_key AS key, NULL::text AS sha256, NULL::text AS product, video_id AS video, t"
            " FROM frames WHERE tenant_id = %s AND id = %s",
            (tenant, item_id),
        ).fetchone()
    return None


def duplicate_pairs(
    conn: psycopg.Connection,
    tenant: str,
    model: str,
    dim: int,
    threshold: float,
    filters: Filters,
    *,
    neighbours: int = 5,
    ef_search: int = 100,
) -> list[tuple[str, int, str, int, float]]:
    """Pairs of items whose cosine similarity is at least ``threshold``, each pair once, most similar first.

    For every item, its ``neighbours`` nearest (HNSW, one index scan each) are checked, so
    a cluster of more than ``neighbours + 1`` copies lists each item's closest ones only.
    """
    set_ef_search(conn, max(ef_search, neighbours + 1))
    params: dict[str, Any] = {"tenant": tenant, "model": model, "k": neighbours, "max_distance": 1 - threshold}
    filters_a = filters.sql("a", params)
    filters_b = filters.sql("b", params)
    rows = conn.execute(
        "SELECT a.item_kind AS a_kind, a.item_id AS a_id, n.item_kind AS b_kind, n.item_id AS b_id, 1 - n.distance AS score"
        " FROM embeddings a CROSS JOIN LATERAL ("
        f"  SELECT b.item_kind, b.item_id, {exact_distance('b.embedding', 'a.embedding', dim)} AS distance"
        "   FROM embeddings b WHERE b.model = %(model)s AND b.tenant_id = %(tenant)s" + filters_b +
        "   AND NOT (b.item_kind = a.item_kind AND b.item_id = a.item_id)"
        f"  ORDER BY {index_distance('b.embedding', 'a.embedding', dim)} LIMIT %(k)s) n"
        " WHERE a.model = %(model)s AND a.tenant_id = %(tenant)s" + filters_a +
        " AND n.distance <= %(max_distance)s",
        params,
    ).fetchall()
    best: dict[tuple[str, int, str, int], float] = {}
    for r in rows:
        a, b = (r["a_kind"], int(r["a_id"])), (r["b_kind"], int(r["b_id"]))
        pair = (*min(a, b), *max(a, b))
        best[pair] = max(best.get(pair, -1.0), float(r["score"]))
    return sorted(((*pair, score) for pair, score in best.items()), key=lambda p: (-p[4], p[:4]))


def indexed_counts(conn: psycopg.Connection, tenant: str) -> dict[str, dict[str, int]]:
    """Embeddings per model and item kind: ``{model: {"product_image": n, "frame": m}}``."""
    rows = conn.execute(
        "SELECT model, item_kind, count(*) AS n FROM embeddings WHERE tenant_id = %s GROUP BY model, item_kind", (tenant,)
    ).fetchall()
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r["model"], {})[r["item_kind"]] = int(r["n"])
    return counts


def class_scored_counts(conn: psycopg.Connection, tenant: str) -> dict[str, int]:
    """Items with class scores, per model."""
    rows = conn.execute(
        "SELECT model, count(*) AS n FROM class_scores WHERE tenant_id = %s GROUP BY model", (tenant,)
    ).fetchall()
    return {r["model"]: int(r["n"]) for r in rows}


def stored_models(conn: psycopg.Connection) -> dict[str, int]:
    """Every model that has ever written a vector, with its dimension."""
    return {r["model"]: int(r["dim"]) for r in conn.execute("SELECT model, dim FROM models").fetchall()}

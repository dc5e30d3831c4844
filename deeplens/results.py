"""What users ask of DeepLens, answered from the database: one layer for the API and the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg
from pydantic import BaseModel

from deeplens.db import Database, catalog, failures, matches, status


class Appearance(BaseModel):
    """Product ``product`` is in video ``video`` from ``start`` to ``end`` seconds."""

    id: str
    video: str
    product: str
    start: float
    end: float
    score: float
    frames: int
    box: list[int]
    """x, y, w, h in frame pixels at the best frame."""
    best_frame_id: int
    evidence: str | None
    """Object key of the evidence image (``GET /appearances/{id}/evidence`` serves it)."""


class Page(BaseModel):
    """One page of a listing."""

    items: list[Any]
    total: int
    limit: int
    offset: int


class Product(BaseModel):
    sku: str
    images: int
    appearances: int


class Video(BaseModel):
    video: str
    key: str
    duration: float
    fps: float
    width: int
    height: int
    keyframes: int | None
    truncated: bool
    appearances: int


class Failure(BaseModel):
    """Why a step could not process an uploaded object."""

    key: str
    step: str
    reason: str
    message: str
    at: datetime


class ObjectStatus(BaseModel):
    """Where an uploaded object stands: still ``processing``, ``done`` or ``failed``."""

    key: str
    kind: str
    status: Literal["processing", "done", "failed"]
    in_flight: int
    """Its deliveries pending or running; a product photo's pending match pass counts as one."""
    failures: list[Failure]


def _appearance(row: dict[str, Any]) -> Appearance:
    return Appearance(
        id=str(row["id"]),
        video=row["video_id"],
        product=row["sku"],
        start=round(row["start_t"], 3),
        end=round(row["end_t"], 3),
        score=round(float(row["best_score"]), 4),
        frames=row["frames"],
        box=list(row["box"]),
        best_frame_id=row["best_frame_id"],
        evidence=row["evidence_key"],
    )


def _failure(row: dict[str, Any]) -> Failure:
    return Failure(key=row["object_key"], step=row["step"], reason=row["reason"], message=row["message"], at=row["created_at"])


class Results:
    """Read-side queries of one tenant."""

    def __init__(self, db: Database, tenant: str) -> None:
        self.db = db
        self.tenant = tenant

    def appearances(
        self, *, video: str | None = None, product: str | None = None, min_score: float = 0.0, limit: int = 100, offset: int = 0
    ) -> Page:
        """Appearances, filtered and paginated, by video then start time."""
        with self.db.pool.connection() as conn:
            rows, total = matches.list_appearances(
                conn, self.tenant, video_id=video, sku=product, min_score=min_score, limit=limit, offset=offset
            )
        return Page(items=[_appearance(r) for r in rows], total=total, limit=limit, offset=offset)

    def all_appearances(self, **filters: Any) -> list[Appearance]:
        """Every appearance matching the filters (pages through them)."""
        items: list[Appearance] = []
        while True:
            page = self.appearances(**filters, limit=500, offset=len(items))
            items.extend(page.items)
            if len(items) >= page.total or not page.items:
                return items

    def appearance(self, appearance_id: str) -> Appearance | None:
        """One appearance by id."""
        with self.db.pool.connection() as conn:
            row = matches.get_appearance(conn, self.tenant, appearance_id)
        return None if row is None else _appearance(row)

    def products(self, *, limit: int = 100, offset: int = 0) -> Page:
        """Products by sku."""
        with self.db.pool.connection() as conn:
            rows = catalog.list_products(conn, self.tenant, limit=limit, offset=offset)
            total = status.count_rows(conn, "products", self.tenant)
        return Page(items=[Product(sku=r["sku"], images=r["images"], appearances=r["appearances"]) for r in rows],
                    total=total, limit=limit, offset=offset)

    def videos(self, *, limit: int = 100, offset: int = 0) -> Page:
        """Videos by id."""
        with self.db.pool.connection() as conn:
            rows = catalog.list_videos(conn, self.tenant, limit=limit, offset=offset)
            total = status.count_rows(conn, "videos", self.tenant)
        items = [
            Video(video=r["video_id"], key=r["object_key"], duration=r["duration"], fps=r["fps"], width=r["width"],
                  height=r["height"], keyframes=r["keyframes"], truncated=r["truncated"], appearances=r["appearances"])
            for r in rows
        ]
        return Page(items=items, total=total, limit=limit, offset=offset)

    def failures(self, *, limit: int = 100, offset: int = 0) -> Page:
        """Recorded failures, newest first."""
        with self.db.pool.connection() as conn:
            rows = failures.list_failures(conn, self.tenant, limit=limit, offset=offset)
            total = status.count_rows(conn, "failures", self.tenant)
        return Page(items=[_failure(r) for r in rows], total=total, limit=limit, offset=offset)

    def status(self, key: str) -> ObjectStatus | None:
        """Processing status of one uploaded object (None if never seen)."""
        with self.db.pool.connection() as conn:
            return self._statuses(conn, [key]).get(key)

    def statuses(self, *, limit: int = 100, offset: int = 0) -> Page:
        """Status of every uploaded object, by key."""
        with self.db.pool.connection() as conn:
            keys = status.object_keys(conn, self.tenant, limit=limit, offset=offset)
            total = status.count_rows(conn, "objects", self.tenant)
            found = self._statuses(conn, keys)
        return Page(items=[found[key] for key in keys], total=total, limit=limit, offset=offset)

    def _statuses(self, conn: psycopg.Connection, keys: list[str]) -> dict[str, ObjectStatus]:
        """Statuses of several keys in four queries, whatever their number (keys never seen are left out)."""
        kinds = status.object_kinds(conn, self.tenant, keys)
        fails: dict[str, list[Failure]] = {}
        for row in status.failures_of(conn, self.tenant, keys):
            fails.setdefault(row["object_key"], []).append(_failure(row))
        pending = status.deliveries_in_flight(conn, self.tenant, keys)
        waiting = status.photos_waiting(conn, self.tenant, keys)
        for key, letter in waiting.items():
            if letter is not None:
                fails.setdefault(key, []).append(Failure(
                    key=key, step="match", reason="dead_lettered", at=letter["created_at"],
                    message=f"the match step's pass over earlier keyframes was given up on ({letter['error']}); "
                            "`deeplens dlq replay` (or POST /dead-letters/replay) runs it again",
                ))
        statuses = {}
        for key in keys:
            if key not in kinds and key not in fails:
                continue
            # A photo waiting for the match step's pass counts that pass as in flight, unless it was given up on.
            in_flight = pending.get(key, 0) + (key in waiting and waiting[key] is None)
            state = "processing" if in_flight else ("failed" if key in fails else "done")
            statuses[key] = ObjectStatus(
                key=key, kind=kinds.get(key, "unknown"), status=state, in_flight=in_flight, failures=fails.get(key, [])
            )
        return statuses

"""Which events each step has completed, so a redelivery changes nothing."""

from __future__ import annotations

import psycopg


def already_processed(conn: psycopg.Connection, step: str, event_id: str) -> bool:
    """True when ``step`` completed the event before."""
    row = conn.execute("SELECT 1 FROM processed_events WHERE subscriber = %s AND event_id = %s", (step, event_id)).fetchone()
    return row is not None


def processed_among(conn: psycopg.Connection, step: str, event_ids: list[str]) -> set[str]:
    """Which of these events ``step`` completed before."""
    rows = conn.execute("SELECT event_id FROM processed_events WHERE subscriber = %s AND event_id = ANY(%s)", (step, event_ids)).fetchall()
    return {row["event_id"] for row in rows}


def mark_processed(conn: psycopg.Connection, step: str, event_id: str) -> None:
    """Remember that ``step`` completed the event."""
    conn.execute("INSERT INTO processed_events (subscriber, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING", (step, event_id))

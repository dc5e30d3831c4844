"""Schema migrations applied to a database that already holds data."""

from __future__ import annotations

import uuid

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from deeplens.db.catalog import upsert_product_image
from deeplens.db.local_features import claim_waiting_photos
from deeplens.db.migrate import available_migrations, migrate
from deeplens.db.vectors import nearest, upsert_embeddings


@pytest.fixture
def empty_database(pg_server) -> str:
    """A database of its own on the session's server (migrations are global, not per tenant)."""
    name = f"mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_conninfo(pg_server.get_uri(), dbname=name)


def apply_up_to(conn: psycopg.Connection, last: int) -> None:
    conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())")
    for version, name, sql in available_migrations():
        if version <= last:
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))


def test_migration_5_rebuilds_existing_model_indexes_as_halfvec_and_search_keeps_working(empty_database):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        apply_up_to(conn, 4)
        register_vector(conn)
        # A version-4 database: its model index is built over full-precision vectors.
        conn.execute("CREATE INDEX embeddings_hnsw_old_16 ON embeddings USING hnsw ((embedding::vector(16)) vector_cosine_ops)"
                     " WHERE model = 'old'")
        conn.execute("INSERT INTO models (model, dim, index_name) VALUES ('old', 16, 'embeddings_hnsw_old_16')")
        upsert_embeddings(conn, "t", "frame", list(range(50)), "old", vectors)

        assert migrate(conn) == [name for version, name, _ in available_migrations() if version >= 5]

        definition = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'embeddings_hnsw_old_16'").fetchone()
        assert "halfvec_cosine_ops" in definition[0]
        conn.row_factory = dict_row
        with conn.transaction():
            hits = nearest(conn, "t", "frame", "old", vectors[7], 3)
    assert hits[0][0] == 7 and hits[0][1] == pytest.approx(1.0, abs=1e-6)


def test_migration_6_counts_photos_indexed_before_it_as_matched_against_their_earlier_keyframes(empty_database):
    with psycopg.connect(empty_database, autocommit=True) as conn:
        apply_up_to(conn, 5)
    # A version-5 database: its photos were verified in earlier keyframes when they arrived.
    with psycopg.connect(empty_database, autocommit=True, row_factory=dict_row) as conn:
        image_id = upsert_product_image(conn, "t", "SKU-A", "products/SKU-A/front.jpg", "sha", 300, 300)
        conn.execute("INSERT INTO local_features (tenant_id, item_kind, item_id, kind, count, data)"
                     " VALUES ('t', 'product_image', %s, 'sift', 0, '')", (image_id,))
    with psycopg.connect(empty_database, autocommit=True) as conn:
        assert migrate(conn) == [name for version, name, _ in available_migrations() if version >= 6]
    with psycopg.connect(empty_database, row_factory=dict_row) as conn:
        assert claim_waiting_photos(conn, "t") == []

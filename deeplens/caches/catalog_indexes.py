"""One catalog index per tenant per process, kept current photo by photo."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import psycopg

from deeplens.db.catalog_snapshots import catalog_changes, latest_snapshot
from deeplens.db.index_state import catalog_generation
from deeplens.matching.catalog_index import CatalogIndex, snapshot_name
from deeplens.matching.snapshots import catalog_photo, load_snapshot
from deeplens.matching.vocabulary import Vocabulary, load_vocabulary
from deeplens.storage.base import ObjectStore

log = logging.getLogger(__name__)


class CatalogIndexCache:
    """Hands out the current :class:`CatalogIndex` of a tenant.

    The catalog's generation (advanced by every photo write) is one cheap
    query, so every frame batch checks it: a product added a moment ago is voted for at
    once and a photo replaced under the same key votes with its new features. A change costs only the photos it touched. A process's first index of a
    tenant starts from the newest saved snapshot (``deeplens index build``), memory-mapped,
    and adds what changed since; without one it is built from the database.
    """

    def __init__(self, store: ObjectStore, cache_dir: Path, vocabulary: Vocabulary | None = None) -> None:
        self._store = store
        self._cache_dir = cache_dir
        self._vocabulary = vocabulary
        self._lock = threading.Lock()
        self._indexes: dict[str, CatalogIndex] = {}

    def get(self, conn: psycopg.Connection, tenant: str) -> CatalogIndex:
        """The tenant's index as of now."""
        generation = catalog_generation(conn, tenant)
        with self._lock:
            index = self._indexes.get(tenant)
            if index is not None and index.generation == generation:
                return index
            started = time.perf_counter()
            if index is None:
                index = self._first_index(conn, tenant)
            changes = catalog_changes(conn, tenant, index.generation, index.vocabulary.name)
            added = [catalog_photo(photo) for photo in changes.photos]
            index = index.updated(added, generation=changes.generation, removed=changes.removed)
            self._indexes[tenant] = index
            log.info("catalog index of tenant %s at generation %d: %d photos (%d added or replaced, %d removed), %d descriptors, "
                     "ready in %.2f s", tenant, index.generation, index.size, len(added), len(changes.removed), index.descriptors,
                     time.perf_counter() - started)
            return index

    def _first_index(self, conn: psycopg.Connection, tenant: str) -> CatalogIndex:
        vocabulary = self._vocabulary or load_vocabulary()
        record = latest_snapshot(conn, tenant, snapshot_name(vocabulary))
        if record is None:
            return CatalogIndex(vocabulary)
        return load_snapshot(self._store, record, self._cache_dir, vocabulary)

"""Catalog index snapshots: built once per catalog version, saved in the object store,
loaded (memory-mapped) by every match process instead of being rebuilt by each.

A snapshot is only a faster start: the votes of an index do not depend on which snapshot
it was loaded from or what was added to it since (:mod:`deeplens.matching.catalog_index`),
so when snapshots are made never changes a decision.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from deeplens.db import Database
from deeplens.db.catalog_snapshots import (
    PhotoRow,
    SnapshotRecord,
    catalog_photos,
    changed_photo_count,
    forget_older_snapshots,
    latest_snapshot,
    register_snapshot,
)
from deeplens.matching.catalog_index import CatalogIndex, CatalogPhoto, photo_table_path, snapshot_name
from deeplens.matching.vocabulary import Vocabulary, load_vocabulary, words_from_bytes
from deeplens.storage.base import ObjectStore
from deeplens.storage.keys import catalog_index_key
from deeplens.vision.local_features import from_bytes

log = logging.getLogger(__name__)
SNAPSHOTS_KEPT = 2
"""Snapshots of a tenant kept in the store: the newest, and the one before it for a process
that read its record just before the newest was saved and is downloading it now."""


def build_snapshot(
    db: Database, store: ObjectStore, tenant: str, *, min_changed: int = 0, vocabulary: Vocabulary | None = None
) -> SnapshotRecord | None:
    """Build the tenant's catalog index as the catalog stands, save it in the store and record it.

    With ``min_changed``, only when at least that many photos were written or removed after
    the newest snapshot (None otherwise); a catalog unchanged since it is never saved twice.
    """
    vocabulary = vocabulary or load_vocabulary()
    name = snapshot_name(vocabulary)
    with db.pool.connection() as conn:
        latest = latest_snapshot(conn, tenant, name)
        changed = changed_photo_count(conn, tenant, latest.generation if latest else 0)
    if latest is not None and changed == 0:
        return latest
    if changed < min_changed:
        return None
    started = time.perf_counter()
    with db.pool.connection() as conn, catalog_photos(conn, tenant, vocabulary.name) as (generation, rows):
        index = CatalogIndex.build(map(catalog_photo, rows), vocabulary=vocabulary, generation=generation)
    record = SnapshotRecord(generation, catalog_index_key(tenant, generation, name), name, index.size, index.descriptors)
    with tempfile.TemporaryDirectory(prefix="deeplens-index-") as work:
        path = Path(work) / "catalog.faiss"
        index.save(path)
        store.move_file(record.object_key, path, "application/octet-stream")
        store.move_file(photo_table_path(record.object_key), Path(photo_table_path(str(path))), "application/octet-stream")
    with db.transaction() as conn:
        register_snapshot(conn, tenant, record)
        superseded = forget_older_snapshots(conn, tenant, name, SNAPSHOTS_KEPT)
    # After the commit: no record names an object that is gone.
    for key in superseded:
        store.delete(key)
        store.delete(photo_table_path(key))
    log.info("catalog index snapshot of tenant %s at generation %d: %d photos, %d descriptors, built in %.1f s",
             tenant, generation, record.photos, record.descriptors, time.perf_counter() - started)
    return record


def catalog_photo(row: PhotoRow) -> CatalogPhoto:
    """A photo as the database holds it, as the index takes it."""
    return CatalogPhoto(row.photo_id, row.sku, row.object_key, from_bytes(row.data),
                        None if row.words is None else words_from_bytes(row.words))


def load_snapshot(store: ObjectStore, record: SnapshotRecord, cache_dir: Path, vocabulary: Vocabulary | None = None) -> CatalogIndex:
    """The saved index, downloaded once into ``cache_dir`` (it never changes under its key) and memory-mapped.

    Downloading a snapshot deletes the tenant's older ones from the cache: a process that
    maps one keeps its pages, and one that was about to open one downloads it again.
    """
    path = cache_dir / record.object_key
    if not path.exists():
        _download(store, record.object_key, path)
    try:
        return CatalogIndex.load(path, vocabulary)
    except FileNotFoundError:  # a newer snapshot's download deleted it just now
        _download(store, record.object_key, path)
        return CatalogIndex.load(path, vocabulary)


def _download(store: ObjectStore, key: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Downloaded beside, then renamed: a process that dies mid-download leaves no torn file.
    for source, target in ((photo_table_path(key), Path(photo_table_path(str(path)))), (key, path)):
        partial = target.with_name(target.name + ".partial")
        store.download(source, partial)
        partial.replace(target)
    # Keys order by generation (catalog_index_key pads it), so the older ones sort first.
    for older in sorted(path.parent.glob("catalog-*.faiss")):
        if older.name < path.name:
            older.unlink(missing_ok=True)
            Path(photo_table_path(str(older))).unlink(missing_ok=True)

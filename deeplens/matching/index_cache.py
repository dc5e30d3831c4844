"""One catalog index per tenant per process, rebuilt when the tenant's catalog changes."""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from deeplens.db.index_state import catalog_generation
from deeplens.matching.catalog_index import CatalogIndex, Generation
from deeplens.vision.local_features import from_bytes

log = logging.getLogger(__name__)


class CatalogIndexCache:
    """Hands out the current :class:`CatalogIndex` of a tenant, building it on change.

    The catalog's generation (advanced by every photo write) is one cheap query, so every
    frame batch checks it: a product added a moment ago is voted for at once,
    and a photo replaced under the same key votes with its new features.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._indexes: dict[str, tuple[Generation, CatalogIndex]] = {}

    def get(self, conn: psycopg.Connection, tenant: str) -> CatalogIndex:
        """The tenant's index as of now."""
        generation = catalog_generation(conn, tenant)
        with self._lock:
            cached = self._indexes.pop(tenant, None)
            if cached is not None and cached[0] == generation:
                self._indexes[tenant] = cached
                return cached[1]
            # The stale index is let go before the new one is built: a pod never holds two
            # (0.8 GB each at a thousand products), only what a running vote still uses.
            del cached
            started = time.perf_counter()
            rows = conn.execute(
                # The generation is read with the photos, in one snapshot, so the index is
                # labelled with exactly the catalog it holds.
                "SELECT lf.item_id, lf.data, pi.sku, COALESCE((SELECT catalog_generation FROM index_state s"
                " WHERE s.tenant_id = lf.tenant_id), 0) AS generation FROM local_features lf"
                " JOIN product_images pi ON pi.tenant_id = lf.tenant_id AND pi.id = lf.item_id"
                " WHERE lf.tenant_id = %s AND lf.item_kind = 'product_image'"
                # Photo ids follow upload timing; keys do not, so one catalog gives one index.
                " ORDER BY pi.object_key, pi.id",
                (tenant,),
            ).fetchall()
            if rows:
                generation = rows[0]["generation"]
            index = CatalogIndex(((r["item_id"], r["sku"], from_bytes(bytes(r["data"]))) for r in rows), generation=generation)
            self._indexes[tenant] = (generation, index)
            log.info("catalog index of tenant %s: %d photos, %d descriptors, built in %.2f s",
                     tenant, index.size, index.descriptors, time.perf_counter() - started)
            return index

"""What a step needs from the outside world, built once per process from the settings."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from deeplens.caches.catalog_indexes import CatalogIndexCache
from deeplens.caches.lru import Lru
from deeplens.caches.templates import ProductTemplateCache
from deeplens.config import Settings
from deeplens.db import Database
from deeplens.storage import ObjectStore, open_store


class Embedder(Protocol):
    """Turns images into L2-normalised vectors (the in-process LocalEmbedder or a KServe client)."""

    @property
    def model_name(self) -> str: ...

    @property
    def supports_classify(self) -> bool:
        """Whether ``embed_and_classify`` also gives class probabilities (classifier models)."""
        ...

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray: ...

    def embed_and_classify(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]: ...


def make_embedder(settings: Settings) -> Embedder:
    """The model the settings name: the KServe server at ``DEEPLENS_PREDICTOR_URL``, else in process.

    The server builds its model from the same settings (:meth:`inference.local_embedder.LocalEmbedder.from_settings`),
    so either gives the same vectors.
    """
    if settings.predictor_url:
        from inference.client import RemotePredictor

        return RemotePredictor(settings.predictor_url, settings.model)
    from inference.onnx_runtime import open_export

    exported = open_export(settings)
    if exported is not None:
        return exported
    from inference.local_embedder import LocalEmbedder  # torch is imported only when embedding

    # With the ONNX Runtime engine this also makes the export the next process runs without torch.
    return LocalEmbedder.from_settings(settings).load()


@dataclass
class Services:
    """Settings, database, object store, the embedder (loaded on first use), per-tenant catalog
    indexes, product photo templates and the outcomes of edge probes."""

    settings: Settings
    db: Database
    store: ObjectStore
    _embedder: Embedder | None = field(default=None, repr=False)
    catalog_indexes: CatalogIndexCache = field(init=False, repr=False)
    product_templates: ProductTemplateCache = field(default_factory=ProductTemplateCache, repr=False)
    edge_probes: Lru[tuple[str, str, str, int, tuple[int, int, int, int]], bool] = field(default_factory=lambda: Lru(200_000), repr=False)
    """Whether a product photo (by sha256) is visible in a region of a video's frame (video sha256,
    index, region): a video's edges are probed again each time its matches change, and probes
    cost a decode and SIFT."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # Saved catalog indexes are downloaded under the home: its database is the one they index.
        self.catalog_indexes = CatalogIndexCache(self.store, self.settings.home / "catalog-indexes")

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        """Open the database and the store the settings describe."""
        return cls(settings, Database.from_settings(settings), open_store(settings))

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded once, on first use."""
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    def close(self) -> None:
        """Release the database pool (and the embedded server with it)."""
        self.db.close()

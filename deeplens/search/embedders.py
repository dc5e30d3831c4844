"""One embedder per model, so several models can be searched (and backfilled) side by side."""

from __future__ import annotations

import threading

from deeplens.pipeline.services import Embedder, Services, make_embedder


class EmbedderPool:
    """The process's embedder of each model: the services' own for the configured model, others
    loaded on first use (in-process, or the same KServe server under the model's name)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._embedders: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def get(self, model: str) -> Embedder:
        """The embedder of ``model`` (``NotFound`` for a name the registry does not know)."""
        if model == self.services.settings.model:
            return self.services.embedder
        with self._lock:
            if model not in self._embedders:
                self._embedders[model] = make_embedder(self.services.settings.model_copy(update={"model": model}))
            return self._embedders[model]

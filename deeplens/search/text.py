"""How a model answers a text query: its text tower, or the ImageNet classes the query names."""

from __future__ import annotations

import threading
from typing import Literal

from deeplens.config import Settings
from deeplens.pipeline.services import Embedder
from deeplens.textsearch import ClassMapper, shared_encoder, vocabulary_for
from deeplens.textsearch.vocabulary import ClassEntry, imagenet_vocabulary
from inference.registry import ModelSpec

TextMode = Literal["text_tower", "classes"]


def text_mode(spec: ModelSpec) -> TextMode | None:
    """``text_tower`` for models with one (open_clip), ``classes`` for classifier models (mobilenet_v2), else None."""
    if spec.supports_text:
        return "text_tower"
    if spec.supports_classify:
        return "classes"
    return None


def vocabulary_of(spec: ModelSpec, embedder: Embedder | None) -> tuple[ClassEntry, ...]:
    """The classes a classifier model scores (mobilenet_v2: ImageNet-1k, known without loading it)."""
    if spec.family == "mobilenet":
        return imagenet_vocabulary()
    names = getattr(embedder, "class_names", None)
    if not names:
        from deeplens.errors import Unsupported

        raise Unsupported(f"model {spec.name} does not say which classes it scores")
    return vocabulary_for(list(names))


class ClassMappers:
    """One :class:`ClassMapper` per classifier model, with the thresholds the settings give."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._mappers: dict[str, ClassMapper] = {}
        self._lock = threading.Lock()

    def get(self, spec: ModelSpec, embedder: Embedder | None = None) -> ClassMapper:
        """The mapper of a classifier model (class texts embedded on first use, then cached on disk)."""
        with self._lock:
            if spec.name not in self._mappers:
                s = self.settings
                self._mappers[spec.name] = ClassMapper(
                    vocabulary_of(spec, embedder),
                    shared_encoder(),
                    threshold=s.text_class_threshold,
                    margin=s.text_class_margin,
                    max_classes=s.text_max_classes,
                    cache_dir=s.cache_dir,
                )
            return self._mappers[spec.name]

"""Map a text query to the classifier classes it names, or say clearly that it names none.

A class's similarity to a query is the mean of two cosine similarities (all-MiniLM-L6-v2):
the best over its names and synonyms, and the one to "name: definition". Names alone are
lexically brittle ("dog" is closest to "hotdog", "red" to "red hot"); definitions alone are
vague; their mean keeps what both agree on. Measured on ImageNet-1k: concrete queries
("cup of coffee", "cat", "rocket", "motorcycle", "running shoe") reach ≥ 0.5, nonsense and
abstract ones ("xyzzy", "democracy", "the", "tax return") stay ≤ 0.38, hence the default
threshold of 0.45 (``DEEPLENS_TEXT_CLASS_THRESHOLD``).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeplens.caches.search import digest
from deeplens.errors import BadInput
from deeplens.textsearch.encoder import SentenceEncoder
from deeplens.textsearch.vocabulary import ClassEntry

log = logging.getLogger(__name__)

#: Softness of the weights of secondary classes: a class 0.1 below the best counts e^-1 as much.
TEMPERATURE = 0.1
MAX_QUERY_CHARS = 500

# Class-text embeddings by (encoder, texts): shared by every mapper in the process, so
# mappers with other thresholds (or another app over the same process) never re-embed.
_SHARED: dict[str, tuple[np.ndarray, np.ndarray]] = {}
_SHARED_LOCK = threading.Lock()


@dataclass(frozen=True)
class ClassMatch:
    """A class a query maps to: its similarity to the query and its weight in the ranking (best = 1)."""

    index: int
    name: str
    similarity: float
    weight: float


class ClassMapper:
    """Query → classes, over one vocabulary. Class texts are embedded once (and cached on disk)."""

    def __init__(
        self,
        vocabulary: Sequence[ClassEntry],
        encoder: SentenceEncoder,
        *,
        threshold: float = 0.45,
        margin: float = 0.25,
        max_classes: int = 10,
        cache_dir: Path | None = None,
    ) -> None:
        self.vocabulary = tuple(vocabulary)
        self.encoder = encoder
        self.threshold = threshold
        self.margin = margin
        self.max_classes = max_classes
        self.cache_dir = cache_dir
        self._matrices: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()

    # --- class text embeddings --------------------------------------------------------------

    def _texts(self) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
        names, owners, defs, def_owners = [], [], [], []
        for entry in self.vocabulary:
            for synonym in entry.synonyms:
                names.append(synonym)
                owners.append(entry.index)
            if entry.definition:
                defs.append(f"{entry.name}: {entry.definition}")
                def_owners.append(entry.index)
        return names, np.asarray(owners, dtype=np.int64), defs, np.asarray(def_owners, dtype=np.int64)

    def _load_matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        with self._lock:
            if self._matrices is None:
                names, owners, defs, def_owners = self._texts()
                name_vectors, def_vectors = _embedded_texts(self.encoder, names, defs, self.cache_dir)
                self._matrices = (name_vectors, owners, def_vectors, def_owners)
            return self._matrices

    @property
    def ready(self) -> bool:
        """Whether the class texts are embedded already (a query then embeds only itself)."""
        return self._matrices is not None

    def warm(self) -> ClassMapper:
        """Embed the class texts now rather than on the first query."""
        self._load_matrices()
        return self

    # --- queries ----------------------------------------------------------------------------

    def similarities(self, query: str) -> np.ndarray:
        """Similarity of ``query`` to every class, ``(C,)`` in class order."""
        text = _clean(query)
        name_vectors, owners, def_vectors, def_owners = self._load_matrices()
        q = self.encoder.encode([text])[0]
        n = len(self.vocabulary)
        by_name = np.full(n, -1.0, dtype=np.float32)
        np.maximum.at(by_name, owners, name_vectors @ q)
        if len(def_owners) == 0:
            return by_name
        by_def = by_name.copy()  # a class without a definition falls back to its names alone
        by_def[def_owners] = def_vectors @ q
        return 0.5 * by_name + 0.5 * by_def

    def nearest(self, query: str, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` classes closest to ``query`` with their similarity, whether or not they pass the threshold."""
        sims = self.similarities(query)
        top = np.argsort(-sims)[:n]
        return [(self.vocabulary[i].name, round(float(sims[i]), 3)) for i in top]

    def map(self, query: str) -> list[ClassMatch]:
        """The classes ``query`` names, best first; :class:`BadInput` ``no_matching_class`` when none is close enough.

        Kept: classes at or above the threshold and within ``margin`` of the best one, at
        most ``max_classes``. Weight ``exp((s - best) / T)`` ranks images mostly by the best
        class while letting close synonyms ("cup", "espresso" for "cup of coffee") count.
        """
        sims = self.similarities(query)
        order = np.argsort(-sims)
        best = float(sims[order[0]])
        if best < self.threshold:
            nearest = ", ".join(f"{self.vocabulary[i].name} ({sims[i]:.2f})" for i in order[:5])
            raise BadInput(
                "no_matching_class",
                f"{query.strip()!r} names none of the {len(self.vocabulary)} classes this model recognises "
                f"(nearest: {nearest}; a class needs {self.threshold:.2f}). Name a concrete object "
                "('coffee mug', 'cat', 'running shoe'), or search with an open_clip model, which reads any text.",
            )
        floor = max(self.threshold, best - self.margin)
        chosen = [i for i in order[: self.max_classes] if sims[i] >= floor]
        return [
            ClassMatch(int(i), self.vocabulary[i].name, round(float(sims[i]), 4), round(float(np.exp((sims[i] - best) / TEMPERATURE)), 4))
            for i in chosen
        ]


def _embedded_texts(
    encoder: SentenceEncoder, names: list[str], defs: list[str], cache_dir: Path | None
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of the class names and definitions: from this process, the disk cache, or computed."""
    key = digest(encoder.fingerprint, names, defs)
    with _SHARED_LOCK:
        if key in _SHARED:
            return _SHARED[key]
        path = cache_dir / f"classmap-{key}.npz" if cache_dir is not None else None
        if path is not None and path.is_file():
            try:
                with np.load(path) as saved:
                    _SHARED[key] = (saved["names"], saved["defs"])
                return _SHARED[key]
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable class-text cache %s: %s", path, exc)
        # ~3k short texts: several seconds on two cores, hence the caches.
        name_vectors = encoder.encode(names)
        def_vectors = encoder.encode(defs) if defs else np.zeros((0, name_vectors.shape[1]), np.float32)
        if path is not None:
            _save_atomically(path, names=name_vectors, defs=def_vectors)
        _SHARED[key] = (name_vectors, def_vectors)
        return _SHARED[key]


def _clean(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise BadInput("empty_query", "the text query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise BadInput("query_too_long", f"the text query has {len(query)} characters; at most {MAX_QUERY_CHARS}")
    return " ".join(query.split())


def _save_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Write an .npz so that concurrent readers never see half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home only costs the re-embedding next time
        log.warning("cannot cache class-text embeddings at %s: %s", path, exc)

"""The RootSIFT vocabulary that decides which inverted list a catalog descriptor goes to.

It is fixed and shipped with the package (``data/rootsift-words.npy``, 4,096 words, made
once by ``scripts/train_vocabulary.py`` from a generated catalog that no benchmark uses),
never trained on a tenant's catalog: a descriptor's list is then a function of the
descriptor alone, so an index grown photo by photo and one built at once hold the same
lists, and no catalog change ever re-partitions the index. The words only steer the
search (which lists it probes), never a distance, so a vocabulary that fits a catalog less
well costs recall at a given probe count, not correctness.

A product photo's words are found once, by the features step, and stored with its
features (with the vocabulary's name): building or growing an index then only copies codes
into lists. A descriptor's nearest words are found exactly (one matrix product over every word): as
fast here as an HNSW graph over the words searched wide enough to find the nearest word
for 99.9% of descriptors (about 25 µs a descriptor on one core), and nothing to approximate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import faiss
import numpy as np

VOCABULARY_PATH = Path(__file__).with_name("data") / "rootsift-words.npy"


@dataclass(frozen=True)
class Vocabulary:
    """The words (cluster centres) and the exact search for a descriptor's nearest ones."""

    quantizer: faiss.IndexFlatL2
    name: str
    """A digest of the words: a saved index is loaded only with the vocabulary it was built on."""

    @property
    def words(self) -> int:
        return int(self.quantizer.ntotal)

    @property
    def dims(self) -> int:
        return int(self.quantizer.d)

    def assign(self, descriptors: np.ndarray) -> np.ndarray:
        """Each descriptor's nearest word (the inverted list it goes to), as ``int64``."""
        if len(descriptors) == 0:
            return np.zeros(0, np.int64)
        _, words = self.quantizer.search(np.ascontiguousarray(descriptors, np.float32), 1)
        return words[:, 0].astype(np.int64)


def words_to_bytes(words: np.ndarray) -> bytes:
    """A photo's descriptors' words as stored with its features (two bytes each)."""
    return np.asarray(words, "<u2").tobytes()


def words_from_bytes(data: bytes) -> np.ndarray:
    """Inverse of :func:`words_to_bytes`."""
    return np.frombuffer(data, "<u2").astype(np.int64)


def vocabulary_of(centroids: np.ndarray) -> Vocabulary:
    """A vocabulary over these ``(words, dims)`` centres (stored as float16, as the shipped file holds them)."""
    words = np.ascontiguousarray(centroids, np.float16)
    quantizer = faiss.IndexFlatL2(words.shape[1])
    quantizer.add(words.astype(np.float32))
    return Vocabulary(quantizer, hashlib.sha256(words.tobytes()).hexdigest()[:12])


@cache
def load_vocabulary(path: Path = VOCABULARY_PATH) -> Vocabulary:
    """The shipped vocabulary (read once per process; it is never modified)."""
    return vocabulary_of(np.load(path))

"""The RootSIFT vocabulary that decides which inverted list a catalog descriptor goes to.

It is fixed and shipped with the package (``data/rootsift-words.faiss``, made once by
``scripts/train_vocabulary.py`` from a generated catalog that no benchmark uses), never
trained on a tenant's catalog: a descriptor's list is then a function of the descriptor
alone, so an index grown photo by photo and one built at once hold the same lists, and no
catalog change ever re-partitions the index. The words only steer the search (which lists
it probes), never a distance, so a vocabulary that fits a catalog less well costs recall
at a given probe count, not correctness.

The words are searched through a small HNSW graph (exact search over 4,096 words would
cost a match process a minute of CPU per 4 million catalog descriptors). The graph ships
as built, single-threaded, so every process walks the same graph to the same word.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import faiss
import numpy as np

VOCABULARY_PATH = Path(__file__).with_name("data") / "rootsift-words.faiss"
# Candidate words the graph search keeps (faiss's efSearch): enough that the nearest word
# is found for nearly every descriptor; the lists probed come from the same search.
WORD_SEARCH_BREADTH = 64
# Neighbours per word in the graph (HNSW's M).
GRAPH_DEGREE = 32


@dataclass(frozen=True)
class Vocabulary:
    """The words (cluster centres) and the search for a descriptor's nearest ones."""

    quantizer: faiss.IndexHNSWFlat
    name: str
    """A digest of the words and graph: a saved index is loaded only with the vocabulary it was built on."""

    @property
    def words(self) -> int:
        return int(self.quantizer.ntotal)

    @property
    def dims(self) -> int:
        return int(self.quantizer.d)


def build_vocabulary(centroids: np.ndarray) -> Vocabulary:
    """A vocabulary over these ``(words, dims)`` centres, its graph built in one thread (so it is reproducible)."""
    quantizer = faiss.IndexHNSWFlat(centroids.shape[1], GRAPH_DEGREE)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        quantizer.add(np.ascontiguousarray(centroids, np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    quantizer.hnsw.efSearch = WORD_SEARCH_BREADTH
    return Vocabulary(quantizer, _digest(faiss.serialize_index(quantizer).tobytes()))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def save_vocabulary(vocabulary: Vocabulary, path: Path = VOCABULARY_PATH) -> None:
    """Write the vocabulary's words and graph as :func:`load_vocabulary` reads them."""
    faiss.write_index(vocabulary.quantizer, str(path))


@cache
def load_vocabulary(path: Path = VOCABULARY_PATH) -> Vocabulary:
    """The shipped vocabulary (read once per process; it is never modified)."""
    data = path.read_bytes()
    quantizer = faiss.deserialize_index(np.frombuffer(data, np.uint8))
    quantizer.hnsw.efSearch = WORD_SEARCH_BREADTH
    return Vocabulary(quantizer, _digest(data))

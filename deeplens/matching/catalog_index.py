"""Candidate products for a frame by voting of its local features against the whole catalog.

Whole-frame embeddings rank a product that covers a fraction of a cluttered frame
poorly. Local descriptors do not care about the clutter: every frame descriptor looks
up its nearest catalog descriptors (one approximate k-NN search over all product photos
at once) and, if that neighbour is distinctive, votes for its photo. Distinctive means
Lowe's ratio test against the nearest descriptor of a *different* product, so a
product's several photos do not cancel each other's votes while a brand word shared by
look-alikes does not vote at all. The cost per frame grows slowly with the catalog
(``bench/catalog_scale.py`` measures it).

The index keeps each descriptor in 128 bytes (FLANN, before, kept about 0.9 KB: 3.5 GB at
5,000 products, rebuilt in full by every match process whenever the catalog changed) and
builds nothing per catalog:

- **Lists from a fixed vocabulary.** Every descriptor goes to the inverted list of its
  nearest word of :mod:`deeplens.matching.vocabulary`, a RootSIFT vocabulary shipped with
  the package. Nothing is trained on the catalog, so where a descriptor lands depends on
  the descriptor alone: adding or replacing a photo touches only its own
  descriptors, and any two processes holding the same photos give the same votes,
  whatever order the photos came in and however they were split between a loaded base and
  what was added since.
- **Exact 8-bit codes.** Quantised RootSIFT holds integers 0..255 (see
  :mod:`deeplens.vision.local_features`), so faiss's direct 8-bit scalar quantiser stores
  them without loss: distances are the exact ones, only the lists a search probes are
  approximate (as FLANN's trees were, with as many votes for the true product).
- **A read-only base and an in-memory delta.** :meth:`CatalogIndex.save` writes
  the index as one file; :meth:`CatalogIndex.load` memory-maps it, so a cold start
  reads what it touches instead of rebuilding, and processes on one node share the pages.
  Photos added after that are held in a small in-memory index on the same vocabulary;
  photos replaced since are excluded from the base at search time.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from deeplens.matching.vocabulary import Vocabulary, load_vocabulary
from deeplens.vision.local_features import LocalFeatures

# Neighbours looked at per frame descriptor to find the nearest one of another product.
NEIGHBOURS = 4

Generation = int
"""A tenant's catalog generation (:func:`deeplens.db.index_state.catalog_generation`): it
advances whenever a photo is added or replaced, in commit order."""


@dataclass(frozen=True)
class Vote:
    """A product photo and how many frame descriptors voted for it."""

    product_image_id: int
    sku: str
    votes: int


# Inverted lists one frame descriptor's search visits. On the 5,000-product catalog
# (bench/catalog_scale.py) 4 lists of 4,096 give the votes FLANN gave (recall@3 of the true
# product within one pair of 120) at about two thirds of its time per keyframe.
NPROBE = 4
# Neighbours fetched per index before the merge: equal distances are then ordered by photo
# key, not by which list or index a neighbour came from.
_FETCHED = NEIGHBOURS + 4


@dataclass(frozen=True)
class CatalogPhoto:
    """One product photo's descriptors, as the index takes them."""

    photo_id: int
    sku: str
    object_key: str
    features: LocalFeatures


def _tie_rank(object_key: str) -> int:
    """A photo's place among equals: a hash of its key, so it does not follow upload timing."""
    return int.from_bytes(hashlib.blake2b(object_key.encode(), digest_size=7).digest(), "big")


class CatalogIndex:
    """Approximate nearest catalog descriptors by inverted lists over a fixed vocabulary.

    A frame descriptor votes for the photo of its nearest catalog descriptor when that one
    is distinctive (Lowe's ratio test against the nearest descriptor of another product).
    """

    def __init__(self, vocabulary: Vocabulary | None = None, *, generation: Generation = 0) -> None:
        self.vocabulary = vocabulary or load_vocabulary()
        self.generation = generation
        """The catalog generation this index holds."""
        self._base: faiss.IndexIVFScalarQuantizer | None = None
        self._base_ids: set[int] = set()
        self._delta = self._empty_index()
        self._excluded: set[int] = set()
        self._photos: dict[int, tuple[str, int, int]] = {}  # photo id -> (sku, tie rank, descriptors)
        self._refresh_tables()

    def _empty_index(self) -> faiss.IndexIVFScalarQuantizer:
        index = faiss.IndexIVFScalarQuantizer(
            self.vocabulary.quantizer, self.vocabulary.dims, self.vocabulary.words, faiss.ScalarQuantizer.QT_8bit_direct, faiss.METRIC_L2
        )
        index.own_fields = False  # the vocabulary's quantizer is shared by the base and the delta
        index.is_trained = True  # the direct quantiser takes values as they are; the lists come from the vocabulary
        return index

    # --- contents ----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Photos indexed."""
        return len(self._photos)

    @property
    def descriptors(self) -> int:
        """Descriptors indexed, over all photos."""
        return sum(count for _, _, count in self._photos.values())

    def updated(self, added: Iterable[CatalogPhoto], *, generation: Generation) -> CatalogIndex:
        """A new index with these photos added (or replaced); this one is left as it was.

        The base (loaded, read-only) is shared, the delta copied: a vote running on this
        index while the next generation is prepared is never disturbed.
        """
        index = copy.copy(self)
        index._delta = faiss.clone_index(self._delta)
        index._excluded = set(self._excluded)
        index._photos = dict(self._photos)
        index.generation = generation
        index.add(added)
        return index

    def add(self, photos: Iterable[CatalogPhoto]) -> None:
        """Index these photos; a photo already indexed under the same id is replaced."""
        photos = [photo for photo in photos if len(photo.features)]
        self.remove(photo.photo_id for photo in photos)
        for photo in photos:
            descriptors = np.ascontiguousarray(photo.features.descriptors, np.float32)
            self._delta.add_with_ids(descriptors, np.full(len(descriptors), photo.photo_id, np.int64))
            self._photos[photo.photo_id] = (photo.sku, _tie_rank(photo.object_key), len(descriptors))
        self._refresh_tables()

    def remove(self, photo_ids: Iterable[int]) -> None:
        """Stop voting for these photos (ids not indexed are ignored)."""
        ids = {int(photo_id) for photo_id in photo_ids} & self._photos.keys()
        if not ids:
            return
        self._delta.remove_ids(faiss.IDSelectorBatch(np.fromiter(ids, np.int64)))
        self._excluded |= ids & self._base_ids
        for photo_id in ids:
            del self._photos[photo_id]
        self._refresh_tables()

    def _refresh_tables(self) -> None:
        """Per-photo arrays the vote works on, in photo id order."""
        self._ids = np.array(sorted(self._photos), np.int64)
        skus = [self._photos[photo_id][0] for photo_id in self._ids]
        _, products = np.unique(np.array(skus, dtype=object), return_inverse=True) if skus else (None, np.zeros(0, np.int64))
        self._product = products.astype(np.int32)
        self._rank = np.array([self._photos[photo_id][1] for photo_id in self._ids], np.int64)
        self._skus = skus
        self._search_params = faiss.SearchParametersIVF(nprobe=NPROBE)
        if self._excluded:
            self._selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.fromiter(self._excluded, np.int64)))
            self._base_params = faiss.SearchParametersIVF(nprobe=NPROBE, sel=self._selector)
        else:
            self._base_params = self._search_params

    # --- votes -------------------------------------------------------------------------

    def vote(self, frame: LocalFeatures, *, ratio: float = 0.8) -> list[Vote]:
        """Product photos ranked by the distinctive frame descriptors that point at them."""
        if not self._photos or len(frame) == 0:
            return []
        queries = np.ascontiguousarray(frame.descriptors, np.float32)
        slot, sq_dist = self._nearest(queries)
        found = slot[:, 0] >= 0
        slot, sq_dist = slot[found], sq_dist[found]
        products = np.where(slot >= 0, self._product[np.maximum(slot, 0)], -1)
        # The first neighbour of another product is the rival; a descriptor without one
        # among its neighbours (every neighbour is of its own product) is distinctive.
        other = (products[:, 1:] != products[:, :1]) & (slot[:, 1:] >= 0)
        has_rival = other.any(axis=1)
        rival_sq = sq_dist[np.arange(len(slot)), 1 + other.argmax(axis=1)]
        distinctive = ~has_rival | (sq_dist[:, 0] < ratio * ratio * rival_sq)
        counts = np.bincount(slot[distinctive, 0], minlength=len(self._ids))
        # Most votes first; equal votes by the photos' key hash, as neighbours are.
        order = np.lexsort((self._rank, -counts))
        return [Vote(int(self._ids[s]), self._skus[s], int(counts[s])) for s in order if counts[s] > 0]

    def _nearest(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``NEIGHBOURS`` nearest descriptors of each query as photo slots (-1: none) and squared distances."""
        parts = [self._delta.search(queries, _FETCHED, params=self._search_params)]
        if self._base is not None:
            parts.append(self._base.search(queries, _FETCHED, params=self._base_params))
        sq_dist = np.hstack([d for d, _ in parts])
        ids = np.hstack([i for _, i in parts])
        slot = np.searchsorted(self._ids, np.maximum(ids, 0))
        slot = np.where(ids >= 0, np.minimum(slot, len(self._ids) - 1), -1)
        # Missing neighbours last, then nearest first, equal distances by photo key.
        rank = np.where(slot >= 0, self._rank[np.maximum(slot, 0)], np.iinfo(np.int64).max)
        order = np.lexsort((rank, np.where(slot >= 0, sq_dist, np.inf)), axis=1)[:, :NEIGHBOURS]
        rows = np.arange(len(queries))[:, None]
        return slot[rows, order], sq_dist[rows, order]

    # --- files -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the index as one file (and its photo table beside it), for :meth:`load`.

        Only an index built in memory is saved (a snapshot is built from the catalog as
        it stands, not from an earlier snapshot): a loaded base is read-only.
        """
        if self._base is not None:
            raise ValueError("a loaded index is not saved again; build the snapshot from the catalog")
        faiss.write_index(self._delta, str(path))
        ids = sorted(self._photos)
        np.savez(
            photo_table_path(str(path)),
            photos=np.array(ids, np.int64),
            skus=np.array([self._photos[i][0] for i in ids], dtype=str),
            ranks=np.array([self._photos[i][1] for i in ids], np.int64),
            counts=np.array([self._photos[i][2] for i in ids], np.int64),
            generation=np.array(self.generation, np.int64),
        )

    @classmethod
    def load(cls, path: Path, vocabulary: Vocabulary | None = None) -> CatalogIndex:
        """The index :meth:`save` wrote, memory-mapped and read-only; photos added later go to a delta."""
        index = cls(vocabulary)
        base = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        index._base = base
        with np.load(photo_table_path(str(path))) as meta:
            index.generation = int(meta["generation"])
            for photo_id, sku, rank, count in zip(meta["photos"], meta["skus"], meta["ranks"], meta["counts"], strict=True):
                index._photos[int(photo_id)] = (str(sku), int(rank), int(count))
        index._base_ids = set(index._photos)
        index._refresh_tables()
        return index


def photo_table_path(path: str) -> str:
    """Where the photo table of the index saved at ``path`` (a file, or an object key) is."""
    return f"{path}.photos.npz"

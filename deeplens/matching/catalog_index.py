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
  approximate (as FLANN's trees were, with as many votes for the true product). The codes
  are of the descriptors themselves, not of their residuals to the list's word (faiss's
  default): a residual is fractional and often negative, which a direct 8-bit code cannot
  hold (it wraps), and the ratio test would compare garbage distances.
- **A read-only base and an in-memory delta.** :meth:`CatalogIndex.save` writes
  the index as one file; :meth:`CatalogIndex.load` memory-maps it, so a cold start
  reads what it touches instead of rebuilding, and processes on one node share the pages.
  Photos added after that are held in a small in-memory index on the same vocabulary;
  photos replaced since are excluded from the base at search time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
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
# The layout of a saved index, recorded with it (:func:`snapshot_name`): a snapshot of another
# layout is never loaded. 2: codes of the descriptors themselves (1 coded residuals, see above).
SNAPSHOT_LAYOUT = 2
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
    words: np.ndarray | None = None
    """Each descriptor's word in the index's vocabulary, where known (found when absent)."""


def _tie_rank(object_key: str) -> int:
    """A photo's place among equals: a hash of its key, so it does not follow upload timing."""
    return int.from_bytes(hashlib.blake2b(object_key.encode(), digest_size=7).digest(), "big")


@dataclass(frozen=True)
class _Segment:
    """Inverted lists of some photos' descriptors; never changed once an index holds them."""

    lists: faiss.IndexIVFScalarQuantizer
    descriptors: int
    read_only: bool = False
    """A loaded (memory-mapped) snapshot: searched in place, never merged."""
    stale: frozenset[int] = frozenset()
    """Its photos that a newer segment holds again (replaced) or that were removed: left out of its searches."""


class CatalogIndex:
    """Approximate nearest catalog descriptors by inverted lists over a fixed vocabulary.

    A frame descriptor votes for the photo of its nearest catalog descriptor when that one
    is distinctive (Lowe's ratio test against the nearest descriptor of another product).
    An index is never changed once built: :meth:`updated` gives a new one that shares its
    segments, so a vote running on an index is never disturbed by the next generation.
    """

    def __init__(self, vocabulary: Vocabulary | None = None, *, generation: Generation = 0) -> None:
        """An empty index (see :meth:`build`, :meth:`load` and :meth:`updated` for full ones)."""
        self.vocabulary = vocabulary or load_vocabulary()
        self.generation = generation
        """The catalog generation this index holds."""
        self._segments: tuple[_Segment, ...] = ()
        self._photos: dict[int, tuple[str, int, int]] = {}  # photo id -> (sku, tie rank, descriptors)
        self._refresh_tables()

    @classmethod
    def build(cls, photos: Iterable[CatalogPhoto], *, vocabulary: Vocabulary | None = None, generation: Generation = 0) -> CatalogIndex:
        """An index of these photos (each id once), read once: a catalog streamed from the database needs no copy of it."""
        index = cls(vocabulary, generation=generation)
        return index.updated(photos, generation=generation)

    # --- contents ----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Photos indexed."""
        return len(self._photos)

    @property
    def descriptors(self) -> int:
        """Descriptors indexed, over all photos."""
        return sum(count for _, _, count in self._photos.values())

    def updated(self, photos: Iterable[CatalogPhoto], *, generation: Generation, removed: Iterable[int] = ()) -> CatalogIndex:
        """A new index with these photos added, or replaced where their id is indexed already
        (each id once), and the ``removed`` photo ids gone.

        The new photos form a new segment; this index's segments are shared, not copied, and
        small segments are merged as they accumulate (each merge at most doubles what it
        copies, so growing a catalog photo by photo copies each descriptor a few times).
        """
        lists, photos_table, descriptors = self._empty_lists(), dict(self._photos), 0
        given: set[int] = set()
        for photo in photos:
            if photo.photo_id in given:
                raise ValueError(f"photo {photo.photo_id} is given twice")
            given.add(photo.photo_id)
            photos_table.pop(photo.photo_id, None)
            if len(photo.features):
                block = np.ascontiguousarray(photo.features.descriptors, np.float32)
                words = self.vocabulary.assign(block) if photo.words is None else np.ascontiguousarray(photo.words, np.int64)
                if words.shape != (len(block),):
                    raise ValueError(f"photo {photo.photo_id} has {len(block)} descriptors but {words.size} words")
                ids = np.full(len(block), photo.photo_id, np.int64)
                lists.add_core(len(block), faiss.swig_ptr(block), faiss.swig_ptr(ids), faiss.swig_ptr(words))
                photos_table[photo.photo_id] = (photo.sku, _tie_rank(photo.object_key), len(block))
                descriptors += len(block)
        gone = frozenset(removed) & self._photos.keys()
        for photo_id in gone:
            del photos_table[photo_id]
        replaced = frozenset(given & self._photos.keys()) | gone
        segments = [replace(seg, stale=seg.stale | replaced) if replaced else seg for seg in self._segments]
        if descriptors:
            segments.append(_Segment(lists, descriptors))
        index = CatalogIndex(self.vocabulary, generation=generation)
        index._segments, index._photos = _merged_tail(segments), photos_table
        index._refresh_tables()
        return index

    def _empty_lists(self) -> faiss.IndexIVFScalarQuantizer:
        lists = faiss.IndexIVFScalarQuantizer(
            self.vocabulary.quantizer, self.vocabulary.dims, self.vocabulary.words, faiss.ScalarQuantizer.QT_8bit_direct, faiss.METRIC_L2,
            False,  # by_residual: codes of the descriptors, which direct codes hold exactly
        )
        lists.own_fields = False  # every segment shares the vocabulary's quantizer
        lists.is_trained = True  # the direct quantiser takes values as they are; the lists come from the vocabulary
        return lists

    def _refresh_tables(self) -> None:
        """Per-photo arrays the vote works on (in photo id order), and each segment's search parameters."""
        self._ids = np.array(sorted(self._photos), np.int64)
        self._skus = [self._photos[photo_id][0] for photo_id in self._ids]
        products = np.unique(np.array(self._skus, dtype=object), return_inverse=True)[1] if self._skus else np.zeros(0)
        self._product = products.astype(np.int32)
        self._rank = np.array([self._photos[photo_id][1] for photo_id in self._ids], np.int64)
        # The selectors are kept with the parameters: faiss holds them by pointer during a search.
        self._searches = []
        for segment in self._segments:
            params = faiss.SearchParametersIVF(nprobe=NPROBE)
            if segment.stale:
                params.sel = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.fromiter(segment.stale, np.int64)))
                self._searches.append((segment, params, params.sel))
            else:
                self._searches.append((segment, params, None))

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
        # One word search for every segment: they share the vocabulary.
        word_dist, words = self.vocabulary.nearest(queries, NPROBE)
        parts = [_search_lists(segment.lists, queries, words, word_dist, params) for segment, params, _ in self._searches]
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

        Only an index built in memory is saved (a snapshot is built from the catalog as it
        stands, not from an earlier snapshot): a loaded one is read-only.
        """
        if any(segment.read_only for segment in self._segments):
            raise ValueError("a loaded index is not saved again; build the snapshot from the catalog")
        segments = _merged_tail(self._segments, everything=True)
        if not segments:
            lists = self._empty_lists()
        else:  # one segment now, whose removed photos' descriptors stay out of the file
            lists = _live_lists(segments[0]) if segments[0].stale else segments[0].lists
        faiss.write_index(lists, str(path))
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
        """The index :meth:`save` wrote, memory-mapped and read-only (:meth:`updated` adds to it)."""
        index = cls(vocabulary)
        lists = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        if faiss.downcast_index(lists).by_residual:
            raise ValueError(f"{path} codes residuals (layout 1, whose distances are wrong): build the snapshot again")
        with np.load(photo_table_path(str(path))) as meta:
            index.generation = int(meta["generation"])
            for photo_id, sku, rank, count in zip(meta["photos"], meta["skus"], meta["ranks"], meta["counts"], strict=True):
                index._photos[int(photo_id)] = (str(sku), int(rank), int(count))
        index._segments = (_Segment(lists, int(lists.ntotal), read_only=True),)
        index._refresh_tables()
        return index


def _search_lists(
    lists: faiss.IndexIVFScalarQuantizer, queries: np.ndarray, words: np.ndarray, word_dist: np.ndarray, params: faiss.SearchParametersIVF
) -> tuple[np.ndarray, np.ndarray]:
    """The ``_FETCHED`` nearest descriptors in ``lists`` of each query, given its nearest words.

    faiss's Python wrapper of a preassigned search takes no search parameters (the
    selector of stale photos), so this calls the C++ method it wraps.
    """
    n = len(queries)
    distances, labels = np.empty((n, _FETCHED), np.float32), np.empty((n, _FETCHED), np.int64)
    lists.search_preassigned_c(n, faiss.swig_ptr(queries), _FETCHED, faiss.swig_ptr(words), faiss.swig_ptr(word_dist),
                               faiss.swig_ptr(distances), faiss.swig_ptr(labels), False, params)
    return distances, labels


def _merged_tail(segments: Sequence[_Segment], *, everything: bool = False) -> tuple[_Segment, ...]:
    """Merge the newest segments while the newest is at least half the size of the one before
    (or, with ``everything``, all of them); a read-only segment is never merged."""
    segments = list(segments)
    while len(segments) >= 2 and not segments[-2].read_only and (
        everything or segments[-1].descriptors * 2 >= segments[-2].descriptors
    ):
        newer, older = segments.pop(), segments.pop()
        segments.append(_merge(older, newer))
    return tuple(segments)


def _merge(older: _Segment, newer: _Segment) -> _Segment:
    """One segment holding both's live descriptors; neither is changed."""
    # Stale photos are dropped before the merge: afterwards their old and new descriptors share one id.
    merged, incoming = _live_lists(older), _live_lists(newer)
    merged.merge_from(incoming, 0)
    return _Segment(merged, int(merged.ntotal))


def _live_lists(segment: _Segment) -> faiss.IndexIVFScalarQuantizer:
    """A copy of a segment's lists without its stale photos' descriptors."""
    lists = faiss.clone_index(segment.lists)
    if segment.stale:
        lists.remove_ids(faiss.IDSelectorBatch(np.fromiter(segment.stale, np.int64)))
    return lists


def snapshot_name(vocabulary: Vocabulary) -> str:
    """What an index saved on ``vocabulary`` is recorded and stored under: the vocabulary and the file's layout."""
    return f"{vocabulary.name}-l{SNAPSHOT_LAYOUT}"


def photo_table_path(path: str) -> str:
    """Where the photo table of the index saved at ``path`` (a file, or an object key) is."""
    return f"{path}.photos.npz"

"""Search the index: by an image, by an indexed item ("more like this"), by text; near-duplicates.

One :class:`SearchEngine` per process (the API and the CLI each build one); the API serves
each request from :meth:`SearchEngine.for_tenant`, a view over the caller's tenant that
shares the caches and models. Every cache key names the tenant: query embeddings are cached
by content (they never change for a model), results under the tenant's index generation,
which every write to the index bumps, so a cached result is never served after the index
changed, nor to another tenant.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np

from deeplens.caches.search import Cache, NullCache, digest, get_json, get_vector, open_cache, set_json, set_vector
from deeplens.db.class_scores import has_class_scores
from deeplens.db.index_state import search_state
from deeplens.db.search import Filters, Row, class_ranked_items, duplicate_pairs, has_vector, item_row, nearest_items
from deeplens.errors import BadInput, NotFound, Unsupported
from deeplens.pipeline.services import Services
from deeplens.results import Page
from deeplens.search.embedders import EmbedderPool
from deeplens.search.hits import KIND_ITEMS, ClassInfo, DuplicatePair, ItemKind, Kind, SearchHit
from deeplens.search.models import model_spec
from deeplens.search.text import ClassMappers, text_mode
from deeplens.textsearch import ClassMapper
from deeplens.vision.images import decode_image
from inference.registry import ModelSpec

#: Deepest result an ANN ranking serves (offset + limit): HNSW must look at that many candidates.
MAX_WINDOW = 1000
#: Items whose near-duplicates are listed at most once per (model, kind, threshold) — bounds a request.
DUPLICATE_NEIGHBOURS = 5


@dataclass(frozen=True)
class SearchOptions:
    """What to search and which page: the same options for every kind of query."""

    kind: Kind = "all"
    model: str | None = None
    video: str | None = None
    product: str | None = None
    since: date | datetime | None = None
    min_score: float | None = None
    limit: int = 10
    offset: int = 0

    def checked(self) -> SearchOptions:
        """Raise :class:`BadInput` for options that cannot hold together."""
        if self.limit < 1 or self.offset < 0:
            raise BadInput("bad_page", f"limit must be ≥ 1 and offset ≥ 0 (got {self.limit}, {self.offset})")
        if self.offset + self.limit > MAX_WINDOW:
            raise BadInput("page_too_deep", f"offset + limit may be at most {MAX_WINDOW}; narrow the search with filters")
        if self.video is not None and self.product is not None:
            raise BadInput("conflicting_filters", "video selects keyframes and product selects product photos: give one")
        if self.video is not None and self.kind == "products":
            raise BadInput("conflicting_filters", "the video filter selects keyframes, but kind=products excludes them")
        if self.product is not None and self.kind == "frames":
            raise BadInput("conflicting_filters", "the product filter selects product photos, but kind=frames excludes them")
        return self

    def filters(self) -> Filters:
        """The database filters these options stand for."""
        kinds = KIND_ITEMS[self.kind]
        if self.video is not None:
            kinds = ("frame",)
        elif self.product is not None:
            kinds = ("product_image",)
        return Filters(kinds=kinds, video=self.video, product=self.product, since=_as_utc(self.since))


def _as_utc(value: date | datetime | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _hit(row: Row, class_names: Callable[[int], str] | None = None) -> SearchHit:
    classes = None
    if row.classes is not None and class_names is not None:
        classes = [class_names(c) for c in row.classes]
    return SearchHit(kind=row.item_kind, id=row.item_id, score=round(row.score, 4), key=row.key, product=row.product,
                     video=row.video, t=row.t, classes=classes)


class SearchEngine:
    """Search over one tenant's index (``tenant``, default DEEPLENS_TENANT), with caches."""

    def __init__(self, services: Services, *, tenant: str | None = None, cache: Cache | None = None,
                 embedders: EmbedderPool | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.tenant = tenant if tenant is not None else services.settings.tenant
        self.cache = cache if cache is not None else open_cache(services.settings)
        self.embedders = embedders or EmbedderPool(services)
        self.mappers = ClassMappers(services.settings)
        self._dims: dict[str, int] = {}

    def warm(self) -> None:
        """Ready what the default model's first text query would wait for: its class texts,
        embedded (or read from the disk cache), where the model answers text by classes."""
        spec = model_spec(self.settings.model, self.settings)
        if text_mode(spec) == "classes":
            self._mapper(self.settings.model, spec).warm()

    def _mapper(self, model: str, spec: ModelSpec) -> ClassMapper:
        """The class mapper of a classifier model (mobilenet_v2's classes are known without loading it)."""
        return self.mappers.get(spec, self.embedders.get(model) if spec.family != "mobilenet" else None)

    def for_tenant(self, tenant: str) -> SearchEngine:
        """This engine over ``tenant``'s index, sharing its caches, models and class mappers (cheap: one a request)."""
        scoped = copy.copy(self)
        scoped.tenant = tenant
        return scoped

    # --- shared plumbing ------------------------------------------------------------------

    def _state(self, model: str) -> tuple[int, int | None]:
        """The tenant's index generation and the model's stored dimension (None: it never wrote a vector)."""
        if isinstance(self.cache, NullCache) and model in self._dims:
            return 0, self._dims[model]  # nothing is cached, so the generation is not needed; a model's dim never changes
        with self.services.db.pool.connection() as conn:
            generation, dim = search_state(conn, self.tenant, model)
        if dim is not None:
            self._dims[model] = int(dim)
        return int(generation or 0), dim

    def _results(self, what: str, query: Any, model: str, opts: SearchOptions,
                 run: Callable[[int], list[SearchHit]]) -> list[SearchHit]:
        """Cached results of one query: ``run(dim)`` computes them on a miss."""
        generation, dim = self._state(model)
        if dim is None:
            if model == self.settings.model:
                return []  # nothing indexed yet with the default model: an empty index, not an error
            raise NotFound(f"nothing is indexed with model {model!r}; `deeplens reindex --model {model}` backfills it")
        key = f"res:{self.tenant}:{generation}:{digest(what, query, model, asdict(opts))}"
        cached = get_json(self.cache, key)
        if cached is not None:
            return [SearchHit.model_validate(h) for h in cached]
        hits = run(int(dim))
        set_json(self.cache, key, [h.model_dump(mode="json") for h in hits])
        return hits

    def _nearest(self, model: str, query: np.ndarray | tuple[str, int], opts: SearchOptions,
                 exclude: tuple[str, int] | None = None, dim: int | None = None) -> list[SearchHit]:
        with self.services.db.search_connection() as conn:
            rows = nearest_items(
                conn, self.tenant, model, query, opts.filters(), limit=opts.limit, offset=opts.offset,
                min_score=-1.0 if opts.min_score is None else opts.min_score,
                ef_search=self.settings.hnsw_ef_search, exclude=exclude, dim=dim,
            )
        return [_hit(r) for r in rows]

    def _check_dim(self, model: str, vector: np.ndarray, dim: int) -> None:
        if vector.shape[0] != dim:
            raise Unsupported(f"model {model} now embeds {vector.shape[0]}-d vectors but stored {dim}-d ones; reindex it")

    # --- by image ---------------------------------------------------------------------------

    def image_vector(self, model: str, data: bytes) -> np.ndarray:
        """The query embedding of an encoded image (cached by content); :class:`BadInput` if it is not one."""
        key = f"qimg:{self.tenant}:{model}:{hashlib.sha256(data).hexdigest()}"
        vector = get_vector(self.cache, key)
        if vector is None:
            image = decode_image(data, max_bytes=self.settings.max_image_bytes)
            vector = self.embedders.get(model).embed_images([image])[0]
            set_vector(self.cache, key, vector)
        return vector

    def by_image(self, data: bytes, opts: SearchOptions = SearchOptions()) -> list[SearchHit]:
        """Items that look like the encoded image ``data``, most cosine-similar first."""
        opts = opts.checked()
        model = opts.model or self.settings.model
        model_spec(model, self.settings)  # NotFound for a name no registry knows, before any work

        def run(dim: int) -> list[SearchHit]:
            vector = self.image_vector(model, data)
            self._check_dim(model, vector, dim)
            return self._nearest(model, vector, opts)

        return self._results("image", hashlib.sha256(data).hexdigest(), model, opts, run)

    # --- more like this ---------------------------------------------------------------------

    def similar(self, item_kind: ItemKind, item_id: int, opts: SearchOptions = SearchOptions()) -> list[SearchHit]:
        """Items that look like an indexed product photo or keyframe (itself excluded)."""
        opts = opts.checked()
        model = opts.model or self.settings.model

        def run(dim: int) -> list[SearchHit]:
            # The item's vector stays in the database (one statement; no 5 KB round trip to parse).
            hits = self._nearest(model, (item_kind, item_id), opts, exclude=(item_kind, item_id), dim=dim)
            if not hits:
                with self.services.db.pool.connection() as conn:
                    if not has_vector(conn, self.tenant, item_kind, item_id, model):
                        if item_row(conn, self.tenant, item_kind, item_id) is None:
                            raise NotFound(f"no {item_kind} {item_id}")
                        raise NotFound(f"{item_kind} {item_id} has no {model} vector (yet): it is being indexed, or reindex it")
            return hits

        return self._results("similar", [item_kind, item_id], model, opts, run)

    # --- by text ----------------------------------------------------------------------------

    def text_vector(self, model: str, text: str) -> np.ndarray:
        """The text tower's embedding of ``text`` (cached)."""
        key = f"qtxt:{self.tenant}:{model}:{digest(text)}"
        vector = get_vector(self.cache, key)
        if vector is None:
            vector = self.embedders.get(model).embed_texts([text])[0]  # type: ignore[attr-defined]
            set_vector(self.cache, key, vector)
        return vector

    def text_classes(self, text: str, model: str | None = None) -> list[ClassInfo]:
        """The classes a text query maps to on a classifier model (:class:`BadInput` ``no_matching_class``: none)."""
        model = model or self.settings.model
        spec = model_spec(model, self.settings)
        if text_mode(spec) != "classes":
            raise Unsupported(f"model {model} reads text with its text tower; it maps queries to no classes")
        s = self.settings
        key = f"qcls:{self.tenant}:{model}:{digest(' '.join(text.split()).lower(), s.text_class_threshold, s.text_class_margin, s.text_max_classes)}"
        cached = get_json(self.cache, key)
        if cached is not None:
            return [ClassInfo.model_validate(c) for c in cached]
        matches = self._mapper(model, spec).map(text)
        infos = [ClassInfo(index=m.index, name=m.name, similarity=m.similarity, weight=m.weight) for m in matches]
        set_json(self.cache, key, [c.model_dump() for c in infos])
        return infos

    def by_text(self, text: str, opts: SearchOptions = SearchOptions()) -> list[SearchHit]:
        """Items that show what ``text`` describes, best first.

        open_clip models compare the text tower's embedding with the stored image vectors;
        classifier models (mobilenet_v2) rank images by the stored probabilities of the
        ImageNet classes the query names (:meth:`text_classes`).
        """
        opts = opts.checked()
        if not isinstance(text, str) or not text.strip():
            raise BadInput("empty_query", "the text query is empty")
        model = opts.model or self.settings.model
        spec = model_spec(model, self.settings)
        mode = text_mode(spec)
        if mode is None:
            raise Unsupported(f"model {model} has no text tower and no classifier, so it cannot search by text")
        if mode == "text_tower":
            def run_tower(dim: int) -> list[SearchHit]:
                vector = self.text_vector(model, text)
                self._check_dim(model, vector, dim)
                return self._nearest(model, vector, opts)

            return self._results("text", text, model, opts, run_tower)

        classes = self.text_classes(text, model)  # before the index is read: a query naming nothing is an error anyway
        names = {c.index: c.name for c in classes}

        def run_classes(_: int) -> list[SearchHit]:
            with self.services.db.pool.connection() as conn:
                if not has_class_scores(conn, self.tenant, model):
                    raise Unsupported(
                        f"no class scores are stored for model {model}: the images were indexed by a predictor that "
                        f"does not classify. `deeplens reindex --model {model}` stores them."
                    )
                rows = class_ranked_items(
                    conn, self.tenant, model, [c.index for c in classes], [c.weight for c in classes], opts.filters(),
                    limit=opts.limit, offset=opts.offset, min_score=0.0 if opts.min_score is None else opts.min_score,
                )
            return [_hit(r, names.__getitem__) for r in rows]

        return self._results("text-classes", [text, [(c.index, c.weight) for c in classes]], model, opts, run_classes)

    # --- near-duplicates ----------------------------------------------------------------------

    def duplicates(self, threshold: float = 0.95, opts: SearchOptions = SearchOptions(limit=100)) -> Page:
        """Pairs of items at least ``threshold`` cosine-similar, most similar first, one page of them.

        Each item's :data:`DUPLICATE_NEIGHBOURS` nearest are checked (one HNSW scan per
        item), so the first listing of a large index takes a while; the whole list is then
        cached until the index changes, and further pages are free.
        """
        if not 0.0 < threshold <= 1.0:
            raise BadInput("bad_threshold", f"threshold must be in (0, 1], got {threshold}")
        if opts.limit < 1 or opts.offset < 0:
            raise BadInput("bad_page", "limit must be ≥ 1 and offset ≥ 0")
        model = opts.model or self.settings.model
        generation, dim = self._state(model)
        if dim is None:
            if model == self.settings.model:
                return Page(items=[], total=0, limit=opts.limit, offset=opts.offset)
            raise NotFound(f"nothing is indexed with model {model!r}")
        whole = SearchOptions(kind=opts.kind, model=model, video=opts.video, product=opts.product, since=opts.since)
        key = f"dups:{self.tenant}:{generation}:{digest(threshold, asdict(whole))}"
        pairs = get_json(self.cache, key)
        if pairs is None:
            with self.services.db.transaction() as conn:
                found = duplicate_pairs(conn, self.tenant, model, int(dim), threshold, whole.filters(),
                                        neighbours=DUPLICATE_NEIGHBOURS, ef_search=self.settings.hnsw_ef_search)
            pairs = [list(p) for p in found]
            set_json(self.cache, key, pairs)
        page = pairs[opts.offset : opts.offset + opts.limit]
        min_score = opts.min_score if opts.min_score is not None else threshold
        items = self._pairs(page, min_score)
        return Page(items=items, total=len(pairs), limit=opts.limit, offset=opts.offset)

    def _pairs(self, page: list[list[Any]], min_score: float) -> list[DuplicatePair]:
        rows: dict[tuple[str, int], dict[str, Any]] = {}
        with self.services.db.pool.connection() as conn:
            for a_kind, a_id, b_kind, b_id, _ in page:
                for kind, item_id in ((a_kind, a_id), (b_kind, b_id)):
                    if (kind, item_id) not in rows:
                        rows[(kind, item_id)] = item_row(conn, self.tenant, kind, item_id)
        out = []
        for a_kind, a_id, b_kind, b_id, score in page:
            a, b = rows[(a_kind, a_id)], rows[(b_kind, b_id)]
            if a is None or b is None or score < min_score:
                continue
            out.append(DuplicatePair(
                a=SearchHit(kind=a_kind, id=a_id, score=round(score, 4), key=a["key"], product=a["product"], video=a["video"], t=a["t"]),
                b=SearchHit(kind=b_kind, id=b_id, score=round(score, 4), key=b["key"], product=b["product"], video=b["video"], t=b["t"]),
                score=round(score, 4),
            ))
        return out


def search_by_image(services: Services, tenant: str, data: bytes, *, kind: Kind = "products", k: int = 10) -> list[SearchHit]:
    """The ``k`` indexed items most similar to the encoded image ``data`` (``BadInput`` if it is not one)."""
    return SearchEngine(services, tenant=tenant).by_image(data, SearchOptions(kind=kind, limit=k))

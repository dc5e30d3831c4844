"""Search: by image, by an indexed item, by text; near-duplicates; several models side by side.

- :mod:`deeplens.search.engine` — :class:`SearchEngine`, the queries and their caching
- :mod:`deeplens.search.hits` — what search answers with (``SearchHit``, …)
- :mod:`deeplens.search.text` — how a model answers text (text tower or ImageNet classes)
- :mod:`deeplens.search.models` — which models there are and what each has indexed
- :mod:`deeplens.search.reindex` — backfill a model's vectors for everything indexed
- :mod:`deeplens.search.media` — stored images and thumbnails for result lists
"""

from deeplens.search.engine import SearchEngine, SearchOptions, search_by_image
from deeplens.search.hits import DuplicatePair, Kind, ModelInfo, SearchHit

__all__ = ["DuplicatePair", "Kind", "ModelInfo", "SearchEngine", "SearchHit", "SearchOptions", "search_by_image"]

"""Every per-process and shared cache in one place: each holds derived data that can always be
computed again, so a cache is an optimisation, never a dependency.

- :mod:`~deeplens.caches.lru`: the small thread-safe LRU map the others build on;
- :mod:`~deeplens.caches.search`: query embeddings, results and thumbnails (in-process or Redis);
- :mod:`~deeplens.caches.templates`: product photos reduced for photometric agreement;
- :mod:`~deeplens.caches.catalog_indexes`: each tenant's catalog index, kept current photo by photo.
"""

"""Product photos reduced for photometric agreement, loaded once per process."""

from __future__ import annotations

from deeplens.caches.lru import Lru
from deeplens.storage.base import ObjectStore
from deeplens.vision.appearance import ProductTemplate, product_template
from deeplens.vision.images import decode_image


class ProductTemplateCache:
    """Hands out a product photo's :class:`ProductTemplate`, reading the photo from the store once.

    Keyed by the photo's content hash as well as its id, so a photo replaced under the
    same key is read again. A template is a few KB; ``max_entries`` bounds the memory.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._templates: Lru[tuple[str, int, str], ProductTemplate] = Lru(max_entries)

    def get(
        self, store: ObjectStore, tenant: str, image_id: int, object_key: str, sha256: str, *, max_bytes: int
    ) -> ProductTemplate:
        """The template of one product photo, decoded under the same size limit as the features step's.

        Raises:
            NotFound: the photo is no longer in the store.
        """
        key = (tenant, image_id, sha256)
        template = self._templates.get(key)
        if template is None:
            template = product_template(decode_image(store.get(object_key), max_bytes=max_bytes))
            self._templates.put(key, template)
        return template

"""Object storage behind one interface: a local directory (default) or S3 / MinIO."""

from deeplens.storage.base import ObjectInfo, ObjectStore
from deeplens.storage.factory import open_store

__all__ = ["ObjectInfo", "ObjectStore", "open_store"]

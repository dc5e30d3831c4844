"""Build the configured object store."""

from __future__ import annotations

from deeplens.config import Settings
from deeplens.storage.base import ObjectStore
from deeplens.storage.keys import DERIVED_PREFIXES


def open_store(settings: Settings) -> ObjectStore:
    """The store ``DEEPLENS_STORE`` names; derived objects are not announced to ingest."""
    if settings.store == "s3":
        from deeplens.storage.s3 import S3Store  # boto3 only when used

        store = S3Store(
            settings.bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            announce=settings.s3_announce,
            quiet_prefixes=DERIVED_PREFIXES,
        )
        store.ensure_bucket()
        return store
    from deeplens.storage.local import LocalStore

    return LocalStore(settings.store_root, settings.bucket, quiet_prefixes=DERIVED_PREFIXES)

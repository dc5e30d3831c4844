"""The object-store interface every backend implements."""

from __future__ import annotations

import hashlib
import mimetypes
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeplens.storage.notifications import created_record

Listener = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows of one object."""

    key: str
    size: int
    etag: str


def content_type_for(key: str) -> str:
    """A best guess at an object's MIME type from its key."""
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def sha256_hex(data: bytes) -> str:
    """Content hash used to make re-uploads no-ops."""
    return hashlib.sha256(data).hexdigest()


class ObjectStore(ABC):
    """A bucket of objects that announces every created object as an S3 notification record.

    Keys under ``quiet_prefixes`` (the pipeline's own derived objects) are not announced,
    so writing them never re-triggers ingest; everything else is, so nothing uploaded
    goes unseen.
    """

    bucket: str

    def __init__(self, quiet_prefixes: tuple[str, ...] = ()) -> None:
        self._listeners: list[Listener] = []
        self._quiet_prefixes = quiet_prefixes

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(record)`` for every object created from now on."""
        self._listeners.append(listener)

    def _announce(self, info: ObjectInfo, content_type: str) -> None:
        if self._quiet_prefixes and info.key.startswith(self._quiet_prefixes):
            return
        record = created_record(self.bucket, info.key, info.size, info.etag, content_type)
        for listener in self._listeners:
            listener(record)

    def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        """Store ``data`` under ``key`` (replacing it) and announce it."""
        content_type = content_type or content_type_for(key)
        info = self._write(key, data, content_type)
        self._announce(info, content_type)
        return info

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo:
        """Upload a local file (see :meth:`put`)."""
        return self.put(key, path.read_bytes(), content_type)

    def move_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo:
        """Upload a local file the caller is done with; it is gone from ``path`` afterwards (see :meth:`put_file`)."""
        info = self.put_file(key, path, content_type)
        path.unlink()
        return info

    @abstractmethod
    def _write(self, key: str, data: bytes, content_type: str) -> ObjectInfo: ...

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`deeplens.errors.ObjectMissing` when absent."""

    @abstractmethod
    def download(self, key: str, path: Path) -> None:
        """Write the object to a local file (videos are decoded from files)."""

    @abstractmethod
    def media_location(self, key: str) -> str:
        """Where a decoder (OpenCV's FFmpeg) can read the object in place, seeking by range
        rather than copying all of it: a file path, or a presigned URL. ObjectMissing when absent."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The object's size and etag, or None when absent."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix``, in key order."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object if present."""

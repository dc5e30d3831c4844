"""A bucket that is a local directory: the laptop default."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from deeplens import tracing
from deeplens.errors import BadInput, ObjectMissing
from deeplens.storage.base import ObjectInfo, ObjectStore, content_type_for


class LocalStore(ObjectStore):
    """Objects are files under ``root/bucket``; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path, bucket: str, quiet_prefixes: tuple[str, ...] = ()) -> None:
        super().__init__(quiet_prefixes)
        self.bucket = bucket
        self.root = (root / bucket).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not key or self.root not in path.parents:
            raise BadInput("bad_key", f"object key {key!r} escapes the bucket")
        return path

    @tracing.traced_key("store.put")
    def _write(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        return ObjectInfo(key, len(data), hashlib.md5(data).hexdigest())

    @tracing.traced_key("store.put")
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo:
        """Upload a local file by copying it (in the kernel where it can), never holding all of it
        in memory: a catalog index's snapshot is hundreds of MB."""
        content_type = content_type or content_type_for(key)
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        with open(tmp, "rb") as copied:
            etag = hashlib.file_digest(copied, "md5").hexdigest()
        size = os.path.getsize(tmp)
        os.replace(tmp, target)
        info = ObjectInfo(key, size, etag)
        self._announce(info, content_type)
        return info

    @tracing.traced_key("store.put")
    def move_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo:
        """Rename the file into the bucket where it is on the same file system (a catalog
        index's snapshot is not copied), else copy it."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            return super().move_file(key, path, content_type)
        with open(target, "rb") as moved:
            info = ObjectInfo(key, os.fstat(moved.fileno()).st_size, hashlib.file_digest(moved, "md5").hexdigest())
        self._announce(info, content_type or content_type_for(key))
        return info

    def _object_path(self, key: str) -> Path:
        """The file holding an object; ObjectMissing when there is none, OSError when its path holds something else."""
        path = self._path(key)
        if not path.exists():
            raise ObjectMissing(f"no object {key!r} in bucket {self.bucket!r}")
        if not path.is_file():
            # A fault of the store's directory, not of the upload: retried, then dead-lettered.
            raise OSError(f"the path of object {key!r} in bucket {self.bucket!r} is not a regular file")
        return path

    @tracing.traced_key("store.get")
    def get(self, key: str) -> bytes:
        return self._object_path(key).read_bytes()

    @tracing.traced_key("store.download")
    def download(self, key: str, path: Path) -> None:
        """A hard link where the file system allows one, else a copy: an object's file is never
        changed in place (every write renames a new file over its key), and copying a catalog
        index's snapshot (hundreds of MB) was most of a match process's cold start."""
        source = self._object_path(key)
        try:
            os.link(source, path)
        except OSError:  # on another file system, or the target is there already
            shutil.copyfile(source, path)

    def media_location(self, key: str) -> str:
        return str(self._object_path(key))

    @tracing.traced_key("store.head")
    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return ObjectInfo(key, path.stat().st_size, hashlib.md5(path.read_bytes()).hexdigest())

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix) and not path.name.startswith(".upload-"):
                yield ObjectInfo(key, path.stat().st_size, "")

    @tracing.traced_key("store.delete")
    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

"""A bucket on S3 or MinIO, through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from deeplens import tracing
from deeplens.errors import ObjectMissing
from deeplens.storage.base import ObjectInfo, ObjectStore, content_type_for


class S3Store(ObjectStore):
    """Objects in an S3 bucket. Credentials come from the usual AWS_* variables.

    With ``announce=True`` the store itself announces created objects (a MinIO with no
    webhook configured, or a laptop); in the cluster MinIO's webhook does it, so the chart
    turns this off.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        announce: bool = True,
        quiet_prefixes: tuple[str, ...] = (),
        client: Any = None,
    ) -> None:
        super().__init__(quiet_prefixes)
        self.bucket = bucket
        self._announce_writes = announce
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"}),
        )

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    @tracing.traced_key("store.put")
    def _write(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        response = self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return ObjectInfo(key, len(data), response.get("ETag", "").strip('"'))

    def _announce(self, info: ObjectInfo, content_type: str) -> None:
        if self._announce_writes:
            super()._announce(info, content_type)

    @tracing.traced_key("store.get")
    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise ObjectMissing(f"no object {key!r} in bucket {self.bucket!r}") from exc
            raise

    @tracing.traced_key("store.download")
    def download(self, key: str, path: Path) -> None:
        # Streamed to the file (in parts, for a large object): a video or a catalog index is
        # never held in memory whole.
        try:
            self.client.download_file(self.bucket, key, str(path))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise ObjectMissing(f"no object {key!r} in bucket {self.bucket!r}") from exc
            raise

    @tracing.traced_key("store.put")
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo:
        content_type = content_type or content_type_for(key)
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
        info = self.head(key)
        if info is None:  # read-after-write is strong on S3 and MinIO; an absent object is a fault of the store
            raise OSError(f"object {key!r} is not in bucket {self.bucket!r} after its upload")
        self._announce(info, content_type)
        return info

    def media_location(self, key: str, *, expires: int = 3600) -> str:
        if self.head(key) is None:
            raise ObjectMissing(f"no object {key!r} in bucket {self.bucket!r}")
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires)

    @tracing.traced_key("store.head")
    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return ObjectInfo(key, int(response["ContentLength"]), response.get("ETag", "").strip('"'))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ObjectInfo(item["Key"], int(item["Size"]), item.get("ETag", "").strip('"'))

    @tracing.traced_key("store.delete")
    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

"""Collect: import product photos and videos from URLs listed in a manifest into the bucket.

A manifest is CSV (with a header) or JSON lines, one item per row:

- a product photo: ``sku`` and ``image_url`` → ``products/<tenant>/<sku>/<file name from the URL>``
- a video: ``video_url`` and optionally ``video_id`` → ``videos/<tenant>/<video_id or file name>.<ext>``

Each URL is downloaded (httpx; timeouts, 429 and 5xx retried with exponential backoff),
refused when larger than the limit or when neither its declared type nor its first bytes
say it is an image (a video), and uploaded into the store — which starts the pipeline,
exactly like ``deeplens ingest``. A bad row (malformed, 404, wrong type, too large,
unreachable after the retries) is reported and recorded as a failure of step ``collect``
(``deeplens failures``, ``GET /failures``) under its URL; the other rows proceed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

import httpx

from deeplens.backoff import backoff_delay
from deeplens.db.failures import record_failure
from deeplens.errors import BadInput
from deeplens.mediatypes import EXTENSIONS, family_of, sniff
from deeplens.pipeline.services import Services
from deeplens.storage.keys import product_key, video_key

log = logging.getLogger(__name__)

STEP = "collect"
Family = Literal["image", "video"]
#: Declared types that say nothing about the content; the first bytes decide.
GENERIC_TYPES = {"application/octet-stream", "binary/octet-stream", "application/binary", ""}
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ManifestRow:
    """One manifest row: what to download and where it goes."""

    line: int
    url: str
    family: Family
    sku: str | None = None
    video_id: str | None = None


@dataclass(frozen=True)
class BadRow:
    """A manifest row that cannot be used as it is."""

    line: int
    url: str | None
    reason: str
    message: str


@dataclass
class Outcome:
    """What became of one row: the object key it was uploaded to, or why not."""

    line: int
    url: str | None
    key: str | None = None
    size: int = 0
    reason: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass
class CollectReport:
    """All rows' outcomes, in manifest order."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def uploaded(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


# --- the manifest ------------------------------------------------------------------------------


def read_manifest(path: Path) -> list[ManifestRow | BadRow]:
    """Parse a CSV or JSON-lines manifest (by suffix; else by its first character) into rows."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput("bad_manifest", f"cannot read manifest {path}: {exc}") from exc
    suffix = path.suffix.lower()
    json_lines = suffix in (".jsonl", ".ndjson", ".json") or (suffix != ".csv" and text.lstrip().startswith("{"))
    return list(_json_rows(text) if json_lines else _csv_rows(text))


def _csv_rows(text: str) -> Iterator[ManifestRow | BadRow]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise BadInput("bad_manifest", "the CSV manifest has no header (sku,image_url or video_url[,video_id])")
    fields = {name.strip().lower() for name in reader.fieldnames if name}
    if not fields & {"image_url", "video_url"}:
        raise BadInput("bad_manifest", f"the CSV header names neither image_url nor video_url (got {sorted(fields)})")
    for record in reader:
        clean = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items() if k is not None}
        if not any(clean.values()):
            continue
        yield _row(reader.line_num, clean)


def _json_rows(text: str) -> Iterator[ManifestRow | BadRow]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield BadRow(number, None, "bad_row", f"line {number} is not JSON: {exc}")
            continue
        if not isinstance(record, dict):
            yield BadRow(number, None, "bad_row", f"line {number} is not a JSON object")
            continue
        yield _row(number, {str(k).strip().lower(): "" if v is None else str(v).strip() for k, v in record.items()})


def _row(line: int, record: dict[str, str]) -> ManifestRow | BadRow:
    image_url, video_url = record.get("image_url", ""), record.get("video_url", "")
    url = image_url or video_url or None
    if bool(image_url) == bool(video_url):
        return BadRow(line, url, "bad_row", f"line {line} needs exactly one of image_url and video_url")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        return BadRow(line, url, "bad_url", f"line {line}: {url!r} is not an http(s) URL")
    if image_url:
        sku = record.get("sku", "")
        if not sku or "/" in sku or sku in (".", ".."):
            return BadRow(line, url, "bad_row", f"line {line}: a product photo needs a sku without '/' (got {sku!r})")
        return ManifestRow(line, image_url, "image", sku=sku)
    video_id = record.get("video_id") or None
    if video_id is not None and (not _SAFE.sub("", video_id) or "/" in video_id):
        return BadRow(line, url, "bad_row", f"line {line}: video_id {video_id!r} is not usable in a key")
    return ManifestRow(line, video_url, "video", video_id=video_id)


# --- downloading -------------------------------------------------------------------------------


class Downloader:
    """Downloads with retries, a size limit and type checks; raises :class:`BadInput` for a bad URL."""

    def __init__(self, *, timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.Client(timeout=timeout, follow_redirects=True, transport=transport,
                                    headers={"User-Agent": "deeplens-collect"})

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def fetch(self, url: str, family: Family, max_bytes: int) -> tuple[bytes, str]:
        """The body of ``url`` and its MIME type (from its first bytes), checked to be an ``family``."""
        for attempt in range(self.retries + 1):
            try:
                return self._fetch_once(url, family, max_bytes)
            except _Transient as exc:
                if attempt == self.retries:
                    raise BadInput("unreachable", f"{exc} (gave up after {self.retries + 1} attempts)") from exc
                delay = backoff_delay(attempt, self.backoff)
                log.info("collect: %s: %s; retrying in %.1fs", url, exc, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _fetch_once(self, url: str, family: Family, max_bytes: int) -> tuple[bytes, str]:
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code in TRANSIENT_STATUS:
                    raise _Transient(f"HTTP {response.status_code} {response.reason_phrase}")
                if response.status_code != 200:
                    raise BadInput("http_error", f"HTTP {response.status_code} {response.reason_phrase}")
                declared = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if declared not in GENERIC_TYPES and family_of(declared) != family:
                    raise BadInput("bad_type", f"the server says it is {declared}, not an {family}")
                length = response.headers.get("content-length")
                if length and length.isdigit() and int(length) > max_bytes:
                    raise BadInput("too_large", f"{int(length)} bytes; the limit is {max_bytes}")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:  # a server may omit or understate Content-Length
                        raise BadInput("too_large", f"more than {max_bytes} bytes; the limit is {max_bytes}")
                    chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise _Transient(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Transient(f"cannot connect: {exc}") from exc
        data = b"".join(chunks)
        found = sniff(data)
        if family_of(found) != family:
            what = found or ("empty" if not data else "not a known image or video format")
            raise BadInput("bad_type", f"the content is {what}, not an {family} (declared {declared or 'nothing'})")
        return data, found  # type: ignore[return-value]


class _Transient(Exception):
    """A fault worth retrying: a timeout, a refused connection, 429 or 5xx."""


# --- the whole run -----------------------------------------------------------------------------


def object_key(tenant: str, row: ManifestRow, mime: str) -> str:
    """Where a downloaded row goes in the tenant's part of the bucket (the extension follows the content, not the URL)."""
    ext = EXTENSIONS.get(mime, "")
    name = PurePosixPath(unquote(urlsplit(row.url).path)).name
    stem = _SAFE.sub("_", PurePosixPath(name).stem).strip("._") or hashlib.sha256(row.url.encode()).hexdigest()[:16]
    if row.family == "image":
        return product_key(tenant, row.sku or "", stem + ext)
    return video_key(tenant, _SAFE.sub("_", row.video_id).strip("._") + ext if row.video_id else stem + ext)


def collect(
    services: Services,
    rows: list[ManifestRow | BadRow],
    *,
    max_bytes: int | None = None,
    concurrency: int | None = None,
    downloader: Downloader | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> CollectReport:
    """Download every good row (``concurrency`` at a time) and upload it; record every bad row as a failure.

    Uploads happen in this thread, in completion order; each upload announces the object,
    which is what starts the pipeline.
    """
    settings = services.settings
    owned = downloader is None
    downloader = downloader or Downloader(timeout=settings.collect_timeout, retries=settings.collect_retries,
                                          backoff=settings.collect_backoff)
    outcomes: dict[int, Outcome] = {}
    seen_keys: dict[str, int] = {}

    def finish(outcome: Outcome) -> None:
        outcomes[outcome.line] = outcome
        if not outcome.ok:
            with services.db.transaction() as conn:
                record_failure(conn, settings.tenant, outcome.url or f"manifest line {outcome.line}", STEP,
                               outcome.reason or "bad_row", f"manifest line {outcome.line}: {outcome.message}")
        if on_outcome is not None:
            on_outcome(outcome)

    def limit_for(row: ManifestRow) -> int:
        if max_bytes is not None:
            return max_bytes
        return settings.max_image_bytes if row.family == "image" else settings.max_object_bytes

    good = []
    for row in rows:
        if isinstance(row, BadRow):
            finish(Outcome(row.line, row.url, reason=row.reason, message=row.message))
        else:
            good.append(row)
    try:
        with ThreadPoolExecutor(max_workers=concurrency or settings.collect_concurrency) as pool:
            futures = {pool.submit(downloader.fetch, row.url, row.family, limit_for(row)): row for row in good}
            for future in as_completed(futures):
                row = futures[future]
                try:
                    data, mime = future.result()
                except BadInput as exc:
                    finish(Outcome(row.line, row.url, reason=exc.reason, message=f"{row.url}: {exc.message}"))
                    continue
                key = object_key(settings.tenant, row, mime)
                if key in seen_keys:
                    finish(Outcome(row.line, row.url, reason="duplicate_key",
                                   message=f"{row.url} maps to {key}, which line {seen_keys[key]} already uploaded"))
                    continue
                seen_keys[key] = row.line
                services.store.put(key, data, mime)
                finish(Outcome(row.line, row.url, key=key, size=len(data)))
    finally:
        if owned:
            downloader.close()
    return CollectReport([outcomes[line] for line in sorted(outcomes)])

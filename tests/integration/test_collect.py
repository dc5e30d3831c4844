"""Collect from a manifest of URLs, against a real HTTP server on loopback that misbehaves in every usual way."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from deeplens.cli.main import main as deeplens
from deeplens.collect import BadRow, Downloader, ManifestRow, collect, read_manifest
from deeplens.db.failures import list_failures
from deeplens.errors import BadInput

LIMIT = 200_000  # bytes: the size limit the tests collect under


def jpeg(seed: int, size: int = 96) -> bytes:
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".jpg", image)[1].tobytes()


def mp4(path: Path) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(20):
        frame = np.full((48, 64, 3), (i * 12) % 256, dtype=np.uint8)
        cv2.rectangle(frame, (5 + i, 5), (30 + i, 30), (0, 0, 255), -1)
        writer.write(frame)
    writer.release()
    return path.read_bytes()


class Site:
    """What the server serves: path → (status, content type, body, send Content-Length)."""

    def __init__(self, video: bytes) -> None:
        huge = np.random.default_rng(0).integers(0, 256, (400, 400, 3), dtype=np.uint8)
        big = cv2.imencode(".png", huge)[1].tobytes()
        assert len(big) > LIMIT
        self.pages: dict[str, tuple[int, str, bytes, bool]] = {
            "/shoe.jpg": (200, "image/jpeg", jpeg(1), True),
            "/bag": (200, "application/octet-stream", jpeg(2), True),  # generic type: the bytes decide
            "/clip.mp4": (200, "video/mp4", video, True),
            "/missing.jpg": (404, "text/html", b"<h1>Not Found</h1>", True),
            "/page.html": (200, "text/html", b"<html><body>a web page</body></html>", True),
            "/liar.jpg": (200, "image/jpeg", b"<html><body>not an image at all</body></html>", True),
            "/huge.png": (200, "image/png", big, True),
            "/huge-unannounced.png": (200, "image/png", big, False),
        }
        self.flaky_left = 2  # /flaky.jpg answers 503 this many times, then the photo
        self.lock = threading.Lock()


def handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # http.server's name
            if self.path == "/flaky.jpg":
                with site.lock:
                    failing = site.flaky_left > 0
                    site.flaky_left -= 1
                status, ctype, body, length = (503, "text/plain", b"busy", True) if failing else (200, "image/jpeg", jpeg(3), True)
            else:
                status, ctype, body, length = site.pages.get(self.path, (404, "text/plain", b"no", True))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if length:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:  # chunked, so only the bytes themselves tell the size
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(body), 65536):
                    chunk = body[start : start + 65536]
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    """Clients hang up mid-body on purpose (size limit): that is not a server error worth printing."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # socketserver's signature
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, Site]]:
    site = Site(mp4(tmp_path_factory.mktemp("video") / "clip.mp4"))
    server = QuietServer(("127.0.0.1", 0), handler(site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", site
    server.shutdown()
    server.server_close()


@pytest.fixture
def downloader() -> Iterator[Downloader]:
    d = Downloader(timeout=5, retries=2, backoff=0.01)
    yield d
    d.close()


def refused_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/gone.jpg"  # closed again: nothing listens


# --- the manifest ----------------------------------------------------------------------------------


def test_a_csv_manifest_gives_photo_and_video_rows(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("sku,image_url,video_url,video_id\nS1,http://h/a.jpg,,\n,,http://h/v.mp4,review-1\n")
    assert read_manifest(path) == [
        ManifestRow(2, "http://h/a.jpg", "image", sku="S1"),
        ManifestRow(3, "http://h/v.mp4", "video", video_id="review-1"),
    ]


def test_a_json_lines_manifest_gives_the_same_rows_and_reports_a_broken_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"sku": "S1", "image_url": "http://h/a.jpg"}) + "\n{broken\n\n"
                    + json.dumps({"video_url": "http://h/v.mp4"}) + "\n")
    rows = read_manifest(path)
    assert rows[0] == ManifestRow(1, "http://h/a.jpg", "image", sku="S1") and rows[2] == ManifestRow(4, "http://h/v.mp4", "video")
    assert isinstance(rows[1], BadRow) and rows[1].line == 2


@pytest.mark.parametrize("line", [",http://h/a.jpg,,", "S1,http://h/a.jpg,http://h/v.mp4,", "S1,ftp://h/a.jpg,,", "a/b,http://h/a.jpg,,"])
def test_a_malformed_row_is_a_bad_row_not_an_abort(tmp_path, line):
    path = tmp_path / "m.csv"
    path.write_text("sku,image_url,video_url,video_id\n" + line + "\n")
    assert isinstance(read_manifest(path)[0], BadRow)


def test_a_csv_without_a_url_column_is_refused_whole(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("sku,photo\nS1,x\n")
    with pytest.raises(BadInput):
        read_manifest(path)


# --- downloading -------------------------------------------------------------------------------------


def test_a_good_photo_downloads_with_its_type_from_its_bytes(site, downloader):
    base, _ = site
    data, mime = downloader.fetch(f"{base}/bag", "image", LIMIT)
    assert mime == "image/jpeg" and data[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(("path", "reason"), [
    ("/missing.jpg", "http_error"),
    ("/page.html", "bad_type"),
    ("/liar.jpg", "bad_type"),
    ("/huge.png", "too_large"),
    ("/huge-unannounced.png", "too_large"),
])
def test_a_bad_url_is_refused_with_its_reason(site, downloader, path, reason):
    base, _ = site
    with pytest.raises(BadInput) as err:
        downloader.fetch(base + path, "image", LIMIT)
    assert err.value.reason == reason


def test_a_photo_is_not_accepted_as_a_video(site, downloader):
    base, _ = site
    with pytest.raises(BadInput) as err:
        downloader.fetch(f"{base}/shoe.jpg", "video", LIMIT)
    assert err.value.reason == "bad_type"


def test_transient_server_errors_are_retried_until_the_download_succeeds(site, downloader):
    base, server = site
    server.flaky_left = 2
    data, _ = downloader.fetch(f"{base}/flaky.jpg", "image", LIMIT)
    assert data[:3] == b"\xff\xd8\xff" and server.flaky_left < 0


def test_an_unreachable_host_fails_after_the_retries(downloader):
    with pytest.raises(BadInput) as err:
        downloader.fetch(refused_url(), "image", LIMIT)
    assert err.value.reason == "unreachable" and "3 attempts" in err.value.message


# --- the whole run ---------------------------------------------------------------------------------


def write_manifest(path: Path, base: str) -> Path:
    path.write_text(
        "sku,image_url,video_url,video_id\n"
        f"SHOE-1,{base}/shoe.jpg,,\n"
        f"BAG-2,{base}/bag,,\n"
        f"GONE-3,{base}/missing.jpg,,\n"
        f"WEB-4,{base}/page.html,,\n"
        f"BIG-5,{base}/huge.png,,\n"
        f",,{base}/clip.mp4,review-1\n"
    )
    return path


def test_collect_uploads_the_good_rows_and_records_the_bad_ones(runtime, site, tmp_path, downloader):
    base, _ = site
    rows = read_manifest(write_manifest(tmp_path / "m.csv", base))
    report = collect(runtime.services, rows, max_bytes=LIMIT, downloader=downloader)
    tenant = runtime.settings.tenant
    assert [o.key for o in report.uploaded] == [
        f"products/{tenant}/SHOE-1/shoe.jpg", f"products/{tenant}/BAG-2/bag.jpg", f"videos/{tenant}/review-1.mp4"]
    assert {o.url.rsplit("/", 1)[1]: o.reason for o in report.failed} == {
        "missing.jpg": "http_error", "page.html": "bad_type", "huge.png": "too_large"}
    with runtime.services.db.pool.connection() as conn:
        failures = list_failures(conn, runtime.settings.tenant)
    assert {(f["step"], f["reason"]) for f in failures} == {("collect", "http_error"), ("collect", "bad_type"), ("collect", "too_large")}


def test_collected_uploads_go_through_the_pipeline(runtime, site, tmp_path, downloader):
    base, _ = site
    collect(runtime.services, read_manifest(write_manifest(tmp_path / "m.csv", base)), max_bytes=LIMIT, downloader=downloader)
    assert runtime.broker.run_until_idle(tenant=runtime.settings.tenant, timeout=300)
    with runtime.services.db.pool.connection() as conn:
        skus = {r["sku"] for r in conn.execute("SELECT sku FROM product_images WHERE tenant_id = %s", (runtime.settings.tenant,))}
        video = conn.execute("SELECT keyframes FROM videos WHERE tenant_id = %s AND video_id = 'review-1'",
                             (runtime.settings.tenant,)).fetchone()
    assert skus == {"SHOE-1", "BAG-2"} and video["keyframes"] > 0


def test_the_collect_verb_waits_for_processing_and_exits_1_when_rows_were_skipped(settings, site, tmp_path, monkeypatch, capsys):
    base, _ = site
    for name, value in {"DEEPLENS_HOME": settings.home, "DATABASE_URL": settings.database_url, "DEEPLENS_TENANT": settings.tenant,
                        "DEEPLENS_MAX_IMAGE_BYTES": LIMIT, "DEEPLENS_COLLECT_BACKOFF": 0.01}.items():
        monkeypatch.setenv(name, str(value))
    code = deeplens(["collect", str(write_manifest(tmp_path / "m.csv", base)), "--wait", "--timeout", "300"])
    out = capsys.readouterr()
    assert code == 1 and "Uploaded 3 of 6" in out.out and "skipped line 4" in out.err and "Processed" in out.out

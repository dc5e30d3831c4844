"""Hostile or mistaken uploads are refused, with a reason, before they cost anything."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from synthkit import make_packaging, shot_frames, write_video

from deeplens.cli.ingest import ingest_folder
from deeplens.db.failures import list_failures
from deeplens.results import Results
from eventing import types
from eventing.events import Event


def stored_frames(runtime) -> list[str]:
    """Keyframe images in the store, and keyframe rows in the database."""
    with runtime.services.db.transaction() as conn:
        rows = conn.execute("SELECT object_key FROM frames WHERE tenant_id = %s", (runtime.settings.tenant,)).fetchall()
    return [info.key for info in runtime.services.store.list() if "frames/" in info.key] + [r["object_key"] for r in rows]


def run(runtime, root: Path) -> None:
    assert ingest_folder(runtime, root, wait=True, timeout=300)


def write_mpegts(path: Path) -> Path:
    """A 2 s MPEG-TS video (mpeg4), the kind of file a playlist lists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for image in shot_frames(2, 20, size=(160, 96)):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode())
    return path


def zero_timescale(data: bytes) -> bytes:
    """An mp4 whose video track header (mdhd) declares a timescale of 0."""
    at = data.index(b"mdhd")
    timescale = at + 8 + (16 if data[at + 4] == 1 else 8)  # after version/flags and the two dates
    return data[:timescale] + struct.pack(">I", 0) + data[timescale + 4 :]


def test_a_playlist_of_an_outside_file_is_refused_and_nothing_of_that_file_is_stored(runtime, folder, tmp_path, failures_by_key):
    outside = write_mpegts(tmp_path / "elsewhere" / "outside.ts")
    (folder / "videos" / "playlist.m3u8").write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n{outside}\n#EXT-X-ENDLIST\n")
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"videos/{runtime.settings.tenant}/playlist.m3u8": "not_a_video"}
    assert stored_frames(runtime) == []
    assert Results(runtime.services.db, runtime.settings.tenant).all_appearances() == []


def test_a_playlist_that_reaches_the_keyframes_step_past_ingest_is_still_not_a_video(runtime, tmp_path):
    outside = write_mpegts(tmp_path / "elsewhere" / "outside.ts")
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n{outside}\n#EXT-X-ENDLIST\n".encode()
    key = f"videos/{runtime.settings.tenant}/playlist.m3u8"
    runtime.services.store.put(key, playlist)
    uploaded = types.VideoUploaded(key=key, video_id="playlist", sha256="0" * 64, size=len(playlist))
    event = Event(type=types.VIDEO_UPLOADED, source="test", data=uploaded.model_dump(), tenant=runtime.settings.tenant,
                  rootkey=key)
    assert runtime.runner.run("keyframes", event) == []
    with runtime.services.db.transaction() as conn:
        failures = {r["step"]: r["reason"] for r in list_failures(conn, runtime.settings.tenant)}
    assert failures["keyframes"] == "not_a_video"
    assert stored_frames(runtime) == []


def test_a_text_file_under_videos_is_not_a_video(runtime, folder, failures_by_key):
    (folder / "videos" / "notes.txt").write_text("these are my notes\n" * 50)
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"videos/{runtime.settings.tenant}/notes.txt": "not_a_video"}
    assert stored_frames(runtime) == []


def test_a_jpeg_under_videos_is_not_a_video(runtime, folder, failures_by_key):
    cv2.imwrite(str(folder / "videos" / "still.jpg"), make_packaging(2))
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"videos/{runtime.settings.tenant}/still.jpg": "not_a_video"}
    assert stored_frames(runtime) == []


def test_a_text_file_named_like_a_photo_is_not_an_image(runtime, folder, failures_by_key):
    (folder / "products" / "GOOD" / "back.jpg").write_text("not a photo\n" * 20)
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"products/{runtime.settings.tenant}/GOOD/back.jpg": "not_an_image"}


def test_a_video_whose_header_declares_a_zero_time_base_is_refused_before_any_frame(runtime, folder, tmp_path, failures_by_key):
    video = write_video(tmp_path / "ok.mp4", shot_frames(3, 20, size=(160, 96)), fps=10)
    (folder / "videos" / "zero.mp4").write_bytes(zero_timescale(video.read_bytes()))
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"videos/{runtime.settings.tenant}/zero.mp4": "bad_frame_rate"}
    assert stored_frames(runtime) == []


def test_a_video_wider_than_the_limit_is_refused_before_any_frame(runtime, folder, failures_by_key):
    write_video(folder / "videos" / "wide.mp4", [np.zeros((16, 4112, 3), np.uint8)] * 3, fps=10)
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"videos/{runtime.settings.tenant}/wide.mp4": "video_too_large"}
    assert stored_frames(runtime) == []


@pytest.fixture(scope="module")
def processed(process_tiny_dataset):
    with process_tiny_dataset("dup", seed=3) as processed:
        yield processed


def test_the_same_photos_under_a_second_sku_are_conflicts_and_the_first_keeps_its_appearances(processed, tmp_path):
    runtime, truth, data = processed
    results = Results(runtime.services.db, runtime.settings.tenant)
    before = sorted((a.video, a.product, a.start, a.end) for a in results.all_appearances())
    sku = before[0][1]
    second = tmp_path / "second" / "products" / "COPY"
    second.mkdir(parents=True)
    for photo in truth.products[sku].photos:  # every photo, so no other photo of sku can carry its matches
        (second / photo).write_bytes((data / "products" / sku / photo).read_bytes())
    run(runtime, tmp_path / "second")
    after = sorted((a.video, a.product, a.start, a.end) for a in results.all_appearances())
    assert after == before
    failures = {f.key: f for f in results.failures(limit=100).items}
    for photo in truth.products[sku].photos:
        copy = failures[f"products/{runtime.settings.tenant}/COPY/{photo}"]
        assert copy.reason == "duplicate_of_other_product"
        assert f"products/{runtime.settings.tenant}/{sku}/{photo}" in copy.message
    assert "COPY" not in {p.sku for p in results.products().items}


def test_files_outside_the_layout_are_named_on_stderr_and_the_misplaced_recorded(runtime, folder, capsys, failures_by_key):
    (folder / "products" / "loose.jpg").write_bytes((folder / "products" / "GOOD" / "front.jpg").read_bytes())
    (folder / "videos" / "sub").mkdir()
    (folder / "videos" / "sub" / "x.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (folder / "readme.txt").write_text("my upload\n")
    (folder / "videos" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    run(runtime, folder)
    err = capsys.readouterr().err
    for path in ("products/loose.jpg", "videos/sub/x.mp4", "readme.txt", "videos/.DS_Store"):
        assert path in err
    assert failures_by_key(runtime) == {"products/loose.jpg": "outside_layout", "videos/sub/x.mp4": "outside_layout"}

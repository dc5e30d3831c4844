"""Bad input is recorded with its reason, the rest of the batch is processed, nothing is lost."""

from __future__ import annotations

from pathlib import Path

import cv2
from synthkit import make_packaging

from deeplens.cli.ingest import ingest_folder
from deeplens.results import Results


def run(runtime, root: Path) -> None:
    assert ingest_folder(runtime, root, wait=True, timeout=120)


def test_a_truncated_image_is_a_corrupt_image_failure(runtime, folder, failures_by_key):
    data = cv2.imencode(".jpg", make_packaging(2))[1].tobytes()
    (folder / "products" / "BAD").mkdir()
    (folder / "products" / "BAD" / "front.jpg").write_bytes(data[: len(data) // 2])
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"products/{runtime.settings.tenant}/BAD/front.jpg": "corrupt_image"}


def test_a_zero_length_video_is_an_empty_failure(runtime, folder, failures_by_key):
    (folder / "videos" / "empty.mp4").write_bytes(b"")
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"videos/{runtime.settings.tenant}/empty.mp4": "empty"}


def test_a_text_file_posing_as_a_video_is_not_a_video(runtime, folder, failures_by_key):
    (folder / "videos" / "notes.mp4").write_text("these are my notes\n" * 50)
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"videos/{runtime.settings.tenant}/notes.mp4": "not_a_video"}


def test_a_file_that_is_not_an_image_in_a_product_folder_is_not_an_image(runtime, folder, failures_by_key):
    (folder / "products" / "GOOD" / "spec.pdf").write_bytes(b"%PDF-1.4 not really\n" * 20)
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"products/{runtime.settings.tenant}/GOOD/spec.pdf": "not_an_image"}


def test_a_product_folder_with_no_images_is_a_no_images_failure(runtime, folder, failures_by_key):
    (folder / "products" / "EMPTY").mkdir()
    run(runtime, folder)
    assert failures_by_key(runtime) == {f"products/{runtime.settings.tenant}/EMPTY/": "no_images"}


def test_a_truncated_video_keeps_the_frames_before_the_cut_and_says_so(runtime, folder, tmp_path, failures_by_key):
    from synthkit import shot_frames, write_video

    video = write_video(tmp_path / "full.mp4", shot_frames(3, 60, size=(320, 180)), fps=15)
    data = video.read_bytes()
    (folder / "videos" / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])
    run(runtime, folder)
    reason = failures_by_key(runtime)[f"videos/{runtime.settings.tenant}/cut.mp4"]
    assert reason in {"truncated_video", "corrupt_video"}


def test_an_object_outside_the_bucket_layout_is_recorded_not_dropped(runtime, folder, failures_by_key):
    runtime.services.store.put("stray.bin", b"hello")
    run(runtime, folder)
    assert failures_by_key(runtime) == {"stray.bin": "unrecognised_key"}


def test_good_input_beside_bad_input_is_still_processed(runtime, folder):
    (folder / "videos" / "empty.mp4").write_bytes(b"")
    run(runtime, folder)
    status = Results(runtime.services.db, runtime.settings.tenant).status(f"products/{runtime.settings.tenant}/GOOD/front.jpg")
    assert status.status == "done"
    assert Results(runtime.services.db, runtime.settings.tenant).products().total == 1

"""keyframes: decode a video (or a segment of it), pick keyframes, store them, and announce them in batches."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from deeplens import metrics
from deeplens.db.catalog import VideoRow, finish_video, upsert_frame, upsert_video
from deeplens.db.failures import record_failure
from deeplens.pipeline.admission import video_limits
from deeplens.pipeline.services import Services
from deeplens.storage.keys import frame_key
from deeplens.vision.images import encode_jpeg
from deeplens.vision.keyframes import segment_bounds, select_keyframes, video_keyframes
from deeplens.vision.video import ffmpeg_location, open_video
from eventing import types
from eventing.events import Event

log = logging.getLogger(__name__)
SOURCE = "deeplens/keyframes"


def handle(event: Event, services: Services) -> list[Event]:
    """Keyframes of an uploaded video (or of one segment of it), announced as ``frames.extracted`` batches.

    A video longer than ``video_segment_seconds`` is split at I-frames into segments, each
    announced as a ``video.segment`` event that this step scans on its own, so several
    instances share one video; the segments depend on the file alone, so the keyframes,
    and the appearances, are the same however many instances there are. A video that
    cannot be decoded at all, or whose header is beyond the configured limits (checked
    before any frame is decoded or stored), raises ``BadInput``; one that decodes partly
    (truncated) keeps the frames it gave and records the truncation as a failure.
    """
    if event.type == types.VIDEO_SEGMENT:
        segment = types.parse_data(types.VideoSegment, event.data)
        return _scan(event, services, segment, (segment.start, segment.end))
    video = types.parse_data(types.VideoUploaded, event.data)
    settings = services.settings
    with tempfile.TemporaryDirectory(dir=_temp_root(services)) as tmp:
        # No extension from the upload's name: FFmpeg's probe would take it as a hint.
        path = Path(tmp) / "video"
        services.store.download(video.key, path)
        capture, info, _ = open_video(path, threads=settings.threads_per_worker, limits=video_limits(settings))
        capture.release()
        with services.db.transaction() as conn:
            upsert_video(conn, event.tenant, VideoRow(
                video.video_id, video.key, video.sha256, info.fps, info.frame_count, info.width, info.height, info.duration,
            ))
        bounds = [(0, info.frame_count)]
        if 0 < settings.video_segment_seconds < info.duration:
            location, _ = ffmpeg_location(path)
            bounds = segment_bounds(video_keyframes(location, info.fps), info.frame_count, info.fps, settings.video_segment_seconds)
        if len(bounds) == 1:
            return _scan(event, services, video, None, path=path)
    log.info("keyframes: %s → %d segments of about %.0f s", video.key, len(bounds), settings.video_segment_seconds)
    return [
        event.child(
            types.VIDEO_SEGMENT,
            types.VideoSegment(**video.model_dump(), start=start, end=end, segment=number, segments=len(bounds)).model_dump(),
            source=SOURCE, key=f"segment-{number}", subject=video.key,
        )
        for number, (start, end) in enumerate(bounds)
    ]


def _scan(event: Event, services: Services, video: types.VideoUploaded | types.VideoSegment, segment: tuple[int, int] | None,
          *, path: Path | None = None) -> list[Event]:
    """Scan the video (``segment`` of it, or all), store and record its keyframes, and announce them."""
    settings = services.settings
    with tempfile.TemporaryDirectory(dir=_temp_root(services)) as tmp:
        if path is None:
            path = Path(tmp) / "video"
            services.store.download(video.key, path)
        scan = select_keyframes(
            path,
            min_interval=settings.keyframe_min_interval,
            max_interval=settings.keyframe_max_interval,
            scene_threshold=settings.keyframe_scene_threshold,
            threads=settings.threads_per_worker,
            limits=video_limits(settings),
            segment=segment,
        )
        frames: list[types.FrameRef] = []
        with scan:
            for keyframe in scan:
                key = frame_key(event.tenant, video.video_id, keyframe.index)
                services.store.put(key, encode_jpeg(keyframe.image), "image/jpeg")
                height, width = keyframe.image.shape[:2]
                with services.db.transaction() as conn:
                    frame_id = upsert_frame(conn, event.tenant, video.video_id, keyframe.index, keyframe.t, key, width, height)
                frames.append(types.FrameRef(frame_id=frame_id, index=keyframe.index, t=keyframe.t, key=key))
        truncated = scan.truncated
    metrics.FRAMES_DECODED.inc(scan.decoded_frames)
    metrics.KEYFRAMES.inc(len(frames))
    part = "" if segment is None else f" (frames {segment[0]}-{segment[1] - 1})"
    with services.db.transaction() as conn:
        finish_video(conn, event.tenant, video.video_id, truncated)
        if truncated:
            record_failure(
                conn, event.tenant, video.key, "keyframes", "truncated_video",
                f"decoding stopped at frame {scan.reached_frames} of {scan.end}{part}; the {len(frames)} keyframes before "
                "the cut were processed",
                event.id,
            )
    log.info("keyframes: %s%s → %d keyframes from %d decoded frames%s", video.key, part, len(frames), scan.decoded_frames,
             " (truncated)" if truncated else "")
    size = settings.frames_per_event
    return [
        event.child(
            types.FRAMES_EXTRACTED,
            types.FramesExtracted(video_id=video.video_id, frames=frames[start:start + size]).model_dump(),
            source=SOURCE,
            key=str(frames[start].index),
            subject=video.key,
        )
        for start in range(0, len(frames), size)
    ]


def _temp_root(services: Services) -> Path | None:
    if services.settings.store != "local":
        return None
    root = services.settings.home / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root

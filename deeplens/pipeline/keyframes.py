"""keyframes: decode a video, pick keyframes, store them, and announce them in batches."""

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
from deeplens.vision.keyframes import select_keyframes
from eventing import types
from eventing.events import Event

log = logging.getLogger(__name__)
SOURCE = "deeplens/keyframes"


def handle(event: Event, services: Services) -> list[Event]:
    """Emit ``frames.extracted`` events (batches of keyframes) for an uploaded video.

    A video that cannot be decoded at all, or whose header is beyond the configured
    limits (checked before any frame is decoded or stored), raises ``BadInput``; one that
    decodes partly (truncated) keeps the frames it gave and records the truncation as a
    failure.
    """
    video = types.parse_data(types.VideoUploaded, event.data)
    settings = services.settings
    with tempfile.TemporaryDirectory(dir=_temp_root(services)) as tmp:
        # No extension from the upload's name: FFmpeg's probe would take it as a hint.
        path = Path(tmp) / "video"
        services.store.download(video.key, path)
        scan = select_keyframes(
            path,
            min_interval=settings.keyframe_min_interval,
            max_interval=settings.keyframe_max_interval,
            scene_threshold=settings.keyframe_scene_threshold,
            threads=settings.threads_per_worker,
            limits=video_limits(settings),
        )
        info = scan.info
        with services.db.transaction() as conn:
            upsert_video(conn, event.tenant, VideoRow(
                video.video_id, video.key, video.sha256, info.fps, info.frame_count, info.width, info.height, info.duration,
            ))
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
    with services.db.transaction() as conn:
        finish_video(conn, event.tenant, video.video_id, len(frames), truncated)
        if truncated:
            record_failure(
                conn, event.tenant, video.key, "keyframes", "truncated_video",
                f"decoded {scan.decoded_frames} of {info.frame_count} frames; the {len(frames)} keyframes before the cut were processed",
                event.id,
            )
    log.info("keyframes: %s → %d keyframes from %d frames%s", video.key, len(frames), scan.decoded_frames,
             " (truncated)" if truncated else "")
    size = settings.frames_per_event
    return [
        event.child(
            types.FRAMES_EXTRACTED,
            types.FramesExtracted(video_id=video.video_id, frames=frames[start:start + size]).model_dump(),
            source=SOURCE,
            key=str(start),
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

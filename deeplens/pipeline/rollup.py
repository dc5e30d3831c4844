"""Roll-up: a (video, product) pair's verified keyframes become appearances with refined edges.

Runs in the match step each time a pair's frame matches change. Edges between a keyframe
with the product and one without are refined by probing frames in between (see
:mod:`deeplens.matching.appearances`): the video is opened in place (a file, or a
presigned URL read by range) only when a probe is needed, and probe outcomes are kept per
process, so a pair rolled up again probes only what is new.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Collection
from typing import Any, Self

import numpy as np
import psycopg

from deeplens import metrics
from deeplens.db.catalog import get_product_image, get_video, video_keyframes
from deeplens.db.local_features import get_local_features
from deeplens.db.matches import frame_hits, lock_pair, replace_appearances
from deeplens.errors import BadInput, NotFound
from deeplens.matching.appearances import FrameHit, RefinedEdges, Stay, find_stays, join_stays, refine_edges
from deeplens.matching.overlaps import box_iou
from deeplens.pipeline.services import Services
from deeplens.pipeline.verification import SAME_PLACE_IOU, Candidate, verify
from deeplens.vision.local_features import (
    LocalFeatures,
    extract_region_features,
    from_bytes,
)
from deeplens.vision.verify import verify_pair
from deeplens.vision.video import FrameReader
from eventing import types
from eventing.events import Event

LOG = logging.getLogger(__name__)
# Inliers that carry a stay through a keyframe: fewer than a match needs (the match step's
# DEEPLENS_MATCH_MIN_INLIERS), since the product was matched at that very place on both
# sides; an occluder over a small product leaves it fewer keypoints still.
TRACK_MIN_INLIERS = 12
# Decoded frames an edge probe's reader keeps: enough for an edge's lead at 1080p, bounded for 4K.
_MIN_CACHE_BYTES, _MAX_CACHE_BYTES = 64 << 20, 256 << 20


def rolled_up(
    event: Event, services: Services, pairs: Collection[tuple[str, str]], *, source: str, tenant: str | None = None
) -> list[Event]:
    """Roll up each (video, product) pair of ``tenant`` (the event's by default), a video's pairs
    together; a ``match.found`` event (a child of ``event``) for the appearances that changed."""
    tenant = tenant or event.tenant
    changed: list[str] = []
    for video_id, video_pairs in itertools.groupby(sorted(pairs), key=lambda pair: pair[0]):
        changed.extend(rollup_video(services, tenant, video_id, [sku for _, sku in video_pairs]))
    if not changed:
        return []
    found = types.MatchFound(appearance_ids=changed)
    return [event.child(types.MATCH_FOUND, found.model_dump(), source=source, key=",".join(changed), subject=event.subject,
                        tenant=tenant)]


def rollup(services: Services, tenant: str, video_id: str, sku: str) -> list[str]:
    """Recompute a (video, product) pair's appearances; returns ids needing new evidence."""
    return rollup_video(services, tenant, video_id, [sku])


def rollup_video(services: Services, tenant: str, video_id: str, skus: Collection[str]) -> list[str]:
    """Recompute the appearances of these products in one video; returns ids needing new evidence.

    The edges of every product's stays are probed together, front to back, with one decoder
    (:func:`~deeplens.matching.appearances.refine_edges`): a product's edges cost no decoding
    that another's already did.
    """
    settings = services.settings
    skus = sorted(set(skus))
    with services.db.transaction() as conn:
        for sku in skus:  # in one order everywhere, so two roll-ups of overlapping pairs never wait on each other
            lock_pair(conn, tenant, video_id, sku)
        video = get_video(conn, tenant, video_id)
        hits = {sku: frame_hits(conn, tenant, video_id, sku, settings.match_threshold) for sku in skus}
        stays: dict[str, list[Stay]] = {sku: [] for sku in skus}
        refined: RefinedEdges = {}
        if video is not None and any(hits.values()):
            keyframes = video_keyframes(conn, tenant, video_id)
            with EdgeProbe(services, conn, tenant, video) as probe:
                track = KeyframeTrack(conn, tenant, keyframes, probe)
                stays = {sku: find_stays(sku_hits, list(keyframes), track=track) for sku, sku_hits in hits.items()}
                resolution = max(1, round(settings.appearance_edge_resolution * video["fps"]))
                refined = refine_edges((edge for sku_stays in stays.values() for stay in sku_stays for edge in stay.edges()),
                                       probe, resolution)
        changed: list[str] = []
        for sku in skus:
            segments = [] if video is None else join_stays(
                stays[sku], refined, fps=video["fps"], max_gap=settings.appearance_max_gap,
                min_hits=settings.appearance_min_frames, strong_score=settings.appearance_strong_score,
            )
            metrics.APPEARANCES.inc(len(segments))
            changed.extend(replace_appearances(conn, tenant, video_id, sku, segments))
    return changed


def probe_region(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Where to look for a product near a keyframe that showed it in ``box``: the box grown
    by a quarter of its longer side plus 24 px each way. That leaves room for the motion
    of a second or so (products drift, cameras pan slowly) and for SIFT's border, and
    keeps the crop, whose area the SIFT time follows, about twice the box."""
    x, y, w, h = box
    margin = max(w, h) // 4 + 24
    return x - margin, y - margin, w + 2 * margin, h + 2 * margin


class EdgeProbe:
    """Whether a product is visible in a given frame of one video (a :data:`Probe`).

    The frame is decoded from the stored video, its features are extracted around the
    product's place in the guiding keyframe, and the guiding hit's photo is verified
    there exactly as in a keyframe (geometry, photometric agreement, fused score). Answers
    None when the video or the photo cannot be read; the edge then keeps its midpoint.
    """

    def __init__(self, services: Services, conn: psycopg.Connection, tenant: str, video: dict[str, Any]) -> None:
        self._services, self._conn, self._tenant, self._video = services, conn, tenant, video
        self._photos: dict[int, tuple[Candidate, LocalFeatures] | None] = {}
        self._reader: FrameReader | None = None
        self._broken = False

    def __call__(self, index: int, hit: FrameHit) -> bool | None:
        photo = self.photo(hit.product_image_id)
        if photo is None:
            return None
        candidate, product = photo
        region = probe_region(hit.box)
        # The region is part of the question: a rollup guided by another keyframe looks
        # elsewhere, and must not be answered by where an earlier one looked.
        key = (self._tenant, self._video["sha256"], candidate.photo_sha256, index, region)
        known = self._services.edge_probes.get(key)
        if known is not None:
            return known
        frame = self._frame(index)
        if frame is None:
            return None
        # At the scale the keyframes' own features were extracted at (frame_feature_max_side).
        scale = self._services.settings.frame_feature_max_side / max(frame.shape[:2])
        features = extract_region_features(frame, region, scale=scale)
        visible = verify(self._services, self._tenant, candidate, product, features, lambda: frame) is not None
        self._services.edge_probes.put(key, visible)
        return visible

    def photo(self, image_id: int) -> tuple[Candidate, LocalFeatures] | None:
        """A product photo as a candidate, with its features (None where it is gone)."""
        if image_id not in self._photos:
            row = get_product_image(self._conn, self._tenant, image_id)
            blob = get_local_features(self._conn, self._tenant, "product_image", [image_id]).get(image_id)
            self._photos[image_id] = None if row is None or blob is None else (
                Candidate(image_id, row["sku"], 0.0, row["object_key"], row["sha256"]), from_bytes(blob)
            )
        return self._photos[image_id]

    def _frame(self, index: int) -> np.ndarray | None:
        if self._broken:
            return None
        try:
            if self._reader is None:
                # Read in place (a file, or a presigned URL read by range): a probe needs a few
                # frames of what may be a long video.
                # A probe needs a frame about there, not exactly there: decoding only the frames
                # others reference halves each seek's cost in an H.264 file with B-frames.
                # An edge's probes stay between its two keyframes, at most half their interval
                # back from its first one: kept as lead, every later probe of the edge is
                # decoded forward or already at hand, never reached by a seek.
                lead = math.ceil(self._services.settings.keyframe_max_interval * self._video["fps"] / 2)
                frame_bytes = self._video["width"] * self._video["height"] * 3
                self._reader = FrameReader(
                    self._services.store.media_location(self._video["object_key"]),
                    threads=self._services.settings.threads_per_worker,
                    references_only=True,
                    lead=lead,
                    cache_bytes=min(_MAX_CACHE_BYTES, max(_MIN_CACHE_BYTES, (lead + 2) * frame_bytes)),
                )
            return self._reader.read(index)
        except (NotFound, BadInput) as exc:
            LOG.warning("cannot probe frame %d of video %s (%s); its appearance edges stay at keyframe midpoints",
                        index, self._video["video_id"], exc)
            self._broken = True
            return None

    def close(self) -> None:
        """Release the decoder."""
        if self._reader is not None:
            self._reader.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class KeyframeTrack:
    """Whether one product is still at its place in a keyframe that did not match it (a :data:`Track`).

    The guiding hit's photo is verified against the keyframe's stored features as the match
    step verified it (the same geometry and coverage, from :data:`TRACK_MIN_INLIERS`
    inliers), and the product must be where the guiding hit saw it. The photometric
    agreement a match needs as well is not asked: it is what an occluder over part of the
    product takes away. Nothing is decoded, and the answer depends on the keyframe and the
    photo alone, so it is the same whenever the pair is rolled up.
    """

    def __init__(self, conn: psycopg.Connection, tenant: str, keyframes: dict[int, int], photos: EdgeProbe) -> None:
        self._conn, self._tenant, self._keyframes, self._photos = conn, tenant, keyframes, photos

    def __call__(self, index: int, hit: FrameHit) -> bool:
        photo = self._photos.photo(hit.product_image_id)
        frame_id = self._keyframes.get(index)
        blob = None if frame_id is None else get_local_features(self._conn, self._tenant, "frame", [frame_id]).get(frame_id)
        if photo is None or blob is None:
            return False
        verification = verify_pair(photo[1], from_bytes(blob), min_inliers=TRACK_MIN_INLIERS)
        return verification is not None and box_iou(verification.box, hit.box) > SAME_PLACE_IOU

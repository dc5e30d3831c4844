"""The plan of each video: who is on screen when and where, and what the camera does.

Planning is pure geometry and random draws, with no pixels involved. The renderer
draws exactly what the plan says and the ground truth is read off the plan, so the two
cannot drift apart, and the truth can be checked without decoding a video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .catalog import CatalogItem
from .geometry import Pose, box_from_quad, project_quad
from .palette import BGR
from .presets import Preset
from .truth import Appearance, DistractorAppearance, VideoTruth

# Two items' boxes may share at most this fraction of the smaller box: "not overlapping
# heavily" leaves room for a natural-looking, slightly crowded shelf.
OVERLAP_LIMIT = 0.12
# Shortest absence when a product leaves and comes back.
MIN_GAP_S = 1.0
# Skin-like tones (BGR) for the hand-like occluders, plus odd objects in other colours.
_SKIN = [(140, 170, 222), (110, 145, 200), (75, 105, 160), (60, 80, 120)]
_PLACEMENT_TRIES = 48


@dataclass(frozen=True)
class Occluder:
    """An ellipse that covers part of a product for frames ``start..end`` (inclusive).

    It is anchored to the product's outline and scaled with it, so it moves along; its
    area is at most ``area_frac`` (<= 0.25) of the product's, which bounds the occluded
    part of the product at 25 %.
    """

    start: int
    end: int
    edge: int  # which side of the quad (0 = top, then clockwise) it sits on
    along: float  # where along that side, 0..1
    inward: float  # how far it is pushed towards the product's centre, 0..1
    area_frac: float
    aspect: float  # minor / major axis
    angle: float  # degrees, relative to the side's direction
    color: BGR


@dataclass
class Segment:
    """One uninterrupted stay on screen: a quad and a box for every frame from ``start``."""

    start: int
    quads: np.ndarray  # (n, 4, 2) float, corners TL, TR, BR, BL
    boxes: np.ndarray  # (n, 4) int, x, y, w, h
    occluder: Occluder | None = None

    @property
    def end(self) -> int:
        return self.start + len(self.quads) - 1

    def quad_at(self, frame: int) -> np.ndarray | None:
        return self.quads[frame - self.start] if self.start <= frame <= self.end else None


@dataclass
class Track:
    """Everything one item (product or distractor) does in one video."""

    item: CatalogItem
    distractor: bool
    segments: list[Segment]


@dataclass
class VideoPlan:
    """Everything needed to render one video and to state its ground truth."""

    video_id: str
    width: int
    height: int
    fps: int
    frame_count: int
    backdrop_size: tuple[int, int]  # width, height of the texture the camera pans over
    camera: np.ndarray  # (n, 2) top-left of the view on the backdrop, per frame
    blur_length: np.ndarray  # (n,) motion-blur kernel length in pixels, 0 = sharp
    blur_angle: np.ndarray  # (n,) degrees
    gains: np.ndarray  # (n, 3) per-channel exposure / white-balance multipliers
    vignette: float  # darkening at the corners, 0 = none
    noise: float  # sensor noise sigma
    render_seed: int  # backdrop texture and noise
    tracks: list[Track]


def assign_items(
    rng: np.random.Generator, preset: Preset, products: list[CatalogItem], distractors: list[CatalogItem]
) -> list[tuple[list[CatalogItem], list[CatalogItem]]]:
    """Which products and distractors each video gets.

    Product counts are spread evenly over ``products_per_video`` (so the demo always has
    an empty video, a one-product and a two-product video rather than three empty ones
    by bad luck), and the least-used products go first so the catalog is covered.
    """
    lo, hi = preset.products_per_video
    hi = min(hi, len(products))
    lo = min(lo, hi)
    counts = [lo + i % (hi - lo + 1) for i in range(preset.n_videos)]
    rng.shuffle(counts)
    d_lo, d_hi = preset.distractors_per_video
    d_hi = min(d_hi, len(distractors))
    d_lo = min(d_lo, d_hi)
    usage = np.zeros(len(products))
    d_usage = np.zeros(len(distractors))
    out = []
    for k in counts:
        order = np.lexsort((rng.random(len(products)), usage))[:k]
        usage[order] += 1
        d_k = int(rng.integers(d_lo, d_hi + 1))
        d_order = np.lexsort((rng.random(len(distractors)), d_usage))[:d_k]
        d_usage[d_order] += 1
        out.append(([products[i] for i in order], [distractors[i] for i in d_order]))
    return out


def plan_video(
    rng: np.random.Generator,
    preset: Preset,
    video_id: str,
    products: list[CatalogItem],
    distractors: list[CatalogItem],
) -> VideoPlan:
    """Plan one video. Items that find no free room on screen are left out of it."""
    n = preset.frame_count
    tracks: list[Track] = []
    placed: list[tuple[int, np.ndarray]] = []  # (first frame, boxes) of every planned segment
    # Products first: when the frame gets crowded, a distractor is what gets dropped.
    for item, is_distractor in [(p, False) for p in products] + [(d, True) for d in distractors]:
        segments = []
        return_p = 0.0 if is_distractor else preset.leave_and_return
        for start, end in _plan_intervals(rng, n, preset.fps, preset.min_visible_s, return_p):
            motion = _plan_motion(rng, preset, item, start, end, placed)
            if motion is None:
                continue
            quads, boxes = motion
            placed.append((start, boxes))
            segments.append(Segment(start, quads, boxes, _plan_occluder(rng, preset, start, end)))
        if segments:
            tracks.append(Track(item, is_distractor, segments))

    camera, backdrop_size = _plan_camera(rng, preset)
    blur_length, blur_angle = _plan_blur(rng, preset)
    if preset.motion_blur > 0:
        # Camera shake: the view jerks along the blur direction while it is blurred.
        jitter = blur_length * rng.uniform(-0.5, 0.5, n)
        rad = np.radians(blur_angle)
        camera = camera + np.stack([jitter * np.cos(rad), jitter * np.sin(rad)], axis=1)
    return VideoPlan(
        video_id=video_id,
        width=preset.width,
        height=preset.height,
        fps=preset.fps,
        frame_count=n,
        backdrop_size=backdrop_size,
        camera=camera,
        blur_length=blur_length,
        blur_angle=blur_angle,
        gains=_plan_gains(rng, preset),
        vignette=0.6 * preset.lighting_drift,
        noise=preset.noise,
        render_seed=int(rng.integers(2**31)),
        tracks=tracks,
    )


def video_truth(plan: VideoPlan) -> VideoTruth:
    """The ground truth of a planned video."""
    appearances: list[Appearance] = []
    distractor_appearances: list[DistractorAppearance] = []
    for track in plan.tracks:
        for seg in track.segments:
            boxes = {seg.start + i: (int(b[0]), int(b[1]), int(b[2]), int(b[3])) for i, b in enumerate(seg.boxes)}
            start, end = round(seg.start / plan.fps, 4), round(seg.end / plan.fps, 4)
            if track.distractor:
                distractor_appearances.append(DistractorAppearance(track.item.key, start, end, boxes))
            else:
                appearances.append(Appearance(track.item.key, start, end, boxes))
    appearances.sort(key=lambda a: (a.start, a.product))
    distractor_appearances.sort(key=lambda d: (d.start, d.item))
    return VideoTruth(
        duration=round(plan.frame_count / plan.fps, 4),
        fps=plan.fps,
        width=plan.width,
        height=plan.height,
        frame_count=plan.frame_count,
        appearances=appearances,
        distractor_appearances=distractor_appearances,
    )


# -- timing ----------------------------------------------------------------------------


def _plan_intervals(
    rng: np.random.Generator, n: int, fps: int, min_visible_s: float, return_p: float
) -> list[tuple[int, int]]:
    """One or two (first, last) frame ranges on screen, each at least ``min_visible_s`` long."""
    min_len = min(n, math.ceil(min_visible_s * fps))
    gap = math.ceil(MIN_GAP_S * fps)
    if return_p > 0 and rng.random() < return_p and 2 * min_len + gap <= n:
        # Spare frames go, in random shares, before, into both stays, into the gap, after.
        pre, l1, g, l2, _ = np.floor(rng.dirichlet([1, 1.5, 1, 1.5, 1]) * (n - 2 * min_len - gap)).astype(int)
        s1 = int(pre)
        e1 = s1 + min_len + int(l1) - 1
        s2 = e1 + 1 + gap + int(g)
        return [(s1, e1), (s2, s2 + min_len + int(l2) - 1)]
    pre, extra, _ = np.floor(rng.dirichlet([1, 1.5, 1]) * (n - min_len)).astype(int)
    return [(int(pre), int(pre) + min_len + int(extra) - 1)]


# -- motion ----------------------------------------------------------------------------


def _plan_motion(
    rng: np.random.Generator,
    preset: Preset,
    item: CatalogItem,
    start: int,
    end: int,
    placed: list[tuple[int, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-frame quads and boxes of one stay: a smooth drift in place, size, angle and tilt.

    Random draws are retried (smaller every few tries, within the preset's scale range)
    until the whole path stays inside the frame and clear of what is already placed;
    None if it never does, and the caller leaves that stay out.
    """
    width, height, fps = preset.width, preset.height, preset.fps
    n = end - start + 1
    u = np.linspace(0.0, 1.0, n)
    ease = u * u * (3 - 2 * u)  # smoothstep: starts and stops gently
    t = np.arange(n) / fps
    margin = 0.01 * min(width, height)
    lo, hi = preset.scale
    zoom = min(0.25, preset.drift * 1.5)
    rot, persp = preset.rotation, preset.perspective
    for attempt in range(_PLACEMENT_TRIES):
        # Crowded frames: later tries lean towards the small end, never below the preset's range.
        shrink = 0.85 ** (attempt // 6)
        h0 = (lo + (rng.uniform(lo, hi) - lo) * shrink) * height
        h1 = float(np.clip(h0 * math.exp(rng.uniform(-zoom, zoom)), lo * height, hi * height))
        r0 = rng.uniform(-rot, rot)
        r1 = np.clip(r0 + rng.uniform(-rot / 2, rot / 2), -rot, rot)
        yaw0 = rng.uniform(-persp, persp)
        yaw1 = np.clip(yaw0 + rng.uniform(-persp / 2, persp / 2), -persp, persp)
        pitch0 = rng.uniform(-0.6 * persp, 0.6 * persp)
        pitch1 = np.clip(pitch0 + rng.uniform(-0.3 * persp, 0.3 * persp), -0.6 * persp, 0.6 * persp)
        c0 = np.array([rng.uniform(0.15, 0.85) * width, rng.uniform(0.2, 0.8) * height])
        heading = rng.uniform(0, 2 * np.pi)
        c1 = c0 + preset.drift * rng.uniform(0.3, 1.0) * np.array([math.cos(heading) * width, math.sin(heading) * height])
        # A slight hand-held wobble on top of the drift.
        wob = 0.006 * height * (preset.drift > 0)
        freq, ph = rng.uniform(0.15, 0.4, 2), rng.uniform(0, 2 * np.pi, 2)
        cx = c0[0] + (c1[0] - c0[0]) * ease + wob * np.sin(2 * np.pi * freq[0] * t + ph[0])
        cy = c0[1] + (c1[1] - c0[1]) * ease + wob * np.sin(2 * np.pi * freq[1] * t + ph[1])
        hs = h0 + (h1 - h0) * ease
        rs, yaws, pitches = r0 + (r1 - r0) * ease, yaw0 + (yaw1 - yaw0) * ease, pitch0 + (pitch1 - pitch0) * ease
        quads = np.stack([
            project_quad(item.spec.width, item.spec.height, Pose(cx[i], cy[i], hs[i], rs[i], yaws[i], pitches[i]))
            for i in range(n)
        ])  # fmt: skip
        x0, y0 = quads[..., 0].min(), quads[..., 1].min()
        x1, y1 = quads[..., 0].max(), quads[..., 1].max()
        if x1 - x0 > width - 2 * margin or y1 - y0 > height - 2 * margin:
            continue
        # Slide the whole path (not frame by frame, which would jerk) fully into the frame.
        quads += [
            max(0.0, margin - x0) - max(0.0, x1 - (width - margin)),
            max(0.0, margin - y0) - max(0.0, y1 - (height - margin)),
        ]
        boxes = np.array([box_from_quad(q, width, height) for q in quads], dtype=np.int64)
        if all(_overlap(start, boxes, s, b) <= OVERLAP_LIMIT for s, b in placed):
            return quads, boxes
    return None


def _overlap(start_a: int, boxes_a: np.ndarray, start_b: int, boxes_b: np.ndarray) -> float:
    """Worst per-frame overlap (intersection / smaller area) of two stays, 0 if never together."""
    first, last = max(start_a, start_b), min(start_a + len(boxes_a), start_b + len(boxes_b)) - 1
    if first > last:
        return 0.0
    a = boxes_a[first - start_a : last - start_a + 1].astype(np.float64)
    b = boxes_b[first - start_b : last - start_b + 1].astype(np.float64)
    ix = np.clip(np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    smaller = np.maximum(np.minimum(a[:, 2] * a[:, 3], b[:, 2] * b[:, 3]), 1.0)
    return float((ix * iy / smaller).max())


def _plan_occluder(rng: np.random.Generator, preset: Preset, start: int, end: int) -> Occluder | None:
    if preset.occlusion <= 0 or rng.random() >= preset.occlusion:
        return None
    n = end - start + 1
    length = max(1, int(n * rng.uniform(0.3, 0.7)))
    first = start + int(rng.integers(0, n - length + 1))
    color = _SKIN[int(rng.integers(len(_SKIN)))] if rng.random() < 0.6 else tuple(int(c) for c in rng.uniform(20, 235, 3))
    return Occluder(
        start=first,
        end=first + length - 1,
        edge=int(rng.integers(4)),
        along=float(rng.uniform(0.2, 0.8)),
        inward=float(rng.uniform(0.0, 0.3)),
        area_frac=float(rng.uniform(0.08, 0.22)),
        aspect=float(rng.uniform(0.45, 1.0)),
        angle=float(rng.uniform(-40, 40)),
        color=color,  # type: ignore[arg-type]
    )


# -- camera and picture ----------------------------------------------------------------


def _plan_camera(rng: np.random.Generator, preset: Preset) -> tuple[np.ndarray, tuple[int, int]]:
    """A slow, eased pan (mostly sideways) with a gentle sway; and the backdrop size it needs."""
    n, width, height = preset.frame_count, preset.width, preset.height
    heading = rng.choice([0.0, np.pi]) + rng.uniform(-0.4, 0.4)
    pan = preset.camera_pan * width * np.array([math.cos(heading), math.sin(heading)])
    margin = 0.04 * width  # room for sway and shake
    size = (int(width + abs(pan[0]) + 2 * margin), int(height + abs(pan[1]) + 2 * margin))
    origin = np.array([margin + max(0.0, -pan[0]), margin + max(0.0, -pan[1])])
    u = np.linspace(0.0, 1.0, n)
    ease = u * u * (3 - 2 * u)
    t = np.arange(n) / preset.fps
    sway = 0.008 * width * (preset.camera_pan > 0)
    freq, ph = rng.uniform(0.1, 0.3, 2), rng.uniform(0, 2 * np.pi, 2)
    camera = origin + ease[:, None] * pan + sway * np.sin(2 * np.pi * freq * t[:, None] + ph)
    return camera, size


def _plan_blur(rng: np.random.Generator, preset: Preset) -> tuple[np.ndarray, np.ndarray]:
    """Short bursts of directional blur covering about ``motion_blur`` of the frames."""
    n = preset.frame_count
    length = np.zeros(n, np.int64)
    angle = np.zeros(n)
    target = round(preset.motion_blur * n)
    scale = preset.width / 960
    tries = 0
    while (length > 0).sum() < target and tries < 100:
        tries += 1
        burst = int(rng.integers(3, 8))
        first = int(rng.integers(0, max(1, n - burst)))
        peak = rng.uniform(5, 13) * scale
        # Ramp up and down: a camera jerk accelerates and stops.
        profile = np.maximum(2, np.round(peak * np.sin(np.linspace(0.2, np.pi - 0.2, burst)))).astype(np.int64)
        length[first : first + burst] = profile[: n - first]
        angle[first : first + burst] = rng.uniform(0, 180)
    return length, angle


def _plan_gains(rng: np.random.Generator, preset: Preset) -> np.ndarray:
    """Per-frame, per-channel exposure: slow brightness swell plus a drifting colour cast."""
    n, amp = preset.frame_count, preset.lighting_drift
    t = np.arange(n) / preset.fps
    periods = rng.uniform(4.0, 10.0, 3)
    ph = rng.uniform(0, 2 * np.pi, 6)
    swell = 0.7 * np.sin(2 * np.pi * t / periods[0] + ph[0]) + 0.3 * np.sin(2 * np.pi * t / periods[1] + ph[1])
    brightness = 1 + amp * swell
    cast = 1 + 0.35 * amp * np.sin(2 * np.pi * t[:, None] / periods[2] + ph[3:6])
    return brightness[:, None] * cast

"""Dataset presets: every knob of the synthetic generator in one frozen record.

A preset fully describes *what kind* of dataset to build; together with a seed it fixes
the dataset exactly. Three presets ship: ``tiny`` (unit tests, well under a second),
``demo`` (``make demo`` and the end-to-end tests: easy, sizable, clearly visible
products) and ``bench`` (the accuracy benchmark: small products, perspective, blur,
occlusion, look-alikes, distractors).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Preset:
    """All knobs of one synthetic dataset.

    Ranges are ``(min, max)`` inclusive. Probabilities are in ``[0, 1]``. Angles are in
    degrees. Sizes in pixels unless stated otherwise.
    """

    name: str
    n_products: int  # catalog size
    n_videos: int
    duration_s: float  # length of every video
    fps: int
    width: int  # video frame width
    height: int  # video frame height
    products_per_video: tuple[int, int]  # catalog products shown in one video
    scale: tuple[float, float]  # product height as a fraction of the frame height
    perspective: float = 0.0  # max out-of-plane tilt (yaw; pitch gets 60 % of it)
    rotation: float = 0.0  # max in-plane rotation
    motion_blur: float = 0.0  # fraction of frames hit by camera-shake motion blur
    lighting_drift: float = 0.0  # amplitude of brightness / colour-cast drift (0.2 = +-20 %)
    noise: float = 0.0  # sensor noise sigma, in 8-bit grey levels
    occlusion: float = 0.0  # probability that an appearance is partly covered for a while
    leave_and_return: float = 0.0  # probability that a product leaves and comes back
    lookalikes: int = 0  # catalog products built as look-alikes of another product
    distractors: int = 0  # items that appear in videos but are not in the catalog
    distractors_per_video: tuple[int, int] = (0, 0)
    photos_per_product: tuple[int, int] = (1, 1)  # front, then angled / colour-shifted
    min_visible_s: float = 1.5  # shortest stretch a product stays on screen
    drift: float = 0.08  # how far a product wanders in one appearance, fraction of frame size
    camera_pan: float = 0.15  # how far the camera pans over a video, fraction of frame width
    art_height: int = 400  # product artwork height in pixels (width follows its aspect)
    jpeg_quality: int = 92

    def __post_init__(self) -> None:
        # Fail at construction with a message that names the knob, not deep in rendering.
        problems: list[str] = []
        for name in ("n_products", "n_videos", "fps", "width", "height", "art_height"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0")
        if self.duration_s <= 0:
            problems.append("duration_s must be > 0")
        for name in ("products_per_video", "distractors_per_video", "photos_per_product", "scale"):
            lo, hi = getattr(self, name)
            if lo < 0 or lo > hi:
                problems.append(f"{name} must be a (min, max) range with 0 <= min <= max, got {(lo, hi)}")
        if self.products_per_video[0] > self.n_products:
            problems.append("products_per_video min exceeds n_products")
        if not 0 < self.scale[0] <= self.scale[1] <= 0.95:
            problems.append("scale must lie in (0, 0.95]")
        if not 1 <= self.photos_per_product[0] <= self.photos_per_product[1] <= 3:
            problems.append("photos_per_product must lie in [1, 3] (front, angled, shifted)")
        for name in ("motion_blur", "occlusion", "leave_and_return"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be a probability in [0, 1]")
        for name in ("perspective", "rotation", "lighting_drift", "noise", "drift", "camera_pan"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if not 0 <= self.lookalikes < self.n_products:
            problems.append("lookalikes must be in [0, n_products)")
        if self.distractors < 0:
            problems.append("distractors must be >= 0")
        if self.distractors_per_video[0] > self.distractors:
            problems.append("distractors_per_video min exceeds distractors")
        if not 0 < self.min_visible_s <= self.duration_s:
            problems.append("min_visible_s must be in (0, duration_s]")
        if not 1 <= self.jpeg_quality <= 100:
            problems.append("jpeg_quality must be in [1, 100]")
        if problems:
            raise ValueError(f"invalid preset {self.name!r}: " + "; ".join(problems))

    @property
    def frame_count(self) -> int:
        """Frames in every video of this preset."""
        return max(1, round(self.duration_s * self.fps))

    def to_dict(self) -> dict[str, object]:
        """The knobs as plain JSON-able values (ranges become lists)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


PRESETS: dict[str, Preset] = {
    # Unit tests: smallest thing that still exercises every code path (look-alike,
    # distractor, occlusion, extra photos) in well under a second.
    "tiny": Preset(
        name="tiny",
        n_products=3,
        n_videos=2,
        duration_s=3.0,
        fps=10,
        width=320,
        height=240,
        products_per_video=(1, 2),
        scale=(0.4, 0.6),
        perspective=10.0,
        rotation=4.0,
        lighting_drift=0.05,
        noise=2.0,
        occlusion=0.5,
        lookalikes=1,
        distractors=1,
        distractors_per_video=(0, 1),
        photos_per_product=(1, 3),
        min_visible_s=1.0,
        art_height=240,
    ),
    # make demo and end-to-end tests: easy and fast; products big and on screen >= 2 s.
    "demo": Preset(
        name="demo",
        n_products=6,
        n_videos=3,
        duration_s=6.0,
        fps=15,
        width=640,
        height=360,
        products_per_video=(0, 2),
        scale=(0.35, 0.6),
        perspective=12.0,
        rotation=3.0,
        lighting_drift=0.04,
        noise=1.5,
        photos_per_product=(1, 2),
        min_visible_s=2.0,
        drift=0.06,
        camera_pan=0.12,
    ),
    # Accuracy benchmark: everything that makes real footage hard, in moderation.
    "bench": Preset(
        name="bench",
        n_products=40,
        n_videos=12,
        duration_s=12.0,
        fps=15,
        width=960,
        height=540,
        products_per_video=(0, 3),
        scale=(0.15, 0.6),
        perspective=30.0,
        rotation=12.0,
        motion_blur=0.12,
        lighting_drift=0.18,
        noise=5.0,
        occlusion=0.35,
        leave_and_return=0.35,
        lookalikes=8,
        distractors=8,
        distractors_per_video=(0, 2),
        photos_per_product=(1, 3),
        min_visible_s=1.5,
        drift=0.12,
        camera_pan=0.2,
    ),
}
# Speed on footage as users upload it: the benchmark's scenes at 1080p30, six 12 s clips
# (bench/footage.py encodes them as H.264, as cameras and platforms write it).
PRESETS["hd"] = replace(PRESETS["bench"], name="hd", n_videos=6, width=1920, height=1080, fps=30)


def resolve_preset(preset: str | Preset) -> Preset:
    """Return ``preset`` itself or the named entry of :data:`PRESETS`."""
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}") from None

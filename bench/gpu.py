"""The GPU path, measured: SIFT on a torch device against OpenCV on one CPU core, and the
embedder in half precision against fp32 on the CPU.

    python bench/gpu.py DATASET [--device cuda] [--frames 48] [--match-frames 24]

DATASET is a generated dataset (``products/``, ``videos/``; any codec OpenCV decodes, e.g.
``bench/transcode.py``'s H.264). Frames are sampled evenly from its videos. One run prints:

- **SIFT per frame** at the pipeline's size (``DEEPLENS_FRAME_FEATURE_MAX_SIDE``, 960) and at
  the source's full size: OpenCV on one core (what a worker pays today) and
  ``deeplens.vision.torch_sift`` on the device, p50/p95 ms and frames/s, with the decode of
  every frame on one core beside them (the physical limit of a design that decodes everything);
- **agreement**: the share of OpenCV's keypoints found at the same place (< 0.05 px) and,
  of those, the share whose descriptor is within one step of 255 in every component;
- **catalog matching**: every sampled frame against every catalog photo (``verify_pair``,
  the catalog's features from OpenCV as the pipeline stores them), once with the frame's
  features from OpenCV and once from the device: pairs verified by each and by both;
- **embedder**: mobilenet_v2 in fp16 on the device against fp32 on the CPU: cosine of the
  embeddings, top-1 class agreement, images/s at batch 64.

Numbers only, never pass/fail. Needs a torch device for the device columns; ``--device cpu``
runs the same code on the CPU (a smoke test: torch_sift there is ~50x slower than OpenCV).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import percentile

from deeplens.config import Settings
from deeplens.vision.local_features import LocalFeatures, extract_local_features
from deeplens.vision.verify import verify_pair


def sample_frames(videos: list[Path], count: int) -> tuple[list[np.ndarray], float, int]:
    """``count`` frames spread evenly over ``videos``; also the CPU seconds and frame count of
    decoding every frame of them on one core."""
    per_video = max(1, count // len(videos))
    frames: list[np.ndarray] = []
    cpu = 0.0
    decoded = 0
    for path in videos:
        capture = cv2.VideoCapture(str(path))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = set(np.linspace(0, max(0, total - 1), per_video).round().astype(int).tolist())
        start = time.process_time()
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                frames.append(frame)
            index += 1
        cpu += time.process_time() - start
        decoded += index
        capture.release()
    return frames[:count], cpu, decoded


def _hardware_decode() -> str:
    """What could decode video on the GPU here: OpenCV built with CUDA, or torchcodec."""
    found = []
    if hasattr(cv2, "cuda") and cv2.cuda.getCudaEnabledDeviceCount() > 0:
        found.append("OpenCV CUDA")
    try:
        import torchcodec  # noqa: F401

        found.append("torchcodec")
    except ImportError:
        pass
    return ", ".join(found) or "none (OpenCV without CUDA, no torchcodec)"


def time_sift(frames: list[np.ndarray], max_side: int, device: str | None) -> tuple[list[LocalFeatures], list[float]]:
    """Features of every frame and the milliseconds each took (CPU time for OpenCV, wall
    time with the device synchronised for a torch device)."""
    features, ms = [], []
    for frame in frames:
        if device is None:
            start = time.process_time()
            features.append(extract_local_features(frame, max_side=max_side))
            ms.append((time.process_time() - start) * 1000)
        else:
            _synchronize(device)
            start = time.perf_counter()
            features.append(extract_local_features(frame, max_side=max_side, device=device))
            _synchronize(device)
            ms.append((time.perf_counter() - start) * 1000)
    return features, ms


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def agreement(reference: list[LocalFeatures], other: list[LocalFeatures]) -> tuple[float, float]:
    """Share of the reference's keypoints that ``other`` has at the same place, and of those
    the share with a descriptor within one step (quantised RootSIFT) in every component."""
    located = close = total = 0
    for ref, oth in zip(reference, other, strict=True):
        total += len(ref)
        if not len(ref) or not len(oth):
            continue
        for point, descriptor in zip(ref.points, ref.descriptors, strict=True):
            same = np.nonzero(np.abs(oth.points - point).max(axis=1) < 0.05)[0]
            if same.size:
                located += 1
                close += int(np.abs(oth.descriptors[same] - descriptor).max(axis=1).min() <= 1)
    return located / max(total, 1), close / max(located, 1)


def catalog_photos(products: Path, max_side: int) -> list[tuple[str, LocalFeatures]]:
    photos = []
    for path in sorted(products.glob("*/*")):
        image = cv2.imread(str(path))
        if image is not None:
            photos.append((path.parent.name, extract_local_features(image, max_side=max_side)))
    return photos


def verified_pairs(frames: list[LocalFeatures], photos: list[tuple[str, LocalFeatures]], min_inliers: int) -> dict:
    found = {}
    for f, frame in enumerate(frames):
        for p, (_, photo) in enumerate(photos):
            result = verify_pair(photo, frame, min_inliers=min_inliers)
            if result is not None:
                found[(f, p)] = result.inliers
    return found


def embedder_rows(frames: list[np.ndarray], device: str) -> list[tuple[str, str]]:
    from inference.local_embedder import LocalEmbedder

    reference = LocalEmbedder(device="cpu", half=False, engine="torch").load()
    fast = LocalEmbedder(device=device, half=device.startswith("cuda"), batch_size=64, engine="torch").load()
    ref_vec, ref_prob = reference.embed_and_classify(frames)
    vec, prob = fast.embed_and_classify(frames)
    cosine = (ref_vec * vec).sum(axis=1)
    top1 = float((ref_prob.argmax(axis=1) == prob.argmax(axis=1)).mean())
    batch = (frames * (256 // max(1, len(frames)) + 1))[:256]
    fast.embed_images(batch[:64])  # warm-up
    _synchronize(device)
    start = time.perf_counter()
    fast.embed_images(batch)
    _synchronize(device)
    rate = len(batch) / (time.perf_counter() - start)
    return [
        ("embedder", f"mobilenet_v2 {fast.describe()['dtype']} on {device} vs float32 torch on cpu"),
        ("embedding cosine min / mean", f"{cosine.min():.5f} / {cosine.mean():.5f}"),
        ("top-1 class agreement", f"{top1:.3f}"),
        ("images/s at batch 64 (preprocessing included)", f"{rate:.0f}"),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--match-frames", type=int, default=24)
    parser.add_argument("--no-embedder", action="store_true", help="skip the embedder rows")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    settings = Settings()
    videos = sorted((args.dataset / "videos").iterdir())
    frames, decode_cpu, decoded = sample_frames(videos, args.frames)
    height, width = frames[0].shape[:2]
    fps = cv2.VideoCapture(str(videos[0])).get(cv2.CAP_PROP_FPS)
    rows: list[tuple[str, str]] = [
        ("device", torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"),
        ("torch / OpenCV", f"{torch.__version__} / {cv2.__version__}"),
        ("frames", f"{len(frames)} of {width}x{height} from {len(videos)} videos"),
        ("hardware video decode at hand", _hardware_decode()),
        ("decode every frame, 1 core", f"{decoded / decode_cpu:.0f} frames/s ({decoded / decode_cpu / fps:.1f}x real time)"),
    ]
    extract_local_features(frames[0], device=args.device)  # warm-up: kernels, allocator
    by_side = {}
    for side in sorted({settings.frame_feature_max_side, max(width, height)}):
        cpu_features, cpu_ms = time_sift(frames, side, None)
        dev_features, dev_ms = time_sift(frames, side, args.device)
        by_side[side] = (cpu_features, dev_features)
        located, close = agreement(cpu_features, dev_features)
        c50, c95, d50, d95 = (percentile(ms, q) for ms in (cpu_ms, dev_ms) for q in (50, 95))
        keypoints = np.mean([len(f) for f in cpu_features])
        rows += [
            (f"SIFT at {side} px: OpenCV, 1 core, ms p50 / p95", f"{c50:.1f} / {c95:.1f} ({1000 / c50:.1f} frames/s)"),
            (f"SIFT at {side} px: torch_sift on {args.device}, ms p50 / p95", f"{d50:.1f} / {d95:.1f} ({1000 / d50:.1f} frames/s)"),
            (f"SIFT at {side} px: speed-up (p50)", f"{c50 / d50:.1f}x"),
            (f"SIFT at {side} px: keypoints / located / descriptor within 1", f"{keypoints:.0f} / {located:.4f} / {close:.4f}"),
        ]
    photos = catalog_photos(args.dataset / "products", settings.product_feature_max_side)
    cpu_features, dev_features = by_side[settings.frame_feature_max_side]
    n = min(args.match_frames, len(frames))
    by_cpu = verified_pairs(cpu_features[:n], photos, settings.match_min_inliers)
    by_dev = verified_pairs(dev_features[:n], photos, settings.match_min_inliers)
    both = by_cpu.keys() & by_dev.keys()
    gap = [abs(by_cpu[k] - by_dev[k]) / by_cpu[k] for k in both]
    rows += [
        ("catalog matching", f"{n} frames x {len(photos)} photos, verify_pair, min inliers {settings.match_min_inliers}"),
        ("pairs verified: OpenCV frames / device frames / both", f"{len(by_cpu)} / {len(by_dev)} / {len(both)}"),
        ("inliers of pairs verified by both: mean relative difference", f"{np.mean(gap) if gap else float('nan'):.4f}"),
    ]
    if not args.no_embedder:
        rows += embedder_rows(frames, args.device)
    for name, value in rows:
        print(f"{name:64s} {value}")


if __name__ == "__main__":
    main()

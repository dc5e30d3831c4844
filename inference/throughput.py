"""One-off throughput measurement of a predictor (a benchmark helper, not a test).

    python -m inference.throughput --model mobilenet_v2 --batch-size 16 --batches 20

Times ``embed_images`` on random 224x224 BGR images (so resizing is a no-op and the
number is the model's) after ``--warmup`` batches; prints images per second.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from deeplens.config import Settings

from .local_embedder import LocalEmbedder


def measure(predictor: LocalEmbedder, *, batch_size: int, size: int, warmup: int, batches: int) -> dict:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(batch_size)]
    predictor.load()
    for _ in range(warmup):
        predictor.embed_images(images)
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        predictor.embed_images(images)
        times.append(time.perf_counter() - start)
    per_batch = float(np.median(times))
    return {
        "model": predictor.spec.name,
        "device": str(predictor.device),
        "threads": torch.get_num_threads(),
        "batch_size": batch_size,
        "image_size": size,
        "warmup_batches": warmup,
        "timed_batches": batches,
        "median_batch_s": round(per_batch, 4),
        "images_per_s_median": round(batch_size / per_batch, 1),
        "images_per_s_mean": round(batch_size * batches / sum(times), 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--model-dir", default=None, help="default: DEEPLENS_MODEL_DIR, else /mnt/models when it exists")
    ap.add_argument("--device", default=None)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    model_dir = args.model_dir if args.model_dir is not None else Settings().checkpoints_dir
    predictor = LocalEmbedder(
        args.model, device=args.device, batch_size=args.batch_size, model_dir=model_dir, num_threads=args.threads
    )
    print(json.dumps(measure(predictor, batch_size=args.batch_size, size=args.size, warmup=args.warmup, batches=args.batches)))


if __name__ == "__main__":
    main()

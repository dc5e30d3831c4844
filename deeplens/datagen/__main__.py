"""``python -m deeplens.datagen OUT [--preset demo] [--seed 0]``: write a dataset to OUT."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from deeplens.cli.progress import Progress, progress

from . import PRESETS, generate_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deeplens.datagen", description=__doc__)
    parser.add_argument("out", type=Path, help="output folder (products/, videos/, truth.json)")
    parser.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.monotonic()

    stages: dict[str, Progress] = {}

    def generated(stage: str, done: int, total: int) -> None:
        shown = stages.setdefault(stage, progress(stage, "item", total))
        shown.set(done, total)
        if done == total:
            shown.close()

    truth = generate_dataset(args.out, args.preset, seed=args.seed, progress=generated)
    shown = sum(len(v.appearances) for v in truth.videos.values())
    print(f"{len(truth.products)} products, {len(truth.videos)} videos, {shown} appearances "
          f"in {time.monotonic() - started:.1f}s -> {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

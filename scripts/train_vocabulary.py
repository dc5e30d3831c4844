"""Make the RootSIFT vocabulary shipped in ``deeplens/matching/data/rootsift-words.npy``.

    python scripts/train_vocabulary.py [--words 4096] [--products 1000] [--seed 9001]

It is trained once, from the product photos of a generated catalog whose seed no
benchmark or test uses, and then never again: the vocabulary decides which inverted list
a descriptor goes to (:mod:`deeplens.matching.vocabulary`), so changing it re-partitions
every saved catalog index.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import cv2
import faiss
import numpy as np

from deeplens.config import Settings
from deeplens.datagen import PRESETS, generate_catalog
from deeplens.matching.vocabulary import VOCABULARY_PATH
from deeplens.vision.local_features import extract_local_features


def photo_descriptors(folder: Path, max_side: int) -> np.ndarray:
    """Every product photo's quantised RootSIFT descriptors under ``folder/<sku>/``."""
    blocks = []
    for photo in sorted(folder.glob("*/*")):
        image = cv2.imread(str(photo))
        if image is not None:
            blocks.append(extract_local_features(image, max_side=max_side).descriptors)
    return np.vstack(blocks).astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=4096, help="inverted lists of the catalog index")
    parser.add_argument("--products", type=int, default=1000, help="products of the training catalog")
    parser.add_argument("--seed", type=int, default=9001, help="generator seed (one no benchmark uses)")
    parser.add_argument("--out", type=Path, default=VOCABULARY_PATH)
    args = parser.parse_args(argv)
    started = time.monotonic()
    spec = dataclasses.replace(PRESETS["bench"], n_products=args.products, distractors=0, distractors_per_video=(0, 0))
    with tempfile.TemporaryDirectory(prefix="deeplens-vocabulary-") as work:
        generate_catalog(Path(work), spec, args.seed)
        descriptors = photo_descriptors(Path(work), Settings().product_feature_max_side)
    print(f"{len(descriptors)} descriptors from {args.products} products ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    kmeans = faiss.Kmeans(descriptors.shape[1], args.words, niter=20, seed=args.seed, max_points_per_centroid=256)
    kmeans.train(descriptors)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # float16 keeps every centre within 0.1 of what k-means found (descriptors are integers), in half the bytes.
    np.save(args.out, kmeans.centroids.astype(np.float16))
    print(f"{args.words} words -> {args.out} ({time.monotonic() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()

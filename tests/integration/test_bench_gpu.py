"""bench/gpu.py measures SIFT on a torch device against OpenCV; on the CPU it runs as a smoke test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu.py"


def test_the_gpu_benchmark_prints_speed_agreement_and_matching_for_each_frame_size(tiny_dataset):
    result = subprocess.run(
        [sys.executable, str(BENCH), str(tiny_dataset), "--device", "cpu", "--frames", "2", "--match-frames", "2", "--no-embedder"],
        capture_output=True, text=True, timeout=600, check=True,
    )
    lines = result.stdout.splitlines()
    agreement = [line for line in lines if "keypoints / located / descriptor within 1" in line]
    assert agreement, result.stdout
    # The torch code on the CPU is the same arithmetic as on a GPU: OpenCV's keypoints, in place.
    keypoints, located, _ = (float(v) for v in agreement[0].split()[-5::2])
    assert keypoints > 0 and located >= 0.95
    assert any(line.startswith("pairs verified") for line in lines)

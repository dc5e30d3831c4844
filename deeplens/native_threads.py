"""Native thread pools sized to a worker's share of the cores.

Each broker worker (or each request a step pod serves at once) runs its own SIFT,
matching and model calls; the libraries' pools on top of that oversubscribe the cores.
OpenCV's pool cost 13% more CPU with 2 workers, and OpenBLAS's idle threads (numpy's
matmul in descriptor matching) spun through 14% of all CPU samples of a benchmark run.
ONNX Runtime sessions and video decoders take their thread count when they are opened.
"""

from __future__ import annotations

import cv2
import faiss
from threadpoolctl import threadpool_limits


def cap_native_threads(threads: int) -> None:
    """Let OpenCV, faiss (the catalog index's OpenMP pool) and every BLAS library loaded in this process use at most ``threads`` threads."""
    cv2.setNumThreads(threads)
    faiss.omp_set_num_threads(threads)
    threadpool_limits(threads, user_api="blas")

"""Native thread pools are capped at a worker's share of the cores."""

from __future__ import annotations

import cv2
from threadpoolctl import threadpool_info, threadpool_limits

from deeplens.native_threads import cap_native_threads


def test_capping_sets_opencv_and_every_blas_pool_to_the_given_thread_count():
    before = cv2.getNumThreads()
    blas_before = max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=1)
    try:
        cap_native_threads(1)
        assert cv2.getNumThreads() == 1
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas and set(blas) == {1}
    finally:
        cv2.setNumThreads(before)
        threadpool_limits(blas_before, user_api="blas")

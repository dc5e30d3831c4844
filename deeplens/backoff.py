"""Exponential backoff: the one formula every retry loop here uses."""

from __future__ import annotations

import math
import random


def backoff_delay(attempt: int, base: float, *, cap: float = math.inf, jitter: bool = False) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): ``base * 2**attempt``, at most ``cap``.

    With ``jitter`` the delay is drawn from its upper half, so many clients that failed
    together do not retry together.
    """
    delay = min(cap, base * 2**attempt)
    return delay * (0.5 + random.random() / 2) if jitter else delay

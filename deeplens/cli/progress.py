"""Progress of long work: a bar on a terminal, a plain line every few seconds elsewhere.

A bar redraws itself with carriage returns, which a log file or a CI console keeps as
noise (one ``processing: 12%|█▏ …`` per redraw, on one line). Where the stream is not a
terminal, a line such as ``processing: 120/300 events`` is printed at most every
``interval`` seconds, and once more when the work ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Self, TextIO

from tqdm import tqdm

LINE_INTERVAL = 5.0
"""Seconds between progress lines where the stream is not a terminal."""


class Progress:
    """Work done out of a total that may grow; see :func:`progress`."""

    def __init__(self, desc: str, unit: str, total: int | None, stream: TextIO, *,
                 bar: bool, interval: float = LINE_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.desc, self.unit, self.total, self.done = desc, unit, total, 0
        self._stream, self._interval, self._clock = stream, interval, clock
        self._bar = tqdm(desc=desc, unit=unit, total=total, file=stream, dynamic_ncols=True, mininterval=0.5) if bar else None
        self._last_line: float | None = None
        self._printed: tuple[int, int | None] | None = None

    def set(self, done: int, total: int | None = None) -> None:
        """Record ``done`` units of work, out of ``total`` when it is known (or has grown)."""
        self.done = done
        if total is not None:
            self.total = total
        if self._bar is not None:
            self._bar.total, self._bar.n = self.total, done
            self._bar.refresh()
        elif self._last_line is None or self._clock() - self._last_line >= self._interval:
            self._line()

    def advance(self, n: int = 1) -> None:
        """Record ``n`` more units done."""
        self.set(self.done + n)

    def write(self, message: str) -> None:
        """Print a message (a skipped row, a warning) without tearing the bar."""
        if self._bar is not None:
            self._bar.write(message, file=self._stream)
        else:
            print(message, file=self._stream, flush=True)

    def close(self) -> None:
        """End the bar, or print the last line (unless it was just printed)."""
        if self._bar is not None:
            self._bar.close()
        elif self._printed != (self.done, self.total):
            self._line()

    def _line(self) -> None:
        total = f"/{self.total}" if self.total is not None else ""
        print(f"{self.desc}: {self.done}{total} {self.unit}s", file=self._stream, flush=True)
        self._last_line, self._printed = self._clock(), (self.done, self.total)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(desc: str, unit: str, total: int | None = None, *, stream: TextIO | None = None,
             interval: float = LINE_INTERVAL, clock: Callable[[], float] = time.monotonic) -> Progress:
    """Progress on ``stream`` (stderr by default): a bar if it is a terminal, else a line every ``interval`` seconds."""
    stream = stream or sys.stderr
    return Progress(desc, unit, total, stream, bar=stream.isatty(), interval=interval, clock=clock)

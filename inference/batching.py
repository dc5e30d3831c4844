"""A small asyncio micro-batcher: requests that arrive together share one forward pass.

KServe 0.21's Python model server has no batcher of its own (KServe's ``batcher`` is an
agent sidecar configured on the InferenceService), so the model server batches here:

- A request submits its rows (preprocessed images or texts) and awaits its result.
- One worker task takes the oldest waiting request, then keeps collecting requests
  until ``max_batch_size`` rows are waiting or ``max_wait_s`` has passed since it started
  collecting, and runs ``fn`` once on all their rows in a single worker thread (so forward
  passes never overlap and torch keeps all its intra-op threads).
- Requests that arrive while a forward pass runs wait and form the next batch, so under
  load batches fill up without any waiting. With ``max_wait_s=0`` (the server's default,
  like Triton's dynamic batcher) that is all it does and an idle server adds no latency;
  a few milliseconds can gather bigger batches where forward passes are short (GPU).
- Requests are never split: a batch is whole requests, at least one, stopping once it
  holds ``max_batch_size`` rows or more (``fn`` chunks big batches itself).
- If a batch of several requests fails, each request is retried alone, so one request
  cannot fail the others; its own error reaches only its caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Pending(Generic[T]):
    items: Sequence[T]
    future: asyncio.Future = field(repr=False)


@dataclass
class BatchStats:
    """Counters a server can expose or a test can read."""

    requests: int = 0
    batches: int = 0
    rows: int = 0
    largest_batch_rows: int = 0
    largest_batch_requests: int = 0

    def record(self, n_requests: int, n_rows: int) -> None:
        self.batches += 1
        self.rows += n_rows
        self.largest_batch_rows = max(self.largest_batch_rows, n_rows)
        self.largest_batch_requests = max(self.largest_batch_requests, n_requests)


class MicroBatcher(Generic[T]):
    """Batches ``submit`` calls from concurrent coroutines into calls of ``fn``.

    ``fn(items) -> np.ndarray`` maps a list of rows to an array with one row per item; it
    runs in a dedicated thread. Create and use the batcher inside one running event loop.
    ``on_batch(n_requests, n_rows)`` is called for every batch (e.g. to update metrics).
    """

    def __init__(
        self,
        fn: Callable[[list[T]], np.ndarray],
        *,
        max_batch_size: int = 16,
        max_wait_s: float = 0.005,
        name: str = "batch",
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size!r}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s!r}")
        self._fn = fn
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.name = name
        self.stats = BatchStats()
        self._on_batch = on_batch
        self._pending: deque[_Pending[T]] = deque()
        self._pending_rows = 0
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"deeplens-{name}")
        self._closed = False

    async def submit(self, items: Sequence[T]) -> np.ndarray:
        """The rows ``fn`` gives for ``items``, computed in a batch with whatever else is waiting."""
        if self._closed:
            raise RuntimeError(f"batcher {self.name!r} is closed")
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            self._worker = loop.create_task(self._run(), name=f"deeplens-{self.name}-batcher")
        future = loop.create_future()
        self._pending.append(_Pending(list(items), future))
        self._pending_rows += len(items)
        self.stats.requests += 1
        self._wakeup.set()
        return await future

    def close(self) -> None:
        """Stop the worker; waiting requests fail with ``RuntimeError``. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
        while self._pending:
            pending = self._pending.popleft()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError(f"batcher {self.name!r} closed"))
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- the worker ------------------------------------------------------------------------

    async def _wait(self, timeout: float | None) -> bool:
        """Wait for a new request (or ``timeout``); False on timeout."""
        self._wakeup.clear()
        try:
            if timeout is None:
                await self._wakeup.wait()
            else:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _take_batch(self) -> list[_Pending[T]]:
        batch: list[_Pending[T]] = []
        rows = 0
        while self._pending and (not batch or rows < self.max_batch_size):
            pending = self._pending.popleft()
            self._pending_rows -= len(pending.items)
            if pending.future.done():  # the caller went away
                continue
            batch.append(pending)
            rows += len(pending.items)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                await self._wait(None)
            if self.max_wait_s > 0:
                deadline = loop.time() + self.max_wait_s
                while self._pending_rows < self.max_batch_size:
                    remaining = deadline - loop.time()
                    if remaining <= 0 or not await self._wait(remaining):
                        break
            batch = self._take_batch()
            if batch:
                await self._execute(batch)

    async def _call(self, items: list[T]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._executor, self._fn, items)
        if len(result) != len(items):
            raise RuntimeError(f"{self.name}: fn returned {len(result)} rows for {len(items)} items")
        return result

    async def _execute(self, batch: list[_Pending[T]]) -> None:
        items = [item for pending in batch for item in pending.items]
        self.stats.record(len(batch), len(items))
        if self._on_batch is not None:
            try:
                self._on_batch(len(batch), len(items))
            except Exception:  # metrics must never fail a request
                log.exception("%s: on_batch callback failed", self.name)
        try:
            result = await self._call(items)
        except Exception as exc:  # noqa: BLE001 - handed to the callers
            if len(batch) == 1:
                _settle(batch[0].future, exc=exc)
                return
            log.warning("%s: a batch of %d requests failed (%s); retrying each alone", self.name, len(batch), exc)
            for pending in batch:
                try:
                    _settle(pending.future, await self._call(list(pending.items)))
                except Exception as one_exc:  # noqa: BLE001
                    _settle(pending.future, exc=one_exc)
            return
        start = 0
        for pending in batch:
            end = start + len(pending.items)
            _settle(pending.future, result[start:end])
            start = end


def _settle(future: asyncio.Future, value: Any = None, *, exc: BaseException | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)

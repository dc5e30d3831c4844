"""Load and soak of the results service: a mix of routes at a fixed offered rate, open-loop.

    python bench/load.py                          # 100 requests/s for 600 s (the issue's soak)
    python bench/load.py --rate 20 --duration 5   # a short run
    python bench/load.py --quick                  # 20 requests/s for 10 s, tiny dataset

What it does:

1. Generates a small dataset (``deeplens.datagen``, ``--preset``) and processes it on
   embedded defaults (``deeplens ingest DIR --wait``: embedded PostgreSQL + pgvector, a
   local directory as the bucket) in a fresh DEEPLENS_HOME.
2. Starts ``deeplens serve`` on loopback (auth off, the laptop default) over it.
3. Sends a mix of listings (``/products``, ``/videos``), ``/appearances?video=…``, image
   search (``POST /search/image`` with a product photo) and text search
   (``/search/text``) at ``--rate`` requests/s for ``--duration`` seconds, bounded also
   by ``--max-requests``. Open-loop: each request has a scheduled send time and its
   latency is counted from that time, so a slow server shows as latency, not as a lower
   offered rate.
4. Prints per route: requests, achieved rate, p50/p95/p99 (ms), errors (non-2xx by
   status, and transport errors); the overall achieved rate; and the server process's
   RSS (psutil, with its children) at start, at end and its peak.

Uploads through the bucket path under faults are ``bench/upload_soak.py``'s.

Numbers only, never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deeplens.datagen import generate_dataset

#: The mix: route name → weight. Listings dominate, as a gallery's traffic does.
MIX = {"products": 3, "videos": 2, "appearances": 3, "search_image": 1, "search_text": 1}
TEXT_QUERIES = ("a box of cereal", "a bottle", "a red package", "a cup of coffee", "a blue box")


@dataclass
class RouteStats:
    """What one route's requests came to."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)

    def add(self, latency: float, status: str | None) -> None:
        self.latencies.append(latency)
        if status is not None:
            self.errors[status] += 1


@dataclass
class Rss:
    """The server's resident memory (MiB) over the run."""

    start: float = 0.0
    end: float = 0.0
    peak: float = 0.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values; nan when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*argv: str) -> list[str]:
    """The ``deeplens`` command line, run from this checkout."""
    return [sys.executable, "-c", ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from deeplens.cli.main import main; sys.exit(main())"), str(ROOT), *argv]


def rss_mib(process: psutil.Process) -> float:
    """RSS of the process and its children (the embedded PostgreSQL is a child), MiB."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def wait_ready(base: str, timeout: float) -> None:
    """Wait until the service answers /health."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the results service did not come up at {base} within {timeout:.0f} s")


def prepare(root: Path, preset: str, seed: int, env: dict[str, str]) -> tuple[list[str], bytes]:
    """Generate and process the dataset; return its video names and one product photo's bytes."""
    data = root / "data"
    truth = generate_dataset(data, preset, seed=seed)
    subprocess.run(cli("ingest", str(data), "--wait"), env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    photo = next(p for p in sorted((data / "products").rglob("*")) if p.is_file())
    return sorted(truth.videos), photo.read_bytes()


def build_request(route: str, rng: random.Random, videos: list[str], photo: bytes) -> dict:
    """httpx.request keyword arguments for one request of a route."""
    if route == "products":
        return {"method": "GET", "url": "/products"}
    if route == "videos":
        return {"method": "GET", "url": "/videos"}
    if route == "appearances":
        return {"method": "GET", "url": "/appearances", "params": {"video": rng.choice(videos)} if videos else {}}
    if route == "search_image":
        return {"method": "POST", "url": "/search/image", "files": {"file": ("photo.jpg", photo, "image/jpeg")}}
    return {"method": "GET", "url": "/search/text", "params": {"q": rng.choice(TEXT_QUERIES)}}


def drive(base: str, rate: float, duration: float, max_requests: int, videos: list[str], photo: bytes,
          server: psutil.Process, seed: int) -> tuple[dict[str, RouteStats], float, int, Rss]:
    """Send the mix open-loop; return per-route stats, the elapsed time, the requests sent and RSS."""
    rng = random.Random(seed)
    routes, weights = list(MIX), list(MIX.values())
    stats: dict[str, RouteStats] = defaultdict(RouteStats)
    lock = threading.Lock()
    rss = Rss(start=rss_mib(server))
    rss.peak = rss.start
    stop = threading.Event()

    def sample_memory() -> None:
        while not stop.wait(1.0):
            rss.peak = max(rss.peak, rss_mib(server))

    # Enough threads that a slow server cannot hold back the offered rate for long: the
    # latency is counted from the scheduled time, so a queued request shows as latency.
    client = httpx.Client(base_url=base, timeout=30, limits=httpx.Limits(max_connections=64))

    def one(route: str, scheduled: float, kwargs: dict) -> None:
        status = None
        try:
            response = client.request(**kwargs)
            if not 200 <= response.status_code < 300:
                status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        latency = time.perf_counter() - scheduled
        with lock:
            stats[route].add(latency, status)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    total = min(max_requests, int(rate * duration))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for i in range(total):
            scheduled = started + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            route = rng.choices(routes, weights)[0]
            pool.submit(one, route, scheduled, build_request(route, rng, videos, photo))
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    rss.end = rss_mib(server)
    rss.peak = max(rss.peak, rss.end)
    client.close()
    return dict(stats), elapsed, total, rss


def report(stats: dict[str, RouteStats], elapsed: float, total: int, rate: float, rss: Rss) -> None:
    """Print the per-route table, the overall rate and memory."""
    print(f"{'route':14s} {'requests':>8s} {'req/s':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} errors")
    for route in MIX:
        s = stats.get(route, RouteStats())
        lat = [1000 * x for x in s.latencies]
        errors = ", ".join(f"{k}×{v}" for k, v in sorted(s.errors.items())) or "0"
        print(f"{route:14s} {len(lat):8d} {len(lat) / elapsed:7.1f} {percentile(lat, 50):8.1f} "
              f"{percentile(lat, 95):8.1f} {percentile(lat, 99):8.1f} {errors}")
    done = sum(len(s.latencies) for s in stats.values())
    failed = sum(sum(s.errors.values()) for s in stats.values())
    print(f"overall: {done}/{total} requests in {elapsed:.1f} s, achieved {done / elapsed:.1f} req/s "
          f"(offered {rate:.1f}), {failed} errors")
    growth = rss.end - rss.start
    print(f"server RSS (with children) MiB: start {rss.start:.0f}, end {rss.end:.0f}, peak {rss.peak:.0f}, "
          f"end - start {growth:+.0f} ({100 * growth / rss.start:+.1f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="offered requests per second")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="stop after this many requests")
    parser.add_argument("--preset", default="tiny", help="dataset preset (deeplens.datagen)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="20 requests/s for 10 s")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.duration = 20.0, 10.0
    root = Path(tempfile.mkdtemp(prefix="dl-load-"))
    env = {**os.environ, "DEEPLENS_HOME": str(root / "home"), "DEEPLENS_AUTH_ENABLED": "false"}
    videos, photo = prepare(root, args.preset, args.seed, env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(cli("serve", "--port", str(port)), env=env, stdout=subprocess.DEVNULL)
    try:
        wait_ready(base, 180)
        # One request of each route first, so model loading is not counted as soak latency.
        with httpx.Client(base_url=base, timeout=120) as warm:
            for route in MIX:
                warm.request(**build_request(route, random.Random(0), videos, photo))
        print(f"load: {args.rate:.0f} req/s offered for {args.duration:.0f} s (max {args.max_requests}), "
              f"preset {args.preset}, embedded defaults, {os.cpu_count()} CPUs (shared machine: other work may run)")
        stats, elapsed, total, rss = drive(base, args.rate, args.duration, args.max_requests, videos, photo,
                                           psutil.Process(proc.pid), args.seed)
        report(stats, elapsed, total, args.rate, rss)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()

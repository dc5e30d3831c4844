"""Uploads through the bucket path under faults: bursts of objects at once, with the database restarted, a step killed and the store answering 503.

    python bench/upload_soak.py                             # 100 uploads per phase, every fault
    python bench/upload_soak.py --uploads 12 --outage 5     # a short run
    python bench/upload_soak.py --phases none store-503     # some phases only

The cluster runs as real processes on loopback (``bench/cluster.py``: functions-framework
steps, the HTTP broker, a KServe model server, moto's S3 with bucket notifications into
SQS, the SQS source, the results service), over an embedded PostgreSQL this script owns,
with the chart's delivery settings (retry 5, backoff 1 s, exponential). Each phase puts
``--uploads`` objects into the bucket at once (the photos and videos of a generated
dataset, under distinct keys, in a tenant of the phase's own), injects its fault
``--fault-at`` seconds later, and waits until every upload has a final status, the
notification queue is empty and no delivery is pending or running. Phases:

- ``none``: no fault;
- ``db-restart``: PostgreSQL restarted (``pg_ctl restart -m fast``: every connection dropped);
- ``step-kill``: the features function killed with SIGKILL and started again 5 s later, as
  Kubernetes restarts a crashed pod;
- ``store-503``: the object store answering 503 to the steps for ``--outage`` seconds.

Per phase it prints the uploads, how many were processed (done), failed (bad input,
recorded with its reason), dead-lettered and lost (no final status, or never announced),
the seconds until the pipeline drained, the store requests refused, and whether its
appearances (video, product, start, end, score, box) are those of the first phase; then it
replays the dead letters and prints what became of them. Numbers only, never pass/fail.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster import BUCKET, LoopbackCluster, token

from deeplens.datagen import generate_dataset
from deeplens.db.embedded import start_embedded_server

PHASES = ("none", "db-restart", "step-kill", "store-503")
#: Delivery as the chart's values.yaml sets it for every Trigger.
CHART_DELIVERY = {"DEEPLENS_RETRY": "5", "DEEPLENS_BACKOFF_DELAY": "1.0", "DEEPLENS_BACKOFF_POLICY": "exponential"}
RESTART_AFTER = 5.0


@dataclass
class PhaseResult:
    """What one burst of uploads came to."""

    phase: str
    tenant: str
    uploads: int
    done: int
    failed: int
    dead_lettered: int
    lost: int
    drain_seconds: float
    refused: int
    appearances: list[tuple]


def dataset_files(root: Path) -> list[tuple[str, Path]]:
    """(kind/sku path part, file) for every photo and video of the generated dataset."""
    photos = [(f"products/{p.parent.name}", p) for p in sorted((root / "products").rglob("*")) if p.is_file()]
    videos = [("videos", p) for p in sorted((root / "videos").glob("*.mp4"))]
    return photos + videos


def burst_keys(files: list[tuple[str, Path]], tenant: str, n: int) -> list[tuple[str, Path]]:
    """``n`` (key, file) pairs cycling through the dataset, each key distinct, in ``tenant``'s part of the bucket."""
    keys = []
    for i in range(n):
        prefix, path = files[i % len(files)]
        kind, _, sku = prefix.partition("/")
        keys.append((f"{kind}/{tenant}/{sku + '/' if sku else ''}{i:03d}-{path.name}", path))
    return keys


class Observer:
    """Reads where a tenant's uploads stand from the results service, and the queue from the broker's metrics."""

    def __init__(self, box: LoopbackCluster) -> None:
        self.box = box
        self.client = httpx.Client(timeout=30)

    def statuses(self, tenant: str) -> dict[str, str]:
        """Key → status of every upload the pipeline has seen in ``tenant``."""
        found: dict[str, str] = {}
        offset = 0
        while True:
            page = self.client.get(f"{self.box.results.url}/status", params={"limit": 500, "offset": offset},
                                   headers=token(tenant)).raise_for_status().json()
            found.update({item["key"]: item["status"] for item in page["items"]})
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return found

    def appearances(self, tenant: str) -> list[tuple]:
        """The tenant's appearances as sorted (video, product, start, end, score, box) rows."""
        rows, offset = [], 0
        while True:
            page = self.client.get(f"{self.box.results.url}/appearances", params={"limit": 500, "offset": offset},
                                   headers=token(tenant)).raise_for_status().json()
            rows += [(a["video"], a["product"], a["start"], a["end"], a["score"], tuple(a["box"])) for a in page["items"]]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return sorted(rows)

    def dead_letters(self, tenant: str) -> list[dict]:
        """The tenant's dead letters."""
        return self.client.get(f"{self.box.results.url}/dead-letters", headers=token(tenant)).raise_for_status().json()

    def queue(self) -> dict[str, float]:
        """Deliveries by status, from the broker's ``/metrics``."""
        text = self.client.get(f"{self.box.components['broker'].url}/metrics").text
        depth: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            if family.name == "deeplens_queue_deliveries":
                depth = {sample.labels["status"]: sample.value for sample in family.samples}
        return depth

    def notifications_waiting(self) -> int:
        """Messages in the bucket's notification queue, visible or in flight."""
        attributes = self.box.sqs.get_queue_attributes(
            QueueUrl=self.box.queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def drained(self, tenant: str, keys: list[str]) -> bool:
        """Every key has a final status, no notification waits and no delivery is pending or running."""
        try:
            statuses = self.statuses(tenant)
            depth = self.queue()
            waiting = self.notifications_waiting()
        except httpx.HTTPError:
            return False  # a component is down (a fault in progress)
        final = all(statuses.get(key) in ("done", "failed") for key in keys)
        return final and waiting == 0 and depth.get("pending", 0) == 0 and depth.get("running", 0) == 0


def inject(phase: str, box: LoopbackCluster, server: object, outage: float) -> None:
    """Apply ``phase``'s fault, returning once it is over (the component restarted, the store back)."""
    if phase == "db-restart":
        import pgserver

        pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)  # type: ignore[attr-defined]
    elif phase == "step-kill":
        box.components["features"].kill()
        time.sleep(RESTART_AFTER)
        box.components["features"].start()
    elif phase == "store-503":
        assert box.store is not None
        box.store.failing.set()
        time.sleep(outage)
        box.store.failing.clear()


def run_phase(phase: str, box: LoopbackCluster, server: object, files: list[tuple[str, Path]], args: argparse.Namespace,
              observer: Observer) -> PhaseResult:
    """One burst of uploads with ``phase``'s fault; waits for the drain (or ``--drain-timeout``)."""
    tenant = f"soak-{phase}-{uuid.uuid4().hex[:6]}"
    keys = burst_keys(files, tenant, args.uploads)
    refused_before = box.store.refused if box.store else 0
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda pair: box.s3.upload_file(str(pair[1]), BUCKET, pair[0]), keys))
    print(f"[{phase}] {len(keys)} objects uploaded in {time.monotonic() - started:.1f} s", flush=True)
    if phase != "none":
        time.sleep(max(0.0, args.fault_at - (time.monotonic() - started)))
        print(f"[{phase}] fault at {time.monotonic() - started:.1f} s", flush=True)
        inject(phase, box, server, args.outage)
        print(f"[{phase}] fault over at {time.monotonic() - started:.1f} s", flush=True)
    names = [key for key, _ in keys]
    deadline = started + args.drain_timeout
    last_line = 0.0
    while not observer.drained(tenant, names) and time.monotonic() < deadline:
        if time.monotonic() - last_line >= 10:
            last_line = time.monotonic()
            try:
                statuses = observer.statuses(tenant)
                print(f"[{phase}] {time.monotonic() - started:5.0f} s: {sum(s != 'processing' for s in statuses.values())}/"
                      f"{len(names)} final, queue {observer.queue()}", flush=True)
            except httpx.HTTPError as exc:
                print(f"[{phase}] {time.monotonic() - started:5.0f} s: results service unreachable ({exc})", flush=True)
        time.sleep(1.0)
    drain = time.monotonic() - started
    statuses = observer.statuses(tenant)
    return PhaseResult(
        phase=phase, tenant=tenant, uploads=len(names),
        done=sum(statuses.get(key) == "done" for key in names),
        failed=sum(statuses.get(key) == "failed" for key in names),
        dead_lettered=len(observer.dead_letters(tenant)),
        lost=sum(statuses.get(key) not in ("done", "failed") for key in names),
        drain_seconds=drain,
        refused=(box.store.refused if box.store else 0) - refused_before,
        appearances=observer.appearances(tenant),
    )


def replay(box: LoopbackCluster, observer: Observer, results: list[PhaseResult], timeout: float) -> None:
    """Replay each phase's dead letters and print how many are left once the queue drains."""
    for result in results:
        if not result.dead_lettered:
            continue
        tenant = result.tenant
        replayed = observer.client.post(f"{box.results.url}/dead-letters/replay", headers=token(tenant)).json()["replayed"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (observer.queue().get("pending", 0) or observer.queue().get("running", 0)):
            time.sleep(1.0)
        print(f"[{result.phase}] replayed {replayed} dead letters; {len(observer.dead_letters(tenant))} left after the drain")


def report(results: list[PhaseResult]) -> None:
    """The per-phase table; ``same`` compares each phase's appearances with the first phase's, field by field."""
    print(f"{'phase':11s} {'uploads':>7s} {'done':>5s} {'failed':>6s} {'dead':>5s} {'lost':>5s} {'drain s':>8s} {'503s':>6s} "
          f"{'appearances':>11s} same")
    for r in results:
        same = "—" if r is results[0] else ("yes" if r.appearances == results[0].appearances else "NO")
        print(f"{r.phase:11s} {r.uploads:7d} {r.done:5d} {r.failed:6d} {r.dead_lettered:5d} {r.lost:5d} "
              f"{r.drain_seconds:8.1f} {r.refused:6d} {len(r.appearances):11d} {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=100, help="objects put at once, per phase")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--fault-at", type=float, default=5.0, help="seconds after the burst starts")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds the store answers 503")
    parser.add_argument("--drain-timeout", type=float, default=900.0, help="seconds a phase may take to drain")
    parser.add_argument("--preset", default="tiny", help="dataset preset (deeplens.datagen)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
    # SIGTERM unwinds like Ctrl-C, so the cluster's processes and the database are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # A short path: the embedded PostgreSQL's socket path has a length limit.
    root = Path(tempfile.mkdtemp(prefix="dl-soak-"))
    try:
        generate_dataset(root / "data", args.preset, seed=args.seed)
        files = dataset_files(root / "data")
        server = start_embedded_server(root / "pgdata")
        logs = root / "logs"
        logs.mkdir()
        print(f"upload soak: {args.uploads} uploads per phase, phases {' '.join(args.phases)}, preset {args.preset} "
              f"({len(files)} files), {os.cpu_count()} CPUs (shared machine: other work may run); logs in {logs}", flush=True)
        with LoopbackCluster(server.get_uri(), logs, env=CHART_DELIVERY, flaky_store=True) as box:
            observer = Observer(box)
            results = []
            for phase in args.phases:
                results.append(run_phase(phase, box, server, files, args, observer))
                report(results[-1:])
            print()
            report(results)
            replay(box, observer, results, args.drain_timeout)
        server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Vector search at scale: HNSW recall@10 against exact search, and the search API's latency and throughput.

    python bench/search.py                  # 100k stored 1280-d vectors (mobilenet_v2's dimension)
    python bench/search.py --n 1000000      # the opt-in long run (≈ 5 GB of vectors: hours of index build on 2 cores)
    python bench/search.py --json           # one JSON object

What it does:

1. Stores ``--n`` random-but-clustered unit vectors (``--clusters`` random centres, 10
   sub-clusters each, Gaussian noise: cosine ≈ 0.84 within a sub-cluster — one product's
   photos and frames —, ≈ 0.62 within a cluster — a kind of product —, ≈ 0 across) as the
   embeddings of product photos and keyframes of one tenant, under a model of their own,
   with bulk COPY, then builds the model's partial HNSW index (the schema's: halfvec,
   m = 16, ef_construction = 64).
2. recall@10 of the index against exact search (numpy, brute force) for ``--queries``
   fresh vectors from the same distribution, at several ``hnsw.ef_search`` values, with the
   median latency of the SQL query alone. The same for a small tenant that holds
   ``--small-tenant-share`` (1%) of the vectors, drawn from the same distribution and so
   interleaved with the large tenant's in the one HNSW graph: every search is filtered by
   tenant, and pgvector's iterative index scans must find its 10 among the large tenant's.
3. Serves the results API with uvicorn on loopback (a separate process, one worker, cache
   off so every request searches) and sends ``--requests`` "more like this" requests
   (``GET /search/similar``: the API's vector-search path, no model inference) from
   ``--concurrency`` clients: p50/p99 latency and queries per second. Then the same with
   the cache on, repeating a few hundred ids.

Numbers only, never pass/fail. Uses DATABASE_URL when set, else an embedded PostgreSQL in
a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deeplens.config import Settings
from deeplens.db import Database
from deeplens.db.search import Filters, nearest_items
from deeplens.db.vectors import ensure_model_index, index_distance

EF_SEARCH_VALUES = (10, 20, 32, 40, 48, 64, 100, 200)


# --- data ------------------------------------------------------------------------------------------


def _mix(rng: np.random.Generator, centres: np.ndarray, subs: np.ndarray, picks: np.ndarray) -> np.ndarray:
    dim = centres.shape[1]
    noise = rng.standard_normal((len(picks), dim)).astype(np.float32) / np.sqrt(dim)
    x = centres[picks // SUBCLUSTERS] + SUB_WEIGHT * subs[picks] + NOISE_WEIGHT * noise
    return x / np.linalg.norm(x, axis=1, keepdims=True)


#: Two levels, like embeddings of a catalog: a cluster (a kind of product) holds sub-clusters (one
#: product, its photos and frames). Cosine ≈ 0.84 inside a sub-cluster, ≈ 0.62 inside a cluster, ≈ 0 across.
SUBCLUSTERS = 10
SUB_WEIGHT = 0.6
NOISE_WEIGHT = 0.5


def clustered(n: int, dim: int, clusters: int, seed: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """``n`` unit vectors in ``clusters`` × 10 sub-clusters, and the centres (for drawing queries)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32) / np.sqrt(dim)
    subs = rng.standard_normal((clusters * SUBCLUSTERS, dim)).astype(np.float32) / np.sqrt(dim)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        out[start : start + m] = _mix(rng, centres, subs, rng.integers(0, len(subs), m))
    return out, (centres, subs)


def queries_like(model: tuple[np.ndarray, np.ndarray], count: int, seed: int) -> np.ndarray:
    """Fresh vectors from the stored distribution (not stored themselves)."""
    centres, subs = model
    rng = np.random.default_rng(seed)
    return _mix(rng, centres, subs, rng.integers(0, len(subs), count))


def exact_top10(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Indices of the 10 most cosine-similar stored vectors of each query (brute force)."""
    out = np.empty((len(queries), 10), dtype=np.int64)
    for start in range(0, len(queries), 64):
        sims = queries[start : start + 64] @ vectors.T
        top = np.argpartition(-sims, 10, axis=1)[:, :10]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[start : start + 64] = np.take_along_axis(top, order, axis=1)
    return out


def load(db: Database, tenant: str, model: str, vectors: np.ndarray) -> tuple[list[tuple[str, int]], float, float]:
    """Store the vectors as half product photos, half keyframes; build the index. Returns (item per row, load s, build s)."""
    n, dim = vectors.shape
    half = n // 2
    started = time.monotonic()
    with db.pool.connection() as conn:
        with conn.transaction():
            conn.execute("INSERT INTO products (tenant_id, sku) SELECT %s, 'sku-' || g FROM generate_series(0, 999) g", (tenant,))
            conn.execute(
                "INSERT INTO videos (tenant_id, video_id, object_key, sha256, fps, frame_count, width, height, duration)"
                " SELECT %s, 'video-' || g, 'videos/video-' || g || '.mp4', 'x', 25, 1000, 640, 360, 40 FROM generate_series(0, 99) g",
                (tenant,),
            )
            photo_ids = [r["id"] for r in conn.execute(
                "INSERT INTO product_images (tenant_id, sku, object_key, sha256, width, height)"
                " SELECT %s, 'sku-' || (g %% 1000), 'products/sku-' || (g %% 1000) || '/' || g || '.jpg', 'x', 256, 256"
                " FROM generate_series(0, %s) g RETURNING id", (tenant, half - 1)).fetchall()]
            frame_ids = [r["id"] for r in conn.execute(
                "INSERT INTO frames (tenant_id, video_id, frame_index, t, object_key, width, height)"
                " SELECT %s, 'video-' || (g %% 100), g / 100, (g / 100) * 0.5, 'frames/video-' || (g %% 100) || '/' || g || '.jpg', 640, 360"
                " FROM generate_series(0, %s) g RETURNING id", (tenant, n - half - 1)).fetchall()]
            items = [("product_image", i) for i in photo_ids] + [("frame", i) for i in frame_ids]
            with conn.cursor().copy(
                "COPY embeddings (tenant_id, item_kind, item_id, model, dim, embedding) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "text", "int8", "text", "int4", "vector"])
                for (kind, item_id), vector in zip(items, vectors):
                    copy.write_row((tenant, kind, item_id, model, dim, vector))
        loaded = time.monotonic() - started
        started = time.monotonic()
        # Bulk build after the load (far faster than growing the graph row by row); give it memory and both cores.
        conn.execute("SET maintenance_work_mem = '4GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        with conn.transaction():
            ensure_model_index(conn, model, dim)
        built = time.monotonic() - started
        # Planner statistics, as autovacuum would gather them: without them it guesses that the tenant
        # filter is selective and prefers an exact scan over the primary key to the HNSW index.
        conn.execute("ANALYZE embeddings, product_images, frames")
    return items, loaded, built


# --- recall of the index -----------------------------------------------------------------------------


def recall_sweep(db: Database, tenant: str, model: str, items: list[tuple[str, int]], queries: np.ndarray,
                 truth: np.ndarray) -> list[dict]:
    """recall@10 and median SQL latency at each ef_search."""
    index_of = {item: i for i, item in enumerate(items)}
    out = []
    for ef in EF_SEARCH_VALUES:
        hits, latencies, slow_plan = 0, [], None
        for q, expected in zip(queries, truth):
            with db.search_connection() as conn:
                t0 = time.perf_counter()
                rows = nearest_items(conn, tenant, model, q, Filters(), limit=10, ef_search=ef)
                latencies.append(time.perf_counter() - t0)
                if latencies[-1] > 0.1 and slow_plan is None:  # keep the evidence of an outlier
                    slow_plan = [r["QUERY PLAN"][:160] for r in conn.execute(
                        f"EXPLAIN SELECT item_id FROM embeddings e WHERE e.model = %s AND e.tenant_id = %s"
                        f" ORDER BY {index_distance('e.embedding', '%s', q.shape[0])} LIMIT 10",
                        (model, tenant, q)).fetchall()]
            got = {index_of[(r.item_kind, r.item_id)] for r in rows}
            hits += len(got & set(expected.tolist()))
        step = {"ef_search": ef, "recall_at_10": round(hits / (10 * len(queries)), 4),
                "sql_p50_ms": round(1000 * statistics.median(latencies), 2),
                "sql_p99_ms": round(1000 * sorted(latencies)[int(0.99 * (len(latencies) - 1))], 2)}
        if slow_plan:
            step["slow_plan"] = slow_plan
        out.append(step)
    return out


# --- the API -------------------------------------------------------------------------------------------


def serve(database_url: str, home: str, tenant: str, port: int, ef: int, cache_entries: int) -> None:
    """Child process: the results service (one uvicorn worker) over the bench tenant."""
    import logging

    import uvicorn

    from deeplens.api import create_app
    from deeplens.pipeline.services import Services
    from deeplens.storage.factory import open_store

    logging.disable(logging.WARNING)
    settings = Settings(home=Path(home), database_url=database_url, tenant=tenant, hnsw_ef_search=ef,
                        cache_entries=cache_entries)
    services = Services(settings, Database(database_url, max_size=16), open_store(settings))
    uvicorn.run(create_app(services), host="127.0.0.1", port=port, log_level="error", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load_test(host: str, port: int, paths: list[str], concurrency: int) -> tuple[list[float], float, int]:
    """Send every path once over ``concurrency`` keep-alive connections; returns (latencies, wall seconds, errors).

    A bare HTTP/1.1 client on asyncio streams: on two cores the load generator shares the
    CPU with the server and the database, so it must cost next to nothing per request
    (httpx costs about a millisecond, which would be measured as server time).
    """
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for p in paths:
        queue.put_nowait(p)

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not queue.empty():
                path = queue.get_nowait()
                t0 = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, errors


def api_bench(database_url: str, home: Path, tenant: str, model: str, items: list[tuple[str, int]], *, ef: int,
              requests: int, concurrency: int, cache_entries: int, distinct: int | None, seed: int) -> dict:
    """Latency and throughput of GET /search/similar through a uvicorn server in another process."""
    import httpx

    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=serve, args=(database_url, str(home), tenant, port, ef, cache_entries), daemon=True)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        rng = np.random.default_rng(seed)
        pool = items if distinct is None else [items[i] for i in rng.choice(len(items), distinct, replace=False)]
        picks = [pool[i] for i in rng.integers(0, len(pool), requests)]
        paths = [f"/search/similar?kind={k}&id={i}&model={model}&limit=10" for k, i in picks]
        asyncio.run(load_test("127.0.0.1", port, paths[: min(300, len(paths))], concurrency))  # warm-up: pages, pools
        latencies, wall, errors = asyncio.run(load_test("127.0.0.1", port, paths, concurrency))
    finally:
        proc.terminate()
        proc.join(10)
    ordered = sorted(latencies)
    return {
        "load_average_1min": round(os.getloadavg()[0], 2),
        "requests": requests, "concurrency": concurrency, "errors": errors, "cache": cache_entries > 0,
        "qps": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * ordered[len(ordered) // 2], 2),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    }


# --- main ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="stored vectors (default 100000; 1000000 is the long run)")
    parser.add_argument("--dim", type=int, default=1280, help="dimension (default 1280, mobilenet_v2's)")
    parser.add_argument("--clusters", type=int, default=1000, help="cluster centres (default 1000)")
    parser.add_argument("--queries", type=int, default=300, help="queries for recall (default 300)")
    parser.add_argument("--requests", type=int, default=3000, help="API requests per run (default 3000)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8], help="API requests in flight (default: 4, then 8)")
    parser.add_argument("--ef-search", type=int, default=None, help="ef_search for the API runs (default: DEEPLENS_HNSW_EF_SEARCH)")
    parser.add_argument("--shared-buffers", default="2GB",
                        help="shared_buffers of the embedded server (default 2GB: the index must fit; 'keep' leaves it)")
    parser.add_argument("--small-tenant-share", type=float, default=0.01,
                        help="share of the vectors a second, small tenant holds (default 0.01; 0 = none)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    ef = args.ef_search or Settings().hnsw_ef_search
    tmp = Path(tempfile.mkdtemp(prefix="deeplens-bench-search-"))
    server = None
    result: dict = {"n": args.n, "dim": args.dim, "clusters": args.clusters, "cores": len(os.sched_getaffinity(0)),
                    "hnsw": {"m": 16, "ef_construction": 64, "type": "halfvec"}}
    try:
        url = os.environ.get("DATABASE_URL")
        if not url:
            from deeplens.db.embedded import start_embedded_server

            server = start_embedded_server(tmp / "pgdata")
            if args.shared_buffers != "keep":
                # A production server gets ~25% of RAM; the embedded default (128 MB) would measure the
                # buffer manager copying index pages in and out, not the search.
                import psycopg

                with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                    conn.execute(f"ALTER SYSTEM SET shared_buffers = '{args.shared_buffers}'")
                server.cleanup()
                server = start_embedded_server(tmp / "pgdata")
            url = server.get_uri()
        tenant, model = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}-{args.dim}"
        db = Database(url, max_size=4)
        with db.pool.connection() as conn:
            result["shared_buffers"] = conn.execute("SHOW shared_buffers").fetchone()["shared_buffers"]
        log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
        log(f"generating {args.n} × {args.dim} clustered vectors …")
        vectors, centres = clustered(args.n, args.dim, args.clusters, seed=1)
        small = np.random.default_rng(5).random(args.n) < args.small_tenant_share
        small_vectors, vectors = vectors[small], vectors[~small]
        log("loading and building the HNSW index …")
        items, loaded, built = load(db, tenant, model, vectors)
        small_tenant = f"{tenant}-small"
        small_items = load(db, small_tenant, model, small_vectors)[0] if len(small_vectors) else []
        with db.pool.connection() as conn:
            size = conn.execute("SELECT pg_relation_size(index_name::regclass) AS b FROM models WHERE model = %s", (model,)).fetchone()["b"]
        result.update(load_s=round(loaded, 1), index_build_s=round(built, 1), index_mb=round(size / 2**20, 1))
        log(f"loaded in {loaded:.0f} s, index built in {built:.0f} s ({size / 2**20:.0f} MB); recall sweep …")
        queries = queries_like(centres, args.queries, seed=2)
        truth = exact_top10(vectors, queries)
        result["recall"] = recall_sweep(db, tenant, model, items, queries, truth)
        if small_items:
            log(f"recall sweep for the small tenant ({len(small_items)} vectors) …")
            result["small_tenant"] = {"vectors": len(small_items), "recall": recall_sweep(
                db, small_tenant, model, small_items, queries, exact_top10(small_vectors, queries))}
        db.close()
        del vectors
        log(f"API runs at ef_search {ef} …")
        result["api_ef_search"] = ef
        result["api"] = [
            api_bench(url, tmp / "home", tenant, model, items, ef=ef, requests=args.requests, concurrency=c,
                      cache_entries=0, distinct=None, seed=3)
            for c in args.concurrency
        ]
        result["api"].append(api_bench(url, tmp / "home", tenant, model, items, ef=ef, requests=args.requests,
                                       concurrency=max(args.concurrency), cache_entries=4096, distinct=300, seed=4))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['n']} vectors × {result['dim']} d in {result['clusters']} clusters, {result['cores']} cores, "
          f"shared_buffers {result['shared_buffers']}")
    print(f"HNSW (halfvec) m=16 ef_construction=64: load {result['load_s']} s, build {result['index_build_s']} s, {result['index_mb']} MB")
    print("ef_search  recall@10  SQL p50 ms")
    for r in result["recall"]:
        print(f"{r['ef_search']:9}  {r['recall_at_10']:9.4f}  {r['sql_p50_ms']:10.2f}")
    if "small_tenant" in result:
        print(f"a small tenant holding {result['small_tenant']['vectors']} of the vectors, every search filtered by tenant:")
        print("ef_search  recall@10  SQL p50 ms  SQL p99 ms")
        for r in result["small_tenant"]["recall"]:
            print(f"{r['ef_search']:9}  {r['recall_at_10']:9.4f}  {r['sql_p50_ms']:10.2f}  {r['sql_p99_ms']:10.2f}")
    for r in result["api"]:
        print(f"GET /search/similar ({'cache on, 300 distinct ids' if r['cache'] else 'cache off'}, ef_search {ef}, "
              f"{r['concurrency']} in flight): {r['qps']} q/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}"
              f" (load average {r['load_average_1min']})")

if __name__ == "__main__":
    main()

"""Search quality on real photos (scikit-image's samples) with the default model, mobilenet_v2.

    python bench/search_quality.py [--json]

Indexes, through the whole local pipeline, five photos with an ImageNet concept in them
(astronaut, coffee, chelsea the cat, rocket, motorcycle), four edited copies of each
(crop, rotation, colour shift, flip) and 16 other sample images as distractors. Then:

- image search, copies indexed: each copy's "more like this" (itself and its sibling
  copies left out) — recall@1 of the original, per edit type;
- image search, copies not in the index: each copy uploaded as a query — recall@1 of the
  original among the originals and distractors (the classic protocol);
- text search: the rank of the right photo for "cup of coffee", "cat", "rocket",
  "motorcycle", with the ImageNet classes each query maps to.

Prints numbers; asserts nothing (tests/integration/test_search_quality.py pins the behaviour).
Needs scikit-image (pip install scikit-image). Uses DATABASE_URL when set, else an
embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deeplens.config import Settings
from deeplens.runtime import LocalRuntime
from deeplens.search import SearchEngine, SearchOptions
from deeplens.search.evaluation import DISTRACTORS, EDITS, ORIGINALS, TEXT_QUERIES, encode, photo
from deeplens.storage.keys import product_key


def index_photos(runtime: LocalRuntime, with_copies: bool) -> dict[str, int]:
    """Upload originals (+ copies) and distractors as product photos; work the queue; ids by ``<sku>/<photo>``."""
    store, tenant = runtime.services.store, runtime.settings.tenant
    for name in ORIGINALS:
        image = photo(name)
        store.put(product_key(tenant, name, "original.png"), encode(image))
        if with_copies:
            for edit, fn in EDITS.items():
                store.put(product_key(tenant, name, f"{edit}.png"), encode(fn(image)))
    for name in DISTRACTORS:
        store.put(product_key(tenant, name, "original.png"), encode(photo(name)))
    if not runtime.broker.run_until_idle(tenant=runtime.settings.tenant, timeout=900):
        raise SystemExit("indexing timed out")
    with runtime.services.db.pool.connection() as conn:
        rows = conn.execute("SELECT id, object_key FROM product_images WHERE tenant_id = %s", (runtime.settings.tenant,)).fetchall()
    return {r["object_key"].split("/", 2)[2]: r["id"] for r in rows}


def run(database_url: str, home: Path) -> dict:
    out: dict = {"model": "mobilenet_v2"}
    settings = Settings(home=home / "a", database_url=database_url, tenant=f"quality-{uuid.uuid4().hex[:8]}")
    with LocalRuntime(settings) as runtime:
        started = time.monotonic()
        ids = index_photos(runtime, with_copies=True)
        out["indexed"] = len(ids)
        out["index_seconds"] = round(time.monotonic() - started, 1)
        engine = SearchEngine(runtime.services)

        # 1. copies in the index: "more like this" of each copy, siblings left out
        per_edit: dict[str, list[int]] = {edit: [] for edit in EDITS}
        for name in ORIGINALS:
            siblings = {ids[f"{name}/{e}.png"] for e in EDITS}
            for edit in EDITS:
                hits = engine.similar("product_image", ids[f"{name}/{edit}.png"], SearchOptions(kind="products", limit=20))
                ranked = [h.id for h in hits if h.id not in siblings]
                per_edit[edit].append(ranked.index(ids[f"{name}/original.png"]) + 1
                                      if ids[f"{name}/original.png"] in ranked else 99)
        out["recall_at_1_indexed_copies"] = {e: sum(r == 1 for r in ranks) / len(ranks) for e, ranks in per_edit.items()}
        out["original_rank_indexed_copies"] = per_edit

        # 3. text queries (copies indexed too: any version of the photo counts)
        text = {}
        for name, query in TEXT_QUERIES.items():
            hits = engine.by_text(query, SearchOptions(kind="products", limit=30))
            products = [h.product for h in hits]
            text[query] = {
                "target": name,
                "rank": products.index(name) + 1 if name in products else None,
                "top3": [(h.product, h.key.rsplit("/", 1)[-1], h.score, (h.classes or [])[:2]) for h in hits[:3]],
                "classes": [(c.name, c.similarity, c.weight) for c in engine.text_classes(query)],
            }
        out["text"] = text

    # 2. copies not in the index: each copy as an uploaded query
    settings = Settings(home=home / "b", database_url=database_url, tenant=f"quality-{uuid.uuid4().hex[:8]}")
    with LocalRuntime(settings) as runtime:
        ids = index_photos(runtime, with_copies=False)
        engine = SearchEngine(runtime.services)
        per_edit = {edit: [] for edit in EDITS}
        for name in ORIGINALS:
            image = photo(name)
            for edit, fn in EDITS.items():
                hits = engine.by_image(encode(fn(image), ".jpg"), SearchOptions(kind="products", limit=20))
                ranked = [h.id for h in hits]
                target = ids[f"{name}/original.png"]
                per_edit[edit].append(ranked.index(target) + 1 if target in ranked else 99)
        out["recall_at_1_query_copies"] = {e: sum(r == 1 for r in ranks) / len(ranks) for e, ranks in per_edit.items()}
        out["original_rank_query_copies"] = per_edit
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    import os

    tmp = Path(tempfile.mkdtemp(prefix="deeplens-quality-"))
    server = None
    try:
        url = os.environ.get("DATABASE_URL")
        if not url:
            from deeplens.db.embedded import start_embedded_server

            server = start_embedded_server(tmp / "pgdata")
            url = server.get_uri()
        result = run(url, tmp)
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"indexed {result['indexed']} photos in {result['index_seconds']} s (model {result['model']})")
    print("recall@1 of the original — copies indexed, 'more like this' of each copy (siblings left out):")
    for edit, recall in result["recall_at_1_indexed_copies"].items():
        print(f"  {edit:9} {recall:.2f}   ranks {result['original_rank_indexed_copies'][edit]}")
    print("recall@1 of the original — each copy uploaded as the query (copies not indexed):")
    for edit, recall in result["recall_at_1_query_copies"].items():
        print(f"  {edit:9} {recall:.2f}   ranks {result['original_rank_query_copies'][edit]}")
    print("text queries (rank of the right photo; top 3 as product/file/score/classes):")
    for query, r in result["text"].items():
        print(f"  {query!r:16} rank {r['rank']}   classes {[(n, s) for n, s, _ in r['classes']][:4]}")
        for top in r["top3"]:
            print(f"      {top}")


if __name__ == "__main__":
    main()

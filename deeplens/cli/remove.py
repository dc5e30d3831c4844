"""``deeplens remove SKU [SKU ...]``: take products out of the catalog; they are never matched again.

Each product's photos, matches and appearances go, and every keyframe whose decision saw
one of its photos (a candidate, or a rival of another product) is decided again without
them. On a laptop that happens here; in the cluster (``DEEPLENS_BROKER_URL``) the match
function does it. Uploading the product's photos again adds it back.
"""

from __future__ import annotations

import argparse

from deeplens.cli.common import load_settings
from deeplens.cli.ingest import wait_with_progress
from deeplens.errors import Conflict, NotFound
from deeplens.removal import remove_product
from deeplens.runtime import LocalRuntime


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("remove", help="remove products from the catalog, with their matches and appearances")
    parser.add_argument("skus", nargs="+", metavar="SKU")
    parser.add_argument("--no-wait", action="store_true", help="do not decide the keyframes again here; leave it to the workers")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    missing = 0
    with LocalRuntime(settings) as runtime:
        for sku in dict.fromkeys(args.skus):
            try:
                removal = remove_product(runtime.services, runtime.queue, settings.tenant, sku)
            except NotFound as exc:
                print(f"deeplens remove: {exc}")
                missing += 1
                continue
            except Conflict as exc:
                raise SystemExit(f"deeplens remove: {exc}") from exc
            print(f"Removed {sku}: {removal.photos} photo(s), {removal.appearances} appearance(s); "
                  f"{removal.keyframes} keyframe(s) to decide again.")
            for key in removal.objects_kept:
                print(f"  could not delete {key} from the store; nothing refers to it now")
        if not (settings.broker_url or args.no_wait):
            wait_with_progress(runtime, None)
    return 1 if missing else 0

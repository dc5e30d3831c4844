"""``deeplens dlq list|replay``: events that failed every retry, and delivering them again."""

from __future__ import annotations

import argparse
import dataclasses

from deeplens.cli.common import load_settings, print_json, print_table
from deeplens.cli.ingest import wait_with_progress
from deeplens.runtime import LocalRuntime
from eventing.http import BrokerPublisher


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("dlq", help="dead-letter store: list or replay")
    verbs = parser.add_subparsers(dest="dlq_verb", required=True)
    listing = verbs.add_parser("list", help="list dead letters")
    listing.add_argument("--all", action="store_true", help="include replayed ones")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=run_list)
    replay = verbs.add_parser("replay", help="deliver dead letters again")
    replay.add_argument("--id", type=int, action="append", dest="ids", help="only this dead letter (repeatable)")
    replay.add_argument("--no-wait", action="store_true", help="only requeue; do not process here")
    replay.set_defaults(run=run_replay)


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    with LocalRuntime(settings) as runtime:
        letters = runtime.queue.dead_letters(settings.tenant, include_replayed=args.all)
    if args.json:
        print_json([dataclasses.asdict(letter) for letter in letters])
    elif letters:
        print_table(["id", "step", "event type", "subject", "attempts", "error"],
                    [[d.id, d.subscriber, d.event.get("type"), d.event.get("subject", ""), d.attempts, d.error[:80]] for d in letters])
    else:
        print("No dead letters.")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    settings = load_settings()
    # In the cluster the Broker delivers, so replayed events go back through it.
    republish = BrokerPublisher(settings.broker_url) if settings.broker_url else None
    with LocalRuntime(settings) as runtime:
        count = runtime.queue.replay(settings.tenant, args.ids, republish=republish)
        print(f"Replaying {count} dead letter(s)" + (f" through {settings.broker_url}." if republish else "."))
        if count and republish is None and not args.no_wait:
            wait_with_progress(runtime, None)
            left = runtime.queue.dead_letters(settings.tenant)
            print(f"Done; {len(left)} dead letter(s) remain.")
    return 0

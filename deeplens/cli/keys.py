"""``deeplens keys create|list|revoke``: API keys of machine clients of the results API.

A key is shown once, when it is created; the database keeps only its sha256. Each key
belongs to one tenant (``--tenant``, default DEEPLENS_TENANT), holds the scopes it was
given (read, write, admin) and expires (``--expires-in`` days, default 90).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import UTC, datetime, timedelta

from deeplens.auth.keys import ApiKeyStore
from deeplens.auth.principal import SCOPES
from deeplens.cli.common import load_settings, print_json, print_table
from deeplens.db import Database
from deeplens.errors import BadInput

DEFAULT_DAYS = 90


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("keys", help="API keys of the results API: create, list, revoke")
    verbs = parser.add_subparsers(dest="keys_verb", required=True)
    create = verbs.add_parser("create", help="create a key (printed once)")
    create.add_argument("--tenant", help="tenant the key acts for (default DEEPLENS_TENANT)")
    create.add_argument("--scope", action="append", dest="scopes", choices=sorted(SCOPES), required=True,
                        help="a scope the key holds (repeatable): read, write, admin")
    create.add_argument("--expires-in", type=int, default=DEFAULT_DAYS, metavar="DAYS",
                        help=f"days until the key expires (default {DEFAULT_DAYS})")
    create.add_argument("--name", default="", help="what the key is for, shown in listings")
    create.set_defaults(run=run_create)
    listing = verbs.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--tenant", help="only this tenant's keys (default: every tenant's)")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=run_list)
    revoke = verbs.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("id", type=int, help="the key's id (see `deeplens keys list`)")
    revoke.set_defaults(run=run_revoke)


def run_create(args: argparse.Namespace) -> int:
    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        key, plaintext = ApiKeyStore(db).create(args.tenant or settings.tenant, args.scopes,
                                                expires_in=timedelta(days=args.expires_in), name=args.name)
    except BadInput as exc:
        raise SystemExit(f"deeplens keys create: {exc.message}") from exc
    finally:
        db.close()
    print(f"Created key {key.id} for tenant {key.tenant} ({' '.join(key.scopes)}), expires {key.expires_at:%Y-%m-%d %H:%M} UTC.",
          file=sys.stderr)
    print("It is shown only now; send it as `Authorization: Bearer <key>`:", file=sys.stderr)
    print(plaintext)
    return 0


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        keys = ApiKeyStore(db).list(args.tenant)
    finally:
        db.close()
    now = datetime.now(UTC)
    if args.json:
        print_json([dataclasses.asdict(k) | {"state": k.state(now)} for k in keys])
    elif keys:
        print_table(["id", "tenant", "name", "prefix", "scopes", "expires", "state"],
                    [[k.id, k.tenant, k.name, k.prefix + "…", " ".join(k.scopes), f"{k.expires_at:%Y-%m-%d}", k.state(now)]
                     for k in keys])
    else:
        print("No API keys.")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        revoked = ApiKeyStore(db).revoke(args.id)
    finally:
        db.close()
    if not revoked:
        raise SystemExit(f"deeplens keys revoke: no active key {args.id}")
    print(f"Revoked key {args.id}.")
    return 0

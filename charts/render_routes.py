"""Write the chart's copy of the routing table: ``charts/deeplens/files/routes.json``.

``eventing/routing.py`` (``ROUTES``) is the single source of truth for which event type
goes to which step. Helm cannot import Python, so the chart reads a JSON copy of it and
renders one Knative Trigger per row. Run this after changing the routing table:

    python charts/render_routes.py           # rewrite the JSON file
    python charts/render_routes.py --check   # exit 1 if the file is stale (CI)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROUTES_JSON = REPO / "charts" / "deeplens" / "files" / "routes.json"


def render() -> str:
    """The JSON text of ``eventing.routing.ROUTES``: a list of {name, type, subscriber}."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from eventing.routing import ROUTES

    rows = [{"name": r.name, "type": r.event_type, "subscriber": r.subscriber} for r in ROUTES]
    return json.dumps(rows, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=ROUTES_JSON, help=f"default {ROUTES_JSON.relative_to(REPO)}")
    args = parser.parse_args(argv)

    wanted = render()
    current = args.output.read_text() if args.output.exists() else None
    if args.check:
        if current != wanted:
            print(f"{args.output} is stale: run `python charts/render_routes.py`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    if current != wanted:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(wanted)
        print(f"wrote {args.output}")
    else:
        print(f"{args.output} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

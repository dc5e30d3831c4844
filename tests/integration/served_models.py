"""A KServe model server holding several models, each built from its own settings as ``python -m inference`` builds one.

    python tests/integration/served_models.py --http_port 8080 --configs configs.json

``configs.json`` maps a name to ``DEEPLENS_*`` variables: each model is built by
:func:`inference.server.served_model` from the settings those variables give (on top of
this process's environment) and served under that name. One process instead of one per
model keeps a test of many settings inside its time (an import of torch and kserve costs
about 10 s).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from deeplens.config import Settings


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """This process's environment with ``variables`` set, while the block runs."""
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--http_port", type=int, required=True)
    ap.add_argument("--configs", type=Path, required=True)
    args, _kserve_args = ap.parse_known_args()

    import kserve
    import kserve.model_server

    from inference.server import install_http_adapters, served_model

    models = {}
    for name, variables in json.loads(args.configs.read_text()).items():
        with environment(variables):
            settings = Settings()
        models[name] = served_model(settings)
        models[name].load()
    install_http_adapters(kserve.model_server.app)
    server = kserve.ModelServer(http_port=args.http_port, enable_grpc=False, workers=1)
    for name, model in models.items():
        server.register_model(model, name=name)
    server.start(list(models.values()))


if __name__ == "__main__":
    main()

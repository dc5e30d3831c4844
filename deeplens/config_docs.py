"""docs/configuration.md, written from :mod:`deeplens.config`: every variable, its type, default and description.

    python -m deeplens.config_docs > docs/configuration.md

A test compares the page with :func:`render`, so it cannot drift from the settings.
"""

from __future__ import annotations

import inspect
import sys
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from deeplens.config import setting_groups, variable_names

COMMAND = "python -m deeplens.config_docs > docs/configuration.md"

INTRO = f"""\
# Configuration

<!-- Written by `{COMMAND}` from deeplens/config.py; edit the settings there, not this page. -->

DeepLens reads its settings from environment variables, all of them into one object
(`deeplens.config.Settings`): the laptop commands, the step functions, the results API, the
broker and the model server (`python -m inference`) alike. Each variable is `DEEPLENS_<SETTING>`
unless the table names another. Every default runs the laptop path (embedded PostgreSQL, a
local store, the model and the broker in process) with no set-up; the Helm chart sets the
cluster's values.

A `DEEPLENS_*` variable that is no setting stops start-up with an error that names the
nearest setting (`DEEPLENS_MATCH_TRESHOLD is not a DeepLens setting; did you mean
DEEPLENS_MATCH_THRESHOLD?`), since a misspelt one would otherwise be ignored and its
default used. The only ones let through are those Kubernetes sets for the Services of a
release named `deeplens` (`DEEPLENS_POSTGRESQL_SERVICE_HOST`, `DEEPLENS_REDIS_PORT`, ...).

Read under their own names, not listed below: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
and the rest of the AWS SDK's variables (S3 credentials); `OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_TRACES_SAMPLER_ARG` and `OTEL_SERVICE_NAME`
(traces, off unless an endpoint is set); `XDG_CACHE_HOME` (the default model cache).
"""


def _scalar(annotation: Any) -> str:
    """A type annotation without ``None`` in a reader's words."""
    if get_origin(annotation) is Literal:
        return " or ".join(f"`{value}`" for value in get_args(annotation))
    if annotation is bool:
        return "boolean"
    if annotation is SecretStr:
        return "secret string"
    if annotation is Path:
        return "path"
    return {int: "integer", float: "number", str: "string"}.get(annotation, str(annotation))


def type_text(info: FieldInfo) -> str:
    """A field's type and its bounds, e.g. ``integer ≥ 1`` or `` `local` or `s3` ``."""
    annotation = info.annotation
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    bounds = []
    for rule in info.metadata:
        if isinstance(rule, Ge):
            bounds.append(f"≥ {rule.ge}")
        elif isinstance(rule, Gt):
            bounds.append(f"> {rule.gt}")
        elif isinstance(rule, Le):
            bounds.append(f"≤ {rule.le}")
        elif isinstance(rule, Lt):
            bounds.append(f"< {rule.lt}")
        elif isinstance(rule, MinLen):
            bounds.append(f"of {rule.min_length}+ characters")
        elif isinstance(rule, MaxLen):
            bounds.append(f"of at most {rule.max_length} characters")
        elif getattr(rule, "pattern", None):
            bounds.append(f"matching `{rule.pattern}`")
    return " ".join([_scalar(annotation), " and ".join(bounds)]).strip()


def default_text(info: FieldInfo) -> str:
    """A field's default as it would be written in the environment; unset ones say so."""
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    """Text that stays in its table cell; ``<tenant>`` would be read as an HTML tag and vanish."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def group_table(group: type[BaseModel]) -> str:
    """One group's section: its heading, what it is for, and a row per variable."""
    title, _, about = inspect.cleandoc(group.__doc__ or group.__name__).partition("\n")
    rows = [
        f"## {title.rstrip('.')}",
        "",
        *([about.strip(), ""] if about.strip() else []),
        "| Variable | Type | Default | Description |",
        "| --- | --- | --- | --- |",
    ]
    for name, info in group.model_fields.items():
        variables = " or ".join(f"`{v}`" for v in variable_names(name))
        rows.append(f"| {variables} | {_cell(type_text(info))} | {_cell(default_text(info))} | {_cell(info.description or '')} |")
    return "\n".join(rows) + "\n"


def render() -> str:
    """The whole page."""
    return "\n".join([INTRO, *(group_table(group) for group in setting_groups())])


if __name__ == "__main__":
    sys.stdout.write(render())

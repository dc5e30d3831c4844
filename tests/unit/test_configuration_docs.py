"""docs/configuration.md is what deeplens.config_docs writes from the settings."""

from __future__ import annotations

from pathlib import Path

from deeplens.config import Settings, variable_names
from deeplens.config_docs import COMMAND, render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_configuration_page_is_up_to_date():
    assert PAGE.read_text(encoding="utf-8") == render(), f"docs/configuration.md is stale; regenerate it: {COMMAND}"


def test_the_page_lists_every_variable_with_its_default():
    page = render()
    for name, info in Settings.model_fields.items():
        (row,) = [line for line in page.splitlines() if line.startswith(f"| `{variable_names(name)[0]}`")]
        assert row.count(" | ") == 3 and (info.description or "")[:20].replace("<", "&lt;") in row, name

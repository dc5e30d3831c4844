"""The shape of the shipped code: short functions, SQL only in deeplens/db/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("deeplens", "inference", "eventing", "functions")
MAX_FUNCTION_LINES = 80
SQL = re.compile(r"^\s*\(?\s*(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|WITH \w+ AS)\b", re.IGNORECASE)


def _modules(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (ROOT / root).rglob("*.py"))


def test_no_function_is_longer_than_80_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in _modules(*SHIPPED)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, "split these functions: " + "; ".join(long)


def test_sql_is_written_only_in_deeplens_db():
    # eventing/ keeps its delivery queue's own statements: it ships apart from the library.
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _modules("deeplens", "inference", "functions")
        if not path.is_relative_to(ROOT / "deeplens" / "db")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value)
    ]
    assert not found, "move these statements into deeplens/db/: " + ", ".join(found)

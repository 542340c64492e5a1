"""docs/reliability.md maps every RELIABILITY.md item to tests that exist."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "reliability.md"
REFERENCE = re.compile(r"`tests/reliability/(test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)`")
ROW = re.compile(r"^\| (\d+) \| (.*)$", re.MULTILINE)


@functools.cache
def defined_functions(file: Path) -> set[str]:
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_r_docs_name_only_tests_that_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    references = REFERENCE.findall(text)
    assert len(references) >= 50
    missing = []
    for file, name in sorted(set(references)):
        path = HERE / file
        if not path.is_file() or name not in defined_functions(path):
            missing.append(f"{file}::{name}")
    assert missing == [], f"docs/reliability.md names tests that do not exist: {missing}"


def test_r_docs_have_a_row_for_every_item() -> None:
    rows = {int(n): rest for n, rest in ROW.findall(DOC.read_text(encoding="utf-8"))}
    assert sorted(rows) == list(range(1, 51))
    # Each row names at least one test, or says that its test is still to be written.
    bare = [n for n, rest in rows.items() if not REFERENCE.search(rest) and "(pending)" not in rest]
    assert bare == []


def test_r_docs_list_every_item_test() -> None:
    """Every ``test_rNN_...`` of tests/reliability is on the page."""
    text = DOC.read_text(encoding="utf-8")
    unlisted = [
        f"{file.name}::{name}"
        for file in sorted(HERE.glob("test_r_*.py"))
        for name in sorted(defined_functions(file))
        if re.match(r"test_r\d\d_", name) and f"`tests/reliability/{file.name}::{name}`" not in text
    ]
    assert unlisted == [], f"docs/reliability.md does not list {unlisted}"

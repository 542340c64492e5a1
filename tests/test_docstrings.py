"""The examples in the docstrings run and give what they show (the web app's pages are left
out: importing them draws the page)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import custseg

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(custseg.__path__, "custseg.")
    if not m.name.startswith("custseg.app")
)


def test_modules_found() -> None:
    assert "custseg.models.structure" in MODULES and len(MODULES) > 50


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS, verbose=False)
    failures: list[str] = []
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)

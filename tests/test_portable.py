"""The portable definitions and the DuckDB SQL shipped with custseg stay one and the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from custseg.clean import NON_PRODUCT_CODES
from custseg.engines import portable


def test_shipped_duckdb_sql_equals_a_fresh_compilation() -> None:
    shipped = json.loads(portable.PRECOMPILED.read_text(encoding="utf-8"))["queries"]
    usual = portable.usual_shapes(list(NON_PRODUCT_CODES))
    assert len(shipped) == len(usual) == 12
    for name, shape in usual:
        frozen = portable._freeze(shape)
        key = portable._key(name, "", frozen)
        # Regenerate with: python -m custseg.engines.portable
        assert shipped[key] == portable._compile("duckdb", name, "", frozen), key


def test_other_shapes_are_compiled_and_the_date_is_a_parameter() -> None:
    sql = portable.compiled("duckdb", "classify", non_product_codes=["X1"], has_invoice=True)
    assert "'X1'" in sql and sql.count("?") == 1
    assert "1234" not in sql  # the date marker is gone


def test_a_file_job_needs_no_ibis(tmp_path: Path, tiny_lines: Path) -> None:
    code = (
        "import sys, custseg\n"
        f"features, _ = custseg.build_features({str(tiny_lines)!r})\n"
        "assert len(features) == 3\n"
        "assert 'ibis' not in sys.modules, 'ibis was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

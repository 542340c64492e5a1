"""Tables users open in spreadsheets (CSV, Excel) and re-rendering a saved result."""

from __future__ import annotations

import dataclasses
import json
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import custseg
from custseg.export import (
    EXCEL_MAX_ROWS,
    neutralize,
    neutralize_column,
    safe_frame,
    unneutralize,
    unneutralize_column,
    write_csv,
    write_xlsx,
)

FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")']


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_is_neutralized(text: str) -> None:
    assert neutralize(text) == "'" + text


@pytest.mark.parametrize("value", ["-5", "+3.5", "-1e3", "abc", "a=b", -5, -2.5, None])
def test_numbers_and_plain_text_stay(value: object) -> None:
    assert neutralize(value) == value


def test_csv_neutralizes_cells_and_column_names(tmp_path: Path) -> None:
    frame = pd.DataFrame({"=name": ["=cmd|' /C calc'!A0", "ok"], "value": [-5.5, 2.0]})
    write_csv(frame, tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_text(encoding="utf-8")
    assert text.splitlines() == ["'=name,value", "'=cmd|' /C calc'!A0,-5.5", "ok,2.0"]
    assert safe_frame(frame)["value"].tolist() == [-5.5, 2.0]


TRICKY = ["=1", "-5", "-5\n", "+x", "ok", None, "@", "\t1", "\rq", "-1e3", "", "-", "-.5"]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(TRICKY, dtype="str"),
        pd.Series(TRICKY, dtype="string"),
        pd.Series([*TRICKY[:6], 5, np.nan, b"=x", 2.5, True, "@a", pd.NA], dtype=object),
        pd.Series(TRICKY, dtype="category"),
        pd.Series([None] * 13, dtype=object),
        pd.Series(range(13), dtype=object),
        pd.Series(np.arange(13.0) - 6),
    ],
    ids=["str", "string", "mixed", "category", "none", "ints", "float"],
)
def test_vectorised_neutralization_is_neutralize_cell_by_cell(column: pd.Series) -> None:
    expected = (
        column.map(neutralize)
        if column.dtype == object or pd.api.types.is_string_dtype(column)
        else column
    )
    frame = pd.DataFrame({"=c": column, "n": range(13)})
    safe = safe_frame(frame)
    assert list(safe.columns) == ["'=c", "n"]
    assert safe["'=c"].tolist() == expected.tolist() == neutralize_column(column).tolist()
    assert safe.to_csv(index=False) == frame.set_axis(["'=c", "n"], axis=1).assign(
        **{"'=c": expected}
    ).to_csv(index=False)
    assert frame["=c"].equals(column)  # the input is left alone


@pytest.mark.parametrize("dtype", ["str", object, "category"])
def test_vectorised_unneutralization_is_unneutralize_cell_by_cell(dtype: Any) -> None:
    def cells(values: pd.Series) -> list[Any]:
        return [None if pd.isna(v) else v for v in values.tolist()]

    column = pd.Series(["'=1", "'quoted", "'", "''=x", None, "x", "'-5", "'@a", "=1"], dtype=dtype)
    expected = cells(column.map(unneutralize))
    assert cells(unneutralize_column(column)) == expected
    # "''=x" is how "'=x" is written (one apostrophe more), so it reads back as that.
    assert expected == ["=1", "'quoted", "'", "'=x", None, "x", "-5", "@a", "=1"]
    plain = pd.Series(["=1", "-5", "x", None, "@a", "+"], dtype=dtype)
    assert cells(unneutralize_column(neutralize_column(plain))) == cells(plain)


def test_xlsx_keeps_numbers_and_neutralizes_text(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "label": [*FORMULAS, "plain"],
            "number": [-5.0, -1, 0, 2.5, np.nan, 7, 8, 9],
            "as_text": ["-5", "x", "y", "z", None, "a", "b", "c"],
        }
    )
    notes = write_xlsx({"Sheet one": frame, "@other": frame.head(1)}, tmp_path / "t.xlsx")
    assert notes == []
    book = load_workbook(tmp_path / "t.xlsx")
    assert book.sheetnames == ["Sheet one", "@other"]
    rows = list(book["Sheet one"].iter_rows(values_only=True))
    assert rows[0] == ("label", "number", "as_text")
    # (A carriage return is stored escaped, as _x000D_, which Excel reads back as one;
    # openpyxl shows the escape.)
    expected = ["'" + f.replace("\r", "_x000D_") for f in FORMULAS]
    assert [r[0] for r in rows[1:]] == [*expected, "plain"]
    # Real numbers are number cells (negative ones too); missing values are empty cells.
    assert [r[1] for r in rows[1:]] == [-5, -1, 0, 2.5, None, 7, 8, 9]
    assert rows[1][2] == "-5"
    cells = [c for row in book["Sheet one"].iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert book["Sheet one"]["B2"].data_type == "n"


def test_xlsx_keeps_text_with_control_characters(tmp_path: Path) -> None:
    # XML cannot hold most control characters as they are: they are escaped (Excel reads
    # "_x0001_" back as the character), never a reason to fail.
    frame = pd.DataFrame({"name": ["a\x01b", "tab\tin", "_x0041_ as typed"], "n": [1, 2, 3]})
    write_xlsx({"Customers": frame}, tmp_path / "t.xlsx")
    rows = list(load_workbook(tmp_path / "t.xlsx")["Customers"].iter_rows(values_only=True))
    assert rows == [
        ("name", "n"),
        ("a_x0001_b", 1),
        ("tab\tin", 2),
        ("_x005F_x0041_ as typed", 3),
    ]


def test_xlsx_cuts_a_table_longer_than_a_sheet(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("custseg.export.EXCEL_MAX_ROWS", 4)
    notes = write_xlsx({"Customers": pd.DataFrame({"a": range(10)})}, tmp_path / "t.xlsx")
    rows = list(load_workbook(tmp_path / "t.xlsx")["Customers"].iter_rows(values_only=True))
    assert rows == [("a",), (0,), (1,), (2,)]
    assert notes == [
        "Sheet 'Customers' holds the first 3 of 10 rows (the Excel limit); the CSV has them all."
    ]
    assert EXCEL_MAX_ROWS == 1_048_576


# ---------------------------------------------------------------- a saved result


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    rng = np.random.default_rng(3)
    n = 120
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "age": np.r_[rng.normal(25, 2, n // 2), rng.normal(60, 3, n // 2)].round(),
            "balance": np.r_[rng.normal(-300, 50, n // 2), rng.normal(900, 80, n // 2)],
            # Formula-like categories must survive the CSV round trip.
            # (Related to the segments: a random category would be left out of the model.)
            "plan": np.r_[
                rng.choice(["=basic", "standard"], size=n // 2, p=[0.85, 0.15]),
                rng.choice(["-premium", "standard"], size=n // 2, p=[0.85, 0.15]),
            ],
        }
    )
    frame.loc[3, "age"] = np.nan
    frame.loc[4, "plan"] = None
    result = custseg.segment(frame, algorithm="kmeans", seed=0)
    # A formula-like segment name must be neutralized in every table too.
    result = result.rename({0: "=cmd|' /C calc'!A0"})
    return result, result.save(tmp_path_factory.mktemp("out") / "run")


def test_segments_xlsx_holds_every_table(saved: tuple[Any, Path]) -> None:
    result, folder = saved
    book = load_workbook(folder / "segments.xlsx")
    assert book.sheetnames == [
        "Segments",
        "Profiles",
        "Customers",
        "Cleaning",
        "Candidates",
        "Columns",
        "Features",
    ]
    features = list(book["Features"].iter_rows(values_only=True))
    assert features[0] == ("column", "label", "unit", "better_when", "how_computed")
    by_column = {row[0]: row for row in features[1:]}
    assert set(by_column) == set(result.metrics["features"])
    assert by_column["balance"][1] == "Balance"
    customers = list(book["Customers"].iter_rows(values_only=True))
    assert len(customers) == len(result.segments) + 1
    header = customers[0]
    balance = [row[header.index("balance")] for row in customers[1:]]
    assert all(isinstance(v, float) for v in balance) and min(balance) < 0
    plans = {row[header.index("plan")] for row in customers[1:]}
    assert plans == {"'=basic", "standard", "'-premium", None}
    names = [row[1] for row in list(book["Segments"].iter_rows(values_only=True))[1:]]
    assert names == [neutralize(n) for n in result.profiles["segment_name"]]
    assert any(str(n).startswith("'") for n in names)


def test_a_long_customer_list_is_left_to_the_csv(
    saved: tuple[Any, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = dataclasses.replace(saved[0], metrics=deepcopy(saved[0].metrics))
    monkeypatch.setattr("custseg.result.XLSX_MAX_CUSTOMERS", len(result.segments) - 1)
    folder = result.save(tmp_path / "long")
    note = (
        f"The Customers sheet of segments.xlsx lists no customers: {len(result.segments):,} are "
        f"more than the {len(result.segments) - 1:,} the workbook holds. segments.csv has every "
        "customer."
    )
    book = load_workbook(folder / "segments.xlsx")
    assert list(book["Customers"].iter_rows(values_only=True)) == [("note",), (note,)]
    assert json.loads((folder / "metrics.json").read_text())["export_notes"] == [note]
    assert note in (folder / "report.html").read_text(encoding="utf-8")
    assert len(pd.read_csv(folder / "segments.csv")) == len(result.segments)


def test_load_result_gives_back_the_same_result(saved: tuple[Any, Path]) -> None:
    result, folder = saved
    loaded = custseg.load_result(folder)
    np.testing.assert_array_equal(loaded.labels, result.labels)
    np.testing.assert_allclose(loaded.model_inputs, result.model_inputs, rtol=0, atol=1e-9)
    assert loaded.segments["plan"].tolist() == result.segments["plan"].tolist()
    assert loaded.metrics["k"] == result.metrics["k"]


def test_report_command_renders_the_same_report(run_cli: Any, saved: tuple[Any, Path]) -> None:
    _, folder = saved
    before = (folder / "report.html").read_bytes()
    (folder / "report.html").unlink()
    code, out, err = run_cli("report", folder)
    assert (code, err) == (0, "")
    assert "Report:" in out
    assert (folder / "report.html").read_bytes() == before


@pytest.fixture()
def copy(saved: tuple[Any, Path], tmp_path: Path) -> Path:
    """A copy of the saved output folder, free to edit."""
    import shutil

    return Path(shutil.copytree(saved[1], tmp_path / "copy"))


def test_report_command_shows_renamed_segments(run_cli: Any, copy: Path, tmp_path: Path) -> None:
    profiles = pd.read_csv(copy / "profiles.csv")
    profiles.loc[0, "segment_name"] = "Renamed <b>by hand</b>"
    profiles.to_csv(copy / "profiles.csv", index=False)
    code, _, err = run_cli("report", copy, "--out", tmp_path / "again.html", "-q")
    assert (code, err) == (0, "")
    page = (tmp_path / "again.html").read_text(encoding="utf-8")
    assert "Renamed &lt;b&gt;by hand&lt;/b&gt;" in page
    assert "Renamed <b>" not in page


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        (lambda d: None, "is not a folder"),
        (lambda d: d.mkdir(), "lacks segments.csv, profiles.csv, metrics.json, model.skops"),
    ],
)
def test_report_command_refuses_what_is_not_an_output_folder(
    run_cli: Any, tmp_path: Path, setup: Any, match: str
) -> None:
    folder = tmp_path / "nothing"
    setup(folder)
    code, _, err = run_cli("report", folder)
    assert code == 2
    assert err.startswith("error: ") and match in err and len(err.splitlines()) == 1


def test_report_command_refuses_broken_metrics(run_cli: Any, copy: Path) -> None:
    (copy / "metrics.json").write_text("{not json", encoding="utf-8")
    code, _, err = run_cli("report", copy)
    assert code == 2 and "is not valid JSON" in err


def test_rename_reaches_every_output(saved: tuple[Any, Path], tmp_path: Path) -> None:
    result, _ = saved
    renamed = result.rename({0: "  Big   <b>fans</b> "})
    assert renamed.profiles["segment_name"].iloc[0] == "Big <b>fans</b>"
    assert (renamed.segments.loc[result.labels == 0, "segment_name"] == "Big <b>fans</b>").all()
    assert renamed.metrics["segments"][0]["segment_name"] == "Big <b>fans</b>"
    assert renamed.model.segment_names[0] == "Big <b>fans</b>"
    # The original is untouched, and predict on the renamed model uses the new name.
    assert result.profiles["segment_name"].iloc[0] != "Big <b>fans</b>"
    assert result.model.segment_names[0] != "Big <b>fans</b>"
    features = result.segments.drop(columns=["segment", "segment_name"])
    scored = renamed.model.label_frame(features, renamed.model.assign(features))
    assert scored["segment_name"].tolist() == renamed.segments["segment_name"].tolist()
    assert "Big &lt;b&gt;fans&lt;/b&gt;" in renamed.report_html()


@pytest.mark.parametrize(
    ("names", "match"),
    [
        ({99: "x"}, "There is no segment 99 to rename"),
        ({0: "  "}, "The new name of segment 0 is empty"),
        ({0: "same", 1: "same"}, "Two segments would be called 'same'"),
    ],
)
def test_rename_refuses_bad_names(saved: tuple[Any, Path], names: Any, match: str) -> None:
    with pytest.raises(custseg.InputError, match=match):
        saved[0].rename(names)

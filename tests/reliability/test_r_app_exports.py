"""RELIABILITY.md 40-49: the web app, the report and the exports, resources.

One segmentation of a hostile customer table (ids, column names, categories and the file
name that are markup or formulas) is shared by the report and export tests; the app tests
drive the Streamlit app with ``AppTest`` (no browser).
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import custseg
from custseg.export import (
    EXACT_IDS_FILE,
    FORMULA_START,
    neutralize,
    neutralized_ids_note,
    unneutralize,
    write_csv,
    write_xlsx,
)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
FORMULA_IDS = ["@SUM(1)", "=1+1", "+x1", "'=x", '=HYPERLINK("http://x")']
"""Customer ids a spreadsheet would run (and one that already looks neutralized)."""


def hostile_table(n: int = 60) -> pd.DataFrame:
    """A customer table whose ids, column names and categories are formulas or markup."""
    rng = np.random.default_rng(7)
    big = np.arange(n) % 2 == 0
    ids = [f"C{i:03d}" for i in range(n)]
    ids[: len(FORMULA_IDS)] = FORMULA_IDS
    ids[len(FORMULA_IDS)] = "-5"  # a number: stays as it is
    return pd.DataFrame(
        {
            "customer_id": ids,
            SCRIPT: np.where(big, rng.normal(90, 5, n), rng.normal(30, 5, n)).round(1),
            "balance": np.where(big, rng.normal(-40, 5, n), rng.normal(20, 5, n)).round(2),
            IMG: np.where(big, IMG, '=HYPERLINK("http://x")'),
        }
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The hostile table segmented (k-means, k = 2) and saved, with the stages reported."""
    folder = tmp_path_factory.mktemp("hostile")
    source = folder / "<b>shop<i>.csv"
    table = hostile_table()
    table.to_csv(source, index=False)
    stages: list[str] = []
    result = custseg.segment(source, k=2, algorithm="kmeans", progress=stages.append)
    out = result.save(folder / "out")
    return {"table": table, "result": result, "out": out, "stages": stages}


# ----------------------------------------------------------------------------- 40-44: app

pytest.importorskip("streamlit")

from streamlit.testing.v1 import AppTest  # noqa: E402

from custseg.app import _state, main_script  # noqa: E402
from custseg.cli.app import streamlit_args  # noqa: E402

TIMEOUT = 240  # seconds per script run: the test machines are shared


def app() -> AppTest:
    at = AppTest.from_file(str(main_script()), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader(key="data_upload").set_value((name, content, "text/csv"))
    return at.run()


def errors(at: AppTest) -> list[str]:
    """The error boxes as the browser shows them (the app escapes markdown)."""
    return [re.sub(r"\\(.)", r"\1", str(e.value)) for e in at.error]


def customers_csv(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    ids = [f"K{seed}-{i}" for i in range(n)]
    return (
        pd.DataFrame(
            {"id": ids, "income": rng.normal(50, 9, n).round(1), "age": rng.integers(18, 80, n)}
        )
        .to_csv(index=False)
        .encode()
    )


def test_r40_upload_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_state, "APP_MAX_UPLOAD_MB", 0)
    at = upload(app(), "orders.csv", customers_csv(40, 1))
    assert not at.exception
    assert len(at.error) == 1
    assert "more than the app's limit of 0 MB" in errors(at)[0]
    assert "custseg segment FILE" in errors(at)[0]  # says what to do instead
    monkeypatch.undo()  # the app stays usable: a file within the limit is read
    at = upload(at, "orders.csv", customers_csv(40, 2))
    assert not at.exception and not at.error
    assert "40 customers" in at.success[0].value


def test_r40_the_app_checks_the_size_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Also when Streamlit's own limit is raised: the smaller of the two wins."""
    monkeypatch.setattr(_state, "APP_MAX_UPLOAD_MB", 1)
    with pytest.raises(custseg.InputError, match=r"File 'big\.csv' is 1\.0 MB, more than"):
        _state.store_upload("big.csv", b"x" * (1024 * 1024 + 1))
    args = streamlit_args(None, [])
    limit = args[args.index("--server.maxUploadSize") + 1]
    assert limit == str(custseg.app.APP_MAX_UPLOAD_MB)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("orders.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 60, "orders.xls"),
        ("orders.json", b'{"a": 1}', "JSON is not supported"),
        ("orders.csv", b"PK\x03\x04" + b"\0" * 60, "is not a valid CSV file"),
        ("orders.xlsx", b"not a workbook", "is not a valid .xlsx workbook"),
    ],
    ids=["xls", "json", "zip-as-csv", "text-as-xlsx"],
)
def test_r41_disallowed_type_is_rejected_and_the_app_stays_usable(
    name: str, content: bytes, message: str
) -> None:
    at = upload(app(), name, content)
    assert not at.exception
    assert len(at.error) == 1 and message in errors(at)[0], errors(at)
    assert "Traceback" not in errors(at)[0]
    at = upload(at, "good.csv", customers_csv(30, 3))
    assert not at.exception and not at.error
    assert "30 customers" in at.success[0].value


def test_r42_an_internal_error_shows_the_apps_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(src: Any) -> Any:
        raise RuntimeError("secret detail in /srv/custseg/private.py")

    monkeypatch.setattr(_state, "preview", broken)
    at = upload(app(), "orders.csv", customers_csv(30, 4))
    assert not at.exception  # caught by the app, not Streamlit's exception box
    shown = errors(at)
    assert len(shown) == 1
    assert shown[0].startswith("Internal error (RuntimeError). This is a bug in custseg")
    assert "secret" not in shown[0] and "Traceback" not in shown[0]
    monkeypatch.undo()
    at.run()
    assert not at.exception and not at.error  # the app still works


def test_r42_error_details_are_hidden_by_the_command_line() -> None:
    for extra in ([], ["--server.port", "8600"], ["--client.toolbarMode", "minimal"]):
        args = streamlit_args(None, extra)
        assert args[args.index("--client.showErrorDetails") + 1] == "none"


def test_r43_xsrf_protection_stays_on() -> None:
    from streamlit import config

    for extra in ([], ["--server.enableCORS", "false"], ["--server.address", "0.0.0.0"]):
        args = streamlit_args(None, extra)
        assert args[args.index("--server.enableXsrfProtection") + 1] == "true"
    assert config.get_option("server.enableXsrfProtection") is True  # Streamlit's default too


def test_r43_the_app_warns_when_xsrf_protection_is_off() -> None:
    from streamlit import config

    before = config.get_option("server.enableXsrfProtection")
    assert before and not app().sidebar.warning  # on: nothing to say
    config.set_option("server.enableXsrfProtection", False)
    try:
        at = app()
    finally:
        config.set_option("server.enableXsrfProtection", before)
    warnings = [str(w.value) for w in at.sidebar.warning]
    assert len(warnings) == 1 and warnings[0].startswith("XSRF protection is off")
    assert "Restart it without that flag" in warnings[0]


def test_r44_two_sessions_do_not_see_each_others_data() -> None:
    """Two users upload different files under the same name: each sees their own (the
    caches are keyed by the content hash, not the name), in their own folder."""
    first = upload(app(), "orders.csv", customers_csv(30, 5))
    second = upload(app(), "orders.csv", customers_csv(45, 6))
    for at, n in ((first, 30), (second, 45)):
        assert not at.exception and not at.error
        assert f"{n} customers" in at.success[0].value
        assert f"orders.csv: {n:,} rows" in [t.value for t in at.text][0]
    a, b = first.session_state[_state.SOURCE], second.session_state[_state.SOURCE]
    assert a.name == b.name and a.digest != b.digest
    assert Path(a.path).parent.parent.parent != Path(b.path).parent.parent.parent
    first.run()  # drawn again after the other session read its file
    assert "30 customers" in first.success[0].value


def module_state(path: Path) -> list[str]:
    """Names bound at module level to a mutable value (a dict, list or set display or
    comprehension, or a call) that are not UPPER_CASE constants, and any ``global``."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mutable = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp, ast.Call)
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign) and isinstance(node.value, mutable):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and isinstance(node.value, mutable):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and not target.id.isupper() and target.id != "__all__":
                found.append(f"{path.name}: {target.id}")
    found += [f"{path.name}: global" for n in ast.walk(tree) if isinstance(n, ast.Global)]
    return found


def test_r44_the_app_keeps_no_data_in_module_globals() -> None:
    folder = Path(_state.__file__).parent
    files = sorted(folder.rglob("*.py"))
    assert len(files) >= 10
    # The entry script and the page scripts run once per session and rerun: their names
    # live in that run only. The other modules are imported once and shared by every session.
    shared = [p for p in files if p.parent.name != "pages" and p.name != "main.py"]
    found = [name for p in shared for name in module_state(p)]
    assert found == [], found
    # Nor are upper-case names containers filled at run time (a cache in a module global).
    containers = {"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque"}
    filled = [
        f"{p.name}: {n.targets[0].id}"
        for p in shared
        for n in ast.parse(p.read_text(encoding="utf-8")).body
        if isinstance(n, ast.Assign)
        and isinstance(n.value, ast.Call)
        and isinstance(n.value.func, ast.Name)
        and n.value.func.id in containers
        and isinstance(n.targets[0], ast.Name)
    ]
    assert filled == [], filled


# ----------------------------------------------------------------------------- 45-46: report


def test_r45_script_in_names_is_escaped(hostile: dict[str, Any]) -> None:
    html = (hostile["out"] / "report.html").read_text(encoding="utf-8")
    for raw in (SCRIPT, "<script>alert", IMG, "<img src=x", "<b>shop<i>"):
        assert raw not in html, raw
    # ... and they are shown as text: escaped in the page, \u003c-escaped in the figures.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\\u003cimg src=x onerror=alert(2)\\u003e" in html or "&lt;img src=x" in html
    assert "&lt;b&gt;shop&lt;i&gt;.csv" in html
    assert "<img" not in html.lower()
    body = html.split("</head>", 1)[1]  # no name opens or closes a script element
    assert len(re.findall("<script", body, re.I)) == len(re.findall("</script", body, re.I))


@pytest.mark.slow
def test_r45_markup_in_invoice_lines_is_escaped(tmp_path: Path) -> None:
    """Product descriptions, stock codes and countries of invoice lines."""
    lines, _ = custseg.datasets.make_transactions(80, n_segments=2, seed=1)
    first = lines["CustomerID"] == lines["CustomerID"].iloc[0]
    lines.loc[first, "Description"] = SCRIPT
    lines.loc[first, "Country"] = IMG
    lines.loc[lines.index[:5], "StockCode"] = "<svg onload=alert(3)>"
    html = custseg.segment(lines, k=2, algorithm="kmeans").report_html()
    for raw in (SCRIPT, IMG, "<svg onload", "<img"):
        assert raw not in html, raw
    assert "&lt;img src=x onerror=alert(2)&gt;" in html or "\\u003cimg src=x" in html


def test_r46_formula_cells_are_neutralised_in_csv_and_xlsx(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["=1+1", "@SUM(A1)", "-5", "+x", "\tcmd", "\rq", "ok"],
            "=name": ["-1+1", "a", "b", "c", "d", "e", "f"],
            "balance": [-5.5, -1.0, 2.0, 0.0, -3.25, 4.0, -1e6],
        }
    )
    write_csv(frame, tmp_path / "t.csv")
    with (tmp_path / "t.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["customer_id", "'=name", "balance"]
    # A carriage return is written as a quoted line feed: the row is not broken there.
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'@SUM(A1)", "-5", "'+x", "'\tcmd", "'\nq", "ok"]
    assert rows[1][1] == "'-1+1"
    assert [r[2] for r in rows[1:]] == ["-5.5", "-1.0", "2.0", "0.0", "-3.25", "4.0", "-1000000.0"]

    from openpyxl import load_workbook

    write_xlsx({"Customers": frame}, tmp_path / "t.xlsx")
    sheet = load_workbook(tmp_path / "t.xlsx", read_only=True)["Customers"]
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == ["customer_id", "'=name", "balance"]
    # xlsxwriter stores a carriage return as _x000D_, which Excel reads as the character.
    ids = [str(r[0]).replace("_x000D_", "\r") for r in cells[1:]]
    assert ids == ["'=1+1", "'@SUM(A1)", "-5", "'+x", "'\tcmd", "'\rq", "ok"]
    assert [r[2] for r in cells[1:]] == frame["balance"].tolist()  # number cells, negatives too
    for row in sheet.iter_rows(min_row=2):
        assert row[2].data_type == "n"
        assert row[0].data_type == "s"


def test_r46_saved_outputs_are_neutralised(hostile: dict[str, Any]) -> None:
    out = hostile["out"]
    with (out / "segments.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ids = [r["customer_id"] for r in rows]
    assert ids[:6] == ["'@SUM(1)", "'=1+1", "'+x1", "''=x", '\'=HYPERLINK("http://x")', "-5"]
    assert rows[0]["balance"].lstrip("-")[0].isdigit()  # numbers stay numbers
    assert any(r["balance"].startswith("-") for r in rows)
    assert {r[IMG] for r in rows} == {IMG, '\'=HYPERLINK("http://x")'}

    from openpyxl import load_workbook

    book = load_workbook(out / "segments.xlsx", read_only=True)
    texts = [
        c.value
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for c in row
        if isinstance(c.value, str)
    ]
    risky = [t for t in texts if t.startswith(FORMULA_START) and neutralize(t) != t]
    assert risky == []
    assert "'@SUM(1)" in texts
    negative = [
        c.value
        for row in book["Customers"].iter_rows(min_row=2)
        for c in row
        if isinstance(c.value, float) and c.value < 0
    ]
    assert negative  # the negative balances are number cells


def test_r46_neutralised_ids_keep_a_join_key(hostile: dict[str, Any]) -> None:
    out, table, result = hostile["out"], hostile["table"], hostile["result"]
    exact = pd.read_parquet(out / EXACT_IDS_FILE)
    assert list(exact.columns) == ["customer_id", "segment", "segment_name"]
    assert exact["customer_id"].tolist() == table["customer_id"].tolist()
    joined = table.merge(exact, on="customer_id", how="left", validate="one_to_one")
    assert joined["segment"].notna().all()  # every CRM id joins
    assert joined["segment"].tolist() == result.segments["segment"].tolist()
    note = neutralized_ids_note(result.segments)
    assert note is not None and note.startswith(
        f"{len(FORMULA_IDS)} customer ids start like a spreadsheet formula (e.g. '@SUM(1)')"
    )
    assert note in result.metrics["export_notes"]
    import json

    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert note in metrics["export_notes"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f"{len(FORMULA_IDS)} customer ids start like a spreadsheet formula" in html
    # custseg.load_result reads the original ids back from segments.csv.
    back = custseg.load_result(out)
    assert back.segments["customer_id"].tolist() == table["customer_id"].tolist()


def test_r46_no_join_file_when_no_id_was_neutralised(tmp_path: Path) -> None:
    segments = pd.DataFrame({"customer_id": ["1", "-5", "a=b"], "segment": [0, 1, 0]})
    assert neutralized_ids_note(segments) is None
    assert neutralized_ids_note(segments.assign(customer_id=["1", "@a", "-x"])) == (
        "2 customer ids start like a spreadsheet formula (e.g. '@a'): segments.csv and "
        'segments.xlsx write them with a leading apostrophe ("\'@a") so that a spreadsheet '
        "does not run them. segments.parquet has every customer's id exactly as in your file, "
        "to join back on; or drop that one apostrophe (custseg.load_result does)."
    )


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.text(max_size=20) | st.from_regex(r"\A'*[=+\-@\t\r'0-9.eE]{0,6}\Z"))
def test_r46_neutralize_round_trips_every_text(text: str) -> None:
    safe = neutralize(text)
    assert unneutralize(safe) == text
    assert not str(safe).startswith(FORMULA_START) or safe == text  # only numbers stay so
    if safe == text and text.startswith(FORMULA_START):
        float(text)  # text left starting with - or + is a number


@pytest.mark.slow
def test_r46_the_command_line_notes_neutralised_ids(
    run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    source = tmp_path / "customers.csv"
    hostile_table().to_csv(source, index=False)
    code, out, err = run_cli("segment", source, "--out", tmp_path / "out", "--k", "2", "-q")
    assert code == 0, err
    code, out, err = run_cli("segment", source, "--out", tmp_path / "out", "--k", "2")
    assert code == 0, err
    assert f"note: {len(FORMULA_IDS)} customer ids start like a spreadsheet formula" in out
    assert (tmp_path / "out" / EXACT_IDS_FILE).is_file()


@pytest.mark.slow
def test_r46_the_app_offers_the_join_key() -> None:
    at = upload(app(), "customers.csv", hostile_table().to_csv(index=False).encode())
    assert not at.exception and not at.error
    at.switch_page("pages/segment.py").run()
    at.selectbox[0].set_value("kmeans")
    at.button[0].click().run()
    assert not at.exception and not at.error, errors(at)
    at.switch_page("pages/download.py").run()
    assert not at.exception and not at.error, errors(at)
    assert EXACT_IDS_FILE in [b.label for b in at.get("download_button")]
    _, files = at.session_state[_state.BUILT]["files"]
    exact = pd.read_parquet(io.BytesIO(files.wait()[EXACT_IDS_FILE]))
    assert exact["customer_id"].tolist()[: len(FORMULA_IDS)] == FORMULA_IDS
    captions = [re.sub(r"\\(.)", r"\1", str(c.value)) for c in at.caption]
    assert any(
        f"{len(FORMULA_IDS)} customer ids start like a spreadsheet formula" in c for c in captions
    )


# ----------------------------------------------------------------------------- 47-49: resources


def test_r47_progress_names_the_stages(hostile: dict[str, Any]) -> None:
    stages = hostile["stages"]
    assert len(stages) >= 4, stages
    text = " ".join(stages).lower()
    for word in ("read", "features", "segment"):
        assert word in text, stages


def test_r47_duckdb_spills_within_a_memory_limit() -> None:
    from custseg.engines.duckdb import DuckDBEngine, default_memory_limit, engine_settings

    with engine_settings(memory_limit="256MB"), DuckDBEngine() as engine:
        assert engine.memory_limit == 256 * 1000**2
        shown = str(engine.scalar("SELECT current_setting('memory_limit')"))
        assert shown.endswith(("MB", "MiB")) and 200 <= float(shown.split()[0]) <= 260, shown
        assert str(engine.scalar("SELECT current_setting('temp_directory')"))  # spills to disk
    limit = default_memory_limit()
    assert limit is None or limit <= 4 * 1000**3


def test_r48_id_like_and_high_cardinality_columns_are_not_one_hot_encoded() -> None:
    from custseg.preprocess import MAX_CATEGORIES, build_preprocessor, plan_columns

    n = 400
    rng = np.random.default_rng(3)
    city = rng.integers(0, 60, n)
    frame = pd.DataFrame(
        {
            "income": city * 3.0 + rng.normal(0, 1, n),
            "email": [f"user{i}@example.com" for i in range(n)],
            "city": [f"city {c}" for c in city],
        }
    )
    plan = plan_columns(frame, ["income"], ["email", "city"])
    assert plan.dropped["email"] == f"id-like text ({n} distinct values in {n} rows)"
    assert any("'email' left out: id-like" in note for note in plan.notices)
    X = build_preprocessor(plan).fit_transform(frame)
    assert X.shape[1] <= 1 + MAX_CATEGORIES, X.shape  # not 60 + 400 columns
    if "city" in plan.categorical:
        assert any(f"'city' has 60 categories; the {MAX_CATEGORIES - 1}" in n for n in plan.notices)
    else:
        assert "city" in plan.dropped


def test_r49_silhouette_and_ward_are_sampled_on_many_customers() -> None:
    from custseg.evaluate import SILHOUETTE_SAMPLE, SilhouetteSample
    from custseg.models.hierarchical import HierarchicalClustering

    rng = np.random.default_rng(0)
    X = rng.normal(size=(SILHOUETTE_SAMPLE + 500, 2)).astype(np.float64)
    sample = SilhouetteSample(X)
    assert sample.sampled and sample.sample_size == SILHOUETTE_SAMPLE
    assert sample.distances.shape == (SILHOUETTE_SAMPLE, SILHOUETTE_SAMPLE)
    ward = HierarchicalClustering(n_clusters=2, max_fit_samples=300).fit(X[:2000])
    assert ward.sampled_ and len(ward.labels_) == 2000


def test_r49_the_report_says_it_sampled(hostile: dict[str, Any]) -> None:
    from custseg.report import build_report_data

    result = hostile["result"]
    metrics = {**result.metrics, "silhouette_sampled": True, "silhouette_sample_size": 50}
    data = build_report_data(dataclasses.replace(result, metrics=metrics))
    note = data["k_selection"]["silhouette_note"]
    assert note.startswith("Silhouette was computed on a seeded random sample of 50 of the 60")
    assert any(note in item for item in data["limitations"])
    plain = build_report_data(result)["k_selection"]["silhouette_note"]
    assert "no sampling" in plain


def test_r45_report_data_survives_a_round_trip(hostile: dict[str, Any]) -> None:
    """The report rendered again from the saved folder is as escaped (and the same)."""
    html = custseg.load_result(hostile["out"]).report_html()
    assert SCRIPT not in html and IMG not in html
    assert io.StringIO(html).read() == (hostile["out"] / "report.html").read_text("utf-8")

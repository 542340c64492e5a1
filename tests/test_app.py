"""The web app, page by page, with Streamlit's AppTest (no browser), and ``custseg app``."""

from __future__ import annotations

import importlib.util
import io
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import custseg

pytest.importorskip("streamlit")

from streamlit.testing.v1 import AppTest  # noqa: E402

from custseg.app import _compare as compare  # noqa: E402
from custseg.app import _state, main_script  # noqa: E402
from custseg.cli.app import SAFE_DEFAULTS, streamlit_args  # noqa: E402

TIMEOUT = 240  # seconds per script run: generous, the test machines are shared


@pytest.fixture(scope="module")
def lines_csv() -> bytes:
    """Invoice lines of 120 synthetic customers in 3 planted segments, as CSV bytes."""
    lines, _ = custseg.datasets.make_transactions(120, n_segments=3, seed=1)
    return lines.to_csv(index=False).encode("utf-8")


def start() -> AppTest:
    at = AppTest.from_file(str(main_script()), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def upload(at: AppTest, name: str, content: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader(key="data_upload").set_value((name, content, mime))
    return at.run()


def segment(at: AppTest, algorithm: str = "kmeans") -> AppTest:
    """Run a segmentation on the Segment page; a finished run shows the Segments page, which
    the test then stays on (AppTest would run the Segment page again otherwise)."""
    at.switch_page("pages/segment.py").run()
    at.selectbox[0].set_value(algorithm)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Segments"
    return at.switch_page("pages/segments.py")


def rename(at: AppTest, segment: int, name: str) -> AppTest:
    """Rename ``segment`` with the form at the top of the Segments page."""
    key = _state.picker_key("rename_pick", at.session_state[_state.RESULT])
    at.selectbox(key=key).set_value(segment)
    at.text_input(key="rename_name").set_value(name)
    next(b for b in at.button if b.label == "Apply").click().run()
    assert not at.exception, at.exception
    return at


def built(at: AppTest, name: str) -> Any:
    """What the session built once for the current result (see ``_state.memo``)."""
    key, value = at.session_state[_state.BUILT][name]
    assert key == at.session_state[_state.RESULT]["key"]
    return value


def plain(markdown: str) -> str:
    """Markdown escaped by the app, as the browser shows it."""
    return re.sub(r"\\(.)", r"\1", markdown)


def texts(at: AppTest) -> str:
    """Everything the page shows as text, to search."""
    parts: list[Any] = []
    for kind in ("markdown", "text", "caption", "success", "info", "warning", "error"):
        parts += [e.value for e in at.get(kind)]
    return "\n".join(plain(str(p)) for p in parts)


def test_every_page_without_data_says_what_to_do_first() -> None:
    at = start()
    assert "Upload a file" in texts(at)
    for page, hint in [
        ("pages/explore.py", "Data"),
        ("pages/segment.py", "Data"),
        ("pages/segments.py", "Segment"),
        ("pages/download.py", "Segment"),
        ("pages/score.py", "model.skops"),
    ]:
        at.switch_page(page).run()
        assert not at.exception, page
        assert not at.error, page
        assert hint in texts(at), page


def test_upload_explore_segment_rename_score_download(lines_csv: bytes) -> None:
    at = upload(start(), "orders.csv", lines_csv)
    assert not at.exception and not at.error
    assert "Read as transactions" in at.success[0].value
    role = next(w for w in at.selectbox if w.label == "Customer id")
    assert role.value == "CustomerID"
    assert any("rows read" in str(df.value) for df in at.dataframe)

    at.switch_page("pages/explore.py").run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) >= 4

    # A finished run shows the named segments first, with what the run did.
    segment(at)
    entry = at.session_state[_state.RESULT]
    result = entry["result"]
    assert result.metrics["algorithm"] == "kmeans"
    assert "Segmented in" in plain(at.success[0].value)
    assert "k-means with 3 segments" in plain(at.success[0].value)
    names = list(result.profiles["segment_name"])
    assert list(at.table[0].value["name"]) == [_state.md(name) for name in names]

    # The Segment page keeps the recommendation and the candidates, with full family names
    # and a dash (not "None") where stability was not measured.
    at.switch_page("pages/segment.py").run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) >= 1
    board = next(df.value for df in at.dataframe if "family" in df.value)
    assert "chosen" in set(board[""])
    assert set(board["family"]) == {"k-means"}
    assert "–" in set(board["stability"]) and "None" not in set(board["stability"])
    at.switch_page("pages/segments.py").run()

    # Rename segment 0 at the top of the page: a confirmation names old and new, and the
    # new name is in the table, the result and its model.
    rename(at, 0, "Best *buyers*")
    assert not at.error, [e.value for e in at.error]
    confirmed = f"Renamed segment 0: '{names[0]}' → 'Best *buyers*'"
    assert confirmed in plain(at.success[0].value)
    assert [plain(t.value) for t in at.toast] == [f"Renamed '{names[0]}' → 'Best *buyers*'"]
    renamed = at.session_state[_state.RESULT]["result"]
    assert renamed.profiles["segment_name"].iloc[0] == "Best *buyers*"
    assert renamed.model.segment_names[0] == "Best *buyers*"
    assert at.table[0].value["name"].iloc[0] == _state.md("Best *buyers*")
    assert at.text_input(key="rename_name").value == ""  # ready for the next name
    # The picker is drawn anew with the new names, still on the renamed segment.
    picker = at.selectbox(key=_state.picker_key("rename_pick", at.session_state[_state.RESULT]))
    assert picker.value == 0 and picker.options[0] == "0 · Best *buyers*"
    at.run()
    assert not at.success  # the confirmation is shown once

    # Two segments with one name: the API's message, the names stay as they were and the
    # typed name stays in its box, to be corrected.
    rename(at, 1, "Best *buyers*")
    assert "Two segments would be called 'Best *buyers*'" in plain(at.error[0].value)
    assert not at.success
    assert at.session_state[_state.RESULT]["result"].profiles["segment_name"].iloc[0] == (
        "Best *buyers*"
    )
    assert at.text_input(key="rename_name").value == "Best *buyers*"

    at.switch_page("pages/score.py").run()
    at.file_uploader(key="score_data_upload").set_value(("new.csv", lines_csv, "text/csv"))
    at.run()
    assert not at.exception and not at.error
    scored = next(df.value for df in at.dataframe if "segment_name" in df.value)
    assert len(scored) == len(renamed.segments)
    assert "Best *buyers*" in set(scored["segment_name"])
    assert [b.label for b in at.get("download_button")] == ["Download the scored table (CSV)"]
    # The training customers scored again: the drift check finds nothing moved.
    assert at.subheader[-1].value == "Have the customers moved since the model was fitted?"
    assert [plain(s.value) for s in at.success] == [
        "No: no feature and no segment share moved past the thresholds below."
    ]
    psi = next(df.value for df in at.dataframe if "PSI" in df.value)
    assert set(psi["status"]) == {"stable"} and len(psi) >= 3
    assert (psi["PSI"] < 0.01).all()
    shares = next(df.value for df in at.dataframe if "% now" in df.value)
    assert "Best *buyers*" in set(shares["segment_name"])
    assert (shares["% now"] - shares["% in training"]).abs().max() < 1e-6
    assert abs(shares["% now"].sum() - 100) < 0.1

    at.switch_page("pages/download.py").run()
    assert not at.exception and not at.error
    labels = [b.label for b in at.get("download_button")]
    for name in ["segments.csv", "segments.xlsx", "profiles.csv", "report.html", "model.skops"]:
        assert name in labels
    assert "All files (.zip)" in labels and "All customer lists (.zip)" in labels
    lists = [plain(label) for label in labels if " · " in label]
    assert lists == [f"{i} · {n}" for i, n in enumerate(renamed.profiles["segment_name"])]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("customers.json", b'{"a": 1}', "File 'customers.json': JSON is not supported"),
        ("noid.csv", b"a,b\n1,2\n3,4\n", "File 'noid.csv' has no customer id column"),
        ("empty.csv", b"", "empty"),
    ],
)
def test_bad_upload_shows_the_cli_message(name: str, content: bytes, message: str) -> None:
    at = upload(start(), name, content)
    assert not at.exception
    assert len(at.error) == 1
    assert message in plain(at.error[0].value)
    assert "custseg-app-" not in plain(at.error[0].value)  # the temporary folder is not shown
    # The app stays usable: the demo data works right after.
    at.radio(key="data_choice").set_value("Use the demo data").run()
    assert not at.exception and not at.error


def test_upload_over_the_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch, lines_csv: bytes
) -> None:
    monkeypatch.setattr(_state, "APP_MAX_UPLOAD_MB", 0)
    at = upload(start(), "orders.csv", lines_csv)
    assert not at.exception
    assert "more than the app's limit of 0 MB" in plain(at.error[0].value)


def test_wrong_kind_then_fixed_on_the_page(lines_csv: bytes) -> None:
    at = upload(start(), "orders.csv", lines_csv)
    next(r for r in at.radio if r.label == "Kind of data").set_value("customers").run()
    assert not at.exception
    next(r for r in at.radio if r.label == "Kind of data").set_value("auto").run()
    assert not at.exception and not at.error
    assert "Read as transactions" in at.success[0].value


@pytest.mark.slow
def test_demo_data_end_to_end() -> None:
    at = start()
    at.radio(key="data_choice").set_value("Use the demo data").run()
    assert not at.exception and not at.error
    assert "Read as transactions" in at.success[0].value
    segment(at).run()
    assert not at.exception and not at.error
    assert "Champions" in list(at.table[0].value["name"])
    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error
    at.switch_page("pages/download.py").run()
    assert len(at.get("download_button")) >= 6


def test_coming_back_to_the_data_page_keeps_the_demo_data() -> None:
    """Streamlit forgets a widget's value on another page; the Data page must not read that
    as 'no file' and drop the data and the result."""
    at = start()
    at.radio(key="data_choice").set_value("Use the demo data").run()
    at.switch_page("pages/score.py").run()
    at.switch_page("pages/data.py").run()
    assert not at.exception and not at.error
    assert at.radio(key="data_choice").value == "Use the demo data"
    source = at.session_state[_state.SOURCE]
    assert source is not None and source.demo


def test_markdown_in_names_is_escaped() -> None:
    assert _state.md("a_b [c](d)") == r"a\_b \[c\]\(d\)"
    escaped = _state.md("**x** [a](http://e) <b> :red[y] _z_")
    for raw in ("**", "[a]", "](", " <b>", " :red", " _z_"):
        assert raw not in escaped


def test_app_command_line_has_safe_defaults() -> None:
    args = streamlit_args(8600, [])
    assert args[2:5] == ["streamlit", "run", str(main_script())]
    pairs = dict(zip(args[5::2], args[6::2], strict=True))
    assert pairs["--server.port"] == "8600"
    assert pairs["--client.showErrorDetails"] == "none"
    assert pairs["--server.enableXsrfProtection"] == "true"
    assert pairs["--server.maxUploadSize"] == str(custseg.app.APP_MAX_UPLOAD_MB)
    assert set(SAFE_DEFAULTS) <= set(pairs)


def test_app_command_line_passes_streamlit_flags_through() -> None:
    args = streamlit_args(None, ["--server.address", "0.0.0.0", "--server.maxUploadSize=50"])
    assert args[-3:] == ["--server.address", "0.0.0.0", "--server.maxUploadSize=50"]
    assert "--server.maxUploadSize" not in args[:-3]
    assert "--server.port" not in args


def test_app_command_without_streamlit(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "streamlit" else real(name, *a),
    )
    code, _, err = run_cli("app")
    assert code == 2
    assert err == 'error: The web app needs Streamlit: pip install "custseg[app]"\n'


def test_app_command_port_twice(run_cli: Any) -> None:
    code, _, err = run_cli("app", "--port", "8600", "--server.port", "8601")
    assert code == 2
    assert "Give the port once" in err


def test_markup_in_the_data_is_shown_as_text() -> None:
    """Column names and values that are markdown or HTML reach no markdown unescaped."""
    rows = ["id,**Income** <b>x</b>,:red[Age],Group [a](http://example.com)"]
    rows += [
        f"{i},{1000 + 37 * i % 500},{20 + i % 50},{'<img src=x>' if i % 2 else '$x$'}"
        for i in range(60)
    ]
    at = upload(start(), "<b>shop</b>.csv", "\n".join(rows).encode())
    assert not at.exception and not at.error, [e.value for e in at.error]
    segment(at).run()
    rename(at, 0, "[click](http://example.com) <b>VIP</b>")
    assert not at.error, [e.value for e in at.error]
    at.switch_page("pages/score.py").run()
    at.file_uploader(key="score_data_upload").set_value(
        ("new.csv", "\n".join(rows).encode(), "text/csv")
    )
    at.run()
    assert not at.exception and not at.error
    assert "[click](http://example.com) <b>VIP</b>" in set(
        next(df.value for df in at.dataframe if "segment_name" in df.value)["segment_name"]
    )
    for page in (
        "pages/score.py",
        "pages/data.py",
        "pages/explore.py",
        "pages/segment.py",
        "pages/segments.py",
        "pages/compare.py",
        "pages/download.py",
    ):
        if page != "pages/score.py":
            at.switch_page(page).run()
        assert not at.exception and not at.error, page
        for kind in ("markdown", "success", "warning", "error", "info", "caption", "table"):
            for element in at.get(kind):
                value = str(element.value.to_dict() if kind == "table" else element.value)
                for raw in ("<b>", "<img", "](http", ":red[", "**Income**"):
                    unescaped = r"(?<!\\)" + re.escape(raw)
                    assert not re.search(unescaped, value), (page, kind, value)
        for button in at.get("download_button"):  # a button's label is markdown too
            assert not re.search(r"(?<!\\)(<b>|\]\(http)", button.label), (page, button.label)


def test_warnings_go_to_the_session_that_raised_them() -> None:
    """Two sessions (threads) at once each collect only their own custseg warnings."""
    import threading
    import warnings

    barrier = threading.Barrier(2)
    seen: dict[str, list[str]] = {}

    def session(name: str) -> None:
        with _state.captured_warnings() as notes:
            barrier.wait()
            warnings.warn(f"about {name}", custseg.CustsegWarning, stacklevel=1)
            barrier.wait()
        seen[name] = notes

    threads = [threading.Thread(target=session, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": ["about a"], "b": ["about b"]}


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory, lines_csv: bytes) -> Path:
    """The output folder of a k=3 k-means run on ``lines_csv`` (fitted once per module)."""
    lines = pd.read_csv(io.BytesIO(lines_csv))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", custseg.CustsegWarning)
        return custseg.segment(lines, algorithm="kmeans", k=3).save(
            tmp_path_factory.mktemp("saved") / "out"
        )


def test_score_with_a_saved_model(saved_model: Path, lines_csv: bytes) -> None:
    at = start()
    at.switch_page("pages/score.py").run()
    model = at.file_uploader(key="score_model_upload")
    model.set_value(("model.skops", b"not a model", "application/octet-stream")).run()
    assert not at.exception
    assert "model.skops" in plain(at.error[0].value)
    model = at.file_uploader(key="score_model_upload")
    content = (saved_model / "model.skops").read_bytes()
    model.set_value(("model.skops", content, "application/octet-stream")).run()
    assert not at.exception and not at.error
    at.file_uploader(key="score_data_upload").set_value(("new.csv", lines_csv, "text/csv"))
    at.run()
    assert not at.exception and not at.error
    scored = next(df.value for df in at.dataframe if "segment_name" in df.value)
    expected = pd.read_csv(saved_model / "segments.csv")
    assert list(scored["segment"]) == list(expected["segment"])


def score_file(model_folder: Path, name: str, content: bytes) -> AppTest:
    """The Score page with the saved model of ``model_folder`` uploaded, after scoring
    ``content`` (CSV bytes) uploaded as ``name``."""
    at = start()
    at.switch_page("pages/score.py").run()
    model = (model_folder / "model.skops").read_bytes()
    at.file_uploader(key="score_model_upload").set_value(
        ("model.skops", model, "application/octet-stream")
    ).run()
    at.file_uploader(key="score_data_upload").set_value((name, content, "text/csv"))
    return at.run()


def test_score_page_says_when_the_customers_moved(saved_model: Path, lines_csv: bytes) -> None:
    """Prices ten times the training ones: the Score page warns, as `custseg predict` does,
    and names the features that moved."""
    lines = pd.read_csv(io.BytesIO(lines_csv))
    dearer = lines.assign(UnitPrice=lines["UnitPrice"] * 10).to_csv(index=False).encode()
    at = score_file(saved_model, "dearer.csv", dearer)
    assert not at.exception and not at.error
    assert not at.success
    warned = [plain(w.value) for w in at.warning]
    assert "Yes: some features or segment shares moved since training (below)." in warned
    assert any(w.startswith("Feature 'revenue' moved (PSI ") for w in warned), warned
    psi = next(df.value for df in at.dataframe if "PSI" in df.value)
    assert psi.set_index("feature").loc["revenue", "status"] == "moved"
    assert psi.set_index("feature").loc["revenue", "PSI"] > 0.25


def test_score_page_says_why_drift_was_not_checked(saved_model: Path, lines_csv: bytes) -> None:
    """Fewer than 100 customers: no verdict, the reason instead, and no tables."""
    lines = pd.read_csv(io.BytesIO(lines_csv))
    few = lines[lines["CustomerID"].isin(lines["CustomerID"].unique()[:40])]
    at = score_file(saved_model, "few.csv", few.to_csv(index=False).encode())
    assert not at.exception and not at.error and not at.success
    said = [plain(i.value) for i in at.info]
    assert said == [
        "Drift not checked: 40 customer(s) scored, fewer than the 100 that distributions can "
        "be compared on."
    ]
    assert not [df for df in at.dataframe if "PSI" in df.value]
    assert "Drift not checked" not in " ".join(plain(c.value) for c in at.caption)


@pytest.fixture(scope="module")
def formula_lines() -> bytes:
    """Invoice lines of 90 customers whose ids start like spreadsheet formulas (=, +, -, @)
    or are plain negative numbers (-5), as CSV bytes."""
    lines, _ = custseg.datasets.make_transactions(90, n_segments=3, seed=2)
    ids = sorted(lines["CustomerID"].unique())
    starts = ["=1+", "+x", "@", "-x", "-"]
    lines["CustomerID"] = lines["CustomerID"].map(
        {c: f"{starts[i % len(starts)]}{i}" for i, c in enumerate(ids)}
    )
    return lines.to_csv(index=False).encode("utf-8")


def test_files_are_written_once_per_result_and_names(
    monkeypatch: pytest.MonkeyPatch, lines_csv: bytes
) -> None:
    from custseg.result import SegmentationResult

    saves: list[str] = []
    lists: list[str] = []
    real_save, real_write_csv = SegmentationResult.save, _state.write_csv

    def counting_save(self: Any, directory: Any) -> Any:
        saves.append(str(self.profiles["segment_name"].iloc[0]))
        return real_save(self, directory)

    def counting_write_csv(frame: pd.DataFrame, path: Path) -> None:
        lists.append(path.name)
        real_write_csv(frame, path)

    monkeypatch.setattr(SegmentationResult, "save", counting_save)
    monkeypatch.setattr(_state, "write_csv", counting_write_csv)
    at = segment(upload(start(), "orders.csv", lines_csv)).run()
    at.switch_page("pages/download.py").run()
    assert not at.exception and not at.error
    first = at.session_state[_state.BUILT]["files"][1].wait()
    assert lists == ["customers.csv"]  # written once, cut into the segments' lists
    for page in ("pages/segments.py", "pages/compare.py", "pages/download.py"):
        at.switch_page(page).run()
        assert not at.exception and not at.error
    assert len(saves) == 1 and len(lists) == 1  # the second visit wrote nothing
    assert built(at, "files").wait() is first

    # A new name: the files are written again once, with it.
    at.switch_page("pages/segments.py").run()
    rename(at, 0, "Renamed")
    at.switch_page("pages/download.py").run()
    at.switch_page("pages/download.py").run()
    assert not at.exception and not at.error
    assert saves[1:] == ["Renamed"]
    assert len(lists) == 2
    assert b"Renamed" in built(at, "files").wait()["segments.csv"]


def test_segment_lists_hold_the_segment_and_neutralize_formulas(formula_lines: bytes) -> None:
    import csv
    import zipfile

    at = segment(upload(start(), "orders.csv", formula_lines)).run()
    rename(at, 0, "=SUM(A1)")
    assert not at.error, [e.value for e in at.error]
    # The button beside the segment picker holds the picked segment's list.
    button = next(b for b in at.get("download_button") if b.label == "Customer list (CSV)")
    assert button.proto.help.startswith("segment-0-SUM-A1.csv: ")
    at.switch_page("pages/download.py").run()
    assert not at.exception and not at.error
    entry = at.session_state[_state.RESULT]
    result = entry["result"]
    segments_csv = list(csv.reader(io.StringIO(built(at, "files").wait()["segments.csv"].decode())))
    header, rows = segments_csv[0], segments_csv[1:]
    archive = zipfile.ZipFile(io.BytesIO(built(at, "lists_zip")))
    names = archive.namelist()
    assert names[0] == "segment-0-SUM-A1.csv" and len(names) == len(result.profiles)
    actions = dict(zip(result.profiles["segment"], result.profiles["action"], strict=True))
    for seg in result.profiles["segment"]:
        file_name, content = built(at, f"list {seg}")
        assert archive.read(file_name) == content
        listed = list(csv.reader(io.StringIO(content.decode())))
        where = header.index("segment_name") + 1
        # The columns of segments.csv with the segment's action after its name ...
        assert listed[0] == [*header[:where], "action", *header[where:]]
        # ... and exactly the segment's rows of segments.csv, in their order.
        own = [r for r in rows if r[1] == str(seg)]
        assert [r[:where] + r[where + 1 :] for r in listed[1:]] == own
        assert {r[where] for r in listed[1:]} == {str(actions[seg])}
    listed = list(csv.reader(io.StringIO(built(at, "list 0")[1].decode())))
    assert {r[2] for r in listed[1:]} == {"'=SUM(A1)"}
    ids = [r[0] for r in rows]
    assert any(i.startswith("'=1+") for i in ids) and any(i.startswith("'@") for i in ids)
    assert any(i.startswith("'+x") for i in ids) and any(i.startswith("'-x") for i in ids)
    assert any(re.fullmatch(r"-\d+", i) for i in ids)  # a negative number stays a number
    assert not any(i[:1] in "=+@" for i in ids)


def test_compare_two_segments(lines_csv: bytes) -> None:
    at = segment(upload(start(), "orders.csv", lines_csv)).run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error
    entry = at.session_state[_state.RESULT]
    data = built(at, "report")[0]
    a_key, b_key = (_state.picker_key(name, entry) for name in ("compare_a", "compare_b"))
    first, second = at.selectbox(key=a_key), at.selectbox(key=b_key)
    assert (first.value, second.value) == compare.default_pair(data)
    assert first.value != second.value
    second.set_value(2).run()
    first = at.selectbox(key=a_key).set_value(0).run()
    table = next(df.value for df in at.dataframe if "feature" in df.value)
    profile = {r["label"]: r for r in data["profiles"]["rows"] if not r.get("text")}
    assert list(table["feature"]) == list(profile)
    assert list(table["feature"][:2]) == ["Customers", "Share of customers"]
    a_col, b_col = (c for c in table.columns if c.startswith(("0 · ", "2 · ")))
    for _, row in table.iterrows():
        assert [row[a_col], row[b_col]] == [profile[row["feature"]]["cells"][i] for i in (0, 2)]
    expected, differ = compare.comparison(data, 0, 2)
    assert differ, "planted segments differ on some feature"
    sentence = plain(next(m.value for m in at.markdown if "differ most in" in m.value))
    for row in differ:
        assert f"{row['feature']} ({row['a']} against {row['b']}" in sentence
    assert list(table["difference"]) == [
        f"{v:.2f}" if v == v else "" for v in expected["difference"]
    ]
    at.selectbox(key=b_key).set_value(0).run()
    assert "Pick two different segments." in texts(at)
    assert not any("feature" in df.value for df in at.dataframe)


def test_comparison_from_the_heatmap_when_the_report_has_no_comparison() -> None:
    """Without the report's ``compare`` pairs the difference is that of the heatmap's
    standardized means (by column name), largest first, none below the threshold."""
    data = {
        "segments": {"rows": [{"segment": 0}, {"segment": 1}, {"segment": -1}]},
        "heatmap": {"features": ["recency", "spend"], "z": [[-1.0, 0.2], [0.1, 0.5], [0, 0]]},
        "profiles": {
            "columns": [{"segment": 0}, {"segment": 1}, {"segment": -1}],
            "features": [{"name": "recency"}, {"name": "spend"}, {"name": "country"}],
            "rows": [
                {"label": "Customers", "cells": ["5", "7", "1"], "overall": "13"},
                {"label": "Days since", "note": "median", "cells": ["3", "40", "9"]},
                {"label": "Spend", "note": "median", "cells": ["10", "12", "1"]},
                {"label": "Country", "note": "most common", "cells": ["UK", "FR", "UK"]},
                {"label": "Recommended action", "cells": ["a", "b", "c"], "text": True},
            ],
        },
        "new_key": {"ignored": True},
    }
    table, differ = compare.comparison(data, 1, 0)
    assert table["a"].tolist() == ["7", "40", "12", "FR"]
    assert table["difference"].round(2).tolist()[1:3] == [1.1, 0.3]
    assert table["difference"].isna().tolist() == [True, False, False, True]
    assert [d["feature"] for d in differ] == ["Days since"]
    assert compare.default_pair(data) == (0, 1)
    assert compare.comparison_actions(data, 1, -1) == ("b", "c")


def test_sqlite_upload_asks_for_its_table_then_reads_it(lines_csv: bytes, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as con:
        pd.read_csv(io.BytesIO(lines_csv)).to_sql("orders", con, index=False)
    con.close()
    at = upload(start(), "shop.db", path.read_bytes(), "application/octet-stream")
    assert not at.exception and not at.error
    assert "Name the table of the SQLite file" in texts(at)
    box = next(w for w in at.text_input if w.label == "Table or view of the SQLite file")
    box.set_value("order").run()
    assert at.error and "Did you mean 'orders'" in at.error[0].value
    box = next(w for w in at.text_input if w.label == "Table or view of the SQLite file")
    box.set_value("orders").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Read as transactions" in at.success[0].value
    assert "120 customers" in at.success[0].value


def test_postgresql_form_refuses_what_is_not_a_postgresql_url() -> None:
    at = start()
    at.radio(key="data_choice").set_value("Read a PostgreSQL table").run()
    at.text_input(key="data_db_url").set_value("/etc/passwd")
    at.text_input(key="data_db_table").set_value("orders")
    next(b for b in at.button if b.label == "Read the table").click().run()
    assert not at.exception
    assert at.error and "is not a PostgreSQL URL" in at.error[0].value
    assert _state.SOURCE not in at.session_state or at.session_state[_state.SOURCE] is None


def test_pages_write_no_stray_strings() -> None:
    """Streamlit writes a page script's bare strings on the page: the migration page showed
    'Session key of the last comparison: (key, migration, files).' above its title."""
    import ast

    pages = Path(custseg.__file__).parent / "app"
    scripts = [pages / "main.py", *sorted((pages / "pages").glob("*.py"))]
    assert len(scripts) >= 3
    for script in scripts:
        body = ast.parse(script.read_text()).body
        stray = [
            node.lineno
            for node in body[1:]
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        ]
        assert stray == [], f"{script.name}: bare strings at lines {stray}"


def test_score_page_measures_at_a_later_analysis_date(saved_model: Path, lines_csv: bytes) -> None:
    """What custseg predict --analysis-date does, on the page: every customer's recency grows
    by the days between the model's analysis date and the one picked."""
    import datetime as dt

    at = score_file(saved_model, "new.csv", lines_csv)
    assert not at.exception
    before = next(df.value for df in at.dataframe if "segment_name" in df.value)
    picker = at.date_input(key="score_analysis_date")
    later = picker.value + dt.timedelta(days=30)
    picker.set_value(later).run()
    assert not at.exception
    after = next(df.value for df in at.dataframe if "segment_name" in df.value)
    gap = after["days_since_last_purchase"] - before["days_since_last_purchase"]
    assert (gap == 30).all()

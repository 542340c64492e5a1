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
    at.switch_page("pages/segment.py").run()
    at.selectbox[0].set_value(algorithm)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


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

    segment(at)
    entry = at.session_state[_state.RESULT]
    result = entry["result"]
    assert result.metrics["algorithm"] == "kmeans"
    assert len(at.get("plotly_chart")) >= 1
    assert any("chosen" in str(df.value) for df in at.dataframe)

    at.switch_page("pages/segments.py").run()
    assert not at.exception and not at.error
    names = list(result.profiles["segment_name"])
    assert list(at.table[0].value["name"]) == [_state.md(name) for name in names]

    # Rename segment 0: the new name is in the table, the result and its model.
    box = next(t for t in at.text_input if t.label == "Segment 0")
    box.set_value("Best *buyers*")
    next(b for b in at.button if b.label == "Apply names").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    renamed = at.session_state[_state.RESULT]["result"]
    assert renamed.profiles["segment_name"].iloc[0] == "Best *buyers*"
    assert renamed.model.segment_names[0] == "Best *buyers*"
    assert at.table[0].value["name"].iloc[0] == _state.md("Best *buyers*")

    # Two segments with one name: the API's message, and the names stay as they were.
    box = next(t for t in at.text_input if t.label == "Segment 1")
    box.set_value("Best *buyers*")
    next(b for b in at.button if b.label == "Apply names").click().run()
    assert not at.exception
    assert "Two segments would be called 'Best *buyers*'" in plain(at.error[0].value)
    assert at.session_state[_state.RESULT]["result"].profiles["segment_name"].iloc[0] == (
        "Best *buyers*"
    )

    at.switch_page("pages/score.py").run()
    at.file_uploader(key="score_data_upload").set_value(("new.csv", lines_csv, "text/csv"))
    at.run()
    assert not at.exception and not at.error
    scored = next(df.value for df in at.dataframe if "segment_name" in df.value)
    assert len(scored) == len(renamed.segments)
    assert "Best *buyers*" in set(scored["segment_name"])
    assert [b.label for b in at.get("download_button")] == ["Download the scored table (CSV)"]

    at.switch_page("pages/download.py").run()
    assert not at.exception and not at.error
    labels = [b.label for b in at.get("download_button")]
    for name in ["segments.csv", "segments.xlsx", "profiles.csv", "report.html", "model.skops"]:
        assert name in labels


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
    segment(at)
    at.switch_page("pages/segments.py").run()
    assert not at.exception and not at.error
    assert "Champions" in list(at.table[0].value["name"])
    at.switch_page("pages/download.py").run()
    assert len(at.get("download_button")) >= 6


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
    segment(at)
    at.switch_page("pages/segments.py").run()
    boxes = [t for t in at.text_input if t.label.startswith("Segment ")]
    boxes[0].set_value("[click](http://example.com) <b>VIP</b>")
    next(b for b in at.button if b.label == "Apply names").click().run()
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


def test_score_with_a_saved_model(tmp_path: Path, lines_csv: bytes) -> None:
    lines = pd.read_csv(io.BytesIO(lines_csv))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", custseg.CustsegWarning)
        folder = custseg.segment(lines, algorithm="kmeans", k=3).save(tmp_path / "out")
    at = start()
    at.switch_page("pages/score.py").run()
    model = at.file_uploader(key="score_model_upload")
    model.set_value(("model.skops", b"not a model", "application/octet-stream")).run()
    assert not at.exception
    assert "model.skops" in plain(at.error[0].value)
    model = at.file_uploader(key="score_model_upload")
    content = (folder / "model.skops").read_bytes()
    model.set_value(("model.skops", content, "application/octet-stream")).run()
    assert not at.exception and not at.error
    at.file_uploader(key="score_data_upload").set_value(("new.csv", lines_csv, "text/csv"))
    at.run()
    assert not at.exception and not at.error
    scored = next(df.value for df in at.dataframe if "segment_name" in df.value)
    expected = pd.read_csv(folder / "segments.csv")
    assert list(scored["segment"]) == list(expected["segment"])

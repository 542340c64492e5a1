"""Segment migration (custseg.migration, custseg compare, the app's Migration page) on tiny
hand-written output folders whose matrix can be checked by eye."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from custseg.errors import InputError
from custseg.migration import (
    GONE,
    MATCH_FAIR,
    NEW,
    check_migration_dir,
    compare_runs,
    match_segments,
    read_run,
    segment_profiles,
    summary_lines,
)

HEADER = "customer_id,segment,segment_name,days_since_last_purchase,n_orders,revenue,days_since_first_purchase\n"
OLD = {
    # customer: segment, name, recency, orders, revenue, tenure
    "a": (0, "Champions", 5, 10, 1000.0, 300),
    "b": (0, "Champions", 8, 8, 800.0, 290),
    "c": (1, "Regular customers", 20, 3, 100.0, 200),
    "d": (1, "Regular customers", 30, 2, 80.0, 150),
    "e": (2, "Lost customers", 200, 1, 20.0, 200),
    "f": (2, "Lost customers", 220, 1, 10.0, 220),
}
NEW_RUN = {
    "a": (0, "Champions", 3, 12, 1200.0, 390),  # stayed
    "b": (2, "Lost customers", 98, 8, 800.0, 380),  # Champions -> Lost: a mover
    "c": (0, "Champions", 10, 6, 400.0, 290),  # moved up
    "d": (1, "Regular customers", 40, 3, 90.0, 240),  # stayed
    "f": (2, "Lost customers", 310, 1, 10.0, 310),  # stayed
    "g": (1, "Regular customers", 15, 2, 50.0, 30),  # new customer; e is gone
}
# The matrix worked out by hand from the two tables above (rows: before, columns: after).
EXPECTED_COUNTS = {
    "0 · Champions": [1, 0, 1, 0],
    "1 · Regular customers": [1, 1, 0, 0],
    "2 · Lost customers": [0, 0, 1, 1],
    NEW: [0, 1, 0, 0],
}
EXPECTED_COLUMNS = ["0 · Champions", "1 · Regular customers", "2 · Lost customers", GONE]


def write_run(
    folder: Path,
    rows: dict[str, tuple],
    *,
    model: bytes = b"model-1",
    kind: str = "transactions",
    permute: dict[int, int] | None = None,
) -> Path:
    """An output folder with what compare reads: segments.csv, metrics.json, model.skops
    (compare only hashes it)."""
    folder.mkdir(parents=True)
    lines = []
    for cid, (seg, name, *features) in rows.items():
        seg = (permute or {}).get(seg, seg)
        lines.append(",".join(map(str, [cid, seg, name, *features])))
    (folder / "segments.csv").write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps({"kind": kind}), encoding="utf-8")
    (folder / "model.skops").write_bytes(model)
    return folder


@pytest.fixture()
def runs(tmp_path: Path) -> tuple[Path, Path]:
    return write_run(tmp_path / "old", OLD), write_run(tmp_path / "new", NEW_RUN)


def test_matrix_by_hand(runs: tuple[Path, Path]) -> None:
    m = compare_runs(*runs)
    assert m.summary["matching"] == "numbers" and m.summary["same_model"]
    assert list(m.counts.columns) == EXPECTED_COLUMNS
    assert {k: v.tolist() for k, v in m.counts.iterrows()} == EXPECTED_COUNTS
    status = dict(zip(m.customers["customer_id"], m.customers["status"], strict=True))
    assert status == {
        "a": "stayed",
        "b": "moved",
        "c": "moved",
        "d": "stayed",
        "e": GONE,
        "f": "stayed",
        "g": NEW,
    }
    s = m.summary
    assert (
        s["customers_in_both"],
        s["stayed"],
        s["moved"],
        s["new_customers"],
        s["gone_customers"],
    ) == (5, 3, 2, 1, 1)
    # Revenue in each cell: Champions -> Champions is customer a only.
    cell = m.matrix[(m.matrix["old_segment"] == 0) & (m.matrix["new_segment"] == 0)].iloc[0]
    assert (cell["customers"], cell["old_value"], cell["new_value"], cell["share_of_old"]) == (
        1,
        1000.0,
        1200.0,
        0.5,
    )
    gone = m.matrix[m.matrix["new_segment_name"] == GONE].iloc[0]
    assert gone["old_segment"] == 2 and gone["old_value"] == 20.0 and pd.isna(gone["new_value"])
    # The one valuable -> lost mover, with its revenue.
    assert m.movers[
        ["customer_id", "old_segment_name", "new_segment_name", "old_value"]
    ].values.tolist() == [["b", "Champions", "Lost customers", 800.0]]
    assert s["movers"] == 1 and s["movers_old_value"] == 800.0
    # Same model, same features: each segment's profile distance to itself is small.
    assert m.pairs["new_segment"].tolist() == [0, 1, 2]


def test_permuted_segments_are_matched_by_profile(tmp_path: Path) -> None:
    old = write_run(tmp_path / "old", OLD)
    # The same customers and features, another model numbering the segments 0->2, 1->0, 2->1.
    new = write_run(tmp_path / "new", OLD, model=b"model-2", permute={0: 2, 1: 0, 2: 1})
    m = compare_runs(old, new)
    assert m.summary["matching"] == "profiles" and not m.summary["same_model"]
    assert dict(zip(m.pairs["old_segment"], m.pairs["new_segment"], strict=True)) == {
        0: 2,
        1: 0,
        2: 1,
    }
    assert m.pairs["distance"].tolist() == [0.0, 0.0, 0.0]
    assert set(m.customers["status"]) == {"stayed"}
    assert m.summary["adjusted_rand_index"] == 1.0
    assert m.summary["match_quality"] == "close"
    assert any("matched by profile" in line for line in summary_lines(m))
    # Forced by number, every customer moved.
    assert compare_runs(old, new, match="numbers").summary["stayed"] == 0


def test_match_segments_prefers_least_total_distance() -> None:
    old = pd.DataFrame({"x": [0.9, 0.5, 0.1]}, index=[0, 1, 2])
    new = pd.DataFrame({"x": [0.12, 0.88]}, index=[0, 1])
    pairs, distance = match_segments(old, new)
    assert pairs == {0: 1, 2: 0}  # the middle segment has no counterpart
    assert distance.loc[0, 1] == pytest.approx(0.02)


def test_lapsing_segment_is_not_the_counterpart_of_an_active_one(tmp_path: Path) -> None:
    """The nearest profile of an old at-risk segment is a new active one (the new run's
    "New customers"): they are not counterparts, and customers who went from one to the other
    moved; the valuable pair is still matched."""
    # customer: old segment, name, recency, orders, revenue, tenure; the same a year later
    before = {"a": (0, 5, 10, 1000.0, 300), "b": (0, 8, 8, 800.0, 290)}
    before |= {"c": (1, 90, 2, 60.0, 100), "d": (1, 80, 2, 50.0, 90)}
    after = {"a": (0, 4, 11, 1100.0, 390), "b": (0, 6, 9, 900.0, 380)}
    after |= {"c": (1, 20, 2, 70.0, 30), "d": (1, 25, 2, 55.0, 35)}

    def named(rows: dict[str, tuple], names: tuple[str, str]) -> dict[str, tuple]:
        return {c: (s, names[s], *f) for c, (s, *f) in rows.items()}

    old = write_run(tmp_path / "old", named(before, ("Champions", "About to sleep")))
    new = write_run(
        tmp_path / "new", named(after, ("Champions", "New customers")), model=b"model-2"
    )
    m = compare_runs(old, new)
    assert m.summary["matching"] == "profiles"
    # By profile alone the pairs would be 0 -> 0 and 1 -> 1, both at distance 0.
    a, b = read_run(old), read_run(new)
    by_profile = match_segments(segment_profiles(a, a.features), segment_profiles(b, b.features))
    assert by_profile[0] == {0: 0, 1: 1} and by_profile[1].to_numpy().trace() == 0.0
    pairs = dict(zip(m.pairs["old_segment"], m.pairs["new_segment"], strict=True))
    assert pairs[0] == 0 and pairs[1] is pd.NA
    why = m.pairs.set_index("old_segment").at[1, "no_counterpart"]
    assert "1 · New customers" in why and "is active, this segment at risk" in why
    status = dict(zip(m.customers["customer_id"], m.customers["status"], strict=True))
    assert status == {"a": "stayed", "b": "stayed", "c": "moved", "d": "moved"}
    assert (m.summary["stayed"], m.summary["moved"]) == (2, 2)
    lines = summary_lines(m)
    assert any("About to sleep -> no counterpart (nearest profile" in x for x in lines)
    assert any(x.startswith("1 of the 2 old segments has no counterpart") for x in lines)
    # Every new segment lapsed: no pair is the same kind, and every customer moved.
    lapsed = named(after, ("At risk", "Lost customers"))
    none = compare_runs(old, write_run(tmp_path / "lapsed", lapsed, model=b"model-3"))
    assert none.pairs["new_segment"].isna().all() and none.summary["stayed"] == 0
    assert none.summary["mean_match_distance"] is None
    assert any("no old segment has a counterpart" in x for x in summary_lines(none))


def test_poor_match_is_not_a_counterpart() -> None:
    old = pd.DataFrame({"x": [0.9, 0.1]}, index=[0, 1])
    new = pd.DataFrame({"x": [0.85, 0.5]}, index=[0, 1])  # segment 1 is 0.4 from old 1
    pairs, distance = match_segments(old, new)
    assert pairs == {0: 0}
    assert distance.loc[1, 1] == pytest.approx(0.4) and distance.loc[1, 1] > MATCH_FAIR


def test_matching_keeps_as_many_counterparts_as_it_can() -> None:
    """Least total distance alone would pair 0 -> 0 (poor) and 1 -> 1; the counterparts that
    exist are 0 -> 1 and 1 -> 0, both fair."""
    old = pd.DataFrame({"x": [0.9, 0.77], "y": [0.14, 0.33]}, index=[0, 1])
    new = pd.DataFrame({"x": [0.89, 0.71], "y": [0.53, 0.33]}, index=[0, 1])
    pairs, d = match_segments(old, new)
    assert d.loc[0, 0] + d.loc[1, 1] < d.loc[0, 1] + d.loc[1, 0]  # least total: 0->0, 1->1
    assert d.loc[0, 0] > MATCH_FAIR >= max(d.loc[0, 1], d.loc[1, 0])
    assert pairs == {0: 1, 1: 0}


def test_predictions_csv_as_new_side(runs: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = runs
    csv = tmp_path / "scored.csv"
    csv.write_text((new / "segments.csv").read_text(encoding="utf-8"), encoding="utf-8")
    m = compare_runs(old, csv)
    assert m.summary["matching"] == "numbers"
    assert "other side's segment numbers" in m.summary["same_model_reason"]
    assert {k: v.tolist() for k, v in m.counts.iterrows()} == EXPECTED_COUNTS


def test_renamed_segment_keeps_its_group_from_the_rule(tmp_path: Path) -> None:
    old = write_run(
        tmp_path / "old", {k: (v[0], "VIP" if v[0] == 0 else v[1], *v[2:]) for k, v in OLD.items()}
    )
    rule = "R >= 4 and F >= 4 and M >= 4 and gaps_shop <= 1 and orders >= 4 and orders_x >= 2 and V >= 1.5 and share < 1/3"
    metrics = {"kind": "transactions", "segments": [{"segment": 0, "rule": rule}]}
    (old / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    assert read_run(old).groups == {0: "valuable", 1: "other", 2: "lost"}


def test_errors_name_the_path_and_the_fix(runs: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = runs
    with pytest.raises(InputError, match=r"'.*missing' does not exist\. Pass an output folder"):
        compare_runs(tmp_path / "missing", new)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"'.*empty' has no segments\.csv: it is not a custseg"):
        compare_runs(old, tmp_path / "empty")
    other = write_run(tmp_path / "table", OLD, kind="customers")
    with pytest.raises(
        InputError, match=r"segments invoice lines but '.*table' segments a customer table"
    ):
        compare_runs(old, other)
    strangers = write_run(tmp_path / "strangers", {"z" + k: v for k, v in OLD.items()})
    with pytest.raises(InputError, match="have no customer in common"):
        compare_runs(old, strangers)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,cluster\n1,0\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"lacks the column\(s\) customer_id, segment, segment_name"
    ):
        compare_runs(old, bad)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match=r"already holds other files \(notes\.txt\)"):
        check_migration_dir(busy)


def test_cli_writes_what_the_library_returns(
    runs: tuple[Path, Path], tmp_path: Path, run_cli
) -> None:
    out = tmp_path / "migration"
    code, stdout, stderr = run_cli("compare", *runs, "--out", out)
    assert code == 0, stderr
    assert "1 customer moved from a valuable segment" in stdout
    m = compare_runs(*runs)
    read = lambda name: pd.read_csv(out / name, dtype={"customer_id": str})  # noqa: E731
    pd.testing.assert_frame_equal(
        read("movers.csv"),
        m.movers.astype({"old_segment": "int64", "new_segment": "int64"}),
        check_dtype=False,  # whole-number revenue is written as 800, read back as an int
    )
    assert read("matrix_customers.csv").set_index("old \\ new").to_dict("list") == m.counts.to_dict(
        "list"
    )
    assert read("matrix.csv")["customers"].tolist() == m.matrix["customers"].tolist()
    assert read("customers.csv")["status"].tolist() == m.customers["status"].tolist()
    assert json.loads((out / "migration.json").read_text(encoding="utf-8"))["movers"] == 1
    html = (out / "migration.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "figure-sankey" in html
    assert 'src="http' not in html and "<link" not in html
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_cli_errors_are_one_line_exit_2(runs: tuple[Path, Path], tmp_path: Path, run_cli) -> None:
    old, _ = runs
    out = tmp_path / "out"
    for args, expected in [
        ((old, tmp_path / "nope"), "does not exist"),
        ((old, tmp_path), "has no segments.csv"),
        ((old, old, "--match", "names"), "--match 'names' is not known"),
    ]:
        code, _, stderr = run_cli("compare", *args, "--out", out)
        assert code == 2
        assert stderr.startswith("error: ") and expected in stderr and stderr.count("\n") == 1
    assert not out.exists()


def test_failed_write_leaves_no_folder(
    runs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import custseg.report.migration as page

    def broken(_: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(page, "render_migration", broken)
    with pytest.raises(RuntimeError):
        compare_runs(*runs).save(tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "old"]


def test_page_escapes_names_from_the_data(tmp_path: Path) -> None:
    from custseg.report.migration import render_migration

    evil = {
        k: (v[0], "<script>alert(1)</script>" if v[0] == 1 else v[1], *v[2:])
        for k, v in OLD.items()
    }
    m = compare_runs(write_run(tmp_path / "old", evil), write_run(tmp_path / "new", NEW_RUN))
    html = render_migration(m)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_app_page_compares_two_uploads(runs: tuple[Path, Path]) -> None:
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    from custseg.app import main_script

    old, new = runs
    at = AppTest.from_file(str(main_script()), default_timeout=120)
    at.run()
    at.switch_page("pages/migration.py").run()
    assert not at.exception, at.exception
    for key, folder in (("migration_old", old), ("migration_new", new)):
        content = (folder / "segments.csv").read_bytes()
        at.file_uploader(key=key).set_value(("segments.csv", content, "text/csv"))
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    text = " ".join(m.value for m in at.markdown).replace("\\", "")
    assert "5 customers in both runs: 3 (60.0%) stayed" in text
    assert "From valuable to at risk or lost (1)" in [s.value for s in at.subheader]
    counts = at.dataframe[0].value
    assert {k: v.tolist() for k, v in counts.iterrows()} == EXPECTED_COUNTS
    movers = at.dataframe[2].value
    assert movers["customer_id"].tolist() == ["b"]
    assert len(at.get("download_button")) == 8  # seven files and the zip
    # The same two runs as output folders on this computer (the app is served locally).
    at.radio(key="migration_mode").set_value("Output folders on this computer").run()
    at.text_input(key="migration_old_dir").set_value(str(old))
    at.text_input(key="migration_new_dir").set_value(str(new)).run()
    assert not at.exception and not at.error
    text = " ".join(m.value for m in at.markdown).replace("\\", "")
    assert "both folders hold the same model.skops" in text


@pytest.mark.slow
def test_online_retail_nine_months_against_the_year(data_dir: Path, tmp_path: Path) -> None:
    """The worked example of docs/migration.md: what depends on the cleaning only is exact
    (customers in both runs, new, gone); the clustering-dependent figures are checked for
    consistency."""
    import custseg

    lines = pd.read_csv(data_dir / "online_retail.csv", dtype=str)
    early = lines[lines["InvoiceDate"] < "2011-09-01"]
    early.to_csv(tmp_path / "nine.csv", index=False)
    custseg.segment(tmp_path / "nine.csv").save(tmp_path / "old")
    custseg.segment(data_dir / "online_retail.csv").save(tmp_path / "new")
    m = compare_runs(tmp_path / "old", tmp_path / "new")
    s = m.summary
    assert (s["customers_in_both"], s["new_customers"], s["gone_customers"]) == (3314, 1020, 0)
    assert s["matching"] == "profiles" and s["stayed"] + s["moved"] == 3314
    assert int(m.counts.to_numpy().sum()) == 4334
    old_groups = dict(zip(m.pairs["old_segment"], m.pairs["old_group"], strict=True))
    assert {old_groups[g] for g in m.movers["old_segment"]} <= {"valuable"}
    # Scoring the year with the nine months' model: segments compared by number.
    model = custseg.load_model(tmp_path / "old" / "model.skops")
    # Scoring warns that some customers have no purchase left, and about the file's two
    # negative prices (Online Retail's 'Adjust bad debt' lines).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", custseg.CustsegWarning)
        scored = model.predict(data_dir / "online_retail.csv", analysis_date="2011-12-10")
    said = [str(w.message) for w in caught]
    assert any("have no purchase left after cleaning" in m for m in said), said
    scored.to_csv(tmp_path / "scored.csv", index=False)
    same = compare_runs(tmp_path / "old", tmp_path / "scored.csv")
    assert same.summary["matching"] == "numbers"
    assert same.summary["customers_in_both"] == 3314
    assert (same.pairs["distance"] < MATCH_FAIR).all()


def test_amounts_carry_the_runs_currency(runs: tuple[Path, Path]) -> None:
    old, new = runs
    metrics = {"kind": "transactions", "presentation": {"currency": "£"}}
    (old / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    lines = summary_lines(compare_runs(old, new))
    assert lines[-1] == (
        "1 customer moved from a valuable segment to an at-risk or lost one, "
        "£800 of revenue in the old run."
    )

"""Audiences: ``custseg export OUT_DIR --audiences DIR``, one mailing-tool CSV per segment,
contact columns only when named; and the same files as a zip (the app's Download page)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from custseg.audiences import (
    AUDIENCE_COLUMNS,
    audience_file_name,
    audiences_zip,
    read_output,
    write_audiences,
)

# A custseg output folder written by hand: five customers in two segments and noise. Customer
# "=4" and the action of segment 1 start like spreadsheet formulas (stored neutralized, as
# custseg writes them).
SEGMENTS = """customer_id,segment,segment_name,revenue
1,0,Champions,900.5
2,0,Champions,700
3,1,At risk,-20
'=4,1,At risk,15
5,-1,Outliers: big accounts,99999
"""
PROFILES = """segment,segment_name,n_customers,share,action
0,Champions,2,0.4,Reward them
1,At risk,2,0.4,'=HYPERLINK("x")
-1,Outliers: big accounts,1,0.2,Call them one by one
"""
# The invoice lines it was segmented from: several lines per customer, ids as a spreadsheet
# exported them (2.0), customer 1 changed email, customer 3 has none, a phone with spaces, an
# email that is a formula.
LINES = """CustomerID,InvoiceDate,Price,Email,Phone,first_name,Note
1,2021-01-01,5,old@example.com,+44 20 7946 0958,Ana,a
1,2021-02-01,5,ana@example.com,,Ana,b
2.0,2021-01-03,5,bo@example.com,07946 000111,Bo,c
3,2021-01-04,5,,,Cy,d
=4,2021-01-05,5,=HYPERLINK("http://x"),,Di,e
5,2021-01-06,5,eve@example.com,555-0100,Eve,f
"""


@pytest.fixture()
def output(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "segments.csv").write_text(SEGMENTS, encoding="utf-8")
    (folder / "profiles.csv").write_text(PROFILES, encoding="utf-8")
    lines = tmp_path / "orders.csv"
    lines.write_text(LINES, encoding="utf-8")
    metrics = {
        "source": {"path": str(lines), "sheet": None},
        "schema": {"roles": {"customer_id": "CustomerID"}},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return folder


def read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_one_file_per_segment_without_contact_data(run_cli, output, tmp_path):
    target = tmp_path / "aud"
    code, stdout, stderr = run_cli("export", output, "--audiences", target)
    assert code == 0 and stderr == "", stderr
    assert sorted(p.name for p in target.iterdir()) == [
        "no-segment.csv",
        "segment-0-Champions.csv",
        "segment-1-At-risk.csv",
    ]
    assert read(target / "segment-0-Champions.csv") == [
        list(AUDIENCE_COLUMNS),
        ["1", "0", "Champions", "Reward them"],
        ["2", "0", "Champions", "Reward them"],
    ]
    # Formula-like cells neutralized, as in every custseg CSV.
    assert read(target / "segment-1-At-risk.csv")[1:] == [
        ["3", "1", "At risk", '\'=HYPERLINK("x")'],
        ["'=4", "1", "At risk", '\'=HYPERLINK("x")'],
    ]
    assert read(target / "no-segment.csv")[1] == [
        "5",
        "-1",
        "Outliers: big accounts",
        "Call them one by one",
    ]
    # No contact data unless asked for: the input's emails are nowhere.
    assert not any(b"example.com" in p.read_bytes() for p in target.iterdir())
    assert "segment-0-Champions.csv" in stdout


def test_contact_columns_from_the_segmented_file(run_cli, output, tmp_path):
    target = tmp_path / "aud"
    code, stdout, stderr = run_cli(
        "export", output, "--audiences", target, "--contact-cols", "Email, Phone,first_name"
    )
    assert code == 0, stderr
    champions = read(target / "segment-0-Champions.csv")
    assert champions == [
        [*AUDIENCE_COLUMNS, "Email Address", "Phone Number", "First Name"],
        # The last email in the file; the phone as digits with its + (a number, not a formula).
        ["1", "0", "Champions", "Reward them", "ana@example.com", "+442079460958", "Ana"],
        # Id 2.0 in the input is customer 2.
        ["2", "0", "Champions", "Reward them", "bo@example.com", "07946000111", "Bo"],
    ]
    at_risk = read(target / "segment-1-At-risk.csv")
    assert at_risk[1][4:] == ["", "", "Cy"]
    assert at_risk[2][4] == '\'=HYPERLINK("http://x")'
    said = " ".join(stdout.split())
    assert "1 customer(s) have more than one 'Email'" in said
    assert "1 of 5 customers have no 'Email' in the input" in said
    # Only the named columns: the Note column stays out.
    assert not any(b"Note" in p.read_bytes() for p in target.iterdir())


def test_contact_columns_from_another_file_by_customer_id(output, tmp_path):
    crm = tmp_path / "crm.csv"
    crm.write_text("client,mail\n2,b@x.org\n1,a@x.org\n9,z@x.org\n", encoding="utf-8")
    written = write_audiences(
        output, tmp_path / "aud", contact_cols=["mail"], input=crm, customer_col="client"
    )
    assert written.files == {
        "segment-0-Champions.csv": 2,
        "segment-1-At-risk.csv": 2,
        "no-segment.csv": 1,
    }
    rows = read(tmp_path / "aud" / "segment-0-Champions.csv")
    assert [r[-1] for r in rows] == ["Email Address", "a@x.org", "b@x.org"]


def test_a_missing_contact_column_is_named_with_the_columns_there(run_cli, output, tmp_path):
    code, stdout, stderr = run_cli(
        "export", output, "--audiences", tmp_path / "aud", "--contact-cols", "email_address"
    )
    assert code == 2 and stderr.count("\n") == 1
    assert stderr.startswith("error: File '") and "has no column 'email_address'" in stderr
    assert "Columns there: CustomerID, InvoiceDate, Price, Email, Phone, first_name, Note" in stderr
    assert not (tmp_path / "aud").exists()


def test_not_a_custseg_output(run_cli, output, tmp_path):
    code, _, stderr = run_cli("export", tmp_path / "nope", "--audiences", tmp_path / "aud")
    assert code == 2 and stderr.startswith("error: ") and "is not a folder" in stderr
    (output / "profiles.csv").unlink()
    code, _, stderr = run_cli("export", output, "--audiences", tmp_path / "aud")
    assert code == 2 and "is not a custseg output folder (it lacks profiles.csv)" in stderr
    assert stderr.count("\n") == 1 and not (tmp_path / "aud").exists()


def test_unwritable_or_busy_target(run_cli, output, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code, _, stderr = run_cli("export", output, "--audiences", blocker / "aud")
    assert code == 2 and stderr.startswith("error: Cannot write the audiences to ")
    assert stderr.count("\n") == 1
    code, _, stderr = run_cli("export", output, "--audiences", blocker)
    assert code == 2 and "is a file" in stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep")
    code, _, stderr = run_cli("export", output, "--audiences", busy)
    assert code == 2 and "already holds other files (mine.txt)" in stderr
    assert [p.name for p in busy.iterdir()] == ["mine.txt"]


def test_rewrite_replaces_earlier_audiences_and_leaves_no_temporary_files(output, tmp_path):
    target = tmp_path / "aud"
    write_audiences(output, target, contact_cols=["Email"])
    write_audiences(output, target)
    assert b"example.com" not in (target / "segment-0-Champions.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aud", "orders.csv", "out"]


def test_an_interrupted_write_leaves_nothing(output, tmp_path, monkeypatch):
    import custseg.audiences as audiences

    calls = []

    def failing(table: pd.DataFrame) -> bytes:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return b"x"

    monkeypatch.setattr(audiences, "audience_csv", failing)
    with pytest.raises(KeyboardInterrupt):
        write_audiences(output, tmp_path / "aud")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv", "out"]


def test_input_without_contact_columns_is_refused(run_cli, output, tmp_path):
    code, _, stderr = run_cli(
        "export", output, "--audiences", tmp_path / "a", "--input", tmp_path / "orders.csv"
    )
    assert code == 2 and "--contact-cols" in stderr


def test_file_names_are_safe_everywhere():
    assert audience_file_name(0, 'Best: "VIP" <a/b\\c>?*|') == "segment-0-Best-VIP-a-b-c.csv"
    assert (
        audience_file_name(1, "Clients fidèles à Zürich")
        == "segment-1-Clients-fideles-a-Zurich.csv"
    )
    assert audience_file_name(2, "顧客") == "segment-2.csv"
    assert audience_file_name(3, "x" * 100) == f"segment-3-{'x' * 40}.csv"
    assert audience_file_name(-1, "CON") == "no-segment.csv"


def test_zip_holds_the_files_the_command_writes(run_cli, output, tmp_path):
    from custseg.audiences import read_contacts

    assert (
        run_cli("export", output, "--audiences", tmp_path / "aud", "--contact-cols", "Email")[0]
        == 0
    )
    contacts, _ = read_contacts(tmp_path / "orders.csv", ["Email"], customer_col="CustomerID")
    archive = zipfile.ZipFile(io.BytesIO(audiences_zip(read_output(output), contacts)))
    assert archive.namelist() == [
        "segment-0-Champions.csv",
        "segment-1-At-risk.csv",
        "no-segment.csv",
    ]
    for name in archive.namelist():
        assert archive.read(name) == (tmp_path / "aud" / name).read_bytes()


@pytest.mark.slow
def test_after_a_real_segmentation(run_cli, tmp_path):
    import custseg

    lines, _ = custseg.datasets.make_transactions(150, n_segments=3, seed=4)
    ids = sorted(lines["CustomerID"].unique())
    lines["email"] = lines["CustomerID"].map({c: f"c{i}@example.com" for i, c in enumerate(ids)})
    path = tmp_path / "orders.csv"
    lines.to_csv(path, index=False)
    out = tmp_path / "out"
    custseg.segment(path, seed=0, k=3, algorithm="kmeans", new_customers=False).save(out)
    code, _, stderr = run_cli(
        "export", out, "--audiences", tmp_path / "aud", "--contact-cols", "email"
    )
    assert code == 0, stderr
    segments = pd.read_csv(out / "segments.csv", dtype={"customer_id": str})
    files = sorted((tmp_path / "aud").iterdir())
    assert len(files) == 3
    listed = pd.concat([pd.read_csv(f, dtype={"Customer ID": str}) for f in files])
    assert sorted(listed["Customer ID"]) == sorted(segments["customer_id"])
    assert listed["Email Address"].str.endswith("@example.com").all()
    by_id = listed.set_index("Customer ID")
    assert (
        by_id.loc[segments["customer_id"], "Segment"].to_numpy() == segments["segment"].to_numpy()
    ).all()


@pytest.mark.slow
def test_app_download_page_offers_the_audiences_zip():
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    import custseg
    from custseg.app import _state, main_script

    lines, _ = custseg.datasets.make_transactions(120, n_segments=3, seed=1)
    lines["Email"] = "=" + lines["CustomerID"].astype(str) + "@example.com"
    at = AppTest.from_file(str(main_script()), default_timeout=240)
    at.run()
    at.file_uploader(key="data_upload").set_value(
        ("orders.csv", lines.to_csv(index=False).encode(), "text/csv")
    )
    at.run()
    at.switch_page("pages/segment.py").run()
    at.selectbox[0].set_value("kmeans")
    at.button[0].click().run()
    at.switch_page("pages/download.py").run()
    assert not at.exception and not at.error
    assert "Audiences (.zip)" in [b.label for b in at.get("download_button")]
    store = at.session_state[_state.BUILT]
    plain = zipfile.ZipFile(io.BytesIO(store["audiences []"][1]))
    assert all(b"example.com" not in plain.read(n) for n in plain.namelist())
    at.multiselect(key="audience_contact_cols").set_value(["Email"]).run()
    assert not at.exception and not at.error
    archive = zipfile.ZipFile(io.BytesIO(store["audiences ['Email']"][1]))
    result = at.session_state[_state.RESULT]["result"]
    assert len(archive.namelist()) == len(result.profiles)
    rows = [
        r for n in archive.namelist() for r in csv.reader(io.StringIO(archive.read(n).decode()))
    ]
    assert rows[0] == [*AUDIENCE_COLUMNS, "Email Address"]
    assert all(r[4].startswith("'=") for r in rows if r[0] != "Customer ID")

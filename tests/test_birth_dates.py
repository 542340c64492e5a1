"""A birth-date column of a customer table is read as an age in whole years
(``age_from_<column>``), counted to a day stored in the model, in ``custseg segment``,
``custseg predict`` and the scoring service alike; plans stored before ages existed still count
days. Tables are generated here, small enough to check the ages by hand."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.engines.duckdb import DuckDBEngine
from custseg.features.customers import (
    CustomerColumns,
    age_in_years,
    customer_features,
    is_birth_date,
)
from custseg.serve.scoring import Scorer


@pytest.mark.parametrize(
    "name",
    ["birth_date", "BirthDate", "Date of Birth", "DOB", "D.O.B.", "member_dob", "Birthday",
     "CustomerBirthDate", "Geburtsdatum", "Geb.-Datum", "fecha_nacimiento", "Date de naissance"],
)  # fmt: skip
def test_names_that_say_birth_date(name: str) -> None:
    assert is_birth_date(name)


@pytest.mark.parametrize(
    "name",
    ["birthday_offer_sent", "dob_verified_at", "adobe_sync_date", "last_birthday_mail",
     "join_date", "first_purchase", "birth_year_check_date"],
)  # fmt: skip
def test_names_that_only_mention_a_birth_date_count_days(name: str) -> None:
    assert not is_birth_date(name)


def test_age_in_years_is_the_age_a_person_gives() -> None:
    day = dt.date(2025, 3, 1)
    assert age_in_years(dt.date(1990, 3, 1), day) == 35  # birthday today
    assert age_in_years(dt.date(1990, 3, 2), day) == 34  # birthday tomorrow
    assert age_in_years(dt.date(2000, 2, 29), dt.date(2025, 2, 28)) == 24
    assert age_in_years(dt.date(2000, 2, 29), day) == 25  # reached on 1 March
    assert age_in_years(dt.date(2026, 1, 1), day) == -1


#: Six members; the latest join date is 2024-12-31, so ages are counted to 2025-01-01.
TINY = pd.DataFrame(
    {
        "MemberID": ["m1", "m2", "m3", "m4", "m5", "m6"],
        "spend": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
        "birth_date": ["01.01.1990", "02.01.1990", "31.12.2000", "29.02.2004", "", "15.06.1960"],
        "join_date": ["2020-01-01", "2024-12-31", "2021-06-30", "2022-01-01", "2023-01-01",
                      "2019-05-05"],
        "birthday_offer_sent": ["2024-12-01"] * 6,
    }
)  # fmt: skip


def test_a_birth_date_becomes_an_age_counted_to_the_tables_latest_other_date() -> None:
    features, details = custseg.build_features(TINY)
    ages = dict(zip(features["customer_id"], features["age_from_birth_date"], strict=True))
    # 2025-01-01: m1 turned 35 that day, m2 turns 35 a day later, m3 is 24, m4 20.
    assert ages["m1"] == 35 and ages["m2"] == 34 and ages["m3"] == 24 and ages["m4"] == 20
    assert np.isnan(ages["m5"]) and ages["m6"] == 64
    assert "days_since_birth_date" not in features
    # The other dates still count days, to the day after their own latest date.
    assert features["days_since_join_date"].tolist()[:2] == [1827.0, 1.0]
    assert features["days_since_birthday_offer_sent"].tolist()[0] == 1.0
    assert not any("counted to today" in w for w in details["warnings"])


def test_the_plan_stores_the_day_and_which_columns_are_birth_dates() -> None:
    result = custseg.segment(TINY.drop(columns="birthday_offer_sent"), k=2, algorithm="kmeans")
    plan = result.model.settings["customer_columns"]
    assert plan["birth_dates"] == ["birth_date"]
    assert plan["dates"]["birth_date"] == ["%d.%m.%Y", "2025-01-01"]
    assert "age_from_birth_date" in result.segments.columns


def test_without_another_date_ages_are_counted_to_today_with_a_warning() -> None:
    before = dt.date.today()
    features, details = custseg.build_features(TINY[["MemberID", "spend", "birth_date"]])
    after = dt.date.today()
    (warning,) = [w for w in details["warnings"] if "counted to today" in w]
    assert "'birth_date'" in warning
    ages = features["age_from_birth_date"]
    assert ages[0] in {age_in_years(dt.date(1990, 1, 1), d) for d in (before, after)}


def test_implausible_ages_are_left_blank_with_a_warning() -> None:
    table = TINY.assign(birth_date=["01.01.1990", "01.01.2030", "01.01.1850", "", "", ""])
    # Told with the other warnings of the reading (metrics.json, the report, the console).
    features, details = custseg.build_features(table)
    assert any(
        re.search(
            r"column 'birth_date' has 2 birth date\(s\) giving no plausible age at 2025-01-01 "
            r"\(rows 2, 3; 1 after that day and 1 more than 120 years before it\), e\.g\. "
            r"2030-01-01",
            w,
        )
        for w in details["warnings"]
    )
    assert features["age_from_birth_date"].tolist()[0] == 35
    assert features["age_from_birth_date"].isna().tolist() == [False, *[True] * 5]


def members(n: int, seed: int) -> pd.DataFrame:
    """Two groups: young light spenders and older big spenders, joined over four years."""
    rng = np.random.default_rng(seed)
    old = rng.random(n) < 0.5
    born = pd.Timestamp("2024-06-01") - pd.to_timedelta(
        np.where(old, rng.normal(60, 4, n), rng.normal(25, 3, n)) * 365.25, unit="D"
    )
    joined = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1400, n), unit="D")
    return pd.DataFrame(
        {
            "MemberID": [f"M{i:04d}" for i in range(n)],
            "spend": np.where(old, rng.normal(900, 80, n), rng.normal(150, 30, n)).round(2),
            "date_of_birth": born.strftime("%d/%m/%Y"),
            "join_date": joined.strftime("%Y-%m-%d"),
        }
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, pd.DataFrame]:
    frame = members(120, seed=5)
    return custseg.segment(frame, k=2, algorithm="kmeans", new_customers=False), frame


def test_scoring_a_file_and_the_service_give_the_training_ages_and_segments(
    fitted: tuple[Any, pd.DataFrame],
) -> None:
    result, frame = fitted
    model = result.model
    scored = model.predict(frame)
    assert scored["segment"].tolist() == result.segments["segment"].tolist()
    trained = result.segments["age_from_date_of_birth"].tolist()
    assert scored["age_from_date_of_birth"].tolist() == trained
    scorer = Scorer(model)
    assert scorer.input_columns() == ["MemberID", "spend", "date_of_birth", "join_date"]
    answer = scorer.score(frame.to_dict("records"))
    assert [r["segment"] for r in answer.results] == result.segments["segment"].tolist()
    assert [r["features"]["age_from_date_of_birth"] for r in answer.results] == trained
    assert answer.warnings == []


def test_the_service_blanks_an_implausible_age_and_says_so(
    fitted: tuple[Any, pd.DataFrame],
) -> None:
    result, _ = fitted
    scorer = Scorer(result.model)
    day = result.model.settings["customer_columns"]["dates"]["date_of_birth"][1]
    rows = [
        {"MemberID": "a", "spend": 900.0, "date_of_birth": "01/01/1960"},
        {"MemberID": "b", "spend": 900.0, "date_of_birth": "2099-01-01"},
    ]
    answer = scorer.score(rows)
    assert answer.results[0]["features"]["age_from_date_of_birth"] == age_in_years(
        dt.date(1960, 1, 1), dt.date.fromisoformat(day)
    )
    assert answer.results[1]["features"]["age_from_date_of_birth"] is None
    (warning,) = answer.warnings
    assert warning.startswith(
        f"row 1, 'date_of_birth': a birth date giving no plausible age at {day}"
    )


def raw_table(engine: DuckDBEngine, frame: pd.DataFrame) -> None:
    engine.con.register("frame", frame)
    engine.run("CREATE TABLE raw AS SELECT row_number() OVER () AS _row, * FROM frame")


def test_a_plan_stored_before_ages_existed_still_counts_days() -> None:
    stored = {
        "id_col": "MemberID",
        "numeric": ["spend"],
        "categorical": [],
        "dates": {"birth_date": ["%d.%m.%Y", "2025-01-01"]},
        "decimal_comma": [],
        "currency": None,
    }
    plan = CustomerColumns(**stored)
    assert plan.to_dict() == stored  # stored again as it was
    assert plan.feature_name("birth_date") == "days_since_birth_date"
    with DuckDBEngine() as engine:
        raw_table(engine, TINY.drop(columns="birthday_offer_sent"))
        features, _ = customer_features(engine, plan, "old")
    assert features["days_since_birth_date"].tolist()[:2] == [12784.0, 12783.0]
    assert "age_from_birth_date" not in features


def test_scoring_plans_keep_the_birth_dates_of_the_columns_present() -> None:
    plan = CustomerColumns(
        "id",
        numeric=["spend"],
        dates={"dob": [None, "2025-01-01"], "joined": [None, "2025-01-01"]},
        birth_dates=["dob"],
    )
    assert plan.to_dict()["birth_dates"] == ["dob"]
    scoring = plan.for_scoring(["spend", "age_from_dob"])
    assert scoring.optional == ["joined"]
    assert scoring.present(["id", "spend", "dob"]).birth_dates == ["dob"]
    optional = plan.for_scoring(["spend"])
    assert optional.present(["id", "spend"]).birth_dates == []
    assert optional.present(["id", "spend"]).dates == {}


def test_the_web_service_reads_a_birth_date_as_an_age(
    fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from custseg.persist import save_model
    from custseg.serve import create_app

    result, _ = fitted
    save_model(result.model, tmp_path / "model.skops")
    client = TestClient(create_app(tmp_path / "model.skops"))
    day = result.model.settings["customer_columns"]["dates"]["date_of_birth"][1]
    assert client.get("/v1/model").json()["date_reference_days"]["date_of_birth"] == day
    schema = json.dumps(client.get("/openapi.json").json())
    assert f"Birth date (read as the age at {day})" in schema
    rows = [{"MemberID": "a", "spend": 900, "date_of_birth": "2099-01-01", "join_date": None}]
    answer = client.post("/v1/score", json={"customers": rows}).json()
    assert answer["results"][0]["features"]["age_from_date_of_birth"] is None
    assert answer["warnings"][0].startswith("row 0, 'date_of_birth': a birth date giving no")

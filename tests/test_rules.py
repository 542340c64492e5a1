"""Readable segment rules: tiny tables whose rules, precision and coverage are checked by eye."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custseg.errors import InputError
from custseg.profile import rules as rules_module
from custseg.profile.rules import rule_mask, segment_rules


def only(conditions: list[dict], **expected: object) -> None:
    assert len(conditions) == 1
    assert {k: conditions[0][k] for k in expected} == expected


def test_threshold_rule_is_exact() -> None:
    x = np.arange(10)
    result = segment_rules(pd.DataFrame({"x": x}), (x >= 5).astype(int), ["x"], [])
    assert result[1] == {
        "rule": "x ≥ 5",
        "conditions": [{"feature": "x", "op": ">=", "value": 5, "text": "x ≥ 5"}],
        "precision": 1.0,
        "coverage": 1.0,
        "n_matching": 5,
        "n_segment": 5,
        "note": "",
    }
    assert result[0]["rule"] == "x ≤ 4"


def test_interval_merges_two_splits_on_one_feature() -> None:
    x = np.arange(30)
    result = segment_rules(pd.DataFrame({"x": x}), ((x >= 10) & (x <= 19)).astype(int), ["x"], [])
    assert result[1]["rule"] == "10 ≤ x ≤ 19"
    only(result[1]["conditions"], feature="x", op="between", value=[10, 19])
    assert (result[1]["precision"], result[1]["coverage"]) == (1.0, 1.0)


def test_interval_holding_one_whole_number_reads_as_equality() -> None:
    x = np.arange(10)
    result = segment_rules(pd.DataFrame({"x": x}), (x == 5).astype(int), ["x"], [])
    only(result[1]["conditions"], op="==", value=5, text="x = 5")
    assert json.loads(json.dumps(result))["1"]["rule"] == "x = 5"  # JSON-ready values


def test_categorical_levels_read_as_equal_and_not_equal() -> None:
    city = np.array(["Paris", "Rome", "Berlin"] * 3)
    df = pd.DataFrame({"city": city, "x": np.arange(9)})
    result = segment_rules(df, (city == "Paris").astype(int), ["x"], ["city"])
    assert result[1]["rule"] == "city = Paris"
    only(result[1]["conditions"], op="==", value="Paris")
    assert result[0]["rule"] == "city ≠ Paris"
    assert (result[0]["precision"], result[0]["coverage"]) == (1.0, 1.0)


def test_two_level_column_names_the_level_not_its_absence() -> None:
    genre = np.array(["Male", "Female"] * 4)
    result = segment_rules(
        pd.DataFrame({"Genre": genre}), (genre == "Female").astype(int), [], ["Genre"]
    )
    assert (result[0]["rule"], result[1]["rule"]) == ("Genre = Male", "Genre = Female")


def test_zero_one_column_reads_as_equality() -> None:
    response = np.array([0, 0, 0, 1, 1, 0, 1, 0])
    result = segment_rules(pd.DataFrame({"Response": response}), response, ["Response"], [])
    assert (result[0]["rule"], result[1]["rule"]) == ("Response = 0", "Response = 1")


def test_missing_numbers_are_imputed_for_the_tree_but_never_match() -> None:
    # The median 4.5 puts the two missing rows with x <= 4 in the tree; the rule as written
    # cannot claim them, so segment 0's coverage is 5 of 7.
    df = pd.DataFrame({"x": [*range(10), np.nan, np.nan]})
    labels = np.array([0] * 5 + [1] * 5 + [0, 0])
    result = segment_rules(df, labels, ["x"], [])
    assert result[1]["rule"] == "x ≥ 5"
    assert (result[1]["precision"], result[1]["coverage"]) == (1.0, 1.0)
    assert result[0]["rule"] == "x ≤ 4"
    assert result[0]["coverage"] == pytest.approx(5 / 7)
    assert (result[0]["n_matching"], result[0]["n_segment"]) == (5, 7)


def test_missing_categories_are_not_any_level() -> None:
    city = np.array(["Paris", "Rome", None, "Paris", "Rome", None], dtype=object)
    labels = np.array([1, 0, 0, 1, 0, 0])
    result = segment_rules(pd.DataFrame({"city": city}), labels, [], ["city"])
    assert result[1]["rule"] == "city = Paris"
    assert result[0]["rule"] == "city ≠ Paris"
    assert result[0]["n_matching"] == 4  # the missing cities are "not Paris"


def test_noise_gets_no_rule_and_counts_against_precision() -> None:
    x = np.arange(10)
    labels = (x >= 5).astype(int)
    labels[7] = -1
    result = segment_rules(pd.DataFrame({"x": x}), labels, ["x"], [])
    assert sorted(result) == [0, 1]
    assert result[1]["rule"] == "x ≥ 5"
    assert (result[1]["precision"], result[1]["coverage"]) == (0.8, 1.0)
    assert (result[1]["n_matching"], result[1]["n_segment"]) == (5, 4)


def test_no_rule_when_nothing_is_precise_enough() -> None:
    # Every value of x holds one customer of each segment: any rule is 25% precise.
    df = pd.DataFrame({"x": np.repeat(np.arange(10), 4)})
    result = segment_rules(df, np.tile([0, 1, 2, 3], 10), ["x"], [])
    assert result[2] == {
        "rule": "",
        "conditions": [],
        "precision": None,
        "coverage": None,
        "n_matching": 0,
        "n_segment": 10,
        "note": "no short rule describes this segment well (best: precision 25%).",
    }


def test_one_segment_holding_everyone_has_no_rule() -> None:
    result = segment_rules(pd.DataFrame({"x": [1, 2, 3]}), np.zeros(3, dtype=int), ["x"], [])
    assert result[0]["rule"] == ""
    assert (
        result[0]["note"] == "no rule describes this segment (every customer is in this segment)."
    )


def test_rounded_threshold_is_measured_again() -> None:
    # The tree splits at 51,250; the rule rounds it to 51,000, which also takes in the
    # customer at exactly 51,000 (not in the segment): precision 5/6, not 1.
    income = pd.DataFrame(
        {"income": [10_100, 20_700, 30_300, 40_400, 51_000, 51_500, 52_800, 60_100, 70_000, 80_000]}
    )
    labels = np.array([0] * 5 + [1] * 5)
    result = segment_rules(income, labels, ["income"], [])[1]
    assert result["rule"] == "income ≥ 51,000"
    only(result["conditions"], op=">=", value=51_000)
    assert result["precision"] == pytest.approx(5 / 6)
    mask = rule_mask(income, result["conditions"])
    assert result["n_matching"] == mask.sum() == 6
    assert result["precision"] == (mask & (labels == 1)).sum() / mask.sum()
    assert result["coverage"] == (mask & (labels == 1)).sum() / (labels == 1).sum() == 1.0


def test_continuous_thresholds_round_on_the_column_spread() -> None:
    # A birth year rounds to the year, not to two significant digits (2,000).
    rng = np.random.default_rng(0)
    year = rng.integers(1940, 2000, size=200)
    result = segment_rules(
        pd.DataFrame({"Year_Birth": year}), (year >= 1975).astype(int), ["Year_Birth"], []
    )
    assert result[1]["rule"] == "Year_Birth ≥ 1975"


def deterministic_table(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "revenue": rng.gamma(2.0, 300.0, size=n),
            "n_orders": rng.integers(1, 20, size=n),
            "city": rng.choice(["Paris", "Rome", "Lima"], size=n),
        }
    )
    labels = (df["revenue"] > 600).to_numpy().astype(int) + 2 * (df["city"] == "Lima").to_numpy()
    flip = rng.random(n) < 0.1
    labels[flip] = rng.integers(-1, 4, size=int(flip.sum()))
    return df, labels


def test_same_input_and_seed_give_identical_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    df, labels = deterministic_table(300)
    first = segment_rules(df, labels, ["revenue", "n_orders"], ["city"], seed=3)
    assert segment_rules(df, labels, ["revenue", "n_orders"], ["city"], seed=3) == first
    # Trees fitted on a sample, measured on every row.
    monkeypatch.setattr(rules_module, "MAX_TREE_CUSTOMERS", 100)
    sampled = segment_rules(df, labels, ["revenue", "n_orders"], ["city"], seed=3)
    assert segment_rules(df, labels, ["revenue", "n_orders"], ["city"], seed=3) == sampled
    for segment, rule in sampled.items():
        assert rule["n_segment"] == (labels == segment).sum()
        mask = rule_mask(df, rule["conditions"])
        assert rule["n_matching"] == mask.sum()
        assert rule["precision"] == (mask & (labels == segment)).sum() / mask.sum()


def test_text_category_and_object_columns_give_the_same_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    df, labels = deterministic_table(300)
    df.loc[[5, 50], "city"] = None
    monkeypatch.setattr(rules_module, "MAX_TREE_CUSTOMERS", 200)
    cities = ["Paris", "Rome", "Lima", "Oslo"]  # Oslo: a category no customer holds
    tables = [
        df.assign(city=df["city"].astype(object)),
        df.assign(city=df["city"].astype("str")),
        df.assign(city=pd.Categorical(df["city"], categories=cities)),
    ]
    found = [segment_rules(t, labels, ["revenue"], ["city"], seed=1) for t in tables]
    assert found[0] == found[1] == found[2]
    assert any("city" in r["rule"] for r in found[0].values())
    assert not any("Oslo" in r["rule"] for r in found[0].values())


def test_rule_mask_semantics() -> None:
    df = pd.DataFrame({"age": [25, 35, 45, None], "city": ["Paris", "Rome", "Paris", None]})
    between = [{"feature": "age", "op": "between", "value": [35, 45]}]
    assert rule_mask(df, between).tolist() == [False, True, True, False]
    assert rule_mask(df, [{"feature": "age", "op": "<", "value": 35}]).tolist() == [
        True,
        False,
        False,
        False,
    ]
    not_paris = [{"feature": "city", "op": "!=", "value": "Paris"}]
    assert rule_mask(df, not_paris).tolist() == [False, True, False, True]
    assert rule_mask(df, [*between, *not_paris]).tolist() == [False, True, False, False]
    assert rule_mask(df, []).tolist() == [True] * 4


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"feature": "town", "op": "==", "value": "Paris"}, r"column 'town'.*Columns: age, city"),
        ({"feature": "age", "op": "=>", "value": 3}, r"Unknown operator '=>'.*Use one of: <, <="),
        ({"feature": "city", "op": ">=", "value": 3}, r"column 'city' holds text"),
        ({"feature": "age", "op": "between", "value": 3}, r"needs \[low, high\], got 3"),
    ],
)
def test_rule_mask_errors(condition: dict, message: str) -> None:
    df = pd.DataFrame({"age": [25, 35], "city": ["Paris", "Rome"]})
    with pytest.raises(InputError, match=message):
        rule_mask(df, [condition])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"labels": np.array([0, 1])},
            r"one segment per row of features: got \(2,\) labels for 3 rows",
        ),
        ({"labels": np.array([0.0, 1.0, 1.0])}, r"whole segment numbers.*got dtype float64"),
        ({"numeric": ["age"]}, r"Column 'age' is not in the features table. Columns: x, city"),
        (
            {"numeric": ["city"]},
            r"Numeric column 'city' holds values that are not numbers \(e.g. 'a'\)",
        ),
        ({"numeric": [], "categorical": []}, r"at least one numeric or categorical column"),
        ({"max_conditions": 0}, r"max_conditions must be at least 1, got 0"),
    ],
)
def test_segment_rules_errors(kwargs: dict, message: str) -> None:
    args = {
        "features": pd.DataFrame({"x": [1, 2, 3], "city": ["a", "b", "a"]}),
        "labels": np.array([0, 1, 1]),
        "numeric": ["x"],
        "categorical": ["city"],
    }
    with pytest.raises(InputError, match=message):
        segment_rules(**{**args, **kwargs})


@pytest.mark.slow
def test_every_mall_segment_gets_a_precise_rule(data_dir: Path) -> None:
    import custseg

    path = data_dir / "mall_customers.csv"
    if not path.exists():
        pytest.skip(f"{path} not found (set CUSTSEG_DATA)")
    result = custseg.segment(path, algorithm="kmeans", seed=0)
    segments = result.segments
    preprocessing = result.metrics["preprocessing"]
    features = segments.drop(columns=["customer_id", "segment", "segment_name"])
    labels = segments["segment"].to_numpy()
    rules = segment_rules(
        features, labels, preprocessing["numeric"], preprocessing["categorical"], seed=0
    )
    assert sorted(rules) == sorted(set(labels) - {-1})
    for segment, rule in rules.items():
        assert rule["rule"], f"segment {segment}: {rule['note']}"
        assert rule["precision"] >= 0.6, (segment, rule["rule"], rule["precision"])
        assert len(rule["conditions"]) <= rules_module.MAX_RULE_CONDITIONS

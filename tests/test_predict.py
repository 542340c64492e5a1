"""Scoring new customers: same labels as training, independent of the batch, robust columns."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import custseg


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 240
    group = rng.integers(0, 3, n)
    return pd.DataFrame(
        {
            "ID": [str(1000 + i) for i in range(n)],
            "Age": rng.normal(25 + 15 * group, 3).round(),
            "Income": rng.normal(40 + 20 * group, 4).round(1),
            "Channel": np.where(group == 2, "store", "web"),
        }
    )


@pytest.fixture(scope="module")
def trained(customers):
    return custseg.segment(customers, seed=3)


@pytest.fixture(scope="module")
def lines_csv(tmp_path_factory):
    lines, truth = custseg.datasets.make_transactions(400, n_segments=3, seed=2)
    path = tmp_path_factory.mktemp("lines") / "lines.csv"
    lines.to_csv(path, index=False)
    return path, lines


def test_customer_table_predict_reproduces_training(trained, customers):
    scored = trained.model.predict(customers)
    pd.testing.assert_frame_equal(scored, trained.segments)


def test_scoring_does_not_depend_on_the_batch(trained, customers):
    model = trained.model
    whole = model.predict(customers)
    bounds = np.linspace(0, len(customers), 8).astype(int)
    parts = [customers.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    chunks = pd.concat([model.predict(c) for c in parts], ignore_index=True)
    pd.testing.assert_frame_equal(whole, chunks)
    singles = pd.concat(
        [model.predict(customers.iloc[[i]]) for i in range(0, len(customers), 17)],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(whole.iloc[::17].reset_index(drop=True), singles)


def test_reordered_columns_and_unseen_categories(trained, customers):
    model = trained.model
    shuffled = customers[["Channel", "Income", "ID", "Age"]].copy()
    pd.testing.assert_frame_equal(model.predict(shuffled), model.predict(customers))
    odd = customers.head(5).assign(Channel="phone")
    scored = model.predict(odd)
    assert len(scored) == 5 and scored["segment"].between(0, len(model.segment_names) - 1).all()


def test_missing_column_is_named(trained, customers):
    with pytest.raises(custseg.InputError, match="no column 'Income'"):
        trained.model.predict(customers.drop(columns="Income"))


def test_transactions_predict_reproduces_training(lines_csv):
    path, lines = lines_csv
    result = custseg.segment(path, seed=0)
    scored = result.model.predict(path)
    pd.testing.assert_frame_equal(scored, result.segments)
    # One customer's lines alone get the same segment: features do not depend on other customers.
    some = result.segments.sample(5, random_state=0)
    for cid, seg in zip(some["customer_id"], some["segment"], strict=True):
        alone = lines[lines["CustomerID"] == cid]
        assert result.model.predict(alone)["segment"].tolist() == [seg]


def test_transactions_model_refuses_a_customer_table(lines_csv, customers):
    path, _ = lines_csv
    result = custseg.segment(path, seed=0)
    with pytest.raises(custseg.InputError):
        result.model.predict(customers)


def test_stored_analysis_date_is_used(lines_csv):
    path, lines = lines_csv
    result = custseg.segment(path, seed=0)
    assert result.model.analysis_date == result.metrics["analysis_date"]
    # Lines from the first half only: recency is still measured at the stored analysis date.
    early = lines[pd.to_datetime(lines["InvoiceDate"]) < pd.Timestamp("2023-07-01")]
    features, _ = custseg.build_features(early, analysis_date=result.model.analysis_date)
    scored = result.model.predict(early)
    pd.testing.assert_series_equal(
        scored.set_index("customer_id")["days_since_last_purchase"],
        features.set_index("customer_id")["days_since_last_purchase"],
    )


def test_infinite_values_in_a_customer_table_are_refused(customers):
    bad = customers.astype({"Income": object})
    bad.loc[3, "Income"] = "1e400"
    with pytest.raises(
        custseg.InputError, match=r"column 'Income' has 1 value\(s\) that are not numbers"
    ):
        custseg.segment(bad)


def test_later_lines_are_scored_at_a_later_analysis_date(lines_csv):
    path, lines = lines_csv
    result = custseg.segment(path, seed=0)
    later = lines.copy()
    # Four weeks, so that days of the week (a first-purchase feature) stay the same too.
    later["InvoiceDate"] = (pd.to_datetime(later["InvoiceDate"]) + pd.Timedelta(days=28)).astype(
        str
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result.model.predict(later)
    messages = [str(w.message) for w in caught]
    assert any(
        "dated on or after the analysis date" in m and "--analysis-date" in m for m in messages
    )
    shifted = (pd.Timestamp(result.model.analysis_date) + pd.Timedelta(days=28)).date().isoformat()
    scored = result.model.predict(later, analysis_date=shifted)
    # Everything moved by 28 days and is measured 28 days later: the same features, the same
    # segments, the same forecasts.
    pd.testing.assert_frame_equal(scored, result.segments)


def test_canonical_order_keeps_noise():
    from custseg.pipeline import canonical_order

    features = pd.DataFrame({"revenue": [1.0, 5.0, 9.0, 2.0]})
    raw = np.array([0, 1, -1, 0])
    mapping = canonical_order(features, raw, "transactions")
    assert mapping[raw + 1].tolist() == [1, 0, -1, 1]

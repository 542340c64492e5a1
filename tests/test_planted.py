"""custseg finds planted segments: the number and the membership (adjusted Rand index)."""

from __future__ import annotations

import pytest
from sklearn.metrics import adjusted_rand_score

import custseg


@pytest.mark.parametrize(("n_segments", "seed"), [(2, 0), (3, 1), (4, 2), (5, 3)])
def test_recovers_planted_segments(n_segments, seed):
    lines, truth = custseg.datasets.make_transactions(1000, n_segments=n_segments, seed=seed)
    result = custseg.segment(lines, seed=seed, new_customers=False)
    found = result.segments.set_index("customer_id")["segment"]
    assert result.metrics["k"] == n_segments
    assert adjusted_rand_score(truth.loc[found.index], found) >= 0.9
    assert found.index.is_unique and len(found) == 1000


def test_planted_champions_and_lost_buyers_are_named():
    lines, truth = custseg.datasets.make_transactions(600, n_segments=3, seed=4)
    result = custseg.segment(lines, seed=0, new_customers=False)
    names = list(result.profiles["segment_name"])
    assert names[0] == "Champions"  # highest revenue comes first
    assert "Lost one-time buyers" in names
    assert len(set(names)) == len(names)


def test_generator_is_seeded():
    a, ta = custseg.datasets.make_transactions(50, seed=9)
    b, tb = custseg.datasets.make_transactions(50, seed=9)
    assert a.equals(b) and ta.equals(tb)
    with pytest.raises(ValueError, match="n_segments"):
        custseg.datasets.make_transactions(50, n_segments=9)

"""k-anonymity helpers: the numbers a learner reads must be right on tables we can check by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from citylab import privacy

PEOPLE = pd.DataFrame({
    "age": [23, 24, 37, 38, 38, 61],
    "sex": ["F", "F", "M", "M", "M", "F"],
    "country": ["FI", "FI", "FI", "SE", "FI", "FI"],
})


def test_age_band_labels_and_exact_ages() -> None:
    assert privacy.age_band(PEOPLE["age"], 5).tolist() == ["20-24", "20-24", "35-39", "35-39", "35-39", "60-64"]
    assert privacy.age_band(PEOPLE["age"], 1).tolist() == ["23", "24", "37", "38", "38", "61"]
    with pytest.raises(ValueError):
        privacy.age_band(PEOPLE["age"], 0)


def test_group_sizes_and_k() -> None:
    exact = privacy.generalise(PEOPLE, ["age", "sex", "country"])
    assert privacy.group_sizes(exact).tolist() == [1, 1, 1, 1, 1, 1]
    banded = privacy.generalise(PEOPLE, ["age", "sex", "country"], age_width=5)
    assert privacy.group_sizes(banded).tolist() == [2, 2, 2, 1, 2, 1]
    assert privacy.k_anonymity(banded) == 1
    no_country = privacy.generalise(PEOPLE, ["age", "sex", "country"], age_width=5, drop=["country"])
    assert list(no_country.columns) == ["age", "sex"]
    assert privacy.k_anonymity(no_country) == 1
    coarse = privacy.generalise(PEOPLE, ["age", "sex", "country"], age_width=100, drop=["country"])
    assert privacy.group_sizes(coarse).tolist() == [3, 3, 3, 3, 3, 3]


def test_risk_summary_counts() -> None:
    banded = privacy.generalise(PEOPLE, ["age", "sex", "country"], age_width=5)
    summary = privacy.risk_summary(banded, k=3)
    assert (summary.records, summary.groups, summary.unique, summary.below_k, summary.achieved_k) == (6, 4, 2, 6, 1)
    assert summary.unique_share == pytest.approx(2 / 6)
    assert "6 records in 4 groups" in summary.line()
    with pytest.raises(ValueError):
        privacy.risk_summary(banded, k=0)


def test_everything_dropped_is_one_group() -> None:
    nothing = privacy.generalise(PEOPLE, ["sex"], drop=["sex"])
    assert privacy.group_sizes(nothing).tolist() == [6] * 6


def test_unknown_column_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="postcode"):
        privacy.generalise(PEOPLE, ["postcode"])

"""How easily a "de-identified" table singles people out: uniqueness and k-anonymity.

A table without names can still identify people: a few ordinary attributes
together (age, sex, country of birth...) are often shared by nobody else.
These attributes are *quasi-identifiers*. A table is *k-anonymous* when every
combination of quasi-identifier values that occurs is shared by at least
``k`` records (Sweeney 2002). This module measures that, and shows what
coarsening the attributes (generalisation) buys and costs, so that a city
official can see the trade-off before publishing or sharing record-level data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd


def age_band(ages: pd.Series, width: int) -> pd.Series:
    """Ages grouped into bands of ``width`` years, labelled like '30-34'.

    ``width=1`` keeps exact ages (as text, so every column compares the same way).
    Bands start at multiples of ``width`` so that labels are stable and readable.
    """
    if width < 1:
        raise ValueError("an age band must be at least 1 year wide")
    values = ages.astype(int)
    if width == 1:
        return values.astype(str)
    low = (values // width) * width
    return low.astype(str) + "-" + (low + width - 1).astype(str)


def generalise(
    people: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    *,
    age_width: int = 1,
    drop: Sequence[str] = (),
) -> pd.DataFrame:
    """The quasi-identifier columns after generalisation: age banded, some columns removed.

    Returns only the columns an outsider could still match on, so that the
    result can go straight into :func:`group_sizes` or :func:`risk_summary`.
    """
    kept = [c for c in quasi_identifiers if c not in set(drop)]
    missing = [c for c in kept if c not in people.columns]
    if missing:
        raise KeyError(f"no column(s) {', '.join(missing)} in the table")
    table = people[kept].copy()
    if "age" in table.columns:
        table["age"] = age_band(table["age"], age_width)
    return table


def group_sizes(table: pd.DataFrame) -> pd.Series:
    """For each record, how many records share all its values (its equivalence class size)."""
    if table.shape[1] == 0:
        return pd.Series(len(table), index=table.index, dtype="int64")
    columns = list(table.columns)
    sizes = table.groupby(columns, dropna=False, sort=False)[columns[0]].transform("size")
    return sizes.astype("int64")


def k_anonymity(table: pd.DataFrame) -> int:
    """The k the table achieves: the size of its smallest equivalence class."""
    if table.empty:
        raise ValueError("an empty table has no k")
    return int(group_sizes(table).min())


@dataclass(frozen=True)
class RiskSummary:
    """Re-identification risk of one generalised table, in a form to print or chart."""

    records: int
    groups: int
    unique: int
    below_k: int
    k: int
    achieved_k: int

    @property
    def unique_share(self) -> float:
        """Share of records that no other record matches (k = 1)."""
        return self.unique / self.records

    @property
    def below_k_share(self) -> float:
        """Share of records in groups smaller than the chosen k."""
        return self.below_k / self.records

    def line(self) -> str:
        """One plain sentence for a notebook."""
        return (
            f"{self.records:,} records in {self.groups:,} groups: {self.unique:,} unique "
            f"({self.unique_share:.1%}); {self.below_k:,} in groups smaller than {self.k} "
            f"({self.below_k_share:.1%}); smallest group {self.achieved_k}."
        )


def risk_summary(table: pd.DataFrame, k: int = 5) -> RiskSummary:
    """Count unique records, records in groups smaller than ``k``, and the k achieved."""
    if k < 1:
        raise ValueError("k must be at least 1")
    sizes = group_sizes(table)
    return RiskSummary(
        records=len(table),
        groups=int(table.drop_duplicates().shape[0]) if table.shape[1] else 1,
        unique=int((sizes == 1).sum()),
        below_k=int((sizes < k).sum()),
        k=k,
        achieved_k=int(sizes.min()),
    )

"""Audit an open-data catalogue: is each record licensed, described, contactable, fresh, usable?

A catalogue is the city's shop window for its data. These checks follow the
fields a DCAT catalogue record carries (licence, description, contact point,
date modified, distribution format) and turn a catalogue export into a few
shares a data officer can report and improve quarter by quarter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

#: Licence values that do not actually give anyone permission to reuse the data.
NO_LICENCE = frozenset({"", "none", "License Not Specified"})

#: Formats a program can read without a person copying numbers out by hand.
MACHINE_READABLE = frozenset({
    "csv", "json", "geojson", "xml", "xlsx", "api", "shp", "kml", "kmz", "gtfs", "gtfs-rt",
    "geoparquet", "gdb", "geoservice", "rss", "txt", "las",
})
#: Spelling slips seen in real catalogues, mapped to the format meant.
FORMAT_ALIASES = {"xslx": "xlsx", "ht ml": "html", "tif": "tiff", "csv, json": "csv; json"}


def formats_of(cell: str) -> set[str]:
    """'api; csv; xslx' -> {'api', 'csv', 'xlsx'} (aliases fixed, blanks ignored)."""
    found: set[str] = set()
    for part in (p.strip().lower() for p in (cell or "").split(";")):
        if part:
            found.update(f.strip() for f in FORMAT_ALIASES.get(part, part).split(";"))
    return found


def months_between(earlier: date, later: date) -> float:
    """Elapsed months (30.44 days each) from ``earlier`` to ``later``."""
    return (later - earlier).days / 30.44


def audit(records: pd.DataFrame, snapshot: date) -> pd.DataFrame:
    """The catalogue with one True/False column per check, and the age of each dated record.

    ``records`` needs the columns of the course's catalogue dataset: licence,
    description_chars, has_contact_email, formats and last_updated (ISO date, or
    anything else for no date). A date after ``snapshot`` cannot be true and counts as undated.
    """
    out = records.copy()
    out["has_licence"] = ~out["licence"].fillna("").isin(NO_LICENCE)
    out["has_description"] = out["description_chars"].fillna(0) > 0
    out["has_contact"] = out["has_contact_email"].fillna(False).astype(bool)
    dates = pd.to_datetime(out["last_updated"].fillna(""), format="%Y-%m-%d", errors="coerce")
    in_past = dates.notna() & (dates.dt.date <= snapshot)
    out["has_update_date"] = in_past
    out["months_since_update"] = [
        months_between(d.date(), snapshot) if ok else float("nan") for d, ok in zip(dates, in_past)
    ]
    out["machine_readable"] = out["formats"].fillna("").map(lambda f: bool(formats_of(f) & MACHINE_READABLE))
    return out


CHECKS = {
    "has_licence": "name a licence",
    "has_description": "have a description",
    "has_contact": "give a contact e-mail",
    "has_update_date": "say when the data were last updated",
    "machine_readable": "offer a machine-readable format",
}


def completeness(audited: pd.DataFrame) -> pd.Series:
    """Share of records passing each check, labelled in plain words."""
    return pd.Series({label: float(audited[col].mean()) for col, label in CHECKS.items()})


@dataclass(frozen=True)
class Staleness:
    """How many dated records are older than a threshold."""

    months: int
    stale: int
    dated: int
    records: int

    @property
    def stale_share_of_dated(self) -> float:
        return self.stale / self.dated if self.dated else float("nan")

    def line(self) -> str:
        return (
            f"Stale after {self.months} months: {self.stale} of {self.dated} dated records "
            f"({self.stale_share_of_dated:.0%}); {self.records - self.dated} of {self.records} "
            "records give no usable update date, so their freshness is unknown."
        )


def staleness(audited: pd.DataFrame, months: int) -> Staleness:
    """Records whose last update is more than ``months`` months before the snapshot."""
    dated = audited["has_update_date"]
    stale = dated & (audited["months_since_update"] > months)
    return Staleness(months=months, stale=int(stale.sum()), dated=int(dated.sum()), records=len(audited))

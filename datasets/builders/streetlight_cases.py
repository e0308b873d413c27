"""Published figures of two LED streetlight programmes (Los Angeles, India's SLNP), transcribed.

Why a transcription: the figures are a handful of numbers from web pages and
press reports, and the build has no network access. Each row below is one
published number with the page it was read from and its status in the project
fact sheet (FACTS.md, section 6 "Financing"). Only rows with status V or V2
are kept. Assumptions made by the course (a discount rate, a lifetime, an
electricity tariff) are NOT data and are not here: they live in the notebooks
as named, labelled parameters.
"""

from __future__ import annotations

from buildlib import SourceError, csv_bytes, descriptor, field, file_stats, json_bytes

NAME = "streetlight-cases"
TRANSCRIBED = "2026-11-25T00:00:00Z"

LA_BSL = "https://bsl.lacity.org/led.html"
C40 = "https://www.c40.org/blog_posts/new-data-strengthens-business-case-for-led-lighting-retrofits"
PBS = "https://pbssocal.org/redefine/l-a-replaces-thousands-of-street-lights-with-leds"
SLNP24 = ("https://orissadiary.com/slnp-reports-estimated-energy-savings-of-8806-million-units-"
          "as-led-lights-replace-conventional-street-lights/")
SLNP19 = "https://www.thehindubusinessline.com/"
SLNP_MODEL = "https://www.india.gov.in"

CASES = ["los-angeles", "india-slnp"]
QUALIFIERS = ["exact", "about", "more than"]
STATUSES = ["V", "V2"]

#: One row per published figure. Columns: case, measure, value, unit,
#: qualifier, year the figure refers to, source (fact-sheet key and
#: publisher), source URL, fact-sheet status, note.
ROWS: list[tuple[str, str, float, str, str, int, str, str, str, str]] = [
    # FACTS.md §6 "Los Angeles LED retrofit": >140,000 fixtures in ~4 years (2009-2013), V -- LA Bureau of Street Lighting
    ("los-angeles", "fixtures_replaced", 140_000, "fixtures", "more than", 2013,
     "LA-BSL: City of Los Angeles, Bureau of Street Lighting", LA_BSL, "V",
     "Streetlight fixtures replaced with LED units; the page says over 140,000."),
    ("los-angeles", "rollout_years", 4, "years", "about", 2013,
     "LA-BSL: City of Los Angeles, Bureau of Street Lighting", LA_BSL, "V",
     "Replacement carried out over a four-year period, 2009 to 2013."),
    # FACTS.md §6 "Los Angeles LED retrofit": budget $57 m, V -- C40 (c. 2011)
    ("los-angeles", "budget", 57_000_000, "USD", "exact", 2009,
     "LA-BSL; C40: New Data Strengthens Business Case for LED Lighting Retrofits", C40, "V",
     "Amount the city budgeted for the programme, which started in 2009; nominal US dollars."),
    # FACTS.md §6 "LA results": energy -63.1%, V -- LA Bureau of Street Lighting
    ("los-angeles", "energy_use_reduction", 63.1, "percent", "exact", 2013,
     "LA-BSL: City of Los Angeles, Bureau of Street Lighting", LA_BSL, "V",
     "Reduction in the energy used by the replaced streetlights."),
    # FACTS.md §6 "LA results": -47,583 t CO2/yr, V -- LA Bureau of Street Lighting
    ("los-angeles", "co2_reduction", 47_583, "tonnes CO2 per year", "exact", 2013,
     "LA-BSL: City of Los Angeles, Bureau of Street Lighting", LA_BSL, "V",
     "Carbon emissions avoided each year."),
    # FACTS.md §6 "LA results": ~$10 m/yr savings, V -- PBS SoCal (2013)
    ("los-angeles", "annual_savings", 10_000_000, "USD per year", "about", 2013,
     "PBS SoCal: L.A. Replaces Thousands of Street Lights with LEDs", PBS, "V",
     "Expected yearly saving in energy and maintenance costs once all fixtures are replaced."),
    # FACTS.md §6 "LA results": loan repaid from savings in ~7 years, V -- LA Bureau of Street Lighting
    ("los-angeles", "loan_repayment_years", 7, "years", "about", 2013,
     "LA-BSL: City of Los Angeles, Bureau of Street Lighting", LA_BSL, "V",
     "Savings in energy and maintenance costs pay for the estimated loan amount in about seven years."),
    # FACTS.md §6 "India SLNP scale": 13,110,745 LED streetlights by 30 Jun 2024, V2 -- Ministry of Power reply in Parliament via Odisha Diary, 1 Aug 2024
    ("india-slnp", "lights_installed", 13_110_745, "lights", "exact", 2024,
     "SLNP24: Ministry of Power reply in Parliament, reported by Odisha Diary (1 Aug 2024)", SLNP24, "V2",
     "LED streetlights installed by EESL under the programme up to 30 June 2024."),
    # FACTS.md §6 "India SLNP scale": ~8,806 GWh/yr saved, V2 -- same source
    ("india-slnp", "energy_savings", 8_806, "GWh per year", "about", 2024,
     "SLNP24: Ministry of Power reply in Parliament, reported by Odisha Diary (1 Aug 2024)", SLNP24, "V2",
     "Estimated yearly energy saving of the lights installed by 30 June 2024 (8,806 million units)."),
    # FACTS.md §6 "SLNP CO2 (latest seen)": at 10 m lights (Oct 2019), V2 -- official statement via The Hindu BusinessLine, 1 Oct 2019
    ("india-slnp", "lights_installed", 10_000_000, "lights", "about", 2019,
     "SLNP19: official statement, reported by The Hindu BusinessLine (1 Oct 2019)", SLNP19, "V2",
     "Milestone of ten million lights (one crore) reached in October 2019. URL is the publisher's home page: the article address was not recorded."),
    # FACTS.md §6 "SLNP CO2 (latest seen)": 6.71 bn kWh/yr, V2 -- same source
    ("india-slnp", "energy_savings", 6_710, "GWh per year", "about", 2019,
     "SLNP19: official statement, reported by The Hindu BusinessLine (1 Oct 2019)", SLNP19, "V2",
     "Yearly energy saving at ten million lights (6.71 billion kWh)."),
    # FACTS.md §6 "SLNP CO2 (latest seen)": 4.63 Mt CO2/yr, V2 -- same source
    ("india-slnp", "co2_reduction", 4_630_000, "tonnes CO2 per year", "about", 2019,
     "SLNP19: official statement, reported by The Hindu BusinessLine (1 Oct 2019)", SLNP19, "V2",
     "Yearly CO2 emissions avoided at ten million lights (4.63 million tonnes)."),
    # FACTS.md §6 "SLNP/ESCO model": towns repay over ~7 years, V2 -- National Portal of India
    ("india-slnp", "repayment_years", 7, "years", "about", 2024,
     "SLNP-model: National Portal of India, Street Light National Programme", SLNP_MODEL, "V2",
     "EESL pays upfront; towns repay it from energy and maintenance savings over about seven years. Undated page; dated here to the latest scale figures."),
]

MEASURES = sorted({row[1] for row in ROWS})


def build() -> dict[str, bytes]:
    """Write the transcription above as a CSV with a strict schema."""
    keys = [(row[0], row[1], row[5]) for row in ROWS]
    if len(set(keys)) != len(keys):
        raise SourceError("duplicate (case, measure, year) in streetlight ROWS")
    if any(row[8] not in STATUSES for row in ROWS):
        raise SourceError("only fact-sheet rows with status V or V2 may be transcribed")
    rows = sorted(ROWS, key=lambda r: (CASES.index(r[0]), r[5], r[1]))
    header = ["case", "measure", "value", "unit", "qualifier", "year", "source", "source_url", "status", "note"]
    data = csv_bytes(header, ([*r[:2], _number(r[2]), *r[3:]] for r in rows))
    schema = {
        "fields": [
            field("case", "string", "Programme: los-angeles (City of Los Angeles LED streetlight replacement) or india-slnp (India's Street Lighting National Programme, run by EESL).", enum=CASES),
            field("measure", "string", "What the figure measures.", enum=MEASURES),
            field("value", "number", "The figure as published, in the unit of the row (money in nominal currency units, not millions).", minimum=0),
            field("unit", "string", "Unit of the value, e.g. USD, USD per year, percent, GWh per year, lights, years."),
            field("qualifier", "string", "How the source states the figure: exact, about (rounded or approximate) or more than (a lower bound).", enum=QUALIFIERS),
            field("year", "integer", "Year the figure refers to (for a budget, the year the programme started).", minimum=2000, maximum=2030),
            field("source", "string", "Fact-sheet source key and the publisher the figure was read from."),
            field("source_url", "string", "Page the figure was read from, or the publisher's home page where the article address was not recorded (see note).", pattern="https?://.*"),
            field("status", "string", "Verification status in the project fact sheet: V = verified at the stated page, V2 = verified only via a secondary copy or report.", enum=STATUSES),
            field("note", "string", "What exactly the figure covers, in the course's words."),
        ],
        "primaryKey": ["case", "measure", "year"],
    }
    package = descriptor(
        name=NAME,
        created=TRANSCRIBED,
        title="LED streetlight programmes: published figures for Los Angeles and India's SLNP",
        description=(
            "Thirteen published figures on two LED streetlight programmes, transcribed by hand: the City of "
            "Los Angeles replacement of more than 140,000 fixtures (2009-2013; budget, energy and CO2 "
            "reductions, yearly savings, loan repayment) and India's Street Lighting National Programme "
            "(lights installed, energy and CO2 savings, repayment period of its energy service company model). "
            "Published figures only: no assumptions, no derived values."
        ),
        licenses=[
            {
                "name": "CC-BY-4.0",
                "path": "https://creativecommons.org/licenses/by/4.0/",
                "title": "CC BY 4.0 (compilation of published facts)",
            }
        ],
        sources=[
            {"title": "City of Los Angeles, Bureau of Street Lighting: LED Streetlight Replacement Program", "path": LA_BSL},
            {"title": "C40 Cities: New Data Strengthens Business Case for LED Lighting Retrofits (c. 2011)", "path": C40},
            {"title": "PBS SoCal: L.A. Replaces Thousands of Street Lights with LEDs (2013)", "path": PBS},
            {"title": "Odisha Diary: Ministry of Power reply in Parliament on the Street Lighting National Programme (1 Aug 2024)", "path": SLNP24},
            {"title": "The Hindu BusinessLine: official statement on ten million LED streetlights (1 Oct 2019)", "path": SLNP19},
            {"title": "National Portal of India: Street Light National Programme", "path": SLNP_MODEL},
        ],
        citation=(
            "Los Angeles Bureau of Street Lighting, C40 and PBS SoCal (Los Angeles); Ministry of Power, "
            "The Hindu BusinessLine and National Portal of India (SLNP); compiled by Smart City Academy."
        ),
        processing=[
            "Transcribed by hand: the figures are typed into datasets/builders/streetlight_cases.py (ROWS), one commented row per published number with its fact-sheet row, page and status; the build has no network access and downloads nothing.",
            "Selection: every number in section 6 of the project fact sheet about the Los Angeles LED retrofit and India's Street Lighting National Programme with status V or V2. Qualitative facts (EESL pays upfront, savings guaranteed, no central budget) are described in the README and notebooks, not stored as numbers.",
            "Units: money in nominal US dollars (not millions); energy in GWh per year (8,806 million units = 8,806 GWh; 6.71 billion kWh = 6,710 GWh); CO2 in tonnes per year (4.63 million tonnes = 4,630,000).",
            "Lower bounds and rounded figures are kept as published and marked in the qualifier column (more than, about).",
            "No assumption and no derived value (cost per fixture, saving per light) is stored: the notebooks compute them and say so.",
            "Sorted by case, year, measure; wrote UTF-8 CSV with LF line ends. The build checks the primary key is unique and every status is V or V2.",
        ],
        resources=[
            {
                "name": "figures",
                "path": "figures.csv",
                "title": "Published figures, one per row",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **file_stats(data),
                "schema": schema,
            }
        ],
    )
    return {"figures.csv": data, "datapackage.json": json_bytes(package)}


def _number(value: float) -> str:
    """Whole numbers without a decimal point (140000, not 140000.0)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))

"""Warsaw, Śródmieście district, participatory budget 2020 (Pabulib): who voted, and for what.

The pinned input is a copy of the Pabulib ``.pb`` file kept in
``datasets/pb-warsaw-2020-srodmiescie/source/``. It lists every ballot with the
voter's age, sex and voting channel. This builder never writes a voter-level
row: it writes counts of voters by age band x sex x channel, counts of
approvals by project x age band, and a ballot profile (distinct approval sets
with their number of voters) that carries no attribute at all, so the three
tables cannot be joined back into individual ballots.

It also holds a two-row transcription of published Warsaw population figures
(no network at build time), used as a benchmark for the voters' sex ratio.
"""

from __future__ import annotations

from collections import Counter

# PinnedFile: tests/test_datasets.py finds the pinned inputs as instances of it.
from buildlib import (  # noqa: F401
    PinnedFile,
    SourceError,
    csv_bytes,
    csv_resource,
    descriptor,
    field,
    json_bytes,
)

from builders.pb_toulouse_2022 import (
    PABULIB_COMMIT,
    PABULIB_LICENCE,
    PABULIB_REPO,
    RETRIEVED,
    PinnedCopy,
    approval_sets,
    ballot_profile,
    instance_table,
    read_pb,
)

NAME = "pb-warsaw-2020-srodmiescie"
WARSAW_PB = PinnedCopy(
    distribution="pabulib_files",
    module=f"{PABULIB_REPO}/blob/{PABULIB_COMMIT}/pb_files/Poland_Warszawa_2020_Srodmiescie.pb",
    version=PABULIB_COMMIT,
    relpath="Poland_Warszawa_2020_Srodmiescie.pb",
    sha256="de522633a55fc41736b30fa4e8374d962e35c6295a34d99d460928d54f316bb4",
    dataset=NAME,
)

#: Ten-year bands, cut at 15 and 65 so they add up to the UN's 0-14 / 15-64 / 65+ groups.
AGE_BANDS = [("0-14", 0, 14), ("15-24", 15, 24), ("25-34", 25, 34), ("35-44", 35, 44),
             ("45-54", 45, 54), ("55-64", 55, 64), ("65-74", 65, 74), ("75+", 75, 200)]
SEXES = {"F": "F", "M": "M"}
CHANNELS = ["internet", "paper"]

PANORAMA_2021 = "https://scribd.com/document/670312481/Panorama-Dzielnic-Warszawy-2021"
#: Published population figures, transcribed (thousands, as of 31 December).
#: Columns: area, group, population in thousands, year, page read, status.
#: Statistics Poland, Statistical Office in Warsaw, "Panorama dzielnic Warszawy
#: w 2021 r.", Table I ("Ludność (stan w dniu 31.12.) w tys." and "w tym
#: kobiety"), read in a public copy of the publication (status V2).
BENCHMARK_ROWS = [
    ("Warsaw", "total", 1863.1, 2021, PANORAMA_2021, "V2"),
    ("Warsaw", "women", 1003.4, 2021, PANORAMA_2021, "V2"),
]
GUS_TERMS = {
    "name": "other-at",
    "path": "https://warszawa.stat.gov.pl/en/",
    "title": "Statistics Poland: reuse with the source indicated (benchmarks.csv only)",
}


def band_of(age: int) -> str:
    """The age band label of an age in years."""
    for label, low, high in AGE_BANDS:
        if low <= age <= high:
            return label
    raise SourceError(f"age {age} is outside every band")


def build() -> dict[str, bytes]:
    """Voters by age band x sex x channel, approvals by age band, ballot profile, projects."""
    pb = read_pb(WARSAW_PB.path())
    if pb.meta.get("district") != "Śródmieście" or pb.meta["vote_type"] != "approval":
        raise SourceError("not the Warsaw Śródmieście approval vote")
    bands = [label for label, _, _ in AGE_BANDS]
    voters: Counter[tuple[str, str, str]] = Counter()
    approvals: Counter[tuple[int, str]] = Counter()
    for vote, ballot in zip(pb.votes, approval_sets(pb)):
        if vote["sex"] not in SEXES or vote["voting_method"] not in CHANNELS:
            raise SourceError(f"unexpected sex {vote['sex']!r} or channel {vote['voting_method']!r}")
        band = band_of(int(vote["age"]))
        voters[(band, vote["sex"], vote["voting_method"])] += 1
        for pid in ballot:
            approvals[(int(pid), band)] += 1
    if sum(voters.values()) != len(pb.votes):
        raise SourceError("voter counts do not add up to the ballots")

    voter_rows = [[b, s, c, voters[(b, s, c)]] for b in bands for s in SEXES for c in CHANNELS]
    voters_csv = csv_bytes(["age_band", "sex", "channel", "voters"], voter_rows)
    voters_schema = {
        "fields": [
            field("age_band", "string", "Voter's age at the vote, in ten-year bands cut at 15 and 65 (the source records ages 0 to 114).", enum=bands),
            field("sex", "string", "Voter's sex as recorded by the city: F or M.", enum=list(SEXES)),
            field("channel", "string", "How the ballot was cast: internet or paper.", enum=CHANNELS),
            field("voters", "integer", "Number of voters in this age band, sex and channel (zero where none).", minimum=0),
        ],
        "primaryKey": ["age_band", "sex", "channel"],
    }

    projects = sorted(pb.projects, key=lambda p: int(p["project_id"]))
    approval_rows = [[int(p["project_id"]), b, approvals[(int(p["project_id"]), b)]] for p in projects for b in bands]
    approvals_csv = csv_bytes(["project_id", "age_band", "approvals"], approval_rows)
    approvals_schema = {
        "fields": [
            field("project_id", "integer", "Pabulib project id; joins projects.csv.", minimum=1),
            field("age_band", "string", "Age band of the voters counted.", enum=bands),
            field("approvals", "integer", "Voters in this age band who approved the project.", minimum=0),
        ],
        "primaryKey": ["project_id", "age_band"],
    }
    for p in projects:  # the split by age adds up to the project's votes
        if sum(approvals[(int(p["project_id"]), b)] for b in bands) != int(p["votes"]):
            raise SourceError(f"project {p['project_id']}: approvals by age do not add up")

    project_rows = [[int(p["project_id"]), p["name"], p["category"].replace(",", ", "), int(p["cost"]),
                     int(p["votes"]), p["selected"] == "1"] for p in projects]
    projects_csv = csv_bytes(["project_id", "name", "categories", "cost", "votes", "selected"], project_rows)
    projects_schema = {
        "fields": [
            field("project_id", "integer", "Pabulib project id (the ballots refer to it).", minimum=1, unique=True),
            field("name", "string", "Project title as published (Polish)."),
            field("categories", "string", "Themes the city gave the project, comma-separated (English, as in Pabulib)."),
            field("cost", "integer", "Estimated cost in Polish złoty.", minimum=1),
            field("votes", "integer", "Voters who approved the project (checked against the ballots).", minimum=0),
            field("selected", "boolean", "Whether the city funded the project in the real vote."),
        ],
        "primaryKey": ["project_id"],
    }
    ballots_csv, ballots_schema, n_ballots = ballot_profile(pb)
    instance_csv, instance_schema = instance_table(pb)

    keys = [row[:2] for row in BENCHMARK_ROWS]
    if len(set(keys)) != len(keys):
        raise SourceError("duplicate benchmark rows")
    benchmarks_csv = csv_bytes(["area", "group", "population_thousands", "year", "source_url", "status"], BENCHMARK_ROWS)
    benchmarks_schema = {
        "fields": [
            field("area", "string", "Area the figure describes.", enum=["Warsaw"]),
            field("group", "string", "Population group: total or women.", enum=["total", "women"]),
            field("population_thousands", "number", "Residents in thousands, as published (31 December).", minimum=0),
            field("year", "integer", "Year of the figure.", minimum=2000, maximum=2030),
            field("source_url", "string", "Where the figure was read.", pattern="https://.*"),
            field("status", "string", "V = read in the original; V2 = read in a public copy of it.", enum=["V", "V2"]),
        ],
        "primaryKey": ["area", "group", "year"],
    }

    total = len(pb.votes)
    paper = sum(n for (_, _, c), n in voters.items() if c == "paper")
    package = descriptor(
        name=NAME,
        title="Warsaw Śródmieście participatory budget 2020: who voted, how, and for what",
        description=(
            "The district participatory budget vote of Warsaw's Śródmieście (city centre) district for 2020, "
            "held from 6 to 23 September 2019: 38 projects, 3,197 approval ballots (up to 15 projects each), "
            "PLN 3,823,123 to allocate. Voters are counted by age band, sex and channel (internet or paper); "
            "approvals are counted by project and age band; ballots are merged into a ballot profile with no "
            "voter attributes. A two-row transcription of Warsaw's published population gives a benchmark for sex."
        ),
        created=RETRIEVED,
        licenses=[PABULIB_LICENCE, GUS_TERMS],
        sources=[
            {"title": "Pabulib: Poland_Warszawa_2020_Srodmiescie.pb", "path": WARSAW_PB.module},
            {"title": "Statistics Poland, Statistical Office in Warsaw (2022), Panorama dzielnic Warszawy w 2021 r., Table I (public copy)", "path": PANORAMA_2021},
        ],
        citation=(
            "Pabulib (Faliszewski et al. 2023; Stolicki, Szufa and Talmon 2020), Warsaw Śródmieście 2020 participatory budget; "
            "Warsaw population: Statistics Poland, Panorama dzielnic Warszawy w 2021 r."
        ),
        processing=[
            WARSAW_PB.note(),
            "Parsed the .pb file with the standard-library reader in datasets/builders/pb_toulouse_2022.py; checked num_projects, num_votes, each project's vote count against the ballots and the 1-15 projects per ballot rule.",
            f"voters.csv: {total:,} voters counted by age band (0-14, 15-24, ..., 65-74, 75+), sex (F, M) and channel (internet, paper); {paper} voted on paper. Ages are used only to pick the band; one recorded age of 114 is kept in 75+ as published. No voter-level row is written.",
            "approvals_by_age.csv: for each project and age band, the number of voters who approved it; checked to add up to each project's votes.",
            f"ballots.csv: the ballots merged into {n_ballots:,} distinct approval sets with their number of voters, without age, sex, channel or voter id, so it cannot be joined to the two tables above.",
            "projects.csv: categories re-joined with ', '; 'selected' (1/0 in the source) written as true/false; latitude, longitude and target groups left out.",
            "instance.csv: the META section as one typed row (budget, currency, ballot rules, dates in ISO format).",
            "benchmarks.csv: Warsaw's population and its number of women on 31 December 2021, in thousands, transcribed by hand from Table I of the Statistical Office in Warsaw's Panorama dzielnic Warszawy w 2021 r., read in a public copy (no network at build time). The figures describe the whole city, two years after the vote; district figures by age and sex could not be obtained offline.",
            "Sorted rows; wrote UTF-8 CSV with LF line ends.",
        ],
        inputs=[WARSAW_PB.record()],
        resources=[
            csv_resource("voters", "voters.csv", "Voters by age band, sex and channel", voters_csv, voters_schema),
            csv_resource("approvals_by_age", "approvals_by_age.csv", "Approvals by project and age band", approvals_csv, approvals_schema),
            csv_resource("projects", "projects.csv", "Projects on the ballot", projects_csv, projects_schema),
            csv_resource("ballots", "ballots.csv", "Ballot profile: distinct approval sets and their voters", ballots_csv, ballots_schema),
            csv_resource("instance", "instance.csv", "The vote's budget, dates and ballot rules", instance_csv, instance_schema),
            csv_resource("benchmarks", "benchmarks.csv", "Warsaw population benchmark (transcribed)", benchmarks_csv, benchmarks_schema),
        ],
    )
    return {
        "voters.csv": voters_csv,
        "approvals_by_age.csv": approvals_csv,
        "projects.csv": projects_csv,
        "ballots.csv": ballots_csv,
        "instance.csv": instance_csv,
        "benchmarks.csv": benchmarks_csv,
        "datapackage.json": json_bytes(package),
    }

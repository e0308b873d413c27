"""Toulouse participatory budget 2022 (Pabulib): projects, ballot profile, district boundaries.

The pinned inputs are copies kept in the repository under
``datasets/pb-toulouse-2022/source/``: the Pabulib ``.pb`` file (public ballots
of the city's 2022 vote) and the Toulouse Métropole open-data boundaries of the
20 "quartiers de démocratie locale". This module also holds the small ``.pb``
reader and the pinning class that the Warsaw builder reuses, so both read
Pabulib files the same way.

No voter-level rows leave this builder: ballots are merged into a *ballot
profile* (each distinct set of approved projects with the number of voters who
cast it). The Toulouse file carries no voter attributes at all.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildlib import (
    CommittedFile,
    SourceError,
    csv_bytes,
    csv_resource,
    descriptor,
    field,
    file_stats,
    json_bytes,
)

HERE = Path(__file__).resolve().parent.parent  # datasets/

RETRIEVED = "2026-11-25T00:00:00Z"
#: The Pabulib snapshot the course copied its .pb files from.
PABULIB_REPO = "https://github.com/pabulib/pabulib_files"
PABULIB_COMMIT = "88cfaba3e7692a90f3311cbcf8f08aa63fc3fbff"
PABULIB_CITATIONS = "https://pabulib.org/citations"
PABULIB_LICENCE = {
    "name": "other-at",
    "path": PABULIB_CITATIONS,
    "title": "No explicit licence (Pabulib: public city PB data, citation requested)",
}


@dataclass(frozen=True)
class PinnedCopy(CommittedFile):
    """A source file copied into ``datasets/<dataset>/source/``, pinned by commit and hash.

    Why a copy: the Pabulib files and the boundary file are not shipped in any
    Python package, and the build must run with no network. ``version`` holds
    the upstream commit the file was taken from.
    """

    folder: str = "source"

    def note(self) -> str:
        """One line for the descriptor's processing notes."""
        return (
            f"Input: source/{self.relpath}, a byte-for-byte copy of {self.module} "
            f"at commit {self.version}, sha256 {self.sha256}."
        )

    def record(self) -> dict[str, str]:
        """The descriptor's x_inputs entry for this file."""
        return {"file": self.relpath, "from": self.module, "version": self.version, "sha256": self.sha256}


TOULOUSE_PB = PinnedCopy(
    distribution="pabulib_files",
    module=f"{PABULIB_REPO}/blob/{PABULIB_COMMIT}/pb_files/France_Toulouse_2022.pb",
    version=PABULIB_COMMIT,
    relpath="France_Toulouse_2022.pb",
    sha256="194bc686071d8e61271cb4718808285219f4f67e501576185f2536458c9732f4",
    dataset="pb-toulouse-2022",
)
#: Toulouse Métropole's export of the 20 quartiers de démocratie locale, as kept
#: unmodified in a public GitHub repository (the portal cannot be reached at build time).
BOUNDARIES_COMMIT = "134e06fb0e590ec3a05be1b5d72b316e82d561af"
TOULOUSE_BOUNDARIES = PinnedCopy(
    distribution="MonicaLydieD/Toulouse",
    module=f"https://github.com/MonicaLydieD/Toulouse/blob/{BOUNDARIES_COMMIT}/quartiers-de-democratie-locale.geojson",
    version=BOUNDARIES_COMMIT,
    relpath="quartiers-de-democratie-locale.geojson",
    sha256="df106a8b97b831ab361b961e725e537d92eb28670f66c7ad6dfb18b95ab53be9",
    dataset="pb-toulouse-2022",
)
TOULOUSE_PORTAL = "https://data.toulouse-metropole.fr/explore/dataset/quartiers-de-democratie-locale/"
ODBL = {
    "name": "ODbL-1.0",
    "path": "https://opendatacommons.org/licenses/odbl/1-0/",
    "title": "ODbL 1.0 (district boundaries: Toulouse Métropole)",
}

# --------------------------------------------------------------------------
# Reading .pb files (shared with the Warsaw builder)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PbFile:
    """The three sections of a Pabulib file, as strings."""

    meta: dict[str, str]
    projects: list[dict[str, str]]
    votes: list[dict[str, str]]


def read_pb(path: Path) -> PbFile:
    """Parse a .pb file (META, PROJECTS, VOTES; ';'-separated, see pabulib.org/format)."""
    sections: dict[str, list[dict[str, str]]] = {"META": [], "PROJECTS": [], "VOTES": []}
    current: str | None = None
    header: list[str] | None = None
    text = path.read_text(encoding="utf-8")
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=";"):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) == 1 and row[0].strip() in sections:
            current, header = row[0].strip(), None
            continue
        if current is None:
            raise SourceError(f"{path.name}: data before the META section")
        cells = [cell.strip() for cell in row]
        if header is None:
            header = cells
            continue
        if len(cells) != len(header):
            raise SourceError(f"{path.name}, {current}: row {cells[:2]} has {len(cells)} fields, expected {len(header)}")
        sections[current].append(dict(zip(header, cells)))
    meta = {row["key"]: row["value"] for row in sections["META"]}
    pb = PbFile(meta=meta, projects=sections["PROJECTS"], votes=sections["VOTES"])
    check_counts(pb, path.name)
    return pb


def check_counts(pb: PbFile, label: str) -> None:
    """The META counts and each project's vote count must match the ballots."""
    if int(pb.meta["num_projects"]) != len(pb.projects):
        raise SourceError(f"{label}: num_projects {pb.meta['num_projects']} but {len(pb.projects)} projects")
    if int(pb.meta["num_votes"]) != len(pb.votes):
        raise SourceError(f"{label}: num_votes {pb.meta['num_votes']} but {len(pb.votes)} ballots")
    ids = [p["project_id"] for p in pb.projects]
    if len(set(ids)) != len(ids):
        raise SourceError(f"{label}: duplicate project ids")
    approvals = Counter(pid for ballot in approval_sets(pb) for pid in ballot)
    unknown = set(approvals) - set(ids)
    if unknown:
        raise SourceError(f"{label}: ballots name unknown projects {sorted(unknown)[:3]}")
    for project in pb.projects:
        if int(project["votes"]) != approvals.get(project["project_id"], 0):
            raise SourceError(f"{label}: project {project['project_id']} votes do not match its ballots")
    low, high = int(pb.meta["min_length"]), int(pb.meta["max_length"])
    if any(not low <= len(b) <= high for b in approval_sets(pb)):
        raise SourceError(f"{label}: a ballot approves fewer than {low} or more than {high} projects")


def approval_sets(pb: PbFile) -> list[frozenset[str]]:
    """Each ballot as the set of project ids it approves."""
    out = []
    for vote in pb.votes:
        chosen = [pid.strip() for pid in vote["vote"].split(",") if pid.strip()]
        if len(set(chosen)) != len(chosen):
            raise SourceError(f"a ballot approves the same project twice: {vote['vote']}")
        out.append(frozenset(chosen))
    return out


def whole(value: str, what: str) -> int:
    """'4000.0' -> 4000; refuse costs with cents (the schema stores whole currency units)."""
    number = float(value)
    if number != int(number):
        raise SourceError(f"{what} {value} is not a whole amount")
    return int(number)


def iso_date(value: str) -> str:
    """'03.10.2022' -> '2022-10-03'."""
    day, month, year = value.split(".")
    return f"{year}-{month}-{day}"


def ballot_profile(pb: PbFile) -> tuple[bytes, dict[str, Any], int]:
    """Distinct approval sets with their number of voters (no voter ids, no attributes)."""
    counts = Counter(approval_sets(pb))
    rows = sorted(
        ([" ".join(sorted(ballot, key=int)), len(ballot), n] for ballot, n in counts.items()),
        key=lambda r: [int(x) for x in r[0].split()],
    )
    data = csv_bytes(["ballot_id", "project_ids", "size", "voters"], ([i, *r] for i, r in enumerate(rows, 1)))
    schema = {
        "fields": [
            field("ballot_id", "integer", "Number of this distinct ballot in the file (1 = first in ascending order of project ids); not a voter id.", minimum=1, unique=True),
            field("project_ids", "string", "The project ids approved on this ballot, ascending, separated by spaces.", unique=True, pattern="[0-9]+( [0-9]+)*"),
            field("size", "integer", "How many projects the ballot approves.", minimum=1, maximum=int(pb.meta["max_length"])),
            field("voters", "integer", "Number of voters who cast exactly this ballot.", minimum=1),
        ],
        "primaryKey": ["ballot_id"],
    }
    return data, schema, len(rows)


def instance_table(pb: PbFile) -> tuple[bytes, dict[str, Any]]:
    """The META section as one typed row: budget, dates, ballot rules, counts."""
    m = pb.meta
    row = [
        m["unit"], m.get("district", m["unit"]), m["instance"], whole(m["budget"], "budget"), m["currency"],
        m["vote_type"], int(m["min_length"]), int(m["max_length"]), int(m["num_projects"]), int(m["num_votes"]),
        iso_date(m["date_begin"]), iso_date(m["date_end"]), m["rule"],
    ]
    header = ["unit", "area", "instance", "budget", "currency", "vote_type", "min_length", "max_length",
              "num_projects", "num_votes", "date_begin", "date_end", "rule"]
    schema = {
        "fields": [
            field("unit", "string", "Municipality holding the vote."),
            field("area", "string", "Area whose budget was voted on (the city itself, or a district)."),
            field("instance", "string", "Edition of the process, as named by Pabulib."),
            field("budget", "integer", "Total budget to allocate, in whole currency units.", minimum=1),
            field("currency", "string", "ISO 4217 currency code.", enum=["EUR", "PLN"]),
            field("vote_type", "string", "Ballot type (approval: each voter ticks projects they support).", enum=["approval"]),
            field("min_length", "integer", "Fewest projects a ballot may approve.", minimum=0),
            field("max_length", "integer", "Most projects a ballot may approve.", minimum=1),
            field("num_projects", "integer", "Projects on the ballot.", minimum=1),
            field("num_votes", "integer", "Ballots cast (voters).", minimum=1),
            field("date_begin", "string", "First day of voting (ISO date).", pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}"),
            field("date_end", "string", "Last day of voting (ISO date).", pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}"),
            field("rule", "string", "Counting rule Pabulib records for the real vote.", enum=["greedy"]),
        ],
        "primaryKey": ["unit", "area", "instance"],
    }
    return csv_bytes(header, [row]), schema


# --------------------------------------------------------------------------
# Boundaries: light simplification, stdlib only, deterministic
# --------------------------------------------------------------------------

COORDINATE_DECIMALS = 5  # about 1 m
SIMPLIFY_TOLERANCE = 0.0001  # degrees, about 8-11 m at Toulouse's latitude


def _distance(p: list[float], a: list[float], b: list[float]) -> float:
    """Distance from p to the segment a-b (planar, in degrees: fine at city scale)."""
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    if dx == 0 and dy == 0:
        return ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return ((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5


def simplify_ring(ring: list[list[float]], tolerance: float = SIMPLIFY_TOLERANCE) -> list[list[float]]:
    """Douglas-Peucker on a closed ring, then rounding; keeps at least a quadrilateral."""
    keep = [False] * len(ring)
    keep[0] = keep[-1] = True
    far = max(range(len(ring)), key=lambda i: _distance(ring[i], ring[0], ring[0]))
    keep[far] = True
    stack = [(0, far), (far, len(ring) - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        index, worst = first, -1.0
        for i in range(first + 1, last):
            d = _distance(ring[i], ring[first], ring[last])
            if d > worst:
                index, worst = i, d
        if worst > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    out: list[list[float]] = []
    for point, kept in zip(ring, keep):
        rounded = [round(point[0], COORDINATE_DECIMALS), round(point[1], COORDINATE_DECIMALS)]
        if kept and (not out or rounded != out[-1]):
            out.append(rounded)
    if len(out) < 4 or out[0] != out[-1]:
        raise SourceError("simplification collapsed a ring")
    return out


def short_name(district: str) -> str:
    """'10 - Jolimont / Soupetard / ...' -> 'Jolimont' (first place named)."""
    return district.split(" - ", 1)[1].split(" / ")[0].strip()


def boundaries(names: dict[int, str]) -> tuple[bytes, dict[str, Any], tuple[int, int]]:
    """20 district polygons, simplified, with district_id and the PB file's names."""
    collection = json.loads(TOULOUSE_BOUNDARIES.path().read_text(encoding="utf-8"))
    features = []
    before = after = 0
    for feature in collection["features"]:
        district_id = int(feature["properties"]["quartier"])
        geometry = feature["geometry"]
        if geometry["type"] != "MultiPolygon":
            raise SourceError(f"district {district_id}: unexpected geometry {geometry['type']}")
        polygons = []
        for polygon in geometry["coordinates"]:
            before += sum(len(r) for r in polygon)
            simplified = [simplify_ring(ring) for ring in polygon]
            after += sum(len(r) for r in simplified)
            polygons.append(simplified)
        shape = {"type": "Polygon", "coordinates": polygons[0]} if len(polygons) == 1 else {"type": "MultiPolygon", "coordinates": polygons}
        features.append((district_id, shape))
    features.sort(key=lambda item: item[0])
    if [d for d, _ in features] != sorted(names):
        raise SourceError("the boundary file and the PB file do not list the same 20 districts")
    lines = [
        json.dumps(
            {
                "type": "Feature",
                "id": d,
                "properties": {"district_id": d, "district": names[d], "district_short": short_name(f"{d} - {names[d]}")},
                "geometry": shape,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for d, shape in features
    ]
    data = ('{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n").encode("utf-8")
    schema = {
        "fields": [
            field("district_id", "integer", "Number of the quartier de démocratie locale (1-20).", minimum=1, maximum=20, unique=True),
            field("district", "string", "District name as written in the participatory-budget file.", unique=True),
            field("district_short", "string", "First place in the district's name, for chart labels.", unique=True),
        ],
        "primaryKey": ["district_id"],
    }
    return data, schema, (before, after)


# --------------------------------------------------------------------------
# The Toulouse dataset
# --------------------------------------------------------------------------

NAME = "pb-toulouse-2022"
CATEGORIES = ["Cadre de vie", "Consommation responsable", "Déchets et Recyclage", "Éco-mobilité", "Énergie", "Nature en ville"]


def build() -> dict[str, bytes]:
    """Projects, ballot profile, instance row and district boundaries of Toulouse 2022."""
    pb = read_pb(TOULOUSE_PB.path())
    if pb.meta["unit"] != "Toulouse" or pb.meta["vote_type"] != "approval":
        raise SourceError("not the Toulouse 2022 approval vote")
    rows, names = [], {}
    for p in pb.projects:
        number, _, name = p["district"].partition(" - ")
        district_id = int(number)
        if names.setdefault(district_id, name) != name:
            raise SourceError(f"district {district_id} has two names")
        if p["category"] not in CATEGORIES:
            raise SourceError(f"project {p['project_id']}: unknown category {p['category']!r}")
        rows.append([int(p["project_id"]), p["name"], p["category"], district_id, name,
                     short_name(p["district"]), whole(p["cost"], "cost"), int(p["votes"])])
    rows.sort()
    if sorted(names) != list(range(1, 21)):
        raise SourceError(f"expected districts 1-20, got {sorted(names)}")
    projects = csv_bytes(["project_id", "name", "category", "district_id", "district", "district_short", "cost", "votes"], rows)
    projects_schema = {
        "fields": [
            field("project_id", "integer", "Pabulib project id (the ballots refer to it).", minimum=1, unique=True),
            field("name", "string", "Project title as published (French)."),
            field("category", "string", "Theme the city gave the project.", enum=CATEGORIES),
            field("district_id", "integer", "Quartier de démocratie locale the project is in (1-20); joins districts.geojson.", minimum=1, maximum=20),
            field("district", "string", "District name as written in the participatory-budget file."),
            field("district_short", "string", "First place in the district's name, for chart labels."),
            field("cost", "integer", "Estimated cost in euros.", minimum=1),
            field("votes", "integer", "Voters who approved the project (checked against the ballots).", minimum=0),
        ],
        "primaryKey": ["project_id"],
    }
    ballots, ballots_schema, n_ballots = ballot_profile(pb)
    instance, instance_schema = instance_table(pb)
    districts, districts_schema, (before, after) = boundaries(names)
    geo_resource = {
        "name": "districts",
        "path": "districts.geojson",
        "title": "Toulouse's 20 quartiers de démocratie locale (simplified boundaries)",
        "format": "geojson",
        "mediatype": "application/geo+json",
        "encoding": "utf-8",
        **file_stats(districts),
        "schema": districts_schema,
    }
    package = descriptor(
        name=NAME,
        title="Toulouse participatory budget 2022: projects, ballots and districts",
        description=(
            "The city-wide participatory budget vote held in Toulouse from 3 to 31 October 2022: "
            "199 projects in 20 districts, 4,532 approval ballots (1 to 3 projects each), "
            "EUR 8,000,000 to allocate. Ballots are merged into a ballot profile (distinct sets of "
            "approved projects with their number of voters); the file has no voter attributes. "
            "District boundaries from Toulouse Métropole open data (ODbL)."
        ),
        created=RETRIEVED,
        licenses=[PABULIB_LICENCE, ODBL],
        sources=[
            {"title": "Pabulib: France_Toulouse_2022.pb", "path": f"{PABULIB_REPO}/blob/{PABULIB_COMMIT}/pb_files/France_Toulouse_2022.pb"},
            {"title": "Toulouse Métropole open data: quartiers de démocratie locale", "path": TOULOUSE_PORTAL},
            {"title": "Copy of the boundary export used here (MonicaLydieD/Toulouse on GitHub)", "path": TOULOUSE_BOUNDARIES.module},
        ],
        citation=(
            "Pabulib (Faliszewski et al. 2023; Stolicki, Szufa and Talmon 2020), Toulouse 2022 participatory budget; "
            "district boundaries: Toulouse Métropole open data (ODbL 1.0)."
        ),
        processing=[
            TOULOUSE_PB.note(),
            TOULOUSE_BOUNDARIES.note(),
            "Parsed the .pb file with the standard-library reader in datasets/builders/pb_toulouse_2022.py; checked num_projects, num_votes, each project's vote count against the ballots and the 1-3 projects per ballot rule.",
            "projects.csv: one row per project; costs written as whole euros (every cost is whole); district number and name split from the file's 'N - name' label.",
            f"ballots.csv: the 4,532 ballots merged into {n_ballots:,} distinct approval sets with their number of voters; voter ids dropped (they are only row numbers in the source and carry no information).",
            "instance.csv: the META section as one typed row (budget, currency, ballot rules, dates in ISO format).",
            f"districts.geojson: the 20 polygons of the boundary file joined on the district number; properties replaced by district_id and the PB file's names (the named district councillors were dropped); rings simplified with Douglas-Peucker at {SIMPLIFY_TOLERANCE} degrees and rounded to {COORDINATE_DECIMALS} decimals ({before:,} points before, {after:,} after). Simplified rings may leave slivers of a few metres between neighbours. ODbL 1.0 applies to this derived file.",
            "Sorted rows by id; wrote UTF-8 CSV with LF line ends.",
        ],
        inputs=[TOULOUSE_PB.record(), TOULOUSE_BOUNDARIES.record()],
        resources=[
            csv_resource("projects", "projects.csv", "Projects on the ballot", projects, projects_schema),
            csv_resource("ballots", "ballots.csv", "Ballot profile: distinct approval sets and their voters", ballots, ballots_schema),
            csv_resource("instance", "instance.csv", "The vote's budget, dates and ballot rules", instance, instance_schema),
            geo_resource,
        ],
    )
    return {
        "projects.csv": projects,
        "ballots.csv": ballots,
        "instance.csv": instance,
        "districts.geojson": districts,
        "datapackage.json": json_bytes(package),
    }

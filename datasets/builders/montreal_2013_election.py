"""Montréal 2013 mayoral election by district, results and boundaries (from plotly)."""

from __future__ import annotations

import csv
import gzip
import json
from typing import Any

from buildlib import PinnedFile, SourceError, csv_bytes, csv_resource, descriptor, field, file_stats, json_bytes

ELECTION_RETRIEVED = "2026-11-25T00:00:00Z"

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
            csv_resource("results", "results.csv", "Votes by district", results_csv, results_schema),
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


NAME = ELECTION_NAME
build = build_election

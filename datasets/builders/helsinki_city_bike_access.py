"""Helsinki region: where people live (250 m population grid) and where the city bike stations are.

Three open datasets of the Helsinki region (CC BY 4.0), as copied into the
Python GIS book's repository (Python-GIS-book/site), are committed gzipped in
``source/`` and pinned by hash. GeoPackages are SQLite files, so the standard
library reads them; geometries are WKB, read with shapely. The population grid
uses the Finnish ETRS-GK25 projection (EPSG:3879): its inverse is computed here
(Krüger series) and checked against the stations, which carry both.
"""

from __future__ import annotations

import gzip
import json
import math
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely import wkb
from shapely.geometry import Point, mapping

from buildlib import CommittedFile, SourceError, csv_bytes, descriptor, field, file_stats, json_bytes

NAME = "helsinki-city-bike-access"
RETRIEVED = "2026-11-25T00:00:00Z"
REPO = "Python-GIS-book/site"
COMMIT = "ed1b78f7d9172c7cc647e67e8f95737faf89539c"


@dataclass(frozen=True)
class RepositorySnapshot(CommittedFile):
    """A pinned file committed beside the dataset (copied from a public repository)."""

    dataset: str = NAME

    def note(self) -> str:
        return f"Input: {self.relpath} ({self.module}), gzip -n -9 of the file at {REPO} commit {self.version}; sha256 {self.sha256}."


POPULATION = RepositorySnapshot(
    REPO, "source/part2/chapter-06/nb/data/Helsinki/Population_grid_2021_HSY.gpkg (git blob 88409ae8)", COMMIT,
    "source/Population_grid_2021_HSY.gpkg.gz", "7f242ebc1fb875d6452e82adeba2c5032f8ed811214c1b038cc0aaa37decbcee",
)
DISTRICTS = RepositorySnapshot(
    REPO, "source/part2/chapter-06/nb/data/Helsinki/Major_districts.gpkg (git blob 7761cb45)", COMMIT,
    "source/Major_districts.gpkg.gz", "f4ac337e6ed73833526e91f76c6e4869e808d195b14cf90b8dc9a57352aa315f",
)
STATIONS = RepositorySnapshot(
    REPO, "source/part2/chapter-08/data/hrtopendata_citybikes_helsinki_espoo_2025.gpkg (git blob 363bbd54)", COMMIT,
    "source/hrtopendata_citybikes_helsinki_espoo_2025.gpkg.gz", "e46c778302ce181ce5ddb9d06318ebedcfcc90badce3aca493da55a7cb3d2a1c",
)

#: The municipality of each major district (Helsinki's eight 'peruspiiri'
#: groups, Espoo's seven and Vantaa's seven 'suuralue', and Kauniainen).
CITY_OF_DISTRICT = {
    **dict.fromkeys(["Eteläinen", "Läntinen", "Keskinen", "Pohjoinen", "Koillinen", "Kaakkoinen", "Itäinen", "Östersundom"], "Helsinki"),
    **dict.fromkeys(["Suur-Espoonlahti", "Suur-Kauklahti", "Vanha-Espoo", "Pohjois-Espoo", "Suur-Matinkylä", "Suur-Leppävaara", "Suur-Tapiola"], "Espoo"),
    **dict.fromkeys(["Myyrmäki", "Kivistö", "Aviapolis", "Tikkurila", "Koivukylä", "Korso", "Hakunila"], "Vantaa"),
    "Kauniainen": "Kauniainen",
}
COORDINATE_DECIMALS = 5

# ----------------------------------------------------------- ETRS-GK25 -> WGS84
_A = 6378137.0
_F = 1 / 298.257222101  # GRS80
_N = _F / (2 - _F)
_A_HAT = _A / (1 + _N) * (1 + _N**2 / 4 + _N**4 / 64)
_BETA = (
    _N / 2 - 2 * _N**2 / 3 + 37 * _N**3 / 96,
    _N**2 / 48 + _N**3 / 15,
    17 * _N**3 / 480,
)
_DELTA = (
    2 * _N - 2 * _N**2 / 3 - 2 * _N**3,
    7 * _N**2 / 3 - 8 * _N**3 / 5,
    56 * _N**3 / 15,
)
GK25_LON0 = 25.0
GK25_FALSE_EASTING = 25_500_000.0


def gk25_to_lonlat(easting: float, northing: float) -> tuple[float, float]:
    """EPSG:3879 (ETRS-GK25, transverse Mercator, k0 = 1) to longitude/latitude in degrees."""
    xi = northing / _A_HAT
    eta = (easting - GK25_FALSE_EASTING) / _A_HAT
    xi_p = xi - sum(b * math.sin(2 * j * xi) * math.cosh(2 * j * eta) for j, b in enumerate(_BETA, 1))
    eta_p = eta - sum(b * math.cos(2 * j * xi) * math.sinh(2 * j * eta) for j, b in enumerate(_BETA, 1))
    chi = math.asin(math.sin(xi_p) / math.cosh(eta_p))
    lat = chi + sum(d * math.sin(2 * j * chi) for j, d in enumerate(_DELTA, 1))
    lon = GK25_LON0 + math.degrees(math.atan2(math.sinh(eta_p), math.cos(xi_p)))
    return lon, math.degrees(lat)


# ----------------------------------------------------------- GeoPackage reading


def geometry(blob: bytes) -> Any:
    """A GeoPackage geometry blob ('GP' header + optional envelope + WKB) as a shapely geometry."""
    if blob[:2] != b"GP":
        raise SourceError("not a GeoPackage geometry")
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0b111]
    return wkb.loads(blob[8 + envelope:])


def read_table(pinned: RepositorySnapshot, query: str) -> list[tuple[Any, ...]]:
    """Rows of a query against the gzipped GeoPackage (decompressed to a temporary file)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "input.gpkg"
        db.write_bytes(gzip.decompress(pinned.path().read_bytes()))
        connection = sqlite3.connect(db)
        try:
            return connection.execute(query).fetchall()
        finally:
            connection.close()


def rounded(coords: Any) -> Any:
    if isinstance(coords, (int, float)):
        return round(float(coords), COORDINATE_DECIMALS)
    return [rounded(c) for c in coords]


def drop_repeats(ring: list[list[float]]) -> list[list[float]]:
    kept = [ring[0]] + [p for prev, p in zip(ring, ring[1:]) if p != prev]
    if len(kept) < 4 or kept[0] != kept[-1]:
        raise SourceError("rounding collapsed a polygon ring")
    return kept


def build() -> dict[str, bytes]:
    """districts.geojson, cells.csv (people) and stations.csv (city bike stations)."""
    # Districts (WGS 84) ---------------------------------------------------
    district_rows = read_table(DISTRICTS, "select Name, geom from Major_districts order by Name")
    if sorted(n for n, _ in district_rows) != sorted(CITY_OF_DISTRICT):
        raise SourceError("the major districts are not the 23 expected")
    shapes = {name: geometry(blob) for name, blob in district_rows}
    tree_names = sorted(shapes)
    tree = shapely.STRtree([shapes[n] for n in tree_names])

    def district_of(lon: float, lat: float) -> str:
        hits = [tree_names[i] for i in tree.query(Point(lon, lat), predicate="intersects")]
        return hits[0] if len(hits) == 1 else ""

    features = []
    for name in tree_names:
        geo = mapping(shapes[name])
        if geo["type"] == "Polygon":
            polygons = [geo["coordinates"]]
        elif geo["type"] == "MultiPolygon":
            polygons = list(geo["coordinates"])
        else:
            raise SourceError(f"district {name}: unexpected geometry {geo['type']}")
        coords = [[drop_repeats(rounded(ring)) for ring in poly] for poly in polygons]
        features.append({
            "type": "Feature",
            "properties": {"district": name, "city": CITY_OF_DISTRICT[name]},
            "geometry": {"type": "MultiPolygon", "coordinates": coords},
        })
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    districts_geojson = ('{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n").encode("utf-8")

    # Stations (GK25 geometry + WGS 84 columns): also the projection check --
    station_rows = read_table(
        STATIONS,
        'select ID, Name, Osoite, Kaupunki, Operaattor, Kapasiteet, x, y, SHAPE from "Helsinki_Espoo_kaupunkipyöräasemat_2021" order by cast(ID as integer)',
    )
    stations = []
    worst = 0.0
    for sid, name, address, city, operator, capacity, lon, lat, blob in station_rows:
        point = geometry(blob)
        plon, plat = gk25_to_lonlat(point.x, point.y)
        error_m = math.hypot((plon - lon) * 111_320 * math.cos(math.radians(lat)), (plat - lat) * 110_574)
        worst = max(worst, error_m)
        district = district_of(lon, lat)
        derived_city = CITY_OF_DISTRICT.get(district, "")
        if city.strip() and city.strip() != derived_city:
            raise SourceError(f"station {sid}: source city {city!r} but it lies in {district} ({derived_city})")
        stations.append([int(sid), name.strip(), address.strip(), derived_city, operator.strip() or "not stated", int(capacity),
                         round(point.x, 1), round(point.y, 1), round(lon, 6), round(lat, 6), district or "none"])
    if worst > 2.0:
        raise SourceError(f"GK25 inverse projection disagrees with the stations' coordinates by {worst:.1f} m")
    if len(stations) != 457 or {s[3] for s in stations} != {"Helsinki", "Espoo"}:
        raise SourceError("expected 457 stations in Helsinki and Espoo")

    # Population cells (GK25 squares) --------------------------------------
    cell_rows = read_table(POPULATION, "select id, inhabitants, geom from Population_grid_2021_HSY")
    cells = []
    for cell_id, inhabitants, blob in cell_rows:
        centre = geometry(blob).centroid
        lon, lat = gk25_to_lonlat(centre.x, centre.y)
        district = district_of(lon, lat)
        number = int(cell_id.rsplit(".", 1)[1])
        cells.append([number, CITY_OF_DISTRICT.get(district, "none"), district or "none", round(centre.x, 1), round(centre.y, 1),
                      round(lon, 6), round(lat, 6), int(inhabitants)])
    cells.sort()
    if len(cells) != 5853 or sum(c[-1] for c in cells) < 1_000_000:
        raise SourceError("population grid: expected 5,853 cells and over a million inhabitants")
    outside = [c for c in cells if c[2] == "none"]

    cells_csv = csv_bytes(["cell_id", "city", "district", "x_m", "y_m", "lon", "lat", "inhabitants"], cells)
    stations_csv = csv_bytes(["station_id", "name", "address", "city", "operator", "capacity", "x_m", "y_m", "lon", "lat", "district"], stations)
    district_names = sorted(CITY_OF_DISTRICT)
    cities = sorted(set(CITY_OF_DISTRICT.values()))
    gk = "ETRS-GK25 (EPSG:3879) {}, metres, of the {}."
    package = descriptor(
        name=NAME,
        title="Helsinki region: residents per 250 m grid cell (2021) and city bike stations (2021)",
        description=(
            "Where people live and where the shared city bikes are, in the Helsinki region: the HSY population "
            "grid for 2021 (residents per 250 m by 250 m square), the 457 city bike stations of Helsinki and Espoo "
            "(HSL open data, 2021) and the 23 major districts of Helsinki, Espoo, Vantaa and Kauniainen as a basemap. "
            "The city bike scheme in this dataset covers Helsinki and Espoo only."
        ),
        created=RETRIEVED,
        licenses=[
            {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/", "title": "CC BY 4.0"},
        ],
        sources=[
            {"title": "Helsinki Region Environmental Services (HSY), population grid of the Helsinki metropolitan area 2021 (Väestötietoruudukko 2021), CC BY 4.0", "path": "https://www.hsy.fi/en/environmental-information/open-data/avoin-data---sivut/population-grid-of-helsinki-metropolitan-area/"},
            {"title": "Helsinki Region Transport (HSL), city bike stations of Helsinki and Espoo (HSL:n kaupunkipyöräasemat), CC BY 4.0", "path": "https://www.avoindata.fi/data/en_GB/dataset/hsl-n-kaupunkipyoraasemat"},
            {"title": "Helsinki Region Infoshare, Helsinki region district maps (major districts), CC BY 4.0", "path": "https://hri.fi/data/en_GB/dataset/seudullinen-osa-aluejako"},
            {"title": f"Tenkanen, Heikinheimo and Whipp, Python for Geographic Data Analysis, data files at {REPO} commit {COMMIT[:7]}", "path": f"https://github.com/{REPO}"},
        ],
        citation="HSY (2021), population grid of the Helsinki metropolitan area; HSL (2021), city bike stations of Helsinki and Espoo; Helsinki Region Infoshare, major districts; copies in the Python GIS book repository (2025).",
        inputs=[{"package": REPO, "version": p.version, "file": p.relpath, "sha256": p.sha256} for p in (POPULATION, STATIONS, DISTRICTS)],
        processing=[
            POPULATION.note(), STATIONS.note(), DISTRICTS.note(),
            "Read the GeoPackages with sqlite3; geometries are the WKB after the GeoPackage header (read with shapely).",
            f"Converted ETRS-GK25 (EPSG:3879) to WGS 84 with the Krüger series for the GRS80 ellipsoid (central meridian 25°E, false easting 25,500,000 m); checked against the stations' own longitude/latitude columns: largest difference {worst:.2f} m.",
            "Cells: the book's copy keeps id, inhabitants and occupancy rate; kept the id's number as cell_id and inhabitants, dropped occupancy rate; x_m/y_m are the cell centre in EPSG:3879, lon/lat the same point in WGS 84.",
            f"Assigned each cell and station the major district that contains its centre (shapely point-in-polygon); {len(outside)} cells whose centre falls outside every district (coast, borders) get district and city 'none'.",
            "Stations: kept ID, Finnish name, Finnish address, operator and capacity (bike places); x_m/y_m from the GK25 geometry, lon/lat from the source columns. The source's city and operator are blank for the 347 Helsinki stations: city is taken from the district that contains the station (checked against the 110 stations whose source says Espoo); a blank operator becomes 'not stated'.",
            f"Districts: added the municipality of each district; coordinates rounded to {COORDINATE_DECIMALS} decimals (about 1 m), repeated positions dropped, every geometry written as a MultiPolygon; one feature per line, sorted by name.",
        ],
        resources=[
            {
                "name": "cells", "path": "cells.csv", "title": "Residents per 250 m grid cell, 2021", "format": "csv",
                "mediatype": "text/csv", "encoding": "utf-8", **file_stats(cells_csv),
                "schema": {
                    "fields": [
                        field("cell_id", "integer", "Number of the HSY grid cell (from its id 'Vaestotietoruudukko_2021.<n>').", minimum=1, unique=True),
                        field("city", "string", "Municipality of the cell's major district; none if the centre is outside all districts.", enum=[*cities, "none"]),
                        field("district", "string", "Major district containing the cell centre, or none.", enum=[*district_names, "none"]),
                        field("x_m", "number", gk.format("easting", "cell centre")),
                        field("y_m", "number", gk.format("northing", "cell centre")),
                        field("lon", "number", "Longitude (WGS 84) of the cell centre.", minimum=24.0, maximum=25.6),
                        field("lat", "number", "Latitude (WGS 84) of the cell centre.", minimum=60.0, maximum=60.5),
                        field("inhabitants", "integer", "Residents of the cell in 2021 (HSY).", minimum=0),
                    ],
                    "primaryKey": ["cell_id"],
                },
            },
            {
                "name": "stations", "path": "stations.csv", "title": "City bike stations of Helsinki and Espoo, 2021", "format": "csv",
                "mediatype": "text/csv", "encoding": "utf-8", **file_stats(stations_csv),
                "schema": {
                    "fields": [
                        field("station_id", "integer", "HSL station ID.", unique=True),
                        field("name", "string", "Station name (Finnish)."),
                        field("address", "string", "Street address (Finnish)."),
                        field("city", "string", "Municipality, from the district that contains the station (the source leaves it blank for Helsinki).", enum=["Espoo", "Helsinki"]),
                        field("operator", "string", "Operator named in the source (CityBike Finland for Espoo's stations); 'not stated' where the source leaves it blank (all of Helsinki's)."),
                        field("capacity", "integer", "Number of bike places at the station.", minimum=0),
                        field("x_m", "number", gk.format("easting", "station")),
                        field("y_m", "number", gk.format("northing", "station")),
                        field("lon", "number", "Longitude (WGS 84)."),
                        field("lat", "number", "Latitude (WGS 84)."),
                        field("district", "string", "Major district containing the station, or none.", enum=[*district_names, "none"]),
                    ],
                    "primaryKey": ["station_id"],
                },
            },
            {
                "name": "districts", "path": "districts.geojson", "title": "Major districts of Helsinki, Espoo, Vantaa and Kauniainen",
                "format": "geojson", "mediatype": "application/geo+json", "encoding": "utf-8", **file_stats(districts_geojson),
                "schema": {
                    "fields": [
                        field("district", "string", "Major district name (Finnish).", unique=True),
                        field("city", "string", "Municipality.", enum=cities),
                    ],
                    "primaryKey": ["district"],
                },
            },
        ],
    )
    return {
        "cells.csv": cells_csv,
        "stations.csv": stations_csv,
        "districts.geojson": districts_geojson,
        "datapackage.json": json_bytes(package),
    }


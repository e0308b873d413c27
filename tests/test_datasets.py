"""The course datasets: valid, documented, reproducible, and right.

Why: every chart in the book is only as good as the file behind it. These tests
check that each dataset matches its schema, says where it comes from and under
which licence, can be rebuilt byte for byte from its pinned source, still holds
the real values the text quotes, and fails loudly (one line) when damaged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pytest

from citylab import data
from citylab.data import DatasetError

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
BUILD = DATASETS / "build.py"
EXPECTED = {"un-wpp-2024-population", "itu-internet-use", "montreal-2013-election", "streetlight-cases", "compas-recidivism", "uci-adult-census-1994", "philadelphia-open-data-catalogue", "helsinki-city-bike-access", "pb-toulouse-2022", "pb-warsaw-2020-srodmiescie"}


def descriptor(name: str, base: Path = DATASETS) -> dict:
    return json.loads((base / name / "datapackage.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """The loader caches packages by name: never let one test see another's."""
    data._package.cache_clear()
    yield
    data._package.cache_clear()


@pytest.fixture
def copy_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Copy one dataset to tmp_path and point the loader at it."""

    def make(name: str) -> Path:
        shutil.copytree(DATASETS / name, tmp_path / name)
        monkeypatch.setenv("CITYLAB_DATASETS", str(tmp_path))
        data._package.cache_clear()
        return tmp_path / name

    return make


def one_line_error(name: str, call=data.validate) -> str:
    with pytest.raises(DatasetError) as info:
        call(name)
    message = str(info.value)
    assert message and "\n" not in message, message
    assert name in message
    return message


# ---------------------------------------------------------------- discovery --


def test_expected_datasets_are_listed() -> None:
    assert EXPECTED <= set(data.list_datasets())


@pytest.mark.parametrize("name", data.list_datasets())
def test_dataset_validates(name: str) -> None:
    data.validate(name)


# ------------------------------------------------------------- provenance --


@pytest.mark.parametrize("name", data.list_datasets())
def test_descriptor_documents_provenance(name: str) -> None:
    package = descriptor(name)
    assert package["name"] == name
    assert package["title"] and package["description"]
    datetime.fromisoformat(package["created"].replace("Z", "+00:00"))
    source = package["sources"][0]
    assert source["title"] and source["path"].startswith(("https://", "http://"))
    licence = package["licenses"][0]
    assert licence["name"] and licence["title"]
    assert licence["path"].startswith("https://")
    assert isinstance(package["citation"], str) and package["citation"].endswith(".")
    steps = package["x_processing"]
    assert isinstance(steps, list) and len(steps) >= 2 and all(isinstance(s, str) and s for s in steps)

    prov = data.provenance(name)
    assert prov.source_url == source["path"] and prov.licence_url == licence["path"]
    assert prov.retrieved == package["created"][:10]
    assert prov.citation in data.cite(name) and licence["title"] in data.cite(name)


@pytest.mark.parametrize("name", data.list_datasets())
def test_readme_names_source_and_licence(name: str) -> None:
    readme = DATASETS / name / "README.md"
    assert readme.is_file()
    text = readme.read_text(encoding="utf-8")
    package = descriptor(name)
    for licence in package["licenses"]:
        assert licence["path"] in text, f"README does not link {licence['path']}"
    assert package["licenses"][0]["title"] in text
    assert package["sources"][0]["path"] in text
    assert package["created"][:10] in text
    assert "build.py" in text


@pytest.mark.parametrize("name", data.list_datasets())
def test_resources_have_full_schemas_and_match_their_hash(name: str) -> None:
    for res in descriptor(name)["resources"]:
        schema = res["schema"]
        assert schema["fields"] and schema["primaryKey"]
        for f in schema["fields"]:
            assert f["type"] and f["description"] and f["constraints"]["required"]
        if res["format"] == "csv":
            assert res["mediatype"] == "text/csv"
        else:
            assert res["format"] == "geojson" and res["mediatype"] == "application/geo+json"
        content = (DATASETS / name / res["path"]).read_bytes()
        assert len(content) == res["bytes"]
        assert res["hash"] == "sha256:" + hashlib.sha256(content).hexdigest()


def test_index_lists_every_dataset() -> None:
    index = (DATASETS / "README.md").read_text(encoding="utf-8")
    for name in data.list_datasets():
        assert f"`{name}`" in index or f"[{name}]" in index


def test_committed_files_stay_small() -> None:
    assert (DATASETS / "un-wpp-2024-population" / "population.csv").stat().st_size < 2_000_000
    assert (DATASETS / "montreal-2013-election" / "districts.geojson").stat().st_size < 600_000


# ---------------------------------------------------------- reproducibility --


def test_build_reproduces_committed_files_byte_for_byte(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.strip().splitlines()) == len(EXPECTED)
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert {p.parts[0] for p in built} == EXPECTED
    for rel in built:
        assert (tmp_path / rel).read_bytes() == (DATASETS / rel).read_bytes(), f"{rel} differs from the build"
    # Every data file a descriptor names is produced by the build.
    for name in EXPECTED:
        for res in descriptor(name)["resources"]:
            assert Path(name, res["path"]) in built


def _load_build() -> ModuleType:
    """Import datasets/build.py afresh (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("datasets_build", BUILD)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def _builder_module(module: str) -> ModuleType:
    """One builder from datasets/builders/ (importable once build.py has set the path)."""
    return importlib.import_module(f"builders.{module}")


def test_build_says_clearly_when_a_source_package_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build = _load_build()
    wpp = _builder_module("un_wpp_2024_population")
    missing = wpp.PinnedFile("no-such-package", "no_such_package", "1.0", "x.csv", "0" * 64)
    monkeypatch.setattr(wpp, "WPP_INPUT", missing)
    assert build.main(["--out", str(tmp_path), "un-wpp-2024-population"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no-such-package" in err and "not installed" in err


def test_build_refuses_an_unpinned_source_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build = _load_build()
    election = _builder_module("montreal_2013_election")
    pinned = election.ELECTION_CSV
    wrong = election.PinnedFile("plotly", "plotly", "0.0.1", pinned.relpath, pinned.sha256)
    monkeypatch.setattr(election, "ELECTION_CSV", wrong)
    assert build.main(["--out", str(tmp_path), "montreal-2013-election"]) == 2
    assert "pinned to 0.0.1" in capsys.readouterr().err


# Hand transcriptions (ITU figures, streetlight cases) have no input file to pin.
@pytest.mark.parametrize("name", sorted(EXPECTED - {"itu-internet-use", "streetlight-cases"}))
def test_descriptor_records_the_input_hash(name: str) -> None:
    _load_build()
    module = _builder_module(name.replace("-", "_"))
    pinned_file = importlib.import_module("buildlib").PinnedFile
    pins = [v for v in vars(module).values() if isinstance(v, pinned_file)]
    package = descriptor(name)
    for item in package["x_inputs"]:
        pinned = next(p for p in pins if p.relpath == item["file"])
        assert item["sha256"] == pinned.sha256 and item["version"] == pinned.version
        assert any(item["sha256"] in step for step in package["x_processing"])
        assert hashlib.sha256(pinned.path().read_bytes()).hexdigest() == item["sha256"]


# --------------------------------------------------------------- real values --


def test_wpp_key_values() -> None:
    pop = data.load("un-wpp-2024-population")
    assert len(pop) == 266 * 31
    assert sorted(pop["year"].unique()) == list(range(1950, 2101, 5))
    world = pop[pop["location"] == "World"].set_index("year")
    assert world["location_id"].eq(900).all() and not world["is_country"].any()
    assert world.loc[2025, "pop_total"] == 8_231_613_068
    assert world.loc[2050, "pop_total"] == 9_664_378_586
    assert 8.1e9 < world.loc[2025, "pop_total"] < 8.3e9
    assert world.loc[2025, "pop_65_plus"] / world.loc[2025, "pop_total"] == pytest.approx(0.1041, abs=5e-5)
    assert world.loc[2050, "pop_65_plus"] / world.loc[2050, "pop_total"] == pytest.approx(0.1633, abs=5e-5)
    bands = pop["pop_0_14"] + pop["pop_15_64"] + pop["pop_65_plus"]
    assert (bands == pop["pop_total"]).all()
    countries = pop[pop["is_country"]]
    assert countries["location_id"].nunique() == 237 and (countries["location_id"] < 900).all()
    assert {"Kenya", "India", "China, Hong Kong SAR"} <= set(countries["location"])
    assert {"Africa", "Asia", "Southern Asia"} <= set(pop.loc[~pop["is_country"], "location"])
    by_year = countries.groupby("year")["pop_total"].sum()
    assert (by_year - world["pop_total"]).abs().max() < 1_000


def test_itu_key_values() -> None:
    itu = data.load("itu-internet-use").set_index(["edition", "year", "dimension", "group"])
    pct = itu["internet_users_pct"]
    assert pct[("FF24", 2024, "world", "World")] == 68
    assert pct[("FF25", 2024, "world", "World")] == 71  # FF25 revised 2024 upwards
    assert pct[("FF25", 2025, "world", "World")] == 74
    assert pct[("FF24", 2024, "income", "High-income")] == 93
    assert pct[("FF24", 2024, "income", "Low-income")] == 27
    assert pct[("FF25", 2025, "area", "Urban")] == 85 and pct[("FF25", 2025, "area", "Rural")] == 58
    assert pct[("FF24", 2024, "sex", "Men")] == 70 and pct[("FF24", 2024, "sex", "Women")] == 65
    assert pct[("FF25", 2025, "area_by_income", "Low-income rural")] == 14
    assert len(itu) == 20
    assert itu["status"].isin(["V", "V2"]).all()
    assert itu["source_url"].str.startswith("https://www.itu.int/itu-d/reports/statistics/").all()
    ff24 = itu.xs("FF24")["source_url"]
    assert ff24.str.contains("/2024/11/10/ff24-").all()


def test_montreal_key_values() -> None:
    results = data.load("montreal-2013-election", resource="results")
    districts = data.load_geojson("montreal-2013-election", resource="districts")
    assert len(results) == 58 and results["district_id"].is_unique
    assert results["winner"].value_counts().to_dict() == {"Coderre": 29, "Bergeron": 15, "Joly": 14}
    # City-wide votes for the three equal the official mayoral totals.
    assert results[["coderre", "bergeron", "joly"]].sum().to_dict() == {
        "coderre": 149_467, "bergeron": 118_637, "joly": 123_062,
    }
    assert (results["coderre"] + results["bergeron"] + results["joly"] == results["total"]).all()
    assert results["result"].value_counts().to_dict() == {"plurality": 41, "majority": 17}
    features = districts["features"]
    assert len(features) == 58
    assert sorted(f["properties"]["district_id"] for f in features) == sorted(results["district_id"])
    names = dict(zip(results["district_id"], results["district"]))
    assert all(names[f["properties"]["district_id"]] == f["properties"]["district"] for f in features)
    assert names[162] == "Saint-Paul–Émard" and names[101] == "Bois-de-Liesse"
    lon, lat = features[0]["geometry"]["coordinates"][0][0][0]
    assert -74.1 < lon < -73.4 and 45.3 < lat < 45.8


# ----------------------------------------------------------- broken input --


def test_unknown_dataset_is_a_clear_error() -> None:
    message = one_line_error("no-such-dataset")
    assert "unknown dataset" in message


def test_corrupted_csv_value(copy_of) -> None:
    folder = copy_of("un-wpp-2024-population")
    csv_path = folder / "population.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[1].split(",")
    cells[4] = "lots"  # pop_total of the first row
    lines[1] = ",".join(cells)
    csv_path.write_text("".join(lines), encoding="utf-8")
    message = one_line_error("un-wpp-2024-population")
    assert "pop_total" in message and "population.csv" in message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("FF24,2024,world,World,68,", "FF23,2024,world,World,68,", "edition"),
        ("FF24,2024,world,World,68,", "FF24,2024,world,World,168,", "internet_users_pct"),
        (",V2\n", ",U\n", "status"),
    ],
)
def test_itu_constraint_violations(copy_of, old: str, new: str, field: str) -> None:
    folder = copy_of("itu-internet-use")
    path = folder / "internet_use.csv"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert field in one_line_error("itu-internet-use")


def test_duplicate_primary_key(copy_of) -> None:
    folder = copy_of("montreal-2013-election")
    path = folder / "results.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines + [lines[1]]), encoding="utf-8")
    one_line_error("montreal-2013-election")


def test_missing_data_file(copy_of) -> None:
    folder = copy_of("itu-internet-use")
    (folder / "internet_use.csv").unlink()
    assert "missing" in one_line_error("itu-internet-use")


def test_broken_descriptor_json(copy_of) -> None:
    folder = copy_of("montreal-2013-election")
    path = folder / "datapackage.json"
    path.write_text(path.read_text(encoding="utf-8")[:-20], encoding="utf-8")
    assert "datapackage.json" in one_line_error("montreal-2013-election")


def test_broken_geojson(copy_of) -> None:
    folder = copy_of("montreal-2013-election")
    path = folder / "districts.geojson"
    path.write_text(path.read_text(encoding="utf-8")[:1000], encoding="utf-8")
    assert "not valid JSON" in one_line_error("montreal-2013-election")


def test_geojson_property_of_wrong_type(copy_of) -> None:
    folder = copy_of("montreal-2013-election")
    path = folder / "districts.geojson"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"district_id":11,', '"district_id":"eleven",', 1), encoding="utf-8")
    assert "district_id" in one_line_error("montreal-2013-election")


def test_geojson_that_is_not_a_collection(copy_of) -> None:
    folder = copy_of("montreal-2013-election")
    (folder / "districts.geojson").write_text("[1, 2, 3]", encoding="utf-8")
    assert "FeatureCollection" in one_line_error("montreal-2013-election")


def test_streetlight_cases_key_values() -> None:
    figures = data.load("streetlight-cases").set_index(["case", "measure", "year"])
    value = figures["value"]
    assert len(figures) == 13 and figures.index.is_unique
    assert value[("los-angeles", "budget", 2009)] == 57_000_000
    assert value[("los-angeles", "fixtures_replaced", 2013)] == 140_000
    assert figures.loc[("los-angeles", "fixtures_replaced", 2013), "qualifier"] == "more than"
    assert value[("los-angeles", "energy_use_reduction", 2013)] == 63.1
    assert value[("los-angeles", "annual_savings", 2013)] == 10_000_000
    assert value[("los-angeles", "loan_repayment_years", 2013)] == 7
    assert value[("india-slnp", "lights_installed", 2024)] == 13_110_745
    assert value[("india-slnp", "energy_savings", 2024)] == 8_806
    # The energy saved per light is about the same in 2019 and 2024 (~670 kWh a year).
    per_light = {y: value[("india-slnp", "energy_savings", y)] * 1e6 / value[("india-slnp", "lights_installed", y)]
                 for y in (2019, 2024)}
    assert per_light[2019] == pytest.approx(671.0) and per_light[2024] == pytest.approx(671.66, abs=0.01)
    assert figures["status"].isin(["V", "V2"]).all()
    assert (figures.xs("los-angeles")["status"] == "V").all()


def test_compas_key_values() -> None:
    compas = data.load("compas-recidivism")
    assert len(compas) == 6_172 and compas["record"].tolist() == list(range(1, 6_173))
    # No names, dates, case numbers, ids or exact ages: only these columns.
    assert list(compas.columns) == ["record", "sex", "age_cat", "race", "priors_band", "c_charge_degree",
                                    "decile_score", "score_text", "two_year_recid"]
    assert compas["race"].value_counts().to_dict() == {
        "African-American": 3_175, "Caucasian": 2_103, "Hispanic": 509, "Other": 385}
    assert compas["sex"].value_counts().to_dict() == {"Male": 4_997, "Female": 1_175}
    assert compas["two_year_recid"].sum() == 2_809
    black = compas[(compas["race"] == "African-American") & (compas["two_year_recid"] == 0)]
    white = compas[(compas["race"] == "Caucasian") & (compas["two_year_recid"] == 0)]
    # ProPublica's finding: far more false "medium/high" labels for Black than for white defendants.
    assert round((black["decile_score"] >= 5).mean(), 3) == 0.423
    assert round((white["decile_score"] >= 5).mean(), 3) == 0.220


# ------------------------------------------------ module 2 (digital governance) --


def test_uci_adult_key_values() -> None:
    people = data.load("uci-adult-census-1994")
    assert len(people) == 32_561 and people["record_id"].is_unique
    assert (people["income"] == ">50K").sum() == 7_841
    assert people["age"].min() == 17 and people["age"].max() == 90
    assert not {"fnlwgt", "occupation", "workclass"} & set(people.columns)
    # Six quasi-identifiers with exact ages: 5,594 unique records (the notebook's headline).
    columns = ["age", "sex", "race", "native_country", "marital_status", "education"]
    sizes = people.groupby(columns)["record_id"].transform("size")
    assert (sizes == 1).sum() == 5_594


def test_philadelphia_catalogue_key_values() -> None:
    records = data.load("philadelphia-open-data-catalogue")
    assert len(records) == 468
    assert (records["publisher"] == "City of Philadelphia").sum() == 317
    assert (records["last_updated"] != "none").sum() == 62  # one of them lies in the future
    assert records["modified_raw"].fillna("").str.startswith("R/").sum() == 32
    # No personal contact details are shipped, only flags.
    assert not {"maintainer", "maintainer_email", "maintainer_phone"} & set(records.columns)
    assert records["has_contact_email"].sum() == 348


def test_helsinki_city_bike_key_values() -> None:
    cells = data.load("helsinki-city-bike-access", resource="cells")
    stations = data.load("helsinki-city-bike-access", resource="stations")
    districts = data.load_geojson("helsinki-city-bike-access", resource="districts")
    assert len(cells) == 5_853 and len(stations) == 457 and len(districts["features"]) == 23
    assert stations["city"].value_counts().to_dict() == {"Helsinki": 347, "Espoo": 110}
    by_city = cells.groupby("city")["inhabitants"].sum().to_dict()
    assert by_city["Helsinki"] == 642_941 and by_city["Espoo"] == 290_249
    assert (cells["district"] == "none").sum() == 33


def test_pb_toulouse_2022_key_values() -> None:
    projects = data.load("pb-toulouse-2022", resource="projects")
    ballots = data.load("pb-toulouse-2022", resource="ballots")
    instance = data.load("pb-toulouse-2022", resource="instance").iloc[0]
    districts = data.load_geojson("pb-toulouse-2022", resource="districts")
    assert len(projects) == 199 and projects["project_id"].is_unique
    assert (instance["budget"], instance["num_votes"], instance["max_length"]) == (8_000_000, 4_532, 3)
    assert ballots["voters"].sum() == 4_532 and len(ballots) == 2_449
    # Approvals counted from the ballot profile equal the published votes.
    approvals = {}
    for ids, n in zip(ballots["project_ids"], ballots["voters"]):
        for pid in ids.split():
            approvals[int(pid)] = approvals.get(int(pid), 0) + n
    assert approvals == dict(zip(projects["project_id"], projects["votes"]))
    assert (ballots["size"] == ballots["project_ids"].str.split().str.len()).all()
    assert sorted(f["properties"]["district_id"] for f in districts["features"]) == list(range(1, 21))
    assert set(projects["district_id"]) == set(range(1, 21))
    assert projects.groupby("district_id").size().to_dict()[9] == 9
    assert projects.loc[projects["district_id"] == 17, "votes"].sum() == 105
    lon, lat = districts["features"][0]["geometry"]["coordinates"][0][0]
    assert 1.3 < lon < 1.6 and 43.5 < lat < 43.7


def test_pb_warsaw_2020_srodmiescie_key_values() -> None:
    voters = data.load("pb-warsaw-2020-srodmiescie", resource="voters")
    approvals = data.load("pb-warsaw-2020-srodmiescie", resource="approvals_by_age")
    projects = data.load("pb-warsaw-2020-srodmiescie", resource="projects")
    ballots = data.load("pb-warsaw-2020-srodmiescie", resource="ballots")
    benchmarks = data.load("pb-warsaw-2020-srodmiescie", resource="benchmarks").set_index("group")
    assert voters["voters"].sum() == 3_197 == ballots["voters"].sum()
    assert voters.groupby("channel")["voters"].sum().to_dict() == {"internet": 3_065, "paper": 132}
    assert voters.groupby("sex")["voters"].sum().to_dict() == {"F": 2_004, "M": 1_193}
    older = voters[voters["age_band"].isin(["65-74", "75+"])]
    assert older["voters"].sum() == 317 and older.loc[older["channel"] == "paper", "voters"].sum() == 87
    assert len(voters) == 32 and len(projects) == 38 and projects["selected"].sum() == 22
    by_project = approvals.groupby("project_id")["approvals"].sum().to_dict()
    assert by_project == dict(zip(projects["project_id"], projects["votes"]))
    assert benchmarks.loc["total", "population_thousands"] == 1863.1
    assert benchmarks.loc["women", "population_thousands"] == 1003.4

"""citylab.pb: counting participatory-budget ballots with different rules.

Why: module 4 tells city officials that the counting rule changes which
projects win. These tests pin that claim to real numbers (Toulouse 2022,
Warsaw Śródmieście 2020), check our fast greedy rule against pabutools' own,
check that the Warsaw greedy count reproduces the city's real list of funded
projects, and check that the helper for a cohort's live vote gives clear errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citylab import data, pb

ROOT = Path(__file__).resolve().parent.parent
TOULOUSE_PB = ROOT / "datasets" / "pb-toulouse-2022" / "source" / "France_Toulouse_2022.pb"
WARSAW_BUDGET = 3_823_123
TOULOUSE_BUDGET = 8_000_000


@pytest.fixture(scope="module")
def toulouse() -> tuple:
    projects = data.load("pb-toulouse-2022", "projects")
    return projects, pb.election(projects, data.load("pb-toulouse-2022", "ballots"))


@pytest.fixture(scope="module")
def warsaw() -> tuple:
    projects = data.load("pb-warsaw-2020-srodmiescie", "projects")
    return projects, pb.election(projects, data.load("pb-warsaw-2020-srodmiescie", "ballots"))


def test_election_counts_every_voter(toulouse, warsaw) -> None:
    projects, elect = toulouse
    assert elect.voters == 4_532
    assert len(elect.costs) == 199
    # Approvals recomputed from the ballot profile equal the published votes.
    assert {int(k): v for k, v in elect.votes.items()} == dict(zip(projects["project_id"], projects["votes"]))
    assert warsaw[1].voters == 3_197


def test_same_tables_give_the_same_cached_election(toulouse) -> None:
    projects, elect = toulouse
    again = pb.election(projects, data.load("pb-toulouse-2022", "ballots"))
    assert again is elect


def test_toulouse_rules_match_the_field_notes(toulouse) -> None:
    """Greedy funds 81 projects, Equal Shares 91, 53 in common (NOTES.md, verified)."""
    _, elect = toulouse
    greedy = set(elect.funded(TOULOUSE_BUDGET, "greedy"))
    shares = set(elect.funded(TOULOUSE_BUDGET, "mes"))
    topped = set(elect.funded(TOULOUSE_BUDGET, "mes_topped_up"))
    assert (len(greedy), len(shares), len(greedy & shares)) == (81, 91, 53)
    assert elect.spent(TOULOUSE_BUDGET, "greedy") == 7_999_520
    assert elect.spent(TOULOUSE_BUDGET, "mes") == 4_083_220  # Equal Shares alone leaves about half unspent
    assert shares <= topped and len(topped) == 115
    assert elect.spent(TOULOUSE_BUDGET, "mes_topped_up") == 7_994_720
    assert elect.voters_with_a_winner(greedy) == pytest.approx(0.9409, abs=5e-5)
    assert elect.voters_with_a_winner(topped) == pytest.approx(0.9603, abs=5e-5)


def test_greedy_equals_pabutools_greedy_on_real_ballots(toulouse) -> None:
    from pabutools.election import Cost_Sat, parse_pabulib
    from pabutools.rules import greedy_utilitarian_welfare

    _, elect = toulouse
    instance, profile = parse_pabulib(str(TOULOUSE_PB))
    for budget in (1_000_000, 4_000_000, TOULOUSE_BUDGET):
        instance.budget_limit = budget
        expected = sorted((p.name for p in greedy_utilitarian_welfare(instance, profile, sat_class=Cost_Sat)), key=int)
        assert list(elect.greedy(budget)) == expected, budget


def test_equal_shares_equals_pabutools_on_the_parsed_file(toulouse) -> None:
    from pabutools.election import Cost_Sat, parse_pabulib
    from pabutools.rules import method_of_equal_shares

    _, elect = toulouse
    instance, profile = parse_pabulib(str(TOULOUSE_PB))
    expected = {p.name for p in method_of_equal_shares(instance, profile, sat_class=Cost_Sat)}
    assert set(elect.funded(TOULOUSE_BUDGET, "mes")) == expected


def test_warsaw_greedy_reproduces_the_citys_real_selection(warsaw) -> None:
    projects, elect = warsaw
    real = set(projects.loc[projects["selected"], "project_id"].astype(str))
    assert set(elect.funded(WARSAW_BUDGET, "greedy")) == real
    assert len(real) == 22


def test_results_are_cached(toulouse) -> None:
    _, elect = toulouse
    first = elect.funded(TOULOUSE_BUDGET, "mes")
    assert elect.funded(TOULOUSE_BUDGET, "mes") is first


def test_compare_summary_and_money_by(toulouse) -> None:
    projects, elect = toulouse
    compared = pb.compare(elect, projects, TOULOUSE_BUDGET, ["greedy", "mes_topped_up"])
    assert compared["greedy"].sum() == 81 and compared["mes_topped_up"].sum() == 115
    money = pb.money_by(compared, "district_short", ["greedy", "mes_topped_up"])
    assert len(money) == 20 and money["greedy"].sum() == 7_999_520
    assert money.loc["Mirail-Université"].tolist() == [0.0, 0.0]  # no rule funds this district
    table = pb.summary(elect, TOULOUSE_BUDGET, ["greedy", "mes"])
    assert table["projects"].tolist() == [81, 91]
    assert list(table.index) == [pb.RULES["greedy"], pb.RULES["mes"]]


def test_district_floor_funds_every_district(toulouse) -> None:
    projects, elect = toulouse
    district = dict(zip(projects["project_id"].astype(str), projects["district_id"]))
    assert elect.with_district_floor(TOULOUSE_BUDGET, 0, district) == elect.greedy(TOULOUSE_BUDGET)
    funded = set(elect.with_district_floor(TOULOUSE_BUDGET, 100_000, district))
    assert {district[pid] for pid in funded} == set(range(1, 21))
    assert sum(elect.costs[pid] for pid in funded) <= TOULOUSE_BUDGET
    with pytest.raises(pb.BallotError, match="does not fit"):
        elect.with_district_floor(TOULOUSE_BUDGET, 500_000, district)


def test_gains_add_up(toulouse) -> None:
    _, elect = toulouse
    shares = pb.gains(elect, elect.funded(TOULOUSE_BUDGET, "greedy"), elect.funded(TOULOUSE_BUDGET, "mes_topped_up"))
    assert sum(shares.values()) == pytest.approx(1.0)
    assert set(shares) == {"better off", "same", "worse off"}


# ------------------------------------------------------------ a cohort's vote


RED_BLUE = {"Red park": 10, "Red playground": 10, "Red square": 10, "Blue library": 10, "Blue bike lane": 10}
RED = ["Red park", "Red playground", "Red square"]
BLUE = ["Blue library", "Blue bike lane"]


def test_count_votes_shows_proportionality() -> None:
    """Four voters want red projects, two want blue: greedy gives all to red, Equal Shares 2 + 1."""
    table = pb.count_votes([RED] * 4 + [BLUE] * 2, RED_BLUE, 30).set_index("project")
    greedy = set(table.index[table[pb.RULES["greedy"]]])
    shares = set(table.index[table[pb.RULES["mes"]]])
    assert greedy == set(RED)
    assert len(shares & set(RED)) == 2 and len(shares & set(BLUE)) == 1
    assert table.loc["Red park", "votes"] == 4 and table.loc["Blue library", "votes"] == 2


@pytest.mark.parametrize(
    ("ballots", "costs", "message"),
    [
        ([["Park"], ["Pool"]], {"Park": 10}, "ballot 2 names Pool"),
        (["Park"], {"Park": 10}, "write it as a list"),
        ([["Park"]], {"Park": 0}, "cost above zero"),
        ([[]], {"Park": 10}, "no ballot approves"),
        ([["Park"]], {}, "at least one project"),
    ],
)
def test_count_votes_explains_mistakes(ballots, costs, message) -> None:
    with pytest.raises(pb.BallotError, match=message):
        pb.count_votes(ballots, costs, 100)


def test_unknown_rule_and_bad_budget(toulouse) -> None:
    _, elect = toulouse
    with pytest.raises(pb.BallotError, match="unknown rule"):
        elect.funded(TOULOUSE_BUDGET, "lottery")
    with pytest.raises(pb.BallotError, match="more than zero"):
        elect.funded(0, "greedy")


def test_age_bands_follow_the_dataset() -> None:
    descriptor = json.loads((ROOT / "datasets" / "pb-warsaw-2020-srodmiescie" / "datapackage.json").read_text(encoding="utf-8"))
    voters = next(r for r in descriptor["resources"] if r["name"] == "voters")
    band = next(f for f in voters["schema"]["fields"] if f["name"] == "age_band")
    assert tuple(band["constraints"]["enum"]) == pb.AGE_BANDS

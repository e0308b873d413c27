"""citylab.finance: every number checked against a value worked out by hand.

The expected values in comments show the arithmetic, so a reviewer who is
not a programmer can follow it with a calculator.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from citylab import charts, finance

# ------------------------------------------------------------ cash flows --


def test_cash_flows_single_year_investment() -> None:
    assert finance.cash_flows(100, 30, 3).tolist() == [-100, 30, 30, 30]


def test_cash_flows_ramp_up_during_rollout() -> None:
    # 80 spent as 40 + 40 in years 0 and 1; half the saving (10) in year 1, all (20) from year 2.
    assert finance.cash_flows(80, 20, 5, rollout_years=2).tolist() == [-40, -30, 20, 20, 20, 20]


def test_cash_flows_running_cost_from_year_one() -> None:
    assert finance.cash_flows(100, 30, 2, annual_cost=5).tolist() == [-100, 25, 25]


@pytest.mark.parametrize(("years", "rollout"), [(0, 1), (3, 0), (3, 4)])
def test_cash_flows_reject_impossible_periods(years: int, rollout: int) -> None:
    with pytest.raises(ValueError):
        finance.cash_flows(100, 30, years, rollout_years=rollout)


# ------------------------------------------------------ NPV, IRR, payback --


def test_npv_does_not_discount_year_zero() -> None:
    # -100 + 60/1.1 + 60/1.1^2 = -100 + 54.5455 + 49.5868 = 4.1322
    assert finance.npv(0.10, [-100, 60, 60]) == pytest.approx(4.1322, abs=1e-4)
    assert finance.npv(0.0, [-100, 60, 60]) == pytest.approx(20)


def test_npv_rejects_rate_of_minus_100_percent() -> None:
    with pytest.raises(ValueError):
        finance.npv(-1.0, [-100, 60])


def test_present_values() -> None:
    assert finance.present_values(0.25, [100, 125, 156.25]).tolist() == pytest.approx([100, 100, 100])


def test_irr_hand_computed() -> None:
    # 60x + 60x^2 = 100 with x = 1/(1+r): x = (-1 + sqrt(1 + 20/3)) / 2 = 0.884437, r = 0.130662
    assert finance.irr([-100, 60, 60]) == pytest.approx(0.130662, abs=1e-6)
    # At the IRR the NPV is zero.
    assert finance.npv(finance.irr([-100, 60, 60]), [-100, 60, 60]) == pytest.approx(0, abs=1e-9)


def test_irr_is_none_when_money_never_comes_back() -> None:
    assert finance.irr([-100, -10, -10]) is None


def test_payback_interpolates_within_the_year() -> None:
    # Running total -100, -70, -40, -10, +20: turns in year 4, after 10/30 of it.
    assert finance.payback_period([-100, 30, 30, 30, 30]) == pytest.approx(3 + 1 / 3)


def test_payback_edge_cases() -> None:
    assert finance.payback_period([-100, 10, 10]) is None
    assert finance.payback_period([0, 10]) == 0.0
    assert finance.payback_period([-100, 100]) == pytest.approx(1.0)


def test_discounted_payback_is_later() -> None:
    # Present values -100, 54.545, 49.587: running total -45.45 after year 1; 1 + 45.4545/49.5868.
    assert finance.discounted_payback(0.10, [-100, 60, 60]) == pytest.approx(1.9167, abs=1e-4)
    assert finance.discounted_payback(0.10, [-100, 60, 60]) > finance.payback_period([-100, 60, 60])


# --------------------------------------------------------------- Project --


def test_project_what_ifs() -> None:
    project = finance.Project(capex=100, annual_saving=100, years=2, capex_overrun=0.2,
                              savings_achieved=0.5, energy_price_change=0.1, energy_share=0.5)
    # Saving: 100 x 0.5 x (0.5 x 1.1 + 0.5) = 52.5. Capex: 100 x 1.2 = 120.
    assert project.effective_saving() == pytest.approx(52.5)
    assert project.flows().tolist() == pytest.approx([-120, 52.5, 52.5])
    assert project.npv() == pytest.approx(-120 + 52.5 / 1.03 + 52.5 / 1.03**2)
    assert project.payback() is None and project.irr() < 0


def test_with_changes_leaves_the_base_alone() -> None:
    base = finance.Project(capex=100, annual_saving=30, years=4)
    worse = base.with_changes(capex_overrun=0.5)
    assert worse.flows()[0] == -150 and base.flows()[0] == -100
    with pytest.raises(ValueError, match="unknown project input"):
        base.with_changes(weather=1)


def test_project_defaults_are_the_plain_case() -> None:
    project = finance.Project(capex=100, annual_saving=30, years=4)
    assert project.flows().tolist() == finance.cash_flows(100, 30, 4).tolist()
    assert project.payback() == pytest.approx(3 + 1 / 3)


def test_los_angeles_rebuild_pays_back_in_about_seven_years() -> None:
    # $57 m over 4 years, $10 m a year once complete: running total -14.25, -26, -35.25, -42,
    # -32, -22, -12, -2, +8 -> 7 + 2/10 = 7.2 years (the City reports about seven).
    la = finance.Project(capex=57e6, annual_saving=10e6, years=15, rollout_years=4)
    assert la.payback() == pytest.approx(7.2)


# ---------------------------------------------------------------- tornado --


def test_tornado_sorts_by_swing() -> None:
    project = finance.Project(capex=100, annual_saving=30, years=5, discount_rate=0.0)
    table = finance.tornado(project, {"capex_overrun": (0.0, 0.1), "savings_achieved": (0.5, 1.0)})
    # Base NPV at 0%: -100 + 150 = 50. Overrun +10%: 40 (swing 10). Savings at 50%: -25 (swing 75).
    assert table["input"].tolist() == ["savings_achieved", "capex_overrun"]
    assert table.loc[0, ["npv_low", "npv_high", "swing"]].tolist() == pytest.approx([-25, 50, 75])
    assert table.loc[1, ["npv_low", "npv_high", "swing"]].tolist() == pytest.approx([50, 40, 10])


def test_tornado_rejects_unknown_inputs() -> None:
    with pytest.raises(ValueError, match="unknown project input"):
        finance.tornado(finance.Project(100, 30, 5), {"weather": (0, 1)})


# ------------------------------------------------------------ Monte Carlo --

UNCERTAIN = {
    "capex_overrun": finance.Triangular(0.0, 0.1, 0.5),
    "savings_achieved": finance.Triangular(0.5, 0.9, 1.1),
    "energy_price_change": finance.Normal(0.0, 0.2),
}


def test_monte_carlo_without_uncertainty_gives_the_project_npv() -> None:
    project = finance.Project(capex=57e6, annual_saving=10e6, years=15, rollout_years=4,
                              capex_overrun=0.1, energy_share=0.8, energy_price_change=0.05, annual_cost=1e5)
    fixed = {"capex_overrun": finance.Triangular(0.1, 0.1, 0.1)}
    npvs = finance.monte_carlo_npv(project, fixed, draws=5)
    assert npvs == pytest.approx(np.full(5, project.npv()))


def test_monte_carlo_draws_match_one_by_one_projects() -> None:
    project = finance.Project(capex=100, annual_saving=30, years=6, rollout_years=2, energy_share=0.7)
    npvs = finance.monte_carlo_npv(project, UNCERTAIN, draws=3, seed=7)
    rng = np.random.default_rng(7)
    overrun = UNCERTAIN["capex_overrun"].draw(rng, 3)
    achieved = UNCERTAIN["savings_achieved"].draw(rng, 3)
    price = UNCERTAIN["energy_price_change"].draw(rng, 3)
    expected = [replace(project, capex_overrun=o, savings_achieved=a, energy_price_change=p).npv()
                for o, a, p in zip(overrun, achieved, price)]
    assert npvs == pytest.approx(expected)


def test_monte_carlo_is_reproducible_and_fast() -> None:
    project = finance.Project(capex=57e6, annual_saving=10e6, years=15, rollout_years=4)
    started = time.perf_counter()
    first = finance.monte_carlo_npv(project, UNCERTAIN, draws=10_000, seed=2024)
    assert time.perf_counter() - started < 1.0
    assert first.shape == (10_000,)
    assert np.array_equal(first, finance.monte_carlo_npv(project, UNCERTAIN, draws=10_000, seed=2024))
    assert not np.array_equal(first, finance.monte_carlo_npv(project, UNCERTAIN, draws=10_000, seed=1))


def test_monte_carlo_refuses_the_discount_rate() -> None:
    with pytest.raises(ValueError, match="discount_rate"):
        finance.monte_carlo_npv(finance.Project(100, 30, 5), {"discount_rate": finance.Normal(0.03, 0.01)})


def test_probability_of_loss() -> None:
    assert finance.probability_of_loss([-1, 2, 3, -4]) == 0.5
    assert finance.probability_of_loss([0, 1]) == 0.0


# ------------------------------------------------------- financing routes --


def test_annuity_hand_computed() -> None:
    # 1000 x 0.05 / (1 - 1.05^-2) = 50 / 0.092971 = 537.80
    assert finance.annuity(1000, 0.05, 2) == pytest.approx(537.80, abs=0.01)
    assert finance.annuity(1000, 0.0, 4) == 250


def test_route_cash_flows() -> None:
    project = finance.Project(capex=100, annual_saving=30, years=5)
    routes = finance.route_cash_flows(project, bond_rate=0.0, bond_years=4, grant_share=0.4,
                                      ppp_rate=0.0, ppp_years=5, esco_share=0.5, esco_years=2)
    assert list(routes) == list(finance.ROUTES)
    assert routes["Own budget"].tolist() == [-100, 30, 30, 30, 30, 30]
    assert routes["Bond"].tolist() == [0, 5, 5, 5, 5, 30]       # 30 saved - 25 repaid
    assert routes["Grant"].tolist() == [-60, 30, 30, 30, 30, 30]
    assert routes["PPP"].tolist() == [0, 10, 10, 10, 10, 10]    # 30 saved - 20 availability payment
    assert routes["ESCO"].tolist() == [0, 15, 15, 30, 30, 30]   # half the savings for 2 years


def test_cost_overrun_falls_on_the_city_except_in_ppp_and_esco() -> None:
    project = finance.Project(capex=100, annual_saving=30, years=5, capex_overrun=0.5)
    routes = finance.route_cash_flows(project, bond_rate=0.0, bond_years=5, grant_share=0.4,
                                      ppp_rate=0.0, ppp_years=5, esco_share=0.5, esco_years=2)
    assert routes["Grant"][0] == -110          # the grant (40) does not grow with the overrun
    assert routes["Bond"][1] == pytest.approx(0)  # 150 borrowed, 30 a year repaid
    assert routes["PPP"][1] == pytest.approx(10)


def test_compare_routes() -> None:
    table = finance.compare_routes({"A": np.array([-100.0, 60, 60]), "B": np.array([0.0, -10, 30])}, 0.10)
    assert table.loc["A", "npv_to_city"] == pytest.approx(4.1322, abs=1e-4)
    assert table.loc["A", "year0_cash"] == 100 and table.loc["B", "year0_cash"] == 0
    assert table.loc["A", "deepest_cumulative"] == -100 and table.loc["B", "deepest_cumulative"] == -10


def test_esco_share_needed() -> None:
    # 537.80 a year needed out of 600 saved.
    assert finance.esco_share_needed(1000, 600, 2, 0.05) == pytest.approx(0.8963, abs=1e-4)
    with pytest.raises(ValueError):
        finance.esco_share_needed(1000, 0, 2, 0.05)


# ------------------------------------------------------------ risk matrix --


def test_blank_risk_matrix_and_check() -> None:
    matrix = finance.blank_risk_matrix()
    assert matrix.shape == (5, 5) and (matrix == "?").all().all()
    assert finance.check_risk_matrix(matrix) == "0 of 25 cells filled in."
    matrix.loc["Energy price", "Own budget"] = "City"
    matrix.loc["Demand and use", "PPP"] = "the bank"
    message = finance.check_risk_matrix(matrix)
    assert message.startswith("1 of 25 cells filled in; use one of City, Private partner, Shared in:")
    assert "Demand and use / PPP: 'the bank'" in message


# -------------------------------------------------------------------- TCO --


def test_tco_comparison_hand_computed() -> None:
    table = finance.tco_comparison(3, owned_capex=100, owned_annual=10, subscription_fee=40, fee_growth=0.1)
    # Fees 40, 44, 48.4 -> running total 40, 84, 132.4; owned 100, 110, 120, 130.
    assert table["subscription_cumulative"].tolist() == pytest.approx([0, 40, 84, 132.4])
    assert table["owned_cumulative"].tolist() == pytest.approx([100, 110, 120, 130])
    assert finance.first_year_more_expensive(table) == 3


def test_tco_refresh_and_setup() -> None:
    table = finance.tco_comparison(2, owned_capex=50, owned_annual=5, subscription_fee=10, fee_growth=0.0,
                                   owned_refresh_year=2, owned_refresh_cost=20, subscription_setup=7)
    assert table["owned"].tolist() == [50, 5, 25] and table["subscription"].tolist() == [7, 10, 10]
    assert finance.first_year_more_expensive(table) is None
    with pytest.raises(ValueError):
        finance.tco_comparison(2, owned_capex=1, owned_annual=1, subscription_fee=1, fee_growth=0,
                               owned_refresh_year=5)


# ---------------------------------------------------------------- drawing --


def test_drawing_helpers_draw() -> None:
    _fig, ax = charts.new_figure()
    finance.draw_cash_flows(ax, np.array([-100.0, 30, 30, 30, 30]), start_year=2009, scale=1)
    assert len(ax.patches) == 5 and ax.lines
    project = finance.Project(capex=100, annual_saving=30, years=5)
    table = finance.tornado(project, {"capex_overrun": (0.0, 0.5), "savings_achieved": (0.5, 1.2)})
    _fig, ax = charts.new_figure()
    finance.draw_tornado(ax, table, project.npv(), {"capex_overrun": "Cost overrun"}, scale=1)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Cost overrun", "savings_achieved"]  # widest swing drawn on top
    assert isinstance(table, pd.DataFrame)


def test_draw_running_totals() -> None:
    _fig, ax = charts.new_figure()
    finance.draw_running_totals(ax, {"A": np.array([-100.0, 60, 60]), "B": np.array([0.0, 10, 10])},
                                start_year=2020, scale=1, dashed=["B"])
    a, b = ax.lines[0], ax.lines[1]
    assert a.get_xdata().tolist() == [2020, 2021, 2022] and a.get_ydata().tolist() == [-100, -40, 20]
    assert b.get_linestyle() == "--" and a.get_linestyle() == "-"

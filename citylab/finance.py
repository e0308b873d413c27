"""Money for smart city projects: cash flows, NPV, IRR, payback, risk and uncertainty.

Why this module exists: a finance committee asks the same four questions of
every project (what does it cost, what does it save, when is the money back,
what if we are wrong), and the module 5 notebooks answer them for real cases.
Doing the arithmetic here, once, with tests against hand-computed values,
keeps the notebook cells short enough for a non-coder to read and makes sure
every notebook uses the same conventions:

* A project is a list of **yearly net cash flows, year 0 first**: money out is
  negative, money in (or money no longer spent) is positive.
* Year 0 is *not* discounted. This follows ``numpy_financial.npv`` and most
  public-sector guidance, and differs from a spreadsheet's ``NPV()``, which
  discounts its first value.
* Rates are fractions (0.03 for 3%), never percentages.

The model of a project is deliberately simple: the investment is spent evenly
over a roll-out, savings grow as the new equipment is installed, and then stay
flat. Every input that is not a published figure is a named parameter, so a
notebook can say plainly which numbers are assumptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import numpy_financial as npf
import pandas as pd

# --------------------------------------------------------------------------
# Cash flows and the three classic measures
# --------------------------------------------------------------------------


def _profiles(years: int, rollout_years: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-unit shapes of spending, savings and running costs over years 0..years.

    Spending: 1/rollout of the investment in each of years 0..rollout-1.
    Savings: in year t (t >= 1) the share of equipment installed by the end of
    year t-1, i.e. min(t, rollout) / rollout, so savings ramp up during the
    roll-out. Running costs: 1 in every year 1..years.
    """
    if years < 1:
        raise ValueError("a project needs at least one year of savings (years >= 1)")
    if not 1 <= rollout_years <= years:
        raise ValueError("rollout_years must be between 1 and years")
    t = np.arange(years + 1)
    spend = np.where(t < rollout_years, 1.0 / rollout_years, 0.0)
    saving = np.minimum(t, rollout_years) / rollout_years
    running = (t >= 1).astype(float)
    return spend, saving, running


def cash_flows(
    capex: float,
    annual_saving: float,
    years: int,
    *,
    rollout_years: int = 1,
    annual_cost: float = 0.0,
) -> np.ndarray:
    """Yearly net cash flows of an efficiency project, year 0 first.

    ``capex`` is the total investment, spent evenly over ``rollout_years``
    (years 0, 1, ...). ``annual_saving`` is the full yearly saving once all
    equipment is installed; it ramps up during the roll-out. Savings are
    counted for ``years`` years after the start. ``annual_cost`` is any new
    yearly cost (a service fee, say), paid in years 1..years.

    >>> cash_flows(100, 30, 3).tolist()
    [-100.0, 30.0, 30.0, 30.0]
    """
    spend, saving, running = _profiles(years, rollout_years)
    return -capex * spend + annual_saving * saving - annual_cost * running


def npv(rate: float, flows: Sequence[float] | np.ndarray) -> float:
    """Net present value at ``rate``: year 0 as is, year t divided by (1 + rate)**t."""
    if rate <= -1:
        raise ValueError("the discount rate must be greater than -100%")
    return float(npf.npv(rate, np.asarray(flows, dtype=float)))


def present_values(rate: float, flows: Sequence[float] | np.ndarray) -> np.ndarray:
    """Each year's cash flow in today's money (the terms that :func:`npv` adds up)."""
    flows = np.asarray(flows, dtype=float)
    return flows / (1 + rate) ** np.arange(len(flows))


def irr(flows: Sequence[float] | np.ndarray) -> float | None:
    """Internal rate of return: the discount rate at which the NPV is zero.

    Returns ``None`` when there is no such rate (for example when the project
    never earns its money back), so a notebook can say so in words instead of
    printing ``nan``.
    """
    value = npf.irr(np.asarray(flows, dtype=float))
    return None if value is None or np.isnan(value) else float(value)


def payback_period(flows: Sequence[float] | np.ndarray) -> float | None:
    """Years until the running total of cash flows turns non-negative.

    Within the year it turns, the cash is assumed to arrive evenly, so the
    answer can be fractional (5.7 years). ``None`` if it never turns. Payback
    ignores everything after it and the time value of money: it answers
    "how long is our money tied up?", not "is this worth doing?".
    """
    flows = np.asarray(flows, dtype=float)
    cumulative = np.cumsum(flows)
    if cumulative[0] >= 0:
        return 0.0
    for t in range(1, len(flows)):
        if cumulative[t] >= 0:
            return float(t - 1 + (-cumulative[t - 1]) / flows[t])
    return None


def discounted_payback(rate: float, flows: Sequence[float] | np.ndarray) -> float | None:
    """Payback counted in today's money: always later than simple payback."""
    return payback_period(present_values(rate, flows))


# --------------------------------------------------------------------------
# A project with its assumptions, for sliders, tornado and Monte Carlo
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """A project as a committee discusses it: published base figures plus the what-ifs.

    ``capex`` and ``annual_saving`` are the base figures (published, or the
    city's own estimate). The what-ifs move them:

    * ``capex_overrun``: 0.2 means the work costs 20% more than planned;
    * ``savings_achieved``: 0.8 means only 80% of the expected saving comes;
    * ``energy_price_change``: 0.1 means electricity costs 10% more than the
      price behind the base saving, which makes the energy part of the saving
      (``energy_share`` of it) worth 10% more;
    * ``discount_rate``: how much less money later is worth than money now.
    """

    capex: float
    annual_saving: float
    years: int
    rollout_years: int = 1
    discount_rate: float = 0.03
    capex_overrun: float = 0.0
    savings_achieved: float = 1.0
    energy_price_change: float = 0.0
    energy_share: float = 1.0
    annual_cost: float = 0.0

    def with_changes(self, **changes: Any) -> Project:
        """The same project with some inputs changed (the project itself is never modified)."""
        _check_inputs(self, list(changes))
        return replace(self, **changes)

    def effective_saving(self) -> float:
        """The full yearly saving after the what-ifs."""
        price_factor = self.energy_share * (1 + self.energy_price_change) + (1 - self.energy_share)
        return self.annual_saving * self.savings_achieved * price_factor

    def flows(self) -> np.ndarray:
        """Yearly net cash flows after the what-ifs (see :func:`cash_flows`)."""
        return cash_flows(
            self.capex * (1 + self.capex_overrun),
            self.effective_saving(),
            self.years,
            rollout_years=self.rollout_years,
            annual_cost=self.annual_cost,
        )

    def npv(self) -> float:
        """NPV at the project's own discount rate."""
        return npv(self.discount_rate, self.flows())

    def irr(self) -> float | None:
        """IRR of the project's cash flows (independent of the discount rate)."""
        return irr(self.flows())

    def payback(self) -> float | None:
        """Simple payback in years (see :func:`payback_period`)."""
        return payback_period(self.flows())


def _check_inputs(project: Project, names: Sequence[str]) -> None:
    known = {f.name for f in fields(project)}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown project input(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def tornado(project: Project, ranges: Mapping[str, tuple[float, float]]) -> pd.DataFrame:
    """How far the NPV moves when each input alone goes to its low and high value.

    One row per input, sorted with the widest swing first: the order of the
    bars in a tornado chart. Inputs with a wide swing are the ones worth
    checking, negotiating or insuring before the decision.
    """
    _check_inputs(project, list(ranges))
    rows = []
    for name, (low, high) in ranges.items():
        npv_low = replace(project, **{name: low}).npv()
        npv_high = replace(project, **{name: high}).npv()
        rows.append({"input": name, "low": low, "high": high, "npv_low": npv_low, "npv_high": npv_high,
                     "swing": abs(npv_high - npv_low)})
    table = pd.DataFrame(rows, columns=["input", "low", "high", "npv_low", "npv_high", "swing"])
    return table.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Triangular:
    """An uncertain input: never below ``low`` or above ``high``, most likely ``mode``.

    Easy to elicit from engineers ("best case, most likely, worst case").
    """

    low: float
    mode: float
    high: float

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.low == self.high:
            return np.full(n, float(self.mode))
        return rng.triangular(self.low, self.mode, self.high, n)


@dataclass(frozen=True)
class Normal:
    """An uncertain input that is symmetric around ``mean`` (an energy price, say)."""

    mean: float
    sd: float

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.normal(self.mean, self.sd, n)


Distribution = Triangular | Normal

#: Inputs that :func:`monte_carlo_npv` can draw. The discount rate is left out
#: on purpose: it is a policy choice, not an uncertainty.
UNCERTAIN_INPUTS = ("capex_overrun", "savings_achieved", "energy_price_change")


def monte_carlo_npv(
    project: Project,
    uncertain: Mapping[str, Distribution],
    draws: int = 10_000,
    seed: int = 2024,
) -> np.ndarray:
    """NPVs of ``draws`` versions of the project, each with its own random inputs.

    All draws are computed at once with arrays (10,000 draws take a few
    milliseconds). A fixed ``seed`` makes the result the same on every run,
    so the book and a learner's notebook print the same numbers.
    """
    unknown = sorted(set(uncertain) - set(UNCERTAIN_INPUTS))
    if unknown:
        raise ValueError(f"cannot draw {', '.join(unknown)}; choose from {', '.join(UNCERTAIN_INPUTS)}")
    rng = np.random.default_rng(seed)
    values = {name: np.full(draws, float(getattr(project, name))) for name in UNCERTAIN_INPUTS}
    for name in UNCERTAIN_INPUTS:  # fixed order, so the same seed gives the same draws
        if name in uncertain:
            values[name] = uncertain[name].draw(rng, draws)
    spend, saving, running = _profiles(project.years, project.rollout_years)
    discount = 1 / (1 + project.discount_rate) ** np.arange(project.years + 1)
    share = project.energy_share
    full_saving = (project.annual_saving * values["savings_achieved"]
                   * (share * (1 + values["energy_price_change"]) + (1 - share)))
    capex = project.capex * (1 + values["capex_overrun"])
    return (-capex * (spend @ discount) + full_saving * (saving @ discount)
            - project.annual_cost * (running @ discount))


def probability_of_loss(npvs: Sequence[float] | np.ndarray) -> float:
    """Share of simulated NPVs below zero: the chance the project loses money."""
    npvs = np.asarray(npvs, dtype=float)
    return float(np.mean(npvs < 0))


# --------------------------------------------------------------------------
# Financing routes: the same project, seen from the city's budget
# --------------------------------------------------------------------------

ROUTES = ("Own budget", "Bond", "Grant", "PPP", "ESCO")


def annuity(principal: float, rate: float, years: int) -> float:
    """Level yearly payment that repays ``principal`` with interest over ``years``."""
    return float(-npf.pmt(rate, years, principal)) if rate else principal / years


def route_cash_flows(
    project: Project,
    *,
    bond_rate: float,
    bond_years: int,
    grant_share: float,
    ppp_rate: float,
    ppp_years: int,
    esco_share: float,
    esco_years: int,
) -> dict[str, np.ndarray]:
    """The city's own yearly cash flows under each financing route.

    The project (its spending and savings) is the same in every route; only
    who pays when changes:

    * **Own budget**: the city pays the investment when it is spent.
    * **Bond**: the city borrows the whole investment in year 0 and repays it
      in equal yearly instalments at ``bond_rate`` over ``bond_years``.
    * **Grant**: a grant pays ``grant_share`` of the planned investment; the
      city pays the rest, including any overrun.
    * **PPP**: a private partner finances and builds; the city pays an
      availability payment (the investment repaid at ``ppp_rate`` over
      ``ppp_years``) and keeps the savings.
    * **ESCO**: an energy service company pays everything upfront; the city
      passes ``esco_share`` of the savings to it for ``esco_years``, then
      keeps them all.

    Simplifications, stated so a committee can challenge them: no fees,
    taxes or guarantees; in the PPP and ESCO routes a cost overrun is the
    private partner's; bond proceeds are spent as the work goes on.
    """
    spend, saving_shape, running = _profiles(project.years, project.rollout_years)
    t = np.arange(project.years + 1)
    capex = project.capex * (1 + project.capex_overrun)
    savings = project.effective_saving() * saving_shape - project.annual_cost * running

    def instalments(amount: float, rate: float, years: int) -> np.ndarray:
        return np.where((t >= 1) & (t <= years), annuity(amount, rate, years), 0.0)

    grant = grant_share * project.capex
    esco_paid = np.where(t <= esco_years, esco_share, 0.0) * savings
    return {
        "Own budget": -capex * spend + savings,
        "Bond": savings - instalments(capex, bond_rate, bond_years),
        "Grant": -(capex - grant) * spend + savings,
        "PPP": savings - instalments(project.capex, ppp_rate, ppp_years),
        "ESCO": savings - esco_paid,
    }


def compare_routes(flows_by_route: Mapping[str, np.ndarray], rate: float) -> pd.DataFrame:
    """One row per route: NPV to the city, cash needed in year 0, worst running total.

    The NPV says which route is cheapest overall; the year-0 cash and the
    deepest point of the running total say which routes a city with an empty
    capital budget can afford at all.
    """
    rows = []
    for route, flows in flows_by_route.items():
        cumulative = np.cumsum(flows)
        rows.append({
            "route": route,
            "npv_to_city": npv(rate, flows),
            "year0_cash": float(-flows[0]) if flows[0] < 0 else 0.0,
            "deepest_cumulative": float(min(cumulative.min(), 0.0)),
        })
    return pd.DataFrame(rows).set_index("route")


def esco_share_needed(capex: float, annual_saving: float, years: int, rate: float) -> float:
    """Share of yearly savings an ESCO must receive to recover ``capex`` with a return of ``rate``.

    Why: under a shared-savings contract the town pays nothing upfront, so the
    question it must ask is what share of its savings it gives up, and for how
    long. A share above 1 means the savings cannot repay the investment in
    that time at that return.
    """
    if annual_saving <= 0:
        raise ValueError("the yearly saving must be positive")
    return annuity(capex, rate, years) / annual_saving


# --------------------------------------------------------------------------
# Risk allocation matrix (learners fill it in)
# --------------------------------------------------------------------------

RISKS = (
    "Construction and cost overrun",
    "Demand and use",
    "Technology and obsolescence",
    "Energy price",
    "Performance (savings shortfall)",
)
#: Answers a learner may write in a cell. "?" marks a cell not yet filled in.
RISK_HOLDERS = ("City", "Private partner", "Shared")


def blank_risk_matrix(routes: Sequence[str] = ROUTES) -> pd.DataFrame:
    """A risk-by-route table of "?" for a learner or a group to fill in.

    The corner of the table names both axes (the columns' name), so a screen
    reader never meets an empty header cell.
    """
    return pd.DataFrame("?", index=list(RISKS), columns=pd.Index(list(routes), name="risk / route"))


def check_risk_matrix(matrix: pd.DataFrame) -> str:
    """Say how much of the matrix is filled in and which cells hold an unknown word.

    It does not mark answers right or wrong: the reference answers are for the
    discussion (in the facilitator guide), and several depend on the contract.
    """
    cells = matrix.stack()
    blank = int((cells == "?").sum())
    invalid = [f"{risk} / {route}: {value!r}" for (risk, route), value in cells.items()
               if value != "?" and value not in RISK_HOLDERS]
    filled = len(cells) - blank - len(invalid)
    message = f"{filled} of {len(cells)} cells filled in"
    if invalid:
        message += f"; use one of {', '.join(RISK_HOLDERS)} in: " + "; ".join(invalid)
    return message + "."


# --------------------------------------------------------------------------
# Total cost of ownership: buy and run, or subscribe
# --------------------------------------------------------------------------


def tco_comparison(
    years: int,
    *,
    owned_capex: float,
    owned_annual: float,
    subscription_fee: float,
    fee_growth: float,
    owned_refresh_year: int | None = None,
    owned_refresh_cost: float = 0.0,
    subscription_setup: float = 0.0,
) -> pd.DataFrame:
    """Cumulative cost of owning a system versus subscribing to it, year by year.

    Owned: an investment in year 0, a yearly running cost from year 1, and
    optionally a refresh (new hardware or a major upgrade) in one year.
    Subscription: an optional set-up fee in year 0 and a yearly fee from
    year 1 that grows by ``fee_growth`` each year (price rises are common
    once a city depends on a platform). Costs are positive numbers here.
    """
    t = np.arange(years + 1)
    owned = np.where(t == 0, owned_capex, owned_annual).astype(float)
    if owned_refresh_year is not None:
        if not 1 <= owned_refresh_year <= years:
            raise ValueError("owned_refresh_year must be within the period")
        owned[owned_refresh_year] += owned_refresh_cost
    fees = np.where(t == 0, subscription_setup, subscription_fee * (1 + fee_growth) ** np.maximum(t - 1, 0))
    return pd.DataFrame({
        "year": t,
        "owned": owned,
        "subscription": fees,
        "owned_cumulative": owned.cumsum(),
        "subscription_cumulative": fees.cumsum(),
    })


def first_year_more_expensive(table: pd.DataFrame) -> int | None:
    """First year in which the subscription's running total overtakes owning, or None."""
    later = table.loc[table["subscription_cumulative"] > table["owned_cumulative"], "year"]
    return int(later.iloc[0]) if len(later) else None


# --------------------------------------------------------------------------
# Drawing helpers (each draws on an axes from citylab.charts.new_figure)
# --------------------------------------------------------------------------


def draw_cash_flows(ax: Any, flows: np.ndarray, *, start_year: int = 0, scale: float = 1e6) -> None:
    """Bars for each year's net cash flow and a line for the running total."""
    years = start_year + np.arange(len(flows))
    colours = ["#D55E00" if f < 0 else "#009E73" for f in flows]
    ax.bar(years, flows / scale, color=colours, label="Net cash flow in the year")
    ax.plot(years, np.cumsum(flows) / scale, color="#000000", marker="o", label="Running total")
    ax.axhline(0, color="grey", linewidth=1)
    ax.legend(loc="upper left")


def draw_tornado(ax: Any, table: pd.DataFrame, base_npv: float, labels: Mapping[str, str], *,
                 scale: float = 1e6) -> None:
    """Horizontal bars from the base NPV to each input's low and high NPV, widest on top."""
    rows = table.iloc[::-1]
    positions = np.arange(len(rows))
    lows = rows["npv_low"].to_numpy() / scale
    highs = rows["npv_high"].to_numpy() / scale
    base = base_npv / scale
    ax.barh(positions, lows - base, left=base, color="#D55E00", label="Input at its low value")
    ax.barh(positions, highs - base, left=base, color="#0072B2", label="Input at its high value")
    ax.axvline(base, color="black", linewidth=1)
    ax.set_yticks(positions, labels=[labels.get(name, name) for name in rows["input"]])
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right")



def draw_running_totals(ax: Any, series: Mapping[str, np.ndarray], *, start_year: int = 0,
                        scale: float = 1e6, dashed: Sequence[str] = ()) -> None:
    """One line per series for its running total (cumulative sum), with a zero line.

    Why: comparing routes or options is about *when* money goes out and
    comes back, which a running total shows at a glance; the dashed style marks
    a reference line (such as "own budget") so colour is not the only cue.
    """
    markers = "osD^v"
    for i, (label, values) in enumerate(series.items()):
        years = start_year + np.arange(len(values))
        ax.plot(years, np.cumsum(values) / scale, label=label, marker=markers[i % len(markers)],
                linestyle="--" if label in dashed else "-")
    ax.axhline(0, color="black", linewidth=1)
    ax.legend(loc="upper left")

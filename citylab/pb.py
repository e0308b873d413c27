"""Count participatory-budgeting ballots with different rules, on real data.

Why this module exists: module 4 shows city officials that *how* votes are
counted changes *which* projects a city builds. Notebooks load the ballots
through :mod:`citylab.data` (a ballot profile: each distinct set of approved
projects with its number of voters) and call the functions here, so the
counting code stays short in the notebook and tested in one place.

Equal Shares is computed by ``pabutools`` (the reference implementation used
with the Pabulib data); the greedy rule is a few lines here, checked against
pabutools' greedy rule in the tests, because it runs in milliseconds rather
than about a second:

* ``"greedy"``: fund projects from most to fewest votes, skipping any project
  that no longer fits in the budget. This is the rule most cities use.
* ``"mes"``: the Method of Equal Shares. The budget is split equally between
  voters; a project is funded only if its supporters can pay for it from their
  shares. It often leaves part of the budget unspent.
* ``"mes_topped_up"``: Equal Shares first, then the money left over is spent
  with the greedy rule. This is a simple way to "complete" Equal Shares.

Equal Shares takes a fraction of a second on Toulouse 2022 (199 projects,
4,532 voters), so results are cached per election, budget and rule: moving a
slider back to a value already seen is instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

#: Rules this module can apply, with the names shown to learners.
RULES: dict[str, str] = {
    "greedy": "Greedy (most votes first)",
    "mes": "Equal Shares",
    "mes_topped_up": "Equal Shares, topped up",
}
#: Age bands of the Warsaw voter tables, youngest first (the dataset's enum order).
AGE_BANDS: tuple[str, ...] = ("0-14", "15-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")


class BallotError(ValueError):
    """Ballots or project costs that cannot be counted, with a reason a learner can act on."""


@dataclass(eq=False)
class Election:
    """Projects (id -> cost) and a ballot profile (approval set -> voters).

    Build one with :func:`election` (from dataset tables) or
    :func:`count_votes` (from ballots typed in a list). The pabutools objects are
    created once and reused for every budget and rule.
    """

    costs: dict[str, float]
    profile: dict[frozenset[str], int]
    _pabutools: Any = field(default=None, repr=False)
    _results: dict[tuple[float, str], tuple[str, ...]] = field(default_factory=dict, repr=False)
    _votes: dict[str, int] | None = field(default=None, repr=False)

    @property
    def voters(self) -> int:
        """Number of voters (ballots cast)."""
        return sum(self.profile.values())

    def _objects(self) -> tuple[Any, Any, Any]:
        """pabutools Instance, approval multi-profile and cost-satisfaction profile."""
        if self._pabutools is None:
            from pabutools.election import (
                ApprovalMultiProfile,
                Cost_Sat,
                FrozenApprovalBallot,
                Instance,
                Project,
            )

            projects = {pid: Project(pid, _exact(cost)) for pid, cost in sorted(self.costs.items())}
            instance = Instance(projects.values(), budget_limit=_exact(sum(self.costs.values())))
            profile = ApprovalMultiProfile(instance=instance)
            for ballot, voters in sorted(self.profile.items(), key=lambda item: sorted(item[0])):
                frozen = FrozenApprovalBallot([projects[pid] for pid in sorted(ballot)])
                for _ in range(voters):
                    profile.append(frozen)
            self._pabutools = (instance, profile, profile.as_sat_profile(Cost_Sat))
        return self._pabutools

    def funded(self, budget: float, rule: str = "greedy") -> tuple[str, ...]:
        """Ids of the projects a rule funds with this budget, sorted (cached)."""
        if rule not in RULES:
            raise BallotError(f"unknown rule {rule!r}: choose one of {', '.join(RULES)}")
        if budget <= 0:
            raise BallotError("the budget must be more than zero")
        key = (float(budget), rule)
        if key not in self._results:
            self._results[key] = self._count(float(budget), rule)
        return self._results[key]

    @property
    def votes(self) -> dict[str, int]:
        """Approvals per project (how many voters ticked it)."""
        if self._votes is None:
            counted = dict.fromkeys(self.costs, 0)
            for ballot, voters in self.profile.items():
                for pid in ballot:
                    counted[pid] += voters
            self._votes = counted
        return self._votes

    def greedy(self, budget: float, already: Iterable[str] = (), among: Iterable[str] | None = None) -> tuple[str, ...]:
        """The greedy rule: most votes first, skip what no longer fits (ties: by id, as pabutools).

        ``already`` are projects funded before (their cost is taken off the
        budget); ``among`` limits the projects considered. Projects nobody voted
        for are never funded.
        """
        chosen = list(already)
        left = budget - sum(self.costs[pid] for pid in chosen)
        pool = self.costs if among is None else among
        for pid in sorted(set(pool) - set(chosen), key=lambda p: (-self.votes[p], p)):
            if self.votes[pid] > 0 and self.costs[pid] <= left:
                chosen.append(pid)
                left -= self.costs[pid]
        return tuple(sorted(chosen, key=_natural))

    def _count(self, budget: float, rule: str) -> tuple[str, ...]:
        if rule == "greedy":
            return self.greedy(budget)
        from pabutools.rules import method_of_equal_shares

        instance, profile, satisfaction = self._objects()
        instance.budget_limit = _exact(budget)
        shares = tuple(p.name for p in method_of_equal_shares(instance, profile, sat_profile=satisfaction))
        if rule == "mes_topped_up":
            return self.greedy(budget, already=shares)
        return tuple(sorted(shares, key=_natural))

    def with_district_floor(self, budget: float, floor: float, district: Mapping[str, Any]) -> tuple[str, ...]:
        """Greedy with a guaranteed envelope per district, then greedy city-wide.

        First, inside each district, the greedy rule spends up to ``floor`` on
        that district's projects. The rest of the budget then goes, greedy, to
        the remaining projects of the whole city. ``district`` maps each project
        id to its district. This is the kind of rule Toulouse announced for 2022.
        """
        areas = sorted(set(district.values()), key=str)
        if floor < 0 or floor * len(areas) > budget:
            raise BallotError(f"a floor of {floor:,.0f} for {len(areas)} districts does not fit in a budget of {budget:,.0f}")
        chosen: list[str] = []
        for area in areas:
            members = [pid for pid in self.costs if district.get(pid) == area]
            chosen += self.greedy(floor, among=members)
        return self.greedy(budget, already=chosen)

    def spent(self, budget: float, rule: str = "greedy") -> float:
        """Money the funded projects cost together."""
        return float(sum(self.costs[pid] for pid in self.funded(budget, rule)))

    def voters_with_a_winner(self, funded: Iterable[str]) -> float:
        """Share of voters (0-1) who approved at least one funded project."""
        chosen = set(funded)
        happy = sum(n for ballot, n in self.profile.items() if ballot & chosen)
        return happy / self.voters

    def winners_per_voter(self, funded: Iterable[str]) -> float:
        """Average number of funded projects on a voter's ballot."""
        chosen = set(funded)
        return sum(len(ballot & chosen) * n for ballot, n in self.profile.items()) / self.voters


def _exact(amount: float) -> Any:
    """An amount as an exact fraction, as pabutools expects (no floating-point drift)."""
    from pabutools.fractions import str_as_frac

    amount = float(amount)
    return str_as_frac(str(int(amount)) if amount.is_integer() else repr(amount))


def _natural(pid: str) -> tuple[int, str]:
    """Sort '9' before '10' when ids are numbers, and names alphabetically otherwise."""
    return (int(pid), "") if pid.isdigit() else (10**12, pid)


def _key(projects: pd.DataFrame, ballots: pd.DataFrame) -> tuple[tuple, tuple]:
    costs = tuple(sorted(zip(projects["project_id"].astype(str), projects["cost"].astype(float))))
    profile = tuple(sorted(zip(ballots["project_ids"].astype(str), ballots["voters"].astype(int))))
    return costs, profile


@lru_cache(maxsize=8)
def _election(costs: tuple, profile: tuple) -> Election:
    table = dict(costs)
    ballots: dict[frozenset[str], int] = {}
    for ids, voters in profile:
        ballot = frozenset(ids.split())
        unknown = sorted(ballot - table.keys())
        if unknown:
            raise BallotError(f"a ballot names project(s) {', '.join(unknown)} that have no cost")
        ballots[ballot] = ballots.get(ballot, 0) + voters
    return Election(costs=table, profile=ballots)


def election(projects: pd.DataFrame, ballots: pd.DataFrame) -> Election:
    """An :class:`Election` from a dataset's ``projects`` and ``ballots`` tables.

    ``projects`` needs ``project_id`` and ``cost``; ``ballots`` needs
    ``project_ids`` (ids separated by spaces) and ``voters``. The same tables give
    the same (cached) election, so results computed once are reused.
    """
    return _election(*_key(projects, ballots))


def compare(elect: Election, projects: pd.DataFrame, budget: float, rules: Sequence[str] = ("greedy", "mes")) -> pd.DataFrame:
    """``projects`` with one boolean column per rule: is the project funded?"""
    out = projects.copy()
    for rule in rules:
        chosen = set(elect.funded(budget, rule))
        out[rule] = out["project_id"].astype(str).isin(chosen)
    return out


def summary(elect: Election, budget: float, rules: Sequence[str] = ("greedy", "mes")) -> pd.DataFrame:
    """One row per rule: projects funded, money spent, voters with at least one winner."""
    rows = []
    for rule in rules:
        chosen = elect.funded(budget, rule)
        rows.append({
            "rule": RULES[rule],
            "projects": len(chosen),
            "spent": elect.spent(budget, rule),
            "voters_with_a_winner": elect.voters_with_a_winner(chosen),
            "winners_per_voter": elect.winners_per_voter(chosen),
        })
    return pd.DataFrame(rows).set_index("rule")


def money_by(compared: pd.DataFrame, by: str, rules: Sequence[str] = ("greedy", "mes")) -> pd.DataFrame:
    """Money each rule gives to each value of ``by`` (a district, a category), with zeros."""
    table = pd.DataFrame({rule: compared["cost"].where(compared[rule], 0).groupby(compared[by]).sum() for rule in rules})
    return table.astype(float)


def gains(elect: Election, before: Iterable[str], after: Iterable[str]) -> dict[str, float]:
    """Share of voters with more, the same or fewer of their projects funded after a change of rule."""
    first, second = set(before), set(after)
    out = {"better off": 0, "same": 0, "worse off": 0}
    for ballot, voters in elect.profile.items():
        change = len(ballot & second) - len(ballot & first)
        out["better off" if change > 0 else "worse off" if change < 0 else "same"] += voters
    return {k: v / elect.voters for k, v in out.items()}


def count_votes(ballots: Sequence[Sequence[str]], costs: Mapping[str, float], budget: float) -> pd.DataFrame:
    """Count a small vote typed by hand (a cohort's mini participatory budget).

    ``ballots`` is a list of ballots, each a list of project names the voter
    approves; ``costs`` gives each project's cost. Returns one row per project
    with its cost, votes and whether each rule funds it, most votes first.
    """
    if not costs:
        raise BallotError("give at least one project and its cost")
    if any(cost <= 0 for cost in costs.values()):
        raise BallotError("every project needs a cost above zero")
    counted: dict[frozenset[str], int] = {}
    for number, ballot in enumerate(ballots, 1):
        if isinstance(ballot, str):
            raise BallotError(f"ballot {number} is a single text: write it as a list, e.g. [\"{ballot}\"]")
        unknown = sorted(set(ballot) - costs.keys())
        if unknown:
            raise BallotError(f"ballot {number} names {', '.join(unknown)}, which is not in the list of costs")
        if ballot:
            counted[frozenset(ballot)] = counted.get(frozenset(ballot), 0) + 1
    if not counted:
        raise BallotError("no ballot approves any project")
    elect = Election(costs={str(k): float(v) for k, v in costs.items()}, profile=counted)
    votes = {pid: sum(n for b, n in counted.items() if pid in b) for pid in costs}
    table = pd.DataFrame({"project": list(costs), "cost": [costs[p] for p in costs], "votes": [votes[p] for p in costs]})
    for rule, label in RULES.items():
        table[label] = table["project"].isin(elect.funded(budget, rule))
    return table.sort_values(["votes", "project"], ascending=[False, True]).reset_index(drop=True)

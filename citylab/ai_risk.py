"""AI risk for city services: a teaching impact questionnaire and group error rates.

Module 3 asks two practical questions a city leader faces when a vendor offers
an AI system:

1. *How much care does this system need?* :func:`assess` scores a use case with
   a short questionnaire and returns an impact level from I to IV. It follows
   the logic of the Government of Canada's Algorithmic Impact Assessment
   (risk answers raise a score, strong safeguards lower it, the share of the
   maximum gives a level), but it is a **teaching simplification** with our
   own questions and weights, not the official tool.
2. *Is the system wrong more often for some groups?* :func:`group_error_rates`
   wraps fairlearn's ``MetricFrame`` so a notebook cell can show false positive
   and false negative rates, selection rates and accuracy by group in one
   line; :func:`threshold_tradeoff`, :func:`calibration_by_group` and
   :func:`equalise_false_positive_rates` show why "fair" has more than one
   meaning.

Everything here is deterministic, so it can be tested. The ``*_figure``
functions build the module's charts and return them with their alt text;
notebooks display them with :func:`citylab.charts.show`, so every notebook
cell stays short.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, false_negative_rate, false_positive_rate, selection_rate
from matplotlib.figure import Figure
from sklearn.metrics import accuracy_score

from citylab import charts

# --------------------------------------------------------------------------
# 1. The teaching impact questionnaire
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """One multiple-choice question; each answer carries points.

    ``kind`` is ``"risk"`` (points raise the impact score) or ``"safeguard"``
    (points count towards the mitigation score).
    """

    key: str
    text: str
    answers: Mapping[str, int]
    kind: str = "risk"

    @property
    def options(self) -> list[str]:
        """The answers in the order a menu shows them."""
        return list(self.answers)

    @property
    def max_points(self) -> int:
        return max(self.answers.values())


#: Risk questions: what the system does, to whom, and how hard it is to undo.
RISK_QUESTIONS: tuple[Question, ...] = (
    Question("role", "What does the system do with its output?", {
        "Only gives information": 0,
        "Recommends; a person decides": 2,
        "Decides on its own": 4,
    }),
    Question("area", "Which part of residents' lives does it touch?", {
        "Internal operations": 0,
        "Everyday services (transport, waste, information)": 1,
        "Benefits, housing, schools, jobs": 3,
        "Policing, surveillance or liberty": 4,
    }),
    Question("reversibility", "How easily can a wrong result be undone?", {
        "Easily, within days": 0,
        "With effort, within months": 2,
        "Hard or impossible to undo": 4,
    }),
    Question("data", "What personal data does it use?", {
        "None": 0,
        "Ordinary personal data": 1,
        "Sensitive data (health, biometrics, origin, criminal records)": 3,
    }),
    Question("explainability", "Can the city explain each result to the person affected?", {
        "Yes, the rules are public": 0,
        "Only in general terms": 2,
        "No, the vendor keeps it secret": 3,
    }),
)

#: Safeguard questions: what the city has put in place before going live.
SAFEGUARD_QUESTIONS: tuple[Question, ...] = (
    Question("tested", "Has it been tested on local data, with error rates by group?", {
        "No": 0, "Yes": 2}, kind="safeguard"),
    Question("appeal", "Can residents see the result and appeal to a person?", {
        "No": 0, "Yes": 2}, kind="safeguard"),
    Question("register", "Is it in a public algorithm register, with this assessment?", {
        "No": 0, "Yes": 1}, kind="safeguard"),
)

QUESTIONS: tuple[Question, ...] = RISK_QUESTIONS + SAFEGUARD_QUESTIONS

#: With at least this share of the safeguard points, the impact score is lowered ...
SAFEGUARD_SHARE_FOR_CREDIT = 0.8
#: ... by this fraction. (Our rule; the official tool has its own.)
SAFEGUARD_REDUCTION = 0.15

#: Upper bound (share of the maximum risk score) of levels I, II and III; above is level IV.
LEVEL_BOUNDS = (0.25, 0.50, 0.75)
LEVEL_NAMES = {1: "I", 2: "II", 3: "III", 4: "IV"}
LEVEL_LABELS = {1: "little impact", 2: "moderate impact", 3: "high impact", 4: "very high impact"}
#: What a city could require at each level (our suggestion, cumulative upwards).
LEVEL_ACTIONS = {
    1: "Record it in the algorithm register and tell people when they deal with it.",
    2: "Add: test it on local data before launch, name an owner, and review it once a year.",
    3: "Add: a person confirms every decision, residents can appeal, independent review of the test.",
    4: "Add: council approval, external audit, a public impact assessment; consider not using it.",
}


@dataclass(frozen=True)
class Assessment:
    """The result of :func:`assess`: scores, the share of the maximum and the level."""

    risk_points: int
    risk_max: int
    safeguard_points: int
    safeguard_max: int
    score: float  # risk points after any safeguard credit
    share: float  # score / risk_max, 0..1
    level: int  # 1..4

    @property
    def level_name(self) -> str:
        """'Level III (high impact)'."""
        return f"Level {LEVEL_NAMES[self.level]} ({LEVEL_LABELS[self.level]})"

    @property
    def safeguard_credit(self) -> bool:
        """True when enough safeguards were in place to lower the score."""
        return self.safeguard_points >= SAFEGUARD_SHARE_FOR_CREDIT * self.safeguard_max

    def summary(self) -> str:
        """Two lines of plain text for a notebook to print."""
        credit = (f", lowered by {SAFEGUARD_REDUCTION:.0%} for safeguards" if self.safeguard_credit else "")
        return (
            f"Impact score {self.score:.1f} of {self.risk_max} ({self.share:.0%}{credit}): {self.level_name}.\n"
            f"Suggested minimum: {LEVEL_ACTIONS[self.level]}"
        )


def level_for_share(share: float) -> int:
    """The impact level (1..4) of a score given as a share of the maximum (0..1)."""
    if not 0 <= share <= 1:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    return next((i + 1 for i, bound in enumerate(LEVEL_BOUNDS) if share <= bound), 4)


def assess(answers: Mapping[str, str]) -> Assessment:
    """Score one use case; ``answers`` maps every question key to one of its options.

    The impact score is the sum of the risk points. If the safeguards reach
    :data:`SAFEGUARD_SHARE_FOR_CREDIT` of their maximum, the score is lowered
    by :data:`SAFEGUARD_REDUCTION`. The score's share of the maximum risk score
    gives the level (:func:`level_for_share`). Raises ``ValueError`` naming the
    question when an answer is missing or not one of the options.
    """
    points: dict[str, int] = {}
    for question in QUESTIONS:
        if question.key not in answers:
            raise ValueError(f"no answer to “{question.text}” ({question.key})")
        answer = answers[question.key]
        if answer not in question.answers:
            raise ValueError(f"“{answer}” is not an answer to “{question.text}”; choose one of {question.options}")
        points[question.key] = question.answers[answer]
    unknown = set(answers) - {q.key for q in QUESTIONS}
    if unknown:
        raise ValueError(f"unknown question keys {sorted(unknown)}")
    risk = sum(points[q.key] for q in RISK_QUESTIONS)
    risk_max = sum(q.max_points for q in RISK_QUESTIONS)
    safeguards = sum(points[q.key] for q in SAFEGUARD_QUESTIONS)
    safeguard_max = sum(q.max_points for q in SAFEGUARD_QUESTIONS)
    score = float(risk)
    if safeguards >= SAFEGUARD_SHARE_FOR_CREDIT * safeguard_max:
        score *= 1 - SAFEGUARD_REDUCTION
    share = score / risk_max
    return Assessment(risk, risk_max, safeguards, safeguard_max, round(score, 2), share, level_for_share(share))


#: Realistic city use cases, answered as a city might answer them before any safeguard work.
EXAMPLE_USE_CASES: dict[str, dict[str, str]] = {
    "Parking information chatbot": {
        "role": "Only gives information", "area": "Everyday services (transport, waste, information)", "reversibility": "Easily, within days",
        "data": "None", "explainability": "Only in general terms",
        "tested": "No", "appeal": "Yes", "register": "Yes",
    },
    "Adaptive traffic-signal timing": {
        "role": "Decides on its own", "area": "Everyday services (transport, waste, information)", "reversibility": "Easily, within days",
        "data": "None", "explainability": "Only in general terms",
        "tested": "Yes", "appeal": "No", "register": "Yes",
    },
    "Benefit-fraud risk scoring": {
        "role": "Recommends; a person decides", "area": "Benefits, housing, schools, jobs",
        "reversibility": "With effort, within months", "data": "Sensitive data (health, biometrics, origin, criminal records)",
        "explainability": "Only in general terms", "tested": "No", "appeal": "Yes", "register": "No",
    },
    "Face recognition on street cameras": {
        "role": "Recommends; a person decides", "area": "Policing, surveillance or liberty",
        "reversibility": "Hard or impossible to undo", "data": "Sensitive data (health, biometrics, origin, criminal records)",
        "explainability": "No, the vendor keeps it secret", "tested": "No", "appeal": "No", "register": "No",
    },
}


# --------------------------------------------------------------------------
# 1b. Where city systems sit in the EU AI Act's risk tiers
# --------------------------------------------------------------------------

#: The tiers of Regulation (EU) 2024/1689, from most to least regulated.
#: "Four tiers" is a common shorthand, not a term of the Act.
TIERS = ("Prohibited", "High-risk", "Transparency", "Minimal")


@dataclass(frozen=True)
class CityAiUse:
    """One way a city might use AI, its likely tier under the EU AI Act and its main risk."""

    system: str
    tier: str
    basis: str
    main_risk: str


#: Examples for discussion. The tier is the likely reading of the Act for a
#: typical design; a real system needs a legal assessment of its own.
CITY_AI_USES: tuple[CityAiUse, ...] = (
    CityAiUse("Live face recognition on streets for policing", "Prohibited", "Art. 5 (narrow exceptions)", "surveillance"),
    CityAiUse("Scoring residents' trustworthiness (social scoring)", "Prohibited", "Art. 5", "surveillance"),
    CityAiUse("Predicting who will offend from a profile alone", "Prohibited", "Art. 5", "bias"),
    CityAiUse("Scoring applicants for benefits or housing", "High-risk", "Annex III, point 5", "bias"),
    CityAiUse("Triage of emergency calls", "High-risk", "Annex III, point 5", "errors"),
    CityAiUse("Adaptive traffic-signal control", "High-risk", "Annex III, point 2", "errors, lock-in"),
    CityAiUse("Chatbot answering questions on bins and parking", "Transparency", "Art. 50", "errors, opacity"),
    CityAiUse("Machine translation of council web pages", "Minimal", "voluntary codes (Art. 95)", "errors"),
    CityAiUse("Predicting water-pipe failures to plan repairs", "Minimal", "voluntary codes (Art. 95)", "lock-in"),
)


def uses_by_tier(uses: Iterable[CityAiUse] = CITY_AI_USES) -> dict[str, int]:
    """How many of ``uses`` fall in each tier, in the order of :data:`TIERS`."""
    uses = list(uses)
    unknown = {u.tier for u in uses} - set(TIERS)
    if unknown:
        raise ValueError(f"unknown tiers {sorted(unknown)}; use one of {TIERS}")
    return {tier: sum(u.tier == tier for u in uses) for tier in TIERS}


# --------------------------------------------------------------------------
# 2. Group error rates of a risk score (COMPAS in the notebooks)
# --------------------------------------------------------------------------

#: Column names of :func:`group_error_rates`, in order.
METRICS = ("false_positive_rate", "false_negative_rate", "selection_rate", "accuracy", "count")


def flag_high_risk(scores: pd.Series, threshold: int) -> np.ndarray:
    """1 where the score is at or above ``threshold`` ("high risk"), else 0."""
    return (np.asarray(scores, dtype=float) >= threshold).astype(int)


def _outcome(data: pd.DataFrame, outcome: str) -> np.ndarray:
    values = np.asarray(data[outcome], dtype=float)
    if not np.isin(values, (0, 1)).all():
        raise ValueError(f"column {outcome!r} must hold only 0 and 1")
    return values.astype(int)


def _predictions(data: pd.DataFrame, threshold: int | Mapping[str, int], by: str, score: str) -> np.ndarray:
    """Flags for one threshold, or per-group thresholds given as {group: threshold}."""
    if isinstance(threshold, Mapping):
        groups = data[by].astype(str)
        missing = set(groups.unique()) - set(threshold)
        if missing:
            raise ValueError(f"no threshold for groups {sorted(missing)}")
        cut = groups.map(threshold).to_numpy(dtype=float)
        return (np.asarray(data[score], dtype=float) >= cut).astype(int)
    return flag_high_risk(data[score], threshold)


def group_error_rates(
    data: pd.DataFrame,
    threshold: int | Mapping[str, int],
    by: str,
    groups: Sequence[str] | None = None,
    *,
    score: str = "decile_score",
    outcome: str = "two_year_recid",
) -> pd.DataFrame:
    """Error rates of "high risk = score >= threshold", one row per group of ``by``.

    Columns (see :data:`METRICS`): ``false_positive_rate`` (share flagged among
    people who did *not* reoffend), ``false_negative_rate`` (share not flagged
    among people who did), ``selection_rate`` (share flagged), ``accuracy``
    and ``count``. Computed with fairlearn's ``MetricFrame``. ``threshold`` may
    be one number or a ``{group: threshold}`` mapping. ``groups`` keeps and
    orders a subset of rows; the rates are computed on everyone either way.
    """
    frame = MetricFrame(
        metrics={
            "false_positive_rate": false_positive_rate,
            "false_negative_rate": false_negative_rate,
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "count": count,
        },
        y_true=_outcome(data, outcome),
        y_pred=_predictions(data, threshold, by, score),
        sensitive_features=data[by].astype(str).to_numpy(),
    )
    table = frame.by_group.astype(float)
    table["count"] = table["count"].astype(int)
    table.index.name = by
    if groups is not None:
        unknown = [g for g in groups if g not in table.index]
        if unknown:
            raise ValueError(f"no group {unknown} in column {by!r}; groups are {list(table.index)}")
        table = table.loc[list(groups)]
    return table[list(METRICS)]


def overall_accuracy(
    data: pd.DataFrame,
    threshold: int | Mapping[str, int],
    by: str = "race",
    *,
    score: str = "decile_score",
    outcome: str = "two_year_recid",
) -> float:
    """Share of everyone whose flag matches what happened (``by`` only matters for per-group thresholds)."""
    return float(accuracy_score(_outcome(data, outcome), _predictions(data, threshold, by, score)))


def threshold_tradeoff(
    data: pd.DataFrame,
    by: str,
    group_a: str,
    group_b: str,
    thresholds: Iterable[int] = range(1, 11),
    *,
    score: str = "decile_score",
    outcome: str = "two_year_recid",
) -> pd.DataFrame:
    """For each threshold: overall accuracy, each group's false positive rate and the gap.

    ``fpr_gap_points`` is group A's false positive rate minus group B's, in
    percentage points. One row per threshold, indexed by threshold.
    """
    rows = []
    for t in thresholds:
        rates = group_error_rates(data, t, by, [group_a, group_b], score=score, outcome=outcome)
        fpr_a, fpr_b = rates["false_positive_rate"]
        rows.append({
            "threshold": t,
            "accuracy": overall_accuracy(data, t, score=score, outcome=outcome),
            "fpr_a": fpr_a,
            "fpr_b": fpr_b,
            "fpr_gap_points": 100 * (fpr_a - fpr_b),
        })
    return pd.DataFrame(rows).set_index("threshold")


def calibration_by_group(
    data: pd.DataFrame,
    by: str,
    groups: Sequence[str],
    *,
    score: str = "decile_score",
    outcome: str = "two_year_recid",
) -> pd.DataFrame:
    """Share who reoffended at each score, one column per group (a calibration table).

    If a score means the same risk for everyone, the columns are close to each
    other row by row. Rows are scores; cells are shares (0..1).
    """
    subset = data[data[by].astype(str).isin(groups)]
    table = subset.assign(_y=_outcome(subset, outcome)).pivot_table(
        index=score, columns=by, values="_y", aggfunc="mean", observed=True
    )
    table.index = table.index.astype(int)
    table.columns = table.columns.astype(str)
    return table[list(groups)].astype(float)


def base_rates(data: pd.DataFrame, by: str, groups: Sequence[str], *, outcome: str = "two_year_recid") -> pd.Series:
    """Share of each group who reoffended within two years (the "base rate")."""
    subset = data[data[by].astype(str).isin(groups)]
    rates = pd.Series(_outcome(subset, outcome), index=subset[by].astype(str).to_numpy()).groupby(level=0).mean()
    return rates.loc[list(groups)].astype(float)


def equalise_false_positive_rates(
    data: pd.DataFrame,
    by: str,
    groups: Sequence[str],
    target: float,
    *,
    score: str = "decile_score",
    outcome: str = "two_year_recid",
) -> dict[str, int]:
    """Per group, the whole-number threshold whose false positive rate is closest to ``target``.

    A simple mitigation to compare with one shared threshold: it narrows the
    gap in false positive rates but treats people with the same score
    differently depending on their group, which the law may not allow.
    Ties go to the higher (stricter) threshold.
    """
    if not 0 <= target <= 1:
        raise ValueError(f"target must be a share between 0 and 1, got {target}")
    chosen: dict[str, int] = {}
    low, high = int(data[score].min()), int(data[score].max()) + 1
    for group in groups:
        members = data[data[by].astype(str) == group]
        if members.empty:
            raise ValueError(f"no group {group!r} in column {by!r}")
        negatives = members[_outcome(members, outcome) == 0]
        fprs = {t: float((np.asarray(negatives[score], dtype=float) >= t).mean()) for t in range(low, high + 1)}
        chosen[group] = min(fprs, key=lambda t: (abs(fprs[t] - target), -t))
    return chosen


def rates_text(table: pd.DataFrame) -> str:
    """A rates table from :func:`group_error_rates` as plain text, rates in per cent.

    Notebooks print this so the numbers read the same in JupyterLab, in the
    book and in the output tests.
    """
    header = f"{'':<18}{'false pos.':>11}{'false neg.':>11}{'flagged':>9}{'accuracy':>10}{'people':>8}"
    lines = [header]
    for group, row in table.iterrows():
        lines.append(
            f"{str(group):<18}{row['false_positive_rate']:>10.1%} {row['false_negative_rate']:>10.1%} "
            f"{row['selection_rate']:>8.1%} {row['accuracy']:>9.1%} {int(row['count']):>7,}"
        )
    return "\n".join(lines)



# --------------------------------------------------------------------------
# 3. Charts (figure + alt text; the notebook shows them with charts.show)
# --------------------------------------------------------------------------


def impact_level_figure(result: Assessment) -> tuple[Figure, str]:
    """A bar of the four impact levels with a marker at the assessed score."""
    fig, ax = charts.new_figure(width=8, height=1.9)
    bounds = [0.0, *LEVEL_BOUNDS, 1.0]
    for level in range(1, 5):
        low, high = 100 * bounds[level - 1], 100 * bounds[level]
        ax.barh([0], [high - low], left=[low], color=charts.SEQUENTIAL[level], edgecolor="white")
        ax.text((low + high) / 2, 0, f"Level {LEVEL_NAMES[level]}", ha="center", va="center",
                color="white" if level > 2 else "black", weight="bold")
    ax.plot([100 * result.share] * 2, [-0.45, 0.45], color="black", lw=4)
    ax.set(xlim=(0, 100), ylim=(-0.5, 0.5), yticks=[], xlabel="Impact score, % of the maximum",
           title=f"{result.level_name}: {result.share:.0%} of the maximum score")
    ax.grid(visible=False)
    alt = (f"Bar divided into the four impact levels (I up to 25%, II up to 50%, III up to 75%, IV above), "
           f"with a marker at {result.share:.0%}: {result.level_name}.")
    return fig, alt


def group_errors_figure(rates: pd.DataFrame, threshold: int, attribute: str = "race") -> tuple[Figure, str]:
    """Grouped bars: false positive and false negative rate of each group in ``rates``."""
    kinds = {"false_positive_rate": "Wrongly labelled high risk", "false_negative_rate": "Wrongly labelled low risk"}
    fig, ax = charts.new_figure(height=3.6)
    width = 0.8 / len(rates)
    for i, (group, row) in enumerate(rates.iterrows()):
        bars = ax.bar([x + width * i for x in range(2)], [100 * row[k] for k in kinds], width=width * 0.95,
                      label=str(group), color=charts.PALETTE[i % len(charts.PALETTE)])
        ax.bar_label(bars, fmt="%.0f%%")
    ax.set(xticks=[x + width * (len(rates) - 1) / 2 for x in range(2)], xticklabels=list(kinds.values()),
           ylabel="% of the group", ylim=(0, 100 * float(rates[list(kinds)].max().max()) + 15),
           title=f"Errors of the score at threshold {threshold}, by {attribute}")
    ax.legend()
    fpr = " and ".join(f"{100 * r.false_positive_rate:.0f}% of the {g} group" for g, r in rates.iterrows())
    fnr = " and ".join(f"{100 * r.false_negative_rate:.0f}% of the {g} group" for g, r in rates.iterrows())
    alt = (f"Bar chart at threshold {threshold}. Among people not charged again, {fpr} were labelled high risk. "
           f"Among people charged again, {fnr} were labelled low risk.")
    return fig, alt


def calibration_figure(calibration: pd.DataFrame) -> tuple[Figure, str]:
    """One line per group: share charged again at each score (from :func:`calibration_by_group`)."""
    fig, ax = charts.new_figure(height=4)
    for i, group in enumerate(calibration.columns):
        ax.plot(calibration.index, 100 * calibration[group], marker="o", color=charts.PALETTE[i], label=group)
    ax.set(xlabel="Risk score", ylabel="% charged again within two years", xticks=list(calibration.index),
           ylim=(0, 100), title="Share charged again at each score, by group")
    ax.legend()
    low, high = calibration.index.min(), calibration.index.max()
    spread = (calibration.max(axis=1) - calibration.min(axis=1)) * 100
    alt = (f"Line chart of the share charged again at each score from {low} to {high}, for "
           f"{' and '.join(calibration.columns)}. The lines rise together, from about "
           f"{100 * calibration.loc[low].mean():.0f}% at score {low} to about {100 * calibration.loc[high].mean():.0f}% "
           f"at score {high}; at scores {low} to {high - 1} they are at most {spread.loc[low:high - 1].max():.0f} "
           f"points apart, and {spread.loc[high]:.0f} points at score {high}.")
    return fig, alt


def tradeoff_figure(table: pd.DataFrame, threshold: int, group_a: str, group_b: str) -> tuple[Figure, str]:
    """Accuracy and false positive gap over thresholds (from :func:`threshold_tradeoff`), marking ``threshold``."""
    row = table.loc[threshold]
    fig, ax = charts.new_figure(height=4)
    ax.plot(table.index, 100 * table["accuracy"], marker="o", color=charts.PALETTE[0], label="Accuracy, everyone (%)")
    ax.plot(table.index, table["fpr_gap_points"], marker="s", color=charts.PALETTE[5],
            label=f"False positive gap, {group_a} minus {group_b} (points)")
    ax.axvline(threshold, color="black", linestyle="--")
    ax.set(xlabel="Threshold: high risk = score at or above", xticks=list(table.index), ylim=(-5, 85),
           title=f"Threshold {threshold}: accuracy {row['accuracy']:.1%}, gap {row['fpr_gap_points']:.1f} points")
    ax.legend(loc="upper left")
    best, widest = table["accuracy"].idxmax(), table["fpr_gap_points"].idxmax()
    alt = (f"Line chart over thresholds {table.index.min()} to {table.index.max()} comparing {group_a} and {group_b}. "
           f"Accuracy for everyone is {table['accuracy'].iloc[0]:.1%} at threshold {table.index.min()} and highest "
           f"at threshold {best} ({table.loc[best, 'accuracy']:.1%}). The gap in false positive rates is largest at "
           f"threshold {widest} ({table.loc[widest, 'fpr_gap_points']:.1f} points). At the chosen threshold "
           f"{threshold}: accuracy {row['accuracy']:.1%}, gap {row['fpr_gap_points']:.1f} points.")
    return fig, alt

"""citylab.ai_risk: the teaching impact questionnaire and the group error rates.

Small hand-made tables check each rate against a count done by hand; the real
COMPAS extract checks the figures module 3 prints (ProPublica's published
pattern: about 42% against 22% false positives at "medium or high").
"""

from __future__ import annotations

import pandas as pd
import pytest

from citylab import ai_risk, data


# ------------------------------------------------------------- questionnaire --


def answers(**changes: str) -> dict[str, str]:
    """The benefit-fraud example with some answers changed."""
    base = dict(ai_risk.EXAMPLE_USE_CASES["Benefit-fraud risk scoring"])
    base.update(changes)
    return base


def test_questions_have_unique_keys_and_options_fit_a_menu() -> None:
    keys = [q.key for q in ai_risk.QUESTIONS]
    assert len(keys) == len(set(keys))
    for q in ai_risk.QUESTIONS:
        assert q.kind in ("risk", "safeguard")
        assert len(q.options) >= 2 and min(q.answers.values()) == 0
        assert all(isinstance(o, str) and o for o in q.options)


@pytest.mark.parametrize(
    ("share", "level"),
    [(0.0, 1), (0.25, 1), (0.2501, 2), (0.5, 2), (0.51, 3), (0.75, 3), (0.76, 4), (1.0, 4)],
)
def test_level_bounds(share: float, level: int) -> None:
    assert ai_risk.level_for_share(share) == level


def test_level_rejects_a_share_outside_0_1() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        ai_risk.level_for_share(1.2)


def test_examples_span_the_four_levels() -> None:
    levels = {name: ai_risk.assess(a).level for name, a in ai_risk.EXAMPLE_USE_CASES.items()}
    assert levels == {
        "Parking information chatbot": 1,
        "Adaptive traffic-signal timing": 2,
        "Benefit-fraud risk scoring": 3,
        "Face recognition on street cameras": 4,
    }


def test_score_is_the_sum_of_risk_points() -> None:
    result = ai_risk.assess(answers())
    assert result.risk_max == 4 + 4 + 4 + 3 + 3 == 18
    assert result.risk_points == 2 + 3 + 2 + 3 + 2 == 12
    assert result.safeguard_points == 2 and result.safeguard_max == 5
    assert result.score == 12 and result.share == pytest.approx(12 / 18)
    assert result.level_name == "Level III (high impact)"
    assert "12.0 of 18 (67%)" in result.summary()


def test_strong_safeguards_lower_the_score_by_15_percent() -> None:
    weak = ai_risk.assess(answers(tested="Yes", appeal="Yes", register="No"))  # 4 of 5 = 80%
    assert weak.safeguard_credit and weak.score == pytest.approx(12 * 0.85)
    assert weak.level == 3  # 10.2 / 18 = 57%
    none = ai_risk.assess(answers(tested="No", appeal="No"))
    assert not none.safeguard_credit and none.score == 12
    assert "lowered by 15%" in weak.summary() and "lowered" not in none.summary()


def test_safeguards_can_move_a_case_down_a_level() -> None:
    # 14 points = 78% (level IV); with full safeguards 11.9 points = 66% (level III).
    case = answers(role="Decides on its own", tested="No", appeal="No", register="No")
    assert ai_risk.assess(case).level == 4
    assert ai_risk.assess({**case, "tested": "Yes", "appeal": "Yes", "register": "Yes"}).level == 3


def test_missing_or_unknown_answers_are_named() -> None:
    case = answers()
    del case["area"]
    with pytest.raises(ValueError, match="Which part of residents' lives"):
        ai_risk.assess(case)
    with pytest.raises(ValueError, match="is not an answer"):
        ai_risk.assess(answers(role="Sometimes"))
    with pytest.raises(ValueError, match="unknown question keys"):
        ai_risk.assess({**answers(), "colour": "blue"})


# ------------------------------------------------------ group error rates --

#: Eight people, two groups. Scores 1-10; outcome 1 = reoffended.
TOY = pd.DataFrame({
    "group": ["A", "A", "A", "A", "B", "B", "B", "B"],
    "decile_score": [9, 6, 3, 2, 8, 4, 2, 1],
    "two_year_recid": [1, 0, 0, 1, 1, 1, 0, 0],
})


def test_rates_match_a_hand_count() -> None:
    rates = ai_risk.group_error_rates(TOY, 5, "group")
    assert list(rates.columns) == list(ai_risk.METRICS)
    # Group A: flagged are scores 9 and 6. Non-reoffenders: 6 (flagged), 3 -> FPR 1/2.
    # Reoffenders: 9 (flagged), 2 (missed) -> FNR 1/2. Correct: 9 and 3 -> accuracy 2/4.
    a = rates.loc["A"]
    assert (a.false_positive_rate, a.false_negative_rate, a.selection_rate, a.accuracy, a["count"]) == (
        0.5, 0.5, 0.5, 0.5, 4)
    # Group B: flagged is 8 only. Non-reoffenders 2, 1: none flagged -> FPR 0.
    # Reoffenders 8, 4: 4 missed -> FNR 1/2. Correct: 8, 2, 1 -> accuracy 3/4.
    b = rates.loc["B"]
    assert (b.false_positive_rate, b.false_negative_rate, b.selection_rate, b.accuracy) == (0.0, 0.5, 0.25, 0.75)


def test_groups_are_kept_in_the_order_asked() -> None:
    assert list(ai_risk.group_error_rates(TOY, 5, "group", ["B", "A"]).index) == ["B", "A"]
    with pytest.raises(ValueError, match="no group"):
        ai_risk.group_error_rates(TOY, 5, "group", ["C"])


def test_per_group_thresholds() -> None:
    rates = ai_risk.group_error_rates(TOY, {"A": 7, "B": 2}, "group")
    assert rates.loc["A", "false_positive_rate"] == 0.0  # only the 9 is flagged
    assert rates.loc["B", "false_positive_rate"] == 0.5  # 8, 4 and 2 flagged; 2 did not reoffend
    with pytest.raises(ValueError, match="no threshold"):
        ai_risk.group_error_rates(TOY, {"A": 7}, "group")
    # A: 3 of 4 right (only the 2 is missed); B: 3 of 4 right (the 2 is a false alarm).
    assert ai_risk.overall_accuracy(TOY, {"A": 7, "B": 2}, "group") == pytest.approx(6 / 8)


def test_outcome_must_be_binary() -> None:
    with pytest.raises(ValueError, match="only 0 and 1"):
        ai_risk.group_error_rates(TOY.assign(two_year_recid=[2] * 8), 5, "group")


def test_tradeoff_calibration_base_rates_and_equalising_on_the_toy() -> None:
    table = ai_risk.threshold_tradeoff(TOY, "group", "A", "B", thresholds=[5])
    assert table.loc[5, "fpr_gap_points"] == pytest.approx(50.0)
    assert table.loc[5, "accuracy"] == pytest.approx(5 / 8)
    calibration = ai_risk.calibration_by_group(TOY, "group", ["A", "B"])
    assert calibration.loc[2, "A"] == 1.0 and calibration.loc[2, "B"] == 0.0
    assert list(ai_risk.base_rates(TOY, "group", ["B", "A"])) == [0.5, 0.5]
    # Target FPR 0: A needs a threshold above 6, B anything above 2; ties go to the stricter one.
    assert ai_risk.equalise_false_positive_rates(TOY, "group", ["A", "B"], 0.0) == {"A": 10, "B": 10}
    assert ai_risk.equalise_false_positive_rates(TOY, "group", ["A"], 0.5)["A"] == 6


# ------------------------------------------------------ the real extract --


@pytest.fixture(scope="module")
def compas() -> pd.DataFrame:
    return data.load("compas-recidivism")


def test_propublica_pattern_at_medium_or_high(compas: pd.DataFrame) -> None:
    rates = ai_risk.group_error_rates(compas, 5, "race", ["African-American", "Caucasian"])
    assert rates["false_positive_rate"].round(3).tolist() == [0.423, 0.220]
    assert rates["false_negative_rate"].round(3).tolist() == [0.285, 0.496]
    assert rates["count"].tolist() == [3175, 2103]
    assert ai_risk.overall_accuracy(compas, 5) == pytest.approx(0.6607, abs=5e-5)


def test_scores_are_roughly_calibrated_while_base_rates_differ(compas: pd.DataFrame) -> None:
    groups = ["African-American", "Caucasian"]
    assert ai_risk.base_rates(compas, "race", groups).round(3).tolist() == [0.523, 0.391]
    calibration = ai_risk.calibration_by_group(compas, "race", groups)
    assert (calibration[groups[0]] - calibration[groups[1]]).abs().max() < 0.15


def test_tradeoff_on_the_real_data(compas: pd.DataFrame) -> None:
    table = ai_risk.threshold_tradeoff(compas, "race", "African-American", "Caucasian")
    assert list(table.index) == list(range(1, 11))
    assert table["accuracy"].idxmax() == 6 and table["fpr_gap_points"].idxmax() == 4
    assert table.loc[1, "fpr_gap_points"] == 0  # everyone flagged: no gap, little use
    chosen = ai_risk.equalise_false_positive_rates(compas, "race", ["African-American", "Caucasian"], 0.22)
    assert chosen == {"African-American": 7, "Caucasian": 5}


# ------------------------------------------------------ tiers and printing --


def test_every_example_use_has_a_known_tier_and_a_legal_basis() -> None:
    counts = ai_risk.uses_by_tier()
    assert list(counts) == list(ai_risk.TIERS)
    assert counts == {"Prohibited": 3, "High-risk": 3, "Transparency": 1, "Minimal": 2}
    assert all(use.basis and use.main_risk for use in ai_risk.CITY_AI_USES)
    with pytest.raises(ValueError, match="unknown tiers"):
        ai_risk.uses_by_tier([ai_risk.CityAiUse("x", "Low", "none", "none")])


def test_rates_text_prints_percentages_one_line_per_group() -> None:
    text = ai_risk.rates_text(ai_risk.group_error_rates(TOY, 5, "group"))
    lines = text.splitlines()
    assert len(lines) == 3 and "false pos." in lines[0]
    assert lines[1].split() == ["A", "50.0%", "50.0%", "50.0%", "50.0%", "4"]
    assert lines[2].split() == ["B", "0.0%", "50.0%", "25.0%", "75.0%", "4"]


# ------------------------------------------------------------------ charts --


def test_figures_come_with_alt_text_that_states_the_numbers() -> None:
    import matplotlib.pyplot as plt

    fig, alt = ai_risk.impact_level_figure(ai_risk.assess(answers()))
    assert "67%" in alt and "Level III (high impact)" in alt and fig.axes[0].get_title().startswith("Level III")
    fig, alt = ai_risk.group_errors_figure(ai_risk.group_error_rates(TOY, 5, "group"), 5, "group")
    assert "50% of the A group and 0% of the B group were labelled high risk" in alt
    assert len(fig.axes[0].patches) == 4
    fig, alt = ai_risk.calibration_figure(ai_risk.calibration_by_group(TOY, "group", ["A", "B"]))
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["A", "B"]
    table = ai_risk.threshold_tradeoff(TOY, "group", "A", "B", thresholds=range(1, 11))
    fig, alt = ai_risk.tradeoff_figure(table, 5, "A", "B")
    assert "At the chosen threshold 5: accuracy 62.5%, gap 50.0 points." in alt
    assert fig.axes[0].get_title() == "Threshold 5: accuracy 62.5%, gap 50.0 points"
    plt.close("all")

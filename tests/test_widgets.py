"""explore(): live controls in a notebook, a static view in the built book."""

from __future__ import annotations

import ipywidgets as w
import pytest

from citylab import widgets


def test_static_view_draws_defaults_and_describes_controls(monkeypatch, capsys) -> None:
    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    shown = []
    controls = {
        "population": widgets.Slider("City population", 100_000, 5_000_000, 100_000, 1_000_000),
        "group": widgets.Choice("Share online of", ["World", "Rural"], "World"),
    }
    assert widgets.explore(lambda **kw: shown.append(kw), controls) is None
    assert shown == [{"population": 1_000_000, "group": "World"}]


def test_live_view_redraws_on_change(monkeypatch) -> None:
    monkeypatch.delenv(widgets.STATIC_ENV, raising=False)
    shown = []
    box = widgets.explore(
        lambda **kw: shown.append(kw),
        {"rate": widgets.Slider("Rate", 0.0, 10.0, 0.5, 4.0, unit="%")},
    )
    assert isinstance(box, w.VBox)
    slider = box.children[0].children[0]
    assert isinstance(slider, w.FloatSlider) and slider.description == "Rate"
    slider.value = 6.5
    assert shown[-1] == {"rate": 6.5}


def test_integer_slider_for_whole_numbers() -> None:
    assert isinstance(widgets.Slider("Year", 1950, 2100, 5, 2025).widget(), w.IntSlider)


def test_choice_default_must_be_an_option() -> None:
    with pytest.raises(ValueError, match="not one of the options"):
        widgets.Choice("Country", ["Kenya"], "Peru")


def test_description_names_range_and_default() -> None:
    text = widgets.Slider("City population", 100_000, 5_000_000, 100_000, 1_000_000).describe()
    assert "100,000" in text and "5e+06" not in text and "1,000,000" in text

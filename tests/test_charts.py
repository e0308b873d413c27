"""Charts carry alt text and their source, in a colour-blind-safe style."""

from __future__ import annotations

import base64
import re

import pytest

from citylab import charts


def test_figure_html_has_alt_text_source_and_png() -> None:
    fig, ax = charts.new_figure()
    ax.bar(["Urban", "Rural"], [85, 58])
    out = charts.figure_html(fig, 'Bars: urban 85%, rural 58% "online"', "Source: ITU (2025).")
    assert 'alt="Bars: urban 85%, rural 58% &quot;online&quot;"' in out
    assert "<figcaption" in out and "Source: ITU (2025)." in out
    png = re.search(r"base64,([A-Za-z0-9+/=]+)", out).group(1)
    assert base64.b64decode(png).startswith(b"\x89PNG")


def test_alt_text_is_required() -> None:
    fig, _ax = charts.new_figure()
    with pytest.raises(ValueError, match="alt text"):
        charts.figure_html(fig, "  ", "Source")


def test_style_uses_the_colour_blind_safe_palette() -> None:
    import matplotlib.pyplot as plt

    charts.apply_style()
    cycle = [c["color"] for c in plt.rcParams["axes.prop_cycle"]]
    assert cycle[:3] == ["#0072B2", "#E69F00", "#009E73"]
    assert plt.rcParams["font.size"] >= 12

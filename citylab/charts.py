"""Chart defaults: readable, colour-blind-safe, always with alt text and a source.

Charts are shown as an HTML ``<figure>`` holding a PNG with its ``alt`` text
and a caption with the data's citation. The same output works in JupyterLab,
in the built book and offline, and a screen reader reads the alt text.
"""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")  # figures are rendered to PNG by show(), never to a window

import matplotlib.pyplot as plt  # noqa: E402
from IPython.display import HTML, display  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import StrMethodFormatter  # noqa: E402

#: Okabe & Ito (2008) palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: Sequential light-to-dark blues for maps and ordered classes (ColorBrewer "Blues").
SEQUENTIAL = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")

#: Captions (sources, map descriptions) read as body text: left-aligned, dark enough to read.
CAPTION_STYLE = "font-size:0.85em;color:#333;text-align:left;"
#: Axis labels like 1,000,000 rather than 1e6 (use with ``ax.xaxis.set_major_formatter``).
THOUSANDS = StrMethodFormatter("{x:,.0f}")

_STYLE = {
    "figure.figsize": (8, 4.5),
    "figure.dpi": 100,
    "font.size": 12,
    "axes.titlesize": 14,
    "axes.titleweight": "bold",
    "axes.labelsize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
}


def apply_style() -> None:
    """Set the course's chart defaults for every later matplotlib figure."""
    plt.rcParams.update(_STYLE)


def new_figure(width: float = 8, height: float = 4.5) -> tuple[Figure, plt.Axes]:
    """A figure and axes in the course style (call :func:`show` to display it)."""
    apply_style()
    fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax


def figure_html(fig: Figure, alt_text: str, source: str) -> str:
    """HTML for a figure: the PNG with alt text, then the source line as caption."""
    if not alt_text.strip():
        raise ValueError("every chart needs alt text that says what it shows")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        '<figure class="citylab-chart" style="margin:0 0 1em 0;">'
        f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt_text)}" '
        'style="max-width:100%;height:auto;">'
        f'<figcaption style="{CAPTION_STYLE}">{html.escape(source)}</figcaption>'
        "</figure>"
    )


def show(fig: Figure, alt_text: str, source: str) -> None:
    """Display a chart with its alt text and source caption, then free it."""
    display(HTML(figure_html(fig, alt_text, source)))

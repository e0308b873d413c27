"""One way to put a slider or a dropdown on a chart, a map or a number.

City officials learn here by moving a control and reading what changes, so
every notebook uses :func:`explore`: it shows the controls above the output
and redraws on every change. The published book cannot run Python, so when
``CITYLAB_STATIC`` is set (the book build sets it) :func:`explore` draws the
output once at the default values and says in words which controls the live
notebook offers. Nothing the reader needs is lost in the static view.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
from IPython.display import HTML, display

#: Environment variable that switches :func:`explore` to its static fallback.
STATIC_ENV = "CITYLAB_STATIC"


def _number(x: float) -> str:
    """1000000 -> '1,000,000'; 2.5 -> '2.5' (never scientific notation)."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,}"


@dataclass(frozen=True)
class Slider:
    """A number the reader can move between ``low`` and ``high``."""

    label: str
    low: float
    high: float
    step: float
    value: float
    unit: str = ""

    def widget(self) -> w.Widget:
        integral = all(float(x).is_integer() for x in (self.low, self.high, self.step, self.value))
        cls = w.IntSlider if integral else w.FloatSlider
        return cls(
            value=self.value,
            min=self.low,
            max=self.high,
            step=self.step,
            description=self.label,
            continuous_update=False,
            style={"description_width": "initial"},
            layout=w.Layout(width="480px"),
        )

    def describe(self) -> str:
        low, high, value = (_number(x) + self.unit for x in (self.low, self.high, self.value))
        return f"slider “{self.label}” from {low} to {high} (shown at {value})"


@dataclass(frozen=True)
class Choice:
    """One option the reader picks from a list."""

    label: str
    options: Sequence[Any]
    value: Any

    def __post_init__(self) -> None:
        if self.value not in self.options:
            raise ValueError(f"default {self.value!r} is not one of the options of “{self.label}”")

    def widget(self) -> w.Widget:
        return w.Dropdown(
            options=list(self.options),
            value=self.value,
            description=self.label,
            style={"description_width": "initial"},
        )

    def describe(self) -> str:
        return f"menu “{self.label}” with {len(self.options)} options (shown: {self.value})"


Control = Slider | Choice


def is_static() -> bool:
    """True when outputs must not depend on a live kernel (the book build)."""
    return os.environ.get(STATIC_ENV, "") not in ("", "0")


def explore(draw: Callable[..., None], controls: Mapping[str, Control]) -> w.Widget | None:
    """Show ``controls`` and call ``draw(**values)`` now and after every change.

    ``draw`` displays its own output (a chart via :func:`citylab.charts.show`,
    a map, or printed numbers). Returns the widget box in a live notebook, or
    ``None`` in the static fallback.
    """
    defaults = {name: control.value for name, control in controls.items()}
    if is_static():
        described = "; ".join(c.describe() for c in controls.values())
        display(
            HTML(
                '<p class="citylab-static-note"><em>In the live notebook you can change this '
                f"with the {html.escape(described)}. The book shows the default view.</em></p>"
            )
        )
        draw(**defaults)
        return None
    widgets = {name: control.widget() for name, control in controls.items()}
    output = w.interactive_output(draw, widgets)
    box = w.VBox([w.HBox(list(widgets.values()), layout=w.Layout(flex_flow="row wrap")), output])
    display(box)
    return box

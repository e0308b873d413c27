"""Smart City Academy's shared code: data, offline maps, widgets, charts.

Notebooks import from here so that every module loads data, draws maps and
offers sliders the same way (see the docstring of each submodule).
"""

__version__ = "0.1.0"

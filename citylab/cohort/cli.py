"""``citylab cohort ...``: the trainer's commands, one per step of a cohort.

Each step module in this package that defines ``register(subparsers)`` adds
its own subcommand (and ``STEP``, its place in the list), so a new step is a
new module, not an edit here. Errors the trainer can fix print one line and
exit 1; wrong usage exits 2; success exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import citylab.cohort as package
from citylab.cohort.course import CohortError


def _steps() -> list:
    modules = [importlib.import_module(f"{package.__name__}.{m.name}") for m in pkgutil.iter_modules(package.__path__)]
    return sorted((m for m in modules if hasattr(m, "register")), key=lambda m: m.STEP)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="citylab", description="Smart City Academy tools for trainers.")
    groups = top.add_subparsers(dest="group", required=True, metavar="{cohort}")
    cohort = groups.add_parser(
        "cohort",
        help="run a cohort: create, roster, release, collect, grade, feedback, peer review, report, hub",
        description="Run a cohort from roster to grades. Typical order: "
        "create → roster → release → collect → grade → feedback → peer → report; "
        "'hub' runs a JupyterHub for the cohort instead of zips and e-mail.",
    )
    steps = cohort.add_subparsers(dest="step", required=True, metavar="STEP")
    for module in _steps():
        module.register(steps)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except CohortError as err:
        print(f"citylab: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("citylab: stopped; what was finished is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

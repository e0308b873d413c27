#!/usr/bin/env python
"""Rebuild every committed dataset extract from its pinned source.

Why this script exists: the course commits small extracts (CSV, GeoJSON) and
their Frictionless descriptors so that the book builds offline. Anyone must be
able to check that those files really come from the sources their READMEs name,
so every byte is regenerated here from

* the data files shipped inside pinned, installed Python packages
  (``bokeh_sampledata`` for UN WPP 2024, ``plotly`` for Montréal 2013), whose
  version and SHA-256 are checked before anything is written, and
* a literal transcription of ITU *Facts and Figures* figures (no network is
  available at build time, so the figures live in this file, one commented row
  per published number).

The output is deterministic: two runs give byte-identical files, which the
test suite checks against the committed copies.

Each dataset has one module in ``datasets/builders/`` that defines ``NAME``
(the dataset's folder) and ``build()`` (returning file name -> bytes);
shared pieces live in ``datasets/buildlib.py``. Adding a dataset means adding
one builder module: this script finds it.

Usage::

    python datasets/build.py            # rewrite the extracts in datasets/
    python datasets/build.py --out DIR  # write them under DIR/<dataset>/ instead
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # builders import buildlib from this folder

from buildlib import SourceError  # noqa: E402


def builders() -> dict[str, Callable[[], dict[str, bytes]]]:
    """Every builder module in datasets/builders/, by dataset name."""
    found = {}
    for path in sorted((HERE / "builders").glob("[a-z]*.py")):
        module = importlib.import_module(f"builders.{path.stem}")
        found[module.NAME] = module.build
    return found


def write(out: Path, name: str, files: dict[str, bytes]) -> str:
    """Write one dataset's files and return the line to print for it."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    for filename, data in files.items():
        (folder / filename).write_bytes(data)
    sizes = ", ".join(f"{fn} {len(data):,} B" for fn, data in files.items() if fn != "datapackage.json")
    return f"{name}: {sizes} -> {folder}"


def main(argv: list[str] | None = None) -> int:
    """Build the named datasets (default: all); exit 2 with one line if a source is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: datasets/)")
    parser.add_argument("names", nargs="*", help="datasets to build (default: all)")
    args = parser.parse_args(argv)
    known = builders()
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(known)}")
    try:
        for name in args.names or known:
            print(write(args.out, name, known[name]()))
    except SourceError as err:
        print(f"build.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

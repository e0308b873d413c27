"""The JupyterLite copy of the notebooks: bundled, linked, and running offline.

Why: self-learners without Python open a notebook in their browser from the
book. The course promises no network, so the built site must carry Pyodide
and every package a notebook imports, and a real Chromium with every
non-local request blocked must run a notebook there from the book's link.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from browser import block_remote, launch_chromium, record_errors, serve
from conftest import ROOT
from playwright.sync_api import sync_playwright

from citylab import data, plain_schema

#: The notebook run in the browser: data, a chart, a live widget.
NOTEBOOK = "modules/01-people-centred/01-who-lives-in-cities"
#: JupyterLab's class for one output of a cell.
OUTPUT = ".jp-OutputArea-output"
#: The kernel has loaded Python and the packages.
KERNEL_IDLE = '.jp-Notebook-ExecutionIndicator[data-status="idle"]'
#: "Run All" has finished: no cell waits ([*]), and every cell ran or one failed.
CELLS_DONE = """() => {
  const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map((p) => p.textContent);
  const failed = [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
      .some((o) => /Error/.test(o.textContent));
  return prompts.length > 0 && !prompts.some((p) => p.includes('*'))
      && (failed || prompts.every((p) => /\\[\\d+\\]/.test(p)));
}"""

#: Pyodide, the packages and the app: what a learner downloads at most, once.
MAX_LITE_MB = 120


def _lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def expected_prints(name: str) -> list[str]:
    """What the notebook prints in JupyterLab (tests/expected_outputs), line-trimmed."""
    path = ROOT / "tests" / "expected_outputs" / (name.removeprefix("modules/") + ".json")
    cells = json.loads(path.read_text(encoding="utf-8")).values()
    return [_lines(o["text"]) for outputs in cells for o in outputs
            if o["output_type"] == "stream" and o["name"] == "stdout"]


def notebooks() -> list[str]:
    return sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in ROOT.glob("modules/*/*.ipynb"))


@pytest.mark.slow
def test_lite_site_bundles_pyodide_and_every_package(site: Path) -> None:
    lite = site / "lite"
    settings = json.loads((lite / "jupyter-lite.json").read_text(encoding="utf-8"))["jupyter-config-data"]
    kernel = settings["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["pyodideUrl"] == "./static/pyodide/pyodide.js" and kernel["disablePyPIFallback"] is True
    pyodide = lite / "static" / "pyodide"
    lock = json.loads((pyodide / "pyodide-lock.json").read_text(encoding="utf-8"))
    missing = [p["file_name"] for p in lock["packages"].values() if not (pyodide / p["file_name"]).is_file()]
    assert missing == []
    assert {"numpy", "pandas", "matplotlib", "folium", "ipywidgets", "citylab"} <= set(lock["packages"])
    size_mb = sum(p.stat().st_size for p in lite.rglob("*") if p.is_file()) / 1e6
    print(f"JupyterLite site: {size_mb:.0f} MB")
    assert size_mb < MAX_LITE_MB


@pytest.mark.slow
def test_lite_holds_the_student_notebooks_only(site: Path) -> None:
    files = site / "lite" / "files"
    shipped = {p.relative_to(files).with_suffix("").as_posix() for p in files.rglob("*.ipynb")}
    assert shipped == set(notebooks())
    for name in shipped:
        cells = json.loads((files / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
        assert all(not c.get("outputs") for c in cells), f"{name} has outputs"


@pytest.mark.slow
@pytest.mark.parametrize("name", notebooks())
def test_each_notebook_page_links_to_its_lite_copy(site: Path, name: str) -> None:
    page = (site / f"{name}.html").read_text(encoding="utf-8")
    assert f"lite/notebooks/index.html?path={name}.ipynb" in page
    assert "run-in-browser.html" in page


@pytest.mark.slow
def test_the_guide_page_says_what_works_for_every_notebook(site: Path) -> None:
    """Each notebook page links to book/run-in-browser; its table has a row per notebook."""
    guide = (site / "book" / "run-in-browser.html").read_text(encoding="utf-8")
    verdicts = re.findall(r"<td[^>]*>(?:<p>)?(works|partly)", guide)
    assert len(verdicts) == len(notebooks())


@pytest.mark.slow
def test_a_notebook_runs_in_the_browser_with_no_network(site: Path) -> None:
    """From the book page's link to the same numbers as in JupyterLab, remote requests blocked."""
    started = time.monotonic()
    with sync_playwright() as playwright, serve(site) as base:
        browser = launch_chromium(playwright)
        context = browser.new_context()
        blocked = block_remote(context)  # the context also covers JupyterLite's service worker
        page = context.new_page()
        errors = record_errors(page)
        page.goto(f"{base}{NOTEBOOK}.html")
        page.get_by_role("link", name="Run this notebook in your browser").click()
        page.locator(KERNEL_IDLE).wait_for(timeout=120_000)  # "Run All" before that can be lost
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        page.wait_for_function(CELLS_DONE, timeout=240_000, polling=1_000)
        printed = [_lines(t) for t in page.locator(OUTPUT + '[data-mime-type="application/vnd.jupyter.stdout"]').all_inner_texts()]
        stderr = page.locator(OUTPUT + '[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
        charts = page.locator(OUTPUT + " img[alt^='Bar chart']").count()
        sliders = page.locator(OUTPUT + " .widget-slider").count()
        browser.close()
    print(f"JupyterLite run: {time.monotonic() - started:.0f} s")
    assert blocked == []
    assert [t for t in stderr if "Traceback" in t or "Error" in t] == []
    assert [want for want in expected_prints(NOTEBOOK) if not any(want in got for got in printed)] == []
    assert charts >= 1 and sliders >= 1
    assert not [e for e in errors if e.startswith("uncaught")]


#: What citylab.data takes from frictionless, and from citylab.plain_schema in the browser.
FRICTIONLESS_NAMES = ("FrictionlessException", "Package", "Resource", "Schema")


def _browser_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make citylab.data use the checker it falls back to in Pyodide."""
    for name in FRICTIONLESS_NAMES:
        monkeypatch.setattr(data, name, getattr(plain_schema, name))
    data._package.cache_clear()


def _every_table() -> dict[str, tuple[str, dict[str, pd.DataFrame]]]:
    tables = {name: (data.cite(name), {r.name: data.load(name, r.name)
                                       for r in data._package(name).resources if r.format == "csv"})
              for name in data.list_datasets()}
    data._package.cache_clear()
    return tables


def test_browser_loader_gives_the_same_tables_and_citations(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _every_table()
    _browser_loader(monkeypatch)
    for name in data.list_datasets():
        data.validate(name)  # every CSV and GeoJSON file passes the browser's checker too
    browser = _every_table()
    assert browser.keys() == reference.keys()
    for name, (citation, tables) in reference.items():
        assert browser[name][0] == citation
        for resource, frame in tables.items():
            pd.testing.assert_frame_equal(browser[name][1][resource], frame)


@pytest.mark.parametrize(("first_cells", "problem"), [
    ("x,Female", "type-error"),
    (",Female", "required"),
    ("0,Female", "minimum"),
    ("1,Unknown", "not in enum"),
])
def test_browser_loader_refuses_a_broken_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              first_cells: str, problem: str) -> None:
    folder = tmp_path / "compas-recidivism"
    shutil.copytree(ROOT / "datasets" / folder.name, folder)
    lines = (folder / "compas.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = first_cells + "," + lines[1].split(",", 2)[2]
    (folder / "compas.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("CITYLAB_DATASETS", str(tmp_path))
    _browser_loader(monkeypatch)
    with pytest.raises(data.DatasetError, match=problem) as info:
        data.load("compas-recidivism")
    assert "\n" not in str(info.value)
    data._package.cache_clear()

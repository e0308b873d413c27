"""The Zero to JupyterHub values file (deploy/z2jh/values.yaml): it parses, uses only the chart's
top-level keys, and gives learners and instructors the same Jupyter settings as the
single-machine hub (citylab.cohort.hub_install), so the two paths cannot drift apart.

The Helm chart is not on a package registry this project can reach, so it is not rendered
here; the top-level keys are those of the chart's values schema (chart 4.x).
"""

from __future__ import annotations

import yaml
from conftest import ROOT

from citylab.cohort import hub_install

VALUES = ROOT / "deploy" / "z2jh" / "values.yaml"
CHART_KEYS = {"enabled", "fullnameOverride", "nameOverride", "cull", "custom", "debug", "global", "hub",
              "imagePullSecret", "imagePullSecrets", "ingress", "prePuller", "proxy", "rbac", "scheduling",
              "singleuser"}


def values() -> dict:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def test_values_parse_and_use_only_the_charts_top_level_keys() -> None:
    assert set(values()) <= CHART_KEYS, set(values()) - CHART_KEYS


def test_roles_on_kubernetes_match_the_single_machine_hub() -> None:
    files = values()["singleuser"]["extraFiles"]
    for role in ("learner", "instructor"):
        assert files[f"{role}-server"]["data"] == hub_install.server_config(role)
    assert files["learner-lab"]["data"] == hub_install.lab_config("learner")
    assert "instructor-lab" not in files


def test_resources_and_culling_are_set() -> None:
    single = values()["singleuser"]
    assert single["memory"]["limit"] and single["memory"]["guarantee"] and single["cpu"]["limit"]
    assert values()["cull"]["enabled"] is True
    assert "url" in values()["hub"]["db"] and "password" not in values()["hub"]["db"], "no secret in the file"

"""shopkit/pyproject.toml declares every third-party package shopkit/src imports (deptry checks the imports)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from shopkit.settings import REPO_ROOT
from shopkit.testing.processes import run_python

PYPROJECT = REPO_ROOT / "shopkit" / "pyproject.toml"


def _deptry(config: Path, tmp_path: Path) -> list[dict[str, Any]]:
    report = tmp_path / "deptry.json"
    result = run_python(["-m", "deptry", "shopkit/src", "--config", str(config), "--json-output", str(report)])
    assert report.exists(), result.stdout + result.stderr
    issues: list[dict[str, Any]] = json.loads(report.read_text())
    assert result.returncode == (1 if issues else 0), result.stdout + result.stderr
    return issues


def test_every_third_party_import_of_shopkit_is_declared_and_every_declaration_used(tmp_path: Path) -> None:
    # when
    issues = _deptry(PYPROJECT, tmp_path)

    # then
    assert issues == []


def test_a_dependency_left_out_of_pyproject_is_reported_with_the_import_that_needs_it(tmp_path: Path) -> None:
    # given: the [grpc] extra without stamina, which shopkit.grpc.products retries with
    document = PYPROJECT.read_text()
    assert document.count('"stamina>=') == 1
    trimmed = tmp_path / "pyproject.toml"
    trimmed.write_text("\n".join(line for line in document.splitlines() if '"stamina>=' not in line))

    # when
    issues = _deptry(trimmed, tmp_path)

    # then
    assert [(issue["module"], issue["error"]["code"], issue["location"]["file"]) for issue in issues] == [
        ("stamina", "DEP003", "shopkit/src/shopkit/grpc/products.py")
    ]


def test_the_extras_name_what_each_optional_part_needs() -> None:
    # given
    project = tomllib.loads(PYPROJECT.read_text())["project"]

    # then: the gateway installs shopkit[ninja] without DRF; every suite installs shopkit[testing]
    extras = project["optional-dependencies"]
    assert set(extras) == {"drf", "ninja", "grpc", "kafka", "testing"}
    assert extras["drf"] == ["djangorestframework>=3.15"]
    assert not any(requirement.lower().startswith("djangorestframework") for requirement in project["dependencies"])
    assert extras["testing"][0] == "shopkit[drf,grpc,kafka]"

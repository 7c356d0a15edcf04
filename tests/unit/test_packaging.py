"""pyproject.toml: metadata in the forms current build tools accept without warnings."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_an_spdx_string_and_setuptools_understands_it() -> None:
    doc = _pyproject()
    project = doc["project"]
    assert isinstance(project, dict)
    # PEP 639: a table (``{text = ...}``) is deprecated and warns on every build.
    assert project["license"] == "Apache-2.0"
    build = doc["build-system"]
    assert isinstance(build, dict)
    (setuptools,) = [r for r in build["requires"] if r.startswith("setuptools")]
    m = re.fullmatch(r"setuptools>=(\d+)", setuptools)
    assert m and int(m.group(1)) >= 77, "SPDX license strings need setuptools >= 77"

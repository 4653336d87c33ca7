"""pyproject.toml builds without deprecation warnings: `project.license` is an SPDX expression
(PEP 639), not the old table, which setuptools warns about three times at every install."""

from __future__ import annotations

import tomllib

from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement

from statuspage import PROJECT_ROOT


def _pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_license_is_an_spdx_expression():
    license_ = _pyproject()["project"]["license"]
    assert isinstance(license_, str), "use the SPDX string form, not a table"
    assert canonicalize_license_expression(license_) == license_


def test_the_build_needs_a_setuptools_that_reads_spdx_licenses():
    """setuptools reads `license = "MIT"` from 77.0 on; an older one refuses it."""
    [setuptools] = [
        Requirement(spec)
        for spec in _pyproject()["build-system"]["requires"]
        if Requirement(spec).name == "setuptools"
    ]
    assert not setuptools.specifier.contains("76.9")
    assert setuptools.specifier.contains("77.0")

"""mypy follows only the aws-cdk-lib modules the code imports (pyproject.toml): every one
the code imports must be in that list, or mypy would silently treat it as Any."""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from pathlib import Path

from tests.conftest import REPO_ROOT


def _followed() -> set[str]:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {
        module
        for override in config["tool"]["mypy"]["overrides"]
        if override.get("follow_imports") == "normal"
        for module in override["module"]
    }


def cdk_modules_imported(source: str) -> set[str]:
    """The aws_cdk modules (the package and its submodules) that ``source`` imports."""
    spec = importlib.util.find_spec("aws_cdk")
    assert spec is not None and spec.submodule_search_locations
    package = Path(next(iter(spec.submodule_search_locations)))
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "aws_cdk":  # `from aws_cdk import aws_s3` imports a submodule
                names += [f"aws_cdk.{a.name}" for a in node.names if (package / a.name).is_dir()]
        else:
            continue
        found.update(n for n in names if n == "aws_cdk" or n.startswith("aws_cdk."))
    return found


def test_every_imported_cdk_module_is_followed_by_mypy():
    imported: set[str] = set()
    for folder in ("mlops_constructs", "stacks"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            imported |= cdk_modules_imported(path.read_text(encoding="utf-8"))
    assert "aws_cdk.aws_s3" in imported  # the scan finds what the code imports
    assert sorted(imported - _followed()) == []


def test_the_scan_sees_each_form_of_import():
    source = "import aws_cdk.aws_sqs\nfrom aws_cdk import Stack, aws_sns as sns\n"
    source += "from aws_cdk.aws_kms import Key\n"
    assert cdk_modules_imported(source) == {
        "aws_cdk",
        "aws_cdk.aws_sqs",
        "aws_cdk.aws_sns",
        "aws_cdk.aws_kms",
    }

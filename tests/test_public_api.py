"""A library user imports every documented construct and its settings from ``mlops_constructs``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import mlops_constructs
from tests.conftest import REPO_ROOT


def _readme_catalogue_constructs() -> set[str]:
    """The names in the last column of the README's "What you get today" table."""
    names: set[str] = set()
    for line in (REPO_ROOT / "README.md").read_text().splitlines():
        if line.startswith("| `<env>/"):
            construct_cell = line.rstrip(" |").rsplit("|", 1)[-1]
            names.update(re.findall(r"`([A-Z]\w*)`", construct_cell))
    return names


def _public_classes() -> set[str]:
    """Every public class defined in a public module of the package (constructs, settings)."""
    names: set[str] = set()
    for module_info in pkgutil.iter_modules(mlops_constructs.__path__):
        if module_info.name.startswith("_") or module_info.ispkg:
            continue  # private helpers; lambda_src & co. are runtime code, not the API
        module = importlib.import_module(f"mlops_constructs.{module_info.name}")
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and name[0] != "_":
                names.add(name)
    return names


def test_the_readme_catalogue_is_parsed():
    # Guards the parser: a reworded table must not make the next test vacuous.
    assert {"MacieDiscovery", "LakeCatalog", "DataBrewPipeline", "PlatformKeys"} <= (
        _readme_catalogue_constructs()
    )


def test_every_construct_the_readme_lists_is_exported():
    missing = {
        name
        for name in _readme_catalogue_constructs()
        if name not in mlops_constructs.__all__ or not hasattr(mlops_constructs, name)
    }
    assert not missing


def test_every_public_construct_and_settings_type_is_exported():
    for name in ("Rollout", "EndpointAutoScaling", "BiasSettings", "MonitorThresholds"):
        assert name in _public_classes()
    assert _public_classes() - set(mlops_constructs.__all__) == set()
    for name in mlops_constructs.__all__:
        assert hasattr(mlops_constructs, name), name

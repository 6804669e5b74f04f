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
    """Every public class defined in a public module of a capability package (constructs,
    settings). Not ``core`` (shared helpers) nor ``runtime`` (code the constructs deploy)."""
    names: set[str] = set()
    for module_info in pkgutil.walk_packages(mlops_constructs.__path__, "mlops_constructs."):
        parts = module_info.name.split(".")[1:]
        if module_info.ispkg or parts[0] == "core" or "runtime" in parts:
            continue
        if any(part.startswith("_") for part in parts):
            continue
        module = importlib.import_module(module_info.name)
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


def test_the_walk_sees_the_capability_packages():
    # Guards the walk: a moved package must not make the test above vacuous.
    assert {"TrainingPipeline", "MultiModelEndpoint", "DataLake", "FeatureEtlJob"} <= (
        _public_classes()
    )

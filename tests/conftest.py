"""Shared fixtures: the whole app is synthesized once per test session."""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("dev", "staging", "prod")
#: The stacks of every environment's stage, in the order the stage makes them.
STACKS = ("Security", "Network", "Lake", "Data", "Training", "Serving", "Monitoring", "Protection")
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"

# jsii runs the project's pinned Node.js (22 LTS) when the tests are started outside make.
if NODE_BIN.is_dir() and str(NODE_BIN) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


#: An existing VPC, described by attributes as the config's network.existing_vpc takes it.
EXISTING_VPC: dict[str, Any] = {
    "vpc_id": "vpc-0a1b2c3d4e5f67890",
    "vpc_cidr_block": "10.50.0.0/16",
    "availability_zones": ["eu-west-1a", "eu-west-1b"],
    "isolated_subnet_ids": ["subnet-0a1b2c3d4e5f67890", "subnet-1a1b2c3d4e5f67890"],
    "isolated_subnet_route_table_ids": ["rtb-0a1b2c3d4e5f67890", "rtb-1a1b2c3d4e5f67890"],
}


@dataclass
class SynthesizedApp:
    """The synthesized platform: the App object, its stages and the templates on disk."""

    app: Any
    config: Any
    outdir: Path

    def stage(self, env: str) -> Any:
        return self.app.node.find_child(env)

    def stack(self, env: str, name: str) -> Any:
        return self.stage(env).node.find_child(name)

    def template(self, env: str, name: str) -> dict[str, Any]:
        stack = self.stack(env, name)
        path = self.outdir / f"assembly-{env}" / f"{stack.artifact_id}.template.json"
        return json.loads(path.read_text(encoding="utf-8"))

    def templates(self) -> list[Path]:
        return sorted(self.outdir.glob("assembly-*/*.template.json"))


@pytest.fixture(scope="session")
def base_context() -> dict[str, Any]:
    """A deep copy of the app context with the config folder's settings inlined (as
    ``mlops:environments`` and ``mlops:delivery``), for tests that change it."""
    from stacks.app_factory import default_context

    return copy.deepcopy(default_context())


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    """Every environment of config/, synthesized once (cdk-nag runs during this synth)."""
    from stacks.app_factory import create_app, default_context

    outdir = tmp_path_factory.mktemp("cdk.out")
    with _sdk_results_shared_by_workers(tmp_path_factory):
        app, config = create_app(default_context(), outdir=str(outdir))
        app.synth()
    yield SynthesizedApp(app=app, config=config, outdir=outdir)


@contextlib.contextmanager
def _sdk_results_shared_by_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Under pytest-xdist, the workers of one run keep the SageMaker SDK's results (pipeline
    definitions, image URIs, Clarify configs) in one folder of the run while the block runs,
    so only the first worker to synthesize the app runs the SDK (about 8 s cold); the
    others wait for its results and read them. Each run starts with an empty folder, so the
    SDK still runs once per run, as in a fresh clone; outside xdist nothing changes."""
    from mlops_constructs.training._definition import CACHE_ENV

    if "PYTEST_XDIST_WORKER" not in os.environ or CACHE_ENV in os.environ:
        yield
        return
    # Each worker's base temp folder is inside the run's own folder.
    os.environ[CACHE_ENV] = str(tmp_path_factory.getbasetemp().parent / "sdk-results")
    try:
        yield
    finally:
        del os.environ[CACHE_ENV]


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    """The resources of one CloudFormation type in a template dict, by logical id."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == type_name
    }

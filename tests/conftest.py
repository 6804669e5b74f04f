"""Shared fixtures: the whole app is synthesized once per test session."""

from __future__ import annotations

import contextlib
import copy
import functools
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


# --------------------------------------------------------------------------------------
# Scheduling under pytest-xdist (``-n 2 --dist loadfile``): longest modules first.
#
# loadfile hands each worker a whole module at a time, in xdist's queue order; by default
# xdist orders the queue by the number of tests per module, which put the slow modules with
# few tests (cfn-lint of every template, the CLI synth) last, where one worker ran them
# alone while the other had finished. Longest first keeps both workers busy to the end. The
# time of each module comes from the previous runs (pytest's cache), else from
# FIRST_RUN_SECONDS; any other module counts as its number of tests times the mean time of
# a test.

#: The cache key of the seconds each test module took (setup, call and teardown of its tests).
MODULE_SECONDS_KEY = "mlops/module-seconds"
#: Seconds per test assumed while no run has been timed (the suite's mean is about 0.3).
DEFAULT_TEST_SECONDS = 0.3
#: The longest modules, in seconds on two workers of a 2-core machine (2026-12-02), for a
#: first run (a fresh clone, CI): the previous run's own times replace them.
FIRST_RUN_SECONDS = {
    "tests/integration/test_deploy_rehearsal.py": 34.0,
    "tests/rehearsal/test_flows.py": 17.0,
    "tests/rehearsal/test_pipeline_run.py": 17.0,
    "tests/serving/test_model_deployer.py": 17.0,
    "tests/glue/test_feature_etl.py": 14.0,
    "tests/compliance/test_offline_synth.py": 9.0,
    "tests/compliance/test_cfn_lint.py": 8.0,
    "tests/macie/test_macie_remediation.py": 6.0,
    "tests/monitoring/test_metrics_publisher.py": 6.0,
    "tests/training/test_baseline.py": 6.0,
    "tests/monitoring/test_engine.py": 5.0,
    "tests/rehearsal/test_serving_modes.py": 5.0,
    "tests/glue/test_glue.py": 5.0,
    "tests/rehearsal/test_monitoring_run.py": 5.0,
    "tests/stacks/test_delivery.py": 5.0,
    "tests/stacks/test_training.py": 5.0,
    "tests/serving/test_variants.py": 4.0,
    "tests/stacks/test_one_edit.py": 4.0,
    "tests/compliance/test_nag.py": 4.0,
    "tests/serving/test_model_deployer_components.py": 4.0,
}


class _ModuleTimer:
    """Adds up the seconds of each test module's reports (in the controlling process, which
    receives the workers' reports) and keeps them in pytest's cache for the next run."""

    def __init__(self, cache: pytest.Cache) -> None:
        self.cache = cache
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        module = report.nodeid.split("::")[0]
        self.seconds[module] = self.seconds.get(module, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        if self.seconds:
            timed = self.cache.get(MODULE_SECONDS_KEY, {})
            timed.update({module: round(s, 2) for module, s in self.seconds.items()})
            self.cache.set(MODULE_SECONDS_KEY, timed)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or getattr(config, "cache", None) is None:
        return
    config.pluginmanager.register(_ModuleTimer(config.cache), "mlops-module-timer")
    # xdist's queue in collection order (sorted below), unless --loadscope-reorder is given.
    if getattr(config.option, "loadscopereorder", False) and not any(
        arg.startswith("--loadscope-reorder") for arg in config.invocation_params.args
    ):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, each worker's collection, longest module first (xdist's queue order)."""
    if not hasattr(config, "workerinput") or getattr(config, "cache", None) is None:
        return
    cached: dict[str, float] = config.cache.get(MODULE_SECONDS_KEY, {})
    counts: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        counts[module] = counts.get(module, 0) + 1
    known = [module for module in counts if module in cached]
    per_test = sum(cached[m] for m in known) / sum(counts[m] for m in known) if known else 0.0
    per_test = per_test or DEFAULT_TEST_SECONDS
    timed = {**FIRST_RUN_SECONDS, **cached}
    order = {module: i for i, module in enumerate(counts)}

    def longest_first(item: pytest.Item) -> tuple[float, int]:
        module = item.nodeid.split("::")[0]
        return (-timed.get(module, counts[module] * per_test), order[module])

    items.sort(key=longest_first)  # stable: the tests of a module keep their order


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
def boto3_session() -> Iterator[Any]:
    """One boto3 session for the tests against moto, so each service model is parsed once.

    ``moto.mock_aws`` clears boto3's default session when it starts, so the clients of every
    test (and of the handlers it calls, through ``boto3.client``) would parse the service
    models again in a new session; a test installs this one as boto3's default session
    inside ``mock_aws`` (``monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3_session)``).

    While it is in use, moto's symmetric KMS keys share one RSA private key: moto makes one
    for every key, whatever its spec, for Sign and Verify, which a symmetric key cannot do
    (about 40 ms per key, and the tests make hundreds). Asymmetric keys still get their own.
    """
    import boto3
    from moto.kms import models

    original = models.generate_private_key

    @functools.cache
    def unused_rsa_key() -> Any:
        return original("SYMMETRIC_DEFAULT")

    def generate_private_key(key_spec: str) -> Any:
        return unused_rsa_key() if key_spec == "SYMMETRIC_DEFAULT" else original(key_spec)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "generate_private_key", generate_private_key)
        yield boto3.Session(region_name="eu-west-1")


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    """Every environment of config/, synthesized once (cdk-nag runs during this synth)."""
    from stacks.app_factory import create_app, default_context

    outdir = tmp_path_factory.mktemp("cdk.out")
    with _sdk_results_shared_by_workers(tmp_path_factory):
        app, config = create_app(default_context(), outdir=str(outdir))
        app.synth()
    yield SynthesizedApp(app=app, config=config, outdir=outdir)


#: The environment synthesized with its monitored model on Model Monitor
#: (:func:`model_monitor_app`).
MODEL_MONITOR_ENV = "staging"
#: Its monitoring entry: Model Monitor on a dedicated endpoint serving a pinned version, with
#: the bias settings a regression model needs (the shipped config uses the platform engine).
MODEL_MONITOR_ENTRY: dict[str, Any] = {
    "engine": "model-monitor",
    "endpoint": "dedicated",
    "model_package_version": 1,
    "instance_type": "ml.m5.large",
    "bias": {
        "label_threshold": 8.5,
        "group_variable": "segment_corporate",
        "thresholds": {"DPL": 0.25, "KL": 0.25, "TVD": 0.25, "CDDL": 0.25},
    },
}


@pytest.fixture(scope="session")
def model_monitor_app(
    base_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SynthesizedApp]:
    """``MODEL_MONITOR_ENV`` alone, synthesized with its first monitoring entry on Model
    Monitor (``MODEL_MONITOR_ENTRY``): the stacks, pipeline check steps and jobs the
    ``model-monitor`` engine makes, which the shipped config does not (cdk-nag runs too)."""
    from stacks.app_factory import create_app
    from stacks.config import ENVIRONMENTS_CONTEXT_KEY, SELECT_CONTEXT_KEY

    context = copy.deepcopy(base_context)
    context[SELECT_CONTEXT_KEY] = MODEL_MONITOR_ENV
    context[ENVIRONMENTS_CONTEXT_KEY][MODEL_MONITOR_ENV]["monitoring"][0].update(
        MODEL_MONITOR_ENTRY
    )
    outdir = tmp_path_factory.mktemp("cdk.out.model-monitor")
    with _sdk_results_shared_by_workers(tmp_path_factory):
        app, config = create_app(context, outdir=str(outdir))
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

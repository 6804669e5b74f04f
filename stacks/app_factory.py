"""Builds the CDK app: one :class:`PlatformStage` per selected environment, and the
delivery pipeline when ``mlops:delivery`` enables it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.config import (
    DELIVERY_CONTEXT_KEY,
    ENVIRONMENTS_CONTEXT_KEY,
    SELECT_CONTEXT_KEY,
    PlatformConfig,
    load_config,
)
from stacks.stage import PlatformStage

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where the CDK CLI puts the context for the app (aws-cdk-lib's cx-api names).
CONTEXT_ENV = "CDK_CONTEXT_JSON"
CONTEXT_OVERFLOW_ENV = "CONTEXT_OVERFLOW_LOCATION_ENV"


def cdk_json_context(path: Path | None = None) -> dict[str, Any]:
    """The ``context`` of cdk.json, as the CDK CLI passes it to the app."""
    with (path or REPO_ROOT / "cdk.json").open(encoding="utf-8") as handle:
        return dict(json.load(handle).get("context", {}))


def default_context(config_dir: Path | None = None) -> dict[str, Any]:
    """cdk.json's context with the settings of the ``config/`` folder inlined, merged, as the
    context keys ``mlops:environments`` and ``mlops:delivery`` (which replace the files when
    given): the shape tests edit to check variations, and what tools synthesize.

    Raises :class:`stacks.config.ConfigError` when the files cannot be read or merged.
    """
    from stacks.config import ConfigError
    from stacks.config_files import read_config_dir

    layered = read_config_dir(config_dir)
    if layered.problems or not layered.environments:
        raise ConfigError(layered.problems)
    context = cdk_json_context()
    context[ENVIRONMENTS_CONTEXT_KEY] = layered.environments
    if layered.delivery is not None:
        context[DELIVERY_CONTEXT_KEY] = layered.delivery
    return context


def cli_context() -> dict[str, Any]:
    """The context the CDK CLI hands the app (cdk.json, cdk.context.json and ``-c`` options);
    the settings themselves come from ``config/`` (:func:`stacks.config.load_config`).

    Read here, as App() would read it, so that the config is validated before an App exists:
    App() creates the output folder, and a bad config must write nothing.
    """
    context: dict[str, Any] = {}
    inline = os.environ.get(CONTEXT_ENV)
    if inline:
        context.update(json.loads(inline))
    overflow = os.environ.get(CONTEXT_OVERFLOW_ENV)
    if overflow:
        context.update(json.loads(Path(overflow).read_text(encoding="utf-8")))
    return context


def add_nag_gate(app: App) -> None:
    """cdk-nag's AwsSolutions pack over everything in ``app``; any unacknowledged finding
    fails the synth. Added once, at the app: a plugin checks the whole app whatever scope it
    is added to, so one per stage would check every stage once per stage."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def create_app(
    context: Mapping[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, PlatformConfig]:
    """Validate the config, then make the app and its stages; synthesize with ``app.synth()``.

    ``context`` defaults to what the CDK CLI passed in (:func:`cli_context`). Invalid config
    raises :class:`stacks.config.ConfigError` before the App is made, so a bad config writes
    nothing.

    The CDK's built-in CloudFormation schema validation is off: cfn-lint runs on every
    synthesized template in the test suite and covers the same ground, and the built-in
    check costs about 2.4 s plus 20 ms per resource on every synth (docs/BENCHMARKS.md).
    """
    from_cli = context is None
    context = cli_context() if context is None else dict(context)
    config = load_config(context)
    # From the CLI, App() reads the same context from the environment itself.
    app = App(
        context=None if from_cli else dict(context),
        outdir=outdir,
        builtin_cloud_formation_validation=False,
    )
    for env in config.selected_environments():
        PlatformStage(app, env.name, config=env)
    add_nag_gate(app)
    # The pipeline deploys every environment: built only when none was singled out.
    if config.delivery is not None and SELECT_CONTEXT_KEY not in context:
        from stacks.delivery_stack import DeliveryStack

        DeliveryStack(
            app,
            "Delivery",
            platform=config,
            delivery=config.delivery,
            description="ML platform: delivery pipeline (CDK Pipelines), dev to prod",
        )
    return app, config

"""Builds the CDK app: one :class:`PlatformStage` per selected environment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App

from stacks.config import (
    ENVIRONMENTS_CONTEXT_KEY,
    SELECT_CONTEXT_KEY,
    PlatformConfig,
    load_config,
)
from stacks.stage import PlatformStage

REPO_ROOT = Path(__file__).resolve().parent.parent


def cdk_json_context(path: Path | None = None) -> dict[str, Any]:
    """The ``context`` of cdk.json, as the CDK CLI passes it to the app."""
    with (path or REPO_ROOT / "cdk.json").open(encoding="utf-8") as handle:
        return dict(json.load(handle).get("context", {}))


def create_app(
    context: Mapping[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, PlatformConfig]:
    """Validate the config, then make the app and its stages; synthesize with ``app.synth()``.

    ``context`` defaults to what the CDK CLI passed in (``cdk.json`` and ``-c`` options).
    Invalid config raises :class:`stacks.config.ConfigError` before any stage is made, so a
    bad config writes nothing (nothing is written before ``synth``).

    The CDK's built-in CloudFormation schema validation is off: cfn-lint runs on every
    synthesized template in the test suite and covers the same ground, and the built-in
    check costs about 2.4 s plus 20 ms per resource on every synth (docs/BENCHMARKS.md).
    """
    # The CLI hands cdk.json and -c options to the app through the environment, where
    # App() reads them; tests and benchmarks pass the context explicitly.
    app = App(
        context=dict(context) if context is not None else None,
        outdir=outdir,
        builtin_cloud_formation_validation=False,
    )
    config = load_config(
        {
            key: app.node.try_get_context(key)
            for key in (ENVIRONMENTS_CONTEXT_KEY, SELECT_CONTEXT_KEY)
        }
    )
    for env in config.selected_environments():
        PlatformStage(app, env.name, config=env)
    return app, config

"""Fixtures of the run rehearsal: the synthesized assembly, and one rehearsed dev pipeline run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.rehearsal.data import Dataset, model_configs
from tests.rehearsal.pipeline_runner import (
    PipelineRun,
    SynthesizedPipeline,
    load_pipelines,
    rehearse,
)

#: The environment whose pipeline is executed (the others are checked statically).
RUN_ENV = "dev"


@pytest.fixture(scope="session")
def cloud_assembly(platform: Any) -> Path:
    """The synthesized cloud assembly (``cdk.out``) of every environment."""
    return Path(platform.outdir)


@dataclass
class RehearsedRun:
    """A rehearsed pipeline run and the settings it ran with."""

    pipeline: SynthesizedPipeline
    run: PipelineRun
    data: Dataset
    dataset_config: dict[str, Any]
    training_config: dict[str, Any]


@pytest.fixture(scope="session")
def dev_rehearsal(
    cloud_assembly: Path, platform: Any, tmp_path_factory: pytest.TempPathFactory
) -> RehearsedRun:
    """The dev environment's first pipeline, executed once on the rehearsal dataset."""
    return _rehearsed(cloud_assembly, platform, RUN_ENV, tmp_path_factory)


@pytest.fixture(scope="session")
def clarify_rehearsal(
    model_monitor_app: Any, tmp_path_factory: pytest.TempPathFactory
) -> RehearsedRun:
    """The training pipeline of a model watched by Model Monitor (``model_monitor_app``), which
    keeps the Model Monitor and Clarify check steps, executed once on the rehearsal dataset
    (the shipped config has no such model: its pipelines have no check step)."""
    from tests.conftest import MODEL_MONITOR_ENV

    return _rehearsed(
        Path(model_monitor_app.outdir), model_monitor_app, MODEL_MONITOR_ENV, tmp_path_factory
    )


def training_pipeline(outdir: Path, env: str) -> SynthesizedPipeline:
    """The first training pipeline of ``env`` (the Monitoring stack has pipelines too)."""
    return next(p for p in load_pipelines(outdir, env) if p.stack.endswith("Training"))


def _rehearsed(
    outdir: Path, app: Any, env: str, tmp_path_factory: pytest.TempPathFactory
) -> RehearsedRun:
    pipeline = training_pipeline(outdir, env)
    dataset, training = model_configs(app.config, env)
    run, data = rehearse(
        pipeline, tmp_path_factory.mktemp(f"rehearsal-{env}"), dataset=dataset, training=training
    )
    return RehearsedRun(pipeline, run, data, dataset, training)

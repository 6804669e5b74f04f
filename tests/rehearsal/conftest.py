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
    pipeline = load_pipelines(cloud_assembly, RUN_ENV)[0]
    dataset, training = model_configs(platform.config, RUN_ENV)
    run, data = rehearse(
        pipeline, tmp_path_factory.mktemp("rehearsal-dev"), dataset=dataset, training=training
    )
    return RehearsedRun(pipeline, run, data, dataset, training)

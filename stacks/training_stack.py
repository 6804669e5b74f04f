"""Model building of one environment: a registry group and a training pipeline per model."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from mlops_constructs import DataLake, Network
from mlops_constructs.artifacts import ArtifactStore
from mlops_constructs.model_registry import ModelRegistry
from mlops_constructs.training_pipeline import TrainingPipeline, TuningSettings
from stacks.base import PlatformStack
from stacks.config import EnvironmentConfig
from stacks.removal import data_removal_policy


class TrainingStack(PlatformStack):
    """For each model of ``config.training``: its model package group, its pipeline, a
    scheduled start and a start on new curated data."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        lake: DataLake,
        artifacts: ArtifactStore,
        network: Network,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, config=config, **kwargs)
        datasets = {d.name: d for d in config.data.datasets}
        self.pipelines: dict[str, TrainingPipeline] = {}
        self.registries: dict[str, ModelRegistry] = {}
        for t in config.training:
            name = f"{config.resource_prefix}-{config.name}-{t.model_name.replace('_', '-')}"
            registry = ModelRegistry(
                self,
                f"{t.model_name}-registry",
                group_name=name,
                description=f"{t.model_name} models trained in {config.name}",
                reader_accounts=t.registry_reader_accounts,
                removal_policy=data_removal_policy(config),
            )
            dataset = datasets[t.dataset]
            metric, direction = t.objective
            pipeline = TrainingPipeline(
                self,
                f"{t.model_name}-pipeline",
                pipeline_name=name,
                lake=lake,
                input_zone=dataset.target_zone,
                input_prefix=dataset.prefix,
                artifacts=artifacts,
                registry=registry,
                vpc=network.vpc,
                subnets=network.subnet_selection,
                security_group=network.workload_security_group,
                label=t.label_column,
                features=t.feature_columns,
                key_column=t.key_column,
                bias_facet=t.bias_facet,
                tuning=TuningSettings(
                    problem_type=t.problem_type,
                    objective_metric=metric,
                    objective_type=direction,
                    ranges=[r.model_dump(exclude_none=True) for r in t.hyperparameter_ranges],
                    static_hyperparameters=t.static_hyperparameters,
                    max_jobs=t.max_jobs,
                    max_parallel_jobs=t.max_parallel_jobs,
                    use_spot=t.use_spot,
                    max_runtime_minutes=t.max_runtime_minutes,
                    max_wait_minutes=t.max_wait_minutes,
                    xgboost_version=t.algorithm_version,
                    training_instance_type=t.instance_type,
                    processing_instance_type=t.processing_instance_type,
                ),
                evaluation_threshold=t.evaluation_threshold,
                approval_status=t.approval_status,
            )
            pipeline.schedule_rule("Schedule", schedule=t.schedule)
            pipeline.data_rule(
                "NewData", bucket=lake.bucket(dataset.target_zone), prefix=dataset.prefix
            )
            self.pipelines[t.model_name] = pipeline
            self.registries[t.model_name] = registry

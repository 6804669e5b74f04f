"""Model building of one environment: a registry group and a training pipeline per model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from mlops_constructs import DataLake, Network
from mlops_constructs.lake import ArtifactStore
from mlops_constructs.training import (
    DEFAULT_INFERENCE_INSTANCE_TYPES,
    DEFAULT_TRANSFORM_INSTANCE_TYPES,
    ModelRegistry,
    TrainingPipeline,
    transform_instance_types,
)
from stacks.base import PlatformStack
from stacks.config import DEDICATED_ENDPOINT, MODEL_MONITOR_ENGINE, EnvironmentConfig
from stacks.removal import data_removal_policy


def served_instance_types(config: EnvironmentConfig, model: str) -> tuple[list[str], list[str]]:
    """The (inference, transform) instance types to register ``model`` with: every type an
    endpoint of ``config`` serves it on (the environment's endpoint, its shadow and challenger
    variants, the dedicated monitored endpoints), in config order; transform takes those
    batch transform accepts (:func:`transform_instance_types`). Defaults when none: ml.m5.large, and
    ml.m5.xlarge for transform."""
    types: list[str] = []
    serving = config.serving
    if serving is not None and model in serving.models:
        types.append(serving.instance_type)
        if serving.shadow is not None:
            types.append(serving.shadow.instance_type)
        if serving.ab_test is not None:
            types += [c.instance_type or serving.instance_type for c in serving.ab_test.challengers]
    types += [
        m.instance_type
        for m in config.monitoring
        if m.model == model and m.endpoint == DEDICATED_ENDPOINT
    ]
    if not types:
        return list(DEFAULT_INFERENCE_INSTANCE_TYPES), list(DEFAULT_TRANSFORM_INSTANCE_TYPES)
    inference = list(dict.fromkeys(types))
    return inference, transform_instance_types(inference)


def uses_model_monitor_baselines(config: EnvironmentConfig, model: str) -> bool:
    """Whether ``model``'s pipeline keeps the Model Monitor and Clarify baseline steps: when
    a ``monitoring`` entry of ``config`` watches it with ``engine: model-monitor``, whose
    ModelMonitor reads those baselines. (The platform engine reads the MonitoringBaseline
    step's baseline, which every pipeline has; Clarify is closed to new customers too.)"""
    return any(m.model == model and m.engine == MODEL_MONITOR_ENGINE for m in config.monitoring)


class TrainingStack(PlatformStack):
    """For each model of ``config.training``: its model package group, its pipeline, a
    scheduled start and a start after each successful run of the Glue job that writes the
    model's curated dataset (``etl_jobs``: dataset name to Glue job name). A model watched by
    Model Monitor (``engine: model-monitor``) keeps the Model Monitor and Clarify baseline
    steps (``model_monitor_baselines``), which the monitoring stack's Model Monitor reads."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        lake: DataLake,
        artifacts: ArtifactStore,
        network: Network,
        etl_jobs: Mapping[str, str],
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
            inference, transform = served_instance_types(config, t.model_name)
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
                bias_label_values_or_threshold=t.bias_label_values_or_threshold,
                bias_facet_values_or_threshold=t.bias_facet_values_or_threshold,
                inference_instance_types=inference,
                transform_instance_types=transform,
                tuning=t.tuning,
                evaluation_threshold=t.evaluation_threshold,
                approval_status=t.approval_status,
                model_monitor_baselines=uses_model_monitor_baselines(config, t.model_name),
            )
            pipeline.schedule_rule("Schedule", schedule=t.schedule)
            pipeline.data_rule("NewData", etl_job_name=etl_jobs[t.dataset])
            self.pipelines[t.model_name] = pipeline
            self.registries[t.model_name] = registry

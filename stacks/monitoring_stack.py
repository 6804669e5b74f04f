"""Monitoring of one environment: the monitoring engine (or Model Monitor) per monitored model,
its alarms, and retraining when they fire."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput
from constructs import Construct

from mlops_constructs import Network, PlatformKeys
from mlops_constructs.lake import ArtifactStore
from mlops_constructs.monitoring import (
    ModelMonitor,
    MonitoringEngine,
    RetrainingTrigger,
    pascal_case,
)
from mlops_constructs.serving import IServingEndpoint, ModelPackageEndpoint
from mlops_constructs.training import ModelRegistry, TrainingPipeline
from stacks.base import PlatformStack
from stacks.config import (
    DEDICATED_ENDPOINT,
    MODEL_MONITOR_ENGINE,
    EnvironmentConfig,
    MonitoringConfig,
    TrainingConfig,
)
from stacks.removal import data_removal_policy, retention
from stacks.serving_stack import endpoint_props


class MonitoringStack(PlatformStack):
    """For each entry of ``config.monitoring``, by its ``engine`` and ``endpoint``:

    * ``platform`` on ``serving`` (the default): a :class:`MonitoringEngine` watching the
      model's newest approved version (or the pinned ``model_package_version``) on the
      environment's multi-model endpoint ``serving_endpoint``, hourly; it runs nothing until
      a version is approved, so the stack deploys on a fresh account;
    * ``dedicated``: a single-model endpoint serving the pinned version, watched by the
      engine or, with ``model-monitor``, by Model Monitor (``ModelMonitor``);

    and, with ``retraining``, the trigger that starts the model's training pipeline when a
    drift or quality alarm fires (cooldown ``retraining_cooldown_minutes``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        keys: PlatformKeys,
        network: Network,
        artifacts: ArtifactStore,
        pipelines: dict[str, TrainingPipeline],
        registries: dict[str, ModelRegistry],
        serving_endpoint: IServingEndpoint | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, config=config, **kwargs)
        trained = {t.model_name: t for t in config.training}
        self.topic = self.notifications_topic(keys.logs_key, "model monitoring")
        self.endpoints: dict[str, IServingEndpoint] = {}
        self.monitors: dict[str, MonitoringEngine | ModelMonitor] = {}
        self._keys = keys
        self._network: dict[str, Any] = {
            "vpc": network.vpc,
            "subnets": network.subnet_selection,
            "security_group": network.workload_security_group,
        }
        for m in config.monitoring:
            t = trained[m.model]
            pipeline = pipelines[m.model]
            registry = registries[m.model]
            id_ = m.model.replace("_", "-")
            if m.endpoint == DEDICATED_ENDPOINT:
                assert m.model_package_version is not None  # the config requires it
                endpoint: IServingEndpoint = ModelPackageEndpoint(
                    self,
                    f"{id_}-endpoint",
                    model_package_arn=registry.version_arn(m.model_package_version),
                    artifacts=artifacts,
                    alarm_topic=self.topic,
                    **self._network,
                    **endpoint_props(m),
                )
                CfnOutput(self, f"{pascal_case(m.model)}EndpointName", value=endpoint.endpoint_name)
            else:
                assert serving_endpoint is not None  # the config requires the model served
                endpoint = serving_endpoint
            if m.engine == MODEL_MONITOR_ENGINE:
                monitor: MonitoringEngine | ModelMonitor = self._model_monitor(
                    id_, m, t, endpoint, artifacts, pipeline, registry
                )
                alarms: list[Any] = list(monitor.drift_alarms)
            else:
                engine = self._engine(id_, m, t, endpoint, registry)
                monitor = engine
                alarms = [*engine.drift_alarms.values(), engine.quality_alarm]
            if m.retraining:
                RetrainingTrigger(
                    self,
                    f"{id_}-retraining",
                    alarms=alarms,
                    pipeline_name=pipeline.pipeline_name,
                    pipeline_arn=pipeline.pipeline_arn,
                    logs_key=keys.logs_key,
                    cooldown_minutes=m.retraining_cooldown_minutes,
                    removal_policy=data_removal_policy(config),
                    log_retention=retention(config.logs.function_retention_days),
                )
            CfnOutput(
                self,
                f"{pascal_case(m.model)}GroundTruthUri",
                value=(
                    monitor.ground_truth_uri
                    if isinstance(monitor, ModelMonitor)
                    else f"s3://{artifacts.bucket.bucket_name}/{monitor.ground_truth_prefix}"
                ),
                description="Write ground truth here, hourly folders, JSON Lines",
            )
            self.endpoints[m.model] = endpoint
            self.monitors[m.model] = monitor

    def _engine(
        self,
        id_: str,
        m: MonitoringConfig,
        t: TrainingConfig,
        endpoint: IServingEndpoint,
        registry: ModelRegistry,
    ) -> MonitoringEngine:
        optional: dict[str, Any] = {}
        if m.feature_drift_threshold is not None:
            optional["drift_threshold"] = m.feature_drift_threshold
        if m.job_instance_type is not None:
            optional["instance_type"] = m.job_instance_type
        if t.problem_type == "binary_classification" and t.bias_facet:
            optional["facet"] = t.bias_facet
        config = self.config
        return MonitoringEngine(
            self,
            f"{id_}-engine",
            endpoint=endpoint,
            alarm_topic=self.topic,
            logs_key=self._keys.logs_key,
            model_group=registry.group_name,
            model_version=m.model_package_version,
            features=t.feature_columns,
            problem_type=t.problem_type,
            quality_metric=m.quality_metric,
            quality_threshold=m.quality_threshold,
            schedule=m.schedule,
            removal_policy=data_removal_policy(config),
            log_retention=retention(config.logs.function_retention_days),
            **self._network,
            **optional,
        )

    def _model_monitor(
        self,
        id_: str,
        m: MonitoringConfig,
        t: TrainingConfig,
        endpoint: IServingEndpoint,
        artifacts: ArtifactStore,
        pipeline: TrainingPipeline,
        registry: ModelRegistry,
    ) -> ModelMonitor:
        assert m.model_package_version is not None  # the config requires it
        optional: dict[str, Any] = {}
        if m.job_instance_type is not None:
            optional["instance_type"] = m.job_instance_type
        return ModelMonitor(
            self,
            f"{id_}-monitor",
            endpoint=endpoint,
            artifacts=artifacts,
            alarm_topic=self.topic,
            problem_type=t.problem_type,
            features=t.feature_columns,
            label=t.label_column,
            model_package_arn=registry.version_arn(m.model_package_version),
            executions_prefix=pipeline.executions_prefix,
            bias=m.bias.settings(t.bias_facet),
            thresholds=m.thresholds,
            schedules=m.schedules,
            **self._network,
            **optional,
        )

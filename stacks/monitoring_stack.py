"""Monitoring of one environment: monitored model endpoints, Model Monitor, retraining."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput
from constructs import Construct

from mlops_constructs import Network, PlatformKeys
from mlops_constructs.lake import ArtifactStore
from mlops_constructs.monitoring import (
    ModelMonitor,
    RetrainingTrigger,
    pascal_case,
)
from mlops_constructs.serving import ModelPackageEndpoint
from mlops_constructs.training import ModelRegistry, TrainingPipeline
from stacks.base import PlatformStack
from stacks.config import EnvironmentConfig
from stacks.removal import data_removal_policy, retention
from stacks.serving_stack import endpoint_props


class MonitoringStack(PlatformStack):
    """For each entry of ``config.monitoring``: a single-model endpoint serving the pinned,
    approved model package version, its four Model Monitor jobs, schedules and alarms, and
    (with ``retraining``) the trigger that starts the model's training pipeline when a
    drift or quality alarm fires.

    Model Monitor does not monitor multi-model endpoints, hence endpoints of their own for
    the monitored models. Deploy this stack once the pinned version exists and its pipeline
    run has written the baselines (see the deploy guide).
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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, config=config, **kwargs)
        trained = {t.model_name: t for t in config.training}
        self.topic = self.notifications_topic(keys.logs_key, "model monitoring")
        self.endpoints: dict[str, ModelPackageEndpoint] = {}
        self.monitors: dict[str, ModelMonitor] = {}
        network_props: dict[str, Any] = {
            "vpc": network.vpc,
            "subnets": network.subnet_selection,
            "security_group": network.workload_security_group,
        }
        for m in config.monitoring:
            t = trained[m.model]
            pipeline = pipelines[m.model]
            id_ = m.model.replace("_", "-")
            endpoint = ModelPackageEndpoint(
                self,
                f"{id_}-endpoint",
                model_package_arn=registries[m.model].version_arn(m.model_package_version),
                artifacts=artifacts,
                alarm_topic=self.topic,
                **network_props,
                **endpoint_props(m),
            )
            monitor = ModelMonitor(
                self,
                f"{id_}-monitor",
                endpoint=endpoint,
                artifacts=artifacts,
                alarm_topic=self.topic,
                problem_type=t.problem_type,
                features=t.feature_columns,
                label=t.label_column,
                baselines_prefix=pipeline.baselines_prefix,
                bias=m.bias.settings(t.bias_facet),
                thresholds=m.thresholds,
                schedules=m.schedules,
                instance_type=m.job_instance_type,
                **network_props,
            )
            if m.retraining:
                RetrainingTrigger(
                    self,
                    f"{id_}-retraining",
                    alarms=monitor.drift_alarms,
                    pipeline_name=pipeline.pipeline_name,
                    pipeline_arn=pipeline.pipeline_arn,
                    logs_key=keys.logs_key,
                    cooldown_minutes=m.retraining_cooldown_minutes,
                    removal_policy=data_removal_policy(config),
                    log_retention=retention(config.logs.function_retention_days),
                )
            CfnOutput(self, f"{pascal_case(m.model)}EndpointName", value=endpoint.endpoint_name)
            CfnOutput(
                self,
                f"{pascal_case(m.model)}GroundTruthUri",
                value=monitor.ground_truth_uri,
                description="Write ground truth here, hourly folders, JSON Lines",
            )
            self.endpoints[m.model] = endpoint
            self.monitors[m.model] = monitor

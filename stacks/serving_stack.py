"""Serving of one environment: the multi-model endpoint and the flow of approved models."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnOutput
from constructs import Construct

from mlops_constructs import Network, PlatformKeys
from mlops_constructs.lake import ArtifactStore
from mlops_constructs.serving import (
    ApprovedModelDeployer,
    InferenceComponentEndpoint,
    MultiModelEndpoint,
)
from mlops_constructs.training import ModelRegistry, image_uri
from stacks.base import PlatformStack
from stacks.config import (
    INFERENCE_COMPONENTS_HOSTING,
    EndpointSettings,
    EnvironmentConfig,
    ServingConfig,
    TrainingConfig,
)
from stacks.removal import data_removal_policy, retention


def endpoint_props(settings: EndpointSettings) -> dict[str, Any]:
    """The endpoint construct props an endpoint section of the config stands for (the
    config embeds the construct's settings types, passed as they are)."""
    return {
        "instance_type": settings.instance_type,
        "instance_count": settings.instance_count,
        "capture_percentage": settings.capture_percentage,
        "autoscaling": settings.autoscaling,
        "rollout": settings.rollout,
        "shadow": settings.shadow,
        "ab_test": settings.ab_test,
        "alarm_thresholds": settings.alarms,
    }


class ServingStack(PlatformStack):
    """The endpoint of ``config.serving``: a multi-model endpoint (models under its S3
    prefix, invoked with ``TargetModel``; output ``ModelsUri``) or, with ``hosting:
    inference-components``, an inference-component endpoint (one component per served model,
    invoked with ``InferenceComponentName``; output ``InferenceComponents``, each group's
    component name); its alarms topic; and the function that puts each newly approved
    version of the served models into service and takes rejected ones out."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        serving: ServingConfig,
        keys: PlatformKeys,
        network: Network,
        artifacts: ArtifactStore,
        registries: dict[str, ModelRegistry],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, config=config, **kwargs)
        trained: dict[str, TrainingConfig] = {t.model_name: t for t in config.training}
        first = trained[serving.models[0]]
        self.topic = self.notifications_topic(keys.logs_key, "serving")
        network_props: dict[str, Any] = {
            "vpc": network.vpc,
            "subnets": network.subnet_selection,
            "security_group": network.workload_security_group,
        }
        self.endpoint: MultiModelEndpoint | InferenceComponentEndpoint
        if serving.hosting == INFERENCE_COMPONENTS_HOSTING:
            # Its own construct id, so its name and logical id differ from the multi-model
            # endpoint's: switching an environment's hosting replaces the endpoint (a new
            # one, then the old one deleted) instead of updating a model-based endpoint into
            # an inference-component one, which SageMaker does not document.
            self.endpoint = InferenceComponentEndpoint(
                self,
                "ComponentEndpoint",
                artifacts=artifacts,
                alarm_topic=self.topic,
                components={
                    registries[m].group_name: c for m, c in serving.component_settings().items()
                },
                instance_type=serving.instance_type,
                scaling=serving.scaling,
                capture_percentage=serving.capture_percentage,
                alarm_thresholds=serving.alarms,
                **network_props,
            )
        else:
            self.endpoint = MultiModelEndpoint(
                self,
                "Endpoint",
                artifacts=artifacts,
                image_uri=image_uri(first.algorithm, config.region, first.algorithm_version),
                alarm_topic=self.topic,
                **network_props,
                **endpoint_props(serving),
            )
        self.deployer = ApprovedModelDeployer(
            self,
            "ApprovedModels",
            endpoint=self.endpoint,
            model_package_groups=[registries[m].group_name for m in serving.models],
            logs_key=keys.logs_key,
            removal_policy=data_removal_policy(config),
            log_retention=retention(config.logs.function_retention_days),
            serialize=serving.serialize_deployments,
        )
        CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
        if isinstance(self.endpoint, InferenceComponentEndpoint):
            CfnOutput(
                self,
                "InferenceComponents",
                value=json.dumps(self.endpoint.component_names, sort_keys=True),
                description="InferenceComponentName of each model package group (JSON)",
            )
        else:
            CfnOutput(
                self,
                "ModelsUri",
                value=f"s3://{artifacts.bucket.bucket_name}/{self.endpoint.models_prefix}",
                description="TargetModel is an archive's key under this prefix",
            )

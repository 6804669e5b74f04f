"""SageMaker hosting: multi-model and model-package endpoints, scaling, rollout, and the
deployer of approved models (its Lambda handler is ``runtime/model_deployer``)."""

from mlops_constructs.serving.deployer import ApprovedModelDeployer
from mlops_constructs.serving.endpoint import (
    ModelPackageEndpoint,
    MultiModelEndpoint,
    ServingEndpoint,
)
from mlops_constructs.serving.interfaces import IMultiModelEndpoint, IServingEndpoint
from mlops_constructs.serving.props import (
    CAPTURE,
    DEPLOYMENTS,
    MODELS,
    SHADOW_VARIANT,
    VARIANT,
    EndpointAlarmThresholds,
    EndpointAutoScaling,
    OffHours,
    Rollout,
    ShadowVariant,
    has_instance_storage,
    is_burstable,
    rollout_problems,
    smallest_fleet,
)

__all__ = [
    "CAPTURE",
    "DEPLOYMENTS",
    "MODELS",
    "SHADOW_VARIANT",
    "VARIANT",
    "ApprovedModelDeployer",
    "EndpointAlarmThresholds",
    "EndpointAutoScaling",
    "IMultiModelEndpoint",
    "IServingEndpoint",
    "ModelPackageEndpoint",
    "MultiModelEndpoint",
    "OffHours",
    "Rollout",
    "ServingEndpoint",
    "ShadowVariant",
    "has_instance_storage",
    "is_burstable",
    "rollout_problems",
    "smallest_fleet",
]

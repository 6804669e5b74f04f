"""SageMaker hosting: multi-model, model-package and inference-component endpoints,
scaling, rollout, and the deployer of approved models (its Lambda handler is
``runtime/model_deployer``)."""

from mlops_constructs.serving.component_props import (
    COMPONENT_NAME_MAX,
    INSTANCE_RESOURCES,
    ComponentSettings,
    InstanceScaling,
    component_name,
    components_problems,
    instance_type_problems,
    wake_up_alarm_name,
)
from mlops_constructs.serving.components import InferenceComponentEndpoint
from mlops_constructs.serving.deployer import ApprovedModelDeployer
from mlops_constructs.serving.endpoint import (
    ModelPackageEndpoint,
    MultiModelEndpoint,
    ServingEndpoint,
)
from mlops_constructs.serving.interfaces import (
    IInferenceComponentEndpoint,
    IMultiModelEndpoint,
    IServingEndpoint,
)
from mlops_constructs.serving.props import (
    CAPTURE,
    DEPLOYMENTS,
    MODELS,
    SHADOW_VARIANT,
    VARIANT,
    ABTest,
    Challenger,
    EndpointAlarmThresholds,
    EndpointAutoScaling,
    OffHours,
    Rollout,
    ShadowVariant,
    ab_test_problems,
    has_instance_storage,
    is_burstable,
    rollout_problems,
    smallest_fleet,
)

__all__ = [
    "CAPTURE",
    "COMPONENT_NAME_MAX",
    "DEPLOYMENTS",
    "INSTANCE_RESOURCES",
    "MODELS",
    "SHADOW_VARIANT",
    "VARIANT",
    "ABTest",
    "ApprovedModelDeployer",
    "Challenger",
    "ComponentSettings",
    "EndpointAlarmThresholds",
    "EndpointAutoScaling",
    "IInferenceComponentEndpoint",
    "IMultiModelEndpoint",
    "IServingEndpoint",
    "InferenceComponentEndpoint",
    "InstanceScaling",
    "ModelPackageEndpoint",
    "MultiModelEndpoint",
    "OffHours",
    "Rollout",
    "ServingEndpoint",
    "ShadowVariant",
    "ab_test_problems",
    "component_name",
    "components_problems",
    "has_instance_storage",
    "instance_type_problems",
    "is_burstable",
    "rollout_problems",
    "smallest_fleet",
    "wake_up_alarm_name",
]

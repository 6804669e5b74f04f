"""Reusable, secure-by-default AWS CDK constructs for an ML platform.

Import the constructs and their settings types from here, e.g.
``from mlops_constructs import PlatformKeys, Network``. Importing this package does not import
the SageMaker SDK: only ``TrainingPipeline``, ``ModelMonitor`` and ``MonitoringEngine`` need
it (the ``pipelines`` extra).
"""

from mlops_constructs.core import PropsError
from mlops_constructs.databrew import (
    DataBrewPipeline,
    FillMissing,
    QualityChecks,
    QualityRule,
    RecipeStep,
    ValueRange,
)
from mlops_constructs.glue import (
    Column,
    CsvTable,
    EtlWorkflow,
    FeatureEtlJob,
    FindMatchesTransform,
    GlueNetworkConnection,
    GlueSecurityConfiguration,
    LakeCatalog,
    ZoneCrawler,
)
from mlops_constructs.keys import KeyPurpose, PlatformKeys
from mlops_constructs.lake import ArtifactStore, DataLake, IArtifactStore, IDataLake
from mlops_constructs.macie import (
    AllowList,
    CustomDataIdentifier,
    DiscoverySchedule,
    MacieDiscovery,
    MacieRemediation,
)
from mlops_constructs.monitoring import (
    BiasSettings,
    ModelMonitor,
    MonitoringEngine,
    MonitoringLauncher,
    MonitoringMetricsPublisher,
    MonitorSchedules,
    MonitorThresholds,
    RetrainingTrigger,
)
from mlops_constructs.network import Network
from mlops_constructs.secrets import ExternalCredentialSecret
from mlops_constructs.serving import (
    ABTest,
    ApprovedModelDeployer,
    Challenger,
    ComponentSettings,
    EndpointAlarmThresholds,
    EndpointAutoScaling,
    IInferenceComponentEndpoint,
    IMultiModelEndpoint,
    InferenceComponentEndpoint,
    InstanceScaling,
    IServingEndpoint,
    ModelPackageEndpoint,
    MultiModelEndpoint,
    OffHours,
    Rollout,
    ServingEndpoint,
    ShadowVariant,
)
from mlops_constructs.training import (
    HyperparameterRange,
    IModelRegistry,
    ModelRegistry,
    TrainingPipeline,
    TuningSettings,
)

__all__ = [
    "ABTest",
    "AllowList",
    "ApprovedModelDeployer",
    "ArtifactStore",
    "BiasSettings",
    "Challenger",
    "Column",
    "ComponentSettings",
    "CsvTable",
    "CustomDataIdentifier",
    "DataBrewPipeline",
    "DataLake",
    "DiscoverySchedule",
    "EndpointAlarmThresholds",
    "EndpointAutoScaling",
    "EtlWorkflow",
    "ExternalCredentialSecret",
    "FeatureEtlJob",
    "FillMissing",
    "FindMatchesTransform",
    "GlueNetworkConnection",
    "GlueSecurityConfiguration",
    "HyperparameterRange",
    "IArtifactStore",
    "IDataLake",
    "IInferenceComponentEndpoint",
    "IModelRegistry",
    "IMultiModelEndpoint",
    "IServingEndpoint",
    "InferenceComponentEndpoint",
    "InstanceScaling",
    "KeyPurpose",
    "LakeCatalog",
    "MacieDiscovery",
    "MacieRemediation",
    "ModelMonitor",
    "ModelPackageEndpoint",
    "ModelRegistry",
    "MonitorSchedules",
    "MonitorThresholds",
    "MonitoringEngine",
    "MonitoringLauncher",
    "MonitoringMetricsPublisher",
    "MultiModelEndpoint",
    "Network",
    "OffHours",
    "PlatformKeys",
    "PropsError",
    "QualityChecks",
    "QualityRule",
    "RecipeStep",
    "RetrainingTrigger",
    "Rollout",
    "ServingEndpoint",
    "ShadowVariant",
    "TrainingPipeline",
    "TuningSettings",
    "ValueRange",
    "ZoneCrawler",
]

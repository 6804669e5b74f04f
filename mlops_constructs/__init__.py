"""Reusable, secure-by-default AWS CDK constructs for an ML platform.

Import the constructs from here, e.g. ``from mlops_constructs import PlatformKeys, Network``.
"""

from mlops_constructs._validation import PropsError
from mlops_constructs.artifacts import ArtifactStore
from mlops_constructs.data_lake import DataLake
from mlops_constructs.keys import KeyPurpose, PlatformKeys
from mlops_constructs.model_monitor import ModelMonitor, RetrainingTrigger
from mlops_constructs.model_registry import ModelRegistry
from mlops_constructs.network import Network
from mlops_constructs.secrets import ExternalCredentialSecret
from mlops_constructs.serving import (
    ApprovedModelDeployer,
    ModelPackageEndpoint,
    MultiModelEndpoint,
)
from mlops_constructs.training_pipeline import TrainingPipeline, TuningSettings

__all__ = [
    "ApprovedModelDeployer",
    "ArtifactStore",
    "DataLake",
    "ExternalCredentialSecret",
    "KeyPurpose",
    "ModelMonitor",
    "ModelPackageEndpoint",
    "ModelRegistry",
    "MultiModelEndpoint",
    "Network",
    "PlatformKeys",
    "PropsError",
    "RetrainingTrigger",
    "TrainingPipeline",
    "TuningSettings",
]

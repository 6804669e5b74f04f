"""SageMaker training: the pipeline (processing, tuning, evaluation, registration) and the
model registry. Its processing scripts are in ``runtime/``."""

from mlops_constructs.training.interfaces import IModelRegistry
from mlops_constructs.training.pipeline import TrainingPipeline
from mlops_constructs.training.props import (
    DEFAULT_INFERENCE_INSTANCE_TYPES,
    DEFAULT_TRANSFORM_INSTANCE_TYPES,
    TuningSettings,
    transform_instance_types,
)
from mlops_constructs.training.registry import ModelRegistry

__all__ = [
    "DEFAULT_INFERENCE_INSTANCE_TYPES",
    "DEFAULT_TRANSFORM_INSTANCE_TYPES",
    "IModelRegistry",
    "ModelRegistry",
    "TrainingPipeline",
    "TuningSettings",
    "transform_instance_types",
]

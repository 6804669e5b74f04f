"""SageMaker training: the pipeline (processing, tuning, evaluation, registration) and the
model registry. Its processing scripts are in ``runtime/``."""

from mlops_constructs.training._definition import CACHE_ENV as PIPELINE_DEFINITION_CACHE_ENV
from mlops_constructs.training._definition import image_uri
from mlops_constructs.training.interfaces import IModelRegistry
from mlops_constructs.training.pipeline import TrainingPipeline
from mlops_constructs.training.props import (
    DEFAULT_INFERENCE_INSTANCE_TYPES,
    DEFAULT_TRANSFORM_INSTANCE_TYPES,
    HyperparameterRange,
    TuningSettings,
    transform_instance_types,
)
from mlops_constructs.training.registry import ModelRegistry

__all__ = [
    "DEFAULT_INFERENCE_INSTANCE_TYPES",
    "DEFAULT_TRANSFORM_INSTANCE_TYPES",
    "PIPELINE_DEFINITION_CACHE_ENV",
    "HyperparameterRange",
    "IModelRegistry",
    "ModelRegistry",
    "TrainingPipeline",
    "TuningSettings",
    "image_uri",
    "transform_instance_types",
]

"""Former import path, kept working: the code lives in :mod:`mlops_constructs.training`."""

from mlops_constructs.training import (
    DEFAULT_INFERENCE_INSTANCE_TYPES,
    DEFAULT_TRANSFORM_INSTANCE_TYPES,
    TrainingPipeline,
    TuningSettings,
    transform_instance_types,
)

__all__ = [
    "DEFAULT_INFERENCE_INSTANCE_TYPES",
    "DEFAULT_TRANSFORM_INSTANCE_TYPES",
    "TrainingPipeline",
    "TuningSettings",
    "transform_instance_types",
]

"""Former import path, kept working: the code lives in :mod:`mlops_constructs.training.registry`."""

from mlops_constructs.training.registry import ModelRegistry

__all__ = [
    "ModelRegistry",
]

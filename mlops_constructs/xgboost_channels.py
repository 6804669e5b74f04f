"""Former import path, kept working: see :mod:`mlops_constructs.training.xgboost_channels`."""

from mlops_constructs.training.xgboost_channels import (
    DATA_CHANNELS,
    DISTRIBUTIONS,
    DOC_URL,
    INPUT_MODES,
    SUPPORTED,
    problem,
    supported,
    supported_input_modes,
)

__all__ = [
    "DATA_CHANNELS",
    "DISTRIBUTIONS",
    "DOC_URL",
    "INPUT_MODES",
    "SUPPORTED",
    "problem",
    "supported",
    "supported_input_modes",
]

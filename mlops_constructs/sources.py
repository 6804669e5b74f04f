"""Former import path, kept working: the code lives in :mod:`mlops_constructs.core.sources`."""

from mlops_constructs.core.sources import (
    HANDLER_COMMON,
    glue_script_path,
    handler_code,
    handler_path,
    sagemaker_script_path,
)

__all__ = [
    "HANDLER_COMMON",
    "glue_script_path",
    "handler_code",
    "handler_path",
    "sagemaker_script_path",
]

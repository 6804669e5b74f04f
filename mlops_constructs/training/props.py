"""Training settings: tuning, and the instance types a registered model is served on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

#: Registered instance types when the caller names none.
DEFAULT_INFERENCE_INSTANCE_TYPES = ("ml.m5.large",)
DEFAULT_TRANSFORM_INSTANCE_TYPES = ("ml.m5.xlarge",)


@cache
def _batch_transform_types() -> frozenset[str]:
    # botocore's model of the SageMaker API, read offline (botocore comes with the
    # ``pipelines`` extra, as the SageMaker SDK needs it).
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("TransformInstanceType").enum)


def transform_instance_types(inference_instance_types: Sequence[str]) -> list[str]:
    """Those of ``inference_instance_types`` that CreateModelPackage accepts for batch
    transform (fewer than for endpoints: no ml.t2, no ml.c5.large), in order; the default
    (``ml.m5.xlarge``) when none is."""
    accepted = _batch_transform_types()
    return [t for t in inference_instance_types if t in accepted] or list(
        DEFAULT_TRANSFORM_INSTANCE_TYPES
    )


@dataclass(frozen=True)
class TuningSettings:
    """Hyperparameter tuning of the built-in XGBoost algorithm (Bayesian, early stopping).

    ``input_mode`` is the training jobs' input mode, ``File`` by default; ``Pipe`` streams
    the CSV splits (the XGBoost container accepts both for ``text/csv``, not ``FastFile``:
    :mod:`mlops_constructs.xgboost_channels`).
    """

    problem_type: str
    objective_metric: str
    objective_type: str
    ranges: Sequence[Mapping[str, Any]]
    static_hyperparameters: Mapping[str, str] = field(default_factory=dict)
    max_jobs: int = 10
    max_parallel_jobs: int = 2
    use_spot: bool = True
    max_runtime_minutes: int = 60
    max_wait_minutes: int = 120
    xgboost_version: str = "1.7-1"
    training_instance_type: str = "ml.m5.xlarge"
    processing_instance_type: str = "ml.m5.large"
    input_mode: str = "File"

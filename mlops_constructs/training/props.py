"""Training settings: tuning, and the instance types a registered model is served on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from mlops_constructs.core.props import InstanceType, Problem, resolved, settings
from mlops_constructs.training import xgboost_channels

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


@settings
class HyperparameterRange:
    """One tuned hyperparameter: an ``integer`` or ``continuous`` range from ``min`` to
    ``max``, or ``categorical`` ``values``."""

    name: Annotated[str, Field(min_length=1, max_length=256)]
    """The hyperparameter, as the algorithm names it (required)."""
    type: Literal["integer", "continuous", "categorical"]
    """How it varies (required)."""
    min: float | None = None
    """The lowest value of a range (required for integer and continuous)."""
    max: float | None = None
    """The highest value of a range, above ``min`` (required for integer and continuous)."""
    values: Sequence[str] | None = None
    """The values of a categorical hyperparameter (at least one)."""
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"
    """How the tuner searches a range, ``Auto`` by default."""

    @model_validator(mode="after")
    def _range(self) -> HyperparameterRange:
        if self.type == "categorical":
            if not self.values:
                raise ValueError(f"range '{self.name}': expected at least one categorical value")
        elif self.min is None or self.max is None or not self.min < self.max:
            raise ValueError(
                f"range '{self.name}': expected min < max, got min={self.min} max={self.max}"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """The range as the pipeline definition takes it (the fields that are set)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@settings
class TuningSettings:
    """Hyperparameter tuning of the built-in XGBoost algorithm (Bayesian, early stopping).
    The rules relating the settings: :func:`tuning_problems`."""

    problem_type: Literal["binary_classification", "regression"]
    """What the model predicts (required)."""
    objective_metric: str
    """The metric the tuner optimizes, such as ``validation:rmse`` (required)."""
    objective_type: Literal["Maximize", "Minimize"]
    """Whether the tuner maximizes or minimizes it (required)."""
    ranges: Annotated[Sequence[HyperparameterRange], Field(min_length=1)]
    """The tuned hyperparameters, each named once (required; mappings are accepted)."""
    static_hyperparameters: Mapping[str, str] = Field(default_factory=dict)
    """Hyperparameters every training job gets, none by default."""
    max_jobs: int = Field(default=10, ge=1, le=500)
    """Training jobs of one tuning run, 1-500; 10 by default."""
    max_parallel_jobs: int = Field(default=2, ge=1, le=100)
    """Training jobs at a time, 1-100 and at most ``max_jobs``; 2 by default."""
    use_spot: bool = True
    """Train on spot capacity (on by default)."""
    max_runtime_minutes: int = Field(default=60, ge=1, le=40320)
    """Longest run of one training job, in minutes; 60 by default."""
    max_wait_minutes: int = Field(default=120, ge=1, le=40320)
    """Longest wait for spot capacity plus run, in minutes, at least ``max_runtime_minutes``
    with spot; 120 by default."""
    xgboost_version: str = "1.7-1"
    """The built-in XGBoost container's version, ``1.7-1`` by default."""
    training_instance_type: InstanceType = "ml.m5.xlarge"
    """Instance type of the training jobs, ``ml.m5.xlarge`` by default."""
    processing_instance_type: InstanceType = "ml.m5.large"
    """Instance type of the processing jobs (split, evaluation, baselines), ``ml.m5.large``
    by default."""
    input_mode: str = "File"
    """The training jobs' input mode, ``File`` by default; ``Pipe`` streams the CSV splits
    (the XGBoost container accepts both for ``text/csv``, not ``FastFile``:
    :mod:`mlops_constructs.training.xgboost_channels`)."""


def tuning_problems(tuning: TuningSettings) -> list[Problem]:
    """What is wrong with ``tuning`` as a whole: more parallel jobs than jobs, a spot wait
    shorter than the run, a repeated range name, an input mode the XGBoost container refuses
    for CSV. Fields are ``tuning``'s."""
    problems: list[Problem] = []
    if resolved(tuning.max_jobs, tuning.max_parallel_jobs) and (
        tuning.max_parallel_jobs > tuning.max_jobs
    ):
        problems.append(
            (
                "max_parallel_jobs",
                tuning.max_parallel_jobs,
                f"expected at most max_jobs: max_parallel_jobs ({tuning.max_parallel_jobs}) "
                f"exceeds max_jobs ({tuning.max_jobs})",
            )
        )
    if (
        tuning.use_spot
        and resolved(tuning.max_wait_minutes, tuning.max_runtime_minutes)
        and tuning.max_wait_minutes < tuning.max_runtime_minutes
    ):
        problems.append(
            (
                "max_wait_minutes",
                tuning.max_wait_minutes,
                f"expected at least max_runtime_minutes with spot training: spot "
                f"max_wait_minutes ({tuning.max_wait_minutes}) is shorter than "
                f"max_runtime_minutes ({tuning.max_runtime_minutes})",
            )
        )
    names = [r.name for r in tuning.ranges]
    if len(set(names)) != len(names):
        problems.append(("ranges", names, "expected each hyperparameter once"))
    # The XGBoost container rejects a channel whose (content type, input mode) it does not
    # register; the table and its source: xgboost_channels.py. Doc:
    # https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-how-to-use.html
    channel = xgboost_channels.problem(tuning.xgboost_version, "text/csv", tuning.input_mode)
    if channel is not None:
        problems.append(("input_mode", tuning.input_mode, channel))
    return problems

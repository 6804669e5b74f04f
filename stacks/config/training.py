"""The training sections: one model-building pipeline each; and their cross-field checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from mlops_constructs.core.props import AwsCron, InstanceType, Problem
from mlops_constructs.glue.props import _identifier
from mlops_constructs.training import xgboost_channels
from stacks.config._common import _ACCOUNT_RE, Tier, _Strict
from stacks.config.data import DatasetConfig

if TYPE_CHECKING:
    from stacks.config.environment import EnvironmentConfig

#: Built-in algorithms the training pipeline can tune, with their objective metrics.
ALGORITHM_METRICS: dict[str, dict[str, tuple[str, ...]]] = {
    "xgboost": {
        "binary_classification": (
            "validation:auc",
            "validation:logloss",
            "validation:error",
            "validation:f1",
        ),
        "regression": ("validation:rmse", "validation:mae", "validation:mse"),
    },
}
_MINIMIZE = (
    "validation:logloss",
    "validation:error",
    "validation:rmse",
    "validation:mae",
    "validation:mse",
)


class HyperparameterRangeConfig(_Strict):
    """One tuned hyperparameter: an integer or continuous range, or categorical values."""

    name: str = Field(min_length=1, max_length=256)
    type: Literal["integer", "continuous", "categorical"]
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"

    @model_validator(mode="after")
    def _range(self) -> HyperparameterRangeConfig:
        if self.type == "categorical":
            if not self.values:
                raise ValueError(f"range '{self.name}': expected at least one categorical value")
        elif self.min is None or self.max is None or not self.min < self.max:
            raise ValueError(
                f"range '{self.name}': expected min < max, got min={self.min} max={self.max}"
            )
        return self


class TrainingConfig(_Strict):
    """The model-building pipeline of one model: data, algorithm, tuning, spot, gate."""

    model_name: str
    dataset: str
    label_column: str
    feature_columns: list[str] = Field(min_length=1)
    key_column: str
    bias_facet: str
    problem_type: Literal["binary_classification", "regression"]
    #: The bias baseline's positive outcome: label values, or for regression one threshold
    #: (required). Default for binary classification: [0.5], labels above it (the class 1).
    bias_label_values_or_threshold: list[float] | None = None
    #: The facet's sensitive group: [0.5] by default, rows above it (a one-hot facet's 1.0).
    #: The splits are float CSV columns, and Clarify treats a float column as continuous
    #: (smclarify ``bias/metrics/common.py`` ``series_datatype``): one value is a threshold
    #: and the group the interval (threshold, max] (``bias/report.py`` ``_interval_index``),
    #: so [1] would select no row.
    bias_facet_values_or_threshold: list[float] = Field(default_factory=lambda: [0.5])
    algorithm: str = "xgboost"
    algorithm_version: str = "1.7-1"
    #: TrainingInputMode of the tuning jobs: File, or Pipe to stream the CSV splits.
    input_mode: str = "File"
    objective_metric: str | None = None
    hyperparameter_ranges: list[HyperparameterRangeConfig] = Field(min_length=1)
    static_hyperparameters: dict[str, str] = Field(default_factory=dict)
    max_jobs: int = Field(default=10, ge=1, le=500)
    max_parallel_jobs: int = Field(default=2, ge=1, le=100)
    early_stopping: Literal["Auto", "Off"] = "Auto"
    instance_type: InstanceType = "ml.m5.xlarge"
    processing_instance_type: InstanceType = "ml.m5.large"
    use_spot: bool = True
    max_runtime_minutes: int = Field(default=60, ge=1, le=40320)
    max_wait_minutes: int = Field(default=120, ge=1, le=40320)
    evaluation_threshold: float = Field(default=0.7)
    approval_status: Literal["PendingManualApproval", "Approved"] = "PendingManualApproval"
    schedule: AwsCron = "cron(0 3 ? * SUN *)"
    registry_reader_accounts: list[str] = Field(default_factory=list)

    _model = field_validator("model_name")(_identifier)

    @field_validator("algorithm")
    @classmethod
    def _algorithm(cls, value: str) -> str:
        if value not in ALGORITHM_METRICS:
            raise ValueError(
                f"expected a supported built-in algorithm: {sorted(ALGORITHM_METRICS)}"
            )
        return value

    @field_validator("registry_reader_accounts")
    @classmethod
    def _accounts(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not _ACCOUNT_RE.match(a)]
        if bad:
            raise ValueError(f"expected 12-digit account ids, not {bad}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _bias_label_default(cls, data: Any) -> Any:
        # A 0/1 label's positive outcome is the class 1: the float label column is continuous
        # to Clarify, so the threshold 0.5 selects it. A regression label has no default.
        if (
            isinstance(data, dict)
            and data.get("problem_type") == "binary_classification"
            and data.get("bias_label_values_or_threshold") is None
        ):
            return {**data, "bias_label_values_or_threshold": [0.5]}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        problems = []
        metrics = ALGORITHM_METRICS[self.algorithm][self.problem_type]
        if self.objective_metric is not None and self.objective_metric not in metrics:
            problems.append(
                f"objective_metric '{self.objective_metric}' is not one of {list(metrics)} "
                f"for {self.algorithm} {self.problem_type}"
            )
        if self.max_parallel_jobs > self.max_jobs:
            problems.append(
                f"max_parallel_jobs ({self.max_parallel_jobs}) exceeds max_jobs ({self.max_jobs})"
            )
        if self.use_spot and self.max_wait_minutes < self.max_runtime_minutes:
            problems.append(
                f"spot max_wait_minutes ({self.max_wait_minutes}) is shorter than "
                f"max_runtime_minutes ({self.max_runtime_minutes})"
            )
        names = [r.name for r in self.hyperparameter_ranges]
        if len(set(names)) != len(names):
            problems.append(f"hyperparameter ranges repeat a name: {names}")
        # The XGBoost container rejects a channel whose (content type, input mode) it does not
        # register; the table and its source: mlops_constructs/xgboost_channels.py. Doc:
        # https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-how-to-use.html
        channel = xgboost_channels.problem(self.algorithm_version, "text/csv", self.input_mode)
        if channel is not None:
            problems.append(f"input_mode '{self.input_mode}': {channel}")
        labels = self.bias_label_values_or_threshold
        if self.problem_type == "regression" and (labels is None or len(labels) != 1):
            # Clarify: a continuous label's single value is the positive-outcome threshold.
            # https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-configure-analysis.html
            problems.append(
                f"bias_label_values_or_threshold {labels}: a regression label needs one "
                "threshold (labels above it are the positive outcome)"
            )
        if labels is not None and not labels:
            problems.append("bias_label_values_or_threshold []: expected at least one value")
        if not self.bias_facet_values_or_threshold:
            problems.append("bias_facet_values_or_threshold []: expected at least one value")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def objective(self) -> tuple[str, str]:
        """(metric, "Maximize" or "Minimize")."""
        metric = self.objective_metric or ALGORITHM_METRICS[self.algorithm][self.problem_type][0]
        return metric, "Minimize" if metric in _MINIMIZE else "Maximize"


def _bias_threshold_problems(at: str, t: TrainingConfig, dataset: DatasetConfig) -> list[Problem]:
    """Bias thresholds that select no row or every row of a 0/1 column.

    The splits are float CSV columns, which Clarify treats as continuous (smclarify
    ``bias/metrics/common.py`` ``series_datatype``): a facet's or label's single value is a
    threshold and the selected rows those above it, up to the column's maximum (smclarify
    ``bias/report.py`` ``_interval_index``; "Configure the Analysis",
    https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-configure-analysis.html).
    For a 0.0/1.0 column only a threshold in [0, 1) selects the 1.0 rows. A regression
    label's range is the data's, unknown here.
    """
    problems: list[Problem] = []
    facets = t.bias_facet_values_or_threshold
    if t.bias_facet in dataset.one_hot_columns and not all(0 <= v < 1 for v in facets):
        problems.append(
            (
                f"{at}.bias_facet_values_or_threshold",
                facets,
                f"expected thresholds in [0, 1) for the one-hot column {t.bias_facet} "
                "(a threshold; Clarify's group is the rows above it)",
            )
        )
    labels = t.bias_label_values_or_threshold or []
    if t.problem_type == "binary_classification" and not all(0 <= v < 1 for v in labels):
        problems.append(
            (
                f"{at}.bias_label_values_or_threshold",
                labels,
                "expected thresholds in [0, 1) for the 0/1 label of a binary classification "
                "model (a threshold; Clarify's positive outcome is the labels above it)",
            )
        )
    return problems


def training_problems(env: EnvironmentConfig) -> list[tuple[str, Any, str]]:
    """Cross-field checks of the training section against the data section and the tier."""
    problems: list[tuple[str, Any, str]] = []
    datasets = {d.name: d for d in env.data.datasets}
    names = [t.model_name for t in env.training]
    for dupe in sorted({n for n in names if names.count(n) > 1}):
        problems.append(("training", dupe, "expected unique model names"))
    for i, t in enumerate(env.training):
        at = f"training.{i}"
        dataset = datasets.get(t.dataset)
        if dataset is None:
            problems.append(
                (f"{at}.dataset", t.dataset, f"expected one of the datasets {list(datasets)}")
            )
        else:
            curated = dataset.curated_columns
            for name, column in (
                ("label_column", t.label_column),
                ("key_column", t.key_column),
                *(("feature_columns", c) for c in t.feature_columns),
            ):
                if column not in curated:
                    problems.append(
                        (
                            f"{at}.{name}",
                            column,
                            f"expected a curated column of {t.dataset} {curated}",
                        )
                    )
            if t.bias_facet not in t.feature_columns:
                problems.append(
                    (f"{at}.bias_facet", t.bias_facet, "expected one of the feature_columns")
                )
            problems += _bias_threshold_problems(at, t, dataset)
            if t.label_column in t.feature_columns:
                problems.append(
                    (f"{at}.feature_columns", t.label_column, "expected features without the label")
                )
        if env.tier != Tier.DEV and t.approval_status != "PendingManualApproval":
            problems.append(
                (
                    f"{at}.approval_status",
                    t.approval_status,
                    "expected PendingManualApproval outside dev",
                )
            )
    return problems

"""The training sections: one model-building pipeline each; and their cross-field checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from mlops_constructs.core.props import AwsCron, InstanceType, Problem, settings_field
from mlops_constructs.glue.props import check_identifier
from mlops_constructs.training.props import HyperparameterRange, TuningSettings, tuning_problems
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


#: One tuned hyperparameter: the training construct's own type.
HyperparameterRangeConfig = HyperparameterRange


#: TuningSettings fields the config names otherwise.
_TUNING_FIELDS = {
    "ranges": "hyperparameter_ranges",
    "xgboost_version": "algorithm_version",
    "training_instance_type": "instance_type",
}


class TrainingConfig(_Strict):
    """The model-building pipeline of one model: data, algorithm, tuning, spot, gate."""

    model_name: str
    dataset: str
    label_column: str
    #: The model's features, in order; when none are listed, every curated column of the
    #: dataset (what the feature ETL job writes) but the label, the key, the partition
    #: columns and ``exclude_columns``, so that a new source column is one edit (see
    #: :func:`default_features`).
    feature_columns: list[str] = Field(default_factory=list)
    #: Curated columns that are not features when ``feature_columns`` is left out (such as
    #: the label's source column, or a timestamp); none by default.
    exclude_columns: list[str] = Field(default_factory=list)
    key_column: str
    bias_facet: str
    problem_type: Literal["binary_classification", "regression"] = settings_field(
        TuningSettings, "problem_type"
    )
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
    algorithm_version: str = settings_field(TuningSettings, "xgboost_version")
    input_mode: str = settings_field(TuningSettings, "input_mode")
    objective_metric: str | None = None
    hyperparameter_ranges: Sequence[HyperparameterRange] = settings_field(TuningSettings, "ranges")
    static_hyperparameters: Mapping[str, str] = settings_field(
        TuningSettings, "static_hyperparameters"
    )
    max_jobs: int = settings_field(TuningSettings, "max_jobs")
    max_parallel_jobs: int = settings_field(TuningSettings, "max_parallel_jobs")
    early_stopping: Literal["Auto", "Off"] = "Auto"
    instance_type: InstanceType = settings_field(TuningSettings, "training_instance_type")
    processing_instance_type: InstanceType = settings_field(
        TuningSettings, "processing_instance_type"
    )
    use_spot: bool = settings_field(TuningSettings, "use_spot")
    max_runtime_minutes: int = settings_field(TuningSettings, "max_runtime_minutes")
    max_wait_minutes: int = settings_field(TuningSettings, "max_wait_minutes")
    evaluation_threshold: float = Field(default=0.7)
    approval_status: Literal["PendingManualApproval", "Approved"] = "PendingManualApproval"
    schedule: AwsCron = "cron(0 3 ? * SUN *)"
    registry_reader_accounts: list[str] = Field(default_factory=list)

    _model = field_validator("model_name")(check_identifier)

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
        if self.feature_columns and self.exclude_columns:
            problems.append(
                "exclude_columns applies only to the default features: list either "
                "feature_columns or exclude_columns"
            )
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
    def tuning(self) -> TuningSettings:
        """The tuning settings, as the training construct takes them."""
        metric, direction = self.objective
        return TuningSettings(
            problem_type=self.problem_type,
            objective_metric=metric,
            objective_type=direction,
            ranges=self.hyperparameter_ranges,
            static_hyperparameters=self.static_hyperparameters,
            max_jobs=self.max_jobs,
            max_parallel_jobs=self.max_parallel_jobs,
            use_spot=self.use_spot,
            max_runtime_minutes=self.max_runtime_minutes,
            max_wait_minutes=self.max_wait_minutes,
            xgboost_version=self.algorithm_version,
            training_instance_type=self.instance_type,
            processing_instance_type=self.processing_instance_type,
            input_mode=self.input_mode,
        )

    @property
    def objective(self) -> tuple[str, Literal["Maximize", "Minimize"]]:
        """(metric, "Maximize" or "Minimize")."""
        metric = self.objective_metric or ALGORITHM_METRICS[self.algorithm][self.problem_type][0]
        return metric, "Minimize" if metric in _MINIMIZE else "Maximize"


def default_features(t: TrainingConfig, dataset: DatasetConfig) -> list[str]:
    """The features of ``t`` when it lists none: the curated columns of its ``dataset`` (what
    the feature ETL job writes), in their order, but the label, the key, the partition
    columns and ``exclude_columns``."""
    skip = {t.label_column, t.key_column, *dataset.features.partition_by, *t.exclude_columns}
    return [c for c in dataset.curated_columns if c not in skip]


def with_default_features(
    training: Sequence[TrainingConfig], datasets: Sequence[DatasetConfig]
) -> list[TrainingConfig]:
    """``training`` with :func:`default_features` where an entry lists no features (and its
    dataset is known; a missing one is reported by :func:`training_problems`)."""
    by_name = {d.name: d for d in datasets}
    filled = []
    for t in training:
        dataset = by_name.get(t.dataset)
        if not t.feature_columns and dataset is not None:
            try:
                features = default_features(t, dataset)
            except ValueError:
                # A feature spec the ETL's parser refuses: data_problems reports it.
                features = []
            t = t.model_copy(update={"feature_columns": features})
        filled.append(t)
    return filled


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
            features = t.feature_columns
            if not features:
                problems.append(
                    (
                        f"{at}.feature_columns",
                        None,
                        f"expected features: every curated column of {t.dataset} is the "
                        "label, the key, a partition column or excluded",
                    )
                )
            for name, column in (
                ("label_column", t.label_column),
                ("key_column", t.key_column),
                *(("feature_columns", c) for c in features),
                *(("exclude_columns", c) for c in t.exclude_columns),
            ):
                if column not in curated:
                    problems.append(
                        (
                            f"{at}.{name}",
                            column,
                            f"expected a curated column of {t.dataset} {curated}",
                        )
                    )
            if t.bias_facet not in features:
                problems.append(
                    (f"{at}.bias_facet", t.bias_facet, "expected one of the feature_columns")
                )
            problems += _bias_threshold_problems(at, t, dataset)
            if t.label_column in features:
                problems.append(
                    (f"{at}.feature_columns", t.label_column, "expected features without the label")
                )
        # The training construct's own rules (training/props.py), in the config's names.
        problems += [
            (f"{at}.{_TUNING_FIELDS.get(f, f)}", v, x) for f, v, x in tuning_problems(t.tuning)
        ]
        if env.tier != Tier.DEV and t.approval_status != "PendingManualApproval":
            problems.append(
                (
                    f"{at}.approval_status",
                    t.approval_status,
                    "expected PendingManualApproval outside dev",
                )
            )
    return problems

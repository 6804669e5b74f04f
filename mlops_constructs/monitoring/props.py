"""Monitoring settings: schedules, bias settings and thresholds, and the metrics known."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Annotated

from pydantic import AfterValidator, Field

from mlops_constructs.core.props import Problem, resolved, settings

#: Monitoring types, in the order the construct makes them.
DATA_QUALITY, MODEL_QUALITY, MODEL_BIAS, MODEL_EXPLAINABILITY = (
    "DataQuality",
    "ModelQuality",
    "ModelBias",
    "ModelExplainability",
)
#: What :class:`~mlops_constructs.monitoring.ModelMonitor` makes. Not ``ModelExplainability``:
#: Clarify's SHAP analysis sends synthetic requests to the endpoint (see ModelMonitor).
MONITORING_TYPES = (DATA_QUALITY, MODEL_QUALITY, MODEL_BIAS)

#: A monitoring job's runtime by default: the most an hourly model-quality or model-bias
#: schedule allows (botocore's sagemaker model, ``MonitoringStoppingCondition``).
DEFAULT_MAX_RUNTIME_SECONDS = 1800
#: ``MonitoringStoppingCondition.MaxRuntimeInSeconds`` (botocore's sagemaker model, and the
#: API Reference page "MonitoringStoppingCondition"): 1 to 86400 seconds, at most the
#: schedule's frequency, and at most 1800 seconds on an hourly model-quality or model-bias
#: schedule (3600 for data quality).
MAX_RUNTIME_RANGE = (1, 86400)
_HOURLY_RUNTIME_LIMIT = {DATA_QUALITY: 3600, MODEL_QUALITY: 1800, MODEL_BIAS: 1800}
_RUNTIME_PAGE = (
    'see the API Reference page "MonitoringStoppingCondition" and "The cron expression for '
    'monitoring schedule" (model-monitor-schedule-expression)'
)

#: The cron forms Model Monitor accepts: hourly, daily at an hour, or every N hours from an
#: hour (an interval of at least one hour).
_MONITOR_CRON = re.compile(
    r"^cron\(0 (\*|(?:[01]?\d|2[0-3])(?:/(?:[1-9]|1\d|2[0-4]))?) \? \* \* \*\)$"
)

#: Model-quality metrics Model Monitor publishes per problem type, and their ranges.
QUALITY_METRICS: dict[str, dict[str, tuple[float, float]]] = {
    "regression": {
        "rmse": (0, float("inf")),
        "mae": (0, float("inf")),
        "mse": (0, float("inf")),
        "r2": (float("-inf"), 1),
    },
    "binary_classification": {
        "auc": (0, 1),
        "accuracy": (0, 1),
        "f1": (0, 1),
        "precision": (0, 1),
        "recall": (0, 1),
    },
}
#: The model-quality metric alarmed on when none is chosen.
DEFAULT_QUALITY_METRIC = {"regression": "rmse", "binary_classification": "auc"}
#: Metrics where lower is worse (the alarm fires below the threshold).
_HIGHER_IS_BETTER = {"r2", "auc", "accuracy", "f1", "precision", "recall"}
#: Bias metrics the monitor computes (Clarify short names) and their ranges. The alarms fire
#: above the threshold: positive values mean the facet is disadvantaged.
BIAS_METRICS: dict[str, tuple[float, float]] = {
    "DPL": (-1, 1),  # difference in proportions of labels
    "KL": (0, float("inf")),  # Kullback-Leibler divergence
    "TVD": (0, 1),  # total variation distance (L1 / 2)
    "CDDL": (-1, 1),  # conditional demographic disparity in labels
}
_PROBLEM_TYPES = {"regression": "Regression", "binary_classification": "BinaryClassification"}


def is_monitor_cron(expression: str) -> bool:
    """True for the schedule expressions Model Monitor accepts (see ``_MONITOR_CRON``)."""
    return bool(_MONITOR_CRON.match(expression))


def _monitor_cron(value: str) -> str:
    if not is_monitor_cron(value):
        raise ValueError(
            "expected a Model Monitor schedule: hourly 'cron(0 * ? * * *)', daily "
            "'cron(0 H ? * * *)' or every N hours 'cron(0 H/N ? * * *)'"
        )
    return value


#: A schedule Model Monitor accepts (see :func:`is_monitor_cron`).
MonitorCron = Annotated[str, AfterValidator(_monitor_cron)]


def schedule_interval_seconds(expression: str) -> int | None:
    """The shortest time between two runs of a Model Monitor ``cron(...)`` (3600 hourly,
    86400 daily, the smallest gap of ``cron(0 H/N ? * * *)`` across midnight too: ``0/5``
    runs at 0, 5, 10, 15, 20, so 4 hours from 20 to 0); ``None`` for an expression Model
    Monitor refuses (:func:`is_monitor_cron`)."""
    match = _MONITOR_CRON.match(expression)
    if not match:
        return None
    hours = match.group(1)
    if hours == "*":
        return 3600
    start, _, step = hours.partition("/")
    runs = list(range(int(start), 24, int(step))) if step else [int(start)]
    gaps = [b - a for a, b in pairwise(runs)] + [24 - runs[-1] + runs[0]]
    return min(gaps) * 3600


@settings
class MonitorSchedules:
    """One Model Monitor ``cron(...)`` per monitoring type (hourly by default for data
    quality; daily for the others, whose ground truth arrives later): hourly, daily at an
    hour, or every N hours from an hour. No model-explainability schedule: ModelMonitor does
    not run Clarify's SHAP analysis (it would send requests to the endpoint). The rules
    relating them to the jobs' runtime: :func:`runtime_problems`."""

    data_quality: MonitorCron = "cron(0 * ? * * *)"
    """Data-quality monitor, hourly by default."""
    model_quality: MonitorCron = "cron(0 4 ? * * *)"
    """Model-quality monitor, daily at 04:00 by default."""
    model_bias: MonitorCron = "cron(0 5 ? * * *)"
    """Model-bias monitor, daily at 05:00 by default."""

    def for_type(self, monitoring_type: str) -> str:
        """The schedule of ``monitoring_type`` (one of :data:`MONITORING_TYPES`)."""
        return {
            DATA_QUALITY: self.data_quality,
            MODEL_QUALITY: self.model_quality,
            MODEL_BIAS: self.model_bias,
        }[monitoring_type]


def runtime_problems(schedules: MonitorSchedules, max_runtime_seconds: int) -> list[Problem]:
    """What is wrong with ``max_runtime_seconds`` for the jobs on ``schedules``:
    CreateMonitoringSchedule refuses a runtime outside 1 to 86400 seconds, longer than the
    shortest time between two runs of a schedule, or above 1800 seconds on an hourly
    model-quality or model-bias schedule (3600 on an hourly data-quality one). Each problem's
    field is ``max_runtime_seconds`` and its message names the schedule and the page."""
    if not resolved(max_runtime_seconds):
        return []
    low, high = MAX_RUNTIME_RANGE
    if not low <= max_runtime_seconds <= high:
        return [("max_runtime_seconds", max_runtime_seconds, f"expected {low} to {high} "
                 f"seconds ({_RUNTIME_PAGE})")]  # fmt: skip
    problems: list[Problem] = []
    for monitoring_type in MONITORING_TYPES:
        expression = schedules.for_type(monitoring_type)
        interval = schedule_interval_seconds(expression) if resolved(expression) else None
        if interval is None:
            continue
        limit = _HOURLY_RUNTIME_LIMIT[monitoring_type] if interval == 3600 else interval
        if max_runtime_seconds > limit:
            problems.append(
                (
                    "max_runtime_seconds",
                    max_runtime_seconds,
                    f"expected at most {limit} seconds for the {monitoring_type} schedule "
                    f"{expression!r} (a job must end before the next run"
                    + (
                        f"; hourly {monitoring_type} jobs at most {limit}"
                        if interval == 3600
                        else ""
                    )
                    + f"; {_RUNTIME_PAGE})",
                )
            )
    return problems


@settings
class BiasSettings:
    """Who the bias metrics compare: the ``facet`` column at ``facet_value`` against the
    rest; the positive outcome is a label above ``label_threshold`` (regression) or equal to
    one of ``label_values`` (classification); and the alarm threshold of each metric. The
    rules relating them to the model: :func:`bias_problems`."""

    facet: str
    """The sensitive feature column (required; the app's config takes the training's
    ``bias_facet``)."""
    # int | float: an int stays an int in the analysis configuration (as it always has).
    facet_value: int | float = 1
    """The facet's sensitive group, 1 by default (a one-hot column's 1)."""
    label_threshold: float | None = None
    """Labels above it are the positive outcome; required for a regression model, none by
    default."""
    label_values: Annotated[Sequence[float], Field(min_length=1)] = (1,)
    """The positive outcome's label values when there is no ``label_threshold``, [1] by
    default."""
    group_variable: str | None = None
    """A feature column CDDL is conditioned on; none by default."""
    # No CDDL by default: it is conditioned on a group variable, which has no default.
    thresholds: Mapping[str, float] = Field(
        default_factory=lambda: {"DPL": 0.2, "KL": 0.2, "TVD": 0.2}
    )
    """Alarm threshold per bias metric (DPL, KL, TVD, CDDL), above 0 and below the
    metric's maximum; ``{DPL: 0.2, KL: 0.2, TVD: 0.2}`` by default (CDDL needs a
    ``group_variable``)."""


def bias_problems(problem_type: str, features: Sequence[str], bias: BiasSettings) -> list[Problem]:
    """What is wrong with ``bias`` for a ``problem_type`` model with ``features`` (the
    facet itself is the model's, checked with its features): an unknown metric, a threshold
    out of its metric's range, CDDL without a group variable, a group variable that is not a
    feature, a regression model without a label threshold. Fields are ``bias``'s."""
    problems: list[Problem] = []
    for name, value in bias.thresholds.items():
        if name not in BIAS_METRICS:
            problems.append(("thresholds", name, f"expected one of {list(BIAS_METRICS)}"))
            continue
        low, high = BIAS_METRICS[name]
        if resolved(value) and not 0 < value < high:
            problems.append(
                (
                    f"thresholds.{name}",
                    value,
                    f"expected above 0 and below {high} ({name} ranges over [{low}, {high}]; "
                    "the alarm fires above it)",
                )
            )
    if "CDDL" in bias.thresholds and bias.group_variable is None:
        problems.append(
            (
                "thresholds.CDDL",
                bias.thresholds["CDDL"],
                "expected a bias.group_variable: CDDL is conditioned on one",
            )
        )
    if bias.group_variable is not None and bias.group_variable not in features:
        problems.append(
            (
                "group_variable",
                bias.group_variable,
                f"expected one of the features {list(features)} (or none)",
            )
        )
    if problem_type == "regression" and bias.label_threshold is None:
        problems.append(
            (
                "label_threshold",
                None,
                "expected the label value above which an outcome counts as positive (a "
                "regression model's bias needs one)",
            )
        )
    return problems


@settings
class MonitorThresholds:
    """Alarm thresholds: ``feature_drift`` (the distance Model Monitor reports per feature
    against the baseline) and one model-quality metric's threshold. The rules relating them
    to the model: :func:`quality_problems`."""

    feature_drift: float = Field(default=0.2, gt=0, le=1)
    """Distance per feature against the baseline above which the drift alarm fires, above
    0 and at most 1; 0.2 by default."""
    quality_metric: str | None = None
    """The model-quality metric alarmed on (see ``QUALITY_METRICS``); by default the
    problem type's (``DEFAULT_QUALITY_METRIC``: rmse for regression, auc for binary
    classification)."""
    quality_threshold: float = 1.0
    """The quality metric's alarm threshold, within the metric's range; 1.0 by default."""

    def metric(self, problem_type: str) -> str:
        """The quality metric alarmed on for a ``problem_type`` model."""
        return self.quality_metric or DEFAULT_QUALITY_METRIC.get(problem_type, "rmse")


def quality_problems(problem_type: str, thresholds: MonitorThresholds) -> list[Problem]:
    """A quality metric Model Monitor does not publish for ``problem_type``, or a threshold
    outside the metric's range. Fields are ``thresholds``'s."""
    metrics = QUALITY_METRICS.get(problem_type, {})
    metric = thresholds.metric(problem_type)
    if metric not in metrics:
        return [("quality_metric", metric, f"expected one of {sorted(metrics)} for {problem_type}")]
    low, high = metrics[metric]
    value = thresholds.quality_threshold
    if resolved(value) and not low <= value <= high:
        return [("quality_threshold", value, f"expected {metric} within [{low}, {high}]")]
    return []

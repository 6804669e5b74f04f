"""Monitoring settings: schedules, bias settings and thresholds, and the metrics known."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator

from mlops_constructs.core.props import settings

#: Monitoring types, in the order the construct makes them.
DATA_QUALITY, MODEL_QUALITY, MODEL_BIAS, MODEL_EXPLAINABILITY = (
    "DataQuality",
    "ModelQuality",
    "ModelBias",
    "ModelExplainability",
)
MONITORING_TYPES = (DATA_QUALITY, MODEL_QUALITY, MODEL_BIAS, MODEL_EXPLAINABILITY)

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


@settings
class MonitorSchedules:
    """One Model Monitor ``cron(...)`` per monitoring type (hourly by default for data
    quality; daily for the others, whose ground truth arrives later): hourly, daily at an
    hour, or every N hours from an hour."""

    data_quality: MonitorCron = "cron(0 * ? * * *)"
    """Data-quality monitor, hourly by default."""
    model_quality: MonitorCron = "cron(0 4 ? * * *)"
    """Model-quality monitor, daily at 04:00 by default."""
    model_bias: MonitorCron = "cron(0 5 ? * * *)"
    """Model-bias monitor, daily at 05:00 by default."""
    model_explainability: MonitorCron = "cron(0 6 ? * * *)"
    """Model-explainability monitor, daily at 06:00 by default."""

    def for_type(self, monitoring_type: str) -> str:
        return {
            DATA_QUALITY: self.data_quality,
            MODEL_QUALITY: self.model_quality,
            MODEL_BIAS: self.model_bias,
            MODEL_EXPLAINABILITY: self.model_explainability,
        }[monitoring_type]


@dataclass(frozen=True)
class BiasSettings:
    """Who the bias metrics compare: the ``facet`` column at ``facet_value`` (one-hot 1 by
    default) against the rest; the positive outcome is a label above ``label_threshold``
    (regression) or equal to one of ``label_values`` (classification). ``thresholds`` maps
    metric short names to alarm thresholds, ``{"DPL": 0.2, "KL": 0.2, "TVD": 0.2}`` by
    default; a ``CDDL`` threshold needs a ``group_variable`` column (none by default)."""

    facet: str
    facet_value: float = 1
    label_threshold: float | None = None
    label_values: Sequence[float] = (1,)
    group_variable: str | None = None
    # No CDDL by default: it is conditioned on a group variable, which has no default.
    thresholds: Mapping[str, float] = field(
        default_factory=lambda: {"DPL": 0.2, "KL": 0.2, "TVD": 0.2}
    )


@dataclass(frozen=True)
class MonitorThresholds:
    """Alarm thresholds: ``feature_drift`` (the distance Model Monitor reports per feature
    against the baseline, 0 to 1) and one model-quality ``quality_metric``."""

    feature_drift: float = 0.2
    quality_metric: str = "rmse"
    quality_threshold: float = 1.0

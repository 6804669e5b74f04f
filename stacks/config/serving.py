"""The serving and monitoring sections: the endpoints (their settings are the serving
constructs' own types), Model Monitor; and their cross-field checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from mlops_constructs.core.props import InstanceType, Problem
from mlops_constructs.monitoring.props import (
    BIAS_METRICS,
    DEFAULT_QUALITY_METRIC,
    QUALITY_METRICS,
    MonitorSchedules,
)
from mlops_constructs.serving.props import (
    EndpointAlarmThresholds,
    EndpointAutoScaling,
    Rollout,
    ShadowVariant,
    autoscaling_problems,
    rollout_problems,
    smallest_fleet,
)
from stacks.config._common import Tier, _Strict

if TYPE_CHECKING:
    from stacks.config.environment import EnvironmentConfig


class EndpointSettings(_Strict):
    """Instances, data capture, rollout, autoscaling and alarms of one endpoint."""

    instance_type: InstanceType = "ml.m5.large"
    instance_count: int = Field(default=1, ge=1)
    capture_percentage: int = Field(default=20, ge=0, le=100)
    autoscaling: EndpointAutoScaling | None = None
    rollout: Rollout = Field(default_factory=Rollout)
    shadow: ShadowVariant | None = None
    alarms: EndpointAlarmThresholds = Field(default_factory=EndpointAlarmThresholds)


class ServingConfig(EndpointSettings):
    """The multi-model endpoint and the training ``models`` whose approved versions it gets."""

    models: list[str] = Field(min_length=1)
    #: Deploy each approved model version one delivery at a time, with a lock object (an S3
    #: conditional write); no Lambda concurrency is reserved, so new accounts work too.
    serialize_deployments: bool = True


class BiasMonitorConfig(_Strict):
    """The bias monitor's positive outcome, facet value, group variable and thresholds
    (the facet is the model's training ``bias_facet``)."""

    label_threshold: float | None = None
    label_values: list[float] = Field(default_factory=lambda: [1.0], min_length=1)
    facet_value: float = 1
    group_variable: str | None = None
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"DPL": 0.2, "KL": 0.2, "TVD": 0.2}
    )


class MonitoringConfig(EndpointSettings):
    """A single-model endpoint serving one pinned, approved version of a trained ``model``,
    its Model Monitor jobs and alarms, and retraining when drift or quality alarms fire."""

    model: str
    model_package_version: int = Field(ge=1)
    schedules: MonitorSchedules = Field(default_factory=MonitorSchedules)
    feature_drift_threshold: float = Field(default=0.2, gt=0, le=1)
    quality_metric: str | None = None
    quality_threshold: float
    bias: BiasMonitorConfig = Field(default_factory=BiasMonitorConfig)
    job_instance_type: InstanceType = "ml.m5.xlarge"
    retraining: bool = True
    retraining_cooldown_minutes: int = Field(default=360, ge=1, le=43200)


def _endpoint_problems(env: EnvironmentConfig, at: str, e: EndpointSettings) -> list[Problem]:
    """Checks shared by the multi-model and the monitored endpoints."""
    problems: list[Problem] = [
        (f"{at}.{f}", v, x)
        for f, v, x in autoscaling_problems(e.instance_type, e.instance_count, e.autoscaling)
    ]
    a = e.autoscaling
    # The documented canary/linear limits against the smallest fleet (serving.py names the
    # SageMaker documentation pages).
    fleet = smallest_fleet(e.instance_count, a)
    if env.tier == Tier.PROD:
        # Prod must keep 2 instances (checked below); one problem for a fleet that is too small.
        fleet = max(fleet, 2)
    problems += [(f"{at}.{f}", v, x) for f, v, x in rollout_problems(e.rollout, fleet)]
    if env.tier == Tier.PROD:
        lowest = min(e.instance_count, a.min_capacity if a else e.instance_count)
        if a is not None and a.off_hours is not None:
            lowest = min(lowest, a.off_hours.min_capacity)
        if lowest < 2:
            problems.append(
                (
                    f"{at}.instance_count",
                    lowest,
                    "expected at least 2 instances at all times in prod (also as autoscaling "
                    "and off-hours minimum), so that one Availability Zone can fail",
                )
            )
    return problems


def serving_problems(env: EnvironmentConfig) -> list[Problem]:
    """Cross-field checks of the serving and monitoring sections."""
    problems: list[Problem] = []
    trained = {t.model_name: t for t in env.training}
    serving = env.serving
    if serving is not None:
        problems += _endpoint_problems(env, "serving", serving)
        for model in serving.models:
            if model not in trained:
                problems.append(
                    ("serving.models", model, f"expected a training model {sorted(trained)}")
                )
        images = {
            (trained[m].algorithm, trained[m].algorithm_version)
            for m in serving.models
            if m in trained
        }
        if len(images) > 1:
            problems.append(
                (
                    "serving.models",
                    serving.models,
                    f"expected models of one algorithm and version (one container), got "
                    f"{sorted(images)}",
                )
            )
    seen: set[str] = set()
    for i, m in enumerate(env.monitoring):
        at = f"monitoring.{i}"
        problems += _endpoint_problems(env, at, m)
        if m.model in seen:
            problems.append((f"{at}.model", m.model, "expected each model monitored once"))
        seen.add(m.model)
        if m.capture_percentage == 0:
            problems.append(
                (
                    f"{at}.capture_percentage",
                    0,
                    "expected data capture on (1-100): every monitor reads the captured traffic",
                )
            )
        t = trained.get(m.model)
        if t is None:
            problems.append(
                (f"{at}.model", m.model, f"expected a training model {sorted(trained)}")
            )
            continue
        metrics = QUALITY_METRICS[t.problem_type]
        metric = m.quality_metric or DEFAULT_QUALITY_METRIC[t.problem_type]
        if metric not in metrics:
            problems.append(
                (
                    f"{at}.quality_metric",
                    metric,
                    f"expected one of {sorted(metrics)} for {t.problem_type} model {m.model}",
                )
            )
        else:
            low, high = metrics[metric]
            if not low <= m.quality_threshold <= high:
                problems.append(
                    (
                        f"{at}.quality_threshold",
                        m.quality_threshold,
                        f"expected {metric} within [{low}, {high}]",
                    )
                )
        b = m.bias
        for name, value in b.thresholds.items():
            if name not in BIAS_METRICS:
                problems.append(
                    (f"{at}.bias.thresholds", name, f"expected one of {list(BIAS_METRICS)}")
                )
                continue
            low, high = BIAS_METRICS[name]
            if not 0 < value < high:
                problems.append(
                    (
                        f"{at}.bias.thresholds.{name}",
                        value,
                        f"expected above 0 and below {high} ({name} ranges over [{low}, {high}]; "
                        "the alarm fires above it)",
                    )
                )
        if "CDDL" in b.thresholds and b.group_variable is None:
            problems.append(
                (f"{at}.bias.group_variable", None, "expected a feature column: CDDL needs one")
            )
        if b.group_variable is not None and b.group_variable not in t.feature_columns:
            problems.append(
                (
                    f"{at}.bias.group_variable",
                    b.group_variable,
                    f"expected one of the feature_columns {t.feature_columns}",
                )
            )
        if t.problem_type == "regression" and b.label_threshold is None:
            problems.append(
                (
                    f"{at}.bias.label_threshold",
                    None,
                    f"expected the value of {t.label_column} above which an outcome counts as "
                    "positive (a regression model's bias needs one)",
                )
            )
    return problems

"""The Model Monitor schedules are declared once, for the construct and the config, with the
runtime rules the config applies too."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops_constructs.monitoring.props import (
    DEFAULT_MAX_RUNTIME_SECONDS,
    MONITORING_TYPES,
    MonitorSchedules,
    runtime_problems,
    schedule_interval_seconds,
)
from stacks.config import MonitoringConfig


@pytest.mark.parametrize("cron", ["cron(15 * ? * * *)", "cron(0 2 ? * MON *)", "rate(1 hour)"])
def test_a_schedule_model_monitor_refuses_is_refused_when_made(cron):
    with pytest.raises(ValidationError, match="expected a Model Monitor schedule"):
        MonitorSchedules(model_bias=cron)


@pytest.mark.parametrize("cron", ["cron(0 * ? * * *)", "cron(0 4 ? * * *)", "cron(0 0/6 ? * * *)"])
def test_hourly_daily_and_every_n_hours_are_accepted(cron):
    assert MonitorSchedules(data_quality=cron).data_quality == cron


def test_the_config_embeds_the_construct_type():
    field = MonitoringConfig.model_fields["schedules"]
    assert field.annotation is MonitorSchedules
    assert field.default_factory is MonitorSchedules


@pytest.mark.parametrize(
    ("cron", "seconds"),
    [
        ("cron(0 * ? * * *)", 3600),
        ("cron(0 4 ? * * *)", 86400),
        ("cron(0 0/6 ? * * *)", 6 * 3600),
        # 0, 5, 10, 15, 20: four hours from 20:00 to midnight.
        ("cron(0 0/5 ? * * *)", 4 * 3600),
        # 17 only (17 + 12 is past 23): once a day.
        ("cron(0 17/12 ? * * *)", 86400),
        ("rate(1 hour)", None),
    ],
)
def test_schedule_interval_is_the_shortest_gap_between_runs(cron, seconds):
    assert schedule_interval_seconds(cron) == seconds


def test_the_default_runtime_fits_every_default_schedule():
    assert runtime_problems(MonitorSchedules(), DEFAULT_MAX_RUNTIME_SECONDS) == []
    assert DEFAULT_MAX_RUNTIME_SECONDS == 1800


@pytest.mark.parametrize("kind", ["model_quality", "model_bias"])
def test_hourly_quality_and_bias_jobs_run_at_most_1800_seconds(kind):
    hourly = MonitorSchedules(**{kind: "cron(0 * ? * * *)"})
    assert runtime_problems(hourly, 1800) == []
    ((field, got, expected),) = runtime_problems(hourly, 1801)
    assert (field, got) == ("max_runtime_seconds", 1801)
    assert "at most 1800 seconds" in expected and "MonitoringStoppingCondition" in expected


def test_an_hourly_data_quality_job_may_run_an_hour_and_no_more():
    hourly = MonitorSchedules(data_quality="cron(0 * ? * * *)")
    assert runtime_problems(hourly, 3600) == []
    ((_, _, expected),) = runtime_problems(hourly, 3601)
    assert "DataQuality schedule 'cron(0 * ? * * *)'" in expected


def test_runtime_must_fit_the_schedule_interval_and_the_api_range():
    every_two_hours = MonitorSchedules(data_quality="cron(0 0/2 ? * * *)")
    assert runtime_problems(every_two_hours, 7200) == []
    assert [p[2][:30] for p in runtime_problems(every_two_hours, 7201)] == [
        "expected at most 7200 seconds "
    ]
    assert runtime_problems(MonitorSchedules(), 0)[0][2].startswith("expected 1 to 86400")
    assert runtime_problems(MonitorSchedules(), 86401)[0][2].startswith("expected 1 to 86400")


def test_no_explainability_schedule():
    """ModelMonitor runs no Clarify SHAP job (it would call the endpoint)."""
    assert MONITORING_TYPES == ("DataQuality", "ModelQuality", "ModelBias")
    with pytest.raises(ValidationError):
        MonitorSchedules(model_explainability="cron(0 6 ? * * *)")

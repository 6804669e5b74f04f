"""The Model Monitor schedules are declared once, for the construct and the config."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops_constructs.monitoring.props import MonitorSchedules
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

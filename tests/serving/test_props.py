"""The serving settings are declared once: bounds refuse a bad value when the settings are
made (in code and in the config alike), tokens pass through, and the cross-field rules are
the same functions for the construct and the config."""

from __future__ import annotations

import dataclasses

import pytest
from aws_cdk import App, CfnParameter, Stack, Token
from pydantic import ValidationError

from mlops_constructs.serving.props import (
    EndpointAlarmThresholds,
    EndpointAutoScaling,
    OffHours,
    Rollout,
    ShadowVariant,
    autoscaling_problems,
)
from stacks.config import EndpointSettings


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: EndpointAutoScaling(min_capacity=0), "min_capacity"),
        (lambda: EndpointAutoScaling(utilization_metric="GPU"), "utilization_metric"),
        (lambda: EndpointAutoScaling(scale_in_cooldown_seconds=3601), "scale_in_cooldown_seconds"),
        (lambda: OffHours(min_capacity=1, max_capacity=1, start="at 7pm"), "start"),
        (lambda: Rollout(step_percent=51), "step_percent"),
        (lambda: Rollout(traffic="SOMETIMES"), "traffic"),
        (lambda: Rollout(bake_seconds=7200), "bake_seconds"),
        (lambda: ShadowVariant(instance_type="m5.large"), "instance_type"),
        (lambda: ShadowVariant(instance_type="ml.m5.large", traffic_percent=0), "traffic_percent"),
        (lambda: EndpointAlarmThresholds(periods=0), "periods"),
        (lambda: EndpointAlarmThresholds(lantency=5), "lantency"),
    ],
)
def test_a_value_out_of_bounds_is_refused_when_made(make, field):
    with pytest.raises(ValidationError) as raised:
        make()
    assert [e["loc"] for e in raised.value.errors()] == [(field,)]


def test_defaults_are_the_documented_ones_and_the_config_uses_them():
    assert EndpointAutoScaling() == EndpointAutoScaling(
        min_capacity=1,
        max_capacity=2,
        invocations_per_instance=100,
        scale_in_cooldown_seconds=600,
        scale_out_cooldown_seconds=120,
        utilization_metric=None,
        utilization_target=70.0,
        off_hours=None,
    )
    assert Rollout() == Rollout(traffic=None, step_percent=10, wait_seconds=300, bake_seconds=600)
    settings = EndpointSettings.model_validate({"autoscaling": {"max_capacity": 3}})
    assert isinstance(settings.autoscaling, EndpointAutoScaling)
    assert settings.autoscaling == EndpointAutoScaling(max_capacity=3)
    assert settings.rollout == Rollout() and settings.alarms == EndpointAlarmThresholds()


def test_settings_stay_frozen_dataclasses():
    rollout = Rollout()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rollout.step_percent = 20  # type: ignore[misc]
    assert dataclasses.replace(rollout, traffic="LINEAR").traffic == "LINEAR"
    with pytest.raises(ValidationError):
        dataclasses.replace(rollout, step_percent=0)


def test_tokens_pass_through_unchecked():
    stack = Stack(App(), "Tokens")
    count = CfnParameter(stack, "Count", type="Number").value_as_number
    scaling = EndpointAutoScaling(min_capacity=count, max_capacity=count)
    assert Token.is_unresolved(scaling.min_capacity)
    # Unknown until deploy time: no rule compares them.
    assert autoscaling_problems("ml.m5.large", 2, scaling) == []


def test_autoscaling_rules():
    scaling = EndpointAutoScaling(
        min_capacity=3, max_capacity=2, off_hours=OffHours(min_capacity=2, max_capacity=4)
    )
    assert autoscaling_problems("ml.t2.medium", 2, scaling) == [
        (
            "instance_type",
            "ml.t2.medium",
            "expected a non-burstable type with autoscaling (SageMaker cannot scale "
            "ml.t* instances): choose e.g. ml.m5.large or remove autoscaling",
        ),
        ("autoscaling.min_capacity", 3, "expected at most max_capacity (2)"),
        (
            "autoscaling.off_hours",
            {"min_capacity": 2, "max_capacity": 4},
            "expected min_capacity <= max_capacity <= 2",
        ),
    ]
    assert autoscaling_problems("ml.m5.large", 5, EndpointAutoScaling(max_capacity=4)) == [
        ("instance_count", 5, "expected within the autoscaling bounds 1-4")
    ]
    assert autoscaling_problems("ml.t2.medium", 1, None) == []

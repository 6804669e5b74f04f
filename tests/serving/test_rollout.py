"""Blue/green rollouts: SageMaker's documented canary and linear step limits, checked by the
endpoint construct and by the config, and a valid default for one-instance endpoints."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from mlops_constructs import PropsError
from mlops_constructs.serving.endpoint import MultiModelEndpoint
from mlops_constructs.serving.props import EndpointAutoScaling, OffHours, Rollout, rollout_problems
from stacks.config import ENVIRONMENTS_CONTEXT_KEY, load_config
from tests.helpers import config_problems, endpoint_base, synth_construct

IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _routing(**props: Any) -> dict[str, Any]:
    def build(stack):
        _, base = endpoint_base(stack)
        return MultiModelEndpoint(stack, "Endpoint", **base, image_uri=IMAGE, **props)

    template, _, _ = synth_construct(build, nag=False)
    (endpoint,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    policy = endpoint["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    return policy


@pytest.mark.parametrize(
    ("rollout", "fleet", "field"),
    [
        # LinearStepSize: 10-50% of the variant's instances (above 50 Rollout refuses, see
        # test_steps_above_half_are_refused_when_made).
        (Rollout(traffic="LINEAR", step_percent=9), 20, "rollout.step_percent"),
        # One instance cannot hold a canary of at most half the fleet.
        (Rollout(traffic="CANARY", step_percent=10), 1, "rollout.traffic"),
        (Rollout(traffic="LINEAR", step_percent=50), 1, "rollout.traffic"),
        # 40% of 3 instances is 2 whole instances: more than half the fleet.
        (Rollout(traffic="CANARY", step_percent=40), 3, "rollout.step_percent"),
    ],
)
def test_steps_outside_the_documented_limits_are_refused(rollout, fleet, field):
    found = rollout_problems(rollout, fleet)
    assert [f for f, _, _ in found] == [field], found


@pytest.mark.parametrize("traffic", ["CANARY", "LINEAR"])
def test_steps_above_half_are_refused_when_made(traffic):
    # CanarySize at most 50%, LinearStepSize 10-50% of the variant's instances.
    with pytest.raises(ValidationError, match="step_percent"):
        Rollout(traffic=traffic, step_percent=51)


@pytest.mark.parametrize(
    ("rollout", "fleet"),
    [
        (Rollout(traffic="CANARY", step_percent=10), 2),
        (Rollout(traffic="CANARY", step_percent=50), 2),
        (Rollout(traffic="LINEAR", step_percent=10), 10),
        (Rollout(traffic="LINEAR", step_percent=25), 2),
        (Rollout(traffic="ALL_AT_ONCE"), 1),
        (Rollout(), 1),
        (Rollout(), 2),
    ],
)
def test_steps_within_the_limits_pass(rollout, fleet):
    assert rollout_problems(rollout, fleet) == []


def test_construct_refuses_a_canary_on_one_instance():
    with pytest.raises(PropsError) as raised:
        _routing(instance_count=1, rollout=Rollout(traffic="CANARY", step_percent=25))
    assert "rollout.traffic: got 'CANARY'" in str(raised.value)


def test_construct_counts_the_smallest_fleet_autoscaling_allows():
    scaling = EndpointAutoScaling(
        min_capacity=2, max_capacity=4, off_hours=OffHours(min_capacity=1, max_capacity=2)
    )
    with pytest.raises(PropsError) as raised:
        _routing(instance_count=2, autoscaling=scaling, rollout=Rollout(traffic="LINEAR"))
    assert "rollout.traffic: got 'LINEAR'" in str(raised.value)


def test_default_rollout_of_one_instance_is_all_at_once_baked_with_rollback():
    policy = _routing(instance_count=1)
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "ALL_AT_ONCE",
        "WaitIntervalInSeconds": 300,
    }
    assert policy["TerminationWaitInSeconds"] == 600


def test_default_rollout_of_two_instances_is_a_canary_of_one():
    policy = _routing(instance_count=2)
    assert policy["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert policy["TrafficRoutingConfiguration"]["CanarySize"] == {
        "Type": "CAPACITY_PERCENT",
        "Value": 10,
    }


def _with(base_context, env: str, **serving: Any) -> dict[str, Any]:
    ctx = copy.deepcopy(base_context)
    ctx[ENVIRONMENTS_CONTEXT_KEY][env]["serving"].update(serving)
    return ctx


def test_config_refuses_a_canary_on_a_one_instance_endpoint(base_context):
    ctx = _with(
        base_context,
        "staging",
        instance_count=1,
        autoscaling=None,
        rollout={"traffic": "CANARY", "step_percent": 25},
    )
    (problem,) = config_problems(ctx)
    assert "environment 'staging', field 'serving.rollout.traffic': got 'CANARY'" in problem
    assert "deployment-guardrails" not in problem  # the page is named in the code, not here


def test_config_refuses_a_linear_step_above_half(base_context):
    ctx = _with(base_context, "prod", rollout={"traffic": "LINEAR", "step_percent": 75})
    (problem,) = config_problems(ctx)
    assert "field 'serving.rollout.step_percent': got 75" in problem


def test_shipped_rollouts_are_valid_and_one_instance_endpoints_shift_all_at_once(base_context):
    config = load_config(base_context)
    for env in config.environments:
        for settings in [env.serving, *env.monitoring]:
            assert settings is not None
            a = settings.autoscaling
            fleet = min(
                settings.instance_count,
                a.min_capacity if a else settings.instance_count,
                a.off_hours.min_capacity if a and a.off_hours else settings.instance_count,
            )
            rollout = settings.rollout
            assert rollout_problems(rollout, fleet) == [], (env.name, settings.rollout)
            if fleet == 1:
                assert rollout.for_fleet(fleet).traffic == "ALL_AT_ONCE"
            if env.tier != "dev":  # dev swaps at once for speed; others keep a rollback window
                assert settings.rollout.bake_seconds > 0, env.name

"""A/B tests and shadow variants by SageMaker's rules: the production variants, their weights,
models, alarms, autoscaling and dashboard; what stack updates keep of run-time weights; the
rules (A/B and shadow exclusive, variant limits); and the weights command against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_constructs import PropsError
from mlops_constructs.serving.endpoint import ModelPackageEndpoint, MultiModelEndpoint
from mlops_constructs.serving.props import (
    ABTest,
    Challenger,
    EndpointAutoScaling,
    Rollout,
    ShadowVariant,
    ab_test_problems,
    rollout_problems,
    smallest_fleet,
)
from tests.helpers import endpoint_base, lint_problems, synth_construct
from tools import endpoint_weights
from tools.endpoint_weights import WeightsError, planned_weights, shift_weights

IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
NEWER = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1-newer"
PACKAGE = "arn:aws:sagemaker:eu-west-1:284751930618:model-package/mlops-dev-spend/3"

AB = ABTest(
    champion_weight=9,
    challengers=(
        Challenger(name="c5", weight=1, instance_type="ml.c5.large", instance_count=2),
        Challenger(
            name="newer-image",
            weight=0.5,
            image_uri=NEWER,
            autoscaling=EndpointAutoScaling(min_capacity=1, max_capacity=3),
        ),
    ),
)


def _endpoint(stack, **props):
    _, base = endpoint_base(stack)
    if "model_package_arn" in props:
        return ModelPackageEndpoint(stack, "Endpoint", **base, **props)
    return MultiModelEndpoint(stack, "Endpoint", **base, image_uri=IMAGE, **props)


@pytest.fixture(scope="module")
def ab():
    """An A/B test of two challengers (one on other instances, one on another image with
    autoscaling) beside an autoscaled champion, synthesized once with cdk-nag."""
    return synth_construct(
        lambda s: _endpoint(
            s,
            instance_count=2,
            autoscaling=EndpointAutoScaling(min_capacity=2, max_capacity=4),
            ab_test=AB,
        )
    )


def _one(template, type_: str) -> dict[str, Any]:
    (item,) = template.find_resources(type_).values()
    return item["Properties"]


def _id(stack, construct) -> str:
    return stack.resolve(construct.logical_id)


def test_variants_and_weights_in_the_endpoint_config(ab):
    template, endpoint, stack = ab
    config = _one(template, "AWS::SageMaker::EndpointConfig")
    variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
    assert list(variants) == ["AllTraffic", "c5", "newer-image"]
    assert {n: v["InitialVariantWeight"] for n, v in variants.items()} == {
        "AllTraffic": 9,
        "c5": 1,
        "newer-image": 0.5,
    }
    assert {n: (v["InstanceType"], v["InitialInstanceCount"]) for n, v in variants.items()} == {
        "AllTraffic": ("ml.m5.large", 2),
        "c5": ("ml.c5.large", 2),
        "newer-image": ("ml.m5.large", 1),  # the champion's type by default
    }
    assert "ShadowProductionVariants" not in config
    # The challenger without an image serves the champion's model; the other gets a model
    # of its own image over the same archives, as locked down as the champion's.
    champion = {"Fn::GetAtt": [_id(stack, endpoint.model), "ModelName"]}
    assert variants["AllTraffic"]["ModelName"] == variants["c5"]["ModelName"] == champion
    assert variants["newer-image"]["ModelName"] != champion
    models = {
        m["Properties"]["PrimaryContainer"]["Image"]: m
        for m in template.find_resources("AWS::SageMaker::Model").values()
    }
    assert set(models) == {IMAGE, NEWER}
    own, theirs = models[NEWER], models[IMAGE]
    for key in ("ModelDataUrl", "Mode", "MultiModelConfig"):
        assert (
            own["Properties"]["PrimaryContainer"][key]
            == theirs["Properties"]["PrimaryContainer"][key]
        )
    for key in ("ExecutionRoleArn", "VpcConfig", "EnableNetworkIsolation"):
        assert own["Properties"][key] == theirs["Properties"][key]
    assert own["DependsOn"] == theirs["DependsOn"]  # after the role's policy


def test_alarms_per_variant_roll_back_updates(ab):
    template, endpoint, stack = ab
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    by_variant: dict[str, set[str]] = {}
    for alarm in alarms.values():
        dims = {d["Name"]: d["Value"] for d in alarm["Properties"]["Dimensions"]}
        assert dims["EndpointName"] == endpoint.endpoint_name
        by_variant.setdefault(dims["VariantName"], set()).add(alarm["Properties"]["MetricName"])
    assert by_variant["c5"] == by_variant["newer-image"] == {"Invocation5XXErrors", "ModelLatency"}
    assert {"Invocation5XXErrors", "ModelLatency"} < by_variant["AllTraffic"]
    rollback = _one(template, "AWS::SageMaker::Endpoint")["DeploymentConfig"][
        "AutoRollbackConfiguration"
    ]["Alarms"]
    expected = [endpoint.alarms["ServerErrors"], endpoint.alarms["ModelLatency"]]
    for variant in ("c5", "newer-image"):
        expected += [
            endpoint.variant_alarms[variant]["ServerErrors"],
            endpoint.variant_alarms[variant]["ModelLatency"],
        ]
    assert rollback == [{"AlarmName": {"Ref": _id(stack, a.node.default_child)}} for a in expected]
    latency = endpoint.variant_alarms["c5"]["ModelLatency"].node.default_child
    assert template.to_json()["Resources"][_id(stack, latency)]["Properties"]["Threshold"] == (
        1_000_000
    )


def test_weights_shifted_at_run_time_survive_updates_but_instance_types_follow_config(ab):
    template, _, _ = ab
    endpoint = _one(template, "AWS::SageMaker::Endpoint")
    # Weights and (autoscaled) instance counts are kept; data capture follows the config.
    # Instance types and images are not variant properties: a new configuration always
    # brings them (API Reference, VariantProperty).
    assert endpoint["RetainAllVariantProperties"] is True
    assert endpoint["ExcludeRetainedVariantProperties"] == [
        {"VariantPropertyType": "DataCaptureConfig"}
    ]


@pytest.mark.parametrize(
    ("retain_weights", "autoscaling", "excluded"),
    [
        # Nothing scales: the configured instance counts apply on every update.
        (True, None, ["DesiredInstanceCount", "DataCaptureConfig"]),
        # Weights from the config on every deploy: run-time shifts last until the next.
        (False, None, ["DesiredInstanceCount", "DesiredWeight", "DataCaptureConfig"]),
        (False, EndpointAutoScaling(), ["DesiredWeight", "DataCaptureConfig"]),
    ],
)
def test_retained_properties_follow_the_settings(retain_weights, autoscaling, excluded):
    ab_test = ABTest(
        challengers=(Challenger(name="b", weight=1, autoscaling=autoscaling),),
        retain_weights=retain_weights,
    )
    template, _, _ = synth_construct(lambda s: _endpoint(s, ab_test=ab_test), nag=False)
    endpoint = _one(template, "AWS::SageMaker::Endpoint")
    assert endpoint["RetainAllVariantProperties"] is True
    assert [p["VariantPropertyType"] for p in endpoint["ExcludeRetainedVariantProperties"]] == (
        excluded
    )


def test_autoscaling_per_variant_and_the_champion_keeps_its_ids(ab):
    template, endpoint, stack = ab
    targets = {
        t["Properties"]["ResourceId"]: t
        for t in template.find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    }
    name = endpoint.endpoint_name
    assert set(targets) == {
        f"endpoint/{name}/variant/AllTraffic",
        f"endpoint/{name}/variant/newer-image",
    }
    challenger = targets[f"endpoint/{name}/variant/newer-image"]["Properties"]
    assert (challenger["MinCapacity"], challenger["MaxCapacity"]) == (1, 3)
    policies = template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy")
    assert sorted(p["Properties"]["ScalingTargetId"]["Ref"] for p in policies.values()) == sorted(
        [
            _id(stack, endpoint.scalable_target),
            _id(stack, endpoint.variant_scalable_targets["newer-image"]),
        ]
    )

    # The champion's resources have the logical ids they have without an A/B test.
    def ids(made):
        _, e, s = made
        return [
            _id(s, r)
            for r in (e.model, e.config, e.endpoint, e.scalable_target, *e.scaling_policies[:1])
        ] + [_id(s, a.node.default_child) for a in e.alarms.values()]

    plain = synth_construct(
        lambda s: _endpoint(
            s, instance_count=2, autoscaling=EndpointAutoScaling(min_capacity=2, max_capacity=4)
        ),
        nag=False,
    )
    assert ids(ab) == ids(plain)


def test_dashboard_shows_each_variant(ab):
    template, _, _ = ab
    body = json.dumps(_one(template, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for title in ("Invocations, by variant", "5XX errors, by variant", "Model latency p99"):
        assert title in body
    for variant in ("AllTraffic", "c5", "newer-image"):
        assert f'\\"VariantName\\",\\"{variant}\\",{{\\"label\\":\\"{variant}\\"' in body


def test_shadow_dashboard_compares_production_and_shadow():
    def body(**props):
        template, _, _ = synth_construct(lambda s: _endpoint(s, **props), nag=False)
        return json.dumps(_one(template, "AWS::CloudWatch::Dashboard")["DashboardBody"])

    shadowed = body(shadow=ShadowVariant(instance_type="ml.c5.large", traffic_percent=50))
    assert "Model latency p99 (us), production vs shadow" in shadowed
    assert '\\"VariantName\\",\\"Shadow\\"' in shadowed
    # Negative control: a lone variant has nothing to compare.
    plain = body()
    assert "production vs shadow" not in plain and "by variant" not in plain


def test_templates_are_nag_and_lint_clean(ab):
    template, _, _ = ab  # synthesized with cdk-nag: an unacknowledged finding fails it
    assert lint_problems(template) == []


# -- rules ------------------------------------------------------------------------------------


def test_ab_test_beside_a_shadow_is_refused():
    shadow = ShadowVariant(instance_type="ml.c5.large")
    with pytest.raises(PropsError) as raised:
        synth_construct(lambda s: _endpoint(s, shadow=shadow, ab_test=AB), nag=False)
    assert "ab_test: got ['c5', 'newer-image']; expected no A/B test beside a shadow" in str(
        raised.value
    )
    # Negative control: each alone is accepted.
    assert ab_test_problems(AB, instance_type="ml.m5.large") == []
    assert ab_test_problems(None, instance_type="ml.m5.large", shadow=shadow) == []


@pytest.mark.parametrize(
    ("ab_test", "kwargs", "field"),
    [
        (ABTest(challengers=(Challenger(name="AllTraffic", weight=1),)), {}, "challengers.0.name"),
        (ABTest(challengers=(Challenger(name="shadow", weight=1),)), {}, "challengers.0.name"),
        (
            ABTest(challengers=(Challenger(name="b", weight=1), Challenger(name="B", weight=1))),
            {},
            "challengers.1.name",
        ),
        # 5 variants x 2 rollback alarms = 10, SageMaker's most; 6 variants would be 12.
        (
            ABTest(challengers=tuple(Challenger(name=f"v{i}", weight=1) for i in range(5))),
            {},
            "challengers",
        ),
        (
            ABTest(champion_weight=0, challengers=(Challenger(name="b", weight=0),)),
            {},
            "champion_weight",
        ),
        (
            ABTest(challengers=(Challenger(name="b", weight=1, image_uri=NEWER),)),
            {"multi_model": False},
            "challengers.0.image_uri",
        ),
        (
            ABTest(
                challengers=(
                    Challenger(
                        name="b",
                        weight=1,
                        instance_type="ml.t2.medium",
                        autoscaling=EndpointAutoScaling(),
                    ),
                )
            ),
            {},
            "challengers.0.instance_type",
        ),
    ],
)
def test_ab_test_rules(ab_test, kwargs, field):
    found = ab_test_problems(ab_test, instance_type="ml.m5.large", **kwargs)
    assert [f for f, _, _ in found] == [f"ab_test.{field}"], found


def test_four_challengers_and_a_zero_weight_challenger_pass():
    four = ABTest(
        champion_weight=1,
        challengers=tuple(Challenger(name=f"v{i}", weight=0) for i in range(4)),
    )
    assert ab_test_problems(four, instance_type="ml.m5.large") == []


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Challenger(name="has space", weight=1), "name"),
        (lambda: Challenger(name="b", weight=-1), "weight"),
        (lambda: Challenger(name="b", weight=1, instance_count=0), "instance_count"),
        (lambda: ABTest(challengers=()), "challengers"),
        (
            lambda: ABTest(champion_weight=-0.5, challengers=(Challenger(name="b", weight=1),)),
            "champion_weight",
        ),
    ],
)
def test_a_bad_variant_setting_is_refused_when_made(make, field):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as raised:
        make()
    assert [e["loc"][0] for e in raised.value.errors()] == [field]


def test_rollout_holds_for_every_variants_fleet():
    # Traffic shifting steps by a share of each variant's instances: a one-instance
    # challenger cannot hold a canary, even when the champion has four.
    one = ABTest(challengers=(Challenger(name="b", weight=1, instance_count=1),))
    assert smallest_fleet(4, None, one) == 1
    assert smallest_fleet(4, None) == 4
    with pytest.raises(PropsError, match=r"rollout\.traffic: got 'CANARY'"):
        synth_construct(
            lambda s: _endpoint(
                s, instance_count=4, ab_test=one, rollout=Rollout(traffic="CANARY")
            ),
            nag=False,
        )
    # By default the rollout is chosen for the smallest variant: all at once here.
    template, _, _ = synth_construct(
        lambda s: _endpoint(s, instance_count=4, ab_test=one), nag=False
    )
    routing = _one(template, "AWS::SageMaker::Endpoint")["DeploymentConfig"][
        "BlueGreenUpdatePolicy"
    ]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "ALL_AT_ONCE"
    two = ABTest(challengers=(Challenger(name="b", weight=1, instance_count=2),))
    assert rollout_problems(Rollout(traffic="CANARY"), smallest_fleet(4, None, two)) == []


def test_model_package_endpoint_runs_an_ab_test_of_serving_configurations():
    ab_test = ABTest(challengers=(Challenger(name="c5", weight=1, instance_type="ml.c5.large"),))
    template, _, _ = synth_construct(
        lambda s: _endpoint(s, model_package_arn=PACKAGE, ab_test=ab_test), nag=False
    )
    variants = _one(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert [v["VariantName"] for v in variants] == ["AllTraffic", "c5"]
    template.resource_count_is("AWS::SageMaker::Model", 1)
    assert lint_problems(template) == []
    with pytest.raises(PropsError, match=r"challengers\.0\.image_uri"):
        bad = ABTest(challengers=(Challenger(name="b", weight=1, image_uri=NEWER),))
        synth_construct(lambda s: _endpoint(s, model_package_arn=PACKAGE, ab_test=bad), nag=False)


def test_instance_storage_on_a_challenger_drops_the_volume_key():
    ab_test = ABTest(challengers=(Challenger(name="d", weight=1, instance_type="ml.m5d.large"),))
    template, _, _ = synth_construct(lambda s: _endpoint(s, ab_test=ab_test), nag=False)
    assert "KmsKeyId" not in _one(template, "AWS::SageMaker::EndpointConfig")


# -- the weights command ------------------------------------------------------------------------

REGION = "eu-west-1"
ENDPOINT = "mlops-staging-serving"


@pytest.fixture
def sagemaker(monkeypatch, boto3_session) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3_session)
        client = boto3.client("sagemaker", region_name=REGION)
        client.create_model(
            ModelName="m",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/endpoint",
            PrimaryContainer={"Image": IMAGE, "Mode": "MultiModel", "ModelDataUrl": "s3://b/m/"},
        )
        client.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {
                    "VariantName": name,
                    "ModelName": "m",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": weight,
                }
                for name, weight in (("AllTraffic", 9.0), ("challenger", 1.0))
            ],
        )
        client.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="c")
        yield client


def _weights(client) -> dict[str, float]:
    described = client.describe_endpoint(EndpointName=ENDPOINT)
    return {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]}


def test_set_shifts_the_named_weights(sagemaker):
    planned = shift_weights(sagemaker, ENDPOINT, {"challenger": 3})
    assert planned == {"AllTraffic": 9.0, "challenger": 3.0}
    assert _weights(sagemaker) == planned


def test_promote_gives_one_variant_all_traffic(sagemaker, capsys):
    assert endpoint_weights.main([ENDPOINT, "promote", "challenger"], client=sagemaker) == 0
    assert _weights(sagemaker) == {"AllTraffic": 0.0, "challenger": 1.0}
    assert capsys.readouterr().out.splitlines() == ["AllTraffic\t0\t0.0%", "challenger\t1\t100.0%"]


@pytest.mark.parametrize(
    "argv",
    [
        ["set", "nobody=1"],
        ["set", "challenger=-1"],
        ["set", "challenger=nan"],
        ["set", "AllTraffic=0", "challenger=0"],
        ["set", "challenger"],
        ["set", "challenger=1", "challenger=2"],
        ["promote", "nobody"],
    ],
)
def test_refused_changes_change_nothing(sagemaker, capsys, argv):
    before = _weights(sagemaker)
    assert endpoint_weights.main([ENDPOINT, *argv], client=sagemaker) == 2
    assert capsys.readouterr().err.startswith("refused: ")
    assert _weights(sagemaker) == before == {"AllTraffic": 9.0, "challenger": 1.0}


def test_dry_run_changes_nothing(sagemaker, capsys):
    argv = [ENDPOINT, "set", "challenger=9", "--dry-run"]
    assert endpoint_weights.main(argv, client=sagemaker) == 0
    assert "challenger\t9\t50.0%" in capsys.readouterr().out
    assert _weights(sagemaker) == {"AllTraffic": 9.0, "challenger": 1.0}


def test_an_endpoint_that_is_updating_is_not_changed():
    class Updating:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def describe_endpoint(self, **_: Any) -> dict[str, Any]:
            return {
                "EndpointStatus": "Updating",
                "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentWeight": 1.0}],
            }

        def update_endpoint_weights_and_capacities(self, **_: Any) -> None:
            self.calls.append("update")

    client = Updating()
    with pytest.raises(WeightsError, match="is Updating"):
        shift_weights(client, ENDPOINT, {"AllTraffic": 2})
    assert client.calls == []


def test_planned_weights_keep_the_others():
    assert planned_weights({"a": 1, "b": 1, "c": 2}, {"b": 0}) == {"a": 1, "b": 0, "c": 2}

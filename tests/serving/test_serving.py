"""MultiModelEndpoint and ApprovedModelDeployer: what they make, their defaults and checks."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from aws_cdk import aws_iam as iam

from mlops_constructs import PropsError
from mlops_constructs.serving.deployer import ApprovedModelDeployer
from mlops_constructs.serving.endpoint import (
    ModelPackageEndpoint,
    MultiModelEndpoint,
    ServingEndpoint,
)
from mlops_constructs.serving.props import (
    EndpointAlarmThresholds,
    EndpointAutoScaling,
    OffHours,
    Rollout,
    ShadowVariant,
    has_instance_storage,
    is_burstable,
)
from tests.helpers import endpoint_base, functions_with_handler, lint_problems, synth_construct

IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _build(
    stack,
    *,
    groups: tuple[str, ...] = ("mlops-dev-spend",),
    with_deployer: bool = True,
    package: str | None = None,
    **props,
) -> ServingEndpoint:
    key, base = endpoint_base(stack)
    kind, model = (
        (ModelPackageEndpoint, {"model_package_arn": package})
        if package
        else (MultiModelEndpoint, {"image_uri": IMAGE})
    )
    endpoint = kind(stack, "Endpoint", **base, **model, **props)
    if with_deployer:
        ApprovedModelDeployer(
            stack, "Deployer", endpoint=endpoint, model_package_groups=groups, logs_key=key
        )
    return endpoint


SCALING = EndpointAutoScaling(
    min_capacity=2,
    max_capacity=6,
    invocations_per_instance=250,
    scale_in_cooldown_seconds=900,
    scale_out_cooldown_seconds=60,
    utilization_metric="MemoryUtilization",
    utilization_target=75,
    off_hours=OffHours(min_capacity=2, max_capacity=3, timezone="Europe/Dublin"),
)


@pytest.fixture(scope="module")
def made():
    template, endpoint, stack = synth_construct(
        lambda s: _build(s, instance_count=2, autoscaling=SCALING, capture_percentage=35)
    )
    return template, endpoint, stack


def _one(template, type_: str) -> tuple[str, dict[str, Any]]:
    (item,) = template.find_resources(type_).items()
    return item


def _logical_id(stack, construct) -> str:
    return stack.resolve(construct.logical_id)


def test_model_is_multi_model_over_a_prefix_isolated_in_the_vpc(made):
    template, endpoint, stack = made
    _, model = _one(template, "AWS::SageMaker::Model")
    props = model["Properties"]
    container = props["PrimaryContainer"]
    assert container["Mode"] == "MultiModel"
    assert container["Image"] == IMAGE
    url = container["ModelDataUrl"]["Fn::Join"][1]
    assert url[0] == "s3://" and url[-1] == f"/{endpoint.models_prefix}"
    assert url[-1].endswith("/models/")  # a prefix, not one archive
    assert container["MultiModelConfig"] == {"ModelCacheSetting": "Enabled"}
    assert props["EnableNetworkIsolation"] is True
    assert len(props["VpcConfig"]["Subnets"]) == 2
    assert len(props["VpcConfig"]["SecurityGroupIds"]) == 1
    assert "ModelName" not in props
    # Never created before its role's permissions exist.
    policy = endpoint.role.node.find_child("DefaultPolicy").node.default_child
    assert model["DependsOn"] == [_logical_id(stack, policy)]


def test_endpoint_config_encrypts_volumes_and_captures_data_with_kms(made):
    template, endpoint, _ = made
    _, config = _one(template, "AWS::SageMaker::EndpointConfig")
    props = config["Properties"]
    assert "EndpointConfigName" not in props
    assert props["KmsKeyId"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}
    (variant,) = props["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["InstanceType"] == "ml.m5.large"
    assert variant["InitialInstanceCount"] == 2
    capture = props["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 35
    assert capture["KmsKeyId"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert capture["DestinationS3Uri"]["Fn::Join"][1][-1] == f"/{endpoint.prefix}capture"
    assert "ShadowProductionVariants" not in props


def test_endpoint_rolls_out_blue_green_with_alarm_rollback(made):
    template, endpoint, stack = made
    _, resource = _one(template, "AWS::SageMaker::Endpoint")
    props = resource["Properties"]
    assert props["EndpointName"] == endpoint.endpoint_name
    policy = props["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
        "WaitIntervalInSeconds": 300,
    }
    assert policy["TerminationWaitInSeconds"] == 600
    alarms = [
        _logical_id(stack, endpoint.alarms[a].node.default_child)
        for a in ("ServerErrors", "ModelLatency")
    ]
    rollback = props["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert rollback == [{"AlarmName": {"Ref": a}} for a in alarms]
    assert "DependsOn" not in resource  # the Refs order it after its alarms
    # Autoscaling owns the instance count; a data capture change still applies.
    assert props["RetainAllVariantProperties"] is True
    assert props["ExcludeRetainedVariantProperties"] == [
        {"VariantPropertyType": "DataCaptureConfig"}
    ]


def test_autoscaling_targets_the_variant_and_depends_on_the_endpoint(made):
    template, endpoint, stack = made
    target_id, target = _one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    props = target["Properties"]
    assert props["ResourceId"] == f"endpoint/{endpoint.endpoint_name}/variant/AllTraffic"
    assert props["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert props["ServiceNamespace"] == "sagemaker"
    assert (props["MinCapacity"], props["MaxCapacity"]) == (2, 6)
    assert "RoleARN" not in props  # the service-linked role
    assert target["DependsOn"] == [_logical_id(stack, endpoint.endpoint)]
    start, end = props["ScheduledActions"]
    assert start["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 3}
    assert end["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 6}
    assert start["Timezone"] == end["Timezone"] == "Europe/Dublin"

    policies = {
        p["Properties"]["PolicyName"]: p
        for p in template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert set(policies) == {"invocations-per-instance", "memory-utilization"}
    for policy in policies.values():
        # The Ref is the dependency on the target.
        assert policy["Properties"]["ScalingTargetId"] == {"Ref": target_id}
        config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        assert (config["ScaleInCooldown"], config["ScaleOutCooldown"]) == (900, 60)
    invocations = policies["invocations-per-instance"]["Properties"][
        "TargetTrackingScalingPolicyConfiguration"
    ]
    assert invocations["TargetValue"] == 250
    assert invocations["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    memory = policies["memory-utilization"]["Properties"][
        "TargetTrackingScalingPolicyConfiguration"
    ]
    assert memory["TargetValue"] == 75
    assert memory["CustomizedMetricSpecification"]["MetricName"] == "MemoryUtilization"
    assert memory["CustomizedMetricSpecification"]["Namespace"] == "/aws/sagemaker/Endpoints"


def test_alarms_thresholds_and_notifications(made):
    template, endpoint, _ = made
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert {name: a["Threshold"] for name, a in alarms.items()} == {
        "Invocation5XXErrors": 5,
        "ModelLatency": 1_000_000,  # microseconds
        "ModelLoadingWaitTime": 10_000_000,
        "CPUUtilization": 90,
        "MemoryUtilization": 90,
    }
    assert alarms["ModelLatency"]["ExtendedStatistic"] == "p99"
    assert alarms["CPUUtilization"]["Namespace"] == "/aws/sagemaker/Endpoints"
    for alarm in alarms.values():
        assert "AlarmName" not in alarm
        assert alarm["EvaluationPeriods"] == 3
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": "TopicBFC7AF6E"}]
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            "EndpointName": endpoint.endpoint_name,
            "VariantName": "AllTraffic",
        }
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_role_reads_only_models_and_writes_only_capture(made):
    template, endpoint, stack = made
    role = template.to_json()["Resources"][_logical_id(stack, endpoint.role.node.default_child)]
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    attached = [
        policies[ref["Ref"]]["Properties"] for ref in role["Properties"]["ManagedPolicyArns"]
    ]
    grants = {}
    for policy in attached:
        statements = policy["PolicyDocument"]["Statement"]
        objects = next(s for s in statements if s["Sid"] == "ReadObjects")
        prefix = objects["Resource"]["Fn::Join"][1][-1]
        grants[prefix] = any(s["Sid"] == "WriteObjects" for s in statements)
    assert grants == {
        f"/{endpoint.models_prefix}*": False,
        f"/{endpoint.prefix}capture/*": True,
    }


def test_no_fixed_physical_names_but_the_endpoint(made):
    template, endpoint, _ = made
    resources = template.to_json()["Resources"].values()
    named = {
        key
        for r in resources
        for key in r.get("Properties", {})
        if key in ("ModelName", "EndpointConfigName", "AlarmName", "DashboardName", "QueueName")
        and not isinstance(r["Properties"][key], dict)
    }
    assert named == set()
    # The endpoint's name is generated from the construct path, unique in the app.
    assert endpoint.endpoint_name.startswith("TestStack-Endpoint-")
    assert len(endpoint.endpoint_name) <= 63


def test_grant_invoke_names_the_endpoint_only():
    def build(stack):
        endpoint = _build(stack, with_deployer=False)
        client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
        endpoint.grant_invoke(client)
        return endpoint

    template, endpoint, _ = synth_construct(build)
    policy = next(
        p
        for p in template.find_resources("AWS::IAM::Policy").values()
        if p["Properties"]["PolicyName"].startswith("ClientDefaultPolicy")
    )
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sagemaker:InvokeEndpoint"
    assert statement["Resource"]["Fn::Join"][1][-1].endswith(
        f":endpoint/{endpoint.endpoint_name.lower()}"
    )


def test_instance_storage_types_take_no_volume_key_and_shadow_gets_a_copy():
    template, _, _ = synth_construct(
        lambda s: _build(
            s,
            with_deployer=False,
            instance_type="ml.m5d.large",
            instance_count=2,  # a linear step needs a fleet it can take half of
            shadow=ShadowVariant(instance_type="ml.c5.large", traffic_percent=25),
            rollout=Rollout(traffic="LINEAR", step_percent=20, wait_seconds=120),
            alarm_thresholds=EndpointAlarmThresholds(server_errors_per_minute=1, periods=2),
        )
    )
    _, config = _one(template, "AWS::SageMaker::EndpointConfig")
    props = config["Properties"]
    assert "KmsKeyId" not in props  # hardware-encrypted NVMe; SageMaker rejects a key
    assert props["DataCaptureConfig"]["KmsKeyId"]  # the captured data is still KMS
    (shadow,) = props["ShadowProductionVariants"]
    assert shadow["VariantName"] == "Shadow"
    assert shadow["InstanceType"] == "ml.c5.large"
    assert shadow["InitialVariantWeight"] == 0.25
    _, endpoint = _one(template, "AWS::SageMaker::Endpoint")
    routing = endpoint["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing == {
        "Type": "LINEAR",
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
        "WaitIntervalInSeconds": 120,
    }
    errors = next(
        a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "Invocation5XXErrors"
    )
    assert (errors["Threshold"], errors["EvaluationPeriods"]) == (1, 2)
    # Without autoscaling, an update applies the configured instance count.
    assert endpoint["Properties"].get("RetainAllVariantProperties", False) is False
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    assert lint_problems(template) == []


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        ("ml.m5.large", False),
        ("ml.c5.xlarge", False),
        ("ml.t2.medium", False),
        ("ml.inf1.xlarge", False),
        ("ml.m5d.large", True),
        ("ml.c5d.2xlarge", True),
        ("ml.r5d.large", True),
        ("ml.g4dn.xlarge", True),
        ("ml.g5.2xlarge", True),
        ("ml.p3dn.24xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.m6id.large", True),
        ("ml.trn1.2xlarge", True),
    ],
)
def test_instance_storage_families(instance_type, expected):
    assert has_instance_storage(instance_type) is expected


def test_burstable_types():
    assert is_burstable("ml.t2.medium") and is_burstable("ml.t3.large")
    assert not is_burstable("ml.m5.large")


def test_invalid_props_are_reported_together():
    with pytest.raises(PropsError) as raised:
        synth_construct(
            lambda s: _build(
                s,
                with_deployer=False,
                instance_type="ml.t2.medium",
                instance_count=5,
                capture_percentage=101,
                autoscaling=EndpointAutoScaling(min_capacity=3, max_capacity=2),
                rollout=Rollout(traffic="CANARY", step_percent=50),
            ),
            nag=False,
        )
    message = str(raised.value)
    for expected in (
        "instance_type: got 'ml.t2.medium'; expected a non-burstable type with autoscaling",
        "autoscaling.min_capacity: got 3; expected at most max_capacity (2)",
        "capture_percentage: got 101; expected 0 to 100",
        # The smallest fleet is 3 (autoscaling's minimum): a 50% canary is 2 instances.
        "rollout.step_percent: got 50; expected a step of at most half of the 3 instances",
    ):
        assert expected in message, message


def test_deployer_rule_function_and_permissions(made):
    template, endpoint, _ = made
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": ["mlops-dev-spend"],
            "ModelApprovalStatus": ["Approved", "Rejected"],
        },
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 21600}
    assert "DeadLetterConfig" in target
    (function,) = functions_with_handler(template, "model_deployer.index.handler")
    env = function["Environment"]["Variables"]
    assert env["MODEL_PREFIX"] == endpoint.models_prefix
    assert env["RECORD_PREFIX"] == endpoint.deployments_prefix
    assert env["MODEL_PACKAGE_GROUPS"] == "mlops-dev-spend"
    assert "ReservedConcurrentExecutions" not in function  # a lock serializes
    (config,) = template.find_resources("AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    assert "OnFailure" in config["Properties"]["DestinationConfig"]
    (queue,) = template.find_resources("AWS::SQS::Queue").values()
    assert "KmsMasterKeyId" in queue["Properties"]
    text = json.dumps(template.to_json())
    assert ":model-package/mlops-dev-spend/*" in text
    # Deletes of versions are permanent: on the models prefix (a copy that did not verify,
    # a rejected version once its retired copy verified) and the retired prefix (a retired
    # copy that did not verify) only (and of the deployer's own lock objects: see
    # test_approved_model_deployer.py).
    deletes = [
        json.dumps(p["Properties"]["PolicyDocument"])
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if "s3:DeleteObjectVersion" in json.dumps(p)
        and f"/{endpoint.deployments_prefix}_locks/*" not in json.dumps(p)
    ]
    assert len(deletes) == 2
    assert any(f"/{endpoint.models_prefix}*" in d for d in deletes)
    assert any(f"/{endpoint.prefix}retired/*" in d for d in deletes)


def test_more_models_add_no_resources():
    def counts(groups):
        template, _, _ = synth_construct(lambda s: _build(s, groups=groups), nag=False)
        return Counter(r["Type"] for r in template.to_json()["Resources"].values())

    one = counts(("mlops-dev-spend",))
    many = counts(tuple(f"mlops-dev-model-{i}" for i in range(8)))
    assert one == many
    assert one["AWS::Lambda::Function"] >= 1


def test_templates_lint_clean(made):
    template, _, _ = made
    assert lint_problems(template) == []


def test_model_package_endpoint_serves_one_pinned_version():
    package = "arn:aws:sagemaker:eu-west-1:284751930618:model-package/mlops-dev-spend/3"

    template, endpoint, stack = synth_construct(
        lambda s: _build(s, package=package, with_deployer=False)
    )
    assert not endpoint.multi_model
    _, model = _one(template, "AWS::SageMaker::Model")
    assert model["Properties"]["PrimaryContainer"] == {"ModelPackageName": package}
    assert model["Properties"]["EnableNetworkIsolation"] is True
    metrics = {
        a["Properties"]["MetricName"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert "ModelLoadingWaitTime" not in metrics and "ModelLatency" in metrics
    role = template.to_json()["Resources"][
        stack.resolve(endpoint.role.node.default_child.logical_id)
    ]
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    reads = {
        next(s for s in policies[r["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
             if s["Sid"] == "ReadObjects")["Resource"]["Fn::Join"][1][-1]
        for r in role["Properties"]["ManagedPolicyArns"]
    }  # fmt: skip
    assert reads == {"/pipelines/*", f"/{endpoint.prefix}capture/*"}
    assert lint_problems(template) == []


def test_model_package_endpoint_needs_a_versioned_arn():
    with pytest.raises(PropsError, match="model_package_arn: got 'mlops-dev-spend'"):
        ModelPackageEndpoint(
            None,  # type: ignore[arg-type]  # checked before the construct is made
            "Endpoint",
            model_package_arn="mlops-dev-spend",
            artifacts=None,  # type: ignore[arg-type]
            vpc=None,  # type: ignore[arg-type]
            subnets=None,  # type: ignore[arg-type]
            security_group=None,  # type: ignore[arg-type]
            alarm_topic=None,  # type: ignore[arg-type]
        )


def test_endpoint_metrics_take_metric_options(made):
    from aws_cdk import Duration

    _, endpoint, _ = made
    default = endpoint.metric_invocations()
    assert (default.statistic, default.period.to_minutes()) == ("Sum", 1)
    latency = endpoint.metric_model_latency(
        period=Duration.minutes(5), statistic="p90", label="latency", color="#ff0000"
    )
    assert (latency.statistic, latency.label, latency.color) == ("p90", "latency", "#ff0000")
    assert latency.period.to_minutes() == 5
    cpu = endpoint.metric_cpu_utilization(dimensions_map={"Host": "1"})
    assert cpu.namespace == "/aws/sagemaker/Endpoints"
    assert set(cpu.dimensions) == {"EndpointName", "VariantName", "Host"}

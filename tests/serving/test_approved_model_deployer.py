"""ApprovedModelDeployer: serialized without reserved concurrency, dead-lettering by itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_constructs.serving.deployer import ApprovedModelDeployer
from mlops_constructs.serving.endpoint import MultiModelEndpoint
from tests.helpers import endpoint_base, functions_with_handler, synth_construct

IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _build(stack, **props: Any) -> tuple[MultiModelEndpoint, ApprovedModelDeployer]:
    key, base = endpoint_base(stack)
    endpoint = MultiModelEndpoint(stack, "Endpoint", **base, image_uri=IMAGE)
    deployer = ApprovedModelDeployer(
        stack,
        "Deployer",
        endpoint=endpoint,
        model_package_groups=("mlops-dev-spend",),
        logs_key=key,
        **props,
    )
    return endpoint, deployer


@pytest.fixture(scope="module")
def made():
    template, (endpoint, deployer), stack = synth_construct(_build)
    return template, endpoint, deployer, stack


def _function(template) -> dict[str, Any]:
    (function,) = functions_with_handler(template, "model_deployer.index.handler")
    return function


@pytest.mark.parametrize("serialize", [True, False])
def test_no_concurrency_is_reserved_whatever_serialize_says(serialize):
    # A new account's concurrency quota is 10 and Lambda keeps 10 unreserved: any
    # reservation fails the deployment there. Deployments are serialized by a lock object.
    template, _, _ = synth_construct(lambda s: _build(s, serialize=serialize), nag=False)
    props = _function(template)
    assert "ReservedConcurrentExecutions" not in props
    assert props["Environment"]["Variables"]["SERIALIZE_DEPLOYMENTS"] == str(serialize).lower()


def test_the_function_knows_its_dead_letter_queue_and_may_send_to_it(made):
    template, _, deployer, stack = made
    variables = _function(template)["Environment"]["Variables"]
    queue_id = stack.get_logical_id(deployer.dead_letter_queue.node.default_child)
    assert variables["DEAD_LETTER_QUEUE_URL"] == {"Ref": queue_id}
    statements = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(
        "sqs:SendMessage" in json.dumps(s["Action"])
        and s["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        for s in statements
    )


def test_the_lock_prefix_may_have_its_versions_deleted(made):
    template, endpoint, _, _ = made
    lock_prefix = f"{endpoint.deployments_prefix}_locks/"
    text = json.dumps(template.find_resources("AWS::IAM::ManagedPolicy"))
    assert f"/{lock_prefix}*" in text
    policies = [
        p
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if f"/{lock_prefix}*" in json.dumps(p)
    ]
    assert len(policies) == 1
    assert "s3:DeleteObjectVersion" in json.dumps(policies[0])


def test_the_lock_outlives_an_invocation_and_expires_before_its_first_retry(made):
    # The handler's lock must not expire while the invocation that took it may still run
    # (the function's timeout), and must have expired when Lambda retries a timed-out
    # invocation, one minute after the failure ("How Lambda handles errors and retries
    # with asynchronous invocation").
    template, _, _, _ = made
    props = _function(template)
    lock_seconds = int(props["Environment"]["Variables"]["LOCK_SECONDS"])
    assert props["Timeout"] < lock_seconds < props["Timeout"] + 60


def test_a_single_model_endpoint_is_refused():
    # It serves its pinned package and never reads the models prefix copies would go to.
    from aws_cdk import Stack

    from mlops_constructs import PropsError
    from mlops_constructs.serving.endpoint import ModelPackageEndpoint

    def build(stack: Stack) -> None:
        key, base = endpoint_base(stack)
        endpoint = ModelPackageEndpoint(
            stack,
            "Endpoint",
            **base,
            model_package_arn="arn:aws:sagemaker:eu-west-1:284751930618:model-package/spend/3",
        )
        ApprovedModelDeployer(
            stack, "Deployer", endpoint=endpoint, model_package_groups=["spend"], logs_key=key
        )

    with pytest.raises(
        PropsError,
        match="Stack/Endpoint' is neither a multi-model nor an inference-component endpoint",
    ):
        synth_construct(build, nag=False)


def test_an_imported_multi_model_endpoint_is_deployed_into():
    from aws_cdk import aws_kms as kms
    from aws_cdk.assertions import Template

    from mlops_constructs import ArtifactStore

    template, _, _ = synth_construct(
        lambda s: ApprovedModelDeployer(
            s,
            "Deployer",
            endpoint=MultiModelEndpoint.from_endpoint_attributes(
                s,
                "Endpoint",
                endpoint_name="team-endpoint",
                artifacts=ArtifactStore.from_bucket(
                    s,
                    "Artifacts",
                    bucket_name="team-artifacts",
                    encryption_key_arn="arn:aws:kms:eu-west-1:284751930618:key/k",
                ),
            ),
            model_package_groups=["spend"],
            logs_key=kms.Key(s, "Key", enable_key_rotation=True),
        )
    )
    assert isinstance(template, Template)
    variables = _function(template)["Environment"]["Variables"]
    assert variables["MODEL_BUCKET"] == "team-artifacts"
    assert variables["MODEL_PREFIX"] == "endpoints/team-endpoint/models/"


def test_function_metrics_take_metric_options(made):
    from aws_cdk import Duration

    _, _, deployer, _ = made
    errors = deployer.metric_errors(period=Duration.minutes(1), label="deployer errors")
    assert (errors.metric_name, errors.statistic, errors.label) == (
        "Errors",
        "Sum",
        "deployer errors",
    )
    assert errors.period.to_minutes() == 1
    depth = deployer.metric_dead_letter_queue_depth()
    assert depth.metric_name == "ApproximateNumberOfMessagesVisible"
    assert depth.statistic == "Maximum"
    assert deployer.metric_invocations(statistic="Average").statistic == "Average"


# -- both modes: rejection --------------------------------------------------------------------
def test_the_rule_passes_approved_and_rejected_versions(made):
    # A rejected version is taken out of service by the handler.
    template, _, _, _ = made
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    detail = rule["Properties"]["EventPattern"]["detail"]
    assert detail["ModelApprovalStatus"] == ["Approved", "Rejected"]
    assert detail["ModelPackageGroupName"] == ["mlops-dev-spend"]


def test_multi_model_hosting_retires_archives_under_the_endpoint(made):
    template, endpoint, _, _ = made
    variables = _function(template)["Environment"]["Variables"]
    assert variables["HOSTING"] == "multi-model"
    assert variables["RETIRED_PREFIX"] == f"{endpoint.prefix}retired/"
    assert "COMPONENTS" not in variables
    text = json.dumps(template.find_resources("AWS::IAM::ManagedPolicy"))
    assert f"/{endpoint.prefix}retired/*" in text


# -- inference components ---------------------------------------------------------------------
IC_GROUPS = ("mlops-dev-spend", "mlops-dev-churn")


def _build_components(stack, *, scale_to_zero: bool = True, groups=IC_GROUPS):
    from mlops_constructs.serving import (
        ComponentSettings,
        InferenceComponentEndpoint,
        InstanceScaling,
    )

    key, base = endpoint_base(stack)
    copies = 0 if scale_to_zero else 1
    endpoint = InferenceComponentEndpoint(
        stack,
        "Endpoint",
        **base,
        components={g: ComponentSettings(min_copies=copies) for g in IC_GROUPS},
        scaling=InstanceScaling(min_instances=copies, scale_to_zero=scale_to_zero),
    )
    deployer = ApprovedModelDeployer(
        stack, "Deployer", endpoint=endpoint, model_package_groups=groups, logs_key=key
    )
    return endpoint, deployer


@pytest.fixture(scope="module")
def components_made():
    # cdk-nag runs on this synthesis: an unacknowledged finding fails it.
    template, (endpoint, deployer), stack = synth_construct(_build_components)
    return template, endpoint, deployer, stack


def _render(value: Any) -> str:
    """A resolved string with its references written ``<Ref:LogicalId>`` and attributes
    ``<Att:LogicalId.Name>``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(_render(p) for p in parts)
    if "Ref" in value:
        return f"<Ref:{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<Att:{}.{}>".format(*value["Fn::GetAtt"])
    raise AssertionError(value)


def _statements(template, prefix: str = "Deployer") -> dict[str, dict[str, Any]]:
    return {
        s.get("Sid", str(i)): s
        for logical_id, p in template.find_resources("AWS::IAM::Policy").items()
        if logical_id.startswith(prefix)
        for i, s in enumerate(p["Properties"]["PolicyDocument"]["Statement"])
    }


def test_component_hosting_settings_follow_the_contract(components_made):
    template, endpoint, _, stack = components_made
    variables = _function(template)["Environment"]["Variables"]
    assert variables["HOSTING"] == "inference-components"
    assert variables["ENDPOINT_NAME"] == endpoint.endpoint_name
    assert variables["VARIANT_NAME"] == "AllTraffic"
    role_id = stack.get_logical_id(endpoint.role.node.default_child)
    assert variables["EXECUTION_ROLE_ARN"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert variables["RETIRED_PREFIX"] == f"{endpoint.prefix}retired/"
    vpc = json.loads(_render(variables["VPC_CONFIG"]))
    assert set(vpc) == {"Subnets", "SecurityGroupIds"}
    assert len(vpc["Subnets"]) == 2 and len(vpc["SecurityGroupIds"]) == 1
    components = json.loads(_render(variables["COMPONENTS"]))
    assert set(components) == set(IC_GROUPS)
    for group, c in components.items():
        assert c["name"] == endpoint.component_names[group]
        assert c["scale_to_zero"] is True
        alarms = [
            stack.get_logical_id(a.node.default_child) for a in endpoint.rollback_alarms(group)
        ]
        assert c["rollback_alarms"] == [f"<Ref:{a}>" for a in alarms]


def test_component_hosting_may_do_exactly_what_the_handler_does(components_made):
    template, endpoint, _, _ = components_made
    statements = _statements(template)
    names = [endpoint.component_names[g] for g in IC_GROUPS]
    models = [_render(r) for r in statements["ComponentModels"]["Resource"]]
    assert sorted(statements["ComponentModels"]["Action"]) == [
        "sagemaker:CreateModel",
        "sagemaker:DescribeModel",
    ]
    assert [m.rsplit(":model/", 1)[1] for m in models] == [f"{n}-v*" for n in names]
    components = [_render(r) for r in statements["Components"]["Resource"]]
    assert [c.rsplit("/", 1)[1] for c in components if ":inference-component/" in c] == names
    assert any(c.endswith(f":endpoint/{endpoint.endpoint_name.lower()}") for c in components)
    passes = statements["PassExecutionRole"]
    assert passes["Action"] == "iam:PassRole"
    assert passes["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    linked = statements["ScalingServiceLinkedRole"]
    assert linked["Action"] == "iam:CreateServiceLinkedRole"
    assert linked["Condition"] == {
        "StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
    }
    assert _render(linked["Resource"]).endswith(
        ":role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )
    assert "sagemaker:DeleteInferenceComponent" in statements["Components"]["Action"]
    assert "cloudwatch:PutMetricAlarm" in statements["WakeUpAlarms"]["Action"]
    alarms = [_render(r) for r in statements["WakeUpAlarms"]["Resource"]]
    assert [a.rsplit(":alarm:", 1)[1] for a in alarms] == [f"{n}-no-capacity" for n in names]
    wildcard = statements["NoResourceScope"]
    assert wildcard["Resource"] == "*"
    assert not any(
        a.startswith("sagemaker:") and a != "sagemaker:ListModelPackages"
        for a in wildcard["Action"]
    )


def test_component_hosting_writes_no_served_archive(components_made):
    # Models come from the packages: nothing is copied into, or deleted from, the models
    # prefix (the multi-model test above is the negative control: there it is granted).
    template, endpoint, _, _ = components_made
    text = json.dumps(template.find_resources("AWS::IAM::ManagedPolicy"))
    assert f"/{endpoint.prefix}models/" not in text
    assert f"/{endpoint.prefix}deployments/*" in text


def test_without_scale_to_zero_no_wake_up_alarm_may_be_written():
    template, _, _ = synth_construct(lambda s: _build_components(s, scale_to_zero=False), nag=False)
    statements = _statements(template)
    # Describing and deleting a withdrawn component's wake-up alarm remain.
    assert sorted(statements["WakeUpAlarms"]["Action"]) == [
        "cloudwatch:DeleteAlarms",
        "cloudwatch:DescribeAlarms",
    ]
    assert "Components" in statements  # the rest is unchanged
    components = json.loads(_render(_function(template)["Environment"]["Variables"]["COMPONENTS"]))
    assert {c["scale_to_zero"] for c in components.values()} == {False}


def test_a_group_the_endpoint_has_no_component_for_is_refused():
    from mlops_constructs import PropsError

    with pytest.raises(PropsError, match="mlops-dev-other"):
        synth_construct(
            lambda s: _build_components(s, groups=("mlops-dev-spend", "mlops-dev-other")),
            nag=False,
        )


def test_component_hosting_lints_clean(components_made):
    from tests.helpers import lint_problems

    template, _, _, _ = components_made
    assert lint_problems(template) == []

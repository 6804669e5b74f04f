"""ApprovedModelDeployer: serialized without reserved concurrency, dead-lettering by itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_constructs.serving.deployer import ApprovedModelDeployer
from mlops_constructs.serving.endpoint import MultiModelEndpoint
from tests.helpers import endpoint_base, synth_construct

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
    (function,) = [
        f
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "model_deployer.index.handler"
    ]
    return function["Properties"]


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

    with pytest.raises(PropsError, match="Stack/Endpoint' is not a multi-model endpoint"):
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

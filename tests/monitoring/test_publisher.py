"""MonitoringMetricsPublisher: the rule, the function and what its role may do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match

from mlops_constructs import ArtifactStore, MonitoringMetricsPublisher, PropsError
from mlops_constructs.core.s3 import access_log_bucket
from tests.helpers import acknowledged_rules, lint_problems, synth_construct

PREFIX = "mlops-dev-monitor-"
OUTPUTS = "monitoring/"


class Made:
    """What the builder made, for assertions."""


def _build(stack: Any, **props: Any) -> Made:
    m = Made()
    m.key = kms.Key(stack, "Key", enable_key_rotation=True)
    logs = access_log_bucket(
        stack,
        "AccessLogs",
        purpose="the test's artifact store",
        removal_policy=RemovalPolicy.DESTROY,
        retention=Duration.days(30),
        abort_incomplete_multipart_upload_after=Duration.days(1),
    )
    m.artifacts = ArtifactStore(stack, "Artifacts", encryption_key=m.key, access_log_bucket=logs)
    m.publisher = MonitoringMetricsPublisher(
        stack,
        "Publisher",
        artifacts=m.artifacts,
        output_prefix=OUTPUTS,
        job_name_prefix=PREFIX,
        logs_key=m.key,
        **props,
    )
    return m


@pytest.fixture(scope="module")
def made():
    return synth_construct(_build)  # cdk-nag AwsSolutions: an unacknowledged finding fails


def _ref(stack: Any, construct: Any) -> dict[str, str]:
    return {"Ref": stack.get_logical_id(construct.node.default_child)}


def _statements(template: Any, policy_type: str) -> list[dict[str, Any]]:
    found = []
    for resource in template.find_resources(policy_type).values():
        found += resource["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_the_rule_matches_finished_jobs_of_the_engine_only(made):
    template, *_ = made
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Processing Job State Change"],
                "detail": {
                    "ProcessingJobName": [{"prefix": PREFIX}],
                    "ProcessingJobStatus": ["Completed", "Failed", "Stopped"],
                },
            },
            "Targets": [
                Match.object_like(
                    {
                        "DeadLetterConfig": Match.any_value(),
                        "RetryPolicy": {
                            "MaximumRetryAttempts": 4,
                            "MaximumEventAgeInSeconds": 21600,
                        },
                    }
                )
            ],
        },
    )


def test_the_function_is_told_what_to_read_and_where_to_publish(made):
    template, m, stack = made
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "metrics_publisher.index.handler",
            "Runtime": "python3.14",
            "Timeout": 120,
            "Environment": {
                "Variables": {
                    "METRICS_NAMESPACE": "MLOps/ModelMonitoring",
                    "MONITOR_JOB_PREFIX": PREFIX,
                    "ARTIFACT_BUCKET": _ref(stack, m.artifacts.bucket),
                    "OUTPUT_PREFIX": OUTPUTS,
                    "DEAD_LETTER_QUEUE_URL": Match.any_value(),
                    "LOG_LEVEL": "INFO",
                }
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"MaximumRetryAttempts": 2, "DestinationConfig": Match.any_value()},
    )


def test_put_metric_data_is_limited_to_the_namespace(made):
    template, m, _ = made
    (put,) = [
        s
        for s in _statements(template, "AWS::IAM::Policy")
        if "cloudwatch:PutMetricData" in json.dumps(s["Action"])
    ]
    assert put["Action"] == "cloudwatch:PutMetricData"
    assert put["Resource"] == "*"
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": "MLOps/ModelMonitoring"}}
    # The wildcard is acknowledged on that policy only, with its reason.
    policy_path = m.publisher.policy.node.path
    acknowledged = {(path, rule) for path, rule, _ in acknowledged_rules(m.publisher)}
    assert (policy_path, "AwsSolutions::AwsSolutions-IAM5[Resource::*]") in acknowledged
    assert not any(
        rule.endswith("[Resource::*]") and path != policy_path for path, rule in acknowledged
    )


def test_the_role_reads_only_under_the_output_prefix_and_decrypts_through_s3(made):
    template, m, stack = made
    statements = _statements(template, "AWS::IAM::ManagedPolicy")
    reads = [s for s in statements if "s3:GetObject" in s["Action"]]
    assert reads and all(
        s["Resource"]
        == {
            "Fn::Join": [
                "",
                [{"Fn::GetAtt": [_ref(stack, m.artifacts.bucket)["Ref"], "Arn"]}, f"/{OUTPUTS}*"],
            ]
        }
        for s in reads
    )
    writes = [s for s in statements if any(a.startswith("s3:Put") for a in _listed(s["Action"]))]
    assert writes == []
    (key,) = [s for s in statements if "kms:Decrypt" in _listed(s["Action"])]
    assert _listed(key["Action"]) == ["kms:Decrypt"]
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    listing = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert [s["Condition"] for s in listing] == [{"StringLike": {"s3:prefix": [f"{OUTPUTS}*"]}}]
    # The policy is the function's role's.
    (policy_id,) = template.find_resources("AWS::IAM::ManagedPolicy")
    role = template.to_json()["Resources"][
        stack.get_logical_id(m.publisher.function.role.node.default_child)
    ]
    assert {"Ref": policy_id} in role["Properties"]["ManagedPolicyArns"]


def test_the_role_describes_only_the_engines_jobs(made):
    template, *_ = made
    (describe,) = [
        s
        for s in _statements(template, "AWS::IAM::Policy")
        if s["Action"] == "sagemaker:DescribeProcessingJob"
    ]
    assert json.dumps(describe["Resource"]).endswith(f':processing-job/{PREFIX}*"]]}}')


def test_nothing_else_is_granted_to_cloudwatch_or_sagemaker(made):
    template, *_ = made
    actions = [a for s in _statements(template, "AWS::IAM::Policy") for a in _listed(s["Action"])]
    assert sorted(a for a in actions if a.startswith(("cloudwatch:", "sagemaker:"))) == [
        "cloudwatch:PutMetricData",
        "sagemaker:DescribeProcessingJob",
    ]


def test_a_namespace_of_ones_own():
    template, *_ = synth_construct(lambda s: _build(s, namespace="Team/Monitoring"), nag=False)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"METRICS_NAMESPACE": "Team/Monitoring"})}},
    )
    put = [
        s
        for s in _statements(template, "AWS::IAM::Policy")
        if s["Action"] == "cloudwatch:PutMetricData"
    ]
    assert put[0]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Team/Monitoring"}}


def test_bad_props_are_refused_all_at_once():
    with pytest.raises(PropsError) as caught:
        synth_construct(_bad, nag=False)
    message = str(caught.value)
    for prop in ("output_prefix", "job_name_prefix", "namespace"):
        assert f"{prop}: got" in message


def _bad(stack: Any) -> None:
    key = kms.Key(stack, "Key")
    MonitoringMetricsPublisher(
        stack,
        "Publisher",
        artifacts=ArtifactStore(stack, "Artifacts", encryption_key=key),
        output_prefix="monitoring",
        job_name_prefix="bad_prefix",
        logs_key=key,
        namespace="AWS/SageMaker",
    )


def test_template_lints_clean(made):
    template, *_ = made
    assert lint_problems(template) == []


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]

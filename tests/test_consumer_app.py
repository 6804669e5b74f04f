"""A library user's app, built from the README's "Use the constructs in your own stack"
examples as written, synthesizes with cdk-nag's AwsSolutions pack and no finding."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from mlops_constructs import (
    ArtifactStore,
    DataLake,
    IArtifactStore,
    IDataLake,
    IModelRegistry,
    IMultiModelEndpoint,
    IServingEndpoint,
    ModelPackageEndpoint,
    ModelRegistry,
    MultiModelEndpoint,
    PropsError,
)
from tests.conftest import REPO_ROOT
from tests.helpers import ACCOUNT, REGION, functions_with_handler

ENV = cdk.Environment(account=ACCOUNT, region=REGION)


def _readme_examples() -> dict[str, str]:
    """The Python blocks of the README's library section that define stacks, by first class."""
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("## Use the constructs in your own stack")
    section = text[start : text.index("\n## ", start + 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    return {
        re.search(r"^class (\w+)\(Stack\)", block, re.M).group(1): block  # type: ignore[union-attr]
        for block in blocks
        if re.search(r"^class \w+\(Stack\)", block, re.M)
    }


def _run(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


def _synth_with_nag(app: cdk.App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises RuntimeError("ValidationFailed...") on any unacknowledged finding


def test_the_readme_examples_are_found():
    # Guards the parser: a reworded section must not make the tests below vacuous.
    assert {"MyMlStack", "LakeStack", "ChurnMonitoringStack"} <= set(_readme_examples())


def test_first_example_has_no_cdk_nag_finding(tmp_path):
    example = _run(_readme_examples()["MyMlStack"])
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    example["MyMlStack"](app, "MyMl", env=ENV)
    _synth_with_nag(app)


@pytest.fixture(scope="module")
def lake_example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    example = _run(_readme_examples()["LakeStack"])
    app = cdk.App(
        outdir=str(tmp_path_factory.mktemp("consumer")), builtin_cloud_formation_validation=False
    )
    lake_stack = example["LakeStack"](app, "Lake", env=ENV)
    consumer = example["ConsumerStack"](app, "Consumer", env=ENV)
    _synth_with_nag(app)
    return {"lake": Template.from_stack(lake_stack), "consumer": Template.from_stack(consumer)}


def test_the_monitoring_example_watches_the_imported_endpoint(tmp_path):
    from aws_cdk import aws_ec2 as ec2

    example = _run(_readme_examples()["ChurnMonitoringStack"])
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    network = cdk.Stack(app, "Network", env=ENV)
    vpc = ec2.Vpc(
        network,
        "Vpc",
        subnet_configuration=[
            ec2.SubnetConfiguration(name="jobs", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    vpc.add_flow_log("FlowLog")
    stack = example["ChurnMonitoringStack"](app, "Monitoring", vpc=vpc, env=ENV)
    _synth_with_nag(app)
    template = Template.from_stack(stack)
    assert len(template.find_resources("AWS::SageMaker::Pipeline")) == 1
    (function,) = functions_with_handler(template, "monitoring_launcher.index.handler")
    launcher = function["Environment"]["Variables"]
    assert launcher["MODEL_GROUP"] == "team-churn"
    assert launcher["CAPTURE_PREFIX"].startswith("endpoints/team-serving-endpoint/capture/")
    alarms = json.dumps(template.find_resources("AWS::CloudWatch::Alarm"))
    assert "team-serving-endpoint" in alarms and "tenure_months" in alarms


def test_second_example_grants_land_in_the_consumer_stack(lake_example):
    assert lake_example["lake"].find_resources("AWS::IAM::ManagedPolicy") == {}
    policies = lake_example["consumer"].find_resources("AWS::IAM::ManagedPolicy")
    documents = json.dumps([p["Properties"]["PolicyDocument"] for p in policies.values()])
    # Exactly the prefixes granted, of the buckets named.
    assert ":s3:::team-lake-curated/customers/*" in documents
    assert ":s3:::team-lake-raw/scratch/*" in documents
    assert ":s3:::team-ml-artifacts/endpoints/team-serving-endpoint/ground-truth/*" in documents
    assert "1234abcd-12ab-34cd-56ef-1234567890ab" in documents
    inline = lake_example["consumer"].find_resources("AWS::IAM::Policy")
    statements = [
        st for p in inline.values() for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert [st["Action"] for st in statements] == ["sagemaker:InvokeEndpoint"]
    assert ":endpoint/team-serving-endpoint" in json.dumps(statements)


# -- the interfaces and importers, one by one ------------------------------------------------
def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Consumer", env=ENV)


def test_importers_return_the_interfaces():
    stack = _stack()
    lake = DataLake.from_lake_attributes(
        stack,
        "Lake",
        buckets={"raw": s3.Bucket.from_bucket_name(stack, "Raw", "raw-bucket")},
        encryption_key=kms.Key.from_key_arn(stack, "K", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"),
    )
    artifacts = ArtifactStore.from_bucket(
        stack, "Artifacts", bucket_name="art", encryption_key_arn="arn:aws:kms:eu-west-1:1:key/a"
    )
    endpoint = MultiModelEndpoint.from_endpoint_attributes(
        stack, "Endpoint", endpoint_name="serving", artifacts=artifacts
    )
    single = ModelPackageEndpoint.from_endpoint_attributes(
        stack, "Single", endpoint_name="single", artifacts=artifacts
    )
    registry = ModelRegistry.from_group_name(stack, "Registry", group_name="churn")
    assert isinstance(lake, IDataLake)
    assert lake.zones == ["raw"]
    assert isinstance(artifacts, IArtifactStore)
    assert isinstance(endpoint, IMultiModelEndpoint)
    assert endpoint.multi_model and endpoint.models_prefix == "endpoints/serving/models/"
    assert isinstance(single, IServingEndpoint) and not single.multi_model
    assert isinstance(registry, IModelRegistry)
    assert ":model-package/churn/3" in json.dumps(stack.resolve(registry.version_arn(3)))


def test_importers_name_a_missing_or_doubled_attribute():
    stack = _stack()
    with pytest.raises(
        PropsError, match=r"(?s)bucket_names/buckets.*encryption_key/encryption_key_arn"
    ):
        DataLake.from_lake_attributes(stack, "Lake")
    with pytest.raises(PropsError, match=r"bucket/bucket_name"):
        ArtifactStore.from_bucket(
            stack, "A", bucket=s3.Bucket.from_bucket_name(stack, "B", "bbb"), bucket_name="bbb",
            encryption_key_arn="arn:aws:kms:eu-west-1:1:key/a",
        )  # fmt: skip
    with pytest.raises(PropsError, match="endpoint_name"):
        MultiModelEndpoint.from_endpoint_attributes(
            stack,
            "E",
            endpoint_name="no_underscores",
            artifacts=None,  # type: ignore[arg-type]
        )


def test_a_grant_to_an_immutable_role_is_dropped_with_a_warning():
    stack = _stack()
    lake = DataLake.from_lake_attributes(
        stack, "Lake", bucket_names={"raw": "raw-bucket"},
        encryption_key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k",
    )  # fmt: skip
    mutable = iam.Role.from_role_arn(stack, "Mutable", f"arn:aws:iam::{ACCOUNT}:role/mutable")
    immutable = iam.Role.from_role_arn(
        stack, "Immutable", f"arn:aws:iam::{ACCOUNT}:role/immutable", mutable=False
    )
    assert lake.grant_read(mutable, "raw").success
    grant = lake.grant_read(immutable, "raw", "a/")
    assert not grant.success
    warnings = Annotations.from_stack(stack).find_warning(
        "/Consumer/Lake", Match.string_like_regexp("is an immutable role")
    )
    assert len(warnings) == 1
    # The mutable imported role gets its policy (attached by name, in this stack).
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::ManagedPolicy", {"Roles": ["mutable"]}
    )


def test_a_grant_returns_the_statements_it_made():
    stack = _stack()
    lake = DataLake.from_lake_attributes(
        stack, "Lake", bucket_names={"raw": "raw-bucket"},
        encryption_key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k",
    )  # fmt: skip
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
    grant = lake.grant_read_write(role, "raw", "x/")
    assert grant.success
    actions = {a for st in grant.principal_statements for a in st.actions}
    assert {"s3:GetObject", "s3:PutObject", "kms:Decrypt", "s3:ListBucket"} <= actions
    # apply_before makes a resource wait for the policy that holds the grant.
    waiter = iam.Role(stack, "W", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
    grant.apply_before(waiter)
    template = Template.from_stack(stack).to_json()["Resources"]
    waiter_id = next(k for k in template if k.startswith("W") and "Policy" not in k)
    managed = {k for k, r in template.items() if r["Type"] == "AWS::IAM::ManagedPolicy"}
    assert managed and managed <= set(template[waiter_id].get("DependsOn", []))


def test_retraining_accepts_an_l2_alarm():
    from mlops_constructs import RetrainingTrigger

    stack = _stack()
    alarm = cloudwatch.Alarm(
        stack, "A", metric=cloudwatch.Metric(namespace="N", metric_name="M"),
        threshold=1, evaluation_periods=1,
    )  # fmt: skip
    imported = cloudwatch.Alarm.from_alarm_arn(
        stack, "B", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:other"
    )
    key = kms.Key(stack, "K", enable_key_rotation=True)
    trigger = RetrainingTrigger(
        stack, "Retrain", alarms=[alarm, imported], pipeline_name="p",
        pipeline_arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/p", logs_key=key,
    )  # fmt: skip
    rule = Template.from_stack(stack).find_resources("AWS::Events::Rule")
    pattern = json.dumps(next(iter(rule.values()))["Properties"]["EventPattern"])
    assert "alarm:other" in pattern and "Fn::GetAtt" in pattern
    metric = trigger.metric_dead_letter_queue_depth(period=cdk.Duration.minutes(1))
    assert metric.statistic == "Maximum" and metric.period.to_minutes() == 1

"""The model deployer with ``HOSTING=inference-components``.

moto (5.2) serves the model registry, ``CreateModel``/``DescribeModel``, S3, KMS and
CloudWatch alarms, but implements no inference component call, and its Application Auto
Scaling refuses the ``sagemaker:inference-component:DesiredCopyCount`` dimension. Those calls
are answered by :class:`FakeComponents`, a small stateful stand-in hooked into the handler's
own clients on botocore's ``before-call`` event (the hook botocore's Stubber uses): botocore
still validates every request against the service model before the stand-in sees it, and,
being stateful, the stand-in lets a test deliver events in any order and twice.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from tests.helpers import lambda_context, load_handler

REGION = "eu-west-1"
BUCKET = "mlops-dev-artifacts"
RECORD_PREFIX = "endpoints/spend/deployments/"
GROUP = "spend-forecast"
COMPONENT = "spend-forecast-ic"
ENDPOINT = "mlops-dev-spend"
ROLE = "arn:aws:iam::284751930618:role/mlops-dev-serving-execution"
VPC = {"Subnets": ["subnet-0a1b2c3d4e5f60718"], "SecurityGroupIds": ["sg-0123456789abcdef0"]}
ROLLBACK_ALARMS = ["spend-forecast-ic-5xx", "spend-forecast-ic-latency"]
IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ARCHIVE = b"\x1f\x8b\x08\x00" + b"xgboost-model " * 64
EVENTS = Path(__file__).parent.parent / "events"
APPROVED_EVENT = json.loads((EVENTS / "sagemaker_model_package_state_change.json").read_text())
REJECTED_EVENT = json.loads(
    (EVENTS / "sagemaker_model_package_state_change_rejected.json").read_text()
)
#: Calls that change something, per service.
WRITES = {
    "CreateModel",
    "CreateInferenceComponent",
    "UpdateInferenceComponent",
    "DeleteInferenceComponent",
    "RegisterScalableTarget",
    "DeregisterScalableTarget",
    "PutScalingPolicy",
    "PutMetricAlarm",
    "DeleteAlarms",
}

index = load_handler("model_deployer")
CONTEXT = lambda_context("deployer")


def _answer(status: int, body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse(None, status, {}, None), {
        **body,
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def _invalid(message: str) -> tuple[AWSResponse, dict[str, Any]]:
    return _answer(400, {"Error": {"Code": "ValidationException", "Message": message}})


class FakeComponents:
    """Inference components and their Application Auto Scaling, in memory."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}
        self.targets: dict[str, dict[str, Any]] = {}
        self.policies: dict[tuple[str, str], dict[str, Any]] = {}
        #: (operation, parameters) of every call of the handler's clients, in order.
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def install(self, deployer: Any) -> None:
        for client in (deployer.sagemaker, deployer.autoscaling, deployer.cloudwatch, deployer.s3):
            client.meta.events.register("provide-client-params", self._record)
        deployer.sagemaker.meta.events.register("before-call.sagemaker", self._sagemaker)
        deployer.autoscaling.meta.events.register(
            "before-call.application-auto-scaling", self._autoscaling
        )

    def writes(self) -> list[str]:
        return [op for op, _ in self.calls if op in WRITES]

    def params(self, operation: str) -> list[dict[str, Any]]:
        return [p for op, p in self.calls if op == operation]

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, copy.deepcopy(params)))

    def _last(self, operation: str) -> dict[str, Any]:
        return self.params(operation)[-1]

    def _sagemaker(self, model: Any, **_: Any) -> Any:
        op = model.name
        if "InferenceComponent" not in op:
            return None  # moto answers
        p = self._last(op)
        name = p["InferenceComponentName"]
        found = self.components.get(name)
        if op == "DescribeInferenceComponent":
            if found is None:
                return _invalid(f'Could not find inference component "{name}".')
            return _answer(200, copy.deepcopy(found))
        if op == "CreateInferenceComponent":
            if found is not None:
                return _invalid(f"Cannot create already existing inference component {name}")
            self.components[name] = {
                "InferenceComponentName": name,
                "InferenceComponentArn": f"arn:aws:sagemaker:{REGION}:284751930618:"
                f"inference-component/{name}",
                "EndpointName": p["EndpointName"],
                "EndpointArn": f"arn:aws:sagemaker:{REGION}:284751930618:endpoint/{ENDPOINT}",
                "VariantName": p["VariantName"],
                "Specification": p["Specification"],
                "RuntimeConfig": {
                    "DesiredCopyCount": p["RuntimeConfig"]["CopyCount"],
                    "CurrentCopyCount": p["RuntimeConfig"]["CopyCount"],
                },
                "InferenceComponentStatus": "InService",
            }
            return _answer(200, {"InferenceComponentArn": "arn"})
        if found is None:
            return _invalid(f'Could not find inference component "{name}".')
        if op == "UpdateInferenceComponent":
            if found["InferenceComponentStatus"] != "InService":
                return _invalid(f"inference component {name} is not InService")
            found["Specification"] = p["Specification"]
            found["LastDeploymentConfig"] = p.get("DeploymentConfig")
            return _answer(200, {"InferenceComponentArn": found["InferenceComponentArn"]})
        if op == "DeleteInferenceComponent":
            del self.components[name]
            return _answer(200, {})
        raise AssertionError(f"unexpected call {op}")

    def _autoscaling(self, model: Any, **_: Any) -> Any:
        op = model.name
        p = self._last(op)
        assert p["ServiceNamespace"] == "sagemaker"
        if op == "DescribeScalableTargets":
            found = [self.targets[r] for r in p["ResourceIds"] if r in self.targets]
            return _answer(200, {"ScalableTargets": copy.deepcopy(found)})
        resource = p["ResourceId"]
        assert p["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
        if op == "RegisterScalableTarget":
            self.targets[resource] = {**p, "RoleARN": "slr", "CreationTime": 0}
            return _answer(200, {"ScalableTargetARN": f"target/{resource}"})
        if op == "DeregisterScalableTarget":
            if resource not in self.targets:
                return _answer(400, {"Error": {"Code": "ObjectNotFoundException"}})
            del self.targets[resource]
            for key in [k for k in self.policies if k[0] == resource]:
                del self.policies[key]
            return _answer(200, {})
        if op == "DescribeScalingPolicies":
            found = [
                v
                for (r, n), v in self.policies.items()
                if r == resource and n in p.get("PolicyNames", [n])
            ]
            return _answer(200, {"ScalingPolicies": copy.deepcopy(found)})
        if op == "PutScalingPolicy":
            if resource not in self.targets:
                return _answer(400, {"Error": {"Code": "ObjectNotFoundException"}})
            arn = (
                f"arn:aws:autoscaling:{REGION}:284751930618:scalingPolicy:1:resource/"
                f"{resource}:policyName/{p['PolicyName']}"
            )
            self.policies[(resource, p["PolicyName"])] = {**p, "PolicyARN": arn, "CreationTime": 0}
            return _answer(200, {"PolicyARN": arn})
        raise AssertionError(f"unexpected call {op}")


def settings(**changes: Any) -> dict[str, Any]:
    return {
        "name": COMPONENT,
        "cpu_cores": 1,
        "memory_mib": 1024,
        "min_copies": 1,
        "max_copies": 4,
        "invocations_per_copy": 10,
        "rollback_alarms": ROLLBACK_ALARMS,
        "scale_to_zero": True,
        **changes,
    }


@pytest.fixture
def aws(monkeypatch, boto3_session) -> Iterator[dict[str, Any]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3_session)
        s3 = boto3.client("s3", region_name=REGION)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        environment = {
            "HOSTING": "inference-components",
            "MODEL_BUCKET": BUCKET,
            "MODEL_PREFIX": "endpoints/spend/models/",
            "RECORD_PREFIX": RECORD_PREFIX,
            "RETIRED_PREFIX": "endpoints/spend/retired/",
            "MODEL_PACKAGE_GROUPS": GROUP,
            "MODEL_KEY_ARN": key,
            "ENDPOINT_NAME": ENDPOINT,
            "VARIANT_NAME": "AllTraffic",
            "EXECUTION_ROLE_ARN": ROLE,
            "VPC_CONFIG": json.dumps(VPC),
            "COMPONENTS": json.dumps({GROUP: settings()}),
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        fake = FakeComponents()
        make = index.deployer_from_environment

        def instrumented() -> Any:
            deployer = make()
            fake.install(deployer)
            return deployer

        monkeypatch.setattr(index, "deployer_from_environment", instrumented)
        yield {
            "s3": s3,
            "sagemaker": sagemaker,
            "cloudwatch": boto3.client("cloudwatch", region_name=REGION),
            "fake": fake,
        }


def register(aws) -> dict[str, Any]:
    sagemaker = aws["sagemaker"]
    run = len(sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"])
    key = f"pipelines/{GROUP}/run-{run + 1}/output/model.tar.gz"
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=ARCHIVE)
    url = f"s3://{BUCKET}/{key}"
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    version = sagemaker.describe_model_package(ModelPackageName=arn)["ModelPackageVersion"]
    return {"arn": arn, "version": version, "url": url}


def event(package: dict[str, Any], status: str = "Approved") -> dict[str, Any]:
    made = copy.deepcopy(APPROVED_EVENT if status == "Approved" else REJECTED_EVENT)
    made["resources"] = [package["arn"]]
    made["detail"].update(
        {
            "ModelPackageGroupName": GROUP,
            "ModelPackageVersion": package["version"],
            "ModelPackageArn": package["arn"],
        }
    )
    made["detail"]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = package["url"]
    return made


def reject(aws, package: dict[str, Any]) -> None:
    aws["sagemaker"].update_model_package(
        ModelPackageArn=package["arn"], ModelApprovalStatus="Rejected"
    )


def served_model(aws) -> str:
    return aws["fake"].components[COMPONENT]["Specification"]["ModelName"]


def record(aws, version: int) -> dict[str, Any]:
    key = f"{RECORD_PREFIX}{GROUP}/v{version}.json"
    return json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read())


@pytest.fixture
def two_versions(aws) -> tuple[dict[str, Any], dict[str, Any]]:
    first, second = register(aws), register(aws)
    for package in (first, second):
        assert index.handler(event(package), CONTEXT)["status"] == "deployed"
    return first, second


def test_two_versions_deployed_in_order(aws, two_versions):
    first, second = two_versions
    fake = aws["fake"]
    models = fake.params("CreateModel")
    assert [m["ModelName"] for m in models] == [f"{COMPONENT}-v1", f"{COMPONENT}-v2"]
    assert models[0] == {
        "ModelName": f"{COMPONENT}-v1",
        "Containers": [{"ModelPackageName": first["arn"]}],
        "ExecutionRoleArn": ROLE,
        "VpcConfig": VPC,
        "EnableNetworkIsolation": True,
    }
    assert aws["sagemaker"].describe_model(ModelName=f"{COMPONENT}-v2")["Containers"] == [
        {"ModelPackageName": second["arn"]}
    ]
    (created,) = fake.params("CreateInferenceComponent")
    assert created == {
        "InferenceComponentName": COMPONENT,
        "EndpointName": ENDPOINT,
        "VariantName": "AllTraffic",
        "Specification": {
            "ModelName": f"{COMPONENT}-v1",
            "ComputeResourceRequirements": {
                "NumberOfCpuCoresRequired": 1.0,
                "MinMemoryRequiredInMb": 1024,
            },
        },
        "RuntimeConfig": {"CopyCount": 1},
    }
    (updated,) = fake.params("UpdateInferenceComponent")
    assert updated["Specification"]["ModelName"] == f"{COMPONENT}-v2"
    assert "RuntimeConfig" not in updated  # the copy count autoscaling set is kept
    assert updated["DeploymentConfig"] == {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
            "WaitIntervalInSeconds": index.ROLLING_WAIT_SECONDS,
            "MaximumExecutionTimeoutInSeconds": index.ROLLING_TIMEOUT_SECONDS,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in ROLLBACK_ALARMS]},
    }
    assert served_model(aws) == f"{COMPONENT}-v2"
    # Autoscaling: registered once (scale to zero: min 0), both policies, the wake-up alarm.
    assert fake.params("RegisterScalableTarget") == [
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": f"inference-component/{COMPONENT}",
            "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
            "MinCapacity": 0,
            "MaxCapacity": 4,
        }
    ]
    policies = {p["PolicyName"]: p for p in fake.params("PutScalingPolicy")}
    assert len(fake.params("PutScalingPolicy")) == 2
    tracking = policies[f"{COMPONENT}-invocations-per-copy"]
    assert tracking["TargetTrackingScalingPolicyConfiguration"][
        "PredefinedMetricSpecification"
    ] == {"PredefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"}
    assert tracking["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 10
    wake_up = policies[f"{COMPONENT}-wake-up"]
    assert wake_up["PolicyType"] == "StepScaling"
    (alarm,) = aws["cloudwatch"].describe_alarms(AlarmNames=[f"{COMPONENT}-no-capacity"])[
        "MetricAlarms"
    ]
    assert alarm["MetricName"] == "NoCapacityInvocationFailures"
    assert alarm["Namespace"] == "AWS/SageMaker"
    assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": COMPONENT}]
    assert alarm["AlarmActions"] == [
        fake.policies[(f"inference-component/{COMPONENT}", f"{COMPONENT}-wake-up")]["PolicyARN"]
    ]
    assert len(fake.params("PutMetricAlarm")) == 1
    for version in (1, 2):
        assert record(aws, version)["status"] == "deployed"
        assert record(aws, version)["model"] == f"{COMPONENT}-v{version}"


def test_a_second_delivery_changes_nothing(aws, two_versions):
    _, second = two_versions
    fake = aws["fake"]
    fake.calls.clear()
    assert index.handler(event(second), CONTEXT)["status"] == "already-deployed"
    assert fake.writes() == []
    # Only the lock object was written and removed in S3.
    s3_writes = [p.get("Key") for op, p in fake.calls if op in ("PutObject", "DeleteObject")]
    assert all(k.endswith("component.lock") for k in s3_writes)


def test_an_older_approval_arriving_late_is_ignored(aws, two_versions):
    first, _ = two_versions
    fake = aws["fake"]
    fake.calls.clear()
    result = index.handler(event(first), CONTEXT)
    assert result["status"] == "ignored" and "newer than 1" in result["reason"]
    assert fake.writes() == []
    assert served_model(aws) == f"{COMPONENT}-v2"


def test_rejecting_the_served_version_rolls_back_to_the_previous_one(aws, two_versions):
    _, second = two_versions
    fake = aws["fake"]
    reject(aws, second)
    fake.calls.clear()
    result = index.handler(event(second, "Rejected"), CONTEXT)
    assert result == {"status": "rolled-back", "component": COMPONENT, "model": f"{COMPONENT}-v1"}
    (updated,) = fake.params("UpdateInferenceComponent")
    assert updated["Specification"]["ModelName"] == f"{COMPONENT}-v1"
    assert updated["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"][0] == {
        "AlarmName": ROLLBACK_ALARMS[0]
    }
    assert served_model(aws) == f"{COMPONENT}-v1"
    # Nothing deleted: both models and both records are kept.
    assert fake.writes() == ["UpdateInferenceComponent"]
    # A late approval of the rejected version: the registry says Rejected, so ignored.
    result = index.handler(event(second), CONTEXT)
    assert result["status"] == "ignored" and "now 'Rejected'" in result["reason"]
    assert served_model(aws) == f"{COMPONENT}-v1"


def test_rejecting_a_version_not_served_leaves_the_component(aws, two_versions):
    first, _ = two_versions
    fake = aws["fake"]
    reject(aws, first)
    fake.calls.clear()
    assert index.handler(event(first, "Rejected"), CONTEXT)["status"] == "rejected"
    assert fake.writes() == []
    assert served_model(aws) == f"{COMPONENT}-v2"
    assert record(aws, 1)["status"] == "rejected"


def test_rejecting_the_only_approved_version_withdraws_the_component(aws):
    only = register(aws)
    assert index.handler(event(only), CONTEXT)["status"] == "deployed"
    fake = aws["fake"]
    reject(aws, only)
    result = index.handler(event(only, "Rejected"), CONTEXT)
    assert result["status"] == "withdrawn"
    assert COMPONENT not in fake.components
    assert fake.targets == {} and fake.policies == {}
    assert (
        aws["cloudwatch"].describe_alarms(AlarmNames=[f"{COMPONENT}-no-capacity"])["MetricAlarms"]
        == []
    )
    aws["sagemaker"].describe_model(ModelName=f"{COMPONENT}-v1")  # the model is kept
    assert record(aws, 1)["componentDeleted"] is True
    # The next approval creates it again.
    following = register(aws)
    assert index.handler(event(following), CONTEXT)["status"] == "deployed"
    assert served_model(aws) == f"{COMPONENT}-v2"


def test_a_component_rolled_back_by_its_alarms_is_not_updated_again(aws, two_versions):
    _, second = two_versions
    fake = aws["fake"]
    # SageMaker's automatic rollback: the component is back on version 1.
    fake.components[COMPONENT]["Specification"]["ModelName"] = f"{COMPONENT}-v1"
    fake.calls.clear()
    assert index.handler(event(second), CONTEXT)["status"] == "rolled-back"
    assert fake.writes() == []
    assert record(aws, 2)["status"] == "rolled-back"


def test_a_component_that_stays_busy_is_retried_by_lambda(aws, two_versions):
    third = register(aws)
    aws["fake"].components[COMPONENT]["InferenceComponentStatus"] = "Updating"
    with pytest.raises(index.ComponentBusy, match="Updating"):
        index.handler(event(third), CONTEXT)
    assert served_model(aws) == f"{COMPONENT}-v2"
    # Negative control: once in service, the same event deploys.
    aws["fake"].components[COMPONENT]["InferenceComponentStatus"] = "InService"
    assert index.handler(event(third), CONTEXT)["status"] == "deployed"
    assert served_model(aws) == f"{COMPONENT}-v3"


@pytest.mark.parametrize(
    "make",
    [
        lambda e: {**e, "source": "aws.events"},
        lambda e: {**e, "detail": {**e["detail"], "ModelApprovalStatus": "PendingManualApproval"}},
        lambda e: {**e, "detail": {**e["detail"], "ModelPackageVersion": "2"}},
        lambda e: {**e, "detail": {**e["detail"], "ModelPackageGroupName": "churn"}},
    ],
    ids=["other-source", "pending", "version-string", "other-group"],
)
def test_unrelated_or_malformed_events_change_nothing(aws, two_versions, make):
    _, second = two_versions
    aws["fake"].calls.clear()
    assert index.handler(make(event(second)), CONTEXT)["status"] == "ignored"
    assert aws["fake"].writes() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COMPONENTS", "not json"),
        ("COMPONENTS", json.dumps({GROUP: settings(max_copies=0)})),
        ("COMPONENTS", json.dumps({GROUP: settings(cpu_cores=0.1, name="bad_name")})),
        ("COMPONENTS", json.dumps({"other-group": settings()})),
        ("VPC_CONFIG", json.dumps({"Subnets": []})),
        ("ENDPOINT_NAME", ""),
    ],
    ids=[
        "not-json",
        "no-copies",
        "two-problems",
        "group-without-component",
        "no-subnets",
        "no-endpoint",
    ],
)
def test_a_misconfigured_function_raises(aws, monkeypatch, name, value):
    package = register(aws)
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        index.handler(event(package), CONTEXT)
    assert aws["fake"].writes() == []

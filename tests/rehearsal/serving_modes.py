"""What the serving rehearsal (``test_serving_modes.py``) runs the deployed serving with.

The approved-model deployer runs with the environment its synthesized function has, resolved
from the template (:func:`deployer_function`), in moto, as the account of the assembly
(``MOTO_ACCOUNT_ID``) so that every ARN and queue URL of that environment names what moto
holds. Two things moto 5.2 lacks are answered by stand-ins on botocore's ``before-call``
hook (the one botocore's Stubber uses: botocore still validates each request against the
service model first):

* inference components and their Application Auto Scaling: the deployer tests' stateful
  :class:`tests.serving.test_model_deployer_components.FakeComponents`, reused as it is;
* ``UpdateEndpoint``: :class:`EndpointUpdates` applies a new endpoint configuration to
  moto's endpoint with the retention of variant properties the API reference documents
  (SageMaker API Reference, "UpdateEndpoint": ``RetainAllVariantProperties``, default false,
  keeps the variant properties of the running endpoint, "such as the instance count or the
  variant weight"; ``ExcludeRetainedVariantProperties`` lists the ``VariantProperty`` types
  taken from the new configuration instead; "VariantProperty": ``DesiredInstanceCount`` and
  ``DesiredWeight`` override the running values with the configuration's
  ``InitialInstanceCount`` and ``InitialVariantWeight``, ``DataCaptureConfig`` is "not
  currently supported"). CloudFormation passes the endpoint's ``RetainAllVariantProperties``
  and ``ExcludeRetainedVariantProperties`` on an update (CloudFormation Template Reference,
  "AWS::SageMaker::Endpoint VariantProperty").
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

from tests.helpers import lambda_context, load_handler
from tests.rehearsal.assembly import Assembly
from tests.rehearsal.monitoring import s3_key

#: The dead-letter queue setting of every handler (the deployer sends non-retryable failures).
DEAD_LETTER_QUEUE_URL = "DEAD_LETTER_QUEUE_URL"


@dataclass
class DeployerFunction:
    """The approved-model deployer of one environment, as synthesized."""

    stack: str
    logical_id: str
    #: Its environment variables, resolved as CloudFormation would deploy them.
    environment: dict[str, str]

    @property
    def groups(self) -> list[str]:
        return [g for g in self.environment["MODEL_PACKAGE_GROUPS"].split(",") if g]

    @property
    def components(self) -> dict[str, dict[str, Any]]:
        return dict(json.loads(self.environment.get("COMPONENTS") or "{}"))


def deployer_function(assembly: Assembly) -> DeployerFunction:
    """The one function of the Serving stack that deploys approved versions (the function
    whose environment names ``MODEL_PACKAGE_GROUPS``)."""
    found = []
    for stack, logical_id, function in assembly.by_path("Serving/*/Function/Resource"):
        variables = assembly.props(stack, function).get("Environment", {}).get("Variables", {})
        if "MODEL_PACKAGE_GROUPS" in variables:
            found.append(DeployerFunction(stack, logical_id, dict(variables)))
    assert len(found) == 1, f"{len(found)} deployer functions in the Serving stack"
    return found[0]


def serving_endpoint(assembly: Assembly) -> tuple[str, str, dict[str, Any], str, dict[str, Any]]:
    """(stack, endpoint logical id, endpoint properties, config logical id, config
    properties) of the Serving stack's one endpoint, resolved."""
    ((stack, endpoint_id, endpoint),) = [
        r for r in assembly.resources("AWS::SageMaker::Endpoint") if r[0].endswith("-Serving")
    ]
    config_ref = endpoint["Properties"]["EndpointConfigName"]["Fn::GetAtt"][0]
    config = assembly.stacks[stack].template["Resources"][config_ref]
    return (
        stack,
        endpoint_id,
        assembly.props(stack, endpoint),
        config_ref,
        assembly.props(stack, config),
    )


def component_alarm_names(assembly: Assembly, stack: str, component: str) -> list[str]:
    """The physical names of the Serving template's alarms on ``component``'s metrics (their
    ``InferenceComponentName`` dimension), in template order."""
    names = []
    for found_stack, logical_id, alarm in assembly.resources("AWS::CloudWatch::Alarm"):
        if found_stack != stack:
            continue
        dimensions = assembly.props(stack, alarm).get("Dimensions", [])
        if {"Name": "InferenceComponentName", "Value": component} in dimensions:
            names.append(assembly.ref(stack, logical_id))
    return names


@dataclass
class Account:
    """moto, as the assembly's account, with what the serving rehearsal needs in it."""

    assembly: Assembly
    s3: Any
    sagemaker: Any
    sqs: Any
    cloudwatch: Any
    monkeypatch: pytest.MonkeyPatch


@contextmanager
def moto_account(
    assembly: Assembly, boto3_session: Any, buckets: list[str], dead_letter_queue_url: str
) -> Iterator[Account]:
    """moto as ``assembly``'s account and region, with ``buckets`` (versioned, as the lake
    makes its artifacts bucket) and the deployer's dead-letter queue (whose URL then is the
    one the function was synthesized with)."""
    monkeypatch = pytest.MonkeyPatch()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", assembly.region)
    monkeypatch.setenv("MOTO_ACCOUNT_ID", assembly.account)
    try:
        with mock_aws():
            monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3_session)
            region = assembly.region
            s3 = boto3.client("s3", region_name=region)
            for bucket in dict.fromkeys(buckets):
                s3.create_bucket(
                    Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
                )
                s3.put_bucket_versioning(
                    Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
                )
            sqs = boto3.client("sqs", region_name=region)
            url = sqs.create_queue(QueueName=dead_letter_queue_url.rsplit("/", 1)[-1])["QueueUrl"]
            assert url == dead_letter_queue_url, (url, dead_letter_queue_url)
            yield Account(
                assembly,
                s3,
                boto3.client("sagemaker", region_name=region),
                sqs,
                boto3.client("cloudwatch", region_name=region),
                monkeypatch,
            )
    finally:
        monkeypatch.undo()


def dead_letters(account: Account, queue_url: str) -> list[Any]:
    """The messages on the deployer's dead-letter queue (none, when nothing failed)."""
    return account.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    )


def register_version(
    account: Account, request: Mapping[str, Any], archive: bytes, run: int
) -> dict[str, Any]:
    """Register a version of the rehearsal's model package, Approved.

    The request is the rehearsed ``RegisterModel`` step's; run 1 keeps its artifact, a later
    run (a retraining standing in for a new model) puts the same archive under its own key.
    Returns the package's ARN, version and artifact URL.
    """
    group = request["ModelPackageGroupName"]
    sagemaker = account.sagemaker
    if not sagemaker.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]:
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    inference = copy.deepcopy(request["InferenceSpecification"])
    container = inference["Containers"][0]
    url = container["ModelDataUrl"]
    if run > 1:
        head, _, name = url.rpartition("/")
        url = f"{head}/retrained-{run}/{name}"
        container["ModelDataUrl"] = url
    bucket = url.removeprefix("s3://").split("/", 1)[0]
    account.s3.put_object(Bucket=bucket, Key=s3_key(url), Body=archive)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification=inference,
    )["ModelPackageArn"]
    version = sagemaker.describe_model_package(ModelPackageName=arn)["ModelPackageVersion"]
    return {"arn": arn, "version": version, "url": url, "group": group}


def reject_version(account: Account, package: Mapping[str, Any]) -> None:
    """Reject ``package`` in the registry (what a reviewer does before the event is sent)."""
    account.sagemaker.update_model_package(
        ModelPackageArn=package["arn"], ModelApprovalStatus="Rejected"
    )


def package_event(
    published: Mapping[str, Any], package: Mapping[str, Any], account: str, region: str
) -> dict[str, Any]:
    """The published ``SageMaker Model Package State Change`` event (``tests/events``) for
    ``package``, in the assembly's account and region."""
    made = copy.deepcopy(dict(published))
    made.pop("_comment", None)
    made["account"] = account
    made["region"] = region
    made["resources"] = [package["arn"]]
    made["detail"].update(
        {
            "ModelPackageGroupName": package["group"],
            "ModelPackageVersion": package["version"],
            "ModelPackageArn": package["arn"],
        }
    )
    made["detail"]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = package["url"]
    return made


def run_deployer(
    account: Account, function: DeployerFunction, event: Any, stand_in: Any = None
) -> Any:
    """Invoke the deployer's handler with ``function``'s environment, as Lambda would; with
    ``stand_in`` (a ``FakeComponents``), its clients answered for the calls moto lacks."""
    index = load_handler("model_deployer")
    with account.monkeypatch.context() as patch:
        for key, value in function.environment.items():
            patch.setenv(key, value)
        if stand_in is not None:
            made = index.deployer_from_environment

            def instrumented() -> Any:
                deployer = made()
                stand_in.install(deployer)
                return deployer

            patch.setattr(index, "deployer_from_environment", instrumented)
        return index.handler(event, lambda_context("approved-models"))


def _answer(body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse(None, 200, {}, None), {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}


#: ``VariantProperty`` type -> the endpoint's variant fields it covers (DescribeEndpoint's
#: ``ProductionVariantSummary``).
_RETAINED_FIELDS = {
    "DesiredWeight": ("CurrentWeight", "DesiredWeight"),
    "DesiredInstanceCount": ("CurrentInstanceCount", "DesiredInstanceCount"),
}


class EndpointUpdates:
    """``UpdateEndpoint`` on moto's endpoints (moto 5.2 does not implement it), as the API
    reference describes it: the endpoint takes the new configuration's variants; with
    ``RetainAllVariantProperties`` a variant the running endpoint already has keeps its
    weight and instance count unless ``ExcludeRetainedVariantProperties`` names them.
    (Data capture is the endpoint's, not a variant's, in moto's model; the reference calls
    excluding ``DataCaptureConfig`` not supported, so the stand-in takes the new
    configuration's capture whatever the list says, and asserts nothing about it.)"""

    def __init__(self, client: Any, account: str, region: str) -> None:
        self.account = account
        self.region = region
        #: The parameters of each UpdateEndpoint call, in order.
        self.calls: list[dict[str, Any]] = []
        client.meta.events.register("provide-client-params.sagemaker.UpdateEndpoint", self._keep)
        client.meta.events.register("before-call.sagemaker.UpdateEndpoint", self._update)

    def _keep(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(copy.deepcopy(params))

    def _update(self, **_: Any) -> Any:
        params = self.calls[-1]
        backend = sagemaker_backends[self.account][self.region]
        endpoint = backend.endpoints[params["EndpointName"]]
        config = backend.describe_endpoint_config(params["EndpointConfigName"])
        running = {v["VariantName"]: v for v in endpoint.production_variants}
        variants = endpoint._process_production_variants(config["ProductionVariants"])
        if params.get("RetainAllVariantProperties", False):
            excluded = {
                p["VariantPropertyType"] for p in params.get("ExcludeRetainedVariantProperties", [])
            }
            for variant in variants:
                before = running.get(variant["VariantName"])
                if before is None:
                    continue  # a new variant starts as its configuration says
                for kind, fields in _RETAINED_FIELDS.items():
                    if kind not in excluded:
                        variant.update({f: before[f] for f in fields if f in before})
        endpoint.production_variants = variants
        endpoint.endpoint_config_name = params["EndpointConfigName"]
        endpoint.data_capture_config = config["DataCaptureConfig"]
        return _answer({"EndpointArn": endpoint.arn})

"""The model deployer handler, against moto's S3, KMS and SageMaker model registry.

Events are built from tests/events/sagemaker_model_package_state_change.json, a model
package state change in the shape the SageMaker Developer Guide publishes; its identifiers
are synthetic, and each test sets the group, version, ARN and artifact of a package it
registered in moto's SageMaker (moto implements the model package group and model package
calls the handler and these tests use). Failures are injected with botocore event hooks on
the handler's own S3 client, or by wrapping one of its methods; the handler still talks to
moto throughout.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from moto import mock_aws
from s3transfer.utils import ChunksizeAdjuster

from tests.helpers import lambda_context, load_handler

REGION = "eu-west-1"
BUCKET = "mlops-dev-artifacts"
MODEL_PREFIX = "endpoints/spend/models/"
RECORD_PREFIX = "endpoints/spend/deployments/"
RETIRED_PREFIX = "endpoints/spend/retired/"
GROUP = "spend-forecast"
OTHER_GROUP = "churn-classifier"
IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
# The pipeline's artifacts key (moto's S3 does not look keys up; one fewer key to create).
ARTIFACT_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
ARCHIVE = b"\x1f\x8b\x08\x00" + b"xgboost-model " * 64
MiB = 1024 * 1024
GiB = 1024 * MiB
TiB = 1024 * GiB
#: S3 calls that write something.
WRITES = frozenset(
    {
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "DeleteObject",
        "PutObjectTagging",
    }
)
EVENTS = Path(__file__).parent.parent / "events"
EVENT = json.loads((EVENTS / "sagemaker_model_package_state_change.json").read_text())


index = load_handler("model_deployer")


CONTEXT = lambda_context("deployer")


@pytest.fixture
def aws(monkeypatch, boto3_session) -> Iterator[dict[str, Any]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        # The handler's boto3.client(...) calls use it too.
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3_session)
        s3 = boto3.client("s3", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        model_key = kms.create_key()["KeyMetadata"]["Arn"]
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for group in (GROUP, OTHER_GROUP):
            sagemaker.create_model_package_group(ModelPackageGroupName=group)
        monkeypatch.setenv("MODEL_BUCKET", BUCKET)
        monkeypatch.setenv("MODEL_PREFIX", MODEL_PREFIX)
        monkeypatch.setenv("RECORD_PREFIX", RECORD_PREFIX)
        monkeypatch.setenv("RETIRED_PREFIX", RETIRED_PREFIX)
        monkeypatch.setenv("MODEL_PACKAGE_GROUPS", f"{GROUP},other-group")
        monkeypatch.setenv("MODEL_KEY_ARN", model_key)
        monkeypatch.setenv("LOG_LEVEL", "INFO")
        yield {
            "s3": s3,
            "sagemaker": sagemaker,
            "model_key": model_key,
        }


@pytest.fixture
def handler_s3(monkeypatch) -> SimpleNamespace:
    """The handler's S3 client, instrumented.

    ``calls`` lists the operations it makes, in order; each function added to ``setup`` is
    called with every deployer the handler makes, before it is used.
    """
    calls: list[str] = []
    setup: list[Callable[[Any], None]] = []
    make = index.deployer_from_environment

    def instrumented() -> Any:
        deployer = make()
        deployer.s3.meta.events.register(
            "before-call.s3", lambda model, **_: calls.append(model.name)
        )
        for step in setup:
            step(deployer)
        return deployer

    monkeypatch.setattr(index, "deployer_from_environment", instrumented)
    return SimpleNamespace(calls=calls, setup=setup)


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    collector = Collect()
    index.logger.addHandler(collector)
    yield records
    index.logger.removeHandler(collector)


def register(
    aws,
    *,
    group: str = GROUP,
    body: bytes = ARCHIVE,
    status: str = "Approved",
    artifact: str | None = None,
) -> dict[str, Any]:
    """Upload a model artifact, register a package for it and return what the event needs."""
    sagemaker = aws["sagemaker"]
    run = len(sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"])
    key = f"pipelines/{group}/run-{run + 1}/output/model.tar.gz"
    aws["s3"].put_object(
        Bucket=BUCKET,
        Key=key,
        Body=body,
        ContentType="application/x-gzip",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=ARTIFACT_KEY,
    )
    url = artifact or f"s3://{BUCKET}/{key}"
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    return {
        "arn": arn,
        "group": group,
        "version": described["ModelPackageVersion"],
        "url": url,
        "key": key,
        "body": body,
    }


def approval_event(package: dict[str, Any], status: str = "Approved") -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    event["resources"] = [package["arn"]]
    detail = event["detail"]
    detail.update(
        {
            "ModelPackageGroupName": package["group"],
            "ModelPackageVersion": package["version"],
            "ModelPackageArn": package["arn"],
            "ModelApprovalStatus": status,
        }
    )
    detail["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = package["url"]
    return event


def target_key(package: dict[str, Any]) -> str:
    return f"{MODEL_PREFIX}{package['group']}/v{package['version']}.tar.gz"


def record_key(package: dict[str, Any]) -> str:
    return f"{RECORD_PREFIX}{package['group']}/v{package['version']}.json"


def snapshot(aws) -> list[tuple[str, str, bool]]:
    """Every object version and delete marker in the bucket."""
    listing = aws["s3"].list_object_versions(Bucket=BUCKET)
    entries = listing.get("Versions", []) + listing.get("DeleteMarkers", [])
    return sorted((e["Key"], e["VersionId"], e["IsLatest"]) for e in entries)


def keys_under(aws, prefix: str) -> list[str]:
    return [k for k, _, _ in snapshot(aws) if k.startswith(prefix)]


def nothing_half_written(aws, package: dict[str, Any]) -> None:
    assert keys_under(aws, target_key(package)) == []  # no version, no delete marker
    assert keys_under(aws, RECORD_PREFIX) == []
    assert aws["s3"].list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_an_approved_package_is_copied_under_its_versioned_name(aws, handler_s3, log_records):
    package = register(aws)
    result = index.handler(approval_event(package), CONTEXT)
    assert result == {
        "status": "deployed",
        "targetModel": f"{GROUP}/v1.tar.gz",
        "key": f"{MODEL_PREFIX}{GROUP}/v1.tar.gz",
    }
    s3 = aws["s3"]
    copied = s3.get_object(Bucket=BUCKET, Key=target_key(package))
    assert copied["Body"].read() == ARCHIVE
    assert copied["ServerSideEncryption"] == "aws:kms"
    assert copied["SSEKMSKeyId"] == aws["model_key"]  # re-encrypted with the model key
    assert copied["ContentType"] == "application/x-gzip"
    source = s3.head_object(Bucket=BUCKET, Key=package["key"])
    assert copied["Metadata"] == {
        "model-package-arn": package["arn"],
        "model-package-group": GROUP,
        "model-package-version": "1",
        "source-uri": package["url"],
        "source-etag": source["ETag"].strip('"'),
        "source-size": str(len(ARCHIVE)),
        "source-version-id": source["VersionId"],
    }
    assert "CopyObject" in handler_s3.calls and "UploadPartCopy" not in handler_s3.calls
    assert s3.get_object_tagging(Bucket=BUCKET, Key=target_key(package))["TagSet"] == []

    stored = s3.get_object(Bucket=BUCKET, Key=record_key(package))
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert stored["SSEKMSKeyId"] == aws["model_key"]
    record = json.loads(stored["Body"].read())
    assert record.pop("deployedAt")
    assert record == {
        "status": "deployed",
        "modelPackageArn": package["arn"],
        "modelPackageGroupName": GROUP,
        "modelPackageVersion": 1,
        "sourceUri": package["url"],
        "sourceEtag": source["ETag"].strip('"'),
        "sourceSize": len(ARCHIVE),
        "sourceVersionId": source["VersionId"],
        "bucket": BUCKET,
        "key": target_key(package),
        "targetModel": f"{GROUP}/v1.tar.gz",
        "eventId": EVENT["id"],
        "eventTime": EVENT["time"],
    }
    # Only the model, the record and the source: nothing else was written.
    assert [k for k, _, _ in snapshot(aws)] == sorted(
        [package["key"], target_key(package), record_key(package)]
    )
    (deployed,) = [r for r in log_records if r.getMessage() == "deployed"]
    assert deployed.levelno == logging.INFO
    assert deployed.targetModel == f"{GROUP}/v1.tar.gz"
    assert deployed.modelPackageArn == package["arn"]


def test_log_lines_are_powertools_json_with_the_invocation(aws, handler_s3, log_records):
    package = register(aws)
    index.handler(approval_event(package), CONTEXT)
    (deployed,) = [r for r in log_records if r.getMessage() == "deployed"]
    line = json.loads(index.logger.registered_formatter.format(deployed))
    assert line["level"] == "INFO" and line["message"] == "deployed"
    assert line["service"] == "model_deployer"
    assert line["targetModel"] == f"{GROUP}/v1.tar.gz"  # the call's extra fields
    # From the Lambda context, by inject_lambda_context.
    assert line["function_request_id"] == CONTEXT.aws_request_id
    assert line["function_arn"] == CONTEXT.invoked_function_arn
    assert isinstance(line["cold_start"], bool)


def test_the_key_maps_to_the_target_model_clients_send():
    assert index.target_model("spend-forecast", 12) == "spend-forecast/v12.tar.gz"
    assert index.model_key(MODEL_PREFIX, "spend-forecast", 12) == (
        MODEL_PREFIX + index.target_model("spend-forecast", 12)
    )
    assert index.record_key(RECORD_PREFIX, "spend-forecast", 12) == (
        f"{RECORD_PREFIX}spend-forecast/v12.json"
    )


def test_versions_of_a_group_are_deployed_side_by_side(aws):
    first = register(aws, body=b"first model")
    second = register(aws, body=b"second model")
    assert index.handler(approval_event(second), CONTEXT)["targetModel"] == f"{GROUP}/v2.tar.gz"
    assert index.handler(approval_event(first), CONTEXT)["targetModel"] == f"{GROUP}/v1.tar.gz"
    s3 = aws["s3"]
    assert s3.get_object(Bucket=BUCKET, Key=target_key(first))["Body"].read() == b"first model"
    assert s3.get_object(Bucket=BUCKET, Key=target_key(second))["Body"].read() == b"second model"


def test_the_artifact_comes_from_the_registry_not_the_event(aws):
    package = register(aws)
    event = approval_event(package)
    # A stale or wrong URL in the event is not what gets deployed...
    event["detail"]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = (
        f"s3://{BUCKET}/pipelines/{GROUP}/elsewhere/model.tar.gz"
    )
    assert index.handler(event, CONTEXT)["status"] == "deployed"
    copied = aws["s3"].get_object(Bucket=BUCKET, Key=target_key(package))
    assert copied["Body"].read() == ARCHIVE
    assert copied["Metadata"]["source-uri"] == package["url"]
    # ...and an event without the specification is deployed from the registry as well.
    other = register(aws, body=b"second")
    event = approval_event(other)
    del event["detail"]["InferenceSpecification"]
    assert index.handler(event, CONTEXT)["status"] == "deployed"
    assert aws["s3"].get_object(Bucket=BUCKET, Key=target_key(other))["Body"].read() == b"second"


def test_a_second_identical_event_is_a_no_op(aws, handler_s3):
    package = register(aws)
    event = approval_event(package)
    first = index.handler(event, CONTEXT)
    before = snapshot(aws)
    modified = aws["s3"].head_object(Bucket=BUCKET, Key=target_key(package))["LastModified"]
    handler_s3.calls.clear()
    second = index.handler(event, CONTEXT)
    assert second == {**first, "status": "already-deployed"}
    assert snapshot(aws) == before  # same versions of the model and the record
    assert aws["s3"].head_object(Bucket=BUCKET, Key=target_key(package))["LastModified"] == (
        modified
    )
    assert handler_s3.calls and WRITES.isdisjoint(handler_s3.calls)


def test_a_retry_after_the_record_failed_writes_only_the_record(aws, handler_s3):
    package = register(aws)
    event = approval_event(package)

    def fail_record(deployer):
        def refuse(params, **_):
            if params["Key"] == record_key(package):  # not the deployment lock's PutObject
                raise ConnectionError("connection reset writing the record")

        deployer.s3.meta.events.register("before-parameter-build.s3.PutObject", refuse)

    handler_s3.setup.append(fail_record)
    with pytest.raises(ConnectionError):
        index.handler(event, CONTEXT)
    copied = versions_of(aws, target_key(package))
    assert len(copied) == 1 and keys_under(aws, RECORD_PREFIX) == []

    handler_s3.setup.clear()
    handler_s3.calls.clear()
    assert index.handler(event, CONTEXT)["status"] == "deployed"
    assert versions_of(aws, target_key(package)) == copied  # not copied again
    assert {"CopyObject", "UploadPartCopy"}.isdisjoint(handler_s3.calls)
    record = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=record_key(package))["Body"].read())
    assert record["modelPackageArn"] == package["arn"]


def versions_of(aws, key: str) -> list[str]:
    return [v for k, v, _ in snapshot(aws) if k == key]


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"model-package-arn": "arn:aws:sagemaker:eu-west-1:284751930618:model-package/other/1"},
        # The same package, but the artifact at its URI was replaced after that deployment.
        "same-package-other-source",
    ],
    ids=["no-provenance", "other-package", "same-package-other-source"],
)
def test_a_target_with_other_provenance_is_an_error_and_left_alone(aws, metadata):
    package = register(aws)
    if metadata == "same-package-other-source":
        source = aws["s3"].head_object(Bucket=BUCKET, Key=package["key"])
        metadata = {
            "model-package-arn": package["arn"],
            "model-package-group": GROUP,
            "model-package-version": str(package["version"]),
            "source-uri": package["url"],
            "source-etag": "0" * 32,
            "source-size": str(len(ARCHIVE)),
            "source-version-id": source["VersionId"],
        }
    older = ARCHIVE[::-1]  # another model of the same size: only the provenance tells
    aws["s3"].put_object(Bucket=BUCKET, Key=target_key(package), Body=older, Metadata=metadata)
    before = snapshot(aws)
    with pytest.raises(index.DeploymentConflict, match="never overwritten"):
        index.handler(approval_event(package), CONTEXT)
    assert snapshot(aws) == before  # nothing written, no lock left behind either
    assert aws["s3"].get_object(Bucket=BUCKET, Key=target_key(package))["Body"].read() == older


def _with_detail(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def make(event: dict[str, Any]) -> dict[str, Any]:
        event["detail"].update(changes)
        return event

    return make


def _with_model_data_url(url: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def make(event: dict[str, Any]) -> dict[str, Any]:
        event["detail"]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = url
        return event

    return make


@pytest.mark.parametrize(
    ("make_event", "reason"),
    [
        (_with_detail(ModelApprovalStatus="PendingManualApproval"), "not 'Approved'"),
        (_with_detail(ModelApprovalStatus="Rejected"), "now 'Approved' in the registry"),
        (_with_detail(ModelApprovalStatus="PendingManualApproval"), "or 'Rejected'"),
        (lambda e: {**e, "detail-type": "SageMaker Model State Change"}, "not a model package"),
        (lambda e: {**e, "source": "aws.events"}, "not a model package"),
        (lambda e: ["not", "an", "object"], "list, not an object"),
        (lambda e: "Approved", "str, not an object"),
        (lambda e: None, "NoneType, not an object"),
        (lambda e: {k: v for k, v in e.items() if k != "detail"}, "no detail"),
        (lambda e: {**e, "detail": "oops"}, "no detail"),
        (_with_detail(ModelPackageVersion="1"), "not a positive integer"),
        (_with_detail(ModelPackageVersion=1.0), "not a positive integer"),
        (_with_detail(ModelPackageVersion=True), "not a positive integer"),
        (_with_detail(ModelPackageVersion=0), "not a positive integer"),
        (_with_detail(ModelPackageGroupName=None), "no model package group"),
        (_with_detail(ModelPackageArn="spend-forecast/1"), "not a model package ARN"),
        (_with_detail(InferenceSpecification={"Containers": []}), "no Containers"),
        (_with_model_data_url("https://example.com/model.tar.gz"), "not an s3:// URI"),
        (_with_model_data_url(f"s3://{BUCKET}/pipelines/model.pkl"), "not a single .tar.gz"),
        (_with_model_data_url(f"s3://{BUCKET}/pipelines/output/"), "not a single .tar.gz"),
        (_with_model_data_url("s3://model.tar.gz"), "no bucket and key"),
    ],
    ids=[
        "pending-in-event",
        "rejected-in-event-approved-in-registry",
        "pending-is-neither",
        "other-detail-type",
        "other-source",
        "list",
        "string",
        "none",
        "no-detail",
        "detail-not-object",
        "version-string",
        "version-float",
        "version-bool",
        "version-zero",
        "no-group",
        "bad-arn",
        "no-containers",
        "url-not-s3",
        "url-not-tar-gz",
        "url-prefix",
        "url-no-key",
    ],
)
def test_unrelated_or_malformed_events_change_nothing(aws, handler_s3, make_event, reason):
    package = register(aws)
    before = snapshot(aws)
    result = index.handler(make_event(approval_event(package)), CONTEXT)
    assert result["status"] == "ignored"
    assert reason in result["reason"]
    assert snapshot(aws) == before
    assert WRITES.isdisjoint(handler_s3.calls)


def test_an_event_approved_but_rejected_since_is_ignored(aws, log_records):
    package = register(aws)
    aws["sagemaker"].update_model_package(
        ModelPackageArn=package["arn"], ModelApprovalStatus="Rejected"
    )
    before = snapshot(aws)
    result = index.handler(approval_event(package), CONTEXT)
    assert result == {
        "status": "ignored",
        "reason": "the model package is now 'Rejected' in the registry, not 'Approved'",
    }
    assert snapshot(aws) == before
    (warning,) = [r for r in log_records if r.getMessage() == "ignored event"]
    assert warning.levelno == logging.WARNING
    assert warning.reason == result["reason"] and warning.eventId == EVENT["id"]


def test_an_event_approved_while_the_registry_still_waits_is_ignored(aws):
    package = register(aws, status="PendingManualApproval")
    result = index.handler(approval_event(package), CONTEXT)
    assert result["status"] == "ignored" and "'PendingManualApproval'" in result["reason"]
    assert keys_under(aws, "endpoints/") == []


def test_a_package_of_another_group_is_ignored(aws, handler_s3):
    package = register(aws, group=OTHER_GROUP)
    before = snapshot(aws)
    result = index.handler(approval_event(package), CONTEXT)
    assert result == {
        "status": "ignored",
        "reason": f"model package group {OTHER_GROUP!r} is not deployed by this function",
    }
    assert snapshot(aws) == before
    assert handler_s3.calls == []


@pytest.mark.parametrize(
    "change",
    [
        lambda p: {**p, "arn": p["arn"].replace(f"/{p['version']}", "/99")},
        lambda p: {**p, "version": p["version"] + 1},
    ],
    ids=["unknown-package", "version-disagrees"],
)
def test_packages_the_registry_does_not_describe_as_the_event_does_are_ignored(aws, change):
    package = register(aws)
    before = snapshot(aws)
    assert index.handler(approval_event(change(package)), CONTEXT)["status"] == "ignored"
    assert snapshot(aws) == before


@pytest.mark.parametrize(
    "artifact",
    [f"s3://{BUCKET}/pipelines/{GROUP}/output/", f"s3://{BUCKET}/pipelines/{GROUP}/model.joblib"],
    ids=["prefix", "not-tar-gz"],
)
def test_a_registered_artifact_an_endpoint_cannot_load_is_ignored(aws, artifact):
    package = register(aws, artifact=artifact)
    event = approval_event(package)
    del event["detail"]["InferenceSpecification"]  # only the registry names the artifact
    before = snapshot(aws)
    result = index.handler(event, CONTEXT)
    assert result["status"] == "ignored" and "not a single .tar.gz object" in result["reason"]
    assert snapshot(aws) == before


def test_a_package_still_being_created_is_retried(aws, handler_s3):
    package = register(aws)

    def in_progress(deployer):
        describe = deployer.sagemaker.describe_model_package

        def describe_in_progress(**kwargs):
            return {**describe(**kwargs), "ModelPackageStatus": "InProgress"}

        deployer.sagemaker.describe_model_package = describe_in_progress

    handler_s3.setup.append(in_progress)
    with pytest.raises(RuntimeError, match="'InProgress', not Completed"):
        index.handler(approval_event(package), CONTEXT)
    nothing_half_written(aws, package)


def test_a_missing_artifact_is_an_error(aws):
    package = register(aws)
    aws["s3"].delete_object(Bucket=BUCKET, Key=package["key"])
    with pytest.raises(index.ArtifactMissing, match="does not exist"):
        index.handler(approval_event(package), CONTEXT)
    nothing_half_written(aws, package)


# -- deterministic failures go straight to the dead-letter queue ------------------------
@pytest.fixture
def dead_letters(aws, monkeypatch) -> Callable[[], list[dict[str, Any]]]:
    """The function's dead-letter queue (moto SQS); returns a reader of its records."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="deployer-dlq")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", url)

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return read


LAMBDA_CONTEXT = SimpleNamespace(
    function_name="deployer",
    memory_limit_in_mb=256,
    aws_request_id="4f1b6c1e-8d0a-4c55-9a1e-2b7d7f0e5a10",
    invoked_function_arn="arn:aws:lambda:eu-west-1:284751930618:function:deployer",
    get_remaining_time_in_millis=lambda: 15 * 60 * 1000,
)


def test_a_missing_artifact_is_dead_lettered_with_its_reason_not_retried(aws, dead_letters):
    package = register(aws)
    aws["s3"].delete_object(Bucket=BUCKET, Key=package["key"])
    event = approval_event(package)
    result = index.handler(event, LAMBDA_CONTEXT)  # returns: Lambda does not retry
    assert result["status"] == "dead-lettered" and "does not exist" in result["reason"]
    (record,) = dead_letters()
    assert record["requestPayload"] == event
    assert record["requestContext"]["condition"] == "NonRetryable"
    assert record["requestContext"]["requestId"] == LAMBDA_CONTEXT.aws_request_id
    assert record["responsePayload"]["errorType"] == "ArtifactMissing"
    assert package["url"] in record["responsePayload"]["errorMessage"]
    nothing_half_written(aws, package)


def test_a_target_with_other_provenance_is_dead_lettered(aws, dead_letters):
    package = register(aws)
    aws["s3"].put_object(Bucket=BUCKET, Key=target_key(package), Body=ARCHIVE[::-1])
    before = snapshot(aws)
    result = index.handler(approval_event(package), LAMBDA_CONTEXT)
    assert result["status"] == "dead-lettered"
    (record,) = dead_letters()
    assert record["responsePayload"]["errorType"] == "DeploymentConflict"
    assert snapshot(aws) == before


def test_a_transient_failure_is_raised_for_lambda_to_retry(aws, dead_letters, handler_s3):
    package = register(aws)
    handler_s3.setup.append(_raise_before("CopyObject"))
    with pytest.raises(ConnectionError):
        index.handler(approval_event(package), LAMBDA_CONTEXT)
    assert dead_letters() == []  # Lambda's on-failure destination does it after the retries


class FakeClock:
    """``time.monotonic``, ``time.time`` and ``time.sleep`` of the handler, without waiting."""

    #: The wall-clock time at ``now == 0`` (any fixed instant; 2033-05-18).
    EPOCH = 2_000_000_000.0

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.EPOCH + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _completes_after(clock: FakeClock, seconds: float) -> Callable[[Any], None]:
    def install(deployer: Any) -> None:
        describe = deployer.sagemaker.describe_model_package

        def describe_until_done(**kwargs):
            status = "Completed" if clock.now >= seconds else "InProgress"
            return {**describe(**kwargs), "ModelPackageStatus": status}

        deployer.sagemaker.describe_model_package = describe_until_done

    return install


def test_a_package_that_completes_in_ten_minutes_is_still_deployed(aws, handler_s3, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(index, "_monotonic", clock.monotonic)
    monkeypatch.setattr(index, "_sleep", clock.sleep)
    package = register(aws)
    handler_s3.setup.append(_completes_after(clock, 10 * 60))
    event = approval_event(package)
    # Each attempt waits while the time left leaves room for the copy; Lambda retries a
    # failed asynchronous invocation twice (after about 1 and 2 minutes).
    outcomes = []
    for retry_delay in (0, 60, 120):
        clock.now += retry_delay
        try:
            outcomes.append(index.handler(event, LAMBDA_CONTEXT)["status"])
            break
        except index.PackageNotReady:
            outcomes.append("retry")
    assert outcomes[-1] == "deployed", outcomes
    assert aws["s3"].head_object(Bucket=BUCKET, Key=target_key(package))["ContentLength"] == len(
        ARCHIVE
    )
    assert all(s <= 30 for s in clock.sleeps)  # polls, does not sleep blindly


def test_a_package_that_never_completes_is_retried_not_deployed(aws, handler_s3, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(index, "_monotonic", clock.monotonic)
    monkeypatch.setattr(index, "_sleep", clock.sleep)
    package = register(aws)
    handler_s3.setup.append(_completes_after(clock, float("inf")))
    with pytest.raises(index.PackageNotReady, match="'InProgress', not Completed"):
        index.handler(approval_event(package), LAMBDA_CONTEXT)
    # It stopped waiting with time left for Lambda to finish the invocation.
    assert clock.now <= 15 * 60 - index.COPY_RESERVE_SECONDS
    nothing_half_written(aws, package)


# -- one deployment of a version at a time, without reserved concurrency ----------------
def test_two_concurrent_deliveries_never_both_copy(aws, handler_s3):
    package = register(aws)
    event = approval_event(package)
    second: list[Any] = []

    def deliver_again_while_copying(deployer: Any) -> None:
        def during_copy(**_: Any) -> None:
            if not second:  # the first copy only: the second delivery runs meanwhile
                second.append(None)
                try:
                    second[0] = index.handler(copy.deepcopy(event), CONTEXT)
                except Exception as error:  # the outcome is what is checked
                    second[0] = error

        deployer.s3.meta.events.register("before-call.s3.CopyObject", during_copy)

    handler_s3.setup.append(deliver_again_while_copying)
    assert index.handler(event, CONTEXT)["status"] == "deployed"
    # The second delivery found the deployment in progress: an error, so Lambda retries it.
    assert isinstance(second[0], index.DeploymentInProgress), second[0]
    assert handler_s3.calls.count("CopyObject") == 1
    # Its retry, after the first finished, changes nothing.
    assert index.handler(event, CONTEXT)["status"] == "already-deployed"
    assert handler_s3.calls.count("CopyObject") == 1
    assert [k for k in keys_under(aws, target_key(package))] == [target_key(package)]


def test_the_lock_is_released_when_the_deployment_fails(aws, handler_s3):
    package = register(aws)
    failing = _raise_before("CopyObject")
    handler_s3.setup.append(failing)
    with pytest.raises(ConnectionError):
        index.handler(approval_event(package), CONTEXT)
    handler_s3.setup.remove(failing)
    assert index.handler(approval_event(package), CONTEXT)["status"] == "deployed"


def test_without_serialize_no_lock_is_taken(aws, handler_s3, monkeypatch):
    monkeypatch.setenv("SERIALIZE_DEPLOYMENTS", "false")
    package = register(aws)
    assert index.handler(approval_event(package), CONTEXT)["status"] == "deployed"
    assert handler_s3.calls.count("PutObject") == 1  # the record only
    assert keys_under(aws, f"{RECORD_PREFIX}_locks/") == []


def test_a_lock_left_by_a_timed_out_invocation_expires(aws, monkeypatch):
    package = register(aws)
    lock = f"{RECORD_PREFIX}_locks/{GROUP}/v{package['version']}.lock"
    aws["s3"].put_object(
        Bucket=BUCKET,
        Key=lock,
        Body=json.dumps({"owner": "crashed", "expires": 1_000}).encode(),
    )
    assert index.handler(approval_event(package), CONTEXT)["status"] == "deployed"


# -- the lock's lifetime follows the function's, and a held lock is waited for ----------
TIMEOUT = 15 * 60
LOCK_PREFIX = f"{RECORD_PREFIX}_locks/"


def lock_of(package: dict[str, Any]) -> str:
    return f"{LOCK_PREFIX}{package['group']}/v{package['version']}.lock"


def context_at(clock: FakeClock, timeout: float = TIMEOUT) -> SimpleNamespace:
    """A Lambda context for an invocation starting now, whose time left follows ``clock``."""
    started = clock.now
    return SimpleNamespace(
        function_name="deployer",
        memory_limit_in_mb=256,
        aws_request_id="0c9a7d36-51e2-4f8b-a0d4-6e1f2b3c4d5e",
        invoked_function_arn="arn:aws:lambda:eu-west-1:284751930618:function:deployer",
        get_remaining_time_in_millis=lambda: max(0, int((started + timeout - clock.now) * 1000)),
    )


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(index, "_monotonic", clock.monotonic)
    monkeypatch.setattr(index, "_sleep", clock.sleep)
    monkeypatch.setattr(index, "_now", clock.time)
    return clock


class TimedOut(Exception):
    """Lambda ending an invocation at its timeout (the test also skips the lock's release)."""


def test_the_first_retry_after_a_timeout_deploys(aws, handler_s3, clock, dead_letters):
    package = register(aws)
    event = approval_event(package)
    locks: list[dict[str, Any]] = []

    def times_out_while_copying(deployer: Any) -> None:
        # The runtime stops a timed-out invocation where it is: the lock is not released.
        deployer._release = lambda *_: None

        def time_out(**_: Any) -> None:
            body = aws["s3"].get_object(Bucket=BUCKET, Key=lock_of(package))["Body"].read()
            locks.append(json.loads(body))
            clock.now = TIMEOUT
            raise TimedOut

        deployer.s3.meta.events.register("before-call.s3.CopyObject", time_out)

    handler_s3.setup.append(times_out_while_copying)
    with pytest.raises(TimedOut):
        index.handler(event, context_at(clock))
    handler_s3.setup.remove(times_out_while_copying)
    assert keys_under(aws, LOCK_PREFIX) == [lock_of(package)]  # left behind
    (lock,) = locks
    # Never expired while its invocation could still run, but gone by the first retry.
    assert FakeClock.EPOCH + TIMEOUT < lock["expires"] < FakeClock.EPOCH + TIMEOUT + 60

    # Lambda's first retry, a minute after the failure (the timeout).
    clock.now = TIMEOUT + 60
    assert index.handler(event, context_at(clock))["status"] == "deployed"
    assert clock.sleeps == []  # the lock had expired: taken over at once
    assert dead_letters() == []
    assert keys_under(aws, LOCK_PREFIX) == []
    assert keys_under(aws, target_key(package)) == [target_key(package)]


def test_a_duplicate_delivery_during_a_long_copy_waits_and_finds_it_deployed(
    aws, handler_s3, clock, monkeypatch, dead_letters
):
    package = register(aws)
    event = approval_event(package)
    first_done = threading.Event()
    second_waits = threading.Event()
    second: dict[str, Any] = {}

    def sleep(seconds: float) -> None:
        # Only the second delivery waits; the first runs on while it does.
        clock.sleep(seconds)
        second_waits.set()
        first_done.wait(timeout=30)

    monkeypatch.setattr(index, "_sleep", sleep)

    def deliver_again_while_copying(deployer: Any) -> None:
        def during_copy(**_: Any) -> None:
            if "thread" in second:
                return

            def deliver() -> None:
                try:
                    second["outcome"] = index.handler(copy.deepcopy(event), context_at(clock))
                except Exception as error:  # the outcome is what is checked
                    second["outcome"] = error

            second["thread"] = thread = threading.Thread(target=deliver)
            thread.start()
            while thread.is_alive() and not second_waits.wait(0.01):
                pass
            clock.now += 5 * 60  # a multi-gigabyte archive takes minutes to copy

        deployer.s3.meta.events.register("before-call.s3.CopyObject", during_copy)

    handler_s3.setup.append(deliver_again_while_copying)
    try:
        assert index.handler(event, context_at(clock))["status"] == "deployed"
    finally:
        first_done.set()
        second["thread"].join(timeout=30)
    assert second["outcome"] == {
        "status": "already-deployed",
        "targetModel": f"{GROUP}/v{package['version']}.tar.gz",
        "key": target_key(package),
    }, second["outcome"]
    assert handler_s3.calls.count("CopyObject") == 1
    assert clock.sleeps and all(s <= 30 for s in clock.sleeps)  # polled the lock
    assert dead_letters() == []
    assert keys_under(aws, LOCK_PREFIX) == []


def test_a_lock_held_past_the_wait_is_retried_by_lambda(aws, handler_s3, clock):
    package = register(aws)
    aws["s3"].put_object(
        Bucket=BUCKET,
        Key=lock_of(package),
        Body=json.dumps({"owner": "another", "expires": FakeClock.EPOCH + 2 * TIMEOUT}).encode(),
    )
    before = snapshot(aws)
    with pytest.raises(index.DeploymentInProgress, match="another invocation"):
        index.handler(approval_event(package), context_at(clock))
    # It waited, polling, and stopped with the copy's reserve of its time still left.
    assert clock.sleeps and all(s <= 30 for s in clock.sleeps)
    assert clock.now > TIMEOUT - 2 * index.COPY_RESERVE_SECONDS
    assert clock.now <= TIMEOUT - index.COPY_RESERVE_SECONDS
    assert snapshot(aws) == before
    assert "CopyObject" not in handler_s3.calls


def test_a_lock_that_expires_while_waited_for_is_taken_over(aws, handler_s3, clock):
    package = register(aws)
    aws["s3"].put_object(
        Bucket=BUCKET,
        Key=lock_of(package),
        Body=json.dumps({"owner": "timed-out", "expires": FakeClock.EPOCH + 100}).encode(),
    )
    assert index.handler(approval_event(package), context_at(clock))["status"] == "deployed"
    assert 100 <= clock.now < 100 + 30
    assert keys_under(aws, LOCK_PREFIX) == []


def test_without_a_context_the_lock_lasts_the_configured_lifetime(
    aws, handler_s3, clock, monkeypatch
):
    monkeypatch.setenv("LOCK_SECONDS", "930")
    package = register(aws)
    locks: list[dict[str, Any]] = []

    def read_lock(deployer: Any) -> None:
        def during_copy(**_: Any) -> None:
            body = aws["s3"].get_object(Bucket=BUCKET, Key=lock_of(package))["Body"].read()
            locks.append(json.loads(body))

        deployer.s3.meta.events.register("before-call.s3.CopyObject", during_copy)

    handler_s3.setup.append(read_lock)
    clock.now = 42
    assert index.handler(approval_event(package), CONTEXT)["status"] == "deployed"
    assert [lock["expires"] for lock in locks] == [FakeClock.EPOCH + 42 + 930]


def _raise_before(operation: str, part: int | None = None) -> Callable[[Any], None]:
    """Make the handler's ``operation`` fail before it reaches S3 (only ``part``, if given)."""

    def install(deployer: Any) -> None:
        def fail(params, **_):
            if part is None or params.get("PartNumber") == part:
                raise ConnectionError(f"connection reset during {operation}")

        deployer.s3.meta.events.register(f"before-parameter-build.s3.{operation}", fail)

    return install


def _raise_after(operation: str) -> Callable[[Any], None]:
    """Make the handler's ``operation`` reach S3, then fail as if the response were lost."""

    def install(deployer: Any) -> None:
        def fail(http_response, **_):
            if http_response.status_code == 200:
                raise ConnectionError(f"connection reset reading the {operation} response")

        deployer.s3.meta.events.register(f"after-call.s3.{operation}", fail)

    return install


@pytest.fixture
def small_parts(monkeypatch) -> None:
    # moto, like S3, takes parts of 5 MiB or more (but the last).
    monkeypatch.setattr(index, "MULTIPART_THRESHOLD", 5 * MiB)
    monkeypatch.setattr(index, "MULTIPART_CHUNKSIZE", 5 * MiB)


BIG = bytes(range(256)) * (48 * 1024)  # 12 MiB: three parts of at most 5 MiB


def test_a_failing_single_part_copy_leaves_nothing(aws, handler_s3):
    package = register(aws)
    handler_s3.setup.append(_raise_before("CopyObject"))
    with pytest.raises(ConnectionError, match="during CopyObject"):
        index.handler(approval_event(package), CONTEXT)
    nothing_half_written(aws, package)


def test_a_copy_that_landed_before_the_failure_is_removed(aws, handler_s3):
    package = register(aws)
    handler_s3.setup.append(_raise_after("CopyObject"))
    with pytest.raises(ConnectionError):
        index.handler(approval_event(package), CONTEXT)
    assert "DeleteObject" in handler_s3.calls  # it had landed
    nothing_half_written(aws, package)
    # The retry then deploys normally.
    handler_s3.setup.clear()
    assert index.handler(approval_event(package), CONTEXT)["status"] == "deployed"


@pytest.mark.usefixtures("small_parts")
def test_a_failing_multipart_copy_is_aborted_and_leaves_nothing(aws, handler_s3):
    package = register(aws, body=BIG)
    handler_s3.setup.append(_raise_before("UploadPartCopy", part=2))
    with pytest.raises(ConnectionError):
        index.handler(approval_event(package), CONTEXT)
    assert "CreateMultipartUpload" in handler_s3.calls
    assert "AbortMultipartUpload" in handler_s3.calls
    assert "CompleteMultipartUpload" not in handler_s3.calls
    nothing_half_written(aws, package)


@pytest.mark.usefixtures("small_parts")
def test_a_multipart_copy_completed_before_the_failure_is_removed(aws, handler_s3):
    package = register(aws, body=BIG)
    handler_s3.setup.append(_raise_after("CompleteMultipartUpload"))
    with pytest.raises(ConnectionError):
        index.handler(approval_event(package), CONTEXT)
    nothing_half_written(aws, package)


@pytest.mark.usefixtures("small_parts")
def test_large_artifacts_are_copied_in_parts_with_their_provenance(aws, handler_s3):
    package = register(aws, body=BIG)
    assert index.handler(approval_event(package), CONTEXT)["status"] == "deployed"
    assert handler_s3.calls.count("UploadPartCopy") == 3
    assert handler_s3.calls.count("CreateMultipartUpload") == 1
    assert "CopyObject" not in handler_s3.calls
    copied = aws["s3"].get_object(Bucket=BUCKET, Key=target_key(package))
    assert copied["Body"].read() == BIG
    assert copied["ETag"].strip('"').endswith("-3")
    assert copied["SSEKMSKeyId"] == aws["model_key"]
    # Metadata given to the copy survives the multipart path (not the source's).
    assert copied["Metadata"]["model-package-arn"] == package["arn"]
    assert copied["Metadata"]["source-size"] == str(len(BIG))
    assert copied["ContentType"] == "application/x-gzip"
    assert aws["s3"].list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert keys_under(aws, RECORD_PREFIX) == [record_key(package)]


def test_the_transfer_settings_copy_the_largest_objects_in_parts():
    config = index.transfer_config()
    assert isinstance(config, TransferConfig)
    # CopyObject stops at 5 GB: a 6 GiB artifact must go the multipart way.
    assert 6 * GiB >= config.multipart_threshold
    assert config.multipart_threshold < 5 * GiB
    # UploadPartCopy parts are at most 5 GiB, at most 10,000 of them, for up to 5 TiB.
    assert 5 * MiB <= config.multipart_chunksize <= 5 * GiB
    assert config.multipart_chunksize * 10_000 >= 5 * TiB
    assert ChunksizeAdjuster().adjust_chunksize(config.multipart_chunksize, 5 * TiB) == (
        config.multipart_chunksize
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda head: {**head, "ContentLength": head["ContentLength"] - 1},
        lambda head: {**head, "Metadata": {**head["Metadata"], "source-etag": "f" * 32}},
        lambda head: {**head, "SSEKMSKeyId": "arn:aws:kms:eu-west-1:284751930618:key/other"},
    ],
    ids=["size", "metadata", "kms-key"],
)
def test_a_copy_that_does_not_verify_is_removed(aws, handler_s3, tamper):
    package = register(aws)

    def misreport(deployer):
        head = deployer.s3.head_object

        def head_tampered(**kwargs):
            found = head(**kwargs)
            return tamper(found) if kwargs["Key"] == target_key(package) else found

        deployer.s3.head_object = head_tampered

    handler_s3.setup.append(misreport)
    with pytest.raises(index.CopyNotVerified, match="did not verify"):
        index.handler(approval_event(package), CONTEXT)
    nothing_half_written(aws, package)


def test_without_permission_to_delete_versions_a_bad_copy_is_still_hidden(aws, handler_s3):
    package = register(aws)

    def misreport_and_deny(deployer):
        head = deployer.s3.head_object

        def head_tampered(**kwargs):
            found = head(**kwargs)
            if kwargs["Key"] == target_key(package):
                return {**found, "ContentLength": 0}
            return found

        def deny_version_delete(params, **_):
            if params.get("VersionId"):
                raise ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}},
                    "DeleteObject",
                )

        deployer.s3.head_object = head_tampered
        deployer.s3.meta.events.register(
            "before-parameter-build.s3.DeleteObject", deny_version_delete
        )

    handler_s3.setup.append(misreport_and_deny)
    with pytest.raises(index.CopyNotVerified):
        index.handler(approval_event(package), CONTEXT)
    with pytest.raises(ClientError, match="404"):
        aws["s3"].head_object(Bucket=BUCKET, Key=target_key(package))  # not current any more
    assert keys_under(aws, record_key(package)) == []


def test_missing_keys_are_told_apart_without_permission_to_list_the_bucket(aws, handler_s3):
    """S3 answers a HEAD of a missing key with 403 unless the role may list the bucket."""
    package = register(aws)

    def heads_refused_when_missing(deployer):
        head = deployer.s3.head_object

        def head_without_list_permission(**kwargs):
            try:
                return head(**kwargs)
            except ClientError as error:
                if error.response["Error"]["Code"] != "404":
                    raise
                raise ClientError(
                    {"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadObject"
                ) from None

        deployer.s3.head_object = head_without_list_permission

    handler_s3.setup.append(heads_refused_when_missing)
    assert index.handler(approval_event(package), CONTEXT)["status"] == "deployed"
    assert "ListObjectsV2" in handler_s3.calls
    assert index.handler(approval_event(package), CONTEXT)["status"] == "already-deployed"
    # A missing artifact is still reported as missing, not as a refusal.
    other = register(aws)
    aws["s3"].delete_object(Bucket=BUCKET, Key=other["key"])
    with pytest.raises(index.ArtifactMissing, match="does not exist"):
        index.handler(approval_event(other), CONTEXT)


def test_a_missing_record_is_told_apart_without_permission_to_list_the_bucket(aws, handler_s3):
    """GET of a missing key is 403, not 404, for a role that may list only some prefixes:
    the first record of a version (its history starts empty) must not fail on it."""
    package = register(aws)

    def gets_refused_when_missing(deployer):
        get = deployer.s3.get_object

        def get_without_list_permission(**kwargs):
            try:
                return get(**kwargs)
            except ClientError as error:
                if error.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                    raise
                raise ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject"
                ) from None

        deployer.s3.get_object = get_without_list_permission

    handler_s3.setup.append(gets_refused_when_missing)
    assert index.handler(approval_event(package), CONTEXT)["status"] == "deployed"
    reject(aws, package)
    assert index.handler(rejection_event(package), CONTEXT)["status"] == "retired"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODEL_PREFIX", "endpoints/spend/models"),
        ("RECORD_PREFIX", MODEL_PREFIX + "records/"),
        ("RETIRED_PREFIX", MODEL_PREFIX + "retired/"),
        ("RETIRED_PREFIX", "endpoints/spend/retired"),
        ("HOSTING", "single-model"),
        ("LOCK_SECONDS", "0"),
        ("LOCK_SECONDS", "a quarter of an hour"),
    ],
    ids=[
        "prefix-without-slash",
        "records-inside-model-prefix",
        "retired-inside-model-prefix",
        "retired-without-slash",
        "unknown-hosting",
        "lock-without-lifetime",
        "lock-lifetime-not-a-number",
    ],
)
def test_a_misconfigured_function_raises(aws, monkeypatch, name, value):
    package = register(aws)
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        index.handler(approval_event(package), CONTEXT)
    assert keys_under(aws, "endpoints/") == []


# -- rejected versions (multi-model) -------------------------------------------------------

REJECTED_EVENT = json.loads(
    (EVENTS / "sagemaker_model_package_state_change_rejected.json").read_text()
)


def retired_key(package: dict[str, Any]) -> str:
    return f"{RETIRED_PREFIX}{package['group']}/v{package['version']}.tar.gz"


def rejection_event(package: dict[str, Any]) -> dict[str, Any]:
    """The published Rejected sample, naming ``package``, which the registry now rejects."""
    event = copy.deepcopy(REJECTED_EVENT)
    event["resources"] = [package["arn"]]
    event["detail"].update(
        {
            "ModelPackageGroupName": package["group"],
            "ModelPackageVersion": package["version"],
            "ModelPackageArn": package["arn"],
        }
    )
    event["detail"]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = package["url"]
    return event


def reject(aws, package: dict[str, Any]) -> None:
    aws["sagemaker"].update_model_package(
        ModelPackageArn=package["arn"], ModelApprovalStatus="Rejected"
    )


@pytest.fixture
def two_deployed(aws) -> tuple[dict[str, Any], dict[str, Any]]:
    """Versions 1 and 2 deployed, then version 2 rejected in the registry."""
    first = register(aws)
    second = register(aws, body=ARCHIVE + b"v2")
    for package in (first, second):
        assert index.handler(approval_event(package), CONTEXT)["status"] == "deployed"
    reject(aws, second)
    return first, second


def test_the_rejected_sample_is_a_model_package_state_change():
    assert REJECTED_EVENT["detail-type"] == EVENT["detail-type"]
    assert REJECTED_EVENT["source"] == EVENT["source"]
    assert REJECTED_EVENT["detail"]["ModelApprovalStatus"] == "Rejected"
    assert set(REJECTED_EVENT["detail"]) == set(EVENT["detail"])
    change = index.parse_event(REJECTED_EVENT)
    assert (change.status, change.group, change.version) == ("Rejected", "spend-forecast", 3)


def test_a_rejected_version_is_retired_and_the_previous_one_still_serves(
    aws, handler_s3, two_deployed
):
    first, second = two_deployed
    served = aws["s3"].head_object(Bucket=BUCKET, Key=target_key(second))
    first_before = aws["s3"].head_object(Bucket=BUCKET, Key=target_key(first))

    result = index.handler(rejection_event(second), CONTEXT)

    assert result["status"] == "retired"
    # Not loadable any more: no version and no delete marker left at the served name.
    assert keys_under(aws, target_key(second)) == []
    retired = aws["s3"].get_object(Bucket=BUCKET, Key=retired_key(second))
    assert retired["Body"].read() == second["body"]
    assert retired["Metadata"] == served["Metadata"]
    assert retired["SSEKMSKeyId"] == aws["model_key"]
    # The previous approved version is untouched.
    first_after = aws["s3"].head_object(Bucket=BUCKET, Key=target_key(first))
    assert first_after["VersionId"] == first_before["VersionId"]
    record = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=record_key(second))["Body"].read())
    assert record["status"] == "retired"
    assert record["retiredKey"] == retired_key(second)
    assert record["eventId"] == REJECTED_EVENT["id"]
    assert [h["status"] for h in record["history"]] == ["deployed"]
    assert record["history"][0]["eventId"] == EVENT["id"]
    assert record["previousApproved"] == {
        "modelPackageVersion": 1,
        "modelPackageArn": first["arn"],
        "targetModel": f"{GROUP}/v1.tar.gz",
        "deployed": True,
    }


def test_a_second_rejection_changes_nothing(aws, handler_s3, two_deployed):
    _, second = two_deployed
    assert index.handler(rejection_event(second), CONTEXT)["status"] == "retired"
    before = snapshot(aws)
    handler_s3.calls.clear()
    assert index.handler(rejection_event(second), CONTEXT)["status"] == "already-retired"
    assert not WRITES & set(handler_s3.calls)
    assert snapshot(aws) == before


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (_raise_before("CopyObject"), ConnectionError),
        (_raise_after("CopyObject"), ConnectionError),
        ("tamper", index.CopyNotVerified),
    ],
    ids=["copy-fails", "copy-lost", "copy-does-not-verify"],
)
def test_a_failed_retirement_leaves_the_served_archive(aws, handler_s3, two_deployed, fault, error):
    _, second = two_deployed
    before = aws["s3"].head_object(Bucket=BUCKET, Key=target_key(second))
    if fault == "tamper":

        def misreport(deployer):
            head = deployer.s3.head_object

            def head_tampered(**kwargs):
                found = head(**kwargs)
                if kwargs["Key"] == retired_key(second):
                    return {**found, "Metadata": {**found["Metadata"], "source-etag": "f" * 32}}
                return found

            deployer.s3.head_object = head_tampered

        handler_s3.setup.append(misreport)
    else:
        handler_s3.setup.append(fault)
    with pytest.raises(error):
        index.handler(rejection_event(second), CONTEXT)
    after = aws["s3"].head_object(Bucket=BUCKET, Key=target_key(second))
    assert after["VersionId"] == before["VersionId"]
    assert keys_under(aws, RETIRED_PREFIX) == []  # no copy, version or marker left
    record = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=record_key(second))["Body"].read())
    assert record["status"] == "deployed"
    # Negative control: without the fault the same event retires it.
    handler_s3.setup.clear()
    assert index.handler(rejection_event(second), CONTEXT)["status"] == "retired"


def test_a_rejection_the_registry_has_since_undone_is_ignored(aws, handler_s3, two_deployed):
    _, second = two_deployed
    aws["sagemaker"].update_model_package(
        ModelPackageArn=second["arn"], ModelApprovalStatus="Approved"
    )
    before = snapshot(aws)
    result = index.handler(rejection_event(second), CONTEXT)
    assert result == {
        "status": "ignored",
        "reason": "the model package is now 'Approved' in the registry, not 'Rejected'",
    }
    assert snapshot(aws) == before


def test_a_version_never_deployed_has_nothing_to_retire(aws, handler_s3):
    package = register(aws, status="Rejected")
    result = index.handler(rejection_event(package), CONTEXT)
    assert result["status"] == "ignored" and "nothing to retire" in result["reason"]
    assert keys_under(aws, "endpoints/") == []


def test_a_version_approved_again_after_retirement_is_served_again(aws, two_deployed):
    _, second = two_deployed
    assert index.handler(rejection_event(second), CONTEXT)["status"] == "retired"
    aws["sagemaker"].update_model_package(
        ModelPackageArn=second["arn"], ModelApprovalStatus="Approved"
    )
    assert index.handler(approval_event(second), CONTEXT)["status"] == "deployed"
    record = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=record_key(second))["Body"].read())
    assert record["status"] == "deployed"
    # One flat history, oldest first.
    assert [h["status"] for h in record["history"]] == ["deployed", "retired"]

"""The Macie remediation handler, against moto's S3, KMS and SNS.

Events are built from tests/events/macie_sensitive_data_finding.json, a sensitive-data
finding in the shape the Macie User Guide publishes; the envelope and identifiers there are
synthetic, and each test sets the bucket, key and version it needs.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.helpers import lambda_context, load_handler

REGION = "eu-west-1"
LAKE = "mlops-dev-raw"
CURATED = "mlops-dev-curated"
QUARANTINE = "mlops-dev-quarantine"
OUTSIDE = "someone-elses-bucket"
SECRET = "123-45-6789"
EVENT = json.loads(
    (Path(__file__).parent.parent / "events" / "macie_sensitive_data_finding.json").read_text()
)


index = load_handler("macie_remediation")


CONTEXT = lambda_context("remediation")


@pytest.fixture
def aws(monkeypatch, boto3_session):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        # The handler's boto3.client(...) calls use it too.
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3_session)
        s3 = boto3.client("s3", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        key_arn = kms.create_key()["KeyMetadata"]["Arn"]
        for bucket in (LAKE, CURATED, QUARANTINE, OUTSIDE):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="notifications")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("MODE", "quarantine")
        monkeypatch.setenv("PLATFORM_BUCKETS", f"{LAKE},{CURATED}")
        monkeypatch.setenv("QUARANTINE_BUCKET", QUARANTINE)
        monkeypatch.setenv("QUARANTINE_KEY_ARN", key_arn)
        monkeypatch.setenv("TOPIC_ARN", topic)
        yield {"s3": s3, "sqs": sqs, "queue": queue, "key_arn": key_arn}


def put(
    aws, key: str, body: bytes = b"name,ssn\nAda," + SECRET.encode() + b"\n", bucket: str = LAKE
) -> str:
    return aws["s3"].put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=aws["key_arn"],
    )["VersionId"]


def finding_event(
    bucket: str,
    key: str,
    version_id: str | None,
    finding_id: str = "f-1",
    *,
    scanned: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """The sample finding about ``key``; ``scanned`` is the (eTag, size) Macie saw, as
    :func:`scanned_as` gives it (Macie publishes ``"versionId": ""`` for many findings)."""
    event = copy.deepcopy(EVENT)
    detail = event["detail"]
    detail["id"] = finding_id
    detail["resourcesAffected"]["s3Bucket"].update(
        {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}
    )
    s3_object = detail["resourcesAffected"]["s3Object"]
    s3_object.update({"key": key, "path": f"{bucket}/{key}", "versionId": version_id or ""})
    etag, size = scanned or ("", 0)
    s3_object.update({"eTag": etag, "size": size})
    return event


def scanned_as(aws, key: str, version_id: str, bucket: str = LAKE) -> tuple[str, int]:
    """(eTag, size) of a version, as a finding carries them (the ETag without quotes)."""
    head = aws["s3"].head_object(Bucket=bucket, Key=key, VersionId=version_id)
    return head["ETag"].strip('"'), head["ContentLength"]


def versions(aws, bucket: str, key: str) -> list[str]:
    listing = aws["s3"].list_object_versions(Bucket=bucket, Prefix=key)
    return [v["VersionId"] for v in listing.get("Versions", []) if v["Key"] == key]


def tags(aws, bucket: str, key: str) -> dict[str, str]:
    tag_set = aws["s3"].get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


def notifications(aws) -> list[str]:
    messages = (
        aws["sqs"]
        .receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)
        .get("Messages", [])
    )
    return [json.loads(m["Body"])["Message"] for m in messages]


def test_quarantine_moves_the_exact_version_tags_it_and_deletes_the_source(aws):
    key = "customers/2026/11/export.csv"
    older = put(aws, key, b"old,content\n")
    version = put(aws, key)
    result = index.handler(finding_event(LAKE, key, version), CONTEXT)
    assert result == {"status": "quarantined", "findingId": "f-1"}
    target = f"{LAKE}/{version}/{key}"
    body = aws["s3"].get_object(Bucket=QUARANTINE, Key=target)["Body"].read()
    assert SECRET.encode() in body  # the flagged version, not the older one
    assert tags(aws, QUARANTINE, target) == {
        "macie-finding-id": "f-1",
        "macie-finding-type": "SensitiveData:S3Object/Personal",
        "macie-severity": "Medium",
    }
    head = aws["s3"].head_object(Bucket=QUARANTINE, Key=target)
    assert head["ServerSideEncryption"] == "aws:kms"
    # Only the flagged version is gone; the older version is untouched.
    assert versions(aws, LAKE, key) == [older]


def test_key_with_spaces_and_unicode(aws):
    key = "customers/Müller & Søn/export 2026 (final).csv"
    version = put(aws, key)
    assert index.handler(finding_event(LAKE, key, version), CONTEXT)["status"] == "quarantined"
    assert versions(aws, LAKE, key) == []
    aws["s3"].head_object(Bucket=QUARANTINE, Key=f"{LAKE}/{version}/{key}")


def test_second_delivery_is_a_no_op(aws):
    key = "customers/a.csv"
    version = put(aws, key)
    event = finding_event(LAKE, key, version)
    index.handler(event, CONTEXT)
    quarantined = versions(aws, QUARANTINE, f"{LAKE}/{version}/{key}")
    assert index.handler(event, CONTEXT) == {"status": "already-quarantined", "findingId": "f-1"}
    assert versions(aws, QUARANTINE, f"{LAKE}/{version}/{key}") == quarantined


def test_copy_failing_midway_leaves_the_source_and_raises(aws, monkeypatch):
    key = "customers/b.csv"
    version = put(aws, key)
    original_init = index.Remediator.__init__

    def failing_init(self, **kwargs):
        original_init(self, **kwargs)
        real_copy = self.s3.copy

        def copy_then_fail(*args, **kw):
            real_copy(*args, **kw)  # the bytes arrive, then the connection drops
            raise ConnectionError("connection reset during copy")

        monkeypatch.setattr(self.s3, "copy", copy_then_fail)

    monkeypatch.setattr(index.Remediator, "__init__", failing_init)
    with pytest.raises(ConnectionError):
        index.handler(finding_event(LAKE, key, version), CONTEXT)
    assert versions(aws, LAKE, key) == [version]
    assert aws["s3"].get_object(Bucket=LAKE, Key=key, VersionId=version)["Body"].read()


def test_a_copy_that_does_not_verify_leaves_the_source_and_raises(aws, monkeypatch):
    key = "customers/c.csv"
    version = put(aws, key)
    original_init = index.Remediator.__init__

    def corrupting_init(self, **kwargs):
        original_init(self, **kwargs)
        s3 = self.s3

        def copy_corrupted(source, bucket, target, **kw):
            s3.put_object(Bucket=bucket, Key=target, Body=b"truncated")

        monkeypatch.setattr(s3, "copy", copy_corrupted)

    monkeypatch.setattr(index.Remediator, "__init__", corrupting_init)
    with pytest.raises(RuntimeError, match="did not verify"):
        index.handler(finding_event(LAKE, key, version), CONTEXT)
    assert versions(aws, LAKE, key) == [version]


def test_retry_after_a_copy_without_delete_completes(aws, monkeypatch):
    key = "customers/d.csv"
    version = put(aws, key)
    event = finding_event(LAKE, key, version)

    def fail_delete(**kwargs):
        raise ConnectionError("lost before delete")

    interrupted = index.remediator_from_environment()
    monkeypatch.setattr(interrupted.s3, "delete_object", fail_delete)
    with pytest.raises(ConnectionError):
        interrupted.remediate(index.parse_finding(event))
    assert versions(aws, LAKE, key) == [version]  # copied, not yet deleted
    # The retry (a new invocation, new clients) finishes the job.
    assert index.handler(event, CONTEXT)["status"] == "quarantined"
    assert versions(aws, LAKE, key) == []
    assert len(versions(aws, QUARANTINE, f"{LAKE}/{version}/{key}")) == 1  # not copied twice


def test_large_objects_use_a_multipart_managed_copy(aws, monkeypatch):
    monkeypatch.setattr(
        index,
        "_TRANSFER",
        index.TransferConfig(
            multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
        ),
    )
    key = "customers/big.bin"
    body = bytes(range(256)) * (48 * 1024)  # 12 MiB: three parts
    version = put(aws, key, body)
    assert index.handler(finding_event(LAKE, key, version), CONTEXT)["status"] == "quarantined"
    copied = aws["s3"].get_object(Bucket=QUARANTINE, Key=f"{LAKE}/{version}/{key}")
    assert copied["Body"].read() == body
    assert copied["ETag"].strip('"').endswith("-3")


def test_tag_mode_tags_and_quarantines_nothing(aws, monkeypatch):
    monkeypatch.setenv("MODE", "tag")
    key = "customers/e.csv"
    version = put(aws, key)
    aws["s3"].put_object_tagging(
        Bucket=LAKE,
        Key=key,
        VersionId=version,
        Tagging={"TagSet": [{"Key": "owner", "Value": "crm"}]},
    )
    assert index.handler(finding_event(LAKE, key, version), CONTEXT)["status"] == "tagged"
    assert tags(aws, LAKE, key) == {
        "owner": "crm",
        "macie-finding-id": "f-1",
        "macie-finding-type": "SensitiveData:S3Object/Personal",
        "macie-severity": "Medium",
    }
    assert versions(aws, LAKE, key) == [version]
    assert aws["s3"].list_objects_v2(Bucket=QUARANTINE).get("KeyCount") == 0
    assert index.handler(finding_event(LAKE, key, version), CONTEXT)["status"] == "already-tagged"


@pytest.mark.parametrize(
    "make_event",
    [
        lambda: {"source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": {}},
        lambda: {**copy.deepcopy(EVENT), "detail-type": "Macie Alert"},
        lambda: {
            **finding_event(LAKE, "customers/x.csv", None),
            "detail": {"type": "Policy:IAMUser/S3BucketPublic"},
        },
        lambda: finding_event(OUTSIDE, "customers/x.csv", None),
        lambda: {"source": "aws.macie", "detail-type": "Macie Finding", "detail": "oops"},
        lambda: ["not", "an", "object"],
    ],
    ids=[
        "other-service",
        "legacy-macie-alert",
        "policy-finding",
        "outside-bucket",
        "malformed",
        "not-object",
    ],
)
def test_unrelated_or_malformed_events_change_nothing(aws, make_event, caplog):
    key = "customers/x.csv"
    version = put(aws, key)
    put(aws, key, bucket=OUTSIDE)
    result = index.handler(make_event(), CONTEXT)
    assert result["status"] == "ignored" and result["reason"]
    assert versions(aws, LAKE, key) == [version]
    assert len(versions(aws, OUTSIDE, key)) == 1
    assert aws["s3"].list_objects_v2(Bucket=QUARANTINE).get("KeyCount") == 0
    assert notifications(aws) == []


def test_notification_names_the_object_but_no_sensitive_value(aws):
    key = "customers/f.csv"
    version = put(aws, key)
    event = finding_event(LAKE, key, version)
    # Even if a value appeared in the finding, the summary must not carry it.
    event["detail"]["classificationDetails"]["result"]["sensitiveData"][0]["detections"][0][
        "sample"
    ] = SECRET
    index.handler(event, CONTEXT)
    (message,) = notifications(aws)
    summary = json.loads(message)
    assert summary["bucket"] == LAKE and summary["key"] == key
    assert summary["findingType"] == "SensitiveData:S3Object/Personal"
    assert summary["action"] == "quarantined"
    assert SECRET not in message
    assert "classificationDetails" not in message


def test_missing_object_version_is_reported_not_retried(aws):
    key = "customers/gone.csv"
    version = put(aws, key)
    aws["s3"].delete_object(Bucket=LAKE, Key=key, VersionId=version)
    result = index.handler(finding_event(LAKE, key, version), CONTEXT)
    assert result["status"] == "not-remediated"
    assert "no longer exists" in result["reason"]
    (message,) = notifications(aws)
    assert json.loads(message)["action"] == "not-remediated"


def test_the_null_version_of_an_object_from_before_versioning(aws):
    key = "customers/legacy.csv"
    aws["s3"].put_bucket_versioning(Bucket=LAKE, VersioningConfiguration={"Status": "Suspended"})
    aws["s3"].put_object(  # stored as the "null" version
        Bucket=LAKE, Key=key, Body=b"name,ssn\nAda," + SECRET.encode() + b"\n"
    )
    aws["s3"].put_bucket_versioning(Bucket=LAKE, VersioningConfiguration={"Status": "Enabled"})
    newer = put(aws, key, b"innocent,update\n")
    assert index.handler(finding_event(LAKE, key, "null"), CONTEXT)["status"] == "quarantined"
    body = aws["s3"].get_object(Bucket=QUARANTINE, Key=f"{LAKE}/null/{key}")["Body"].read()
    assert SECRET.encode() in body  # the flagged null version, not the current one
    assert versions(aws, LAKE, key) == [newer]  # the newer version stays


def test_a_finding_with_neither_version_nor_etag_moves_nothing_and_says_so(aws):
    key = "customers/unversioned-finding.csv"
    version = put(aws, key)
    result = index.handler(finding_event(LAKE, key, None), CONTEXT)
    assert result["status"] == "not-remediated"
    assert "neither a version id nor an ETag" in result["reason"]
    assert versions(aws, LAKE, key) == [version]
    (message,) = notifications(aws)
    assert json.loads(message)["findingId"] == "f-1"


# -- findings without a version id (as Macie publishes many) ----------------------------
def test_a_finding_without_version_quarantines_the_current_version_it_scanned(aws):
    key = "customers/no-version.csv"
    version = put(aws, key)
    event = finding_event(LAKE, key, None, scanned=scanned_as(aws, key, version))
    assert event["detail"]["resourcesAffected"]["s3Object"]["versionId"] == ""
    assert index.handler(event, CONTEXT) == {"status": "quarantined", "findingId": "f-1"}
    body = aws["s3"].get_object(Bucket=QUARANTINE, Key=f"{LAKE}/{version}/{key}")["Body"].read()
    assert SECRET.encode() in body
    assert versions(aws, LAKE, key) == []
    (message,) = notifications(aws)
    assert json.loads(message)["action"] == "quarantined"
    # Redelivered: the version is gone from the lake, the quarantine has it.
    assert index.handler(event, CONTEXT)["status"] == "already-quarantined"


def test_a_finding_without_version_moves_the_scanned_version_not_a_newer_one(aws):
    key = "customers/changed-since.csv"
    scanned = put(aws, key)
    newer = put(aws, key, b"innocent,update\n")
    event = finding_event(LAKE, key, None, scanned=scanned_as(aws, key, scanned))
    assert index.handler(event, CONTEXT)["status"] == "quarantined"
    body = aws["s3"].get_object(Bucket=QUARANTINE, Key=f"{LAKE}/{scanned}/{key}")["Body"].read()
    assert SECRET.encode() in body
    assert versions(aws, LAKE, key) == [newer]  # the newer version was never scanned


@pytest.mark.parametrize("mode", ["quarantine", "tag"])
def test_a_finding_whose_scanned_version_is_gone_is_reported_not_remediated(aws, monkeypatch, mode):
    monkeypatch.setenv("MODE", mode)
    key = "customers/rewritten.csv"
    scanned = put(aws, key)
    etag_and_size = scanned_as(aws, key, scanned)
    aws["s3"].delete_object(Bucket=LAKE, Key=key, VersionId=scanned)
    newer = put(aws, key, b"name,ssn\nBob,000-00-0000\n")  # another content
    result = index.handler(finding_event(LAKE, key, None, scanned=etag_and_size), CONTEXT)
    assert result["status"] == "not-remediated"
    assert "no version" in result["reason"] and etag_and_size[0] in result["reason"]
    assert versions(aws, LAKE, key) == [newer]
    assert tags(aws, LAKE, key) == {}  # not tagged either
    assert aws["s3"].list_objects_v2(Bucket=QUARANTINE).get("KeyCount") == 0
    (message,) = notifications(aws)
    notice = json.loads(message)
    assert notice["action"] == "not-remediated" and notice["findingId"] == "f-1"
    assert notice["reason"] == result["reason"]


def test_a_size_that_differs_is_not_the_scanned_version(aws):
    key = "customers/same-etag-other-size.csv"
    version = put(aws, key)
    etag, size = scanned_as(aws, key, version)
    result = index.handler(finding_event(LAKE, key, None, scanned=(etag, size + 1)), CONTEXT)
    assert result["status"] == "not-remediated"
    assert versions(aws, LAKE, key) == [version]


def test_tag_mode_without_version_tags_the_scanned_version_not_a_newer_one(aws, monkeypatch):
    monkeypatch.setenv("MODE", "tag")
    key = "customers/tag-changed-since.csv"
    scanned = put(aws, key)
    newer = put(aws, key, b"innocent,update\n")
    event = finding_event(LAKE, key, None, scanned=scanned_as(aws, key, scanned))
    assert index.handler(event, CONTEXT)["status"] == "tagged"
    tagged = aws["s3"].get_object_tagging(Bucket=LAKE, Key=key, VersionId=scanned)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tagged}["macie-finding-id"] == "f-1"
    assert tags(aws, LAKE, key) == {}  # the current, newer version is untouched
    assert versions(aws, LAKE, key) == [newer, scanned]
    assert index.handler(event, CONTEXT)["status"] == "already-tagged"


def test_tag_mode_without_version_tags_the_current_version_it_scanned(aws, monkeypatch):
    monkeypatch.setenv("MODE", "tag")
    key = "customers/tag-current.csv"
    version = put(aws, key)
    event = finding_event(LAKE, key, None, scanned=scanned_as(aws, key, version))
    assert index.handler(event, CONTEXT)["status"] == "tagged"
    assert tags(aws, LAKE, key)["macie-finding-id"] == "f-1"


def test_without_version_a_copy_failing_midway_leaves_the_source(aws, monkeypatch):
    key = "customers/no-version-fault.csv"
    version = put(aws, key)
    original_init = index.Remediator.__init__

    def failing_init(self, **kwargs):
        original_init(self, **kwargs)
        real_copy = self.s3.copy

        def copy_then_fail(*args, **kw):
            real_copy(*args, **kw)
            raise ConnectionError("connection reset during copy")

        monkeypatch.setattr(self.s3, "copy", copy_then_fail)

    monkeypatch.setattr(index.Remediator, "__init__", failing_init)
    event = finding_event(LAKE, key, None, scanned=scanned_as(aws, key, version))
    with pytest.raises(ConnectionError):
        index.handler(event, CONTEXT)
    assert versions(aws, LAKE, key) == [version]
    monkeypatch.setattr(index.Remediator, "__init__", original_init)
    assert index.handler(event, CONTEXT)["status"] == "quarantined"  # the retry finishes
    assert versions(aws, LAKE, key) == []


# -- deterministic failures go straight to the dead-letter queue ------------------------
@pytest.fixture
def dead_letters(aws, monkeypatch):
    url = aws["sqs"].create_queue(QueueName="remediation-dlq")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", url)

    def read() -> list[dict[str, Any]]:
        got = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]

    return read


def test_an_object_without_room_for_the_tags_is_dead_lettered_at_once(
    aws, monkeypatch, dead_letters
):
    monkeypatch.setenv("MODE", "tag")
    key = "customers/nine-tags.csv"
    version = put(aws, key)
    nine = [{"Key": f"team-{i}", "Value": "x"} for i in range(9)]  # S3 allows 10 per object
    aws["s3"].put_object_tagging(Bucket=LAKE, Key=key, VersionId=version, Tagging={"TagSet": nine})
    event = finding_event(LAKE, key, version)
    result = index.handler(event, CONTEXT)  # returns: Lambda does not retry what cannot change
    assert result["status"] == "dead-lettered"
    assert "10 tags" in result["reason"]
    (record,) = dead_letters()
    assert record["requestPayload"] == event
    assert record["requestContext"]["condition"] == "NonRetryable"
    assert record["responsePayload"]["errorType"] == "TooManyTags"
    assert len(tags(aws, LAKE, key)) == 9  # unchanged
    (message,) = notifications(aws)
    assert json.loads(message)["action"] == "not-remediated"


def test_two_versions_of_one_key_are_quarantined_apart(aws):
    key = "customers/twice.csv"
    first = put(aws, key, b"first," + SECRET.encode())
    second = put(aws, key, b"second," + SECRET.encode())
    index.handler(finding_event(LAKE, key, second, finding_id="f-2"), CONTEXT)
    index.handler(finding_event(LAKE, key, first, finding_id="f-1"), CONTEXT)
    assert tags(aws, QUARANTINE, f"{LAKE}/{first}/{key}")["macie-finding-id"] == "f-1"
    assert tags(aws, QUARANTINE, f"{LAKE}/{second}/{key}")["macie-finding-id"] == "f-2"
    assert versions(aws, LAKE, key) == []


# -- the lake's deny of reads of flagged objects -----------------------------------------
@pytest.fixture
def flagged_reads_denied(aws, monkeypatch):
    """The handler's S3 client, refused as the lake's bucket policy refuses everyone
    (``DenyReadsOfObjectsFlaggedAsSensitive``: s3:GetObject and s3:GetObjectVersion of an
    object version tagged ``macie-finding-id``), which moto does not enforce. HeadObject and
    GetObject are authorised as those actions, and so is the source of a copy (CopyObject,
    UploadPartCopy). Returns the list of the reads refused, as (operation, key, version)."""
    refused: list[tuple[str, str, str | None]] = []
    original_init = index.Remediator.__init__

    def flagged(bucket: str, key: str, version_id: str | None) -> bool:
        if bucket not in (LAKE, CURATED):
            return False
        located = {
            "Bucket": bucket,
            "Key": key,
            **({"VersionId": version_id} if version_id else {}),
        }
        try:
            tag_set = aws["s3"].get_object_tagging(**located)["TagSet"]
        except ClientError:
            return False  # nothing there: the call itself answers
        return any(t["Key"] == "macie-finding-id" for t in tag_set)

    def refuse(operation: str, key: str, version_id: str | None) -> None:
        refused.append((operation, key, version_id))
        # A HEAD has no body: S3's refusal of one carries only the status code.
        code = "403" if operation == "HeadObject" else "AccessDenied"
        raise ClientError({"Error": {"Code": code, "Message": "Access Denied"}}, operation)

    def reading(call, operation: str):
        def read(**kw):
            if flagged(kw["Bucket"], kw["Key"], kw.get("VersionId")):
                refuse(operation, kw["Key"], kw.get("VersionId"))
            return call(**kw)

        return read

    def copying(call, operation: str):
        def copy_from(**kw):
            source = kw["CopySource"]
            if flagged(source["Bucket"], source["Key"], source.get("VersionId")):
                refuse(operation, source["Key"], source.get("VersionId"))
            return call(**kw)

        return copy_from

    def denying_init(self, **kwargs):
        original_init(self, **kwargs)
        s3 = self.s3
        for method, operation, wrap in (
            ("head_object", "HeadObject", reading),
            ("get_object", "GetObject", reading),
            ("copy_object", "CopyObject", copying),
            ("upload_part_copy", "UploadPartCopy", copying),
        ):
            monkeypatch.setattr(s3, method, wrap(getattr(s3, method), operation))

    monkeypatch.setattr(index.Remediator, "__init__", denying_init)
    return refused


def flag(aws, key: str, version_id: str, finding_id: str = "f-0") -> None:
    """Tag a version as the tag mode flags it (here, for another finding)."""
    aws["s3"].put_object_tagging(
        Bucket=LAKE,
        Key=key,
        VersionId=version_id,
        Tagging={"TagSet": [{"Key": "macie-finding-id", "Value": finding_id}]},
    )


def test_the_deny_of_flagged_reads_is_mirrored(aws, flagged_reads_denied):
    """The fixture refuses what the bucket policy refuses, and only that."""
    key = "customers/mirror.csv"
    version = put(aws, key)
    s3 = index.remediator_from_environment().s3
    s3.head_object(Bucket=LAKE, Key=key)
    flag(aws, key, version)
    with pytest.raises(ClientError, match="403"):
        s3.head_object(Bucket=LAKE, Key=key)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.get_object(Bucket=LAKE, Key=key, VersionId=version)
    assert s3.get_object_tagging(Bucket=LAKE, Key=key, VersionId=version)["TagSet"]
    assert flagged_reads_denied == [("HeadObject", key, None), ("GetObject", key, version)]


def test_tag_mode_redelivery_without_version_of_a_flagged_object_is_already_tagged(
    aws, monkeypatch, flagged_reads_denied
):
    monkeypatch.setenv("MODE", "tag")
    key = "customers/tag-redelivered.csv"
    version = put(aws, key)
    event = finding_event(LAKE, key, None, scanned=scanned_as(aws, key, version))
    assert index.handler(event, CONTEXT)["status"] == "tagged"
    assert tags(aws, LAKE, key)["macie-finding-id"] == "f-1"
    # Redelivered: the current version is now flagged, and so unreadable to everyone.
    assert index.handler(event, CONTEXT) == {"status": "already-tagged", "findingId": "f-1"}
    assert flagged_reads_denied == []  # the version is found without reading it
    actions = [json.loads(m)["action"] for m in notifications(aws)]
    assert actions == ["tagged", "already-tagged"]


def test_tag_mode_a_second_finding_on_a_flagged_object_tags_it(
    aws, monkeypatch, flagged_reads_denied
):
    monkeypatch.setenv("MODE", "tag")
    key = "customers/tag-second-finding.csv"
    version = put(aws, key)
    flag(aws, key, version, "f-1")
    event = finding_event(LAKE, key, None, "f-2", scanned=scanned_as(aws, key, version))
    assert index.handler(event, CONTEXT)["status"] == "tagged"
    assert tags(aws, LAKE, key)["macie-finding-id"] == "f-2"
    assert flagged_reads_denied == []


def test_tag_mode_with_the_deny_tags_the_scanned_version_not_a_newer_one(
    aws, monkeypatch, flagged_reads_denied
):
    monkeypatch.setenv("MODE", "tag")
    key = "customers/tag-denied-changed-since.csv"
    scanned = put(aws, key)
    newer = put(aws, key, b"innocent,update\n")
    flag(aws, key, newer, "f-0")  # flagged by an earlier finding: unreadable too
    event = finding_event(LAKE, key, None, scanned=scanned_as(aws, key, scanned))
    assert index.handler(event, CONTEXT)["status"] == "tagged"
    scanned_tags = aws["s3"].get_object_tagging(Bucket=LAKE, Key=key, VersionId=scanned)
    assert {t["Key"]: t["Value"] for t in scanned_tags["TagSet"]}["macie-finding-id"] == "f-1"
    assert tags(aws, LAKE, key) == {"macie-finding-id": "f-0"}  # the newer one as it was
    assert index.handler(event, CONTEXT)["status"] == "already-tagged"
    assert flagged_reads_denied == []


def test_a_key_that_prefixes_others_is_matched_exactly(aws, monkeypatch):
    monkeypatch.setenv("MODE", "tag")
    key = "customers/prefix.csv"
    # The same bytes under a longer key sharing the prefix: listed too, never picked.
    other = put(aws, key + ".bak")
    version = put(aws, key)
    event = finding_event(LAKE, key, None, scanned=scanned_as(aws, key, version))
    assert index.handler(event, CONTEXT)["status"] == "tagged"
    assert tags(aws, LAKE, key)["macie-finding-id"] == "f-1"
    assert tags(aws, LAKE, key + ".bak") == {}
    assert versions(aws, LAKE, key + ".bak") == [other]


@pytest.mark.parametrize("mode", ["quarantine", "tag"])
def test_an_unversioned_bucket_is_reported_not_remediated(aws, monkeypatch, mode):
    """Without versioning the scanned object may be overwritten between the check and the
    remediation: nothing is changed, a notice says why."""
    monkeypatch.setenv("MODE", mode)
    unversioned = "mlops-dev-unversioned"
    aws["s3"].create_bucket(
        Bucket=unversioned, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    monkeypatch.setenv("PLATFORM_BUCKETS", f"{LAKE},{CURATED},{unversioned}")
    key = "customers/unversioned.csv"
    aws["s3"].put_object(Bucket=unversioned, Key=key, Body=b"name,ssn\nAda,1\n")
    head = aws["s3"].head_object(Bucket=unversioned, Key=key)
    scanned = (head["ETag"].strip('"'), head["ContentLength"])
    result = index.handler(finding_event(unversioned, key, None, scanned=scanned), CONTEXT)
    assert result["status"] == "not-remediated"
    assert "not versioned" in result["reason"]
    assert tags(aws, unversioned, key) == {}
    assert aws["s3"].list_objects_v2(Bucket=QUARANTINE).get("KeyCount") == 0


@pytest.mark.parametrize("with_version", [True, False], ids=["version-id", "etag"])
def test_quarantine_of_a_flagged_version_is_reported_not_remediated(
    aws, flagged_reads_denied, with_version
):
    """A version flagged by the tag mode (before the environment moved to quarantine) may
    not be read by anyone, the copy included: it stays where it is, flagged, and a notice
    says so, instead of a refusal being retried into the dead-letter queue."""
    key = "customers/flagged-before.csv"
    version = put(aws, key)
    scanned = scanned_as(aws, key, version)
    flag(aws, key, version, "f-0")
    event = finding_event(LAKE, key, version if with_version else None, scanned=scanned)
    result = index.handler(event, CONTEXT)
    assert result["status"] == "not-remediated"
    assert "f-0" in result["reason"] and "flagged" in result["reason"]
    assert flagged_reads_denied == []
    assert versions(aws, LAKE, key) == [version]
    assert aws["s3"].list_objects_v2(Bucket=QUARANTINE).get("KeyCount") == 0
    (message,) = notifications(aws)
    assert json.loads(message)["action"] == "not-remediated"


def test_quarantine_with_the_deny_moves_an_unflagged_version(aws, flagged_reads_denied):
    """The deny does not get in the way of what is not flagged."""
    key = "customers/not-flagged.csv"
    version = put(aws, key)
    event = finding_event(LAKE, key, None, scanned=scanned_as(aws, key, version))
    assert index.handler(event, CONTEXT)["status"] == "quarantined"
    assert index.handler(event, CONTEXT)["status"] == "already-quarantined"
    assert flagged_reads_denied == []
    assert versions(aws, LAKE, key) == []

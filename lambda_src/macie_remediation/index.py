"""Remediates Amazon Macie sensitive-data findings on the platform's S3 buckets.

Invoked by an EventBridge rule for ``aws.macie`` / ``Macie Finding`` events. Per the
``MODE`` environment variable:

* ``quarantine``: copy the exact object version named by the finding to the quarantine
  bucket (a managed copy, so objects over 5 GB work), verify the copy (size, and content
  checksum), tag it with the finding, and only then delete the source version;
* ``tag``: tag the source object version with the finding; the lake's bucket policy denies
  reads of objects carrying that tag.

Both publish a summary to an SNS topic naming the bucket, key, finding type and action,
never the sensitive values. A redelivered finding, or an object already quarantined, is a
success. Events that are malformed, not sensitive-data findings, or about buckets outside
the platform are logged and ignored. Errors are raised, so the asynchronous invocation is
retried a bounded number of times and then lands in the dead-letter queue; a failure before
the delete leaves the source object as it was.

Only the standard library and the runtime's boto3 are used.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from handler_common.events import Ignored, unless_ignored
from handler_common.logs import json_logger

FINDING_ID_TAG = "macie-finding-id"
FINDING_TYPE_TAG = "macie-finding-type"
SEVERITY_TAG = "macie-severity"
# Copies above this size use multipart UploadPartCopy (required above 5 GB).
_TRANSFER = TransferConfig(
    multipart_threshold=256 * 1024 * 1024, multipart_chunksize=256 * 1024 * 1024
)
_HASH_CHUNK = 8 * 1024 * 1024


logger = json_logger("macie_remediation")


@dataclass(frozen=True)
class Finding:
    """What the handler needs from a Macie sensitive-data finding."""

    id: str
    type: str
    severity: str
    bucket: str
    key: str
    version_id: str | None


def parse_finding(event: Mapping[str, Any]) -> Finding:
    """Extract the finding, or raise :class:`Ignored` naming what is missing or unrelated."""
    if not isinstance(event, Mapping):
        raise Ignored(f"event is a {type(event).__name__}, not an object")
    if event.get("source") != "aws.macie" or event.get("detail-type") != "Macie Finding":
        raise Ignored(
            f"not a Macie finding event (source={event.get('source')!r}, "
            f"detail-type={event.get('detail-type')!r})"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise Ignored("event has no detail object")
    finding_type = detail.get("type")
    if not isinstance(finding_type, str) or not finding_type.startswith("SensitiveData:"):
        raise Ignored(f"finding type {finding_type!r} is not a sensitive-data finding")
    finding_id = detail.get("id")
    affected = detail.get("resourcesAffected")
    if not isinstance(finding_id, str) or not finding_id or not isinstance(affected, Mapping):
        raise Ignored("finding has no id or no resourcesAffected")
    bucket = (affected.get("s3Bucket") or {}).get("name")
    s3_object = affected.get("s3Object") or {}
    key = s3_object.get("key")
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise Ignored("finding names no S3 bucket and object key")
    severity = detail.get("severity") or {}
    version_id = s3_object.get("versionId") or None
    return Finding(
        id=finding_id,
        type=finding_type,
        severity=str(severity.get("description") or severity.get("score") or "unknown"),
        bucket=bucket,
        # The finding gives the key as stored (not URL-encoded): use it as it is.
        key=key,
        version_id=version_id if isinstance(version_id, str) else None,
    )


class Remediator:
    """Carries out one finding's remediation with the given clients and settings."""

    def __init__(
        self,
        *,
        s3: Any,
        sns: Any,
        mode: str,
        platform_buckets: frozenset[str],
        quarantine_bucket: str,
        quarantine_key_arn: str,
        topic_arn: str,
    ) -> None:
        if mode not in ("quarantine", "tag"):
            raise ValueError(f"MODE must be 'quarantine' or 'tag', not {mode!r}")
        self.s3 = s3
        self.sns = sns
        self.mode = mode
        self.platform_buckets = platform_buckets
        self.quarantine_bucket = quarantine_bucket
        self.quarantine_key_arn = quarantine_key_arn
        self.topic_arn = topic_arn

    def remediate(self, finding: Finding) -> dict[str, str]:
        if finding.bucket not in self.platform_buckets:
            raise Ignored(f"bucket {finding.bucket!r} is not a platform bucket")
        action = self._quarantine(finding) if self.mode == "quarantine" else self._tag(finding)
        self._notify(finding, action)
        return {"status": action, "findingId": finding.id}

    # -- quarantine -------------------------------------------------------------------
    def quarantine_key(self, finding: Finding) -> str:
        """``<bucket>/<version id>/<key>``: one quarantine object per flagged version."""
        return f"{finding.bucket}/{finding.version_id}/{finding.key}"

    def _quarantine(self, finding: Finding) -> str:
        if not finding.version_id:
            # The lake is versioned: without the version, a retry could move a version the
            # finding never named.
            raise Ignored("finding names no object version; nothing is moved without one")
        target = self.quarantine_key(finding)
        source = self._head(finding.bucket, finding.key, finding.version_id)
        existing = self._head(self.quarantine_bucket, target)
        if source is None:
            if (
                existing is not None
                and self._tags(self.quarantine_bucket, target).get(FINDING_ID_TAG) == finding.id
            ):
                logger.info(
                    "already quarantined", extra={"findingId": finding.id, "quarantineKey": target}
                )
                return "already-quarantined"
            raise Ignored("the object version named by the finding no longer exists")
        # Always the exact version, "null" included (objects written before versioning).
        copy_source = {
            "Bucket": finding.bucket,
            "Key": finding.key,
            "VersionId": finding.version_id,
        }
        already_copied = (
            existing is not None
            and self._tags(self.quarantine_bucket, target).get(FINDING_ID_TAG) == finding.id
            and self._same_content(copy_source, source, target, existing)
        )
        if not already_copied:
            self.s3.copy(
                copy_source,
                self.quarantine_bucket,
                target,
                ExtraArgs={
                    "ServerSideEncryption": "aws:kms",
                    "SSEKMSKeyId": self.quarantine_key_arn,
                    "MetadataDirective": "COPY",
                },
                Config=_TRANSFER,
            )
            copied = self._head(self.quarantine_bucket, target)
            if copied is None or not self._same_content(copy_source, source, target, copied):
                raise RuntimeError(
                    f"copy of s3://{finding.bucket}/{finding.key} to quarantine did not verify; "
                    "the source was left in place"
                )
            self.s3.put_object_tagging(
                Bucket=self.quarantine_bucket,
                Key=target,
                Tagging={"TagSet": _finding_tags(finding)},
            )
        self.s3.delete_object(Bucket=finding.bucket, Key=finding.key, VersionId=finding.version_id)
        logger.info(
            "quarantined",
            extra={"findingId": finding.id, "bucket": finding.bucket, "quarantineKey": target},
        )
        return "quarantined"

    def _same_content(
        self,
        copy_source: Mapping[str, str],
        source_head: Mapping[str, Any],
        target: str,
        target_head: Mapping[str, Any],
    ) -> bool:
        if source_head.get("ContentLength") != target_head.get("ContentLength"):
            return False
        # ETags of SSE-KMS and multipart objects are not content hashes, so compare the bytes.
        return self._sha256(copy_source) == self._sha256(
            {"Bucket": self.quarantine_bucket, "Key": target}
        )

    def _sha256(self, location: Mapping[str, str]) -> str:
        digest = hashlib.sha256()
        body = self.s3.get_object(**location)["Body"]
        for chunk in iter(lambda: body.read(_HASH_CHUNK), b""):
            digest.update(chunk)
        return digest.hexdigest()

    # -- tag ----------------------------------------------------------------------------
    def _tag(self, finding: Finding) -> str:
        location: dict[str, str] = {"Bucket": finding.bucket, "Key": finding.key}
        if finding.version_id:
            location["VersionId"] = finding.version_id
        try:
            current = self.s3.get_object_tagging(**location)["TagSet"]
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "NoSuchVersion", "404"):
                raise Ignored("the object version named by the finding no longer exists") from None
            raise
        tags = {t["Key"]: t["Value"] for t in current}
        if tags.get(FINDING_ID_TAG) == finding.id:
            return "already-tagged"
        tags.update({t["Key"]: t["Value"] for t in _finding_tags(finding)})
        if len(tags) > 10:
            raise RuntimeError(f"{finding.key} has too many tags to add the finding's three")
        self.s3.put_object_tagging(
            **location, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
        )
        logger.info("tagged", extra={"findingId": finding.id, "bucket": finding.bucket})
        return "tagged"

    # -- helpers ------------------------------------------------------------------------
    def _head(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        args = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        try:
            return dict(self.s3.head_object(**args))
        except ClientError as error:
            if _code(error) in ("404", "NoSuchKey", "NoSuchVersion", "NotFound"):
                return None
            raise

    def _tags(self, bucket: str, key: str) -> dict[str, str]:
        tag_set = self.s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        return {t["Key"]: t["Value"] for t in tag_set}

    def _notify(self, finding: Finding, action: str) -> None:
        # Names where and what, never the values Macie detected.
        message = {
            "action": action,
            "findingId": finding.id,
            "findingType": finding.type,
            "severity": finding.severity,
            "bucket": finding.bucket,
            "key": finding.key,
        }
        if action in ("quarantined", "already-quarantined"):
            message["quarantine"] = f"s3://{self.quarantine_bucket}/{self.quarantine_key(finding)}"
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=f"Macie finding remediated: {action}"[:100],
            Message=json.dumps(message),
        )


def _finding_tags(finding: Finding) -> list[dict[str, str]]:
    return [
        {"Key": FINDING_ID_TAG, "Value": finding.id[:256]},
        {"Key": FINDING_TYPE_TAG, "Value": finding.type[:256]},
        {"Key": SEVERITY_TAG, "Value": finding.severity[:256]},
    ]


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def remediator_from_environment() -> Remediator:
    return Remediator(
        s3=boto3.client("s3"),
        sns=boto3.client("sns"),
        mode=os.environ["MODE"],
        platform_buckets=frozenset(b for b in os.environ["PLATFORM_BUCKETS"].split(",") if b),
        quarantine_bucket=os.environ.get("QUARANTINE_BUCKET", ""),
        quarantine_key_arn=os.environ.get("QUARANTINE_KEY_ARN", ""),
        topic_arn=os.environ["TOPIC_ARN"],
    )


def handler(event: Any, context: Any) -> dict[str, str]:
    return unless_ignored(
        event, logger, lambda: remediator_from_environment().remediate(parse_finding(event))
    )

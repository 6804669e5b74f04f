"""Remediates Amazon Macie sensitive-data findings on the platform's S3 buckets.

Invoked by an EventBridge rule for ``aws.macie`` / ``Macie Finding`` events. Per the
``MODE`` environment variable:

* ``quarantine``: copy the exact object version named by the finding to the quarantine
  bucket (a managed copy, so objects over 5 GB work), verify the copy (size, and content
  checksum), tag it with the finding, and only then delete the source version;
* ``tag``: tag the source object version with the finding; the lake's bucket policy denies
  reads of objects carrying that tag.

Which version: the finding's ``versionId`` when it has one. Macie publishes many findings
with ``"versionId": ""``; then the finding's ``eTag`` and ``size`` (of the object it
scanned) pick the newest version of the key in ``ListObjectVersions`` that matches. The
listing alone decides, never a read of the object (``HeadObject`` is authorised as
``s3:GetObject``): the lake's bucket policy denies everyone reads of a version tagged
with a finding, which is what a redelivered finding, or a second finding on the same
object, is about. A version written after the scan is never moved or tagged. When no
version matches (the scanned one was deleted or overwritten in place), the match is the
``"null"`` version (the bucket is not versioned, so the object could change under the
remediation), or the finding gives neither a version nor an ETag, nothing is changed and
a "not-remediated" notice naming the finding id and the reason is published. Quarantine
reads the source's tags (``GetObjectVersionTagging``, which the deny does not cover)
before reading the source: a version already flagged by a finding (tag mode, before the
environment moved to quarantine) cannot be copied by anyone, so it stays where it is,
unreadable, and a "not-remediated" notice says so.

Both publish a summary to an SNS topic naming the bucket, key, finding type and action,
never the sensitive values. A redelivered finding, or an object already quarantined, is a
success (quarantine keeps an index ``_findings/<finding id>.json``, so a redelivered
finding without a version id still finds what it moved). Events that are malformed, not
sensitive-data findings, or about buckets outside the platform are logged and ignored. An
object without room for the finding's three tags (S3 allows 10 per object) cannot be
tagged by any retry: the event goes straight to the dead-letter queue with the reason (see
``handler_common.events.NonRetryable``), after a "not-remediated" notice. Other errors are
raised, so the asynchronous invocation is retried a bounded number of times and then lands
in the dead-letter queue; a failure before the delete leaves the source object as it was.

Only the standard library, the runtime's boto3 and Powertools for AWS Lambda (its
layer) are used.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from handler_common.events import Ignored, NonRetryable, event_detail, unless_ignored
from handler_common.logs import json_logger

FINDING_ID_TAG = "macie-finding-id"
FINDING_TYPE_TAG = "macie-finding-type"
SEVERITY_TAG = "macie-severity"
# Copies above this size use multipart UploadPartCopy (required above 5 GB).
_TRANSFER = TransferConfig(
    multipart_threshold=256 * 1024 * 1024, multipart_chunksize=256 * 1024 * 1024
)
_HASH_CHUNK = 8 * 1024 * 1024
#: S3 allows at most 10 tags per object (Amazon S3 User Guide, "Categorizing your objects
#: using tags").
MAX_OBJECT_TAGS = 10
#: Quarantine index of what each finding moved; bucket names have no "_", so no quarantined
#: object's key (``<bucket>/<version>/<key>``) starts with it.
INDEX_PREFIX = "_findings/"
_MISSING = ("404", "NoSuchKey", "NoSuchVersion", "NotFound")


class NotRemediated(Exception):
    """The finding cannot be acted on safely; the message says why (published, not raised)."""


class TooManyTags(NonRetryable):
    """The object has no room for the finding's tags."""


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
    #: ETag (without quotes) and size in bytes of the object Macie scanned, when given.
    etag: str | None = None
    size: int | None = None


def parse_finding(event: Mapping[str, Any]) -> Finding:
    """Extract the finding, or raise :class:`Ignored` naming what is missing or unrelated."""
    detail = event_detail(event, "aws.macie", "Macie Finding", "Macie finding")
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
    # "eTag" is the field's name in Macie's API model; accept the lower-case spelling too.
    etag = s3_object.get("eTag") or s3_object.get("etag")
    size = s3_object.get("size")
    return Finding(
        id=finding_id,
        type=finding_type,
        severity=str(severity.get("description") or severity.get("score") or "unknown"),
        bucket=bucket,
        # The finding gives the key as stored (not URL-encoded): use it as it is.
        key=key,
        version_id=version_id if isinstance(version_id, str) else None,
        etag=(_unquote(etag) or None) if isinstance(etag, str) else None,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
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
        try:
            if self.mode == "quarantine":
                action, version_id = self._quarantine(finding)
            else:
                version_id = self._scanned_version(finding)
                action = self._tag(finding, version_id)
        except NotRemediated as why:
            return self._not_remediated(finding, str(why))
        except TooManyTags as why:
            self._not_remediated(finding, str(why))
            raise
        self._notify(finding, action, version_id=version_id)
        return {"status": action, "findingId": finding.id}

    def _not_remediated(self, finding: Finding, reason: str) -> dict[str, str]:
        logger.warning("not remediated", extra={"findingId": finding.id, "reason": reason})
        self._notify(finding, "not-remediated", reason=reason)
        return {"status": "not-remediated", "findingId": finding.id, "reason": reason}

    # -- which version ----------------------------------------------------------------
    def _scanned_version(self, finding: Finding) -> str:
        """The version id of the object version Macie scanned, or :class:`NotRemediated`.

        Without a version id in the finding, from ``ListObjectVersions`` alone: reading the
        object (even a HEAD) is refused once a finding has flagged it."""
        if finding.version_id:
            return finding.version_id
        if not finding.etag:
            raise NotRemediated(
                "the finding names neither a version id nor an ETag: the scanned version "
                "cannot be told from one written since, so nothing was changed"
            )
        # Newest first: of identical versions, the newest is the one still served.
        for version in self._versions_of(finding.bucket, finding.key):
            if self._is_scanned(finding, version, "Size"):
                if version.get("VersionId", "null") == "null":
                    raise NotRemediated(
                        f"bucket {finding.bucket!r} is not versioned, or was not when the "
                        'scanned object was written (its version id is "null"): it could '
                        "change between the check and the remediation, so nothing was changed"
                    )
                return str(version["VersionId"])
        raise NotRemediated(
            f"no version of the object has the scanned ETag {finding.etag}"
            + (f" and size {finding.size}" if finding.size is not None else "")
            + ": it was deleted or overwritten after the scan, so nothing was changed"
        )

    def _versions_of(self, bucket: str, key: str) -> Iterator[Mapping[str, Any]]:
        """The versions of exactly ``key``, newest first, as ``ListObjectVersions`` lists them
        (``Key``, ``VersionId``, ``ETag``, ``Size``...; delete markers left out)."""
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for version in page.get("Versions", []):
                if version.get("Key") != key:
                    # Keys come in order, each key's versions newest first (Amazon S3 API
                    # Reference, ListObjectVersions); every other key under the prefix
                    # extends ``key``, so sorts after it: none of its versions can follow.
                    return
                yield version

    @staticmethod
    def _is_scanned(finding: Finding, described: Mapping[str, Any], size_field: str) -> bool:
        return _unquote(str(described.get("ETag", ""))) == finding.etag and (
            finding.size is None or described.get(size_field) == finding.size
        )

    # -- quarantine -------------------------------------------------------------------
    def quarantine_key(self, finding: Finding, version_id: str | None = None) -> str:
        """``<bucket>/<version id>/<key>``: one quarantine object per flagged version."""
        return f"{finding.bucket}/{version_id or finding.version_id}/{finding.key}"

    def index_key(self, finding: Finding) -> str:
        """Where the quarantine records what ``finding`` moved."""
        return f"{INDEX_PREFIX}{finding.id}.json"

    def _quarantined_before(self, finding: Finding) -> str | None:
        """The version a previous delivery of ``finding`` quarantined, if it did."""
        try:
            body = self.s3.get_object(Bucket=self.quarantine_bucket, Key=self.index_key(finding))[
                "Body"
            ].read()
            version_id = json.loads(body)["versionId"]
        except ClientError as error:
            if _code(error) in _MISSING:
                return None
            raise
        except (ValueError, KeyError, TypeError):
            return None
        return str(version_id)

    def _quarantine(self, finding: Finding) -> tuple[str, str]:
        try:
            version_id = self._scanned_version(finding)
        except NotRemediated:
            if finding.version_id:
                raise
            # A redelivery of a finding without a version id whose version was moved.
            moved = self._quarantined_before(finding)
            if moved is None:
                raise
            version_id = moved
        target = self.quarantine_key(finding, version_id)
        # The tags first: a flagged version refuses every read, the HEAD and the copy too.
        source_tags = self._version_tags(finding.bucket, finding.key, version_id)
        if source_tags is not None and FINDING_ID_TAG in source_tags:
            raise NotRemediated(
                f"version {version_id} of the object is already flagged by finding "
                f"{source_tags[FINDING_ID_TAG]} (tag {FINDING_ID_TAG}): the lake denies "
                "everyone reads of it, the copy to quarantine included, so it stays where it "
                "is, unreadable; remove the tag to quarantine it"
            )
        source = (
            None if source_tags is None else self._head(finding.bucket, finding.key, version_id)
        )
        existing = self._head(self.quarantine_bucket, target)
        if source is None:
            if (
                existing is not None
                and self._tags(self.quarantine_bucket, target).get(FINDING_ID_TAG) == finding.id
            ):
                logger.info(
                    "already quarantined", extra={"findingId": finding.id, "quarantineKey": target}
                )
                return "already-quarantined", version_id
            raise NotRemediated(
                "the object version named by the finding no longer exists, and the quarantine "
                "does not hold it"
            )
        # Always the exact version, "null" included (objects written before versioning).
        copy_source = {
            "Bucket": finding.bucket,
            "Key": finding.key,
            "VersionId": version_id,
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
        # Before the delete: a redelivery that no longer finds the version finds this.
        self.s3.put_object(
            Bucket=self.quarantine_bucket,
            Key=self.index_key(finding),
            Body=json.dumps({"versionId": version_id, "quarantineKey": target}).encode(),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.quarantine_key_arn,
        )
        self.s3.delete_object(Bucket=finding.bucket, Key=finding.key, VersionId=version_id)
        logger.info(
            "quarantined",
            extra={"findingId": finding.id, "bucket": finding.bucket, "quarantineKey": target},
        )
        return "quarantined", version_id

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
    def _tag(self, finding: Finding, version_id: str) -> str:
        # Always the scanned version: a version written since was never scanned.
        location = {"Bucket": finding.bucket, "Key": finding.key, "VersionId": version_id}
        try:
            current = self.s3.get_object_tagging(**location)["TagSet"]
        except ClientError as error:
            if _code(error) in _MISSING:
                raise NotRemediated(
                    "the object version named by the finding no longer exists"
                ) from None
            raise
        tags = {t["Key"]: t["Value"] for t in current}
        if tags.get(FINDING_ID_TAG) == finding.id:
            return "already-tagged"
        tags.update({t["Key"]: t["Value"] for t in _finding_tags(finding)})
        if len(tags) > MAX_OBJECT_TAGS:
            raise TooManyTags(
                f"version {version_id} of the object has {len(current)} tags: S3 allows "
                f"{MAX_OBJECT_TAGS} tags per object, so the finding's {len(_finding_tags(finding))}"
                " do not fit; remove tags from the object, or quarantine it by hand"
            )
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
            if _code(error) in _MISSING:
                return None
            raise

    def _version_tags(self, bucket: str, key: str, version_id: str) -> dict[str, str] | None:
        """The tags of one version (``GetObjectVersionTagging``), None when it is gone."""
        try:
            tag_set = self.s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)
        except ClientError as error:
            if _code(error) in _MISSING:
                return None
            raise
        return {t["Key"]: t["Value"] for t in tag_set["TagSet"]}

    def _tags(self, bucket: str, key: str) -> dict[str, str]:
        tag_set = self.s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        return {t["Key"]: t["Value"] for t in tag_set}

    def _notify(
        self,
        finding: Finding,
        action: str,
        *,
        version_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        # Names where and what, never the values Macie detected.
        message = {
            "action": action,
            "findingId": finding.id,
            "findingType": finding.type,
            "severity": finding.severity,
            "bucket": finding.bucket,
            "key": finding.key,
        }
        if version_id:
            message["versionId"] = version_id
        if reason:
            message["reason"] = reason
        if action in ("quarantined", "already-quarantined"):
            target = self.quarantine_key(finding, version_id)
            message["quarantine"] = f"s3://{self.quarantine_bucket}/{target}"
        subject = (
            "Macie finding NOT remediated"
            if action == "not-remediated"
            else f"Macie finding remediated: {action}"
        )
        self.sns.publish(
            TopicArn=self.topic_arn, Subject=subject[:100], Message=json.dumps(message)
        )


def _finding_tags(finding: Finding) -> list[dict[str, str]]:
    return [
        {"Key": FINDING_ID_TAG, "Value": finding.id[:256]},
        {"Key": FINDING_TYPE_TAG, "Value": finding.type[:256]},
        {"Key": SEVERITY_TAG, "Value": finding.severity[:256]},
    ]


def _unquote(etag: str) -> str:
    return etag.strip().strip('"')


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


# The request id, function and cold start on every line (the event itself is not logged:
# it may name sensitive objects).
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: Any) -> dict[str, str]:
    return unless_ignored(
        event,
        logger,
        lambda: remediator_from_environment().remediate(parse_finding(event)),
        context,
    )

"""Deploys approved model package versions to a SageMaker multi-model endpoint's S3 prefix.

Invoked by an EventBridge rule for ``aws.sagemaker`` / ``SageMaker Model Package State
Change`` events. When a model package of one of ``MODEL_PACKAGE_GROUPS`` is Approved, the
package's model artifact (a single ``.tar.gz`` object) is copied to
``<MODEL_PREFIX><group>/v<version>.tar.gz`` in ``MODEL_BUCKET``, the prefix the multi-model
endpoint loads models from; clients then invoke the endpoint with
``TargetModel=<group>/v<version>.tar.gz`` (see :func:`target_model`). A JSON deployment
record is written to ``<RECORD_PREFIX><group>/v<version>.json``, outside the model prefix so
the endpoint never sees it.

The rule already filters on the approval status and the group names; the handler checks
both again, and because events can arrive late, twice or out of order, it asks the model
registry (``DescribeModelPackage``) for the package's *current* status and acts only if that
is still Approved. The artifact is taken from the description, never from the event: the
registry is the authority, the event a snapshot of it. The event's ``ModelDataUrl``, when
present, must still be well formed, or the event is ignored as malformed.

The copy is a managed copy (multipart ``UploadPartCopy`` from :data:`MULTIPART_THRESHOLD`
on, so artifacts over 5 GB work) of the exact source version looked at, SSE-KMS with
``MODEL_KEY_ARN``, and replaces the user metadata with the deployment's provenance (model
package ARN, source URI, ETag, size and version). The copy is then checked (size, provenance
metadata, KMS key) before the record is written. A copy that fails or does not check is
removed again (its version deleted; without ``s3:DeleteObjectVersion``, hidden behind a
delete marker), a failed multipart upload is aborted, and the error is raised: the endpoint
never loads a partial or foreign object.

A deployed model version is never overwritten: the endpoint caches models by name, so a
second object under the same name would be served inconsistently. A target that already
carries the same provenance makes a redelivered event a no-op (``already-deployed``); a
target with any other provenance is an error.

With ``SERIALIZE_DEPLOYMENTS`` (``true`` unless ``false``), one deployment of a version at a
time, without reserved concurrency (a new account's concurrency quota of 10 leaves none to
reserve): after the read-only check for a finished deployment, an invocation takes a lock
object ``<RECORD_PREFIX>_locks/<group>/v<version>.lock`` with a conditional write
(``PutObject`` with ``If-None-Match: *``, which S3 lets only one writer win). The lock
records when it expires: :data:`LOCK_MARGIN_SECONDS` after the end of the invocation that
took it (its time left, from the Lambda context), and never later than ``LOCK_SECONDS``
(the function's timeout plus that margin, set by the construct; default
:data:`DEFAULT_LOCK_SECONDS`) after it was taken. So a live invocation never loses its lock,
and the lock of an invocation that timed out has expired when Lambda's first retry arrives,
a minute after the timeout. A second delivery that finds the lock held waits for it,
polling every :data:`POLL_SECONDS`, until it is released (then the version is normally
``already-deployed``) or expires (then it is taken over with a conditional write on its
ETag), while the invocation has more than :data:`COPY_RESERVE_SECONDS` left; only then is
:class:`DeploymentInProgress` raised, and Lambda retries the invocation. The lock's version
is deleted when the invocation ends, however it ends short of a timeout (no version or
delete marker stays).

Events that are malformed, of another kind, not Approved (in the event or in the registry)
or for another group are logged at WARNING and ignored. Failures are classified:

* deterministic ones (a Completed package whose artifact does not exist, a target with other
  provenance) are :class:`handler_common.events.NonRetryable`: the event goes straight to the
  dead-letter queue with the reason, and the invocation succeeds, so Lambda does not retry;
* a package still being created (``Pending``, ``InProgress``) is waited for, polling
  ``DescribeModelPackage`` every :data:`POLL_SECONDS` while the invocation has more than
  :data:`COPY_RESERVE_SECONDS` left (about 10 minutes of a 15-minute timeout); if it is
  still not Completed, :class:`PackageNotReady` is raised and Lambda retries the invocation
  twice (after about 1 and 2 minutes), each attempt waiting again: about 30 minutes in all;
* everything else (throttling, a lost connection, a copy that did not verify) is raised, so
  the asynchronous invocation is retried and then lands in the dead-letter queue.

Only the standard library, the runtime's boto3 and Powertools for AWS Lambda (its
layer) are used.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from handler_common.events import Ignored, NonRetryable, event_detail, unless_ignored
from handler_common.logs import json_logger

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
APPROVED = "Approved"
ARCHIVE_SUFFIX = ".tar.gz"

# Copies of objects from this size on use multipart UploadPartCopy (CopyObject stops at
# 5 GB). Parts of 1 GiB: 10,000 parts (the S3 maximum) cover the 5 TiB object maximum.
MULTIPART_THRESHOLD = 1024 * 1024 * 1024
MULTIPART_CHUNKSIZE = 1024 * 1024 * 1024

# User metadata on the deployed object (S3 returns the keys in lower case).
META_PACKAGE_ARN = "model-package-arn"
META_GROUP = "model-package-group"
META_VERSION = "model-package-version"
META_SOURCE_URI = "source-uri"
META_SOURCE_ETAG = "source-etag"
META_SOURCE_SIZE = "source-size"
META_SOURCE_VERSION = "source-version-id"

# Waiting for a package still being created: poll this often, and stop while this much of
# the invocation is left for the copy (a managed copy of a multi-gigabyte archive). Lambda
# retries a failed asynchronous invocation twice, about 1 and then 2 minutes later (Lambda
# Developer Guide, "Error handling and automatic retries in Lambda", asynchronous
# invocation), so three waits of about 10 minutes cover a package that takes half an hour.
POLL_SECONDS = 15
COPY_RESERVE_SECONDS = 5 * 60
#: How long a lock outlives the invocation that took it. Lambda ends an invocation at its
#: timeout, counts that as a function error and retries it a minute later (Lambda Developer
#: Guide, "How Lambda handles errors and retries with asynchronous invocation"), so a lock
#: that expires this long after its invocation's end is never lost by a live invocation and
#: has expired when the first retry arrives; the margin also absorbs small differences
#: between the clocks of the hosts that compare the expiry.
LOCK_MARGIN_SECONDS = 30
#: The lock's lifetime when the invocation's time left is unknown (``LOCK_SECONDS``
#: overrides it): the longest Lambda timeout, 15 minutes, plus the margin.
DEFAULT_LOCK_SECONDS = 15 * 60 + LOCK_MARGIN_SECONDS
LOCK_DIRECTORY = "_locks/"
_PENDING = ("Pending", "InProgress")
# Amazon S3 User Guide, "Add preconditions to S3 operations with conditional requests": a
# conditional write that loses is refused with 412 PreconditionFailed, one racing another
# write of the key with 409 ConditionalRequestConflict.
_CONFLICT = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")

_MISSING = ("404", "NoSuchKey", "NoSuchVersion", "NotFound")
_FORBIDDEN = ("403", "AccessDenied", "Forbidden")


logger = json_logger("model_deployer")


@dataclass(frozen=True)
class PackageChange:
    """What the handler needs from a model package state change event."""

    event_id: str | None
    event_time: str | None
    group: str
    version: int
    arn: str


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class HeldLock:
    """A deployment lock as read: its ETag, expiry (``_now()`` time) and version id."""

    etag: str
    expires: float
    version_id: str | None


class DeploymentConflict(NonRetryable):
    """The target name already holds a model with other provenance; it is left alone."""


class ArtifactMissing(NonRetryable):
    """The approved, Completed package's artifact does not exist."""


class PackageNotReady(RuntimeError):
    """The package is still being created; Lambda's retry looks again later."""


class DeploymentInProgress(RuntimeError):
    """Another invocation holds the version's lock; Lambda's retry looks again later."""


class CopyNotVerified(RuntimeError):
    """The copied object did not check out; it was removed again."""


def target_model(group: str, version: int) -> str:
    """The ``TargetModel`` a client sends to invoke ``version`` of ``group``.

    It is the object's key relative to the endpoint's model prefix.
    """
    return f"{group}/v{version}{ARCHIVE_SUFFIX}"


def model_key(model_prefix: str, group: str, version: int) -> str:
    """The key the endpoint loads ``version`` of ``group`` from."""
    return f"{model_prefix}{target_model(group, version)}"


def record_key(record_prefix: str, group: str, version: int) -> str:
    """The key of the deployment record of ``version`` of ``group``."""
    return f"{record_prefix}{group}/v{version}.json"


def lock_key(record_prefix: str, group: str, version: int) -> str:
    """The key of the lock that serializes deployments of ``version`` of ``group``."""
    # Group names are letters, digits and hyphens: no record key starts with "_locks/".
    return f"{record_prefix}{LOCK_DIRECTORY}{group}/v{version}.lock"


def transfer_config() -> TransferConfig:
    """The managed copy's settings, read from the module constants when a copy starts."""
    return TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNKSIZE
    )


def parse_s3_archive_uri(uri: Any) -> S3Location:
    """``s3://bucket/key.tar.gz`` as a location, or :class:`Ignored` saying what is wrong."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise Ignored(f"model artifact {uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise Ignored(f"model artifact {uri!r} names no bucket and key")
    if not key.endswith(ARCHIVE_SUFFIX) or key.endswith("/"):
        raise Ignored(
            f"model artifact {uri!r} is not a single {ARCHIVE_SUFFIX} object, which a "
            "multi-model endpoint needs"
        )
    return S3Location(bucket=bucket, key=key)


def parse_event(event: Any) -> PackageChange:
    """Extract the package change, or raise :class:`Ignored` naming what is wrong."""
    detail = event_detail(event, SOURCE, DETAIL_TYPE, "model package state change")
    group = detail.get("ModelPackageGroupName")
    if not isinstance(group, str) or not group:
        raise Ignored("event names no model package group (ModelPackageGroupName)")
    version = detail.get("ModelPackageVersion")
    # bool is an int in Python; a version is a positive whole number.
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise Ignored(f"ModelPackageVersion {version!r} is not a positive integer")
    arn = detail.get("ModelPackageArn")
    if not isinstance(arn, str) or not arn.startswith("arn:") or ":model-package/" not in arn:
        raise Ignored(f"ModelPackageArn {arn!r} is not a model package ARN")
    status = detail.get("ModelApprovalStatus")
    if status != APPROVED:
        raise Ignored(f"event's ModelApprovalStatus is {status!r}, not {APPROVED!r}")
    inference = detail.get("InferenceSpecification")
    if inference is not None:
        containers = inference.get("Containers") if isinstance(inference, Mapping) else None
        if not isinstance(containers, list) or not containers:
            raise Ignored("event's InferenceSpecification has no Containers")
        first = containers[0]
        if not isinstance(first, Mapping):
            raise Ignored("event's first container is not an object")
        if "ModelDataUrl" in first:
            parse_s3_archive_uri(first["ModelDataUrl"])
    event_id = event.get("id")
    event_time = event.get("time")
    return PackageChange(
        event_id=event_id if isinstance(event_id, str) else None,
        event_time=event_time if isinstance(event_time, str) else None,
        group=group,
        version=version,
        arn=arn,
    )


def artifact_location(description: Mapping[str, Any]) -> S3Location:
    """The model artifact of a DescribeModelPackage response (first container).

    ``ModelDataUrl``, or an ``S3DataSource`` naming one gzip-compressed object. Anything
    else (no artifact, an uncompressed prefix) cannot be loaded by a multi-model endpoint.
    """
    containers = (description.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers or not isinstance(containers[0], Mapping):
        raise Ignored("the model package has no inference container")
    container = containers[0]
    if container.get("ModelDataUrl"):
        return parse_s3_archive_uri(container["ModelDataUrl"])
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    if source.get("S3DataType") == "S3Object" and source.get("CompressionType") == "Gzip":
        return parse_s3_archive_uri(source.get("S3Uri"))
    raise Ignored("the model package's first container names no single .tar.gz artifact")


class Deployer:
    """Deploys one approved model package version with the given clients and settings."""

    def __init__(
        self,
        *,
        s3: Any,
        sagemaker: Any,
        bucket: str,
        model_prefix: str,
        record_prefix: str,
        groups: frozenset[str],
        key_arn: str,
        serialize: bool = True,
        lock_seconds: float = DEFAULT_LOCK_SECONDS,
    ) -> None:
        for name, prefix in (("MODEL_PREFIX", model_prefix), ("RECORD_PREFIX", record_prefix)):
            if not prefix.endswith("/") or prefix == "/":
                raise ValueError(f"{name} must be a key prefix ending in '/', not {prefix!r}")
        if record_prefix.startswith(model_prefix) or model_prefix.startswith(record_prefix):
            raise ValueError("RECORD_PREFIX and MODEL_PREFIX must not contain one another")
        if not bucket or not key_arn:
            raise ValueError("MODEL_BUCKET and MODEL_KEY_ARN must be set")
        if not lock_seconds > 0:
            raise ValueError(f"LOCK_SECONDS must be a positive number, not {lock_seconds!r}")
        self.s3 = s3
        self.sagemaker = sagemaker
        self.bucket = bucket
        self.model_prefix = model_prefix
        self.record_prefix = record_prefix
        self.groups = groups
        self.key_arn = key_arn
        self.serialize = serialize
        #: Seconds a lock lasts at most (default :data:`DEFAULT_LOCK_SECONDS`).
        self.lock_seconds = lock_seconds
        #: ``_monotonic()`` time until which the invocation may wait for a package still
        #: being created or for another invocation's lock; by default it does not wait.
        self.wait_until = -math.inf
        #: Wall-clock time (``_now()``) the invocation's lock expires at; by default
        #: ``lock_seconds`` after it is taken.
        self.lock_expires: float | None = None

    def set_time_left(self, seconds: float | None) -> None:
        """Fit the waits and the lock to an invocation with ``seconds`` left (None: unknown).

        It may wait until :data:`COPY_RESERVE_SECONDS` before its end, and its lock expires
        :data:`LOCK_MARGIN_SECONDS` after its end (at most ``lock_seconds`` from now).
        Unknown, it does not wait and the lock lasts ``lock_seconds``.
        """
        if seconds is None:
            self.wait_until = -math.inf
            self.lock_expires = None
            return
        self.wait_until = _monotonic() + max(0.0, seconds - COPY_RESERVE_SECONDS)
        self.lock_expires = _now() + min(self.lock_seconds, seconds + LOCK_MARGIN_SECONDS)

    def deploy(self, change: PackageChange) -> dict[str, str]:
        if change.group not in self.groups:
            raise Ignored(f"model package group {change.group!r} is not deployed by this function")
        description: Mapping[str, Any] = self._describe(change.arn)
        status = description.get("ModelApprovalStatus")
        if status != APPROVED:
            # A late or out-of-order event: the registry's current status decides.
            raise Ignored(f"the model package is now {status!r} in the registry, not {APPROVED!r}")
        if (
            description.get("ModelPackageGroupName") != change.group
            or description.get("ModelPackageVersion") != change.version
        ):
            raise Ignored(
                "the registry describes the package as "
                f"{description.get('ModelPackageGroupName')!r} version "
                f"{description.get('ModelPackageVersion')!r}, not as the event does"
            )
        description = self._await_completion(change.arn, description)
        source = artifact_location(description)
        source_head = self._head(source.bucket, source.key)
        if source_head is None:
            raise ArtifactMissing(
                f"the approved model package's artifact {source.uri} does not exist"
            )
        done = self._already_deployed(change, source, source_head)
        if done is not None:
            return done  # a redelivery: read-only, no lock taken
        if not self.serialize:
            return self._deploy(change, source, source_head)
        lock = lock_key(self.record_prefix, change.group, change.version)
        lock_version = self._acquire(lock)
        try:
            return self._deploy(change, source, source_head)
        finally:
            self._release(lock, lock_version)

    def _deploy(
        self, change: PackageChange, source: S3Location, source_head: Mapping[str, Any]
    ) -> dict[str, str]:
        target = model_key(self.model_prefix, change.group, change.version)
        record = record_key(self.record_prefix, change.group, change.version)
        provenance = _provenance(change, source, source_head)
        result = {
            "targetModel": target_model(change.group, change.version),
            "key": target,
        }

        existing = self._head(self.bucket, target)
        if existing is not None:
            if not _same_provenance(existing, provenance, source_head["ContentLength"]):
                raise DeploymentConflict(
                    f"s3://{self.bucket}/{target} already holds a model from "
                    f"{_metadata(existing).get(META_PACKAGE_ARN) or 'an unknown source'} "
                    f"(source ETag {_metadata(existing).get(META_SOURCE_ETAG)!r}); a deployed "
                    "model version is never overwritten"
                )
            if self._head(self.bucket, record) is not None:
                logger.info("already deployed", extra={"modelPackageArn": change.arn, **result})
                return {"status": "already-deployed", **result}
            # An earlier attempt copied the model but stopped before the record (perhaps
            # before checking the copy, too): check it now, then complete the record.
            logger.info("completing the deployment record", extra={"key": record})
        else:
            self._copy(source, source_head, target, provenance)
        self._verify(target, provenance, source_head["ContentLength"])

        self._write_record(record, change, source, source_head, target)
        logger.info(
            "deployed",
            extra={
                "modelPackageArn": change.arn,
                "modelPackageGroupName": change.group,
                "modelPackageVersion": change.version,
                "sourceUri": source.uri,
                "sourceSize": source_head["ContentLength"],
                "bucket": self.bucket,
                "record": record,
                "eventId": change.event_id,
                **result,
            },
        )
        return {"status": "deployed", **result}

    # -- steps --------------------------------------------------------------------------
    def _already_deployed(
        self, change: PackageChange, source: S3Location, source_head: Mapping[str, Any]
    ) -> dict[str, str] | None:
        target = model_key(self.model_prefix, change.group, change.version)
        existing = self._head(self.bucket, target)
        if existing is None or not _same_provenance(
            existing, _provenance(change, source, source_head), source_head["ContentLength"]
        ):
            return None
        if self._head(self.bucket, record_key(self.record_prefix, change.group, change.version)):
            result = {"targetModel": target_model(change.group, change.version), "key": target}
            logger.info("already deployed", extra={"modelPackageArn": change.arn, **result})
            return {"status": "already-deployed", **result}
        return None

    def _await_completion(self, arn: str, description: Mapping[str, Any]) -> Mapping[str, Any]:
        """The description once the package is Completed, polling while it may wait."""
        while True:
            status = description.get("ModelPackageStatus")
            if status == "Completed":
                return description
            if status not in _PENDING:
                raise Ignored(f"the model package's status is {status!r}")
            if _monotonic() + POLL_SECONDS > self.wait_until:
                raise PackageNotReady(f"the model package's status is {status!r}, not Completed")
            _sleep(POLL_SECONDS)
            description = self._describe(arn)
            if description.get("ModelApprovalStatus") != APPROVED:
                raise Ignored(
                    f"the model package is now {description.get('ModelApprovalStatus')!r} "
                    f"in the registry, not {APPROVED!r}"
                )

    def _acquire(self, key: str) -> str | None:
        """Take the version's lock and return its version id.

        A lock another invocation holds is waited for, polling, until it is released or
        expires (then it is taken over), while this invocation may wait; after that
        :class:`DeploymentInProgress` is raised, so that Lambda retries.
        """
        expires = self.lock_expires if self.lock_expires is not None else _now() + self.lock_seconds
        body = json.dumps({"owner": str(uuid.uuid4()), "expires": math.ceil(expires)})
        races = 0
        while True:
            try:
                return self._put_lock(key, body, IfNoneMatch="*")
            except ClientError as error:
                if _code(error) not in _CONFLICT:
                    raise
            held = self._read_lock(key)
            if held is not None and held.expires <= _now():
                try:
                    # Expired (or not a lock): take it over, unless someone else just did.
                    version = self._put_lock(key, body, IfMatch=held.etag)
                except ClientError as error:
                    if _code(error) not in _CONFLICT and _code(error) not in _MISSING:
                        raise
                else:
                    logger.warning("took over an expired deployment lock", extra={"key": key})
                    if held.version_id:
                        self._forget_version(key, held.version_id)
                    return version
            if held is None or held.expires <= _now():
                # Released, or taken over by another, since it was looked at: look again
                # at once, a few times, before waiting.
                races += 1
                if races <= 3:
                    continue
                pause = float(POLL_SECONDS)
            else:
                pause = max(1.0, min(float(POLL_SECONDS), held.expires - _now()))
            if _monotonic() + pause > self.wait_until:
                until = (
                    f" until {time.strftime('%H:%M:%SZ', time.gmtime(held.expires))}"
                    if held
                    else ""
                )
                raise DeploymentInProgress(
                    f"another invocation is deploying this version (lock "
                    f"s3://{self.bucket}/{key}{until})"
                )
            logger.info("waiting for another invocation's deployment lock", extra={"key": key})
            _sleep(pause)
            races = 0

    def _put_lock(self, key: str, body: str, **condition: str) -> str | None:
        response = self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body.encode(),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.key_arn,
            **condition,
        )
        return response.get("VersionId")

    def _read_lock(self, key: str) -> HeldLock | None:
        """The lock as it is now, or None when it is gone."""
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _code(error) in _MISSING:
                return None
            raise
        try:
            expires = float(json.loads(response["Body"].read())["expires"])
        except (ValueError, KeyError, TypeError):
            expires = 0.0  # not a lock this function wrote: treat it as expired
        return HeldLock(str(response["ETag"]), expires, response.get("VersionId"))

    def _forget_version(self, key: str, version_id: str) -> None:
        """Delete the expired lock version just taken over, which nobody else will release.

        Only that version: a delete marker would free the lock this invocation now holds.
        """
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        except ClientError:
            # The lock is held all the same; the noncurrent version is only clutter.
            logger.exception("could not delete an expired lock's version", extra={"key": key})

    def _release(self, key: str, version_id: str | None) -> None:
        try:
            args = {"Bucket": self.bucket, "Key": key}
            if version_id:
                args["VersionId"] = version_id
            try:
                self.s3.delete_object(**args)
            except ClientError as error:
                if not version_id or _code(error) != "AccessDenied":
                    raise
                # Without s3:DeleteObjectVersion a delete marker frees the lock too.
                self.s3.delete_object(Bucket=self.bucket, Key=key)
        except Exception:
            # The deployment's own outcome stands; an unreleased lock expires.
            logger.exception("could not release the deployment lock", extra={"key": key})

    def _describe(self, arn: str) -> dict[str, Any]:
        try:
            return dict(self.sagemaker.describe_model_package(ModelPackageName=arn))
        except ClientError as error:
            message = str(error.response.get("Error", {}).get("Message", "")).lower()
            if _code(error) == "ValidationException" and (
                "not found" in message or "does not exist" in message
            ):
                raise Ignored(f"model package {arn} no longer exists") from None
            raise

    def _copy(
        self,
        source: S3Location,
        source_head: Mapping[str, Any],
        target: str,
        provenance: Mapping[str, str],
    ) -> None:
        copy_source = {"Bucket": source.bucket, "Key": source.key}
        if source_head.get("VersionId"):
            # Exactly the version whose ETag and size the provenance records.
            copy_source["VersionId"] = source_head["VersionId"]
        extra_args = {
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": self.key_arn,
            # REPLACE on both paths: CopyObject would otherwise keep the source's metadata,
            # and s3transfer's multipart copy then drops the Metadata given here in favour of
            # the source's (it passes Metadata to CreateMultipartUpload only with REPLACE).
            "MetadataDirective": "REPLACE",
            "Metadata": dict(provenance),
            "ContentType": source_head.get("ContentType") or "application/octet-stream",
            # No tags on the target, the same on both paths (and no tagging permissions).
            "TaggingDirective": "REPLACE",
            # Fails the copy if the source changed since it was looked at.
            "CopySourceIfMatch": source_head["ETag"],
        }
        try:
            self.s3.copy(
                copy_source, self.bucket, target, ExtraArgs=extra_args, Config=transfer_config()
            )
        except Exception:
            # s3transfer aborts a failed multipart upload itself; a CopyObject (or the
            # completion of a multipart upload) may still have landed before the failure
            # was seen. Nothing was at the target before, so whatever is there now goes.
            self._remove_quietly(target)
            raise

    def _verify(self, target: str, provenance: Mapping[str, str], size: int) -> None:
        copied = self._head(self.bucket, target)
        problems = []
        if copied is None:
            problems.append("no object at the target")
        else:
            if copied.get("ContentLength") != size:
                problems.append(f"size {copied.get('ContentLength')} instead of {size}")
            if _metadata(copied) != dict(provenance):
                problems.append("provenance metadata differs")
            if copied.get("ServerSideEncryption") != "aws:kms" or _key_id(
                copied.get("SSEKMSKeyId")
            ) != _key_id(self.key_arn):
                problems.append("not encrypted with the model key")
        if problems:
            if copied is not None:
                self._delete(target, copied.get("VersionId"))
            raise CopyNotVerified(
                f"the copy to s3://{self.bucket}/{target} did not verify ({'; '.join(problems)});"
                " it was removed"
            )

    def _write_record(
        self,
        key: str,
        change: PackageChange,
        source: S3Location,
        source_head: Mapping[str, Any],
        target: str,
    ) -> None:
        record = {
            "modelPackageArn": change.arn,
            "modelPackageGroupName": change.group,
            "modelPackageVersion": change.version,
            "sourceUri": source.uri,
            "sourceEtag": _etag(source_head),
            "sourceSize": source_head["ContentLength"],
            "sourceVersionId": source_head.get("VersionId"),
            "bucket": self.bucket,
            "key": target,
            "targetModel": target_model(change.group, change.version),
            "eventId": change.event_id,
            "eventTime": change.event_time,
            "deployedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(record, indent=2).encode(),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.key_arn,
        )

    # -- helpers ------------------------------------------------------------------------
    def _head(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            return dict(self.s3.head_object(Bucket=bucket, Key=key))
        except ClientError as error:
            if _code(error) in _MISSING:
                return None
            if _code(error) in _FORBIDDEN and not self._listed(bucket, key):
                # S3 answers a HEAD of a missing key with 403, not 404, unless the caller
                # may list the bucket; a role that may list only some prefixes can still
                # list this key's, which tells a missing object from a refused one.
                return None
            raise

    def _listed(self, bucket: str, key: str) -> bool:
        try:
            listing = self.s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        except ClientError:
            return True  # cannot tell: the HEAD's refusal stands
        # The key itself sorts first among the keys it prefixes.
        return any(o.get("Key") == key for o in listing.get("Contents", []))

    def _delete(self, key: str, version_id: str | None) -> None:
        if version_id:
            # The exact version, so no noncurrent copy of a bad object stays behind.
            try:
                self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
                return
            except ClientError as error:
                if _code(error) != "AccessDenied":
                    raise
                logger.warning(
                    "not allowed to delete the object version (s3:DeleteObjectVersion); "
                    "hiding it behind a delete marker instead",
                    extra={"key": key, "versionId": version_id},
                )
        # A delete marker at least keeps the endpoint from loading it.
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def _remove_quietly(self, key: str) -> None:
        try:
            landed = self._head(self.bucket, key)
            if landed is not None:
                self._delete(key, landed.get("VersionId"))
        except Exception:
            # The copy's own error is the one raised; this one is only logged.
            logger.exception("could not remove a failed copy", extra={"key": key})


def _provenance(
    change: PackageChange, source: S3Location, source_head: Mapping[str, Any]
) -> dict[str, str]:
    metadata = {
        META_PACKAGE_ARN: change.arn,
        META_GROUP: change.group,
        META_VERSION: str(change.version),
        # User metadata travels in HTTP headers: ASCII only, so the URI is percent-encoded.
        META_SOURCE_URI: quote(source.uri, safe=":/"),
        META_SOURCE_ETAG: _etag(source_head),
        META_SOURCE_SIZE: str(source_head["ContentLength"]),
    }
    if source_head.get("VersionId"):
        metadata[META_SOURCE_VERSION] = str(source_head["VersionId"])
    return metadata


def _same_provenance(existing: Mapping[str, Any], provenance: Mapping[str, str], size: int) -> bool:
    recorded = _metadata(existing)
    return (
        recorded.get(META_PACKAGE_ARN) == provenance[META_PACKAGE_ARN]
        and recorded.get(META_SOURCE_ETAG) == provenance[META_SOURCE_ETAG]
        and recorded.get(META_SOURCE_SIZE) == provenance[META_SOURCE_SIZE]
        and existing.get("ContentLength") == size
    )


def _metadata(head: Mapping[str, Any]) -> dict[str, str]:
    return {str(k).lower(): v for k, v in (head.get("Metadata") or {}).items()}


def _etag(head: Mapping[str, Any]) -> str:
    return str(head.get("ETag", "")).strip('"')


def _key_id(key: Any) -> str:
    """The key id of a KMS key ARN (or of a bare key id)."""
    return str(key or "").rsplit("/", 1)[-1]


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _monotonic() -> float:
    """``time.monotonic``; tests replace it."""
    return time.monotonic()


def _now() -> float:
    """``time.time`` (a lock's expiry is compared across invocations); tests replace it."""
    return time.time()


def _sleep(seconds: float) -> None:
    """``time.sleep``; tests replace it."""
    time.sleep(seconds)


def time_left(context: Any) -> float | None:
    """Seconds this invocation has left, from its Lambda context; None when unknown."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return max(0.0, remaining() / 1000)


def lock_seconds_from(value: str | None) -> float:
    """``LOCK_SECONDS`` as a number; :data:`DEFAULT_LOCK_SECONDS` when unset or empty."""
    if value is None or not value.strip():
        return DEFAULT_LOCK_SECONDS
    try:
        return float(int(value))
    except ValueError:
        raise ValueError(f"LOCK_SECONDS must be a whole number of seconds, not {value!r}") from None


def deployer_from_environment() -> Deployer:
    return Deployer(
        s3=boto3.client("s3"),
        sagemaker=boto3.client("sagemaker"),
        bucket=os.environ["MODEL_BUCKET"],
        model_prefix=os.environ["MODEL_PREFIX"],
        record_prefix=os.environ["RECORD_PREFIX"],
        groups=frozenset(
            g.strip() for g in os.environ["MODEL_PACKAGE_GROUPS"].split(",") if g.strip()
        ),
        key_arn=os.environ["MODEL_KEY_ARN"],
        serialize=os.environ.get("SERIALIZE_DEPLOYMENTS", "true").strip().lower() != "false",
        lock_seconds=lock_seconds_from(os.environ.get("LOCK_SECONDS")),
    )


# The request id, function and cold start on every line (the event itself is not logged:
# it may name sensitive objects).
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: Any) -> dict[str, str]:
    def work() -> dict[str, str]:
        change = parse_event(event)
        deployer = deployer_from_environment()
        deployer.set_time_left(time_left(context))
        return deployer.deploy(change)

    return unless_ignored(event, logger, work, context)

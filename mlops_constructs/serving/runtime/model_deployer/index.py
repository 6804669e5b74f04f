"""Deploys approved model package versions, and takes rejected ones out of service.

Invoked by an EventBridge rule for ``aws.sagemaker`` / ``SageMaker Model Package State
Change`` events with ``ModelApprovalStatus`` Approved or Rejected. ``HOSTING`` says how the
endpoint serves models: ``multi-model`` (the default; the archives under an S3 prefix, below)
or ``inference-components`` (one inference component per group, at the end). In both modes
the registry's *current* status must still be the event's, or the event is ignored.

Multi-model. When a model package of one of ``MODEL_PACKAGE_GROUPS`` is Approved, the
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

A Rejected version (multi-model) is retired: its served archive is copied (managed copy of
the exact version, SSE-KMS, provenance metadata kept) to ``<RETIRED_PREFIX><group>/v<N>.tar.gz``,
the copy is checked (size, metadata, KMS key), and only then the served object's version is
deleted, so ``TargetModel`` v<N> can no longer be loaded. A copy that fails or does not check
is removed and the served archive stays (the error is raised; Lambda retries). SageMaker may
still answer from a copy it has loaded: a multi-model endpoint unloads a cached model only when
it needs the memory or disk for another one (SageMaker Developer Guide, "Set SageMaker AI
multi-model endpoint model caching behavior"); an endpoint update (new instances) drops it at
once. The record gets status ``retired`` (what it said before goes to its ``history``) and
names the newest other Approved version (``previousApproved``), whose archive is untouched and
still served. Already retired (served name empty, retired copy and record there): a no-op,
read-only. A version never deployed here is ignored. Retirement takes the version's lock, so it
never races a deployment of the version; a version approved again is deployed again.

Inference components (``HOSTING=inference-components``). ``COMPONENTS`` maps each group to its
component (name, CPU cores, memory, min and max copies, invocations per copy, rollback alarms,
scale to zero); ``ENDPOINT_NAME``, ``VARIANT_NAME``, ``EXECUTION_ROLE_ARN`` and ``VPC_CONFIG``
say where and as whom it runs. One lock per group
(``<RECORD_PREFIX>_locks/<group>/component.lock``) serializes its changes. For an Approved
version N (waited for while the package is being created, as above):

* the component is described; while it is Creating, Updating or Deleting it is waited for
  (polling while the invocation may wait, else :class:`ComponentBusy` and Lambda retries);
* a component serving a newer version is left alone (events come out of order); one that
  failed with version N is :class:`ComponentFailed` (dead-lettered); one back on an older
  version although the record says N was deployed was rolled back by SageMaker (an alarm
  fired): the record says ``rolled-back`` and N is not tried again;
* the model ``<component>-v<N>`` is created from the package (``Containers`` naming the
  package, the execution role, the VPC, network isolation) unless it exists; an existing one
  made from another package is a :class:`DeploymentConflict`;
* a missing component is created (``CopyCount`` max(1, min copies)) and waited for; an
  existing one is updated to the model with a rolling update (one copy a batch,
  :data:`ROLLING_WAIT_SECONDS` between batches) and automatic rollback on the rollback alarms;
  its copy count is kept;
* the copy count is registered with Application Auto Scaling (min copies, or 0 to scale to
  zero; max copies), with a target tracking policy on invocations per copy and, to scale to
  zero, the documented wake-up: a step scaling policy adding a copy, run by the alarm
  ``<component>-no-capacity`` on ``NoCapacityInvocationFailures``;
* the record ``<RECORD_PREFIX><group>/v<N>.json`` says ``deployed`` with the component and
  model. Each step changes only what differs, so a second delivery changes nothing
  (``already-deployed``).

For a Rejected version N: if the component serves N it is updated (the same rolling update)
to the newest other Approved version (``rolled-back``); with none left it is deleted, with its
scalable target (and so its policies) and wake-up alarm (``withdrawn``), because a component
must not serve a rejected model and at zero copies the wake-up would bring it back; the next
approval creates it again. Models and records are kept; the record of N says ``rejected``.

Only the standard library, the runtime's boto3 and Powertools for AWS Lambda (its
layer) are used.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
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
REJECTED = "Rejected"
#: ``HOSTING``: archives under a multi-model endpoint's prefix (the default), or one
#: inference component per group on an endpoint that hosts inference components.
MULTI_MODEL = "multi-model"
INFERENCE_COMPONENTS = "inference-components"
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
    #: ``Approved`` (deploy) or ``Rejected`` (retire or roll back), as the event says.
    status: str = APPROVED


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
    if status not in (APPROVED, REJECTED):
        raise Ignored(
            f"event's ModelApprovalStatus is {status!r}, not {APPROVED!r} or {REJECTED!r}"
        )
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
        status=status,
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
        retired_prefix: str | None = None,
    ) -> None:
        prefixes = {"MODEL_PREFIX": model_prefix, "RECORD_PREFIX": record_prefix}
        if retired_prefix is not None:
            prefixes["RETIRED_PREFIX"] = retired_prefix
        for name, prefix in prefixes.items():
            if not prefix.endswith("/") or prefix == "/":
                raise ValueError(f"{name} must be a key prefix ending in '/', not {prefix!r}")
        for (name, prefix), (other, other_prefix) in itertools.combinations(prefixes.items(), 2):
            # A retired archive inside the model prefix would still be loadable; records and
            # locks mixed with models would be offered to the endpoint.
            if prefix.startswith(other_prefix) or other_prefix.startswith(prefix):
                raise ValueError(f"{name} and {other} must not contain one another")
        if not bucket or not key_arn:
            raise ValueError("MODEL_BUCKET and MODEL_KEY_ARN must be set")
        if not lock_seconds > 0:
            raise ValueError(f"LOCK_SECONDS must be a positive number, not {lock_seconds!r}")
        self.s3 = s3
        self.sagemaker = sagemaker
        self.bucket = bucket
        self.model_prefix = model_prefix
        self.record_prefix = record_prefix
        self.retired_prefix = retired_prefix
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

    def deploy(self, change: PackageChange) -> dict[str, Any]:
        """Deploy an Approved version, or retire a Rejected one (:meth:`retire`)."""
        if change.group not in self.groups:
            raise Ignored(f"model package group {change.group!r} is not deployed by this function")
        if change.status == REJECTED:
            return self.retire(change)
        description = self._registry_says(change)
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

    def retire(self, change: PackageChange) -> dict[str, Any]:
        """Move a Rejected version's archive from the model prefix to ``RETIRED_PREFIX``.

        A managed copy of the exact version served, checked (size, provenance metadata, KMS
        key), and only then the served object is deleted, so ``TargetModel`` v<N> can no
        longer be loaded (an instance that has it loaded may still answer it until it evicts
        it: the multi-model cache keeps a model until memory or disk runs short); a copy that
        fails or does not check is removed and the served archive stays. The record is
        updated (status ``retired``, its history kept) and names the newest other Approved
        version, whose archive is untouched and still served.
        """
        if self.retired_prefix is None:
            raise ValueError("RETIRED_PREFIX must be set to retire rejected versions")
        self._registry_says(change)
        done = self._already_retired(change)
        if done is not None:
            return done  # a redelivery: read-only, no lock taken
        if not self.serialize:
            return self._retire(change)
        # The version's deployment lock: a retirement never races a deployment of it.
        lock = lock_key(self.record_prefix, change.group, change.version)
        lock_version = self._acquire(lock)
        try:
            return self._retire(change)
        finally:
            self._release(lock, lock_version)

    def _retire(self, change: PackageChange) -> dict[str, Any]:
        assert self.retired_prefix is not None
        served = model_key(self.model_prefix, change.group, change.version)
        retired = model_key(self.retired_prefix, change.group, change.version)
        record = record_key(self.record_prefix, change.group, change.version)
        result = {
            "targetModel": target_model(change.group, change.version),
            "key": served,
            "retiredKey": retired,
        }
        served_head = self._head(self.bucket, served)
        if served_head is None:
            if self._head(self.bucket, retired) is None:
                raise Ignored(
                    f"version {change.version} of {change.group} is not deployed here: "
                    "nothing to retire"
                )
            # An earlier attempt deleted the served archive but stopped before the record.
        else:
            provenance = _metadata(served_head)
            size = served_head["ContentLength"]
            existing = self._head(self.bucket, retired)
            if existing is None:
                self._copy(S3Location(self.bucket, served), served_head, retired, provenance)
            # Checked before anything is deleted; one that does not check is removed (and a
            # retry copies again), the served archive stays.
            self._verify(retired, provenance, size)
            self._delete(served, served_head.get("VersionId"))
        fallback = self._newest_other_approved(change.group, change.version)
        still_served = None
        if fallback is not None:
            version = fallback[0]
            still_served = {
                "modelPackageVersion": version,
                "modelPackageArn": fallback[1],
                "targetModel": target_model(change.group, version),
                "deployed": self._head(
                    self.bucket, model_key(self.model_prefix, change.group, version)
                )
                is not None,
            }
        self._update_record(
            record,
            change,
            {
                "status": "retired",
                "retiredAt": _timestamp(),
                "retiredKey": retired,
                "retiredBy": change.event_id,
                # Clients choose the version (TargetModel); the previous Approved one is
                # untouched and still served.
                "previousApproved": still_served,
            },
        )
        logger.info("retired", extra={"modelPackageArn": change.arn, "record": record, **result})
        return {"status": "retired", **result}

    def _already_retired(self, change: PackageChange) -> dict[str, Any] | None:
        assert self.retired_prefix is not None
        served = model_key(self.model_prefix, change.group, change.version)
        retired = model_key(self.retired_prefix, change.group, change.version)
        if self._head(self.bucket, served) is not None or self._head(self.bucket, retired) is None:
            return None
        record = self._read_record(record_key(self.record_prefix, change.group, change.version))
        if record is None or record.get("status") != "retired":
            return None
        result = {
            "targetModel": target_model(change.group, change.version),
            "key": served,
            "retiredKey": retired,
        }
        logger.info("already retired", extra={"modelPackageArn": change.arn, **result})
        return {"status": "already-retired", **result}

    # -- steps --------------------------------------------------------------------------
    def _registry_says(self, change: PackageChange) -> Mapping[str, Any]:
        """The package's description, if the registry still gives it the event's status
        and describes it as the event does; else :class:`Ignored`."""
        description: Mapping[str, Any] = self._describe(change.arn)
        status = description.get("ModelApprovalStatus")
        if status != change.status:
            # A late or out-of-order event: the registry's current status decides.
            raise Ignored(
                f"the model package is now {status!r} in the registry, not {change.status!r}"
            )
        if (
            description.get("ModelPackageGroupName") != change.group
            or description.get("ModelPackageVersion") != change.version
        ):
            raise Ignored(
                "the registry describes the package as "
                f"{description.get('ModelPackageGroupName')!r} version "
                f"{description.get('ModelPackageVersion')!r}, not as the event does"
            )
        return description

    def _newest_other_approved(self, group: str, version: int) -> tuple[int, str] | None:
        """The highest Approved version of ``group`` but ``version``, with its ARN."""
        best: tuple[int, str] | None = None
        pages = self.sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, ModelApprovalStatus=APPROVED
        )
        for page in pages:
            for summary in page.get("ModelPackageSummaryList", []):
                found = summary.get("ModelPackageVersion")
                if (
                    isinstance(found, int)
                    and found != version
                    and summary.get("ModelApprovalStatus", APPROVED) == APPROVED
                    and (best is None or found > best[0])
                ):
                    best = (found, str(summary["ModelPackageArn"]))
        return best

    def _read_record(self, key: str) -> dict[str, Any] | None:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _code(error) in _MISSING:
                return None
            if _code(error) in _FORBIDDEN and not self._listed(self.bucket, key):
                # As for a HEAD (_head): a missing key is 403 to a role that may list only
                # some prefixes of the bucket.
                return None
            raise
        try:
            record = json.loads(response["Body"].read())
        except ValueError:
            return None
        return record if isinstance(record, dict) else None

    def _update_record(self, key: str, change: PackageChange, changes: Mapping[str, Any]) -> None:
        """Write the record with ``changes``; what it said before goes to its ``history``."""
        record = self._read_record(key)
        if record is None:
            record = {
                "modelPackageArn": change.arn,
                "modelPackageGroupName": change.group,
                "modelPackageVersion": change.version,
                "history": [],
            }
        else:
            history = record.pop("history", None)
            previous = dict(record)
            record["history"] = [*(history if isinstance(history, list) else []), previous]
        record.update(changes)
        record["eventId"] = change.event_id
        record["eventTime"] = change.event_time
        self._put_record(key, record)

    def _put_record(self, key: str, record: Mapping[str, Any]) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(record, indent=2, default=str).encode(),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.key_arn,
        )

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
            "status": "deployed",
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
            "deployedAt": _timestamp(),
        }
        earlier = self._read_record(key)
        if earlier is not None:
            # A version approved again after it was retired: what happened before stays.
            history = earlier.pop("history", None)
            record["history"] = [*(history if isinstance(history, list) else []), earlier]
        self._put_record(key, record)

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


# -- inference components -----------------------------------------------------------------

#: Application Auto Scaling names for a component's copy count (Application Auto Scaling
#: API Reference, "RegisterScalableTarget": ResourceId ``inference-component/<name>``,
#: ScalableDimension; "PredefinedMetricSpecification": the per-copy invocations metric).
AUTOSCALING_NAMESPACE = "sagemaker"
COPY_COUNT_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"
INVOCATIONS_PER_COPY = "SageMakerInferenceComponentInvocationsPerCopy"
#: The target tracking policy's cooldowns, as the SageMaker Developer Guide's example ("Scale
#: an endpoint to zero instances").
SCALE_IN_COOLDOWN_SECONDS = 300
SCALE_OUT_COOLDOWN_SECONDS = 300
#: The wake-up from zero copies, as the same page documents it: a step scaling policy adding
#: one copy, run by an alarm on ``NoCapacityInvocationFailures`` (``AWS/SageMaker``,
#: dimension ``InferenceComponentName``), which SageMaker emits when a request finds no copy.
WAKE_UP_COOLDOWN_SECONDS = 60
NO_CAPACITY_METRIC = "NoCapacityInvocationFailures"
#: A rolling update replaces one copy at a time and waits this long after each batch, while
#: the rollback alarms are watched (API Reference, "InferenceComponentRollingUpdatePolicy":
#: WaitIntervalInSeconds 0-3600, MaximumExecutionTimeoutInSeconds 600-28800).
ROLLING_WAIT_SECONDS = 300
ROLLING_TIMEOUT_SECONDS = 3600
#: AutoRollbackConfiguration holds 1-10 alarms (CloudFormation User Guide,
#: "AWS::SageMaker::InferenceComponent AutoRollbackConfiguration": Alarms, Maximum 10).
MAX_ROLLBACK_ALARMS = 10
#: Component and model names (API Reference, "CreateInferenceComponent" and "CreateModel":
#: at most 63 characters of this pattern).
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
MAX_NAME = 63
_COMPONENT_BUSY = ("Creating", "Updating", "Deleting")


class ComponentBusy(RuntimeError):
    """The component is still being created, updated or deleted; Lambda's retry looks again."""


class ComponentFailed(NonRetryable):
    """The component failed with the version it should serve; people must look at it."""


@dataclass(frozen=True)
class ComponentSettings:
    """One group's inference component, as ``COMPONENTS`` describes it."""

    name: str
    cpu_cores: float
    memory_mib: int
    min_copies: int
    max_copies: int
    invocations_per_copy: float
    rollback_alarms: tuple[str, ...]
    scale_to_zero: bool

    @property
    def resource_id(self) -> str:
        return f"inference-component/{self.name}"

    @property
    def min_capacity(self) -> int:
        return 0 if self.scale_to_zero else self.min_copies

    @property
    def tracking_policy(self) -> str:
        return f"{self.name}-invocations-per-copy"

    @property
    def wake_up_policy(self) -> str:
        return f"{self.name}-wake-up"

    @property
    def wake_up_alarm(self) -> str:
        return f"{self.name}-no-capacity"


def component_model_name(component: str, version: int) -> str:
    """The SageMaker model of ``version`` a component serves: ``<component>-v<version>``."""
    return f"{component}-v{version}"


def served_version(component: str, model_name: Any) -> int | None:
    """The version a component's model name says it serves; None for a foreign name."""
    if not isinstance(model_name, str):
        return None
    match = re.fullmatch(re.escape(component) + r"-v([1-9][0-9]*)", model_name)
    return int(match.group(1)) if match else None


def components_from(value: str) -> dict[str, ComponentSettings]:
    """``COMPONENTS`` (JSON ``{group: {...}}``) as settings; ValueError naming each problem."""
    try:
        raw = json.loads(value)
    except ValueError:
        raise ValueError("COMPONENTS must be a JSON object") from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError("COMPONENTS must be a JSON object naming at least one group")
    problems: list[str] = []
    found: dict[str, ComponentSettings] = {}
    names: set[str] = set()
    for group, spec in raw.items():
        at = f"COMPONENTS[{group!r}]"
        if not isinstance(spec, dict):
            problems.append(f"{at} must be an object")
            continue
        name: Any = spec.get("name")
        if not isinstance(name, str) or len(name) > MAX_NAME or not SAGEMAKER_NAME.match(name):
            problems.append(f"{at}.name {name!r} is not a SageMaker name (1-63 letters, digits, -)")
        elif name in names:
            problems.append(f"{at}.name {name!r} is used by another group")
        names.add(str(name))
        cpu: Any = spec.get("cpu_cores")
        memory: Any = spec.get("memory_mib")
        low: Any = spec.get("min_copies")
        high: Any = spec.get("max_copies")
        target: Any = spec.get("invocations_per_copy")
        alarms = spec.get("rollback_alarms", [])
        zero = spec.get("scale_to_zero", False)
        # API Reference, "InferenceComponentComputeResourceRequirements": at least 0.25
        # cores, at least 128 MB.
        if not _number(cpu) or cpu < 0.25:
            problems.append(f"{at}.cpu_cores {cpu!r} must be a number of at least 0.25")
        if not _whole(memory) or memory < 128:
            problems.append(f"{at}.memory_mib {memory!r} must be a whole number of at least 128")
        if not _whole(low) or low < 0:
            problems.append(f"{at}.min_copies {low!r} must be a whole number of at least 0")
        if not _whole(high) or high < 1 or (_whole(low) and high < low):
            problems.append(f"{at}.max_copies {high!r} must be at least 1 and min_copies")
        if not _number(target) or target <= 0:
            problems.append(f"{at}.invocations_per_copy {target!r} must be a positive number")
        if (
            not isinstance(alarms, list)
            or len(alarms) > MAX_ROLLBACK_ALARMS
            or not all(isinstance(a, str) and a for a in alarms)
        ):
            problems.append(
                f"{at}.rollback_alarms must be a list of at most {MAX_ROLLBACK_ALARMS} alarm names"
            )
        if not isinstance(zero, bool):
            problems.append(f"{at}.scale_to_zero {zero!r} must be true or false")
        if not problems:
            found[group] = ComponentSettings(
                name=name,
                cpu_cores=float(cpu),
                memory_mib=int(memory),
                min_copies=int(low),
                max_copies=int(high),
                invocations_per_copy=float(target),
                rollback_alarms=tuple(alarms),
                scale_to_zero=zero,
            )
    if problems:
        raise ValueError("; ".join(problems))
    return found


def vpc_config_from(value: str) -> dict[str, list[str]]:
    """``VPC_CONFIG`` (JSON ``{"Subnets": [...], "SecurityGroupIds": [...]}``)."""
    try:
        raw = json.loads(value)
    except ValueError:
        raise ValueError("VPC_CONFIG must be a JSON object") from None
    config: dict[str, list[str]] = {}
    for field in ("Subnets", "SecurityGroupIds"):
        items = raw.get(field) if isinstance(raw, dict) else None
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise ValueError(f"VPC_CONFIG must name {field} (a non-empty list of ids)")
        config[field] = list(items)
    return config


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _covers(actual: Any, wanted: Any) -> bool:
    """Whether ``actual`` (a description) says all that ``wanted`` (a request) sets."""
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            _covers(actual.get(k), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(wanted)
            and all(_covers(a, w) for a, w in zip(actual, wanted, strict=True))
        )
    if _number(wanted) and _number(actual):
        return float(actual) == float(wanted)
    return bool(actual == wanted)


class ComponentDeployer(Deployer):
    """Serves approved versions through one inference component per group.

    It shares the registry checks, the lock and the record helpers of :class:`Deployer`;
    nothing is copied: the SageMaker model ``<component>-v<N>`` is made from the package.
    """

    def __init__(
        self,
        *,
        s3: Any,
        sagemaker: Any,
        autoscaling: Any,
        cloudwatch: Any,
        bucket: str,
        record_prefix: str,
        key_arn: str,
        endpoint_name: str,
        variant_name: str,
        role_arn: str,
        vpc_config: Mapping[str, list[str]],
        components: Mapping[str, ComponentSettings],
        serialize: bool = True,
        lock_seconds: float = DEFAULT_LOCK_SECONDS,
    ) -> None:
        if not record_prefix.endswith("/") or record_prefix == "/":
            raise ValueError(
                f"RECORD_PREFIX must be a key prefix ending in '/', not {record_prefix!r}"
            )
        if not bucket or not key_arn:
            raise ValueError("MODEL_BUCKET and MODEL_KEY_ARN must be set")
        if not endpoint_name or not variant_name or not role_arn:
            raise ValueError("ENDPOINT_NAME, VARIANT_NAME and EXECUTION_ROLE_ARN must be set")
        if not lock_seconds > 0:
            raise ValueError(f"LOCK_SECONDS must be a positive number, not {lock_seconds!r}")
        self.s3 = s3
        self.sagemaker = sagemaker
        self.autoscaling = autoscaling
        self.cloudwatch = cloudwatch
        self.bucket = bucket
        self.model_prefix = ""
        self.record_prefix = record_prefix
        self.retired_prefix = None
        self.groups = frozenset(components)
        self.key_arn = key_arn
        self.endpoint_name = endpoint_name
        self.variant_name = variant_name
        self.role_arn = role_arn
        self.vpc_config = dict(vpc_config)
        self.components = dict(components)
        self.serialize = serialize
        self.lock_seconds = lock_seconds
        self.wait_until = -math.inf
        self.lock_expires = None
        #: Whether this invocation changed anything (a redelivery changes nothing).
        self.changed = False

    def deploy(self, change: PackageChange) -> dict[str, Any]:
        settings = self.components.get(change.group)
        if settings is None:
            raise Ignored(f"model package group {change.group!r} is not deployed by this function")
        description = self._registry_says(change)
        if change.status == APPROVED:
            self._await_completion(change.arn, description)
        self.changed = False
        if not self.serialize:
            return self._converge(change, settings)
        # One lock per component: versions of a group must not update it at the same time.
        lock = f"{self.record_prefix}{LOCK_DIRECTORY}{change.group}/component.lock"
        lock_version = self._acquire(lock)
        try:
            return self._converge(change, settings)
        finally:
            self._release(lock, lock_version)

    def _converge(self, change: PackageChange, settings: ComponentSettings) -> dict[str, Any]:
        if change.status == APPROVED:
            return self._approve(change, settings)
        return self._reject(change, settings)

    def _approve(self, change: PackageChange, settings: ComponentSettings) -> dict[str, Any]:
        record_at = record_key(self.record_prefix, change.group, change.version)
        component = self._component(settings.name)
        serving = None
        if component is not None:
            serving = served_version(
                settings.name, (component.get("Specification") or {}).get("ModelName")
            )
            if serving is not None and serving > change.version:
                # Events come out of order: an older approval never replaces a newer one.
                raise Ignored(
                    f"component {settings.name} serves version {serving}, newer than "
                    f"{change.version}"
                )
            if serving == change.version and component.get("InferenceComponentStatus") == "Failed":
                raise ComponentFailed(
                    f"component {settings.name} failed with version {change.version}: "
                    f"{component.get('FailureReason')}"
                )
            record = self._read_record(record_at)
            if (
                serving != change.version
                and record is not None
                and record.get("status") == "deployed"
                and record.get("component") == settings.name
            ):
                # The update to this version was made, and the component is back on an older
                # one: SageMaker rolled it back (an alarm fired). Not tried again.
                self._update_record(
                    record_at, change, {"status": "rolled-back", "servedVersion": serving}
                )
                logger.warning(
                    "the component was rolled back from this version",
                    extra={"component": settings.name, "modelPackageArn": change.arn},
                )
                return {"status": "rolled-back", "component": settings.name}
        model = self._ensure_model(settings.name, change.version, change.arn)
        if component is None:
            self._create_component(settings, model)
        elif serving != change.version:
            self._update_component(settings, model)
        self._ensure_autoscaling(settings)
        record = self._read_record(record_at)
        if record is None or record.get("status") != "deployed" or record.get("model") != model:
            self._update_record(
                record_at,
                change,
                {
                    "status": "deployed",
                    "hosting": INFERENCE_COMPONENTS,
                    "endpointName": self.endpoint_name,
                    "component": settings.name,
                    "model": model,
                    "deployedAt": _timestamp(),
                },
            )
            self.changed = True
        result = {
            "status": "deployed" if self.changed else "already-deployed",
            "component": settings.name,
            "model": model,
        }
        logger.info(result["status"], extra={"modelPackageArn": change.arn, **result})
        return result

    def _reject(self, change: PackageChange, settings: ComponentSettings) -> dict[str, Any]:
        record_at = record_key(self.record_prefix, change.group, change.version)
        component = self._component(settings.name)
        result: dict[str, Any] = {"component": settings.name}
        serving = None
        if component is not None:
            serving = served_version(
                settings.name, (component.get("Specification") or {}).get("ModelName")
            )
        fallback = None
        withdrawn = False
        if serving == change.version:
            fallback = self._newest_other_approved(change.group, change.version)
            if fallback is not None:
                model = self._ensure_model(settings.name, fallback[0], fallback[1])
                self._update_component(settings, model)
                result["model"] = model
            else:
                # No Approved version is left: a component must not serve a rejected model,
                # and at 0 copies the wake-up alarm would bring it back. It goes, with its
                # autoscaling and alarm (its models and records stay); the next approval
                # creates it again.
                self._withdraw(settings)
                withdrawn = True
        record = self._read_record(record_at)
        if record is not None and record.get("status") != "rejected":
            self._update_record(
                record_at,
                change,
                {
                    "status": "rejected",
                    "rejectedAt": _timestamp(),
                    "servedInstead": fallback[0] if fallback else None,
                    "componentDeleted": withdrawn,
                },
            )
            self.changed = True
        status = "rolled-back" if fallback else "withdrawn" if withdrawn else "rejected"
        if not self.changed:
            status = "already-rejected"
        logger.info(status, extra={"modelPackageArn": change.arn, **result})
        return {"status": status, **result}

    # -- SageMaker ----------------------------------------------------------------------
    def _component(self, name: str) -> dict[str, Any] | None:
        """The component's description once it is not changing, or None when it is gone.

        A component being created, updated or deleted is waited for, polling, while the
        invocation may wait; after that :class:`ComponentBusy` is raised, so Lambda retries.
        """
        while True:
            try:
                component = dict(
                    self.sagemaker.describe_inference_component(InferenceComponentName=name)
                )
            except ClientError as error:
                if _not_found(error):
                    return None
                raise
            status = component.get("InferenceComponentStatus")
            if status not in _COMPONENT_BUSY:
                return component
            if _monotonic() + POLL_SECONDS > self.wait_until:
                raise ComponentBusy(f"inference component {name} is {status}")
            _sleep(POLL_SECONDS)

    def _ensure_model(self, component: str, version: int, arn: str) -> str:
        name = component_model_name(component, version)
        if len(name) > MAX_NAME:
            raise NonRetryable(
                f"model name {name!r} is longer than {MAX_NAME} characters: shorten the "
                "component's name"
            )
        existing = self._model(name)
        if existing is None:
            try:
                self.sagemaker.create_model(
                    ModelName=name,
                    Containers=[{"ModelPackageName": arn}],
                    ExecutionRoleArn=self.role_arn,
                    VpcConfig=self.vpc_config,
                    EnableNetworkIsolation=True,
                )
                self.changed = True
                return name
            except ClientError as error:
                if "already exist" not in str(error).lower():
                    raise
                existing = self._model(name)  # made meanwhile: check it as any other
        containers = (existing or {}).get("Containers") or [
            (existing or {}).get("PrimaryContainer") or {}
        ]
        if containers[0].get("ModelPackageName") != arn:
            raise DeploymentConflict(
                f"model {name} exists but is not made from {arn}; a model is never replaced"
            )
        return name

    def _model(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.sagemaker.describe_model(ModelName=name))
        except ClientError as error:
            if _not_found(error):
                return None
            raise

    def _specification(self, settings: ComponentSettings, model: str) -> dict[str, Any]:
        return {
            "ModelName": model,
            "ComputeResourceRequirements": {
                "NumberOfCpuCoresRequired": settings.cpu_cores,
                "MinMemoryRequiredInMb": settings.memory_mib,
            },
        }

    def _create_component(self, settings: ComponentSettings, model: str) -> None:
        self.sagemaker.create_inference_component(
            InferenceComponentName=settings.name,
            EndpointName=self.endpoint_name,
            VariantName=self.variant_name,
            Specification=self._specification(settings, model),
            # A newly approved model serves at once, even where autoscaling may take the
            # component to zero later.
            RuntimeConfig={"CopyCount": max(1, settings.min_copies)},
        )
        self.changed = True
        # Its scalable target is registered once it is in service (or by Lambda's retry).
        self._component(settings.name)

    def _update_component(self, settings: ComponentSettings, model: str) -> None:
        deployment: dict[str, Any] = {
            "RollingUpdatePolicy": {
                "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
                "WaitIntervalInSeconds": ROLLING_WAIT_SECONDS,
                "MaximumExecutionTimeoutInSeconds": ROLLING_TIMEOUT_SECONDS,
            }
        }
        if settings.rollback_alarms:
            deployment["AutoRollbackConfiguration"] = {
                "Alarms": [{"AlarmName": name} for name in settings.rollback_alarms]
            }
        # No RuntimeConfig: the copy count autoscaling has set is kept.
        self.sagemaker.update_inference_component(
            InferenceComponentName=settings.name,
            Specification=self._specification(settings, model),
            DeploymentConfig=deployment,
        )
        self.changed = True

    def _withdraw(self, settings: ComponentSettings) -> None:
        try:
            self.autoscaling.deregister_scalable_target(
                ServiceNamespace=AUTOSCALING_NAMESPACE,
                ResourceId=settings.resource_id,
                ScalableDimension=COPY_COUNT_DIMENSION,
            )
        except ClientError as error:
            if _code(error) != "ObjectNotFoundException":
                raise
        # Deleting the scalable target deletes its policies; the alarm is separate.
        self.cloudwatch.delete_alarms(AlarmNames=[settings.wake_up_alarm])
        self.sagemaker.delete_inference_component(InferenceComponentName=settings.name)
        self.changed = True

    # -- autoscaling --------------------------------------------------------------------
    def _ensure_autoscaling(self, settings: ComponentSettings) -> None:
        """Register the copy count with Application Auto Scaling, its target tracking policy
        and, to scale to zero, the wake-up; each only where it differs from what is there."""
        target = {
            "ServiceNamespace": AUTOSCALING_NAMESPACE,
            "ResourceId": settings.resource_id,
            "ScalableDimension": COPY_COUNT_DIMENSION,
        }
        found = self.autoscaling.describe_scalable_targets(
            ServiceNamespace=AUTOSCALING_NAMESPACE,
            ResourceIds=[settings.resource_id],
            ScalableDimension=COPY_COUNT_DIMENSION,
        ).get("ScalableTargets", [])
        bounds = {"MinCapacity": settings.min_capacity, "MaxCapacity": settings.max_copies}
        if not found or not _covers(found[0], bounds):
            self.autoscaling.register_scalable_target(**target, **bounds)
            self.changed = True
        policies = {
            p["PolicyName"]: p
            for p in self.autoscaling.describe_scaling_policies(
                **target, PolicyNames=[settings.tracking_policy, settings.wake_up_policy]
            ).get("ScalingPolicies", [])
        }
        tracking = {
            "TargetValue": settings.invocations_per_copy,
            "PredefinedMetricSpecification": {"PredefinedMetricType": INVOCATIONS_PER_COPY},
            "ScaleInCooldown": SCALE_IN_COOLDOWN_SECONDS,
            "ScaleOutCooldown": SCALE_OUT_COOLDOWN_SECONDS,
        }
        self._ensure_policy(
            policies.get(settings.tracking_policy),
            target,
            settings.tracking_policy,
            "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration",
            tracking,
        )
        if not settings.scale_to_zero:
            return
        step = {
            "AdjustmentType": "ChangeInCapacity",
            "MetricAggregationType": "Maximum",
            "Cooldown": WAKE_UP_COOLDOWN_SECONDS,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        }
        policy_arn = self._ensure_policy(
            policies.get(settings.wake_up_policy),
            target,
            settings.wake_up_policy,
            "StepScaling",
            "StepScalingPolicyConfiguration",
            step,
        )
        self._ensure_wake_up_alarm(settings, policy_arn)

    def _ensure_policy(
        self,
        existing: Mapping[str, Any] | None,
        target: Mapping[str, str],
        name: str,
        kind: str,
        field: str,
        configuration: Mapping[str, Any],
    ) -> str:
        if (
            existing is not None
            and existing.get("PolicyType") == kind
            and _covers(existing.get(field), configuration)
        ):
            return str(existing["PolicyARN"])
        response = self.autoscaling.put_scaling_policy(
            PolicyName=name, PolicyType=kind, **target, **{field: dict(configuration)}
        )
        self.changed = True
        return str(response["PolicyARN"])

    def _ensure_wake_up_alarm(self, settings: ComponentSettings, policy_arn: str) -> None:
        alarm = {
            "AlarmName": settings.wake_up_alarm,
            "AlarmDescription": (
                f"A request found no copy of inference component {settings.name}: add one"
            ),
            "AlarmActions": [policy_arn],
            "Namespace": "AWS/SageMaker",
            "MetricName": NO_CAPACITY_METRIC,
            "Dimensions": [{"Name": "InferenceComponentName", "Value": settings.name}],
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": 1,
            # The guide's example alarms above 1; at or above 1, the first request that
            # finds no copy wakes the component.
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            # No requests, no data: not a reason to add a copy.
            "TreatMissingData": "notBreaching",
        }
        found = self.cloudwatch.describe_alarms(AlarmNames=[settings.wake_up_alarm]).get(
            "MetricAlarms", []
        )
        if found and _covers(found[0], alarm):
            return
        self.cloudwatch.put_metric_alarm(**alarm)
        self.changed = True


def _not_found(error: ClientError) -> bool:
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    return _code(error) in ("ValidationException", "ResourceNotFound") and (
        "could not find" in message or "not found" in message or "does not exist" in message
    )


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


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


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
    """The deployer the environment describes (``HOSTING``); ValueError naming what is wrong."""
    hosting = os.environ.get("HOSTING", "").strip() or MULTI_MODEL
    common: dict[str, Any] = {
        "s3": boto3.client("s3"),
        "sagemaker": boto3.client("sagemaker"),
        "bucket": os.environ["MODEL_BUCKET"],
        "record_prefix": os.environ["RECORD_PREFIX"],
        "key_arn": os.environ["MODEL_KEY_ARN"],
        "serialize": os.environ.get("SERIALIZE_DEPLOYMENTS", "true").strip().lower() != "false",
        "lock_seconds": lock_seconds_from(os.environ.get("LOCK_SECONDS")),
    }
    groups = frozenset(
        g.strip() for g in os.environ.get("MODEL_PACKAGE_GROUPS", "").split(",") if g.strip()
    )
    if hosting == MULTI_MODEL:
        return Deployer(
            model_prefix=os.environ["MODEL_PREFIX"],
            retired_prefix=os.environ["RETIRED_PREFIX"],
            groups=groups,
            **common,
        )
    if hosting == INFERENCE_COMPONENTS:
        components = components_from(os.environ.get("COMPONENTS", ""))
        missing = sorted(groups - set(components))
        if missing:
            raise ValueError(f"COMPONENTS names no component for MODEL_PACKAGE_GROUPS {missing}")
        return ComponentDeployer(
            autoscaling=boto3.client("application-autoscaling"),
            cloudwatch=boto3.client("cloudwatch"),
            endpoint_name=os.environ.get("ENDPOINT_NAME", ""),
            variant_name=os.environ.get("VARIANT_NAME", ""),
            role_arn=os.environ.get("EXECUTION_ROLE_ARN", ""),
            vpc_config=vpc_config_from(os.environ.get("VPC_CONFIG", "")),
            components=components,
            **common,
        )
    raise ValueError(
        f"HOSTING must be {MULTI_MODEL!r} or {INFERENCE_COMPONENTS!r}, not {hosting!r}"
    )


# The request id, function and cold start on every line (the event itself is not logged:
# it may name sensitive objects).
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        change = parse_event(event)
        deployer = deployer_from_environment()
        deployer.set_time_left(time_left(context))
        return deployer.deploy(change)

    return unless_ignored(event, logger, work, context)

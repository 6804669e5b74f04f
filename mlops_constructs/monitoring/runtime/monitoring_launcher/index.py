"""Starts one hourly run of the monitoring engine's pipeline, on the version it should watch.

Invoked by the engine's EventBridge Scheduler schedule, which invokes a Lambda target
asynchronously (Lambda Developer Guide, "Using Lambda with Amazon EventBridge Scheduler"), with
the Input ``{"source": "mlops.monitoring-schedule", "scheduledTime":
"<aws.scheduler.scheduled-time>"}``: Scheduler replaces the context attribute with the time the
run was scheduled for, e.g. ``2026-01-01T06:10:00Z`` (EventBridge Scheduler User Guide,
"Adding context attributes"). Per run:

1. **The version.** With ``PINNED_VERSION`` empty, the newest ``Approved`` version of
   ``MODEL_GROUP`` (``ListModelPackages``, approved, newest created first, one result); none
   yet -> ``skipped``, logged at INFO ("waiting for the first approved version of <group>"),
   so an account without a model deploys and waits. With ``PINNED_VERSION`` = N, that
   version (``DescribeModelPackage``); not there or not Approved -> ``skipped`` with a
   WARNING saying why.
2. **Its baseline and archive.** The baseline is ``BASELINE_URI`` when set, otherwise the
   version's registered ``ModelMetrics.ModelDataQuality.Statistics.S3Uri`` (the training
   pipeline's ``baseline.json``). The archive is ``MODEL_URI`` when set; else, on a
   multi-model endpoint (``MODELS_PREFIX`` set: the group's folder under the endpoint's models
   prefix), ``s3://ARTIFACT_BUCKET/<MODELS_PREFIX>v<N>.tar.gz`` (where the model deployer
   copies an approved version); else the
   package's ``InferenceSpecification.Containers[0].ModelDataUrl``. A version without a
   baseline, or whose baseline is not in ``ARTIFACT_BUCKET`` under one of ``READ_PREFIXES``
   (what the job may read) or not there, is ``skipped`` with a WARNING: returned, not raised,
   so it is not retried forever. A missing or unreadable archive only costs the SHAP values:
   the run goes on without it (WARNING), the model input then being the run's placeholder.
3. **The window**: its end is the scheduled time floored to the hour (UTC), its length
   ``WINDOW_HOURS`` (1), exactly ``monitor.py``'s ``--window-end`` / ``--window-hours``: the
   job analyses the captured records whose ``inferenceTime`` is in ``[end - hours, end)``.
   The end is passed to the job (pipeline parameter ``WindowEnd``), so a late or retried run
   analyses the hour it was scheduled for.
4. **The capture keys**: the ``*.jsonl`` keys of the hour folders ``yyyy/mm/dd/hh/`` of every
   variant in ``CAPTURE_VARIANTS`` (the endpoint's production variants: with an A/B test the
   champion and each challenger) under ``CAPTURE_PREFIX`` (``<capture prefix>/<endpoint>/``:
   data capture writes each variant's records under ``<variant>/``, Developer Guide,
   "Capture data from real-time endpoint"), of every hour of the window and of the next
   hour (a record may land in a later file; the job selects by ``inferenceTime`` anyway).
   A variant not listed (a shadow) is not read. None -> ``skipped`` ("no traffic captured in
   <window>"), no job: an idle hour costs nothing.
5. **Manifests** (the ``ManifestFile`` format of ``S3DataSource``/``ProcessingS3Input``:
   ``[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]``, every key under the one
   prefix; a capture key is relative to ``CAPTURE_PREFIX``, ``<variant>/yyyy/mm/dd/hh/...``)
   written to ``s3://ARTIFACT_BUCKET/<RUNS_PREFIX><window end>/capture.manifest`` and
   ``ground-truth.manifest``. Ground truth: the ``*.jsonl`` keys under ``GROUND_TRUTH_PREFIX``
   in the same hour folders (from the window's start to the end of the next hour: labels
   written later are not seen by this run; see the design notes). With none, the manifest
   lists the run's placeholder object ``<window end>/none/README.txt`` (not ``*.jsonl``, so
   the job reads no label): an empty manifest or prefix would fail the job ("No S3 objects
   found under S3 URL").
6. **Start** ``PIPELINE_NAME`` with ``ModelVersion``, ``BaselineUri``, ``ModelUri``,
   ``CaptureManifestUri``, ``GroundTruthManifestUri`` and ``WindowEnd``;
   ``ClientRequestToken`` = SHA-256 (64 hex characters; the API takes 32 to 128) of the
   pipeline, group and window end, so a retried invocation for the same hour does not start
   a second execution.

An event that is not the schedule's (not an object, another ``source``, no or unreadable
``scheduledTime``) is logged at WARNING and ignored: nothing is written or started, nothing
retried. AWS errors are raised: Lambda retries the asynchronous invocation twice, then sends
it to the dead-letter queue.

Environment: ``PIPELINE_NAME``, ``MODEL_GROUP``, ``PACKAGE_ARN_PREFIX`` (the group's model
package ARN up to the version, ``arn:...:model-package/<group>/``), ``PINNED_VERSION``,
``BASELINE_URI``, ``MODEL_URI``, ``MODELS_PREFIX`` (empty: a single-model endpoint),
``ARTIFACT_BUCKET``, ``CAPTURE_PREFIX``, ``CAPTURE_VARIANTS`` (comma-separated),
``GROUND_TRUTH_PREFIX``, ``RUNS_PREFIX``,
``READ_PREFIXES`` (comma-separated), ``WINDOW_HOURS``, ``LOG_LEVEL``. A missing or invalid
setting raises whatever the event (a deployment bug belongs in the dead-letter queue).

Returns ``{"status": "started", ...}``, ``{"status": "skipped", "reason": ...}`` or
``{"status": "ignored", "reason": ...}``. Only the standard library, the runtime's boto3 and
Powertools (its layer) are used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError
from handler_common.events import Ignored, unless_ignored
from handler_common.logs import json_logger

#: The ``source`` of the schedule's Input (set by the engine's construct).
SOURCE = "mlops.monitoring-schedule"
APPROVED = "Approved"
#: The pipeline parameters a run gives (``monitoring/_definition.py`` PARAMETERS).
PARAMETERS = (
    "ModelVersion",
    "BaselineUri",
    "ModelUri",
    "CaptureManifestUri",
    "GroundTruthManifestUri",
    "WindowEnd",
)
PLACEHOLDER = "none/README.txt"
PLACEHOLDER_TEXT = (
    "Placeholder of a monitoring run: no ground truth (or no model archive) was found for "
    "this window. It is not a .jsonl file, so the job reads nothing from it.\n"
)
#: At most this many hours per window: the window's hour folders are listed one by one.
MAX_WINDOW_HOURS = 168

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_S3_URI = re.compile(r"s3://([^/]+)/(.+)")
_VERSION = re.compile(r"[1-9][0-9]*")
#: A production variant's name (``ProductionVariant.VariantName``, API reference).
_VARIANT = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")

logger = json_logger("monitoring_launcher")


def _client(service: str) -> Any:
    return boto3.client(service)


@dataclass(frozen=True)
class Settings:
    pipeline: str
    group: str
    package_arn_prefix: str
    pinned_version: int | None
    baseline_uri: str
    model_uri: str
    models_prefix: str
    bucket: str
    capture_prefix: str
    capture_variants: tuple[str, ...]
    ground_truth_prefix: str
    runs_prefix: str
    read_prefixes: tuple[str, ...]
    window_hours: int


def _prefix(name: str, value: str, *, empty: bool = False) -> str:
    if (empty and not value) or re.fullmatch(r"[^/].*/", value):
        return value
    raise ValueError(f"{name} {value!r}: expected a key prefix ending with '/'")


def settings_from_environment() -> Settings:
    """Read and check the settings; a bad one raises :class:`ValueError` naming it."""
    env = os.environ
    missing = [
        name
        for name in (
            "PIPELINE_NAME",
            "MODEL_GROUP",
            "PACKAGE_ARN_PREFIX",
            "ARTIFACT_BUCKET",
            "CAPTURE_PREFIX",
            "CAPTURE_VARIANTS",
            "GROUND_TRUTH_PREFIX",
            "RUNS_PREFIX",
            "READ_PREFIXES",
        )
        if not env.get(name, "").strip()
    ]
    if missing:
        raise ValueError(f"settings not set: {', '.join(missing)}")
    pinned = env.get("PINNED_VERSION", "").strip()
    if pinned and not _VERSION.fullmatch(pinned):
        raise ValueError(f"PINNED_VERSION {pinned!r}: expected a positive integer or nothing")
    hours = env.get("WINDOW_HOURS", "1").strip()
    if not hours.isdigit() or not 1 <= int(hours) <= MAX_WINDOW_HOURS:
        raise ValueError(f"WINDOW_HOURS {hours!r}: expected 1 to {MAX_WINDOW_HOURS}")
    for name in ("BASELINE_URI", "MODEL_URI"):
        value = env.get(name, "")
        if value and not _S3_URI.fullmatch(value):
            raise ValueError(f"{name} {value!r}: expected an s3:// URI or nothing")
    variants = tuple(v.strip() for v in env["CAPTURE_VARIANTS"].split(","))
    if not all(_VARIANT.fullmatch(v) for v in variants) or len(set(variants)) < len(variants):
        raise ValueError(
            f"CAPTURE_VARIANTS {env['CAPTURE_VARIANTS']!r}: expected distinct variant names, "
            "comma-separated"
        )
    arn_prefix = env["PACKAGE_ARN_PREFIX"]
    if not arn_prefix.endswith("/"):
        raise ValueError(f"PACKAGE_ARN_PREFIX {arn_prefix!r}: expected to end with '/'")
    return Settings(
        pipeline=env["PIPELINE_NAME"],
        group=env["MODEL_GROUP"],
        package_arn_prefix=arn_prefix,
        pinned_version=int(pinned) if pinned else None,
        baseline_uri=env.get("BASELINE_URI", ""),
        model_uri=env.get("MODEL_URI", ""),
        models_prefix=_prefix("MODELS_PREFIX", env.get("MODELS_PREFIX", ""), empty=True),
        bucket=env["ARTIFACT_BUCKET"],
        capture_prefix=_prefix("CAPTURE_PREFIX", env["CAPTURE_PREFIX"]),
        capture_variants=variants,
        ground_truth_prefix=_prefix("GROUND_TRUTH_PREFIX", env["GROUND_TRUTH_PREFIX"]),
        runs_prefix=_prefix("RUNS_PREFIX", env["RUNS_PREFIX"]),
        read_prefixes=tuple(
            _prefix("READ_PREFIXES", p) for p in env["READ_PREFIXES"].split(",") if p
        ),
        window_hours=int(hours),
    )


# --- the event and the window -------------------------------------------------------------


def scheduled_time(event: Any) -> datetime:
    """The run's scheduled time (aware, UTC), or :class:`Ignored` saying what is wrong."""
    if not isinstance(event, Mapping):
        raise Ignored(f"event is a {type(event).__name__}, not an object")
    if event.get("source") != SOURCE:
        raise Ignored(f"not the monitoring schedule's event (source={event.get('source')!r})")
    value = event.get("scheduledTime")
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise Ignored(f"scheduledTime {value!r} is not an ISO 8601 time with a zone")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Ignored(f"scheduledTime {value!r} is not a valid time") from None
    return parsed.astimezone(UTC)


def window(scheduled: datetime, hours: int) -> tuple[datetime, datetime]:
    """``(start, end)``: ``end`` the scheduled time floored to the hour (UTC), ``start``
    ``hours`` before it (``monitor.py``'s ``--window-end`` and ``--window-hours``)."""
    end = scheduled.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(hours=hours), end


def format_utc(value: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ssZ``, as ``monitor.py`` parses ``--window-end``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_folders(start: datetime, end: datetime) -> list[str]:
    """``yyyy/mm/dd/hh/`` of every hour from ``start`` to ``end``, both included."""
    folders = []
    hour = start
    while hour <= end:
        folders.append(hour.strftime("%Y/%m/%d/%H/"))
        hour += timedelta(hours=1)
    return folders


def client_request_token(pipeline: str, group: str, end: datetime) -> str:
    """The same 64 hex characters for every invocation of one pipeline, group and window
    (StartPipelineExecution's ClientRequestToken: 32 to 128 characters)."""
    return hashlib.sha256(f"{pipeline}|{group}|{format_utc(end)}".encode()).hexdigest()


# --- the version ----------------------------------------------------------------------------


class Skip(Exception):
    """Nothing to run this hour; the message says why (``level``: how loudly to log it)."""

    def __init__(self, reason: str, level: str = "warning") -> None:
        super().__init__(reason)
        self.level = level


@dataclass(frozen=True)
class Version:
    number: int
    arn: str
    baseline_uri: str
    model_uri: str | None


def resolve_version(sagemaker: Any, settings: Settings) -> Version:
    """The version this run watches, with its baseline and archive, or :class:`Skip`."""
    group = settings.group
    if settings.pinned_version is None:
        found = sagemaker.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus=APPROVED,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
        if not found:
            raise Skip(f"waiting for the first approved version of {group}", level="info")
        arn = found[0]["ModelPackageArn"]
    else:
        arn = f"{settings.package_arn_prefix}{settings.pinned_version}"
    try:
        package = sagemaker.describe_model_package(ModelPackageName=arn)
    except ClientError as error:
        if settings.pinned_version is not None and error.response["Error"]["Code"] in (
            "ValidationException",
            "ResourceNotFound",
        ):
            raise Skip(
                f"version {settings.pinned_version} of {group} is not in the registry: "
                f"{error.response['Error'].get('Message', '')}"
            ) from None
        raise
    number = int(package["ModelPackageVersion"])
    status = package.get("ModelApprovalStatus")
    if status != APPROVED:
        raise Skip(
            f"version {number} of {group} is {status}, not {APPROVED}: the engine watches "
            "approved versions only"
        )
    baseline = settings.baseline_uri or (
        package.get("ModelMetrics", {})
        .get("ModelDataQuality", {})
        .get("Statistics", {})
        .get("S3Uri", "")
    )
    if not baseline:
        raise Skip(
            f"version {number} of {group} has no registered baseline "
            "(ModelMetrics.ModelDataQuality.Statistics): register one with the version "
            "(the training pipeline's MonitoringBaseline step) or pin another version"
        )
    if settings.model_uri:
        model: str | None = settings.model_uri
    elif settings.models_prefix:
        model = f"s3://{settings.bucket}/{settings.models_prefix}v{number}.tar.gz"
    else:
        containers = package.get("InferenceSpecification", {}).get("Containers") or [{}]
        model = containers[0].get("ModelDataUrl") or None
    return Version(number=number, arn=arn, baseline_uri=baseline, model_uri=model)


# --- S3 -----------------------------------------------------------------------------------


def _readable_key(uri: str, settings: Settings) -> str | None:
    """The key of ``uri`` when the job may read it (the bucket, under a read prefix)."""
    match = _S3_URI.fullmatch(uri)
    if not match or match.group(1) != settings.bucket:
        return None
    key = match.group(2)
    return key if key.startswith(settings.read_prefixes) else None


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    """Whether ``key`` exists, by listing it as a prefix (the role may list, not read)."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    return any(item["Key"] == key for item in listed)


def jsonl_keys(s3: Any, bucket: str, prefix: str, folders: list[str]) -> Iterator[str]:
    """The ``*.jsonl`` keys under ``prefix`` + each folder, relative to ``prefix``."""
    paginator = s3.get_paginator("list_objects_v2")
    for folder in folders:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix + folder):
            for item in page.get("Contents", []):
                if item["Key"].endswith(".jsonl"):
                    yield item["Key"][len(prefix) :]


def manifest(bucket: str, prefix: str, keys: list[str]) -> str:
    """A ManifestFile: the common prefix, then each key relative to it."""
    return json.dumps([{"prefix": f"s3://{bucket}/{prefix}"}, *keys], indent=1)


# --- the handler ----------------------------------------------------------------------------


def launch(event: Any, settings: Settings) -> dict[str, Any]:
    scheduled = scheduled_time(event)
    start, end = window(scheduled, settings.window_hours)
    span = f"{format_utc(start)} to {format_utc(end)}"
    sagemaker = _client("sagemaker")
    s3 = _client("s3")
    group, bucket = settings.group, settings.bucket
    try:
        version = resolve_version(sagemaker, settings)
        baseline_key = _readable_key(version.baseline_uri, settings)
        if baseline_key is None:
            raise Skip(
                f"the baseline {version.baseline_uri} of version {version.number} is outside "
                f"s3://{bucket}/ {list(settings.read_prefixes)}: the job may not read it"
            )
        if not object_exists(s3, bucket, baseline_key):
            raise Skip(
                f"the baseline {version.baseline_uri} of version {version.number} is missing"
            )
        folders = hour_folders(start, end)
        capture = sorted(
            jsonl_keys(
                s3,
                bucket,
                settings.capture_prefix,
                [f"{v}/{f}" for v in settings.capture_variants for f in folders],
            )
        )
        if not capture:
            raise Skip(f"no traffic captured in {span}", level="info")
    except Skip as skip:
        log = logger.info if skip.level == "info" else logger.warning
        log(str(skip), extra={"modelGroup": group, "window": span})
        return {"status": "skipped", "reason": str(skip), "modelGroup": group, "window": span}

    run = f"{settings.runs_prefix}{end.strftime('%Y%m%dT%H%MZ')}/"
    placeholder: str | None = None

    def put(key: str, body: str) -> str:
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
        return f"s3://{bucket}/{key}"

    def placeholder_key() -> str:
        nonlocal placeholder
        if placeholder is None:
            placeholder = run + PLACEHOLDER
            s3.put_object(Bucket=bucket, Key=placeholder, Body=PLACEHOLDER_TEXT.encode())
        return placeholder

    labels = sorted(jsonl_keys(s3, bucket, settings.ground_truth_prefix, folders))
    if labels:
        labels_manifest = manifest(bucket, settings.ground_truth_prefix, labels)
    else:
        labels_manifest = manifest(bucket, run, [placeholder_key()[len(run) :]])
    model_uri = version.model_uri
    model_key = _readable_key(model_uri, settings) if model_uri else None
    if model_key is None or not object_exists(s3, bucket, model_key):
        logger.warning(
            "no readable model archive: the run computes no SHAP values",
            extra={"modelGroup": group, "version": version.number, "modelUri": model_uri},
        )
        model_uri = f"s3://{bucket}/{placeholder_key()}"
    parameters = {
        "ModelVersion": str(version.number),
        "BaselineUri": version.baseline_uri,
        "ModelUri": model_uri,
        "CaptureManifestUri": put(
            run + "capture.manifest", manifest(bucket, settings.capture_prefix, capture)
        ),
        "GroundTruthManifestUri": put(run + "ground-truth.manifest", labels_manifest),
        "WindowEnd": format_utc(end),
    }
    by_variant = {v: 0 for v in settings.capture_variants}
    for key in capture:
        by_variant[key.split("/", 1)[0]] += 1
    token = client_request_token(settings.pipeline, group, end)
    started = sagemaker.start_pipeline_execution(
        PipelineName=settings.pipeline,
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
        PipelineExecutionDescription=f"{group} v{version.number}, window {span}",
        ClientRequestToken=token,
    )
    logger.info(
        "started a monitoring run",
        extra={
            "modelGroup": group,
            "version": version.number,
            "window": span,
            "captureFiles": len(capture),
            "captureFilesByVariant": by_variant,
            "groundTruthFiles": len(labels),
            "execution": started.get("PipelineExecutionArn"),
        },
    )
    return {
        "status": "started",
        "modelGroup": group,
        "version": version.number,
        "window": span,
        "captureFiles": len(capture),
        "captureFilesByVariant": by_variant,
        "groundTruthFiles": len(labels),
        "parameters": parameters,
        "execution": started.get("PipelineExecutionArn"),
    }


@logger.inject_lambda_context
def handler(event: Any, context: Any) -> dict[str, Any]:
    settings = settings_from_environment()
    return unless_ignored(event, logger, lambda: launch(event, settings), context)

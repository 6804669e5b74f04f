"""Publishes the monitoring engine's metrics to CloudWatch when one of its jobs ends.

The engine's job (``monitoring/runtime/monitor.py``) runs with network isolation, so it cannot
call CloudWatch: it writes ``metrics.json``, ``{"Namespace": ..., "MetricData": [...]}`` (the
arguments of ``PutMetricData``), to its processing output named ``output``. This function
publishes that file.

Invoked asynchronously by an EventBridge rule for ``aws.sagemaker`` / ``SageMaker Processing
Job State Change`` events of jobs whose name starts with ``MONITOR_JOB_PREFIX``, in the shape
the SageMaker Developer Guide publishes (the event's ``detail`` mirrors
``DescribeProcessingJob``: it carries ``ProcessingOutputConfig``, so the output's S3 URI is read
from the event and no SageMaker call is needed to find it).

* ``Completed``: read ``<S3Uri of the output named "output">/metrics.json``, check it (below)
  and call ``PutMetricData`` in chunks: at most 1000 metrics per call and an estimated request
  size under 1 MB (CloudWatch API Reference, PutMetricData: "Each PutMetricData request is
  limited to 1 MB in size for HTTP POST requests ... Each request is also limited to no more
  than 1000 different metrics"). The size is estimated as the request's form encoding (the
  query protocol, the largest of the encodings botocore may use for CloudWatch: query, JSON
  and CBOR), so a chunk stays under the limit whatever the runtime's botocore sends.
* ``Failed`` or ``Stopped``: one datum ``MonitoringJobFailed`` = 1 (``Count``) with the
  dimensions ``Endpoint`` and ``Model``, the values of the job's container arguments
  ``--endpoint`` and ``--model-group`` (``monitor.py`` requires both), at the job's end time.
  The published sample event shows ``AppSpecification`` without ``ContainerArguments``; when
  the event has none, they are read with ``DescribeProcessingJob``. A job whose arguments do
  not name both (or that no longer exists) is logged and ignored.
* Other statuses (``InProgress``, ``Stopping``), jobs without the prefix, other sources or
  detail types, and malformed events are logged at WARNING with the reason and ignored:
  nothing is read or published.

What ``metrics.json`` must be (otherwise the event goes to the dead-letter queue with every
problem found, at once, as a :class:`NonRetryable` failure: a retry would read the same file):
an object with ``Namespace`` equal to ``METRICS_NAMESPACE`` and a ``MetricData`` list; each
datum an object with only the keys ``MetricName`` (1 to 255 characters), ``Value`` (a finite
number within CloudWatch's range of -2^360 to 2^360: NaN and infinity are rejected),
``Dimensions`` (at most 30 ``{"Name", "Value"}`` pairs, names unique, ASCII without control
characters, 1 to 255 and 1 to 1024 characters, with a non-blank character, a name not starting
with ``:``), ``Timestamp`` (ISO 8601, within CloudWatch's two weeks before and two hours after
now), ``Unit`` (a CloudWatch standard unit) and ``StorageResolution`` (1 or 60). A missing
file, a file over 32 MiB, or one that is not JSON is dead-lettered alike, as is an output
outside ``s3://ARTIFACT_BUCKET/OUTPUT_PREFIX`` (the function may read nothing else).

S3 and CloudWatch errors (throttling, a service error, access denied) are raised, so Lambda
retries the invocation twice and then sends the event to the dead-letter queue. A retry after
some chunks were published publishes them again: the datapoints are then counted twice
(``SampleCount``, ``Sum``), while ``Minimum``, ``Maximum`` and ``Average``, which the alarms
use, are unchanged. SageMaker may also send more than one event for one state change, with
the same effect.

Environment: ``METRICS_NAMESPACE``, ``MONITOR_JOB_PREFIX``, ``ARTIFACT_BUCKET``,
``OUTPUT_PREFIX`` (a key prefix ending with ``/``, or empty for the whole bucket),
``LOG_LEVEL``. A missing or invalid setting raises at the start of every invocation, whatever
the event: a deployment bug belongs in the dead-letter queue, not in the ignored events.

Returns ``{"status": "published", "job": name, "metrics": n, "calls": k}``, ``{"status":
"failure-reported", "job": name, "endpoint": ..., "model": ...}``, ``{"status": "ignored",
"reason": ...}`` or ``{"status": "dead-lettered", "reason": ...}``.

Only the standard library, the runtime's boto3 and Powertools for AWS Lambda (its layer)
are used.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
from botocore.exceptions import ClientError
from handler_common.events import Ignored, NonRetryable, unless_ignored
from handler_common.logs import json_logger

STATE_CHANGE = "SageMaker Processing Job State Change"
SOURCE = "aws.sagemaker"
COMPLETED = "Completed"
FAILED_STATUSES = ("Failed", "Stopped")
OUTPUT_NAME = "output"
METRICS_FILE = "metrics.json"
FAILED_METRIC = "MonitoringJobFailed"

# CloudWatch PutMetricData limits (CloudWatch API Reference, PutMetricData).
MAX_METRICS_PER_CALL = 1000
MAX_REQUEST_BYTES = 1_000_000  # "1 MB", read as the smaller decimal megabyte
#: What the data of one call may take, by :func:`datum_size`; the rest is for the envelope
#: (Action, Version, Namespace and their encoding).
REQUEST_DATA_BUDGET = MAX_REQUEST_BYTES - 50_000
MAX_DIMENSIONS = 30
MAX_METRIC_NAME = 255
MAX_DIMENSION_NAME = 255
MAX_DIMENSION_VALUE = 1024
VALUE_LIMIT = 2.0**360
PAST_LIMIT = timedelta(days=14)
FUTURE_LIMIT = timedelta(hours=2)
STORAGE_RESOLUTIONS = (1, 60)
UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
DATUM_KEYS = frozenset(
    {"MetricName", "Value", "Dimensions", "Timestamp", "Unit", "StorageResolution"}
)
#: A larger metrics.json is not one the engine writes (about 400 bytes per datum).
MAX_FILE_BYTES = 32 * 1024 * 1024
#: How many problems of an invalid file the dead-letter record lists.
MAX_PROBLEMS = 20
# ProcessingJobName: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; a prefix of one.
_JOB_PREFIX = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}-*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

logger = json_logger("metrics_publisher")


def _now() -> datetime:
    """The current time; tests replace it."""
    return datetime.now(UTC)


def _client(service: str) -> Any:
    return boto3.client(service)


@dataclass(frozen=True)
class Settings:
    namespace: str
    job_prefix: str
    bucket: str
    output_prefix: str


def settings_from_environment() -> Settings:
    """Read and check the settings; a bad one raises :class:`ValueError` naming it."""
    namespace = os.environ.get("METRICS_NAMESPACE", "").strip()
    if not namespace:
        raise ValueError("METRICS_NAMESPACE is not set: the function does not know the namespace")
    if namespace.startswith(("AWS/", ":")) or len(namespace) > 255:
        raise ValueError(f"METRICS_NAMESPACE {namespace!r} is not a custom CloudWatch namespace")
    job_prefix = os.environ.get("MONITOR_JOB_PREFIX", "").strip()
    if not _JOB_PREFIX.fullmatch(job_prefix):
        raise ValueError(
            f"MONITOR_JOB_PREFIX {job_prefix!r} is not the start of a processing job name"
        )
    bucket = os.environ.get("ARTIFACT_BUCKET", "").strip()
    if not bucket:
        raise ValueError("ARTIFACT_BUCKET is not set: the function does not know where to read")
    output_prefix = os.environ.get("OUTPUT_PREFIX", "")
    if output_prefix and (not output_prefix.endswith("/") or output_prefix.startswith("/")):
        raise ValueError(f"OUTPUT_PREFIX {output_prefix!r}: expected a key prefix ending with '/'")
    return Settings(namespace, job_prefix, bucket, output_prefix)


@dataclass(frozen=True)
class JobChange:
    """What the handler needs from a processing job state change."""

    name: str
    status: str
    #: The S3 URI of the output named ``output``, when the event carries one.
    output_uri: str | None
    #: ``AppSpecification.ContainerArguments``; None when the event has none.
    arguments: tuple[str, ...] | None
    end_time: datetime | None
    failure_reason: str | None


def parse_job_change(event: Any, job_prefix: str) -> JobChange:
    """Extract the state change of one of the engine's jobs, or raise :class:`Ignored`."""
    if not isinstance(event, Mapping):
        raise Ignored(f"event is a {type(event).__name__}, not an object")
    if event.get("source") != SOURCE:
        raise Ignored(f"not a SageMaker event (source={event.get('source')!r})")
    if event.get("detail-type") != STATE_CHANGE:
        raise Ignored(
            f"not a processing job state change (detail-type={event.get('detail-type')!r})"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise Ignored("event has no detail object")
    name = detail.get("ProcessingJobName")
    if not isinstance(name, str) or not name:
        raise Ignored("event names no processing job")
    if not name.startswith(job_prefix):
        raise Ignored(f"job {name!r} is not a monitoring job (prefix {job_prefix!r})")
    status = detail.get("ProcessingJobStatus")
    if status != COMPLETED and status not in FAILED_STATUSES:
        raise Ignored(
            f"job {name!r} is {status!r}: only Completed, Failed and Stopped are acted on"
        )
    app = detail.get("AppSpecification")
    raw_arguments = app.get("ContainerArguments") if isinstance(app, Mapping) else None
    arguments = (
        tuple(a for a in raw_arguments if isinstance(a, str))
        if isinstance(raw_arguments, list)
        else None
    )
    reason = detail.get("FailureReason")
    return JobChange(
        name=name,
        status=status,
        output_uri=_output_uri(detail),
        arguments=arguments,
        end_time=_epoch_millis(detail.get("ProcessingEndTime")),
        failure_reason=reason if isinstance(reason, str) else None,
    )


def _output_uri(detail: Mapping[str, Any]) -> str | None:
    config = detail.get("ProcessingOutputConfig")
    outputs = config.get("Outputs") if isinstance(config, Mapping) else None
    for output in outputs if isinstance(outputs, list) else []:
        if isinstance(output, Mapping) and output.get("OutputName") == OUTPUT_NAME:
            s3_output = output.get("S3Output")
            uri = s3_output.get("S3Uri") if isinstance(s3_output, Mapping) else None
            return uri if isinstance(uri, str) and uri else None
    return None


def _epoch_millis(value: Any) -> datetime | None:
    """The sample gives times as epoch milliseconds (a number; strings are accepted too)."""
    try:
        millis = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(millis):
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def argument(arguments: Sequence[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in ``arguments`` (the last one)."""
    found = None
    for i, item in enumerate(arguments):
        if item == name and i + 1 < len(arguments):
            found = arguments[i + 1]
        elif item.startswith(name + "="):
            found = item[len(name) + 1 :]
    return found or None


# --- metrics.json ----------------------------------------------------------------------


def validate_metrics(document: Any, namespace: str, now: datetime) -> list[dict[str, Any]]:
    """The ``MetricData`` of ``document``, ready for ``PutMetricData`` (timestamps parsed);
    raises :class:`NonRetryable` listing the problems (up to :data:`MAX_PROBLEMS`)."""
    if not isinstance(document, Mapping):
        raise NonRetryable(f"{METRICS_FILE} is a JSON {type(document).__name__}, not an object")
    problems: list[str] = []
    if document.get("Namespace") != namespace:
        problems.append(f"Namespace is {document.get('Namespace')!r}, expected {namespace!r}")
    data = document.get("MetricData")
    if not isinstance(data, list):
        problems.append("MetricData is missing or not a list")
        data = []
    extra = sorted(set(document) - {"Namespace", "MetricData"})
    if extra:
        problems.append(f"unexpected keys {extra}")
    checked = []
    for i, datum in enumerate(data):
        value, datum_problems = _check_datum(datum, now)
        problems += [f"MetricData[{i}]: {p}" for p in datum_problems]
        if value is not None:
            checked.append(value)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        raise NonRetryable(
            f"{METRICS_FILE} is not valid PutMetricData input: "
            + "; ".join(shown)
            + (f"; and {more} more" if more else "")
        )
    return checked


def _check_datum(datum: Any, now: datetime) -> tuple[dict[str, Any] | None, list[str]]:
    if not isinstance(datum, Mapping):
        return None, [f"a JSON {type(datum).__name__}, not an object"]
    problems = []
    extra = sorted(set(datum) - DATUM_KEYS)
    if extra:
        problems.append(f"keys {extra} are not allowed (allowed: {sorted(DATUM_KEYS)})")
    name = datum.get("MetricName")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_METRIC_NAME:
        problems.append(f"MetricName {name!r} is not a string of 1 to {MAX_METRIC_NAME} characters")
    value = datum.get("Value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"Value {value!r} is not a number")
    elif not math.isfinite(value) or abs(value) > VALUE_LIMIT:
        problems.append(f"Value {value!r} is not finite within -2^360 to 2^360")
    out: dict[str, Any] = {"MetricName": name, "Value": value}
    if "Dimensions" in datum:
        problems += _check_dimensions(datum["Dimensions"])
        out["Dimensions"] = datum["Dimensions"]
    if "Timestamp" in datum:
        timestamp, problem = _check_timestamp(datum["Timestamp"], now)
        if problem:
            problems.append(problem)
        out["Timestamp"] = timestamp
    if "Unit" in datum:
        if datum["Unit"] not in UNITS:
            problems.append(f"Unit {datum['Unit']!r} is not a CloudWatch standard unit")
        out["Unit"] = datum["Unit"]
    if "StorageResolution" in datum:
        resolution = datum["StorageResolution"]
        if isinstance(resolution, bool) or resolution not in STORAGE_RESOLUTIONS:
            problems.append(f"StorageResolution {resolution!r} is not 1 or 60")
        out["StorageResolution"] = resolution
    return (None if problems else out), problems


def _check_dimensions(dimensions: Any) -> list[str]:
    if not isinstance(dimensions, list):
        return ["Dimensions is not a list"]
    problems = []
    if len(dimensions) > MAX_DIMENSIONS:
        problems.append(f"{len(dimensions)} dimensions, more than {MAX_DIMENSIONS}")
    names: set[str] = set()
    for j, dimension in enumerate(dimensions):
        where = f"Dimensions[{j}]"
        if not isinstance(dimension, Mapping) or set(dimension) != {"Name", "Value"}:
            problems.append(f"{where} is not an object with exactly Name and Value")
            continue
        name, value = dimension["Name"], dimension["Value"]
        for label, text, limit in (
            ("Name", name, MAX_DIMENSION_NAME),
            ("Value", value, MAX_DIMENSION_VALUE),
        ):
            if not (
                isinstance(text, str)
                and 1 <= len(text) <= limit
                and text.isascii()
                and text.strip()
                and not _CONTROL.search(text)
            ):
                problems.append(
                    f"{where}.{label} {text!r} is not 1 to {limit} ASCII characters with a "
                    "non-blank one and no control character"
                )
        if isinstance(name, str):
            if name.startswith(":"):
                problems.append(f"{where}.Name {name!r} starts with ':'")
            if name in names:
                problems.append(f"{where}.Name {name!r} is repeated")
            names.add(name)
    return problems


def _check_timestamp(value: Any, now: datetime) -> tuple[datetime | None, str | None]:
    if not isinstance(value, str):
        return None, f"Timestamp {value!r} is not an ISO 8601 string"
    try:
        timestamp = datetime.fromisoformat(value)
    except ValueError:
        return None, f"Timestamp {value!r} is not an ISO 8601 string"
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    if not now - PAST_LIMIT <= timestamp <= now + FUTURE_LIMIT:
        return timestamp, (
            f"Timestamp {value!r} is outside what CloudWatch accepts (two weeks before to two "
            f"hours after {now:%Y-%m-%dT%H:%M:%SZ})"
        )
    return timestamp, None


# --- chunking ---------------------------------------------------------------------------

#: ``MetricData.member.<index>.``: the widest index of a call is 1000.
_MEMBER_PREFIX = len("MetricData.member.1000.")


def datum_size(datum: Mapping[str, Any]) -> int:
    """An upper bound of the bytes ``datum`` adds to a PutMetricData request.

    Its form encoding (the query protocol: ``MetricData.member.N.Dimensions.member.M.Value=
    <percent-encoded value>&``), which is longer than its JSON or CBOR encoding: every key
    repeats its full path, and a value's special characters take three bytes each.
    """
    pairs: list[tuple[str, str]] = [
        ("MetricName", datum["MetricName"]),
        ("Value", repr(float(datum["Value"]))),
    ]
    for j, dimension in enumerate(datum.get("Dimensions", []), start=1):
        pairs.append((f"Dimensions.member.{j}.Name", dimension["Name"]))
        pairs.append((f"Dimensions.member.{j}.Value", dimension["Value"]))
    if datum.get("Timestamp") is not None:
        pairs.append(("Timestamp", datum["Timestamp"].isoformat()))
    for key in ("Unit", "StorageResolution"):
        if key in datum:
            pairs.append((key, str(datum[key])))
    # key=value&, each key after the member prefix.
    return sum(_MEMBER_PREFIX + len(key) + len(quote(value, safe="")) + 2 for key, value in pairs)


def chunks(data: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """``data`` in order, in calls of at most 1000 metrics and :data:`REQUEST_DATA_BUDGET`
    estimated bytes."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for datum in data:
        this = datum_size(datum)
        if chunk and (len(chunk) == MAX_METRICS_PER_CALL or size + this > REQUEST_DATA_BUDGET):
            yield chunk
            chunk, size = [], 0
        chunk.append(datum)
        size += this
    if chunk:
        yield chunk


# --- the work ---------------------------------------------------------------------------


class MetricsPublisher:
    """Publishes the metrics of the engine's completed jobs and reports its failed ones."""

    def __init__(
        self,
        *,
        settings: Settings,
        s3: Any,
        cloudwatch: Any,
        sagemaker: Callable[[], Any],
        now: Callable[[], datetime] = _now,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.cloudwatch = cloudwatch
        self.sagemaker = sagemaker
        self.now = now

    def handle(self, change: JobChange) -> dict[str, Any]:
        if change.status == COMPLETED:
            return self.publish(change)
        return self.report_failure(change)

    def publish(self, change: JobChange) -> dict[str, Any]:
        bucket, key = self._metrics_location(change)
        document = self._read(bucket, key)
        data = validate_metrics(document, self.settings.namespace, self._now())
        calls = 0
        for chunk in chunks(data):
            self.cloudwatch.put_metric_data(Namespace=self.settings.namespace, MetricData=chunk)
            calls += 1
        logger.info(
            "published metrics",
            extra={
                "job": change.name,
                "metricsFile": f"s3://{bucket}/{key}",
                "metrics": len(data),
                "calls": calls,
                "namespace": self.settings.namespace,
            },
        )
        return {"status": "published", "job": change.name, "metrics": len(data), "calls": calls}

    def report_failure(self, change: JobChange) -> dict[str, Any]:
        arguments = change.arguments
        if arguments is None:
            arguments = self._described_arguments(change.name)
        endpoint = argument(arguments, "--endpoint")
        model = argument(arguments, "--model-group")
        if not endpoint or not model:
            raise Ignored(
                f"job {change.name!r} is {change.status} but its arguments name no "
                "--endpoint and --model-group: no dimensions to report the failure under"
            )
        datum: dict[str, Any] = {
            "MetricName": FAILED_METRIC,
            "Dimensions": [
                {"Name": "Endpoint", "Value": endpoint},
                {"Name": "Model", "Value": model},
            ],
            "Value": 1.0,
            "Unit": "Count",
        }
        if change.end_time is not None:
            datum["Timestamp"] = change.end_time
        problems = _check_dimensions(datum["Dimensions"])
        if problems:
            raise NonRetryable(f"job {change.name!r}: " + "; ".join(problems))
        self.cloudwatch.put_metric_data(Namespace=self.settings.namespace, MetricData=[datum])
        logger.warning(
            "monitoring job did not complete",
            extra={
                "job": change.name,
                "jobStatus": change.status,
                "failureReason": change.failure_reason,
                "endpoint": endpoint,
                "model": model,
                "modelVersion": argument(arguments, "--model-version"),
            },
        )
        return {
            "status": "failure-reported",
            "job": change.name,
            "endpoint": endpoint,
            "model": model,
        }

    def _described_arguments(self, name: str) -> tuple[str, ...]:
        try:
            described = self.sagemaker().describe_processing_job(ProcessingJobName=name)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            message = error.response.get("Error", {}).get("Message", "")
            if code == "ResourceNotFound" or (
                code == "ValidationException" and "Could not find" in message
            ):
                raise Ignored(f"job {name!r} no longer exists: {message}") from None
            raise
        arguments = (described.get("AppSpecification") or {}).get("ContainerArguments") or []
        return tuple(a for a in arguments if isinstance(a, str))

    def _metrics_location(self, change: JobChange) -> tuple[str, str]:
        uri = change.output_uri
        if uri is None:
            raise NonRetryable(
                f"job {change.name!r} completed, but the event has no processing output "
                f"named {OUTPUT_NAME!r} with an S3 URI: nothing to publish"
            )
        allowed = f"s3://{self.settings.bucket}/{self.settings.output_prefix}"
        if not uri.startswith(allowed) or not uri.startswith(f"s3://{self.settings.bucket}/"):
            raise NonRetryable(
                f"job {change.name!r} wrote its output to {uri}, outside {allowed}: "
                "this function reads the engine's outputs only"
            )
        key = uri[len(f"s3://{self.settings.bucket}/") :].rstrip("/")
        return self.settings.bucket, f"{key}/{METRICS_FILE}" if key else METRICS_FILE

    def _read(self, bucket: str, key: str) -> Any:
        location = f"s3://{bucket}/{key}"
        try:
            head = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise NonRetryable(
                    f"{location} does not exist: the job completed without metrics"
                ) from None
            raise
        if head.get("ContentLength", 0) > MAX_FILE_BYTES:
            raise NonRetryable(
                f"{location} is {head['ContentLength']} bytes, more than {MAX_FILE_BYTES}"
            )
        # The version seen by the size check, so a file replaced in between is not read.
        extra = {"VersionId": head["VersionId"]} if head.get("VersionId") else {}
        body = self.s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
        try:
            return json.loads(body)
        except ValueError as error:
            raise NonRetryable(f"{location} is not JSON: {error}") from None

    def _now(self) -> datetime:
        now = self.now()
        return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def publisher_from_environment() -> MetricsPublisher:
    settings = settings_from_environment()
    return MetricsPublisher(
        settings=settings,
        s3=_client("s3"),
        cloudwatch=_client("cloudwatch"),
        sagemaker=lambda: _client("sagemaker"),
        now=_now,
    )


# The request id, function and cold start on every line.
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    publisher = publisher_from_environment()  # a configuration error raises, whatever the event
    return unless_ignored(
        event,
        logger,
        lambda: publisher.handle(parse_job_change(event, publisher.settings.job_prefix)),
        context,
    )

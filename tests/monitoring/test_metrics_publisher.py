"""The metrics publisher handler, against moto's S3, CloudWatch, SQS and SageMaker.

Events are built from tests/events/sagemaker_processing_job_state_change.json, a "SageMaker
Processing Job State Change" event in the shape the SageMaker Developer Guide publishes; the
identifiers there are synthetic. metrics.json files are made by the engine's own
``metric_data`` (monitor.py) where a real one is wanted.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.serialize import create_serializer
from moto import mock_aws

from mlops_constructs.monitoring.runtime import monitor
from tests.helpers import load_handler

REGION = "eu-west-1"
NAMESPACE = "MLOps/ModelMonitoring"
PREFIX = "mlops-dev-monitor-"
EVENT = json.loads(
    (
        Path(__file__).parent.parent / "events" / "sagemaker_processing_job_state_change.json"
    ).read_text()
)
OUTPUT_URI = EVENT["detail"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
BUCKET = OUTPUT_URI.split("/")[2]
METRICS_KEY = OUTPUT_URI.split("/", 3)[3] + "/metrics.json"
JOB = EVENT["detail"]["ProcessingJobName"]
# The job ended at 21:14 UTC; the function runs a minute later.
NOW = datetime(2026, 11, 20, 21, 15, tzinfo=UTC)
STAMP = "2026-11-20T21:00:00Z"

index = load_handler("metrics_publisher")

#: A Lambda context as the runtime passes one (Powertools' ``inject_lambda_context`` reads
#: these fields).
CONTEXT = SimpleNamespace(
    function_name="metrics-publisher",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:eu-west-1:284751930618:function:metrics-publisher",
    aws_request_id="0c2b9a8e-7d6f-4e5a-9b3c-2d1e0f9a8b7c",
)


@pytest.fixture
def aws(monkeypatch, boto3_session):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("METRICS_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("MONITOR_JOB_PREFIX", PREFIX)
    monkeypatch.setenv("ARTIFACT_BUCKET", BUCKET)
    monkeypatch.setenv("OUTPUT_PREFIX", "monitoring/")
    monkeypatch.setattr(index, "_now", lambda: NOW)
    with mock_aws():
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3_session)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sqs = boto3.client("sqs", region_name=REGION)
        dlq = sqs.create_queue(QueueName="metrics-publisher-dlq")["QueueUrl"]
        monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
        yield SimpleNamespace(
            s3=s3,
            sqs=sqs,
            dlq=dlq,
            cloudwatch=boto3.client("cloudwatch", region_name=REGION),
            sagemaker=boto3.client("sagemaker", region_name=REGION),
        )


@pytest.fixture
def put_calls(aws, monkeypatch):
    """The parameters of every PutMetricData call the handler makes (moto answers them)."""
    calls: list[dict[str, Any]] = []
    real = index._client

    def client(service: str) -> Any:
        made = real(service)
        if service == "cloudwatch":
            made.meta.events.register(
                "before-parameter-build.cloudwatch.PutMetricData",
                lambda params, **_: calls.append(copy.deepcopy(params)),
            )
        return made

    monkeypatch.setattr(index, "_client", client)
    return calls


def dead_letters(aws) -> list[dict[str, Any]]:
    got = aws.sqs.receive_message(QueueUrl=aws.dlq, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def put_metrics(aws, body: Any, *, raw: bytes | None = None) -> None:
    data = raw if raw is not None else json.dumps(body).encode()
    aws.s3.put_object(Bucket=BUCKET, Key=METRICS_KEY, Body=data)


def engine_metrics(features: int = 3) -> dict[str, Any]:
    """metrics.json as the engine writes it (monitor.metric_data), for ``features`` features."""
    names = [f"feature_{i}" for i in range(features)]
    results = {
        "endpoint": "mlops-dev-churn",
        "model_group": "mlops-dev-churn",
        "model_version": 7,
        "capture": {"records_kept": 480, "records_skipped": {"unreadable": 0}},
        "rows": 480,
        "drifted_features": names[:1],
        "features": {
            name: {
                "js_distance": 0.31 if i == 0 else 0.02,
                "drifted": i == 0,
                "ks_p_value": 1e-9 if i == 0 else 0.6,
                "chi2_p_value": None,
                "wasserstein_norm": 0.8 if i == 0 else 0.05,
                "missing_share": 0.0,
            }
            for i, name in enumerate(names)
        },
        "ground_truth": None,
        "quality": None,
        "bias": None,
        "explainability": None,
    }
    return {"Namespace": NAMESPACE, "MetricData": monitor.metric_data(results, STAMP)}


def datum(name: str = "FeatureDrift", value: Any = 0.25, **extra: Any) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": [
            {"Name": "Endpoint", "Value": "mlops-dev-churn"},
            {"Name": "Model", "Value": "mlops-dev-churn"},
        ],
        "Timestamp": STAMP,
        "Value": value,
        "Unit": "None",
        **extra,
    }


def event(**detail: Any) -> dict[str, Any]:
    made = copy.deepcopy(EVENT)
    made["detail"].update(detail)
    return made


def statistics(aws, name: str, dimensions: list[dict[str, str]]) -> list[dict[str, Any]]:
    return aws.cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=name,
        Dimensions=dimensions,
        StartTime=NOW - timedelta(hours=2),
        EndTime=NOW + timedelta(hours=1),
        Period=3600,
        Statistics=["Maximum", "SampleCount"],
    )["Datapoints"]


def published(aws) -> list[dict[str, Any]]:
    pages = aws.cloudwatch.get_paginator("list_metrics").paginate(Namespace=NAMESPACE)
    return [metric for page in pages for metric in page["Metrics"]]


# -- completed jobs ---------------------------------------------------------------------
def test_the_sample_event_publishes_the_engines_metrics(aws, put_calls):
    document = engine_metrics()
    put_metrics(aws, document)
    result = index.handler(EVENT, CONTEXT)
    assert result == {
        "status": "published",
        "job": JOB,
        "metrics": len(document["MetricData"]),
        "calls": 1,
    }
    drift = statistics(
        aws,
        "FeatureDrift",
        [
            {"Name": "Endpoint", "Value": "mlops-dev-churn"},
            {"Name": "Model", "Value": "mlops-dev-churn"},
            {"Name": "ModelVersion", "Value": "7"},
            {"Name": "Feature", "Value": "feature_0"},
        ],
    )
    assert [(d["Maximum"], d["SampleCount"]) for d in drift] == [(0.31, 1.0)]
    names = {m["MetricName"] for m in published(aws)}
    assert {"FeatureDrift", "FeatureDrifted", "RecordsCaptured", "DriftedFeatures"} <= names
    assert "FeatureChi2PValue" not in names  # None in the results: the engine left it out
    assert dead_letters(aws) == []


def test_2500_metrics_take_three_calls_of_at_most_1000(aws, put_calls):
    data = [datum(Dimensions=[{"Name": "Feature", "Value": f"f{i}"}]) for i in range(2500)]
    put_metrics(aws, {"Namespace": NAMESPACE, "MetricData": data})
    result = index.handler(EVENT, CONTEXT)
    assert result["calls"] == 3
    assert [len(c["MetricData"]) for c in put_calls] == [1000, 1000, 500]
    assert [c["Namespace"] for c in put_calls] == [NAMESPACE] * 3
    # In order, nothing lost or repeated.
    sent = [d["Dimensions"][0]["Value"] for c in put_calls for d in c["MetricData"]]
    assert sent == [f"f{i}" for i in range(2500)]
    assert len(published(aws)) == 2500


def _widest_datum(i: int) -> dict[str, Any]:
    """30 dimensions of the longest names and values, every character one that a form
    encoding escapes: about 115 kB as a query request."""
    return datum(
        name=f"M{i}",
        Dimensions=[
            {"Name": f"{j:02d}" + "%" * 253, "Value": f"{i:04d}" + "&" * 1020} for j in range(30)
        ],
    )


@pytest.mark.parametrize("protocol", ["query", "json", "smithy-rpc-v2-cbor"])
def test_every_call_stays_under_1_mb_in_every_protocol_botocore_may_use(protocol):
    data = index.validate_metrics(
        {"Namespace": NAMESPACE, "MetricData": [_widest_datum(i) for i in range(40)]},
        NAMESPACE,
        NOW,
    )
    chunked = list(index.chunks(data))
    assert len(chunked) > 1  # the size split them, not the count
    assert [d for c in chunked for d in c] == data
    client = boto3.client(
        "cloudwatch", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"
    )
    operation = client.meta.service_model.operation_model("PutMetricData")
    serializer = create_serializer(protocol)
    for chunk in chunked:
        request = serializer.serialize_to_request(
            {"Namespace": NAMESPACE, "MetricData": chunk}, operation
        )
        body = request["body"]
        size = len(body if isinstance(body, bytes) else str(body).encode())
        assert size < index.MAX_REQUEST_BYTES
        # The estimate bounds the body but for the envelope (Action, Version, Namespace).
        assert sum(index.datum_size(d) for d in chunk) + 200 >= size


def test_an_empty_metric_list_publishes_nothing(aws, put_calls):
    put_metrics(aws, {"Namespace": NAMESPACE, "MetricData": []})
    assert index.handler(EVENT, CONTEXT)["calls"] == 0
    assert put_calls == []


# -- unrelated and malformed events -----------------------------------------------------
def _without(path: tuple[str, ...]) -> dict[str, Any]:
    made = copy.deepcopy(EVENT)
    node = made
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return made


@pytest.mark.parametrize(
    "make_event, reason",
    [
        (lambda: "not an event", "not an object"),
        (lambda: {**EVENT, "source": "aws.s3"}, "not a SageMaker event"),
        (
            lambda: {**EVENT, "detail-type": "SageMaker Training Job State Change"},
            "not a processing job state change",
        ),
        (lambda: {**EVENT, "detail": "nope"}, "no detail object"),
        (lambda: _without(("detail", "ProcessingJobName")), "names no processing job"),
        (lambda: event(ProcessingJobName="mlops-dev-churn-preprocess-1"), "not a monitoring job"),
        (lambda: event(ProcessingJobStatus="InProgress"), "'InProgress'"),
        (lambda: event(ProcessingJobStatus="Stopping"), "'Stopping'"),
        (lambda: _without(("detail", "ProcessingJobStatus")), "None"),
    ],
)
def test_unrelated_or_malformed_events_change_nothing(aws, put_calls, caplog, make_event, reason):
    put_metrics(aws, engine_metrics())
    with caplog.at_level(logging.WARNING):
        result = index.handler(make_event(), CONTEXT)
    assert result["status"] == "ignored"
    assert reason in result["reason"]
    assert put_calls == [] and published(aws) == [] and dead_letters(aws) == []
    assert any("ignored event" in r.getMessage() for r in caplog.records)


# -- metrics.json that no retry can fix: dead-lettered ---------------------------------
def _dead_lettered_with(aws, put_calls, needle: str) -> dict[str, Any]:
    result = index.handler(EVENT, CONTEXT)
    assert result["status"] == "dead-lettered", result
    assert needle in result["reason"]
    (record,) = dead_letters(aws)
    assert record["requestPayload"] == EVENT
    assert record["requestContext"]["condition"] == "NonRetryable"
    assert needle in record["responsePayload"]["errorMessage"]
    assert put_calls == [] and published(aws) == []  # nothing half-published
    return record


def test_a_missing_metrics_file_is_dead_lettered(aws, put_calls):
    _dead_lettered_with(aws, put_calls, "does not exist")


def test_a_file_that_is_not_json_is_dead_lettered(aws, put_calls):
    put_metrics(aws, None, raw=b'{"Namespace": "MLOps/ModelMonitoring", "MetricData": [')
    _dead_lettered_with(aws, put_calls, "is not JSON")


def test_nan_is_rejected_before_anything_is_published(aws, put_calls):
    # json.dumps writes NaN as the bare token, as Python's json.loads reads it back.
    put_metrics(aws, {"Namespace": NAMESPACE, "MetricData": [datum(), datum(value=math.nan)]})
    _dead_lettered_with(aws, put_calls, "MetricData[1]: Value nan is not finite")


@pytest.mark.parametrize(
    "document, needle",
    [
        ({"Namespace": "Other/Namespace", "MetricData": [datum()]}, "Namespace is 'Other/"),
        ({"Namespace": NAMESPACE}, "MetricData is missing"),
        ([datum()], "not an object"),
        ({"Namespace": NAMESPACE, "MetricData": [datum(value=math.inf)]}, "not finite"),
        ({"Namespace": NAMESPACE, "MetricData": [datum(value=2.0**361)]}, "not finite"),
        ({"Namespace": NAMESPACE, "MetricData": [datum(value="0.3")]}, "not a number"),
        ({"Namespace": NAMESPACE, "MetricData": [datum(value=True)]}, "not a number"),
        ({"Namespace": NAMESPACE, "MetricData": [datum(Entity={})]}, "['Entity'] are not allowed"),
        ({"Namespace": NAMESPACE, "MetricData": [datum(Unit="Furlongs")]}, "standard unit"),
        ({"Namespace": NAMESPACE, "MetricData": [datum(Timestamp="yesterday")]}, "ISO 8601"),
        (
            {"Namespace": NAMESPACE, "MetricData": [datum(Timestamp="2026-10-01T00:00:00Z")]},
            "two weeks before",
        ),
        (
            {
                "Namespace": NAMESPACE,
                "MetricData": [
                    datum(Dimensions=[{"Name": f"D{i}", "Value": "x"} for i in range(31)])
                ],
            },
            "31 dimensions, more than 30",
        ),
        (
            {
                "Namespace": NAMESPACE,
                "MetricData": [datum(Dimensions=[{"Name": "Feature", "Value": "caf\u00e9"}])],
            },
            "ASCII",
        ),
        (
            {
                "Namespace": NAMESPACE,
                "MetricData": [
                    datum(Dimensions=[{"Name": "A", "Value": "1"}, {"Name": "A", "Value": "2"}])
                ],
            },
            "repeated",
        ),
        ({"Namespace": NAMESPACE, "MetricData": [{"Value": 1}]}, "MetricName None"),
    ],
)
def test_invalid_metrics_are_dead_lettered_with_the_reason(aws, put_calls, document, needle):
    put_metrics(aws, document)
    _dead_lettered_with(aws, put_calls, needle)


def test_thirty_dimensions_are_allowed(aws, put_calls):
    dimensions = [{"Name": f"D{i}", "Value": "x"} for i in range(30)]
    put_metrics(aws, {"Namespace": NAMESPACE, "MetricData": [datum(Dimensions=dimensions)]})
    assert index.handler(EVENT, CONTEXT)["status"] == "published"


def test_an_output_outside_the_engines_prefix_is_not_read(aws, put_calls):
    outside = f"s3://{BUCKET}/models/mlops-dev-churn/output"
    aws.s3.put_object(
        Bucket=BUCKET,
        Key="models/mlops-dev-churn/output/metrics.json",
        Body=json.dumps(engine_metrics()).encode(),
    )
    made = copy.deepcopy(EVENT)
    made["detail"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = outside
    result = index.handler(made, CONTEXT)
    assert result["status"] == "dead-lettered"
    assert "outside s3://" in result["reason"]
    assert put_calls == []


def test_a_completed_job_without_the_output_is_dead_lettered(aws, put_calls):
    made = copy.deepcopy(EVENT)
    made["detail"]["ProcessingOutputConfig"]["Outputs"][0]["OutputName"] = "report"
    result = index.handler(made, CONTEXT)
    assert result["status"] == "dead-lettered"
    assert "no processing output named 'output'" in result["reason"]


# -- transient errors: raised, so Lambda retries -----------------------------------------
def test_a_cloudwatch_error_is_raised_for_a_retry(aws, monkeypatch):
    put_metrics(aws, engine_metrics())
    real = index._client

    def client(service: str) -> Any:
        made = real(service)
        if service == "cloudwatch":

            def throttled(**_: Any) -> None:
                raise ClientError(
                    {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}},
                    "PutMetricData",
                )

            made.put_metric_data = throttled
        return made

    monkeypatch.setattr(index, "_client", client)
    with pytest.raises(ClientError, match="Throttling"):
        index.handler(EVENT, CONTEXT)
    assert dead_letters(aws) == []  # Lambda's retries and destination take it from here


@pytest.mark.parametrize("code", ["AccessDenied", "SlowDown", "InternalError"])
def test_an_s3_error_other_than_not_found_is_raised_for_a_retry(aws, code):
    publisher = index.MetricsPublisher(
        settings=index.settings_from_environment(),
        s3=_failing_s3(code),
        cloudwatch=None,
        sagemaker=lambda: None,
    )
    with pytest.raises(ClientError, match=code):
        publisher.handle(index.parse_job_change(EVENT, PREFIX))


def _failing_s3(code: str) -> Any:
    def head_object(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": code}}, "HeadObject")

    return SimpleNamespace(head_object=head_object)


# -- failed and stopped jobs -------------------------------------------------------------
ARGUMENTS = [
    "--features", "tenure,monthly_charges",
    "--endpoint", "mlops-dev-churn",
    "--model-group=mlops-dev-churn-group",
    "--model-version", "7",
]  # fmt: skip


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_failed_or_stopped_job_reports_monitoring_job_failed(aws, put_calls, status):
    made = event(
        ProcessingJobStatus=status,
        FailureReason="AlgorithmError: monitor: exit 2",
        AppSpecification={"ImageUri": "example/image:1", "ContainerArguments": ARGUMENTS},
    )
    result = index.handler(made, CONTEXT)
    assert result == {
        "status": "failure-reported",
        "job": JOB,
        "endpoint": "mlops-dev-churn",
        "model": "mlops-dev-churn-group",
    }
    dims = [
        {"Name": "Endpoint", "Value": "mlops-dev-churn"},
        {"Name": "Model", "Value": "mlops-dev-churn-group"},
    ]
    points = statistics(aws, "MonitoringJobFailed", dims)
    assert [(p["Maximum"], p["SampleCount"]) for p in points] == [(1.0, 1.0)]
    (call,) = put_calls
    (sent,) = call["MetricData"]
    assert sent["Timestamp"] == datetime(2026, 11, 20, 21, 14, tzinfo=UTC)  # ProcessingEndTime
    assert sent["Unit"] == "Count"


def test_a_failed_job_event_without_arguments_reads_them_from_the_job(aws, put_calls):
    # As in the published sample: AppSpecification without ContainerArguments.
    aws.sagemaker.create_processing_job(
        ProcessingJobName=JOB,
        ProcessingResources=EVENT["detail"]["ProcessingResources"],
        AppSpecification={"ImageUri": "example/image:1", "ContainerArguments": ARGUMENTS},
        RoleArn=EVENT["detail"]["RoleArn"],
    )
    result = index.handler(event(ProcessingJobStatus="Failed"), CONTEXT)
    assert result["status"] == "failure-reported"
    assert result["model"] == "mlops-dev-churn-group"


def test_a_failed_job_without_endpoint_or_model_is_logged_and_ignored(aws, put_calls):
    made = event(
        ProcessingJobStatus="Failed",
        AppSpecification={"ImageUri": "x", "ContainerArguments": ["--endpoint", "e"]},
    )
    result = index.handler(made, CONTEXT)
    assert result["status"] == "ignored"
    assert "--model-group" in result["reason"]
    assert put_calls == [] and dead_letters(aws) == []


def test_a_failed_job_that_no_longer_exists_is_ignored(aws, put_calls):
    result = index.handler(event(ProcessingJobStatus="Stopped"), CONTEXT)
    assert result["status"] == "ignored"
    assert "no longer exists" in result["reason"]
    assert put_calls == []


# -- settings ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variable, value",
    [
        ("METRICS_NAMESPACE", ""),
        ("METRICS_NAMESPACE", "AWS/SageMaker"),
        ("MONITOR_JOB_PREFIX", ""),
        ("MONITOR_JOB_PREFIX", "bad_prefix"),
        ("ARTIFACT_BUCKET", ""),
        ("OUTPUT_PREFIX", "monitoring"),
    ],
)
def test_a_bad_setting_raises_whatever_the_event(aws, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        index.handler({"source": "aws.s3"}, CONTEXT)


def test_arguments_in_both_forms():
    assert index.argument(["--endpoint", "a", "--endpoint=b"], "--endpoint") == "b"
    assert index.argument(["--endpoint"], "--endpoint") is None
    assert index.argument(["--endpoints", "x"], "--endpoint") is None

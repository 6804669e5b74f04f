"""The monitoring launcher (runtime/monitoring_launcher) against moto: the version it picks,
when it skips, the manifests it writes, the pipeline start; and monitor.py run on what a
manifest lists, laid out as SageMaker downloads it, against the same run on the folder."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_constructs.monitoring.runtime import monitor
from tests.helpers import load_handler
from tests.monitoring.test_monitor_job import (
    FEATURES,
    baseline_step,
    capture_record,
    draw,
    scores_of,
)

index = load_handler("monitoring_launcher")

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
BUCKET = "artifacts"
GROUP = "customers"
PIPELINE = "customers-monitor"
#: The endpoint's capture folder (CAPTURE_PREFIX) and its champion variant's (where the
#: tests put capture files unless they name another variant).
CAPTURE_ROOT = "endpoints/ep/capture/ep/"
CAPTURE = f"{CAPTURE_ROOT}AllTraffic/"
TRUTH = "endpoints/ep/ground-truth/"
MODELS = f"endpoints/ep/models/{GROUP}/"  # the group's folder, as the engine passes it
RUNS = f"monitoring/{GROUP}/runs/"
# Ten past six: the window is 05:00 to 06:00.
EVENT = {"source": "mlops.monitoring-schedule", "scheduledTime": "2026-01-01T06:10:00Z"}
CONTEXT = SimpleNamespace(
    function_name="monitoring-launcher",
    memory_limit_in_mb=256,
    invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:monitoring-launcher",
    aws_request_id="0c2b9a8e-7d6f-4e5a-9b3c-2d1e0f9a8b7c",
)


def baseline_key(version: int) -> str:
    return f"pipelines/{GROUP}/executions/e{version}/baseline/baseline.json"


@pytest.fixture
def aws(monkeypatch, boto3_session):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    settings = {
        "PIPELINE_NAME": PIPELINE,
        "MODEL_GROUP": GROUP,
        "PACKAGE_ARN_PREFIX": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/",
        "PINNED_VERSION": "",
        "BASELINE_URI": "",
        "MODEL_URI": "",
        "MODELS_PREFIX": MODELS,
        "ARTIFACT_BUCKET": BUCKET,
        "CAPTURE_PREFIX": CAPTURE_ROOT,
        "CAPTURE_VARIANTS": "AllTraffic",
        "GROUND_TRUTH_PREFIX": TRUTH,
        "RUNS_PREFIX": RUNS,
        "READ_PREFIXES": f"pipelines/,{MODELS}",
        "WINDOW_HOURS": "1",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DEAD_LETTER_QUEUE_URL", raising=False)
    with mock_aws():
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3_session)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        sagemaker.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/monitor",
        )
        starts: list[dict[str, Any]] = []
        real = index._client

        def client(service: str) -> Any:
            made = real(service)
            if service == "sagemaker":
                made.meta.events.register(
                    "before-parameter-build.sagemaker.StartPipelineExecution",
                    lambda params, **_: starts.append(copy.deepcopy(params)),
                )
            return made

        monkeypatch.setattr(index, "_client", client)
        yield SimpleNamespace(s3=s3, sagemaker=sagemaker, starts=starts)


def register(aws, status: str, *, baseline: bool = True) -> int:
    """Register the next version with ``status``; its baseline object exists."""
    version = 1 + len(
        aws.sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    )
    extra: dict[str, Any] = {}
    if baseline:
        uri = f"s3://{BUCKET}/{baseline_key(version)}"
        extra["ModelMetrics"] = {
            "ModelDataQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}
        }
        aws.s3.put_object(Bucket=BUCKET, Key=baseline_key(version), Body=b"{}")
    aws.sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                    "ModelDataUrl": f"s3://{BUCKET}/pipelines/{GROUP}/m{version}/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        **extra,
    )
    aws.s3.put_object(Bucket=BUCKET, Key=f"{MODELS}v{version}.tar.gz", Body=b"x")
    return version


def put_keys(aws, prefix: str, keys: list[str], body: bytes = b"{}\n") -> None:
    for key in keys:
        aws.s3.put_object(Bucket=BUCKET, Key=prefix + key, Body=body)


#: Capture keys: the window's hour (05) and the next (06) count; 04 and 07 do not, nor a
#: file that is not .jsonl.
IN_WINDOW = [
    "2026/01/01/05/00-01-a.jsonl",
    "2026/01/01/05/30-02-b.jsonl",
    "2026/01/01/06/01-c.jsonl",
]
OUTSIDE = ["2026/01/01/04/59-d.jsonl", "2026/01/01/07/00-e.jsonl", "2026/01/01/05/notes.txt"]


def manifest_of(aws, uri: str) -> list[Any]:
    bucket, key = uri[len("s3://") :].split("/", 1)
    return json.loads(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def launch(event: Any = EVENT) -> dict[str, Any]:
    return index.handler(event, CONTEXT)


def test_the_newest_approved_version_is_watched_with_its_registered_baseline(aws):
    register(aws, "Approved")
    newest = register(aws, "Approved")
    register(aws, "PendingManualApproval")  # newer, not approved: not watched
    put_keys(aws, CAPTURE, IN_WINDOW + OUTSIDE)
    result = launch()
    assert result["status"] == "started" and result["version"] == newest == 2
    (start,) = aws.starts
    parameters = {p["Name"]: p["Value"] for p in start["PipelineParameters"]}
    assert list(parameters) == list(index.PARAMETERS)
    assert parameters["ModelVersion"] == "2"
    assert parameters["BaselineUri"] == f"s3://{BUCKET}/{baseline_key(2)}"
    assert parameters["ModelUri"] == f"s3://{BUCKET}/{MODELS}v2.tar.gz"
    assert parameters["WindowEnd"] == "2026-01-01T06:00:00Z"
    assert start["PipelineName"] == PIPELINE
    # The manifest: the capture prefix, then exactly the window's and next hour's keys.
    assert parameters["CaptureManifestUri"] == (
        f"s3://{BUCKET}/{RUNS}20260101T0600Z/capture.manifest"
    )
    assert manifest_of(aws, parameters["CaptureManifestUri"]) == [
        {"prefix": f"s3://{BUCKET}/{CAPTURE_ROOT}"},
        *sorted(f"AllTraffic/{k}" for k in IN_WINDOW),
    ]


def test_every_production_variant_is_read_and_no_other(aws, monkeypatch):
    """An A/B test's champion and challenger are read alike; a shadow's folder (its records
    repeat production's requests) and a variant not configured are not."""
    register(aws, "Approved")
    folders = ("AllTraffic", "Challenger", "Shadow", "Other")
    for variant in folders:
        put_keys(aws, f"{CAPTURE_ROOT}{variant}/", IN_WINDOW + OUTSIDE)
    monkeypatch.setenv("CAPTURE_VARIANTS", "AllTraffic,Challenger")
    result = launch()
    assert result["captureFiles"] == 2 * len(IN_WINDOW)
    assert result["captureFilesByVariant"] == {
        "AllTraffic": len(IN_WINDOW),
        "Challenger": len(IN_WINDOW),
    }
    listed = manifest_of(aws, result["parameters"]["CaptureManifestUri"])
    assert listed == [
        {"prefix": f"s3://{BUCKET}/{CAPTURE_ROOT}"},
        *sorted(f"{v}/{k}" for v in ("AllTraffic", "Challenger") for k in IN_WINDOW),
    ]
    # Control: with the champion alone, the challenger's traffic is not read.
    monkeypatch.setenv("CAPTURE_VARIANTS", "AllTraffic")
    alone = launch({**EVENT, "scheduledTime": "2026-01-01T06:20:00Z"})
    assert alone["captureFilesByVariant"] == {"AllTraffic": len(IN_WINDOW)}


def test_an_hour_with_traffic_on_a_challenger_only_starts_a_run(aws, monkeypatch):
    register(aws, "Approved")
    monkeypatch.setenv("CAPTURE_VARIANTS", "AllTraffic,Challenger")
    put_keys(aws, f"{CAPTURE_ROOT}Challenger/", IN_WINDOW[:1])
    put_keys(aws, f"{CAPTURE_ROOT}Shadow/", IN_WINDOW)  # not a production variant
    result = launch()
    assert result["status"] == "started"
    assert result["captureFilesByVariant"] == {"AllTraffic": 0, "Challenger": 1}
    # Control: the shadow's traffic alone starts nothing.
    monkeypatch.setenv("CAPTURE_VARIANTS", "AllTraffic")
    skipped = launch({**EVENT, "scheduledTime": "2026-01-01T06:20:00Z"})
    assert skipped["status"] == "skipped"


def test_a_single_model_endpoint_uses_the_packages_model_data_url(aws, monkeypatch):
    monkeypatch.setenv("MODELS_PREFIX", "")
    monkeypatch.setenv("READ_PREFIXES", "pipelines/")
    register(aws, "Approved")
    aws.s3.put_object(Bucket=BUCKET, Key=f"pipelines/{GROUP}/m1/model.tar.gz", Body=b"x")
    put_keys(aws, CAPTURE, IN_WINDOW)
    launch()
    (start,) = aws.starts
    parameters = {p["Name"]: p["Value"] for p in start["PipelineParameters"]}
    assert parameters["ModelUri"] == f"s3://{BUCKET}/pipelines/{GROUP}/m1/model.tar.gz"


def test_a_pinned_version_is_watched_and_must_be_approved(aws, monkeypatch):
    register(aws, "Approved")
    register(aws, "Approved")
    register(aws, "Rejected")
    put_keys(aws, CAPTURE, IN_WINDOW)
    monkeypatch.setenv("PINNED_VERSION", "1")
    assert launch()["version"] == 1
    monkeypatch.setenv("PINNED_VERSION", "3")
    skipped = launch()
    assert skipped["status"] == "skipped" and "Rejected, not Approved" in skipped["reason"]
    monkeypatch.setenv("PINNED_VERSION", "9")
    assert launch()["status"] == "skipped"
    assert len(aws.starts) == 1


def test_without_an_approved_version_the_run_waits_and_writes_nothing(aws, caplog):
    register(aws, "PendingManualApproval")
    put_keys(aws, CAPTURE, IN_WINDOW)
    with caplog.at_level("INFO"):
        result = launch()
    assert result["status"] == "skipped"
    assert result["reason"] == f"waiting for the first approved version of {GROUP}"
    assert [r.levelname for r in caplog.records if "waiting" in r.message] == ["INFO"]
    assert aws.starts == []
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=RUNS)


def test_a_version_without_a_baseline_is_skipped_with_a_warning_not_retried(aws, caplog):
    register(aws, "Approved", baseline=False)
    put_keys(aws, CAPTURE, IN_WINDOW)
    result = launch()  # returns: no exception, so Lambda does not retry
    assert result["status"] == "skipped" and "no registered baseline" in result["reason"]
    assert [r.levelname for r in caplog.records if "no registered baseline" in r.message] == [
        "WARNING"
    ]
    assert aws.starts == []


def test_a_baseline_the_job_may_not_read_is_skipped(aws, monkeypatch):
    register(aws, "Approved")
    put_keys(aws, CAPTURE, IN_WINDOW)
    monkeypatch.setenv("PINNED_VERSION", "1")
    monkeypatch.setenv("BASELINE_URI", "s3://elsewhere/pipelines/baseline.json")
    assert "may not read" in launch()["reason"]
    monkeypatch.setenv("BASELINE_URI", f"s3://{BUCKET}/pipelines/gone/baseline.json")
    assert "missing" in launch()["reason"]
    assert aws.starts == []


def test_an_hour_without_capture_starts_nothing(aws):
    register(aws, "Approved")
    put_keys(aws, CAPTURE, OUTSIDE)  # other hours only
    result = launch()
    assert result["status"] == "skipped"
    assert result["reason"] == "no traffic captured in 2026-01-01T05:00:00Z to 2026-01-01T06:00:00Z"
    assert aws.starts == []


def test_ground_truth_manifest_lists_the_windows_labels(aws):
    register(aws, "Approved")
    put_keys(aws, CAPTURE, IN_WINDOW)
    put_keys(
        aws, TRUTH, ["2026/01/01/05/l1.jsonl", "2026/01/01/06/l2.jsonl", "2026/01/01/03/l0.jsonl"]
    )
    launch()
    parameters = {p["Name"]: p["Value"] for p in aws.starts[0]["PipelineParameters"]}
    assert manifest_of(aws, parameters["GroundTruthManifestUri"]) == [
        {"prefix": f"s3://{BUCKET}/{TRUTH}"},
        "2026/01/01/05/l1.jsonl",
        "2026/01/01/06/l2.jsonl",
    ]


def test_without_ground_truth_the_manifest_lists_a_placeholder_the_job_ignores(aws):
    register(aws, "Approved")
    put_keys(aws, CAPTURE, IN_WINDOW)
    launch()
    parameters = {p["Name"]: p["Value"] for p in aws.starts[0]["PipelineParameters"]}
    document = manifest_of(aws, parameters["GroundTruthManifestUri"])
    # A valid manifest: one prefix, at least one existing object under it.
    (head, key) = document
    prefix = head["prefix"]
    assert prefix == f"s3://{BUCKET}/{RUNS}20260101T0600Z/"
    body = aws.s3.get_object(Bucket=BUCKET, Key=(prefix + key)[len(f"s3://{BUCKET}/") :])
    assert not key.endswith(".jsonl") and body["Body"].read()


def test_a_retried_invocation_uses_the_same_token_and_another_hour_another(aws):
    register(aws, "Approved")
    put_keys(aws, CAPTURE, [*IN_WINDOW, "2026/01/01/07/x.jsonl"])
    launch()
    launch({**EVENT, "scheduledTime": "2026-01-01T06:59:59Z"})  # same hour, retried late
    launch({**EVENT, "scheduledTime": "2026-01-01T08:10:00Z"})
    tokens = [s["ClientRequestToken"] for s in aws.starts]
    assert tokens[0] == tokens[1] != tokens[2]
    assert all(32 <= len(t) <= 128 for t in tokens)  # StartPipelineExecution's limits


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {"source": "aws.events", "scheduledTime": "2026-01-01T06:10:00Z"},
        {"source": "mlops.monitoring-schedule"},
        {"source": "mlops.monitoring-schedule", "scheduledTime": "<aws.scheduler.scheduled-time>"},
        {"source": "mlops.monitoring-schedule", "scheduledTime": "2026-01-01T06:10:00"},
        {"source": "mlops.monitoring-schedule", "scheduledTime": "2026-02-30T06:10:00Z"},
    ],
)
def test_a_malformed_or_unrelated_event_is_ignored(aws, event):
    register(aws, "Approved")
    put_keys(aws, CAPTURE, IN_WINDOW)
    assert launch(event)["status"] == "ignored"
    assert aws.starts == []
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=RUNS)


def test_the_window_is_monitor_pys():
    args = monitor.parser().parse_args(
        ["--features", "a", "--endpoint", "e", "--model-group", "g", "--model-version", "1",
         "--problem-type", "regression", "--window-end", "2026-01-01T06:00:00Z"]
    )  # fmt: skip
    start, end = index.window(index.scheduled_time(EVENT), 1)
    assert (start, end) == monitor.window(args)
    assert index.hour_folders(start, end) == ["2026/01/01/05/", "2026/01/01/06/"]


def test_a_bad_setting_raises_whatever_the_event(aws, monkeypatch):
    monkeypatch.setenv("PINNED_VERSION", "03")
    with pytest.raises(ValueError, match="PINNED_VERSION"):
        launch(None)


@pytest.mark.parametrize("variants", ["", "AllTraffic,", "All_Traffic", "A,A", "AllTraffic/x"])
def test_bad_capture_variants_raise(aws, monkeypatch, variants):
    monkeypatch.setenv("CAPTURE_VARIANTS", variants)
    with pytest.raises(ValueError, match="CAPTURE_VARIANTS"):
        launch()


# --- the job on what a manifest lists ---------------------------------------------------


def _records(hour: int, rows, minute: int = 15) -> bytes:
    records = [
        capture_record(
            row[None, :], scores_of(row[None, :]), f"v1.{hour:02d}{i:030d}",
            inference_time=f"2026-01-01T{hour:02d}:{minute:02d}:{i % 60:02d}Z",
        )
        for i, row in enumerate(rows)
    ]  # fmt: skip
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def _download(aws, manifest: list[Any], destination) -> None:
    """As a ManifestFile input: each listed object at its key relative to the prefix."""
    prefix = manifest[0]["prefix"][len(f"s3://{BUCKET}/") :]
    for relative in manifest[1:]:
        path = destination / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(aws.s3.get_object(Bucket=BUCKET, Key=prefix + relative)["Body"].read())


def _run(root, monkeypatch, window_end: str) -> dict[str, Any]:
    monkeypatch.setenv("MLOPS_PROCESSING_ROOT", str(root))
    code = monitor.main(
        ["--features", ",".join(FEATURES), "--endpoint", "ep", "--model-group", GROUP,
         "--model-version", "1", "--problem-type", "binary_classification",
         "--window-end", window_end]
    )  # fmt: skip
    assert code == 0
    return json.loads((root / "output" / "results.json").read_text())


def test_monitor_py_on_the_manifests_files_equals_the_run_on_the_whole_folder(
    aws, tmp_path, monkeypatch
):
    register(aws, "Approved")
    data = draw(600, seed=3)[:, 1:]
    files = {
        "2026/01/01/04/a.jsonl": _records(4, data[:150]),
        "2026/01/01/05/b.jsonl": _records(5, data[150:300]),
        "2026/01/01/05/c.jsonl": _records(5, data[300:400], minute=45),
        # Written in the next hour's folder: one record late from 05, the rest of 06.
        "2026/01/01/06/d.jsonl": _records(5, data[400:401], minute=59) + _records(6, data[401:]),
    }
    for key, body in files.items():
        aws.s3.put_object(Bucket=BUCKET, Key=CAPTURE + key, Body=body)
    result = launch()
    parameters = result["parameters"]
    baseline = baseline_step.dumps(
        baseline_step.build_baseline(draw(3000, seed=1), FEATURES, sample_size=500, seed=0)
    )
    roots = {}
    for name in ("manifest", "folder"):
        root = tmp_path / name
        (root / "baseline").mkdir(parents=True)
        (root / "baseline" / "baseline.json").write_text(baseline)
        roots[name] = root
    _download(
        aws, manifest_of(aws, parameters["CaptureManifestUri"]), roots["manifest"] / "capture"
    )
    _download(
        aws,
        manifest_of(aws, parameters["GroundTruthManifestUri"]),
        roots["manifest"] / "ground-truth",
    )
    for key, body in files.items():  # the whole prefix, as the step mounted it before
        path = roots["folder"] / "capture" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    by_manifest = _run(roots["manifest"], monkeypatch, parameters["WindowEnd"])
    by_folder = _run(roots["folder"], monkeypatch, parameters["WindowEnd"])
    assert by_manifest["status"] == "ok" and by_manifest["rows"] == 251
    for part in ("rows", "features", "drifted_features", "window", "quality", "ground_truth"):
        assert by_manifest[part] == by_folder[part], part
    # The only difference: the folder run also read hour 04, all outside the window.
    skipped_manifest = by_manifest["capture"]["records_skipped"]
    skipped_folder = by_folder["capture"]["records_skipped"]
    assert skipped_folder["outside-window"] - skipped_manifest["outside-window"] == 150
    # No labels: the placeholder is downloaded but read as nothing.
    assert list((roots["manifest"] / "ground-truth").rglob("*")) != []
    assert by_manifest["ground_truth"]["joined_rows"] == 0

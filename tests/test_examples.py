"""The client example sends what the endpoints and Model Monitor expect."""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from examples import invoke_model
from examples.invoke_model import ground_truth_key, invoke, put_ground_truth
from mlops_constructs.monitoring.runtime import monitor
from tests.helpers import load_handler


def _body(text: str) -> StreamingBody:
    data = text.encode()
    return StreamingBody(io.BytesIO(data), len(data))


def test_invoke_names_the_target_model_and_inference_id():
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    with Stubber(runtime) as stub:
        # Stubber checks the request against the real API model, so a wrong name fails.
        stub.add_response(
            "invoke_endpoint",
            {"Body": _body("0.25\n0.75\n"), "ContentType": "text/csv"},
            {
                "EndpointName": "dev-Serving-Endpoint-1A2B3C4D",
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "Body": b"1,0,0\n0,1,0",
                "TargetModel": "mlops-platform-dev-spend/v3.tar.gz",
                "InferenceId": "request-1",
            },
        )
        scores = invoke(
            runtime,
            "dev-Serving-Endpoint-1A2B3C4D",
            [[1, 0, 0], [0, 1, 0]],
            target_model="mlops-platform-dev-spend/v3.tar.gz",
            inference_id="request-1",
        )
    assert scores == [0.25, 0.75]


def test_single_model_requests_carry_no_target_model():
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": _body("7.5")},
            {"EndpointName": "e", "ContentType": "text/csv", "Accept": "text/csv", "Body": b"1,2"},
        )
        assert invoke(runtime, "e", [[1, 2]]) == [7.5]


def test_ground_truth_is_written_hourly_as_json_lines(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    when = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    assert ground_truth_key("endpoints/x/ground-truth/", when, "f") == (
        "endpoints/x/ground-truth/2026/11/22/09/f.jsonl"
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(
            Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        key = put_ground_truth(
            s3, "artifacts", "endpoints/x/ground-truth", {"a": 1, "b": 0}, when=when
        )
        assert key.startswith("endpoints/x/ground-truth/2026/11/22/09/")
        lines = s3.get_object(Bucket="artifacts", Key=key)["Body"].read().decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "groundTruthData": {"data": "1", "encoding": "CSV"},
            "eventMetadata": {"eventId": "a"},
            "eventVersion": "0",
        },
        {
            "groundTruthData": {"data": "0", "encoding": "CSV"},
            "eventMetadata": {"eventId": "b"},
            "eventVersion": "0",
        },
    ]


# --- the InferenceId carries the model version ----------------------------------------------

GROUP = "mlops-platform-dev-spend"
ENDPOINT = "dev-Serving-Endpoint-1A2B3C4D"


def _fixed_uuids(monkeypatch: pytest.MonkeyPatch, *hexes: str) -> None:
    """Make the example's uuid4 return these values in turn."""
    values = iter(uuid.UUID(h) for h in hexes)
    monkeypatch.setattr(invoke_model, "uuid4", lambda: next(values))


def test_invoke_endpoint_limits_are_those_of_the_api_model():
    # The limits check_inference_id enforces, against botocore's sagemaker-runtime model.
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    shape = model.operation_model("InvokeEndpoint").input_shape.members["InferenceId"]
    assert shape.metadata == {
        "min": 1,
        "max": invoke_model.INFERENCE_ID_MAX_LENGTH,
        "pattern": r"\A\S[\p{Print}]*\z",
    }


def test_inference_id_names_the_version_and_is_unique():
    first, second = invoke_model.inference_id(3), invoke_model.inference_id(3)
    assert first != second
    for value in (first, second):
        assert re.fullmatch(r"v3\.[0-9a-f]{32}", value)
        assert invoke_model.check_inference_id(value) == value
        assert invoke_model.version_of(value) == 3


@pytest.mark.parametrize("version", [0, -1, True, "3", 3.0, None])
def test_inference_id_refuses_what_is_not_a_version(version):
    with pytest.raises(ValueError, match="not a positive integer"):
        invoke_model.inference_id(version)


def test_an_inference_id_over_64_characters_is_refused_before_sending():
    assert len(invoke_model.inference_id(10**29)) == 64  # v + 30 digits + . + 32 hex
    with pytest.raises(ValueError, match="65 characters"):
        invoke_model.inference_id(10**30)
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    # No response queued: a request that were sent would fail the other way.
    with Stubber(runtime), pytest.raises(ValueError, match="1 to 64"):
        invoke(runtime, ENDPOINT, [[1, 0, 0]], inference_id="v3." + "a" * 62)


@pytest.mark.parametrize(
    "value", ["", " v3.abc", "\tv3.abc", "v3.a\nb", "v3.\u00e9t\u00e9", "v3.\x7f"]
)
def test_inference_ids_the_api_refuses_are_refused(value):
    with pytest.raises(ValueError, match="InferenceId"):
        invoke_model.check_inference_id(value)


def test_version_of_reads_only_the_version_prefix():
    assert invoke_model.version_of("v30.0123") == 30
    assert invoke_model.version_of("v3.") == 3
    for value in ("3.abc", "v3abc", "v03.abc", "v0.abc", "V3.abc", "x.v3.abc", "", "v.abc"):
        assert invoke_model.version_of(value) is None


def _captured(inference_id: str | None) -> dict[str, Any]:
    """A captured record as the "Capture data" page shows one, with ``inferenceId`` when the
    request carried an ``InferenceId``."""
    metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": "2026-11-22T09:30:00Z"}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "1,0,0\n",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv; charset=utf-8",
                "mode": "OUTPUT",
                "data": "0.25",
                "encoding": "CSV",
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }


def test_version_of_agrees_with_the_monitoring_jobs_filter(tmp_path):
    versions = (1, 3, 30, 300, 13)
    ids = {v: invoke_model.inference_id(v) for v in versions}
    others = ["3.abc", "v03.abc", "abc"]
    # The prefix test monitor.py applies to every captured record.
    for wanted in versions:
        prefix = monitor.version_prefix(str(wanted))
        for value in [*ids.values(), *others]:
            assert value.startswith(prefix) == (invoke_model.version_of(value) == wanted), (
                wanted,
                value,
            )
    # And the job's reader itself: of v3 and v30 records, version 3 keeps only its own.
    folder = tmp_path / "capture" / ENDPOINT / "AllTraffic" / "2026" / "11" / "22" / "09"
    folder.mkdir(parents=True)
    lines = [
        json.dumps(_captured(value))
        for value in (ids[3], ids[30], invoke_model.inference_id(3), None)
    ]
    (folder / "capture.jsonl").write_text("\n".join(lines) + "\n")
    kept, counts = monitor.read_captures(tmp_path / "capture", 3, monitor.version_prefix("3"))
    assert [invoke_model.version_of(k["inference_id"]) for k in kept] == [3, 3]
    assert counts["records_skipped"]["other-version"] == 1
    assert counts["records_skipped"]["no-inference-id"] == 1


def test_target_model_is_the_deployers_archive_name():
    deployer = load_handler("model_deployer")
    for version in (1, 3, 30):
        target = deployer.target_model(GROUP, version)
        assert invoke_model.target_model(GROUP, version) == target
        assert invoke_model.target_model_version(target) == version
    for target in (f"{GROUP}/v3.tar", f"{GROUP}/3.tar.gz", f"{GROUP}/v03.tar.gz", "v3.tar.gz"):
        with pytest.raises(ValueError, match="does not name a version"):
            invoke_model.target_model_version(target)


def test_calling_a_version_sends_its_id_and_labels_it(monkeypatch, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    request_hex, key_hex = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
    _fixed_uuids(monkeypatch, request_hex, key_hex)
    expected_id = f"v3.{request_hex}"
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(
            Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
        clients = {"s3": s3, "sagemaker-runtime": runtime}
        monkeypatch.setattr(invoke_model.boto3, "client", lambda service: clients[service])
        with Stubber(runtime) as stub:
            stub.add_response(
                "invoke_endpoint",
                {"Body": _body("0.25\n0.75\n"), "ContentType": "text/csv"},
                {
                    "EndpointName": ENDPOINT,
                    "ContentType": "text/csv",
                    "Accept": "text/csv",
                    "Body": b"1.0,0.0,0.0\n0.0,1.0,0.0",
                    "TargetModel": f"{GROUP}/v3.tar.gz",
                    "InferenceId": expected_id,
                },
            )
            invoke_model.main(
                [
                    "--endpoint", ENDPOINT,
                    "--target-model", f"{GROUP}/v3.tar.gz",
                    "--row", "1,0,0", "--label", "0",
                    "--row", "0,1,0", "--label", "1",
                    "--ground-truth-bucket", "artifacts",
                    "--ground-truth-prefix", f"endpoints/{ENDPOINT}/ground-truth",
                ]
            )  # fmt: skip
            stub.assert_no_pending_responses()
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert printed[0] == {"inferenceId": expected_id, "scores": [0.25, 0.75]}
        uri = printed[1]["groundTruth"]
        key = uri.removeprefix("s3://artifacts/")
        assert re.fullmatch(
            rf"endpoints/{ENDPOINT}/ground-truth/\d{{4}}/\d\d/\d\d/\d\d/{key_hex}\.jsonl", key
        )
        body = s3.get_object(Bucket="artifacts", Key=key)["Body"].read().decode()
    # One record, joined on the id the request carried, one label per row.
    assert [json.loads(line) for line in body.splitlines()] == [
        {
            "groundTruthData": {"data": "0.0,1.0", "encoding": "CSV"},
            "eventMetadata": {"eventId": expected_id},
            "eventVersion": "0",
        }
    ]


def test_a_single_model_endpoint_takes_the_version_as_an_option(monkeypatch, capsys):
    _fixed_uuids(monkeypatch, "0123456789abcdef0123456789abcdef")
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    monkeypatch.setattr(invoke_model.boto3, "client", lambda service: runtime)
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": _body("7.5")},
            {
                "EndpointName": "e",
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "Body": b"1.0,2.0",
                "InferenceId": "v12.0123456789abcdef0123456789abcdef",
            },
        )
        invoke_model.main(["--endpoint", "e", "--model-version", "12", "--row", "1,2"])
    assert json.loads(capsys.readouterr().out)["inferenceId"].startswith("v12.")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target-model", f"{GROUP}/latest.tar.gz"], "does not name a version"),
        (["--target-model", f"{GROUP}/v3.tar.gz", "--model-version", "4"], "is v3"),
        (["--model-version", "0"], "not a positive integer"),
        (["--label", "1", "--label", "0"], "one per row"),
        (["--label", "1"], "needs --ground-truth-bucket"),
    ],
)
def test_the_command_refuses_what_would_not_be_monitored(monkeypatch, capsys, argv, message):
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    monkeypatch.setattr(invoke_model.boto3, "client", lambda service: runtime)
    with Stubber(runtime), pytest.raises(SystemExit) as exit_info:  # nothing is sent
        invoke_model.main(["--endpoint", "e", "--row", "1,2", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


# --- inference components and A/B variants ------------------------------------------------

COMPONENT = "devserving-endpoint-mlops-platform-dev-spend-1a2b3c4d"


def _describe_component(model_name: str) -> dict[str, Any]:
    """A DescribeInferenceComponent response (the API model's required members)."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return {
        "InferenceComponentName": COMPONENT,
        "InferenceComponentArn": (
            f"arn:aws:sagemaker:eu-west-1:111122223333:inference-component/{COMPONENT}"
        ),
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:eu-west-1:111122223333:endpoint/{ENDPOINT.lower()}",
        "Specification": {"ModelName": model_name},
        "InferenceComponentStatus": "InService",
        "CreationTime": now,
        "LastModifiedTime": now,
    }


def test_invoke_names_the_component_or_the_variant():
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": _body("0.5")},
            {
                "EndpointName": ENDPOINT,
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "Body": b"1,0,0",
                "InferenceComponentName": COMPONENT,
                "InferenceId": "v2.x",
            },
        )
        stub.add_response(
            "invoke_endpoint",
            {"Body": _body("0.5")},
            {
                "EndpointName": ENDPOINT,
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "Body": b"1,0,0",
                "TargetModel": f"{GROUP}/v2.tar.gz",
                "TargetVariant": "Challenger",
            },
        )
        component = invoke(
            runtime, ENDPOINT, [[1, 0, 0]], inference_component=COMPONENT, inference_id="v2.x"
        )
        variant = invoke(
            runtime,
            ENDPOINT,
            [[1, 0, 0]],
            target_model=f"{GROUP}/v2.tar.gz",
            target_variant="Challenger",
        )
        stub.assert_no_pending_responses()
    assert component == variant == [0.5]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_model": f"{GROUP}/v2.tar.gz", "inference_component": COMPONENT}, "give one"),
        ({"inference_component": "a" * 64}, "1 to 63"),
        ({"inference_component": "-spend"}, "not starting or ending"),
        ({"target_variant": "All_Traffic"}, "letters, digits or hyphens"),
    ],
)
def test_invoke_refuses_names_the_api_refuses(kwargs, message):
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    with Stubber(runtime), pytest.raises(ValueError, match=message):  # nothing is sent
        invoke(runtime, ENDPOINT, [[1, 0, 0]], **kwargs)
    # Control: what is refused is what the API model refuses (its length or pattern).
    shape = runtime.meta.service_model.operation_model("InvokeEndpoint").input_shape.members
    members = {"inference_component": "InferenceComponentName", "target_variant": "TargetVariant"}
    if "target_model" not in kwargs:
        ((key, value),) = kwargs.items()
        metadata = shape[members[key]].metadata
        assert len(value) > metadata["max"] or not re.fullmatch(metadata["pattern"], value)


def test_component_version_reads_the_deployers_model_name():
    deployer = load_handler("model_deployer")
    sagemaker = boto3.client("sagemaker", region_name="eu-west-1")
    with Stubber(sagemaker) as stub:
        for version in (1, 3, 30):
            model = deployer.component_model_name(COMPONENT, version)
            stub.add_response(
                "describe_inference_component",
                _describe_component(model),
                {"InferenceComponentName": COMPONENT},
            )
            assert invoke_model.component_version(sagemaker, COMPONENT) == version
            assert deployer.served_version(COMPONENT, model) == version
        # Controls: a model the deployer did not name, or another component's, is refused.
        for foreign in ("my-own-model", f"{COMPONENT}-v03", f"{COMPONENT}x-v3"):
            stub.add_response(
                "describe_inference_component",
                _describe_component(foreign),
                {"InferenceComponentName": COMPONENT},
            )
            with pytest.raises(ValueError, match="give --model-version"):
                invoke_model.component_version(sagemaker, COMPONENT)
            assert deployer.served_version(COMPONENT, foreign) is None


def test_calling_a_component_reads_its_version_once_for_the_id(monkeypatch, capsys):
    _fixed_uuids(monkeypatch, "0123456789abcdef0123456789abcdef")
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    sagemaker = boto3.client("sagemaker", region_name="eu-west-1")
    clients = {"sagemaker": sagemaker, "sagemaker-runtime": runtime}
    monkeypatch.setattr(invoke_model.boto3, "client", lambda service: clients[service])
    with Stubber(sagemaker) as control, Stubber(runtime) as stub:
        control.add_response(
            "describe_inference_component",
            _describe_component(f"{COMPONENT}-v7"),
            {"InferenceComponentName": COMPONENT},
        )
        stub.add_response(
            "invoke_endpoint",
            {"Body": _body("0.9\n0.1")},
            {
                "EndpointName": ENDPOINT,
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "Body": b"1.0,0.0,0.0\n0.0,1.0,0.0",
                "InferenceComponentName": COMPONENT,
                "TargetVariant": "AllTraffic",
                "InferenceId": "v7.0123456789abcdef0123456789abcdef",
            },
        )
        invoke_model.main(
            [
                "--endpoint", ENDPOINT, "--inference-component", COMPONENT,
                "--target-variant", "AllTraffic", "--row", "1,0,0", "--row", "0,1,0",
            ]
        )  # fmt: skip
        control.assert_no_pending_responses()
        stub.assert_no_pending_responses()
    printed = json.loads(capsys.readouterr().out)
    assert printed["scores"] == [0.9, 0.1]
    assert invoke_model.version_of(printed["inferenceId"]) == 7


def test_a_given_version_skips_the_components_description(monkeypatch, capsys):
    _fixed_uuids(monkeypatch, "0123456789abcdef0123456789abcdef")
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    sagemaker = boto3.client("sagemaker", region_name="eu-west-1")
    clients = {"sagemaker": sagemaker, "sagemaker-runtime": runtime}
    monkeypatch.setattr(invoke_model.boto3, "client", lambda service: clients[service])
    # No response queued for DescribeInferenceComponent: calling it would fail.
    with Stubber(sagemaker), Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": _body("0.9")},
            {
                "EndpointName": ENDPOINT,
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "Body": b"1.0,0.0",
                "InferenceComponentName": COMPONENT,
                "InferenceId": "v4.0123456789abcdef0123456789abcdef",
            },
        )
        invoke_model.main(
            ["--endpoint", ENDPOINT, "--inference-component", COMPONENT, "--model-version", "4",
             "--row", "1,0"]
        )  # fmt: skip
    assert json.loads(capsys.readouterr().out)["inferenceId"].startswith("v4.")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--target-model", f"{GROUP}/v3.tar.gz", "--inference-component", COMPONENT],
            "not allowed with argument",
        ),
        (["--inference-component", "bad_name"], "--inference-component 'bad_name'"),
        (
            ["--target-model", f"{GROUP}/v3.tar.gz", "--target-variant", "a-"],
            "--target-variant 'a-'",
        ),
    ],
)
def test_the_command_refuses_mixed_or_malformed_targets(monkeypatch, capsys, argv, message):
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    monkeypatch.setattr(invoke_model.boto3, "client", lambda service: runtime)
    with Stubber(runtime), pytest.raises(SystemExit) as exit_info:  # nothing is sent
        invoke_model.main(["--endpoint", "e", "--row", "1,2", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err

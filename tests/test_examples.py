"""The client example sends what the endpoints and Model Monitor expect."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import boto3
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from examples.invoke_model import ground_truth_key, invoke, put_ground_truth


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

"""Call a model on the platform's endpoints, and send the ground truth Model Monitor needs.

Multi-model endpoint (the ``<env>/Serving`` stack): every approved version of a served model
is an archive under the endpoint's model prefix; a request names one with ``TargetModel``,
``<model package group>/v<version>.tar.gz``. The first request for a version loads it (a
few seconds); later ones hit the cache::

    python -m examples.invoke_model --endpoint <EndpointName output> \\
        --target-model mlops-platform-dev-spend/v3.tar.gz --row 1,0,0

Monitored endpoint (the ``<env>/Monitoring`` stack): one pinned version, no ``TargetModel``.
Send an ``InferenceId`` with each request, and later write the true label for that id under
the endpoint's ground-truth prefix (``--ground-truth-bucket``/``--ground-truth-prefix``):
Model Monitor joins the two to compute model quality and bias.

Credentials come from the usual boto3 chain; the caller needs ``sagemaker:InvokeEndpoint``
on the endpoint (``endpoint.grant_invoke(role)`` in CDK) and, for ground truth, write access
to the prefix (``monitor.grant_ground_truth_write(role)``).
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3


def invoke(
    runtime: Any,
    endpoint: str,
    rows: Sequence[Sequence[float]],
    *,
    target_model: str | None = None,
    inference_id: str | None = None,
) -> list[float]:
    """Score CSV ``rows`` (features only, in training order) and return one score per row."""
    body = "\n".join(",".join(str(v) for v in row) for row in rows)
    request: dict[str, Any] = {
        "EndpointName": endpoint,
        "ContentType": "text/csv",
        "Accept": "text/csv",
        "Body": body.encode(),
    }
    if target_model:
        request["TargetModel"] = target_model
    if inference_id:
        request["InferenceId"] = inference_id
    response = runtime.invoke_endpoint(**request)
    text = response["Body"].read().decode().strip()
    # Built-in XGBoost answers one score per line (or comma-separated on one line).
    return [float(v) for v in text.replace("\n", ",").split(",") if v]


def ground_truth_record(inference_id: str, label: float | int) -> dict[str, Any]:
    """One ground-truth record in the format Model Monitor merges with captured data."""
    return {
        "groundTruthData": {"data": str(label), "encoding": "CSV"},
        "eventMetadata": {"eventId": inference_id},
        "eventVersion": "0",
    }


def ground_truth_key(prefix: str, when: datetime, name: str) -> str:
    """``<prefix>/yyyy/mm/dd/hh/<name>.jsonl``: the hourly layout Model Monitor reads."""
    return f"{prefix.rstrip('/')}/{when:%Y/%m/%d/%H}/{name}.jsonl"


def put_ground_truth(
    s3: Any,
    bucket: str,
    prefix: str,
    labels: dict[str, float | int],
    *,
    when: datetime | None = None,
) -> str:
    """Write the labels (inference id -> true label) as one JSON Lines object; its key."""
    when = when or datetime.now(UTC)
    key = ground_truth_key(prefix, when, uuid.uuid4().hex)
    body = "\n".join(json.dumps(ground_truth_record(i, v)) for i, v in labels.items())
    # The artifacts bucket accepts only SSE-KMS uploads (its default key applies).
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ServerSideEncryption="aws:kms")
    return key


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--target-model", help="multi-model endpoint only: <group>/v<N>.tar.gz")
    parser.add_argument("--row", action="append", required=True, help="comma-separated features")
    parser.add_argument("--label", type=float, help="the true label, sent as ground truth")
    parser.add_argument("--ground-truth-bucket")
    parser.add_argument("--ground-truth-prefix")
    args = parser.parse_args(argv)
    rows = [[float(v) for v in row.split(",")] for row in args.row]
    inference_id = str(uuid.uuid4())
    scores = invoke(
        boto3.client("sagemaker-runtime"),
        args.endpoint,
        rows,
        target_model=args.target_model,
        inference_id=inference_id,
    )
    print(json.dumps({"inferenceId": inference_id, "scores": scores}))
    if args.label is not None and args.ground_truth_bucket and args.ground_truth_prefix:
        key = put_ground_truth(
            boto3.client("s3"),
            args.ground_truth_bucket,
            args.ground_truth_prefix,
            {inference_id: args.label},
        )
        print(json.dumps({"groundTruth": f"s3://{args.ground_truth_bucket}/{key}"}))


if __name__ == "__main__":
    main()

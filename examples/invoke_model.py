"""Call a model on the platform's endpoints, and send the ground truth monitoring needs.

The ``<env>/Serving`` stack serves in one of two ways (``serving.hosting``):

* **Multi-model endpoint**: every approved version of a served model is an archive under the
  endpoint's model prefix; a request names one with ``TargetModel``,
  ``<model package group>/v<version>.tar.gz``. The first request for a version loads it (a
  few seconds); later ones hit the cache::

    python -m examples.invoke_model --endpoint <EndpointName output> \\
        --target-model mlops-platform-dev-spend/v3.tar.gz --row 1,0,0

  With an A/B test, SageMaker splits requests between the variants by their weights;
  ``--target-variant`` (``TargetVariant``) pins one, e.g. the champion ``AllTraffic``::

    python -m examples.invoke_model --endpoint <EndpointName output> \\
        --target-model mlops-platform-dev-spend/v3.tar.gz --target-variant AllTraffic \\
        --row 0,1,0

* **Inference components**: one component per model, which the approved-model deployer
  keeps on the newest approved version; a request names the component with
  ``InferenceComponentName`` (``mlops_constructs.serving.component_name(endpoint, group)``;
  the ``InferenceComponents`` output of ``<env>/Serving`` maps each group to it), never a
  version::

    python -m examples.invoke_model --endpoint <EndpointName output> \\
        --inference-component <component name> --row 0,0,1

  The caller does not choose the version here, so the command reads the one the component
  serves once, before sending (``DescribeInferenceComponent``: the deployer names the
  component's model ``<component>-v<version>``, :func:`component_version`), and puts it in
  the ``InferenceId``. While the deployer rolls the component to a new version, a few
  requests sent with the old number are served by the new one (and the other way round);
  the monitoring job counts them under the number they carry. That call needs
  ``sagemaker:DescribeInferenceComponent`` on the component; ``--model-version`` skips it.
  An endpoint scaled to zero answers the first requests after an idle spell with an error
  while it starts an instance (``NoCapacityInvocationFailures``): retry after a few minutes.

Each request carries an ``InferenceId`` naming the version it asks for,
``v<version>.<32 hex digits>`` (:func:`inference_id`), and the true label is later written
for that id under the endpoint's ground-truth prefix (``--ground-truth-bucket`` and
``--ground-truth-prefix``, ``endpoints/<endpoint name>/ground-truth`` in the artifacts
bucket). A record that data capture writes does not say which model (or component version)
served it, so the monitoring job (``mlops_constructs/monitoring/runtime/monitor.py``)
keeps the records of the version it analyses by this prefix, and joins the labels on the id.
:func:`version_of` reads the version back as that job's filter does. A single-model
endpoint (the ``<env>/Monitoring`` stack's, one pinned version, no ``TargetModel``) takes
``--model-version`` for the same prefix; without a version the id is a bare UUID.

Credentials come from the usual boto3 chain; the caller needs ``sagemaker:InvokeEndpoint``
on the endpoint (``endpoint.grant_invoke(role)`` in CDK) and, for ground truth, write access
to the prefix (``artifacts.grant_prefix(role, f"{endpoint.prefix}ground-truth/")``, or
``monitor.grant_ground_truth_write(role)`` for a Model Monitor schedule's prefix).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import boto3

#: ``InvokeEndpoint``'s limits on ``InferenceId`` (botocore's ``sagemaker-runtime`` model:
#: length 1-64, pattern ``\A\S[\p{Print}]*\z``): printable ASCII, the first not a space.
#: botocore checks only the minimum before sending (65 characters or a leading space go out
#: and fail at the endpoint), so :func:`invoke` checks all of them.
INFERENCE_ID_MAX_LENGTH = 64
_INFERENCE_ID = re.compile(r"[!-~][ -~]*")

#: ``v<version>.`` at the start of an inference id: the prefix the monitoring job keeps
#: (``monitor.version_prefix``); a version is a positive whole number, written without
#: leading zeros as the model registry numbers them.
_VERSION_PREFIX = re.compile(r"v([1-9][0-9]*)\.")

#: ``TargetModel`` of a version on the multi-model endpoint, as the approved-model deployer
#: names its archive (``serving/runtime/model_deployer/index.py``, ``target_model``).
_TARGET_MODEL = re.compile(r"(?P<group>[^/]+)/v(?P<version>[1-9][0-9]*)\.tar\.gz")

#: ``InvokeEndpoint``'s pattern of ``InferenceComponentName`` and ``TargetVariant``
#: (botocore's ``sagemaker-runtime`` model; 1 to 63 characters), checked before sending.
NAME_MAX_LENGTH = 63
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")


def check_inference_id(value: str) -> str:
    """``value`` when ``InvokeEndpoint`` accepts it as an ``InferenceId``, else ValueError."""
    if not 1 <= len(value) <= INFERENCE_ID_MAX_LENGTH:
        raise ValueError(
            f"InferenceId {value!r} has {len(value)} characters: "
            f"InvokeEndpoint takes 1 to {INFERENCE_ID_MAX_LENGTH}"
        )
    if not _INFERENCE_ID.fullmatch(value):
        raise ValueError(
            f"InferenceId {value!r}: InvokeEndpoint takes printable characters, "
            "the first not whitespace"
        )
    return value


def _positive_version(version: int) -> int:
    # bool is an int in Python; a model package version is a positive whole number.
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"model version {version!r} is not a positive integer")
    return version


def inference_id(version: int) -> str:
    """A new ``InferenceId`` for a request to ``version``: ``v<version>.<uuid4 hex>``.

    The monitoring job keeps the captured records of a version by this prefix, and joins
    ground truth on the whole id, so the rest is unique (a random UUID)."""
    return check_inference_id(f"v{_positive_version(version)}.{uuid4().hex}")


def version_of(inference_id: str) -> int | None:
    """The model version an inference id names, or None when it names none.

    Agrees with the monitoring job's filter: an id is kept for version ``N`` exactly when it
    starts with ``v<N>.`` (so ``v30.…`` is not version 3)."""
    match = _VERSION_PREFIX.match(inference_id)
    return int(match.group(1)) if match else None


def target_model(group: str, version: int) -> str:
    """The ``TargetModel`` naming ``version`` of ``group`` on the multi-model endpoint."""
    return f"{group}/v{_positive_version(version)}.tar.gz"


def target_model_version(target: str) -> int:
    """The version a ``TargetModel`` names (``<group>/v<version>.tar.gz``), else ValueError."""
    match = _TARGET_MODEL.fullmatch(target)
    if not match:
        raise ValueError(
            f"TargetModel {target!r} does not name a version: expected "
            "<model package group>/v<version>.tar.gz"
        )
    return int(match.group("version"))


def component_version(sagemaker: Any, component: str) -> int:
    """The version ``component`` serves, read from ``DescribeInferenceComponent``: the
    deployer names its model ``<component>-v<version>``
    (``serving/runtime/model_deployer/index.py``, ``component_model_name``). ValueError for
    a component whose model is not named so (not one the deployer keeps)."""
    described = sagemaker.describe_inference_component(InferenceComponentName=component)
    model = (described.get("Specification") or {}).get("ModelName")
    match = (
        re.fullmatch(re.escape(component) + r"-v([1-9][0-9]*)", model)
        if isinstance(model, str)
        else None
    )
    if not match:
        raise ValueError(
            f"inference component {component} serves the model {model!r}, not one named "
            f"{component}-v<version> by the approved-model deployer: give --model-version"
        )
    return int(match.group(1))


def _check_name(option: str, value: str) -> str:
    if len(value) > NAME_MAX_LENGTH or not _NAME.fullmatch(value):
        raise ValueError(
            f"{option} {value!r}: InvokeEndpoint takes 1 to {NAME_MAX_LENGTH} letters, digits "
            "or hyphens, not starting or ending with a hyphen"
        )
    return value


def invoke(
    runtime: Any,
    endpoint: str,
    rows: Sequence[Sequence[float]],
    *,
    target_model: str | None = None,
    inference_component: str | None = None,
    target_variant: str | None = None,
    inference_id: str | None = None,
) -> list[float]:
    """Score CSV ``rows`` (features only, in training order) and return one score per row.

    ``target_model`` names a version on a multi-model endpoint, ``inference_component`` the
    component on an inference-component endpoint (not both: ValueError), ``target_variant``
    pins a production variant (an A/B test's)."""
    if target_model and inference_component:
        raise ValueError(
            "TargetModel is for a multi-model endpoint, InferenceComponentName for an "
            "inference-component endpoint: give one"
        )
    body = "\n".join(",".join(str(v) for v in row) for row in rows)
    request: dict[str, Any] = {
        "EndpointName": endpoint,
        "ContentType": "text/csv",
        "Accept": "text/csv",
        "Body": body.encode(),
    }
    if target_model:
        request["TargetModel"] = target_model
    if inference_component:
        request["InferenceComponentName"] = _check_name(
            "InferenceComponentName", inference_component
        )
    if target_variant:
        request["TargetVariant"] = _check_name("TargetVariant", target_variant)
    if inference_id is not None:
        request["InferenceId"] = check_inference_id(inference_id)
    response = runtime.invoke_endpoint(**request)
    text = response["Body"].read().decode().strip()
    # Built-in XGBoost answers one score per line (or comma-separated on one line).
    return [float(v) for v in text.replace("\n", ",").split(",") if v]


Label = float | int
Labels = Label | Sequence[Label]


def ground_truth_record(inference_id: str, label: Labels) -> dict[str, Any]:
    """One ground-truth record in the format the monitoring job (and Model Monitor) joins with
    the captured request of ``inference_id``: one label, or one per row of a batch."""
    labels = [label] if isinstance(label, int | float) else list(label)
    return {
        "groundTruthData": {"data": ",".join(str(v) for v in labels), "encoding": "CSV"},
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
    labels: dict[str, Labels],
    *,
    when: datetime | None = None,
) -> str:
    """Write the labels (inference id -> true label, or one per row) as one JSON Lines
    object; its key."""
    when = when or datetime.now(UTC)
    key = ground_truth_key(prefix, when, uuid4().hex)
    body = "\n".join(json.dumps(ground_truth_record(i, v)) for i, v in labels.items())
    # The artifacts bucket accepts only SSE-KMS uploads (its default key applies).
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ServerSideEncryption="aws:kms")
    return key


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--target-model", help="multi-model endpoint only: <group>/v<N>.tar.gz")
    target.add_argument(
        "--inference-component",
        help="inference-component endpoint only: the component serving the model",
    )
    parser.add_argument(
        "--target-variant", help="pin a production variant of an A/B test (TargetVariant)"
    )
    parser.add_argument(
        "--model-version",
        type=int,
        help=(
            "the version the endpoint (or component) serves, carried in the InferenceId; "
            "on a component read from DescribeInferenceComponent when not given"
        ),
    )
    parser.add_argument("--row", action="append", required=True, help="comma-separated features")
    parser.add_argument(
        "--label",
        type=float,
        action="append",
        help="the true label of a --row (one per row, in order), sent as ground truth",
    )
    parser.add_argument("--ground-truth-bucket")
    parser.add_argument("--ground-truth-prefix")
    args = parser.parse_args(argv)
    rows = [[float(v) for v in row.split(",")] for row in args.row]
    version = args.model_version
    if args.target_model:
        try:
            version = target_model_version(args.target_model)
        except ValueError as error:
            parser.error(str(error))
        if args.model_version is not None and args.model_version != version:
            parser.error(
                f"--model-version {args.model_version} but {args.target_model} is v{version}"
            )
    for option, value in (
        ("--inference-component", args.inference_component),
        ("--target-variant", args.target_variant),
    ):
        if value:
            try:
                _check_name(option, value)
            except ValueError as error:
                parser.error(str(error))
    if args.label and len(args.label) != len(rows):
        parser.error(f"{len(args.label)} --label for {len(rows)} --row: give one per row")
    if args.label and not (args.ground_truth_bucket and args.ground_truth_prefix):
        parser.error("--label needs --ground-truth-bucket and --ground-truth-prefix")
    if args.inference_component and version is None:
        # Once per command: a rolling update may change it while requests are in flight.
        try:
            version = component_version(boto3.client("sagemaker"), args.inference_component)
        except ValueError as error:
            parser.error(str(error))
    try:
        request_id = inference_id(version) if version is not None else str(uuid4())
    except ValueError as error:
        parser.error(str(error))
    scores = invoke(
        boto3.client("sagemaker-runtime"),
        args.endpoint,
        rows,
        target_model=args.target_model,
        inference_component=args.inference_component,
        target_variant=args.target_variant,
        inference_id=request_id,
    )
    print(json.dumps({"inferenceId": request_id, "scores": scores}))
    if args.label:
        key = put_ground_truth(
            boto3.client("s3"),
            args.ground_truth_bucket,
            args.ground_truth_prefix,
            {request_id: args.label},
        )
        print(json.dumps({"groundTruth": f"s3://{args.ground_truth_bucket}/{key}"}))


if __name__ == "__main__":
    main()

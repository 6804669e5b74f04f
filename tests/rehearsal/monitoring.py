"""The monitoring engine's run rehearsal: served traffic, captured as the endpoint captures it,
through the launcher, the monitoring job, the alarms and the retraining trigger.

What one environment deploys to watch a model is read from its synthesized templates
(:func:`find_engine`): the monitoring pipeline's ``MonitorModel`` step, the launcher function
and its schedule, the alarms, the retraining trigger, the serving endpoint's data capture
configuration and the approved-model deployer's hosting (``HOSTING``: its model prefix on a
multi-model endpoint, the model's component from ``COMPONENTS`` on an inference-component
endpoint). Everything else is produced here, the way the deployed system produces it:

* **traffic** (:func:`send`): rows sent through ``examples/invoke_model.py`` (``invoke`` with
  its ``TargetModel`` on a multi-model endpoint, or its ``InferenceComponentName`` with the
  version read from the component as the example reads it, :class:`DeployedComponent`; and
  ``InferenceId`` ``v<N>.<hex>``) to :class:`CapturingEndpoint`, which
  scores them with the registered model as the XGBoost container does
  (:class:`~tests.rehearsal.pipeline_runner.ServedModel`) and writes what data capture writes
  (page "Capture data", ``model-monitor-data-capture``): one JSON line per request with
  ``captureData.endpointInput``/``endpointOutput`` (``observedContentType``, ``mode``,
  ``data``, ``encoding``: ``CSV`` or ``JSON`` when the content type is one the endpoint
  config's ``CaptureContentTypeHeader`` lists, else ``BASE64``, as ``DataCaptureConfig`` in
  the API reference says), ``eventMetadata`` (``eventId``, ``inferenceId``,
  ``inferenceTime``) and ``eventVersion``, in ``<DestinationS3Uri>/<EndpointName>/
  <VariantName>/yyyy/mm/dd/hh/<file>.jsonl``; the labels go through ``put_ground_truth``;
* **the job's inputs** (:class:`MonitorRun`): the synthesized step's inputs downloaded as
  SageMaker downloads them (``ManifestFile``: each listed object at its key relative to the
  manifest's prefix; ``S3Prefix``: as the pipeline runner does), then the step's script (the
  stack's file asset) run with the step's arguments, the pipeline parameters being the ones
  the launcher passed to ``StartPipelineExecution``.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from tests.rehearsal.assembly import Assembly, UnresolvableError
from tests.rehearsal.pipeline_runner import (
    PipelineRun,
    ServedModel,
    StepFailed,
    SynthesizedPipeline,
    split_uri,
)

#: The monitoring pipeline's one step (``monitoring/_definition.py`` STEP_NAME).
STEP_NAME = "MonitorModel"
#: Data capture's ``mode`` of a request and of a response.
INPUT, OUTPUT = "INPUT", "OUTPUT"
#: The content type the built-in XGBoost container answers CSV requests with.
XGBOOST_CSV_RESPONSE = "text/csv; charset=utf-8"
#: A capture file per this many minutes of traffic (data capture buffers and writes files
#: in batches; the layout below the hour folder is not relied on by anyone).
FILE_MINUTES = 10


# --------------------------------------------------------------------------------------
# What the templates deploy
# --------------------------------------------------------------------------------------


@dataclass
class Engine:
    """One monitoring engine of an environment, resolved from its templates."""

    assembly: Assembly
    stack: str
    pipeline: SynthesizedPipeline
    launcher_env: dict[str, str]
    launcher_arn: str
    schedule: dict[str, Any]
    #: Every alarm of the environment: physical name -> resolved properties.
    alarms: dict[str, dict[str, Any]]
    retraining_env: dict[str, str]
    #: The endpoint's name, its variant, and its ``DataCaptureConfig``.
    endpoint: str
    variant: str
    capture_config: dict[str, Any]
    #: The deployer's ``MODEL_PREFIX`` (where an approved version's archive is copied on a
    #: multi-model endpoint).
    models_prefix: str
    #: The deployer's ``HOSTING``: ``multi-model`` or ``inference-components``.
    hosting: str = "multi-model"
    #: On an inference-component endpoint, the component serving the watched group.
    component: str | None = None

    @property
    def step(self) -> dict[str, Any]:
        return self.pipeline.step(STEP_NAME)

    @property
    def pipeline_name(self) -> str:
        return self.launcher_env["PIPELINE_NAME"]

    @property
    def bucket(self) -> str:
        return self.launcher_env["ARTIFACT_BUCKET"]

    @property
    def group(self) -> str:
        return self.launcher_env["MODEL_GROUP"]

    def argument(self, name: str) -> str:
        """The value of ``--name`` among the step's container arguments."""
        arguments = self.step["Arguments"]["AppSpecification"]["ContainerArguments"]
        return str(arguments[arguments.index(name) + 1])

    @property
    def features(self) -> list[str]:
        return self.argument("--features").split(",")

    def capture_prefix_uri(self) -> str:
        """Where the endpoint writes its capture ("Capture data": ``<DestinationS3Uri>/
        <EndpointName>/<VariantName>/``)."""
        destination = self.capture_config["DestinationS3Uri"].rstrip("/")
        return f"{destination}/{self.endpoint}/{self.variant}/"

    def model_archive_uri(self, version: int) -> str:
        """Where the deployer copies ``version`` (``<MODEL_PREFIX><group>/v<N>.tar.gz``)."""
        return f"s3://{self.bucket}/{self.models_prefix}{self.group}/v{version}.tar.gz"

    def served_archive_uri(self, version: int, registered: str) -> str:
        """The archive the endpoint serves ``version`` from: the deployer's copy on a
        multi-model endpoint, the package's registered ``ModelDataUrl`` (``registered``) on
        an inference-component endpoint (the deployer's model points at it)."""
        return self.model_archive_uri(version) if self.component is None else registered


def _environment(assembly: Assembly, stack: str, function: dict[str, Any]) -> dict[str, str]:
    props = assembly.props(stack, function)
    return dict(props.get("Environment", {}).get("Variables", {}))


def find_engine(assembly: Assembly, pipelines: Sequence[SynthesizedPipeline]) -> Engine:
    """The environment's one monitoring engine (UnresolvableError when there is not one)."""
    monitors = [p for p in pipelines if any(s["Name"] == STEP_NAME for s in p.definition["Steps"])]
    if len(monitors) != 1:
        raise UnresolvableError(f"expected one monitoring pipeline, found {len(monitors)}")
    (pipeline,) = monitors
    functions = [
        (stack, logical_id, _environment(assembly, stack, resource))
        for stack, logical_id, resource in assembly.resources("AWS::Lambda::Function")
    ]
    launchers = [f for f in functions if "CAPTURE_PREFIX" in f[2] and f[0] == pipeline.stack]
    retraining = [f for f in functions if "ALARM_NAMES" in f[2]]
    deployers = [f for f in functions if "MODEL_PREFIX" in f[2] and "HOSTING" in f[2]]
    if len(launchers) != 1 or len(retraining) != 1 or len(deployers) != 1:
        raise UnresolvableError(
            f"expected one launcher, retraining trigger and deployer: {len(launchers)}, "
            f"{len(retraining)}, {len(deployers)}"
        )
    stack, launcher_id, launcher_env = launchers[0]
    launcher_arn = assembly.get_att(stack, launcher_id, "Arn")
    schedules = [
        assembly.props(s, r)
        for s, _, r in assembly.resources("AWS::Scheduler::Schedule")
        if assembly.props(s, r)["Target"]["Arn"] == launcher_arn
    ]
    if len(schedules) != 1:
        raise UnresolvableError(f"expected one schedule invoking the launcher: {len(schedules)}")
    alarms = {
        assembly.ref(s, logical_id): assembly.props(s, r)
        for s, logical_id, r in assembly.resources("AWS::CloudWatch::Alarm")
    }
    configs = {}
    for s, logical_id, r in assembly.resources("AWS::SageMaker::EndpointConfig"):
        # Referenced by Ref or by Fn::GetAtt EndpointConfigName: both give its name.
        configs[assembly.ref(s, logical_id)] = assembly.props(s, r)
        configs[assembly.get_att(s, logical_id, "EndpointConfigName")] = assembly.props(s, r)
    captured = []
    for s, logical_id, resource in assembly.resources("AWS::SageMaker::Endpoint"):
        props = assembly.props(s, resource)
        config = configs[props["EndpointConfigName"]]
        if config.get("DataCaptureConfig", {}).get("EnableCapture", True) and config.get(
            "DataCaptureConfig"
        ):
            name = props.get("EndpointName") or assembly.ref(s, logical_id)
            captured.append((name, config))
    watched = [
        (name, config) for name, config in captured if f"/{name}/" in launcher_env["CAPTURE_PREFIX"]
    ]
    if len(watched) != 1:
        raise UnresolvableError(f"expected one capturing endpoint the launcher reads: {watched}")
    endpoint, config = watched[0]
    deployer_env = deployers[0][2]
    hosting = deployer_env["HOSTING"]
    component = None
    if hosting == "inference-components":
        components = json.loads(deployer_env["COMPONENTS"])
        group = launcher_env["MODEL_GROUP"]
        if group not in components or deployer_env["ENDPOINT_NAME"] != endpoint:
            raise UnresolvableError(f"the deployer keeps no component of {group} on {endpoint}")
        component = components[group]["name"]
    elif hosting != "multi-model":
        raise UnresolvableError(f"unknown HOSTING {hosting!r}")
    variants = launcher_env["CAPTURE_VARIANTS"].split(",")
    production = [v["VariantName"] for v in config["ProductionVariants"]]
    if variants != production:
        raise UnresolvableError(f"the launcher reads {variants}, the endpoint has {production}")
    return Engine(
        assembly=assembly,
        stack=stack,
        pipeline=pipeline,
        launcher_env=launcher_env,
        launcher_arn=launcher_arn,
        schedule=schedules[0],
        alarms=alarms,
        retraining_env=retraining[0][2],
        endpoint=endpoint,
        variant=config["ProductionVariants"][0]["VariantName"],
        capture_config=config["DataCaptureConfig"],
        models_prefix=deployer_env["MODEL_PREFIX"],
        hosting=hosting,
        component=component,
    )


# --------------------------------------------------------------------------------------
# Traffic, captured
# --------------------------------------------------------------------------------------


def capture_encoding(content_type: str, config: Mapping[str, Any]) -> str:
    """How data capture stores a payload of ``content_type``: ``CSV`` or ``JSON`` when the
    endpoint config's ``CaptureContentTypeHeader`` lists its media type, else ``BASE64``
    ("If no headers are specified SageMaker AI will by default base64 encode")."""
    media = content_type.split(";", 1)[0].strip().lower()
    header = config.get("CaptureContentTypeHeader", {})
    if media in (t.lower() for t in header.get("CsvContentTypes", [])):
        return "CSV"
    if media in (t.lower() for t in header.get("JsonContentTypes", [])):
        return "JSON"
    return "BASE64"


def _captured(body: bytes, content_type: str, mode: str, config: Mapping[str, Any]) -> dict:
    import base64

    encoding = capture_encoding(content_type, config)
    data = base64.b64encode(body).decode() if encoding == "BASE64" else body.decode("utf-8")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


class DeployedComponent:
    """Stands in for the ``sagemaker`` client's ``DescribeInferenceComponent`` of a component
    the approved-model deployer rolled to ``version``: its model named as the deployer names
    it (the handler's ``component_model_name``)."""

    def __init__(self, component: str, version: int) -> None:
        from tests.helpers import load_handler

        self.component = component
        self.model = load_handler("model_deployer").component_model_name(component, version)
        self.described = 0

    def describe_inference_component(self, InferenceComponentName: str) -> dict[str, Any]:
        if InferenceComponentName != self.component:
            raise AssertionError(f"described {InferenceComponentName}, not {self.component}")
        self.described += 1
        return {
            "InferenceComponentName": self.component,
            "Specification": {"ModelName": self.model},
            "InferenceComponentStatus": "InService",
        }


class CapturingEndpoint:
    """Stands in for the ``sagemaker-runtime`` client of an endpoint with data capture on:
    scores with ``served`` and records what capture writes for each request, timed by
    ``clock``. A request must name what the endpoint serves: a version of ``group``
    (``TargetModel``) on a multi-model endpoint, ``component`` (``InferenceComponentName``)
    on an inference-component one."""

    def __init__(
        self,
        served: ServedModel,
        endpoint: str,
        capture_config: Mapping[str, Any],
        clock: Callable[[], datetime],
        event_ids: Iterator[str],
        *,
        group: str,
        component: str | None = None,
    ) -> None:
        self.served = served
        self.endpoint = endpoint
        self.capture_config = capture_config
        self.clock = clock
        self.event_ids = event_ids
        self.group = group
        self.component = component
        self.records: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []

    def _check_target(self, request: Mapping[str, Any]) -> None:
        if request["EndpointName"] != self.endpoint:
            raise AssertionError(f"sent to {request['EndpointName']}, not {self.endpoint}")
        if self.component is not None:
            if request.get("InferenceComponentName") != self.component or "TargetModel" in request:
                raise AssertionError(f"an inference-component endpoint got {request}")
        else:
            from examples import invoke_model

            target = request.get("TargetModel", "")
            if "InferenceComponentName" in request or not target.startswith(f"{self.group}/"):
                raise AssertionError(f"a multi-model endpoint got {request}")
            invoke_model.target_model_version(target)

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self._check_target(request)
        self.requests.append(request)
        scores = self.served.score(request["Body"], request["ContentType"])
        # The container answers text/csv with one score per line.
        body = "\n".join(repr(s) for s in scores).encode()
        metadata = {
            "eventId": next(self.event_ids),
            "inferenceTime": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if "InferenceId" in request:
            metadata["inferenceId"] = request["InferenceId"]
        config = self.capture_config
        self.records.append(
            {
                "captureData": {
                    "endpointInput": _captured(
                        request["Body"], request["ContentType"], INPUT, config
                    ),
                    "endpointOutput": _captured(body, XGBOOST_CSV_RESPONSE, OUTPUT, config),
                },
                "eventMetadata": metadata,
                "eventVersion": "0",
            }
        )
        return {"Body": io.BytesIO(body), "ContentType": XGBOOST_CSV_RESPONSE}


@dataclass
class Traffic:
    """An hour of requests: the capture records and each inference id's true labels."""

    hour: datetime
    records: list[dict[str, Any]]
    labels: dict[str, list[float]]
    rows: list[list[float]]
    scores: list[float] = field(default_factory=list)
    #: The requests as the runtime client received them.
    requests: list[dict[str, Any]] = field(default_factory=list)


#: Rows per request, in turn: mostly single rows, some small batches (a CSV body of
#: several lines, one label per row in the ground truth).
BATCH_SIZES = (1, 1, 2, 1, 3)


def send(
    served: ServedModel,
    engine: Engine,
    rows: Sequence[Sequence[float]],
    labels: Sequence[float],
    *,
    version: int,
    hour: datetime,
) -> Traffic:
    """Send ``rows`` to version ``version`` through ``examples.invoke_model`` during ``hour``
    (requests spread over its minutes), captured as the endpoint captures them. On an
    inference-component endpoint the component serves ``version`` (the deployer's model
    name) and the client reads it from there, once, as ``invoke_model.main`` does."""
    from examples import invoke_model

    batches: list[tuple[int, int]] = []
    start = 0
    while start < len(rows):
        size = BATCH_SIZES[len(batches) % len(BATCH_SIZES)]
        batches.append((start, min(start + size, len(rows))))
        start += size
    step = timedelta(seconds=3600 / (len(batches) + 1))
    times = iter([hour + step * (i + 1) for i in range(len(batches))])
    ids = (str(UUID(int=i + 1)) for i in range(len(batches)))
    runtime = CapturingEndpoint(
        served,
        engine.endpoint,
        engine.capture_config,
        times.__next__,
        ids,
        group=engine.group,
        component=engine.component,
    )
    traffic = Traffic(hour, runtime.records, {}, [list(r) for r in rows], requests=runtime.requests)
    if engine.component is None:
        target: dict[str, str] = {"target_model": invoke_model.target_model(engine.group, version)}
        called = version
    else:
        target = {"inference_component": engine.component}
        deployed = DeployedComponent(engine.component, version)
        called = invoke_model.component_version(deployed, engine.component)
    for first, last in batches:
        request_id = invoke_model.inference_id(called)
        scores = invoke_model.invoke(
            runtime, engine.endpoint, rows[first:last], inference_id=request_id, **target
        )
        traffic.scores.extend(scores)
        traffic.labels[request_id] = [float(v) for v in labels[first:last]]
    return traffic


def capture_objects(traffic: Traffic, prefix_uri: str) -> dict[str, bytes]:
    """The capture files of ``traffic``: URI -> JSON Lines, in the hour folder of each
    record's ``inferenceTime``, one file per :data:`FILE_MINUTES`."""
    files: dict[str, list[str]] = {}
    for record in traffic.records:
        when = datetime.strptime(record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
        minute = when.minute - when.minute % FILE_MINUTES
        name = f"{when:%Y/%m/%d/%H}/{minute:02d}-00-000-{traffic.hour:%Y%m%d%H}.jsonl"
        files.setdefault(prefix_uri + name, []).append(json.dumps(record))
    return {uri: ("\n".join(lines) + "\n").encode() for uri, lines in files.items()}


def shifted(rows: Sequence[Sequence[float]], column: int, every: int = 5) -> list[list[float]]:
    """``rows`` with the one-hot ``column`` set to 1 in all but every ``every``-th row (the
    other columns untouched): an upstream defect flagging most rows with one category."""
    out = [list(r) for r in rows]
    for i, row in enumerate(out):
        if i % every:
            row[column] = 1.0
    return out


# --------------------------------------------------------------------------------------
# The monitoring job, from the synthesized step
# --------------------------------------------------------------------------------------


class MonitorRun(PipelineRun):
    """The monitoring pipeline run by :class:`PipelineRun`, with the step's ``ManifestFile``
    inputs downloaded as SageMaker downloads them: the manifest is read, and every object it
    lists (``prefix`` + relative key) is put at ``<LocalPath>/<relative key>``."""

    def _download_inputs(self, name: str, arguments: Mapping[str, Any], root: Path) -> None:
        manifests = [
            i
            for i in arguments.get("ProcessingInputs", [])
            if i["S3Input"]["S3DataType"] == "ManifestFile"
        ]
        others = [i for i in arguments.get("ProcessingInputs", []) if i not in manifests]
        super()._download_inputs(name, {"ProcessingInputs": others}, root)
        for item in manifests:
            s3_input = item["S3Input"]
            uri = s3_input["S3Uri"]
            if not self.s3.exists(uri):
                raise StepFailed(f"input {item['InputName']}: no manifest at {uri}")
            manifest = json.loads(self.s3.path(uri).read_text(encoding="utf-8"))
            if not isinstance(manifest, list) or not manifest or "prefix" not in manifest[0]:
                raise StepFailed(f"input {item['InputName']}: {uri} is not a manifest")
            prefix = manifest[0]["prefix"]
            folder = self._local(root, s3_input["LocalPath"])
            for relative in manifest[1:]:
                source = prefix + relative
                if not self.s3.exists(source):
                    raise StepFailed(f"input {item['InputName']}: {source} is listed, missing")
                target = folder / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self.s3.path(source).read_bytes())
            if len(manifest) == 1:
                raise StepFailed(f"input {item['InputName']}: the manifest {uri} lists nothing")

    def output_uri(self) -> str:
        outputs = self.properties[STEP_NAME]["ProcessingOutputConfig"]["Outputs"]
        return str(outputs[0]["S3Output"]["S3Uri"]).rstrip("/")

    def output(self, name: str) -> Any:
        """``name`` (``metrics.json``, ``results.json``) of the job's output, parsed."""
        return json.loads(self.s3.path(f"{self.output_uri()}/{name}").read_text(encoding="utf-8"))


def run_monitor(
    engine: Engine,
    parameters: Mapping[str, str],
    objects: Mapping[str, bytes],
    workdir: Path,
    execution_id: str,
) -> MonitorRun:
    """Run the synthesized monitoring pipeline with ``parameters`` (the launcher's) on an S3
    holding ``objects`` (URI -> body: what the account's buckets hold)."""
    run = MonitorRun(engine.pipeline, workdir, parameters=parameters, execution_id=execution_id)
    for uri, body in objects.items():
        run.s3.put_bytes(uri, body)
    run.run()
    run.raise_for_problems()
    return run


def bucket_objects(s3: Any, bucket: str) -> dict[str, bytes]:
    """Every object of ``bucket`` (a boto3 client's view), URI -> body."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[f"s3://{bucket}/{item['Key']}"] = body
    return found


@contextlib.contextmanager
def fake_account(
    monkeypatch: Any, boto3_session: Any, region: str, bucket: str
) -> Iterator[tuple[Any, Any]]:
    """moto in ``region`` with test credentials and ``boto3_session`` as boto3's default
    session, holding the artifacts ``bucket``: yields the S3 and SageMaker clients."""
    import boto3
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    with mock_aws():
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3_session)
        s3 = boto3.client("s3", region_name=region)
        sagemaker = boto3.client("sagemaker", region_name=region)
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        yield s3, sagemaker


def s3_key(uri: str) -> str:
    return split_uri(uri)[1]


# --------------------------------------------------------------------------------------
# Alarms
# --------------------------------------------------------------------------------------

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def crosses(alarm: Mapping[str, Any], value: float) -> bool:
    """Whether ``value`` (one hour's data point) breaches ``alarm``'s threshold."""
    return _COMPARE[alarm["ComparisonOperator"]](value, float(alarm["Threshold"]))


def alarm_state_change(
    template: Mapping[str, Any],
    name: str,
    alarm: Mapping[str, Any],
    arn: str,
    *,
    value: float,
    state: str = "ALARM",
    previous: str = "OK",
    when: datetime,
) -> dict[str, Any]:
    """The EventBridge ``CloudWatch Alarm State Change`` event of ``alarm`` (``template``:
    the published sample's shape, tests/events/) going from ``previous`` to ``state`` on
    ``value``: name, ARN, its Metrics Insights query and threshold in place of the sample's."""
    import copy

    event = copy.deepcopy(dict(template))
    event.pop("_comment", None)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    event["time"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["resources"] = [arn]
    detail = event["detail"]
    detail["alarmName"] = name
    detail["configuration"] = {
        "description": alarm.get("AlarmDescription", ""),
        "metrics": [
            {"id": m["Id"], "expression": m["Expression"], "returnData": m.get("ReturnData", True)}
            for m in alarm.get("Metrics", [])
        ],
    }
    threshold = float(alarm["Threshold"])
    crossed = "was" if state == "ALARM" else "was not"
    reason = (
        f"Threshold Crossed: 1 out of the last 1 datapoints [{value} ({when:%d/%m/%y %H:%M:%S})] "
        f"{crossed} {alarm['ComparisonOperator']} the threshold ({threshold})"
    )
    reason_data = {
        "version": "1.0",
        "queryDate": stamp,
        "period": 3600,
        "recentDatapoints": [value],
        "threshold": threshold,
    }
    detail["previousState"] = {"value": previous, "reason": "", "timestamp": stamp}
    detail["state"] = {
        "value": state,
        "reason": reason,
        "reasonData": json.dumps(reason_data),
        "timestamp": stamp,
    }
    return event


def datum(metrics: Mapping[str, Any], name: str, **dimensions: str) -> dict[str, Any]:
    """The one datum of ``metrics`` (metrics.json) named ``name`` with these dimensions
    among its own."""
    found = [
        d
        for d in metrics["MetricData"]
        if d["MetricName"] == name
        and all(
            any(x["Name"] == k and x["Value"] == v for x in d["Dimensions"])
            for k, v in dimensions.items()
        )
    ]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} data points {name} {dimensions}")
    return found[0]

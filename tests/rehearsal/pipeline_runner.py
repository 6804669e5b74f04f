"""Machinery of the offline run rehearsal of the training pipeline and the serving contract.

The pipeline is read from the *synthesized* cloud assembly, as CloudFormation will send it:
the ``AWS::SageMaker::Pipeline`` resource's ``PipelineDefinitionBody`` with its intrinsics
(``Fn::Join``, ``Fn::GetStackOutput``, ``Fn::GetAtt``...) resolved to stand-in physical names
(:class:`Assembly` of ``assembly.py``, the resolver the flows rehearsal uses too), and every
file asset of the stack's assets manifest published to a local fake S3 (:class:`FakeS3`) at
the bucket and key CDK would upload it to.

:class:`PipelineRun` then executes the definition's steps in dependency order, the way
SageMaker Pipelines does, resolving ``Get`` (parameters, ``Execution.PipelineExecutionId``,
``Steps.<name>.<property>``), ``Std:Join`` and ``Std:JsonGet``:

* ``Processing``: the code input's real script (the asset the entrypoint points at) runs as
  ``python3 <script> <ContainerArguments>`` in a subprocess, with every
  ``/opt/ml/processing/...`` path under a temporary folder named by ``MLOPS_PROCESSING_ROOT``
  (the contract the scripts keep); inputs are downloaded and outputs uploaded with S3's
  ``S3Prefix`` semantics. The monitoring baseline (``runtime/baseline.py`` on the best
  model's archive and the train split) runs this way too.
* ``Tuning``: each channel is validated the way the built-in XGBoost container validates it
  (``mlops_constructs.xgboost_channels``, the table read from the container's source), then
  one training job runs with the ``xgboost`` package at the image's version, the static
  hyperparameters and a value inside each tuned range, reading the channels as the container
  does (CSV, label in column 0, no header) and writing ``xgboost-model`` into
  ``<S3OutputPath>/<TrainingJobName>/output/model.tar.gz``.
* ``QualityCheck``/``ClarifyCheck``: their containers are not available, so their inputs are
  checked instead (dataset present and shaped as the configuration says, the Clarify analysis
  configuration delivered as ``analysis_config.json``), and Clarify's pre-training bias
  analysis runs with its own library (``smclarify``) on the dataset and the delivered
  configuration: a positive label selecting no row or every row, and every metric that ends
  in an error (an empty sensitive group...), is a problem. The baselines they would write are
  recorded as not produced offline.
* ``Condition``/``Fail``/``RegisterModel``: evaluated, failed, or recorded with every
  referenced artifact checked to exist.

Every problem found is collected (independent branches keep running, as they would) and
reported at once by :meth:`PipelineRun.raise_for_problems` in a :class:`RehearsalError`.

Container sources read (aws/sagemaker-xgboost-container, branch ``1.7-1``):
``algorithm_mode/channel_validation.py`` (channels), ``data_utils.py`` (CSV read through
``xgb.DMatrix('<dir>?format=csv&label_column=0')``, ``csv_weights`` puts weights in column 1),
``algorithm_mode/train.py`` and ``callback.py`` (``num_round``, early stopping on the tuning
objective with ``save_best``, ``bst.save_model('<model_dir>/xgboost-model')``),
``algorithm_mode/serve_utils.py`` and ``encoder.py`` (serving: the model file is loaded with
pickle, else ``Booster.load_model``; CSV payloads are parsed with ``csv.Sniffer`` and
``numpy``).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_constructs.training import xgboost_channels
from tests.rehearsal.assembly import Assembly

PROCESSING_ROOT = "/opt/ml/processing"
#: The environment variable the processing scripts read ``/opt/ml/processing`` from.
PROCESSING_ROOT_ENV = "MLOPS_PROCESSING_ROOT"
#: What the built-in XGBoost container names the model file (xgb_constants.MODEL_NAME).
XGBOOST_MODEL_FILE = "xgboost-model"
#: Where Clarify reads its analysis configuration (the ``analysis_config`` input's folder);
#: "Configure a SageMaker Clarify Processing Job",
#: https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-configure-parameters.html
CLARIFY_CONFIG_PATH = "/opt/ml/processing/input/config/analysis_config.json"
#: A processing script that takes longer than this on the rehearsal's small dataset hangs.
SCRIPT_TIMEOUT_SECONDS = 120


class RehearsalError(AssertionError):
    """The rehearsal found problems; ``problems`` lists every one."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"The run rehearsal found {len(self.problems)} problem(s):\n{lines}")


# --------------------------------------------------------------------------------------------
# The cloud assembly: the synthesized pipelines and what their stacks deploy
# --------------------------------------------------------------------------------------------


@dataclass
class SynthesizedPipeline:
    """One ``AWS::SageMaker::Pipeline`` of an environment: its resolved definition and the
    file assets its stack publishes (S3 URI -> local file)."""

    env: str
    stack: str
    logical_id: str
    definition: dict[str, Any]
    assets: dict[str, Path]
    #: Objects the stack writes at deploy time (``Custom::AWS`` S3 ``putObject``): URI -> body.
    deployed: dict[str, bytes] = field(default_factory=dict)

    def copy(self) -> SynthesizedPipeline:
        """A deep copy of the definition, for deliberately broken variants."""
        return SynthesizedPipeline(
            self.env,
            self.stack,
            self.logical_id,
            copy.deepcopy(self.definition),
            dict(self.assets),
            dict(self.deployed),
        )

    @property
    def deploy_time_uris(self) -> set[str]:
        """Every object that exists once the stack is deployed (assets and uploads)."""
        return set(self.assets) | set(self.deployed)

    def step(self, name: str) -> dict[str, Any]:
        """The step called ``name`` (condition branches included)."""
        for step in _all_steps(self.definition["Steps"]):
            if step["Name"] == name:
                return step
        raise KeyError(name)

    def parameter_default(self, name: str) -> Any:
        for parameter in self.definition.get("Parameters", []):
            if parameter["Name"] == name:
                return parameter.get("DefaultValue")
        raise KeyError(name)


def load_pipelines(outdir: Path, env: str) -> list[SynthesizedPipeline]:
    """Every pipeline of environment ``env`` in the cloud assembly at ``outdir``."""
    assembly = Assembly.load(Path(outdir) / f"assembly-{env}")
    pipelines = []
    for stack, logical_id, resource in assembly.resources("AWS::SageMaker::Pipeline"):
        body = resource["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
        definition = json.loads(assembly.resolve(stack, body))
        pipelines.append(
            SynthesizedPipeline(
                env,
                stack,
                logical_id,
                definition,
                assembly.file_assets(stack),
                deployed_objects(assembly, stack),
            )
        )
    return pipelines


def deployed_objects(assembly: Assembly, stack: str) -> dict[str, bytes]:
    """Objects the stack called ``stack`` writes when deployed: each ``Custom::AWS`` resource
    (CDK's ``AwsCustomResource``) whose create call is S3 ``putObject``, at its bucket and key."""
    objects: dict[str, bytes] = {}
    for resource in assembly.stacks[stack].template.get("Resources", {}).values():
        if resource["Type"] != "Custom::AWS" or "Create" not in resource["Properties"]:
            continue
        call = json.loads(assembly.resolve(stack, resource["Properties"]["Create"]))
        service = str(call.get("service", "")).lower()
        if service in ("s3", "@aws-sdk/client-s3") and call.get("action") in (
            "putObject",
            "PutObjectCommand",
        ):
            parameters = call["parameters"]
            body = parameters.get("Body", "")
            objects[f"s3://{parameters['Bucket']}/{parameters['Key']}"] = (
                body.encode("utf-8") if isinstance(body, str) else bytes(body)
            )
    return objects


def _all_steps(steps: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step  # type: ignore[misc]
        if step["Type"] == "Condition":
            yield from _all_steps(step["Arguments"].get("IfSteps", []))
            yield from _all_steps(step["Arguments"].get("ElseSteps", []))


# --------------------------------------------------------------------------------------------
# A local fake S3 with SageMaker's S3Prefix semantics
# --------------------------------------------------------------------------------------------


def split_uri(uri: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"expected an s3:// URI, got {uri!r}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def relative_name(prefix_uri: str, object_uri: str) -> str:
    """Where an ``S3Prefix`` input puts an object, relative to its ``LocalPath``: the key
    after the prefix; an object whose key is the whole prefix keeps its file name (the SDK's
    code input relies on this: ``<LocalPath>/<script name>``)."""
    _, prefix = split_uri(prefix_uri)
    _, key = split_uri(object_uri)
    if key == prefix:
        return key.rsplit("/", 1)[-1]
    if prefix.endswith("/") or key[len(prefix)] == "/":
        return key[len(prefix) :].lstrip("/")
    return key[prefix.rfind("/") + 1 :]


class FakeS3:
    """Objects as files under ``root/<bucket>/<key>``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, uri: str) -> Path:
        bucket, key = split_uri(uri)
        return self.root / bucket / key

    def put_file(self, uri: str, source: Path) -> None:
        target = self.path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def put_bytes(self, uri: str, body: bytes) -> None:
        target = self.path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)

    def put_tree(self, prefix_uri: str, folder: Path) -> None:
        """Upload every file under ``folder`` to ``prefix_uri/<relative path>``."""
        for file in sorted(Path(folder).rglob("*")):
            if file.is_file():
                relative = file.relative_to(folder).as_posix()
                self.put_file(f"{prefix_uri.rstrip('/')}/{relative}", file)

    def exists(self, uri: str) -> bool:
        return self.path(uri).is_file()

    def keys(self, prefix_uri: str) -> list[str]:
        """Keys of the objects whose key starts with the URI's key (S3 ListObjects)."""
        bucket, prefix = split_uri(prefix_uri)
        base = self.root / bucket
        if not base.is_dir():
            return []
        return sorted(
            k
            for k in (p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
            if k.startswith(prefix)
        )

    def download_prefix(self, prefix_uri: str, folder: Path) -> list[Path]:
        """``S3Prefix`` input: every object under the prefix, named relative to it (an object
        whose key is the whole prefix keeps its file name, as the SDK's code input expects)."""
        bucket, _ = split_uri(prefix_uri)
        files = []
        for key in self.keys(prefix_uri):
            target = Path(folder) / relative_name(prefix_uri, f"s3://{bucket}/{key}")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.root / bucket / key, target)
            files.append(target)
        return files


# --------------------------------------------------------------------------------------------
# Static checks (no execution): what every environment's definition must satisfy
# --------------------------------------------------------------------------------------------


def image_version(image_uri: str) -> str:
    """``1.7-1`` of ``<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:1.7-1``."""
    return image_uri.rsplit(":", 1)[-1]


def channel_problems(step_name: str, job: Mapping[str, Any]) -> list[str]:
    """Problems the built-in XGBoost container raises for the job's channels (its
    ``Channels.validate``: required ``train``, no extraneous channel, each channel's exact
    (content type, input mode, distribution) registered)."""
    algorithm = job["AlgorithmSpecification"]
    image = algorithm.get("TrainingImage", "")
    if "sagemaker-xgboost" not in image:
        return [f"{step_name}: image {image!r} is not the built-in XGBoost algorithm"]
    version = image_version(image)
    problems = []
    channels = job.get("InputDataConfig", [])
    names = [c["ChannelName"] for c in channels]
    if "train" not in names:
        problems.append(f"{step_name}: Missing required channel: train")
    for channel in channels:
        name = channel["ChannelName"]
        if name not in xgboost_channels.DATA_CHANNELS:
            problems.append(f"{step_name}: Extraneous channel found: {name}")
            continue
        # The container's default content type is text/libsvm (channel_validation.py).
        content_type = channel.get("ContentType", "text/libsvm")
        mode = channel.get("InputMode") or algorithm.get("TrainingInputMode", "File")
        distribution = channel["DataSource"]["S3DataSource"].get(
            "S3DataDistributionType", "FullyReplicated"
        )
        message = xgboost_channels.problem(version, content_type, mode)
        if message is None and distribution not in xgboost_channels.DISTRIBUTIONS:
            message = f"distribution {distribution} is not registered"
        if message is not None:
            problems.append(
                f"{step_name}: Channel configuration for '{name}' channel is not supported: "
                f"ContentType={content_type}, TrainingInputMode={mode}, "
                f"S3DistributionType={distribution} ({message})"
            )
    return problems


def _literal_s3_uris(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("s3://"):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _literal_s3_uris(v)
    elif isinstance(value, dict) and "Get" not in value and "Std:Join" not in value:
        for v in value.values():
            yield from _literal_s3_uris(v)


def _literal_outputs(steps: Sequence[Mapping[str, Any]]) -> list[str]:
    outputs = []
    for step in _all_steps(steps):
        config = step.get("Arguments", {}).get("ProcessingOutputConfig", {})
        for item in config.get("Outputs", []):
            uri = item["S3Output"]["S3Uri"]
            if isinstance(uri, str):
                outputs.append(uri.rstrip("/"))
    return outputs


def _read_uris(step: Mapping[str, Any]) -> list[str]:
    """Literal S3 URIs a step reads: its processing inputs; everything a model package
    registration refers to."""
    arguments = step.get("Arguments", {})
    if step["Type"] == "RegisterModel":
        return sorted(set(_literal_s3_uris(arguments)))
    return [
        i["S3Input"]["S3Uri"]
        for i in arguments.get("ProcessingInputs", [])
        if isinstance(i["S3Input"]["S3Uri"], str)
    ]


def static_problems(pipeline: SynthesizedPipeline) -> list[str]:
    """What fails before any data flows: unsupported channels, objects the definition reads
    that nothing writes at deploy time (no asset, no deploy-time upload, no step output),
    code and Clarify configuration not delivered under the name their consumer reads."""
    problems = []
    existing = pipeline.deploy_time_uris
    written = _literal_outputs(pipeline.definition["Steps"])
    for step in _all_steps(pipeline.definition["Steps"]):
        name, arguments = step["Name"], step.get("Arguments", {})
        if step["Type"] == "Tuning":
            problems += channel_problems(name, arguments["TrainingJobDefinition"])
        elif step["Type"] == "Training":
            problems += channel_problems(name, arguments)
        for uri in _read_uris(step):
            if any(uri.startswith(f"{w}/") for w in written):
                continue
            if not any(e.startswith(uri) for e in existing):
                problems.append(f"{name}: reads {uri}, which nothing writes at deploy time")
        inputs = {i["InputName"]: i for i in arguments.get("ProcessingInputs", [])}
        problems += _nested_input_problems(name, list(inputs.values()))
        entrypoint = arguments.get("AppSpecification", {}).get("ContainerEntrypoint") or []
        for path in entrypoint[1:2]:
            problems += _delivery_problems(name, path, inputs.values(), pipeline)
        if step["Type"] == "ClarifyCheck":
            if "analysis_config" not in inputs:
                problems.append(f"{name}: no 'analysis_config' input")
            else:
                problems += _delivery_problems(
                    name, CLARIFY_CONFIG_PATH, [inputs["analysis_config"]], pipeline
                )
    return problems


def _nested_input_problems(step_name: str, inputs: Sequence[Mapping[str, Any]]) -> list[str]:
    """An input downloaded inside another's folder: whoever reads the outer folder (a
    dataset reader walking it, as ``pandas.read_parquet`` does) reads the inner files too."""
    problems = []
    paths = {i["InputName"]: str(i["S3Input"]["LocalPath"]).rstrip("/") for i in inputs}
    for outer, outer_path in paths.items():
        for inner, inner_path in paths.items():
            if inner != outer and inner_path.startswith(outer_path + "/"):
                problems.append(
                    f"{step_name}: input '{inner}' ({inner_path}) is downloaded inside input "
                    f"'{outer}' ({outer_path}): reading {outer_path} also reads its files"
                )
    return problems


def _delivery_problems(
    step_name: str,
    container_path: str,
    inputs: Any,
    pipeline: SynthesizedPipeline,
) -> list[str]:
    """Whether an input whose S3 URI is a literal (deployed with the stack) delivers
    ``container_path``, with ``S3Prefix`` naming (:meth:`FakeS3.download_prefix`)."""
    delivered = []
    for item in inputs:
        s3_input = item["S3Input"]
        uri, local = s3_input["S3Uri"], s3_input["LocalPath"].rstrip("/")
        if not isinstance(uri, str) or not container_path.startswith(local + "/"):
            continue
        names = sorted(
            relative_name(uri, u) for u in pipeline.deploy_time_uris if u.startswith(uri)
        )
        delivered += [f"{local}/{n}" for n in names]
        if container_path in delivered:
            return []
    return [
        f"{step_name}: the container reads {container_path}, but the inputs deliver "
        f"{delivered or 'nothing there'}"
    ]


# --------------------------------------------------------------------------------------------
# Pipeline expressions
# --------------------------------------------------------------------------------------------

_PATH_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['([^']*)'\]")


def property_path(path: str) -> list[str | int]:
    """``Outputs['train'].S3Output.S3Uri`` -> ``['Outputs', ('train'), 'S3Output', ...]``."""
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"cannot parse property path {path!r} at {position}")
        name, index, key = match.groups()
        tokens.append(name if name is not None else int(index) if index is not None else f"'{key}")
        position = match.end()
    return tokens


def walk(value: Any, tokens: Sequence[str | int], what: str) -> Any:
    """Follow a property path; ``'name`` picks the list element whose ``*Name`` is name."""
    for token in tokens:
        if isinstance(token, int):
            value = value[token]
        elif token.startswith("'"):
            wanted = token[1:]
            if isinstance(value, dict):
                value = value[wanted]
                continue
            matches = [
                v
                for v in value
                if any(k.endswith("Name") and v[k] == wanted for k in v if isinstance(v, dict))
            ]
            if not matches:
                raise KeyError(f"{what}: no element named {wanted!r}")
            value = matches[0]
        else:
            if not isinstance(value, dict) or token not in value:
                raise KeyError(f"{what}: no property {token!r}")
            value = value[token]
    return value


def json_path(document: Any, path: str) -> Any:
    """The JsonGet path subset SageMaker documents (``a.b[0].c``)."""
    return walk(document, property_path(path), f"JsonGet {path!r}")


def references(value: Any) -> set[str]:
    """The step names a definition fragment reads properties of."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Get" in value and isinstance(value["Get"], str) and value["Get"].startswith("Steps."):
            found.add(value["Get"].split(".")[1])
        for v in value.values():
            found |= references(v)
    elif isinstance(value, list):
        for v in value:
            found |= references(v)
    return found


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


class StepFailed(Exception):
    """One step failed; the message says why (and is reported with the step's name)."""


@dataclass
class NotProduced:
    """An S3 URI a step that cannot run offline would write (a baseline)."""

    uri: str
    step: str


@dataclass
class Registration:
    """The RegisterModel step's request, resolved, and what was checked about it."""

    step: str
    request: dict[str, Any]
    checked_artifacts: list[str] = field(default_factory=list)
    not_produced: list[NotProduced] = field(default_factory=list)

    @property
    def model_data_urls(self) -> list[str]:
        containers = self.request["InferenceSpecification"]["Containers"]
        return [c["ModelDataUrl"] for c in containers]

    @property
    def monitoring_baseline_uri(self) -> str | None:
        """The version's monitoring baseline (baseline.json): the package's
        ``ModelMetrics.ModelDataQuality.Statistics``."""
        metrics = self.request.get("ModelMetrics", {})
        statistics = metrics.get("ModelDataQuality", {}).get("Statistics", {})
        return statistics.get("S3Uri")


#: A check of a property file's content (its JSON): the problems found, if any.
Expectation = Callable[[Mapping[str, Any]], list[str]]


class PipelineRun:
    """One execution of a synthesized pipeline on this machine.

    ``workdir`` holds the fake S3 and each job's folders. ``input_data`` (URI -> local folder)
    is uploaded first, standing in for the data already in the lake. ``expectations`` map a
    property file name to a check of its content (e.g. a metric the dataset makes possible).
    """

    def __init__(
        self,
        pipeline: SynthesizedPipeline,
        workdir: Path,
        *,
        input_data: Mapping[str, Path] | None = None,
        parameters: Mapping[str, Any] | None = None,
        expectations: Mapping[str, Expectation] | None = None,
        execution_id: str = "rehearsal0001",
    ) -> None:
        self.pipeline = pipeline
        self.workdir = Path(workdir)
        self.s3 = FakeS3(self.workdir / "s3")
        self.execution_id = execution_id
        self.parameters = {
            p["Name"]: p.get("DefaultValue") for p in pipeline.definition.get("Parameters", [])
        }
        self.parameters.update(parameters or {})
        self.expectations = dict(expectations or {})
        self.properties: dict[str, dict[str, Any]] = {}
        self.property_files: dict[str, dict[str, Any]] = {}
        self.status: dict[str, str] = {}
        self.problems: list[str] = []
        self.registrations: list[Registration] = []
        self.not_produced: list[NotProduced] = []
        self.log: list[str] = []
        for uri, source in pipeline.assets.items():
            self.s3.put_file(uri, source)
        for uri, body in pipeline.deployed.items():
            self.s3.put_bytes(uri, body)
        for uri, folder in (input_data or {}).items():
            self.s3.put_tree(uri, folder)

    # ---- expressions ---------------------------------------------------------------------

    def value(self, expression: Any) -> Any:
        """``expression`` with the pipeline's functions and properties evaluated."""
        if isinstance(expression, list):
            return [self.value(v) for v in expression]
        if not isinstance(expression, dict):
            return expression
        if set(expression) == {"Get"}:
            return self._get(expression["Get"])
        if set(expression) == {"Std:Join"}:
            join = expression["Std:Join"]
            return join["On"].join(str(self.value(v)) for v in join["Values"])
        if set(expression) == {"Std:JsonGet"}:
            json_get = expression["Std:JsonGet"]
            reference = json_get["PropertyFile"]["Get"]
            _, step, _, name = reference.split(".")
            document = self.property_files.get(step, {}).get(name)
            if document is None:
                raise StepFailed(f"JsonGet: property file {name} of {step} was not produced")
            return json_path(document, json_get["Path"])
        return {k: self.value(v) for k, v in expression.items()}

    def _get(self, path: str) -> Any:
        root, _, rest = path.partition(".")
        if root == "Parameters":
            if rest not in self.parameters:
                raise StepFailed(f"unknown parameter {rest}")
            return self.parameters[rest]
        if root == "Execution":
            if rest == "PipelineExecutionId":
                return self.execution_id
            raise StepFailed(f"execution variable {rest} is not rehearsed")
        if root == "Steps":
            step, _, property_ = rest.partition(".")
            if step not in self.properties:
                raise StepFailed(f"reads {path} before step {step} has run")
            return walk(self.properties[step], property_path(property_), path)
        raise StepFailed(f"unknown reference {path}")

    # ---- order -----------------------------------------------------------------------------

    def _dependencies(self, step: Mapping[str, Any]) -> set[str]:
        return set(step.get("DependsOn", [])) | references(step.get("Arguments", {}))

    def run(self) -> PipelineRun:
        """Execute every step whose dependencies succeeded; record all problems."""
        self._run_steps(self.pipeline.definition["Steps"])
        return self

    def _run_steps(self, steps: Sequence[Mapping[str, Any]]) -> None:
        pending = list(steps)
        while pending:
            ready = next(
                (
                    s
                    for s in pending
                    if all(d in self.status for d in self._dependencies(s) - {s["Name"]})
                ),
                None,
            )
            if ready is None:
                names = [s["Name"] for s in pending]
                self.problems.append(f"steps {names} wait on steps that never run (a cycle?)")
                return
            pending.remove(ready)
            self._run_step(ready)

    def _run_step(self, step: Mapping[str, Any]) -> None:
        name = step["Name"]
        blocked = sorted(d for d in self._dependencies(step) if self.status.get(d) != "Succeeded")
        if blocked:
            self.status[name] = "NotRun"
            self.log.append(f"{name}: not run (depends on {blocked})")
            return
        executor = {
            "Processing": self._processing,
            "Tuning": self._tuning,
            "QualityCheck": self._quality_check,
            "ClarifyCheck": self._clarify_check,
            "Condition": self._condition,
            "RegisterModel": self._register,
            "Fail": self._fail,
        }.get(step["Type"])
        try:
            if executor is None:
                raise StepFailed(f"step type {step['Type']} is not rehearsed")
            executor(step)
        except (StepFailed, KeyError, ValueError, OSError) as error:
            self.status[name] = "Failed"
            self.problems.append(f"{name}: {error}")
            return
        self.status[name] = "Succeeded"
        self.log.append(f"{name}: succeeded")

    # ---- processing --------------------------------------------------------------------

    def _job_root(self, step: str) -> Path:
        root = self.workdir / "jobs" / step / "processing"
        root.mkdir(parents=True, exist_ok=True)
        return root

    @staticmethod
    def _local(root: Path, container_path: str) -> Path:
        if container_path != PROCESSING_ROOT and not container_path.startswith(
            PROCESSING_ROOT + "/"
        ):
            raise StepFailed(f"LocalPath {container_path} is not under {PROCESSING_ROOT}")
        return root / container_path[len(PROCESSING_ROOT) :].lstrip("/")

    def _download_inputs(self, name: str, arguments: Mapping[str, Any], root: Path) -> None:
        for item in arguments.get("ProcessingInputs", []):
            s3_input = item["S3Input"]
            uri = s3_input["S3Uri"]
            if s3_input.get("S3InputMode", "File") != "File":
                raise StepFailed(f"input {item['InputName']}: only File mode is rehearsed")
            folder = self._local(root, s3_input["LocalPath"])
            if s3_input.get("S3DataType", "S3Prefix") == "S3Prefix":
                files = self.s3.download_prefix(uri, folder)
            else:
                raise StepFailed(f"input {item['InputName']}: S3DataType is not rehearsed")
            if not files:
                # What CreateProcessingJob's download reports for an empty prefix.
                raise StepFailed(f"input {item['InputName']}: no S3 objects found under {uri}")

    def _upload_outputs(self, arguments: Mapping[str, Any], root: Path) -> None:
        for item in arguments.get("ProcessingOutputConfig", {}).get("Outputs", []):
            s3_output = item["S3Output"]
            folder = self._local(root, s3_output["LocalPath"])
            if folder.is_dir():
                self.s3.put_tree(s3_output["S3Uri"], folder)

    def _processing(self, step: Mapping[str, Any]) -> None:
        name = step["Name"]
        arguments = self.value(step["Arguments"])
        root = self._job_root(name)
        self._download_inputs(name, arguments, root)
        app = arguments["AppSpecification"]
        entrypoint = app.get("ContainerEntrypoint") or []
        if len(entrypoint) != 2 or entrypoint[0] != "python3":
            raise StepFailed(f"entrypoint {entrypoint}: expected ['python3', <script>]")
        script = self._local(root, entrypoint[1])
        if not script.is_file():
            raise StepFailed(f"the entrypoint {entrypoint[1]} was not delivered by any input")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.workdir),
            "OMP_NUM_THREADS": "1",
            PROCESSING_ROOT_ENV: str(root),
            **{k: str(v) for k, v in (arguments.get("Environment") or {}).items()},
        }
        result = subprocess.run(
            [sys.executable, str(script), *app.get("ContainerArguments", [])],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-6:])
            nested = _nested_input_problems(name, step["Arguments"].get("ProcessingInputs", []))
            hint = "".join(f"\n(likely cause: {p.removeprefix(name + ': ')})" for p in nested)
            raise StepFailed(f"{entrypoint[1]} exited with {result.returncode}:\n{tail}{hint}")
        self._upload_outputs(arguments, root)
        outputs = {
            o["OutputName"]: o["S3Output"]["S3Uri"]
            for o in arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
        }
        files: dict[str, Any] = {}
        for property_file in step.get("PropertyFiles", []):
            uri = f"{outputs[property_file['OutputName']].rstrip('/')}/{property_file['FilePath']}"
            if not self.s3.exists(uri):
                raise StepFailed(
                    f"property file {property_file['PropertyFileName']}: {uri} missing"
                )
            document = json.loads(self.s3.path(uri).read_text(encoding="utf-8"))
            files[property_file["PropertyFileName"]] = document
            expectation = self.expectations.get(property_file["PropertyFileName"])
            if expectation is not None:
                found = expectation(document)
                if found:
                    self.property_files[name] = files
                    raise StepFailed("; ".join(found))
        self.property_files[name] = files
        self.properties[name] = {
            **arguments,
            "ProcessingJobName": f"pipelines-{self.execution_id}-{name}",
            "ProcessingJobStatus": "Completed",
        }

    # ---- tuning / training -------------------------------------------------------------

    def _tuning(self, step: Mapping[str, Any]) -> None:
        name = step["Name"]
        arguments = self.value(step["Arguments"])
        job = arguments["TrainingJobDefinition"]
        problems = channel_problems(name, job)
        if problems:
            raise StepFailed("; ".join(p.removeprefix(f"{name}: ") for p in problems))
        config = arguments["HyperParameterTuningJobConfig"]
        hyperparameters = dict(job.get("StaticHyperParameters", {}))
        hyperparameters.update(tuned_values(config.get("ParameterRanges", {})))
        # HPO passes its objective to the algorithm (the container stops early on it).
        hyperparameters["_tuning_objective_metric"] = config["HyperParameterTuningJobObjective"][
            "MetricName"
        ]
        job_name = f"pipelines-{self.execution_id[:6]}-tunemodel-001-0a1b2c3d"
        folder = self.workdir / "jobs" / name / "training"
        channels: dict[str, Path] = {}
        for channel in job["InputDataConfig"]:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            target = folder / "input" / "data" / channel["ChannelName"]
            if not self.s3.download_prefix(uri, target):
                raise StepFailed(f"channel {channel['ChannelName']}: no S3 objects under {uri}")
            channels[channel["ChannelName"]] = target
        content_type = job["InputDataConfig"][0].get("ContentType", "text/libsvm")
        model_dir = folder / "model"
        metrics = train_like_container(
            hyperparameters, channels, content_type, model_dir, folder / "scratch"
        )
        archive = folder / "output" / "model.tar.gz"
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "w:gz") as tar:
            for file in sorted(model_dir.iterdir()):
                tar.add(file, arcname=file.name)
        output = job["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        # CreateTrainingJob writes <S3OutputPath>/<TrainingJobName>/output/model.tar.gz.
        self.s3.put_file(f"{output}/{job_name}/output/model.tar.gz", archive)
        summary = {
            "TrainingJobName": job_name,
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": {
                k: str(v) for k, v in tuned_values(config.get("ParameterRanges", {})).items()
            },
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "MetricName": config["HyperParameterTuningJobObjective"]["MetricName"],
                "Value": metrics.get(config["HyperParameterTuningJobObjective"]["MetricName"]),
            },
        }
        self.properties[name] = {
            **arguments,
            "HyperParameterTuningJobName": f"pipelines-{self.execution_id[:6]}-tunemodel",
            "TrainingJobSummaries": [summary],
            "BestTrainingJob": summary,
        }

    # ---- check steps (containers not available: their inputs are checked) ---------------

    def _check_outputs(self, step: Mapping[str, Any], arguments: Mapping[str, Any]) -> str:
        outputs = arguments["ProcessingOutputConfig"]["Outputs"]
        return str(outputs[0]["S3Output"]["S3Uri"]).rstrip("/")

    def _csv_rows(self, uri: str, what: str) -> list[list[str]]:
        keys = self.s3.keys(uri)
        if not keys:
            raise StepFailed(f"{what}: no S3 objects found under {uri}")
        rows = []
        bucket, _ = split_uri(uri)
        for key in keys:
            text = (self.s3.root / bucket / key).read_text(encoding="utf-8")
            rows += [r for r in csv.reader(io.StringIO(text)) if r]
        if not rows:
            raise StepFailed(f"{what}: {uri} holds no rows")
        widths = sorted({len(r) for r in rows})
        if len(widths) != 1:
            raise StepFailed(f"{what}: rows of {widths} columns under {uri}")
        return rows

    def _quality_check(self, step: Mapping[str, Any]) -> None:
        name = step["Name"]
        arguments = self.value(step["Arguments"])
        inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
        dataset = inputs["baseline_dataset_input"]
        rows = self._csv_rows(dataset["S3Uri"], "baseline dataset")
        dataset_format = json.loads(arguments["Environment"]["dataset_format"])
        if not dataset_format.get("csv", {}).get("header", True):
            try:
                [float(v) for v in rows[0]]
            except ValueError as error:
                raise StepFailed(
                    f"baseline dataset has a header row but header is false: {error}"
                ) from None
        output = self._check_outputs(step, arguments)
        # What QualityCheckStep's properties name (SageMaker Python SDK, quality_check_step).
        calculated = {
            "CalculatedBaselineStatistics": f"{output}/statistics.json",
            "CalculatedBaselineConstraints": f"{output}/constraints.json",
        }
        self._baseline_properties(name, step, calculated)
        self.properties[name] = {**self.properties[name], **arguments}

    def _clarify_check(self, step: Mapping[str, Any]) -> None:
        name = step["Name"]
        arguments = self.value(step["Arguments"])
        problems = _delivery_problems(
            name,
            CLARIFY_CONFIG_PATH,
            [i for i in arguments["ProcessingInputs"] if i["InputName"] == "analysis_config"],
            self.pipeline,
        )
        if problems:
            raise StepFailed(problems[0].removeprefix(f"{name}: "))
        inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
        config = json.loads(self.s3.path(inputs["analysis_config"]["S3Uri"]).read_text())
        rows = self._csv_rows(inputs["dataset"]["S3Uri"], "Clarify dataset")
        headers = config.get("headers") or []
        found = []
        if len(rows[0]) != len(headers):
            found.append(
                f"the dataset has {len(rows[0])} columns but the analysis configuration "
                f"names {len(headers)} headers {headers}"
            )
        label = config.get("label")
        if label not in headers or headers.index(label) != 0:
            found.append(
                f"the analysis configuration puts the label {label!r} at "
                f"{headers.index(label) if label in headers else 'no'} column, but the "
                "training layout is label first"
            )
        for facet in config.get("facet", []):
            if facet["name_or_index"] not in headers:
                found.append(f"facet {facet['name_or_index']!r} is not a header")
        if found:
            raise StepFailed("; ".join(found))
        bucket, _ = split_uri(inputs["dataset"]["S3Uri"])
        texts = [
            (self.s3.root / bucket / key).read_text(encoding="utf-8")
            for key in self.s3.keys(inputs["dataset"]["S3Uri"])
        ]
        analysis = clarify_pre_training_problems(config, read_clarify_csv(texts, headers))
        if analysis:
            raise StepFailed("; ".join(analysis))
        output = self._check_outputs(step, arguments)
        self._baseline_properties(
            name, step, {"CalculatedBaselineConstraints": f"{output}/analysis.json"}
        )

    def _baseline_properties(
        self, name: str, step: Mapping[str, Any], calculated: Mapping[str, str]
    ) -> None:
        properties: dict[str, Any] = dict(calculated)
        for key, uri in calculated.items():
            # A supplied baseline is used for drift checks when given, else the new one.
            supplied = step.get(key.replace("CalculatedBaseline", "SuppliedBaseline"))
            properties[key.replace("CalculatedBaseline", "BaselineUsedForDriftCheck")] = (
                supplied or uri
            )
            self.not_produced.append(NotProduced(uri, name))
        self.properties[name] = properties

    # ---- condition, fail, register -------------------------------------------------------

    def _condition(self, step: Mapping[str, Any]) -> None:
        arguments = step["Arguments"]
        outcome = all(self._evaluate(c) for c in arguments["Conditions"])
        self.properties[step["Name"]] = {"Outcome": outcome}
        self.log.append(f"{step['Name']}: {outcome}")
        self._run_steps(arguments["IfSteps"] if outcome else arguments["ElseSteps"])

    def _evaluate(self, condition: Mapping[str, Any]) -> bool:
        kind = condition["Type"]
        if kind == "Not":
            return not self._evaluate(condition["Condition"])
        if kind == "Or":
            return any(self._evaluate(c) for c in condition["Conditions"])
        if kind == "In":
            return self.value(condition["QueryValue"]) in self.value(condition["Values"])
        left, right = self.value(condition["LeftValue"]), self.value(condition["RightValue"])
        comparisons: dict[str, Callable[[Any, Any], bool]] = {
            "Equals": lambda a, b: a == b,
            "GreaterThan": lambda a, b: a > b,
            "GreaterThanOrEqualTo": lambda a, b: a >= b,
            "LessThan": lambda a, b: a < b,
            "LessThanOrEqualTo": lambda a, b: a <= b,
        }
        if kind not in comparisons:
            raise StepFailed(f"condition type {kind} is not rehearsed")
        return comparisons[kind](left, right)

    def _fail(self, step: Mapping[str, Any]) -> None:
        message = self.value(step["Arguments"].get("ErrorMessage", ""))
        raise StepFailed(f"the pipeline fails: {message}")

    def _register(self, step: Mapping[str, Any]) -> None:
        request = self.value(step["Arguments"])
        registration = Registration(step["Name"], request)
        pending = {n.uri: n for n in self.not_produced}
        missing = []
        for uri in sorted(set(_literal_s3_uris(request))):
            if uri in pending:
                registration.not_produced.append(pending[uri])
            elif self.s3.exists(uri):
                registration.checked_artifacts.append(uri)
            else:
                missing.append(uri)
        if missing:
            raise StepFailed(f"the model package references objects that do not exist: {missing}")
        self.registrations.append(registration)
        self.properties[step["Name"]] = {
            "ModelPackageArn": (
                f"arn:aws:sagemaker:::model-package/{request['ModelPackageGroupName']}/1"
            )
        }

    # ---- results -------------------------------------------------------------------------

    def raise_for_problems(self) -> None:
        if self.problems:
            raise RehearsalError(self.problems)

    def download(self, uri: str, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.s3.path(uri), target)
        return target


def tuned_values(ranges: Mapping[str, Any]) -> dict[str, Any]:
    """One point inside each tuned range: the midpoint (geometric where the scaling is
    logarithmic), rounded for integers; the first value of a categorical range."""
    values: dict[str, Any] = {}
    for item in ranges.get("IntegerParameterRanges", []):
        values[item["Name"]] = (int(item["MinValue"]) + int(item["MaxValue"])) // 2
    for item in ranges.get("ContinuousParameterRanges", []):
        low, high = float(item["MinValue"]), float(item["MaxValue"])
        logarithmic = item.get("ScalingType") in ("Logarithmic", "ReverseLogarithmic")
        values[item["Name"]] = math.sqrt(low * high) if logarithmic else (low + high) / 2
    for item in ranges.get("CategoricalParameterRanges", []):
        values[item["Name"]] = item["Values"][0]
    return values


def _typed(value: Any) -> Any:
    """Hyperparameters arrive as strings; the container's validation types them."""
    if not isinstance(value, str):
        return value
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def train_like_container(
    hyperparameters: Mapping[str, Any],
    channels: Mapping[str, Path],
    content_type: str,
    model_dir: Path,
    scratch: Path,
) -> dict[str, float]:
    """Train as the built-in XGBoost container's algorithm mode does; the final metrics.

    Data: each channel's files (not starting with ``.`` or ``_``) gathered into one folder and
    read with ``xgb.DMatrix('<folder>?format=csv&label_column=0&delimiter=<sniffed>')``
    (``csv_weights=1`` adds ``weight_column=1``). Training: ``num_round`` rounds, evaluation on
    ``train`` and ``validation``, early stopping on the tuning objective's metric with the
    best iteration kept. Model: ``bst.save_model('<model_dir>/xgboost-model')``.
    """
    import xgboost as xgb

    if content_type.split(";")[0].strip().lower() not in ("csv", "text/csv"):
        raise StepFailed(f"the rehearsal trains on CSV channels only, got {content_type}")
    params = {k: _typed(v) for k, v in hyperparameters.items()}
    csv_weights = int(params.pop("csv_weights", 0))
    num_round = int(params.pop("num_round"))
    early_stopping = params.pop("early_stopping_rounds", None)
    objective_metric = str(params.pop("_tuning_objective_metric", "")) or None
    metric = objective_metric.split(":", 1)[1] if objective_metric else None
    if metric:
        params["eval_metric"] = [metric]
    # One thread: the rehearsal shares a small CI machine, and the trees do not depend on it.
    params.setdefault("nthread", 1)
    matrices = {}
    for name, folder in channels.items():
        gathered = scratch / name
        gathered.mkdir(parents=True, exist_ok=True)
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            if not file.name.startswith((".", "_")):
                shutil.copyfile(file, gathered / file.name)
        first = next(iter(sorted(gathered.iterdir())), None)
        if first is None:
            raise StepFailed(f"channel {name}: no data files")
        with first.open(encoding="utf-8") as handle:
            sample = handle.readline()
        try:
            delimiter = csv.Sniffer().sniff(sample).delimiter
        except csv.Error as error:
            raise StepFailed(f"channel {name}: Could not determine delimiter: {error}") from None
        uri = f"{gathered}?format=csv&label_column=0&delimiter={delimiter}"
        if csv_weights == 1:
            uri += "&weight_column=1"
        matrices[name] = xgb.DMatrix(uri)
        if matrices[name].get_label().size == 0:
            raise StepFailed(f"channel {name}: Got input data without labels")
    watchlist = [(matrices["train"], "train")]
    if "validation" in matrices:
        watchlist.append((matrices["validation"], "validation"))
    callbacks = []
    if early_stopping and metric and "validation" in matrices:
        callbacks.append(
            xgb.callback.EarlyStopping(
                rounds=int(early_stopping),
                data_name="validation",
                metric_name=metric,
                maximize=metric in ("auc", "aucpr", "map", "ndcg", "accuracy", "f1"),
                save_best=True,
            )
        )
    history: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        params,
        matrices["train"],
        num_boost_round=num_round,
        evals=watchlist,
        evals_result=history,
        callbacks=callbacks,
        verbose_eval=False,
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / XGBOOST_MODEL_FILE))
    return {
        f"{data}:{name}": values[-1]
        for data, by_metric in history.items()
        for name, values in by_metric.items()
    }


# --------------------------------------------------------------------------------------------
# Clarify: the pre-training bias analysis, by Clarify's own library
# --------------------------------------------------------------------------------------------


def read_clarify_csv(texts: Sequence[str], headers: Sequence[str]) -> Any:
    """The dataset as Clarify reads a header-less ``text/csv`` input: every file's rows, the
    analysis configuration's ``headers`` as column names, numbers parsed as numbers (so a
    one-hot ``1.0``/``0.0`` column is a float column)."""
    import pandas as pd

    frames = [
        pd.read_csv(io.StringIO(text), header=None, names=list(headers))
        for text in texts
        if text.strip()
    ]
    return pd.concat(frames, ignore_index=True)


def clarify_pre_training_problems(config: Mapping[str, Any], frame: Any) -> list[str]:
    """What Clarify's pre-training bias analysis of ``frame`` with the analysis configuration
    ``config`` would get wrong: a positive-label selection that is empty or every row, and
    every requested metric that ends in an error (e.g. "Facet set is empty.").

    The analysis is smclarify's ``bias_report`` (aws/amazon-sagemaker-clarify, the library
    the Clarify container runs): ``series_datatype`` makes any float column CONTINUOUS, and a
    continuous facet's or label's ``value_or_threshold`` becomes the intervals
    ``from_breaks(thresholds + [max])`` (``bias/report.py`` ``_interval_index``), so a
    threshold at or above the column's maximum selects no row.
    """
    from smclarify.bias import report
    from smclarify.bias.metrics import common

    problems: list[str] = []
    headers = list(frame.columns)

    def column(name_or_index: str | int) -> str:
        return headers[name_or_index] if isinstance(name_or_index, int) else name_or_index

    label = column(config["label"])
    positive = list(config.get("label_values_or_threshold") or [])
    if not positive:
        return [f"label {label!r}: no label_values_or_threshold (Clarify needs one)"]
    kind, series = common.ensure_series_data_type(frame[label], positive)
    selected, described = report._positive_label_index(series, kind, positive)
    count = int(selected.sum())
    if count in (0, len(series)):
        problems.append(
            f"label {label!r} ({kind.name.lower()}, {series.min()}..{series.max()}): "
            f"label_values_or_threshold {positive} selects {count} of {len(series)} rows as "
            f"the positive outcome {described!r}; expected some but not all"
        )
    requested = config.get("methods", {}).get("pre_training_bias", {}).get("methods", "all")
    metrics = ["all"] if requested == "all" else list(requested)
    group = config.get("group_variable")
    group_series = frame[column(group)] if group is not None else None
    for facet in config.get("facet", []):
        name = column(facet["name_or_index"])
        values = facet.get("value_or_threshold")
        results = report.bias_report(
            frame,
            report.FacetColumn(name, values),
            report.LabelColumn(label, frame[label], positive),
            report.StageType.PRE_TRAINING,
            metrics=metrics,
            group_variable=group_series,
        )
        for result in results:
            errors = [f"{m['name']}: {m['error']}" for m in result["metrics"] if m.get("error")]
            if errors:
                problems.append(
                    f"facet {name!r} value_or_threshold {values} (sensitive group "
                    f"{result['value_or_threshold']!r}): {'; '.join(errors)}"
                )
    return problems


# --------------------------------------------------------------------------------------------
# Serving: the built-in XGBoost container's loading and CSV scoring
# --------------------------------------------------------------------------------------------


class PayloadError(AssertionError):
    """A payload the model cannot score correctly (width or format)."""


@dataclass
class ServedModel:
    """A model archive loaded the way the serving container loads it."""

    booster: Any
    model_format: str

    @classmethod
    def from_archive(cls, archive: Path, folder: Path) -> ServedModel:
        """Extract ``model.tar.gz`` into ``folder`` and load the first non-dot file: pickle
        first, else ``Booster.load_model`` (serve_utils.get_loaded_booster)."""
        import xgboost as xgb

        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise PayloadError(f"{archive.name} holds no model file")
        if files[0].name != XGBOOST_MODEL_FILE:
            raise PayloadError(f"{archive.name} holds {files[0].name}, not {XGBOOST_MODEL_FILE}")
        try:
            with files[0].open("rb") as handle:
                booster = pickle.load(handle)  # the container tries pickle first
            model_format = "pkl_format"
        except Exception:
            booster = xgb.Booster()
            booster.load_model(str(files[0]))
            model_format = "xgb_format"
        booster.set_param("nthread", 1)
        return cls(booster, model_format)

    @property
    def num_features(self) -> int:
        return int(self.booster.num_features())

    def score(self, body: bytes, content_type: str = "text/csv") -> list[float]:
        """Score a CSV request body as the container does (encoder.csv_to_dmatrix), but
        refuse a width other than the model's: with the ``xgboost-model`` format the
        container predicts with ``validate_features=False`` and a narrower payload would be
        scored silently with features missing."""
        import numpy as np
        import xgboost as xgb

        if content_type.split(";")[0].strip().lower() != "text/csv":
            raise PayloadError(f"content type {content_type} is not the registered text/csv")
        text = body.strip().decode("utf-8")
        try:
            sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
        except csv.Error:
            sniffed = ","
        delimiter = "," if sniffed.isalnum() else sniffed
        try:
            rows = [[float(v) for v in line.split(delimiter)] for line in text.split("\n")]
        except ValueError as error:
            raise PayloadError(f"Loading csv data failed: {error}") from None
        for row in rows:
            if len(row) != self.num_features:
                raise PayloadError(
                    f"payload row {row} has {len(row)} features; the model was trained on "
                    f"{self.num_features}"
                )
        matrix = xgb.DMatrix(np.array(rows, dtype=float))
        return [float(v) for v in self.booster.predict(matrix, validate_features=False)]


def condition_reports(definition: Mapping[str, Any]) -> set[str]:
    """The property files the definition's conditions read with ``Std:JsonGet``."""
    found: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            if "Std:JsonGet" in value:
                found.add(value["Std:JsonGet"]["PropertyFile"]["Get"].rsplit(".", 1)[-1])
            for v in value.values():
                visit(v)
        elif isinstance(value, list):
            for v in value:
                visit(v)

    visit(definition["Steps"])
    return found


def rehearse(
    pipeline: SynthesizedPipeline,
    workdir: Path,
    *,
    dataset: Mapping[str, Any],
    training: Mapping[str, Any],
) -> tuple[PipelineRun, Any]:
    """Run ``pipeline`` on the rehearsal dataset of ``dataset``/``training`` (config dicts):
    the data is put where the ``InputDataUri`` parameter's default points, and every report a
    condition reads must hold a metric the dataset makes possible. The run is returned
    whatever happened (``raise_for_problems`` reports)."""
    from tests.rehearsal.data import write_curated

    data = write_curated(Path(workdir) / "curated", dataset, training)
    run = PipelineRun(
        pipeline,
        Path(workdir) / "run",
        input_data={pipeline.parameter_default("InputDataUri"): data.folder},
        expectations={name: data.rmse_problems for name in condition_reports(pipeline.definition)},
    )
    return run.run(), data

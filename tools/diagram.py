"""Draw the platform's architecture diagram from the synthesized CDK app.

The picture is derived from what synthesis produces, never from a hand-kept list:

1. :func:`synthesize` builds the app in-process for one environment (``mlops:select``) into
   a temporary cloud assembly, exactly as ``cdk synth`` would (cdk-nag included).
2. :func:`load_assembly` reads that environment's nested assembly back: every stack's
   CloudFormation template, its construct paths (for labels) and the stack dependencies
   recorded in ``manifest.json``.
3. :func:`build_graph` (pure, no Graphviz) turns the templates into an
   :class:`ArchitectureGraph`: one cluster per stack, one node per significant resource
   (IAM, log groups, custom-resource providers and other plumbing are left out), and the
   edges the templates wire up: EventBridge rules to their targets and from the events they
   match, EventBridge Scheduler schedules to what they invoke, functions to the resources
   named in their environment (a pipeline named there is one they start), buckets and secrets
   to the KMS keys that encrypt them, endpoints to their models, Model Monitor schedules and
   pipelines to the endpoints they watch (a step's ``--endpoint`` argument), pipelines to the
   rules that match their jobs' names, alarms to their topics, dead letters to their queues,
   Glue workflow steps to each other. References across
   stacks (``Fn::ImportValue`` through the exports, or the weak ``Fn::GetStackOutput``
   references this app uses) are resolved to the resource in the other stack, and so are
   literal names and ARNs (a rule targeting ``arn:...:pipeline/<name>``).
4. :func:`render` draws the graph with the ``diagrams`` package, which needs Graphviz's
   ``dot`` (``make diagram`` installs both). Edges that point at something depended on (a
   bucket, a key, a model) are ranked dependency-first, so the keys and the lake sit at the
   top and the stacks that use them below; the same templates give the same PNG, byte for
   byte.

Usage::

    python tools/diagram.py                 # dev, into docs/architecture.png
    python tools/diagram.py --env prod      # into docs/architecture-prod.png
    python tools/diagram.py --env staging --out staging.png
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENVIRONMENT = "dev"
DOCS_DIR = REPO_ROOT / "docs"

#: (stack short name, logical id) of one resource of the synthesized app.
ResourceKey = tuple[str, str]


# --------------------------------------------------------------------------------------
# What is drawn: significant resource types, their icons, and how their names are spelled
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """How one kind of resource is drawn.

    ``icon`` is ``module:Class`` in the ``diagrams`` package. An ``aggregate`` kind is drawn
    as one node per stack with a count (``12 CloudWatch alarms``) instead of one per resource.
    """

    key: str
    title: str
    icon: str
    aggregate: bool = False
    plural: str = ""


def _kind(key: str, title: str, icon: str, plural: str = "") -> Kind:
    return Kind(key=key, title=title, icon=icon, aggregate=bool(plural), plural=plural)


_GLUE = "diagrams.aws.analytics:Glue"
_SAGEMAKER = "diagrams.aws.ml:Sagemaker"

#: The CloudFormation types drawn, by type. Everything else is plumbing and left out.
KINDS: dict[str, Kind] = {
    "AWS::KMS::Key": _kind("kms-key", "KMS key", "diagrams.aws.security:KMS"),
    "AWS::SecretsManager::Secret": _kind(
        "secret", "Secrets Manager secret", "diagrams.aws.security:SecretsManager"
    ),
    "AWS::EC2::VPC": _kind("vpc", "VPC", "diagrams.aws.network:VPC"),
    "AWS::EC2::VPCEndpoint": _kind(
        "vpc-endpoint", "VPC endpoint", "diagrams.aws.network:Endpoint", "VPC endpoints"
    ),
    "AWS::EC2::FlowLog": _kind("flow-log", "VPC flow log", "diagrams.aws.network:VPCFlowLogs"),
    "AWS::S3::Bucket": _kind(
        "s3-bucket", "S3 bucket", "diagrams.aws.storage:SimpleStorageServiceS3Bucket"
    ),
    "AWS::Glue::Database": _kind(
        "glue-database", "Glue database", "diagrams.aws.analytics:GlueDataCatalog"
    ),
    "AWS::Glue::Crawler": _kind(
        "glue-crawler", "Glue crawler", "diagrams.aws.analytics:GlueCrawlers"
    ),
    "AWS::Glue::Job": _kind("glue-job", "Glue job", _GLUE),
    "AWS::Glue::Workflow": _kind("glue-workflow", "Glue workflow", _GLUE),
    "AWS::Glue::MLTransform": _kind("glue-ml-transform", "Glue ML transform", _GLUE),
    # diagrams has no DataBrew icon: AWS Glue DataBrew is drawn with the Glue one.
    "AWS::DataBrew::Job": _kind("databrew-job", "DataBrew job", _GLUE),
    "AWS::SageMaker::ModelPackageGroup": _kind(
        "model-package-group", "model registry", "diagrams.aws.ml:SagemakerModel"
    ),
    "AWS::SageMaker::Pipeline": _kind(
        "sagemaker-pipeline", "SageMaker pipeline", "diagrams.aws.ml:SagemakerTrainingJob"
    ),
    "AWS::SageMaker::Model": _kind(
        "sagemaker-model", "SageMaker model", "diagrams.aws.ml:SagemakerModel"
    ),
    "AWS::SageMaker::Endpoint": _kind("sagemaker-endpoint", "SageMaker endpoint", _SAGEMAKER),
    "AWS::SageMaker::MonitoringSchedule": _kind(
        "monitoring-schedule", "Model Monitor schedule", "diagrams.aws.management:Cloudwatch"
    ),
    "AWS::Lambda::Function": _kind(
        "lambda", "Lambda function", "diagrams.aws.compute:LambdaFunction"
    ),
    "AWS::Events::Rule": _kind(
        "eventbridge-rule", "EventBridge rule", "diagrams.aws.integration:EventbridgeRule"
    ),
    "AWS::Scheduler::Schedule": _kind(
        "schedule",
        "EventBridge Scheduler schedule",
        "diagrams.aws.integration:EventbridgeScheduler",
    ),
    "AWS::SNS::Topic": _kind(
        "sns-topic", "SNS topic", "diagrams.aws.integration:SimpleNotificationServiceSnsTopic"
    ),
    "AWS::SQS::Queue": _kind(
        "sqs-queue", "SQS queue", "diagrams.aws.integration:SimpleQueueServiceSqsQueue"
    ),
    "AWS::CloudWatch::Alarm": _kind(
        "cloudwatch-alarm",
        "CloudWatch alarm",
        "diagrams.aws.management:CloudwatchAlarm",
        "CloudWatch alarms",
    ),
    "AWS::Macie::Session": _kind("macie", "Macie", "diagrams.aws.security:Macie"),
}

#: SDK calls of CDK's ``AwsCustomResource`` (``Custom::AWS``) that create something worth
#: drawing, by (service, action) of its ``Create`` call; other calls are plumbing.
CUSTOM_CALL_KINDS: dict[tuple[str, str], Kind] = {
    ("Macie2", "createClassificationJob"): _kind(
        "macie-job", "Macie discovery job", "diagrams.aws.security:Macie"
    ),
}

#: Resources not drawn themselves but looked through: a reference to one counts as a
#: reference to what these properties of it refer to (an endpoint's config names its model).
TRANSPARENT: dict[str, tuple[str, ...]] = {
    "AWS::SageMaker::EndpointConfig": ("ProductionVariants",),
    "AWS::SageMaker::DataQualityJobDefinition": ("DataQualityJobInput",),
    "AWS::SageMaker::ModelQualityJobDefinition": ("ModelQualityJobInput",),
    "AWS::SageMaker::ModelBiasJobDefinition": ("ModelBiasJobInput",),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": ("ModelExplainabilityJobInput",),
    "AWS::DataBrew::Dataset": ("Input",),
    "AWS::Glue::Table": ("DatabaseName",),
    "AWS::Logs::LogGroup": ("KmsKeyId",),
}


@dataclass(frozen=True)
class NameSpec:
    """Where a type keeps its physical name, and how ARNs and other resources spell it.

    ``stem`` is matched against property keys (normalized to lower-case letters) so that a
    literal name only links where the key says what it is: ``PIPELINE_NAME`` or
    ``ModelPackageGroupName``, not any string that happens to be equal.
    """

    path: tuple[str, ...]
    service: str
    arn_prefixes: tuple[str, ...]
    stem: str


NAME_SPECS: dict[str, NameSpec] = {
    "AWS::SageMaker::Pipeline": NameSpec(
        ("PipelineName",), "sagemaker", ("pipeline/",), "pipeline"
    ),
    "AWS::SageMaker::ModelPackageGroup": NameSpec(
        ("ModelPackageGroupName",),
        "sagemaker",
        ("model-package-group/", "model-package/"),
        "modelpackagegroup",
    ),
    "AWS::SageMaker::Endpoint": NameSpec(
        ("EndpointName",), "sagemaker", ("endpoint/",), "endpoint"
    ),
    "AWS::SageMaker::MonitoringSchedule": NameSpec(
        ("MonitoringScheduleName",), "sagemaker", ("monitoring-schedule/",), "monitoringschedule"
    ),
    "AWS::Lambda::Function": NameSpec(("FunctionName",), "lambda", ("function:",), "function"),
    "AWS::SNS::Topic": NameSpec(("TopicName",), "sns", ("",), "topic"),
    "AWS::SQS::Queue": NameSpec(("QueueName",), "sqs", ("",), "queue"),
    "AWS::S3::Bucket": NameSpec(("BucketName",), "s3", ("",), "bucket"),
    "AWS::Glue::Job": NameSpec(("Name",), "glue", ("job/",), "job"),
    "AWS::Glue::Crawler": NameSpec(("Name",), "glue", ("crawler/",), "crawler"),
    "AWS::Glue::Workflow": NameSpec(("Name",), "glue", ("workflow/",), "workflow"),
    "AWS::Glue::Database": NameSpec(("DatabaseInput", "Name"), "glue", ("database/",), "database"),
}


class Relation(Enum):
    """What an edge means; the renderer gives each its colour and line style."""

    DATA = "reads, writes or names"
    TRIGGERS = "starts or invokes"
    EVENTS = "emits the events a rule matches"
    ENCRYPTION = "uses the KMS key"
    ALERTS = "alarms, notifications, dead letters"
    SERVES = "serves or monitors"


@dataclass(frozen=True)
class EdgeRule:
    """Edges from the references found under one property path of a drawn resource.

    ``path`` walks into ``Properties``; ``*`` stands for every item of a list. With
    ``inbound`` the referenced resource points at this one (a bucket emits the events a
    rule matches) rather than this one at it. A non-empty ``kinds`` keeps only references
    to drawn resources of those kinds (by :attr:`Kind.key`).
    """

    path: tuple[str, ...]
    relation: Relation
    inbound: bool = False
    kinds: frozenset[str] = frozenset()


#: The wiring drawn for each type of drawn resource.
EDGE_RULES: dict[str, tuple[EdgeRule, ...]] = {
    "AWS::S3::Bucket": (EdgeRule(("BucketEncryption",), Relation.ENCRYPTION),),
    "AWS::SecretsManager::Secret": (EdgeRule(("KmsKeyId",), Relation.ENCRYPTION),),
    "AWS::EC2::VPCEndpoint": (EdgeRule(("VpcId",), Relation.DATA),),
    "AWS::EC2::FlowLog": (
        EdgeRule(("ResourceId",), Relation.DATA, inbound=True),
        EdgeRule(("LogGroupName",), Relation.ENCRYPTION),
        EdgeRule(("LogDestination",), Relation.ENCRYPTION),
    ),
    "AWS::Glue::Crawler": (
        EdgeRule(("Targets",), Relation.DATA),
        EdgeRule(("DatabaseName",), Relation.DATA),
    ),
    "AWS::Glue::Job": (EdgeRule(("DefaultArguments",), Relation.DATA),),
    "AWS::Glue::MLTransform": (EdgeRule(("InputRecordTables",), Relation.DATA),),
    "AWS::DataBrew::Job": (
        EdgeRule(("DatasetName",), Relation.DATA),
        EdgeRule(("Outputs",), Relation.DATA),
        EdgeRule(("OutputLocation",), Relation.DATA),
        EdgeRule(("DataCatalogOutputs",), Relation.DATA),
    ),
    "AWS::SageMaker::Pipeline": (
        # A pipeline's job names the endpoint it watches (the monitoring engine's
        # ``--endpoint`` argument): drawn like a Model Monitor schedule's endpoint.
        EdgeRule(("PipelineDefinition",), Relation.SERVES, kinds=frozenset({"sagemaker-endpoint"})),
        EdgeRule(("PipelineDefinition",), Relation.DATA),
    ),
    "AWS::SageMaker::Model": (
        EdgeRule(("PrimaryContainer",), Relation.DATA),
        EdgeRule(("Containers",), Relation.DATA),
    ),
    "AWS::SageMaker::Endpoint": (
        EdgeRule(("EndpointConfigName",), Relation.SERVES),
        EdgeRule(("DeploymentConfig",), Relation.ALERTS),
    ),
    "AWS::SageMaker::MonitoringSchedule": (
        EdgeRule(("EndpointName",), Relation.SERVES),
        EdgeRule(
            ("MonitoringScheduleConfig",), Relation.SERVES, kinds=frozenset({"sagemaker-endpoint"})
        ),
        # What else the job definitions read, such as the ground truth in the artifacts bucket.
        EdgeRule(("MonitoringScheduleConfig",), Relation.DATA),
    ),
    "AWS::Lambda::Function": (
        # The platform's functions name a pipeline only to start it (StartPipelineExecution:
        # the monitoring launcher, the retraining trigger).
        EdgeRule(("Environment",), Relation.TRIGGERS, kinds=frozenset({"sagemaker-pipeline"})),
        # A function names an endpoint to put models into service on it (the deployer of an
        # inference-component endpoint: ENDPOINT_NAME).
        EdgeRule(("Environment",), Relation.SERVES, kinds=frozenset({"sagemaker-endpoint"})),
        EdgeRule(("Environment",), Relation.DATA),
    ),
    "AWS::Events::Rule": (
        EdgeRule(("Targets", "*", "Arn"), Relation.TRIGGERS),
        EdgeRule(("Targets", "*", "DeadLetterConfig"), Relation.ALERTS),
        EdgeRule(("EventPattern",), Relation.EVENTS, inbound=True),
    ),
    # AWS::Scheduler::Schedule Target: Arn (what it invokes), DeadLetterConfig.Arn (an SQS
    # queue for what could not be delivered), RoleArn (IAM, not drawn); CloudFormation
    # reference, "AWS::Scheduler::Schedule Target".
    "AWS::Scheduler::Schedule": (
        EdgeRule(("Target", "Arn"), Relation.TRIGGERS),
        EdgeRule(("Target", "DeadLetterConfig"), Relation.ALERTS),
    ),
    "AWS::CloudWatch::Alarm": (
        EdgeRule(("AlarmActions",), Relation.ALERTS),
        EdgeRule(("OKActions",), Relation.ALERTS),
        EdgeRule(("InsufficientDataActions",), Relation.ALERTS),
    ),
    "Custom::AWS": (EdgeRule(("Create",), Relation.DATA),),
}


@dataclass(frozen=True)
class LinkRule:
    """A resource that is not drawn but links two drawn ones: ``source`` → ``target``.

    The rule does not apply to a resource that has the property ``unless``.
    """

    source: tuple[str, ...]
    target: tuple[str, ...]
    relation: Relation
    unless: str = ""


#: Plumbing resources whose wiring is drawn as an edge between the resources they join.
LINK_RULES: dict[str, tuple[LinkRule, ...]] = {
    # A function's on-failure destination (its dead-letter queue).
    "AWS::Lambda::EventInvokeConfig": (
        LinkRule(("FunctionName",), ("DestinationConfig",), Relation.ALERTS),
    ),
    "AWS::Lambda::EventSourceMapping": (
        LinkRule(("EventSourceArn",), ("FunctionName",), Relation.TRIGGERS),
    ),
    "AWS::SNS::Subscription": (LinkRule(("TopicArn",), ("Endpoint",), Relation.ALERTS),),
    # Glue workflow steps: what the trigger waits for → what it starts; the workflow
    # starts what its first (unconditional) trigger starts.
    "AWS::Glue::Trigger": (
        LinkRule(("Predicate",), ("Actions",), Relation.TRIGGERS),
        LinkRule(("WorkflowName",), ("Actions",), Relation.TRIGGERS, unless="Predicate"),
    ),
}


# --------------------------------------------------------------------------------------
# Reading the cloud assembly
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackTemplate:
    """One synthesized stack: its template, names, construct paths and dependencies."""

    name: str
    display_name: str
    stack_name: str
    template: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    paths: Mapping[str, str] = field(default_factory=dict)

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.template.get("Resources", {})
        return resources

    @property
    def outputs(self) -> Mapping[str, Mapping[str, Any]]:
        outputs: Mapping[str, Mapping[str, Any]] = self.template.get("Outputs", {})
        return outputs

    @property
    def description(self) -> str:
        return str(self.template.get("Description", ""))


def assembly_dir(outdir: Path, environment: str) -> Path:
    """The nested cloud assembly of one environment's stage inside ``outdir``."""
    manifest = _read_json(outdir / "manifest.json")
    for artifact in manifest.get("artifacts", {}).values():
        props = artifact.get("properties", {})
        if artifact.get("type") == "cdk:cloud-assembly" and props.get("displayName") == environment:
            return outdir / str(props["directoryName"])
    raise FileNotFoundError(f"no assembly for environment {environment!r} in {outdir}")


def load_assembly(outdir: Path, environment: str) -> list[StackTemplate]:
    """Every stack of one environment, in the order the stage made them."""
    directory = assembly_dir(outdir, environment)
    artifacts: Mapping[str, Any] = _read_json(directory / "manifest.json").get("artifacts", {})
    stack_ids = {
        artifact_id: artifact
        for artifact_id, artifact in artifacts.items()
        if artifact.get("type") == "aws:cloudformation:stack"
    }
    short = {artifact_id: _short_name(a, artifact_id) for artifact_id, a in stack_ids.items()}
    stacks = []
    for artifact_id, artifact in stack_ids.items():
        props = artifact["properties"]
        stacks.append(
            StackTemplate(
                name=short[artifact_id],
                display_name=artifact.get("displayName", artifact_id),
                stack_name=props.get("stackName", artifact_id),
                template=_read_json(directory / props["templateFile"]),
                dependencies=tuple(
                    short[dep] for dep in artifact.get("dependencies", []) if dep in short
                ),
                paths=_construct_paths(directory, artifact),
            )
        )
    return stacks


def _short_name(artifact: Mapping[str, Any], artifact_id: str) -> str:
    return str(artifact.get("displayName", artifact_id)).rsplit("/", 1)[-1]


def _construct_paths(directory: Path, artifact: Mapping[str, Any]) -> dict[str, str]:
    """Logical id → construct path, from the artifact's metadata (inline or in its file)."""
    metadata: dict[str, Any] = dict(artifact.get("metadata") or {})
    extra = artifact.get("additionalMetadataFile")
    if extra and (directory / extra).is_file():
        metadata.update(_read_json(directory / extra))
    paths: dict[str, str] = {}
    for path, entries in metadata.items():
        for entry in entries:
            if entry.get("type") == "aws:cdk:logicalId" and isinstance(entry.get("data"), str):
                paths[entry["data"]] = path
    return paths


def _read_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(json.load(handle))


# --------------------------------------------------------------------------------------
# Resolving references
# --------------------------------------------------------------------------------------

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
#: "Key": "value" pairs inside JSON text that a template builds with Fn::Join or Fn::Sub.
_JSON_PAIR = re.compile(r'"([A-Za-z][\w-]*)"\s*:\s*"([^"]*)"')
#: "--flag", "value" pairs of a command line inside JSON text (a pipeline step's
#: ContainerArguments): the flag says what the value names, as a key does.
_FLAG_PAIR = re.compile(r'"--([A-Za-z][\w-]*)"\s*,\s*"([^"]*)"')
#: The job names a pipeline's steps give SageMaker ("ProcessingJobName": "..." in its
#: definition); with the SDK's ``use_custom_job_prefix`` each job's name starts with it.
_STEP_JOB_NAME = re.compile(r'"((?:Processing|Training|Transform)JobName)"\s*:\s*"([^"]+)"')
#: Names of the jobs a pipeline starts, so that an EventBridge rule matching job state
#: changes by name (``{"prefix": ...}``) is drawn as matching the pipeline's events.
_PIPELINE_JOB = NameSpec((), "sagemaker", ("processing-job/", "training-job/"), "jobname")


def _normalize_key(key: str) -> str:
    return re.sub(r"[^a-z]", "", key.lower())


def _select(value: Any, path: Sequence[str]) -> Iterator[Any]:
    """The values under ``path`` (``*``: every list item); nothing where the path is absent."""
    if not path:
        yield value
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(value, list):
            for item in value:
                yield from _select(item, rest)
    elif isinstance(value, Mapping) and head in value:
        yield from _select(value[head], rest)


@dataclass(frozen=True)
class _NamedResource:
    key: ResourceKey
    name: str
    spec: NameSpec


class ReferenceResolver:
    """Finds the resources a template value refers to, in its own stack or another."""

    def __init__(self, stacks: Sequence[StackTemplate]) -> None:
        self._stacks = {stack.name: stack for stack in stacks}
        self._by_stack_name = {stack.stack_name: stack for stack in stacks}
        self._exports: dict[str, tuple[str, Any]] = {}
        self._named: list[_NamedResource] = []
        for stack in stacks:
            for output in stack.outputs.values():
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    self._exports[export] = (stack.name, output.get("Value"))
            for logical_id, resource in stack.resources.items():
                spec = NAME_SPECS.get(resource.get("Type", ""))
                if spec is None:
                    continue
                for name in _select(resource.get("Properties", {}), spec.path):
                    if isinstance(name, str) and name:
                        self._named.append(_NamedResource((stack.name, logical_id), name, spec))
                if resource.get("Type") == "AWS::SageMaker::Pipeline":
                    definition = _flatten_text(resource.get("Properties", {}))
                    for _, job in _STEP_JOB_NAME.findall(definition):
                        self._named.append(
                            _NamedResource((stack.name, logical_id), job, _PIPELINE_JOB)
                        )

    def resource(self, key: ResourceKey) -> Mapping[str, Any]:
        return self._stacks[key[0]].resources[key[1]]

    def references(self, stack: str, value: Any) -> set[ResourceKey]:
        """Resources ``value`` (part of a template of ``stack``) refers to."""
        found: set[ResourceKey] = set()
        self._walk(stack, value, "", found, set())
        return found

    def _walk(
        self, stack: str, value: Any, key: str, found: set[ResourceKey], seen: set[ResourceKey]
    ) -> None:
        if isinstance(value, list):
            flag = ""
            for item in value:
                # A command line as a list: the value after "--endpoint" names an endpoint.
                self._walk(stack, item, flag or key, found, seen)
                flag = item[2:] if isinstance(item, str) and item.startswith("--") else ""
            return
        if isinstance(value, str):
            for target in self._literal(value, key):
                self._add(target, found, seen)
            return
        if not isinstance(value, Mapping):
            return
        if set(value) == {"prefix"} and isinstance(value["prefix"], str):
            # EventBridge's prefix matching ("ProcessingJobName": [{"prefix": "monitor-"}]).
            for named in self._named:
                stem_matches = named.spec.stem in _normalize_key(key)
                if value["prefix"] and stem_matches and named.name.startswith(value["prefix"]):
                    self._add(named.key, found, seen)
            return
        if len(value) == 1:
            ((function, argument),) = value.items()
            if self._intrinsic(stack, function, argument, key, found, seen):
                return
        for child_key, child in value.items():
            self._walk(stack, child, str(child_key), found, seen)

    def _intrinsic(
        self,
        stack: str,
        function: str,
        argument: Any,
        key: str,
        found: set[ResourceKey],
        seen: set[ResourceKey],
    ) -> bool:
        """Follow one intrinsic function; False when ``function`` is not one handled here."""
        if function == "Ref":
            self._local(stack, argument, found, seen)
        elif function == "Fn::GetAtt":
            target = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
            self._local(stack, target, found, seen)
        elif function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            if not isinstance(text, str) or not isinstance(variables, Mapping):
                return False
            for name in _SUB_VARIABLE.findall(text):
                target = name.split(".")[0]
                if target not in variables:
                    self._local(stack, target, found, seen)
            self._walk(stack, text, key, found, seen)
            self._walk(stack, variables, key, found, seen)
        elif function == "Fn::ImportValue":
            if isinstance(argument, str) and argument in self._exports:
                exporter, exported = self._exports[argument]
                self._walk(exporter, exported, key, found, seen)
        elif function == "Fn::GetStackOutput":
            other = self._by_stack_name.get(str(argument.get("StackName", "")))
            output = other.outputs.get(str(argument.get("OutputName", ""))) if other else None
            if other is not None and output is not None:
                self._walk(other.name, output.get("Value"), key, found, seen)
        elif function == "Fn::Join":
            self._walk(stack, argument, key, found, seen)
            parts = argument[1] if isinstance(argument, list) and len(argument) == 2 else []
            if isinstance(parts, list):
                # JSON text built from pieces: read its "key": "value" pairs as a whole.
                text = "".join(part if isinstance(part, str) else "\x00" for part in parts)
                self._walk(stack, text, key, found, seen)
        elif function.startswith("Fn::"):  # Fn::Select, Fn::If, ...: look inside, same key
            self._walk(stack, argument, key, found, seen)
        else:
            return False
        return True

    def _local(
        self, stack: str, logical_id: Any, found: set[ResourceKey], seen: set[ResourceKey]
    ) -> None:
        if isinstance(logical_id, str) and logical_id in self._stacks[stack].resources:
            self._add((stack, logical_id), found, seen)

    def _add(self, target: ResourceKey, found: set[ResourceKey], seen: set[ResourceKey]) -> None:
        found.add(target)
        follow = TRANSPARENT.get(self.resource(target).get("Type", ""))
        if follow and target not in seen:
            seen.add(target)
            properties = self.resource(target).get("Properties", {})
            for name in follow:
                self._walk(target[0], properties.get(name), name, found, seen)

    def _literal(self, text: str, key: str) -> Iterator[ResourceKey]:
        """Resources a literal string names: by ARN, by s3:// URI, or by name under a key
        that says what it names (also inside JSON text)."""
        pairs = [(key, text), *_JSON_PAIR.findall(text), *_FLAG_PAIR.findall(text)]
        for pair_key, pair_value in pairs:
            yield from self._named_by(pair_key, pair_value)

    def _named_by(self, key: str, text: str) -> Iterator[ResourceKey]:
        normalized = _normalize_key(key)
        bucket = text[5:].split("/", 1)[0] if text.startswith("s3://") else None
        arn = text.split(":", 5) if text.startswith("arn:") else None
        items = {item.strip() for item in text.split(",")}
        for named in self._named:
            spec = named.spec
            if arn is not None and len(arn) == 6:
                resource = arn[5]
                if arn[2] == spec.service and any(
                    resource == prefix + named.name or resource.startswith(f"{prefix}{named.name}/")
                    for prefix in spec.arn_prefixes
                ):
                    yield named.key
            elif bucket is not None:
                if spec.service == "s3" and bucket == named.name:
                    yield named.key
            elif spec.stem in normalized and named.name in items:
                yield named.key


# --------------------------------------------------------------------------------------
# Building the graph
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One drawn resource (or, for an aggregate kind, all of that kind in one stack)."""

    id: str
    stack: str
    kind: Kind
    label: str
    logical_ids: tuple[str, ...]
    types: tuple[str, ...]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    relation: Relation


@dataclass(frozen=True)
class Cluster:
    """One stack as drawn: its name, what it is for, and the stacks it depends on."""

    name: str
    display_name: str
    description: str
    dependencies: tuple[str, ...]
    node_ids: tuple[str, ...]


@dataclass(frozen=True)
class ArchitectureGraph:
    environment: str
    clusters: tuple[Cluster, ...]
    nodes: Mapping[str, Node]
    edges: tuple[Edge, ...]

    def cluster(self, name: str) -> Cluster:
        return next(cluster for cluster in self.clusters if cluster.name == name)

    def nodes_of(self, kind_key: str) -> list[Node]:
        return [node for node in self.nodes.values() if node.kind.key == kind_key]

    def edges_between(self, source: str, target: str) -> list[Edge]:
        return [e for e in self.edges if e.source == source and e.target == target]


def classify(resource: Mapping[str, Any]) -> Kind | None:
    """The kind a resource is drawn as, or None when it is plumbing (IAM, policies, logs)."""
    type_name = str(resource.get("Type", ""))
    if type_name in KINDS:
        return KINDS[type_name]
    if type_name == "Custom::AWS":
        call = _custom_call(resource.get("Properties", {}).get("Create"))
        return CUSTOM_CALL_KINDS.get(call) if call else None
    return None


def _custom_call(create: Any) -> tuple[str, str] | None:
    """(service, action) of an AwsCustomResource's Create call, from its JSON text."""
    text = _flatten_text(create)
    service = re.search(r'"service"\s*:\s*"([^"]+)"', text)
    action = re.search(r'"action"\s*:\s*"([^"]+)"', text)
    return (service.group(1), action.group(1)) if service and action else None


def _flatten_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_flatten_text(item) for item in value)
    if isinstance(value, Mapping):
        return "".join(_flatten_text(item) for item in value.values())
    return ""


def provider_functions(stack: StackTemplate) -> set[str]:
    """Lambda functions that only serve custom resources (``ServiceToken``), and the
    functions those hand the work to: deployment machinery, not part of the platform."""
    functions = {
        logical_id
        for logical_id, resource in stack.resources.items()
        if resource.get("Type") == "AWS::Lambda::Function"
    }
    tokens = [
        resource.get("Properties", {}).get("ServiceToken")
        for resource in stack.resources.values()
        if str(resource.get("Type", "")).startswith("Custom::")
        or resource.get("Type") == "AWS::CloudFormation::CustomResource"
    ]
    providers = {target for token in tokens for target in _local_targets(token)} & functions
    frontier = set(providers)
    while frontier:
        environment = [
            stack.resources[f].get("Properties", {}).get("Environment") for f in frontier
        ]
        frontier = {t for env in environment for t in _local_targets(env)} & functions - providers
        providers |= frontier
    return providers


def _local_targets(value: Any) -> set[str]:
    """Logical ids named by Ref / Fn::GetAtt anywhere in ``value`` (same template only)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _local_targets(item)
    elif isinstance(value, Mapping):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute:
            found.add(str(attribute[0]))
        elif isinstance(attribute, str):
            found.add(attribute.split(".")[0])
        for child in value.values():
            found |= _local_targets(child)
    return found


def node_label(stack: StackTemplate, logical_id: str, width: int = 18) -> str:
    """A short multi-line label from the construct path (``Remediation/Function``)."""
    path = stack.paths.get(logical_id, "")
    prefix = f"/{stack.display_name}/"
    segments = path[len(prefix) :].split("/") if path.startswith(prefix) else []
    while segments and segments[-1] in {"Resource", "Default"}:
        segments.pop()
    segments = [s for i, s in enumerate(segments) if i == 0 or s != segments[i - 1]]
    if not segments:
        segments = [re.sub(r"[0-9A-F]{8}$", "", logical_id) or logical_id]
    lines: list[str] = []
    for segment in segments:
        lines.extend(_wrap(segment, width))
    return "\n".join(lines)


def _wrap(segment: str, width: int) -> list[str]:
    if len(segment) <= width:
        return [segment]
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^A-Za-z0-9]+", segment) or [segment]
    lines = [""]
    for word in words:
        if lines[-1] and len(lines[-1]) + len(word) > width:
            lines.append("")
        lines[-1] += word
    return lines


def _detail(resolver: ReferenceResolver, stack: str, resource: Mapping[str, Any]) -> str:
    """A word on what a resource is, where the template tells more than its path does."""
    props = resource.get("Properties", {})
    type_name = resource.get("Type")
    if type_name == "AWS::SageMaker::Endpoint":
        models = [
            resolver.resource(key)
            for key in resolver.references(stack, props.get("EndpointConfigName"))
            if resolver.resource(key).get("Type") == "AWS::SageMaker::Model"
        ]
        modes = {
            container.get("Mode")
            for model in models
            for container in [
                model.get("Properties", {}).get("PrimaryContainer") or {},
                *(model.get("Properties", {}).get("Containers") or []),
            ]
        }
        config = props.get("EndpointConfigName")
        variants: list[Any] = []
        if isinstance(config, dict) and "Fn::GetAtt" in config:
            config_props = resolver.resource((stack, config["Fn::GetAtt"][0])).get("Properties")
            variants = list((config_props or {}).get("ProductionVariants") or [])
        words = []
        if variants and not any("ModelName" in v for v in variants):
            # No model in the variant: the deployer makes the components (and their models)
            # at run time, so none is drawn.
            words.append("inference components")
        elif "MultiModel" in modes:
            words.append("multi-model")
        if len(variants) > 1:
            words.append(f"A/B, {len(variants)} variants")
        return ", ".join(words)
    if type_name == "AWS::SageMaker::MonitoringSchedule":
        kind = props.get("MonitoringScheduleConfig", {}).get("MonitoringType", "")
        return " ".join(re.findall(r"[A-Z][a-z]+", str(kind))).lower()
    if type_name == "AWS::Events::Rule" and "ScheduleExpression" in props:
        return "schedule"
    if type_name == "AWS::Scheduler::Schedule":
        # When it runs: cron(10 * * * ? *) UTC (the zone defaults to UTC when not given).
        expression = str(props.get("ScheduleExpression", ""))
        return f"{expression} {props.get('ScheduleExpressionTimezone', 'UTC')}".strip()
    return ""


def _squash(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def stack_order(stacks: Sequence[StackTemplate]) -> list[StackTemplate]:
    """Stacks in dependency order (each after what it depends on), ties in synthesis order."""
    ordered: list[StackTemplate] = []
    placed: set[str] = set()
    remaining = list(stacks)
    while remaining:
        ready = next(
            (s for s in remaining if set(s.dependencies) <= placed), remaining[0]
        )  # a cycle cannot come out of the CDK; fall back to synthesis order anyway
        ordered.append(ready)
        placed.add(ready.name)
        remaining.remove(ready)
    return ordered


def _node_id(stack: str, suffix: str) -> str:
    return f"{stack}.{suffix}"


def build_graph(stacks: Sequence[StackTemplate], environment: str) -> ArchitectureGraph:
    """Clusters, nodes and edges of one environment's synthesized templates (pure)."""
    resolver = ReferenceResolver(stacks)
    ordered = stack_order(stacks)
    nodes: dict[str, Node] = {}
    node_of: dict[ResourceKey, str] = {}
    clusters: list[Cluster] = []
    for stack in ordered:
        members: dict[str, list[str]] = {}
        kinds: dict[str, Kind] = {}
        providers = provider_functions(stack)
        for logical_id, resource in stack.resources.items():
            kind = classify(resource)
            if kind is None or logical_id in providers:
                continue
            node_id = _node_id(stack.name, kind.key if kind.aggregate else logical_id)
            members.setdefault(node_id, []).append(logical_id)
            kinds[node_id] = kind
            node_of[(stack.name, logical_id)] = node_id
        for node_id, logical_ids in members.items():
            nodes[node_id] = Node(
                id=node_id,
                stack=stack.name,
                kind=kinds[node_id],
                label=_node_text(resolver, stack, kinds[node_id], logical_ids),
                logical_ids=tuple(logical_ids),
                types=tuple(sorted({str(stack.resources[i]["Type"]) for i in logical_ids})),
            )
        if members:
            clusters.append(
                Cluster(
                    name=stack.name,
                    display_name=stack.display_name,
                    description=stack.description.split(": ", 1)[-1],
                    dependencies=stack.dependencies,
                    node_ids=tuple(members),
                )
            )
    return ArchitectureGraph(
        environment=environment,
        clusters=tuple(clusters),
        nodes=nodes,
        edges=tuple(_edges(ordered, resolver, nodes, node_of)),
    )


def _node_text(
    resolver: ReferenceResolver, stack: StackTemplate, kind: Kind, logical_ids: Sequence[str]
) -> str:
    """``12 CloudWatch alarms`` for an aggregate, else the path with a detail if it adds one."""
    if kind.aggregate:
        return f"{len(logical_ids)} {kind.plural}"
    label = node_label(stack, logical_ids[0])
    detail = _detail(resolver, stack.name, stack.resources[logical_ids[0]])
    if detail and _squash(detail) not in _squash(label):
        label = f"{label}\n({detail})"
    return label


def _edges(
    stacks: Sequence[StackTemplate],
    resolver: ReferenceResolver,
    nodes: Mapping[str, Node],
    node_of: Mapping[ResourceKey, str],
) -> list[Edge]:
    edges: dict[tuple[str, str], Edge] = {}

    def add(source: str, target: str, relation: Relation) -> None:
        if source == target:
            return
        known = edges.get((source, target))
        # A name in an environment is DATA; another rule may say more of the same pair (a
        # function's dead-letter queue is also its on-failure destination): that one wins.
        if known is not None and (relation is Relation.DATA or known.relation is not Relation.DATA):
            return
        if nodes[target].kind.key == "kms-key":
            relation = Relation.ENCRYPTION  # whatever names a key, names it to use it
        edges[(source, target)] = Edge(source, target, relation)

    def drawn(stack: str, value: Any, kinds: frozenset[str] = frozenset()) -> list[str]:
        targets = {node_of[key] for key in resolver.references(stack, value) if key in node_of}
        return sorted(t for t in targets if not kinds or nodes[t].kind.key in kinds)

    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            type_name = str(resource.get("Type", ""))
            props = resource.get("Properties", {})
            own = node_of.get((stack.name, logical_id))
            if own is not None:
                for rule in EDGE_RULES.get(type_name, ()):
                    for value in _select(props, rule.path):
                        for other in drawn(stack.name, value, rule.kinds):
                            if rule.inbound:
                                add(other, own, rule.relation)
                            else:
                                add(own, other, rule.relation)
            for link in LINK_RULES.get(type_name, ()):
                if link.unless and link.unless in props:
                    continue
                sources = [n for v in _select(props, link.source) for n in drawn(stack.name, v)]
                targets = [n for v in _select(props, link.target) for n in drawn(stack.name, v)]
                for source in sources:
                    for target in targets:
                        add(source, target, link.relation)
    return list(edges.values())


# --------------------------------------------------------------------------------------
# Synthesis and rendering
# --------------------------------------------------------------------------------------


def synthesize(environment: str, outdir: Path) -> None:
    """Synthesize the app for one environment into ``outdir``, as ``cdk synth`` would."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    node_bin = REPO_ROOT / "node_modules" / ".bin"
    path = os.environ.get("PATH", "")
    # jsii runs the project's pinned Node.js, as under make.
    if node_bin.is_dir() and str(node_bin) not in path.split(os.pathsep):
        os.environ["PATH"] = f"{node_bin}{os.pathsep}{path}"
    os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(REPO_ROOT / ".cache" / "jsii"))

    from stacks.app_factory import cdk_json_context, create_app
    from stacks.config import SELECT_CONTEXT_KEY

    context = cdk_json_context()
    context[SELECT_CONTEXT_KEY] = environment
    app, _ = create_app(context, outdir=str(outdir))
    app.synth()


@dataclass(frozen=True)
class EdgeStyle:
    """How a relation is drawn. ``upstream`` edges point at what the source depends on
    (a bucket, a key, a model); Graphviz ranks their target first, so the foundations come
    before the stacks that use them and most arrows run one way through the picture."""

    color: str
    style: str
    width: str
    upstream: bool


EDGE_STYLES: dict[Relation, EdgeStyle] = {
    Relation.DATA: EdgeStyle("#1C7ED6", "solid", "1.3", upstream=True),
    Relation.ENCRYPTION: EdgeStyle("#868E96", "dotted", "1.3", upstream=True),
    Relation.SERVES: EdgeStyle("#2B8A3E", "solid", "1.8", upstream=True),
    Relation.EVENTS: EdgeStyle("#C2255C", "dashed", "1.3", upstream=False),
    Relation.TRIGGERS: EdgeStyle("#C2255C", "solid", "1.8", upstream=False),
    Relation.ALERTS: EdgeStyle("#E8590C", "dashed", "1.3", upstream=False),
}


_LINE_SAMPLES = {"solid": "━━━", "dashed": "╍╍╍", "dotted": "┈┈┈"}


def _legend(graph: ArchitectureGraph) -> str:
    """The diagram's title and colour legend, as a Graphviz HTML-like label."""
    rows = "".join(
        f'<TD><FONT COLOR="{look.color}">{_LINE_SAMPLES[look.style]}</FONT> {relation.value}</TD>'
        for relation, look in EDGE_STYLES.items()
    )
    title = (
        f"ML platform, environment {graph.environment}: "
        f"{len(graph.clusters)} stacks, from the synthesized CloudFormation templates"
    )
    return (
        '<<TABLE BORDER="0" CELLSPACING="6">'
        f'<TR><TD COLSPAN="{len(EDGE_STYLES)}"><B>{title}</B></TD></TR>'
        f"<TR>{rows}</TR></TABLE>>"
    )


def _cluster_label(cluster: Cluster) -> str:
    """Stack name, what it holds, and what it depends on: left-aligned lines (``\\l``)."""
    lines = [cluster.display_name, cluster.description]
    if cluster.dependencies:
        lines.append(f"after {', '.join(cluster.dependencies)}")
    return "".join(f"{line}\\l" for line in lines if line)


def _icon_class(icon: str) -> Any:
    module, name = icon.split(":")
    return getattr(importlib.import_module(module), name)


def _dot_id(node_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", node_id)


def render(
    graph: ArchitectureGraph, out: Path, direction: str = "TB", curvestyle: str = "curved"
) -> Path:
    """Draw ``graph`` into the PNG ``out`` with ``diagrams`` (Graphviz's ``dot`` required)."""
    if shutil.which("dot") is None:
        raise SystemExit(
            "Graphviz's `dot` is not on PATH: install the 'graphviz' package "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz), "
            "or run `make diagram`, which installs it when it can."
        )
    try:
        from diagrams import Cluster as DiagramCluster
        from diagrams import Diagram
        from diagrams import Edge as DiagramEdge
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit(
            "The `diagrams` package is missing: pip install -r requirements-diagram.txt "
            "(make diagram does this)."
        ) from exc

    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, Any] = {}
    with Diagram(
        name="",
        filename=str(out.with_suffix("")),
        outformat="png",
        show=False,
        direction=direction,
        curvestyle=curvestyle,
        graph_attr={
            "label": _legend(graph),
            "labelloc": "t",
            "fontsize": "22",
            "pad": "0.4",
            "nodesep": "0.35",
            "ranksep": "1.1",
        },
        node_attr={"fontsize": "12"},
        edge_attr={"arrowsize": "0.8"},
    ):
        for cluster in graph.clusters:
            with DiagramCluster(
                cluster.display_name,
                graph_attr={"label": _cluster_label(cluster), "fontsize": "15", "margin": "14"},
            ):
                for node_id in cluster.node_ids:
                    node = graph.nodes[node_id]
                    drawn[node_id] = _icon_class(node.kind.icon)(
                        node.label, nodeid=_dot_id(node_id)
                    )
        for edge in graph.edges:
            look = EDGE_STYLES[edge.relation]
            attrs = {"color": look.color, "style": look.style, "penwidth": look.width}
            source, target = drawn[edge.source], drawn[edge.target]
            if look.upstream:  # laid out target first, drawn with the arrow at the target
                target.connect(source, DiagramEdge(target, reverse=True, **attrs))
            else:
                source.connect(target, DiagramEdge(source, forward=True, **attrs))
    return out


def default_out(environment: str) -> Path:
    """docs/architecture.png for dev, docs/architecture-<env>.png for the others."""
    suffix = "" if environment == DEFAULT_ENVIRONMENT else f"-{environment}"
    return DOCS_DIR / f"architecture{suffix}.png"


def summary(graph: ArchitectureGraph) -> str:
    per_stack = ", ".join(f"{c.name} {len(c.node_ids)}" for c in graph.clusters)
    return (
        f"{len(graph.nodes)} nodes in {len(graph.clusters)} stacks ({per_stack}), "
        f"{len(graph.edges)} edges"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Draw the architecture of one environment from the synthesized app."
    )
    parser.add_argument(
        "--env",
        default=DEFAULT_ENVIRONMENT,
        help=f"environment of config/ to synthesize and draw (default: {DEFAULT_ENVIRONMENT})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="PNG to write (default: docs/architecture.png for dev, "
        "docs/architecture-<env>.png otherwise)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    environment: str = args.env
    if not re.fullmatch(r"[a-z][a-z0-9-]*", environment):
        print(f"--env takes one environment name of config/, not {environment!r}", file=sys.stderr)
        return 2
    out: Path = args.out or default_out(environment)
    if out.suffix != ".png":
        print(f"--out must name a .png file, not {out}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mlops-diagram-") as tmp:
        print(f"Synthesizing {environment} ...", flush=True)
        try:
            synthesize(environment, Path(tmp))
        except ValueError as exc:  # stacks.config.ConfigError: bad config or unknown env
            print(exc, file=sys.stderr)
            return 2
        stacks = load_assembly(Path(tmp), environment)
    graph = build_graph(stacks, environment)
    written = render(graph, out)
    shown = written.relative_to(REPO_ROOT) if written.is_relative_to(REPO_ROOT) else written
    print(f"Drew {summary(graph)} into {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

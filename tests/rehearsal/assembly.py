"""One environment's synthesized cloud assembly, with every intrinsic of its templates resolvable.

Both parts of the run rehearsal read the templates as CloudFormation would deploy them: the
pipeline run (``pipeline_runner.py``) executes the resolved pipeline definition against a fake
S3 holding the stacks' file assets, and the flows (``flows.py``) evaluate resolved requests
against resolved policies. Both need the same thing of the templates: every resource one
stand-in physical name, and every ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, condition and
cross-stack output resolved from it the way CloudFormation documents for the type, so that a
name written in one place (an asset manifest's destination, a pipeline input, a bucket
policy) matches the same name written anywhere else. One resolver serves both, so the two
cannot disagree about a name.

Resolution is strict: an intrinsic, pseudo parameter, condition, output or reference the
resolver does not know raises :class:`UnresolvableError` instead of passing silently.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Template = dict[str, Any]


class UnresolvableError(AssertionError):
    """The resolver met something it does not know: the rehearsal must not guess."""


@dataclass
class StackTemplate:
    stack_name: str
    artifact_id: str
    template: Template


def _short_id(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


class Assembly:
    """The stacks of one environment's cloud assembly, with every intrinsic resolvable.

    Each resource gets one physical name, ``<stack name>-<logical id>`` (lower case where
    the service requires it), unless its template names it; ``Ref`` and ``Fn::GetAtt``
    return what CloudFormation documents for the type, built from that name. File assets
    resolve to the bucket and key of their asset manifest's destination, the same names the
    templates reference them by.
    """

    def __init__(
        self,
        stacks: Iterable[StackTemplate],
        *,
        account: str,
        region: str,
        paths: Mapping[str, tuple[str, str]] | None = None,
        asset_manifests: Mapping[str, Path] | None = None,
    ) -> None:
        self.stacks = {s.stack_name: s for s in stacks}
        self.account = account
        self.region = region
        self.partition = "aws"
        #: Construct path (``Serving/ApprovedModels/Function/Resource``) -> (stack, logical id);
        #: ``None`` when no construct tree was loaded.
        self.paths = None if paths is None else dict(paths)
        #: Stack artifact id -> its assets manifest (``<artifact id>.assets.json``).
        self.asset_manifests = dict(asset_manifests or {})
        self._exports: dict[str, tuple[str, Any]] = {}
        for stack in self.stacks.values():
            for output in stack.template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if export is not None:
                    self._exports[self.resolve(stack.stack_name, export)] = (
                        stack.stack_name,
                        output["Value"],
                    )

    @classmethod
    def load(cls, assembly_dir: Path, tree_file: Path | None = None) -> Assembly:
        """The stacks of the cloud assembly in ``assembly_dir`` (a stage's), with the
        construct paths of the app's ``tree_file`` (none, and no :meth:`by_path`, by
        default)."""
        manifest = json.loads((assembly_dir / "manifest.json").read_text(encoding="utf-8"))
        stacks: list[StackTemplate] = []
        environments: set[str] = set()
        asset_manifests: dict[str, Path] = {}
        #: Construct path of each stack (its display name, ``dev/Serving``) -> stack name.
        stack_paths: dict[str, str] = {}
        for artifact_id, artifact in manifest["artifacts"].items():
            if artifact["type"] == "cdk:asset-manifest":
                stack_id = artifact_id.removesuffix(".assets")
                asset_manifests[stack_id] = assembly_dir / artifact["properties"]["file"]
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            environments.add(artifact["environment"])
            props = artifact["properties"]
            template = json.loads(
                (assembly_dir / props["templateFile"]).read_text(encoding="utf-8")
            )
            stack_name = props.get("stackName", artifact_id)
            stacks.append(StackTemplate(stack_name, artifact_id, template))
            stack_paths[artifact.get("displayName", artifact_id)] = stack_name
        # One account and region resolve every pseudo parameter and ARN of the stage.
        if len(environments) != 1:
            raise UnresolvableError(
                f"{assembly_dir.name}: stacks in {sorted(environments)}, not one environment"
            )
        account, region = environments.pop().removeprefix("aws://").split("/")
        return cls(
            stacks,
            account=account,
            region=region,
            paths=None if tree_file is None else _construct_paths(tree_file, stack_paths),
            asset_manifests=asset_manifests,
        )

    def copy(self) -> Assembly:
        """A deep copy whose templates a negative control may break."""
        return Assembly(
            [copy.deepcopy(s) for s in self.stacks.values()],
            account=self.account,
            region=self.region,
            paths=self.paths,
            asset_manifests=self.asset_manifests,
        )

    # -- resources ------------------------------------------------------------------

    def resources(self, type_name: str | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(stack name, logical id, resource) of every resource, optionally of one type."""
        for stack in self.stacks.values():
            for logical_id, resource in stack.template.get("Resources", {}).items():
                if type_name is None or resource["Type"] == type_name:
                    yield stack.stack_name, logical_id, resource

    def by_path(self, pattern: str) -> list[tuple[str, str, dict[str, Any]]]:
        """Resources whose construct path below the stage matches ``pattern`` (fnmatch)."""
        if self.paths is None:
            raise UnresolvableError("no construct tree loaded: Assembly.load(..., tree_file)")
        found = []
        for path, (stack_name, logical_id) in sorted(self.paths.items()):
            if fnmatch.fnmatchcase(path, pattern):
                found.append(
                    (
                        stack_name,
                        logical_id,
                        self.stacks[stack_name].template["Resources"][logical_id],
                    )
                )
        return found

    def props(self, stack_name: str, resource: dict[str, Any]) -> dict[str, Any]:
        return self.resolve(stack_name, resource.get("Properties", {}))

    def file_assets(self, stack_name: str) -> dict[str, Path]:
        """``s3://<bucket>/<key>`` -> the local file, for each file asset of the stack, at
        the destination its assets manifest names (resolved like the templates' ``Fn::Sub``,
        so that a template's reference to the asset names the same object)."""
        stack = self.stacks[stack_name]
        path = self.asset_manifests.get(stack.artifact_id)
        if path is None:
            return {}
        manifest = json.loads(path.read_text(encoding="utf-8"))
        assets: dict[str, Path] = {}
        for asset in manifest.get("files", {}).values():
            source = path.parent / asset["source"]["path"]
            if asset["source"].get("packaging", "file") != "file" or not source.is_file():
                continue  # folders are zipped Lambda code, templates are not assets
            for destination in asset["destinations"].values():
                bucket = self._sub(stack_name, destination["bucketName"])
                key = self._sub(stack_name, destination["objectKey"])
                assets[f"s3://{bucket}/{key}"] = source
        return assets

    # -- intrinsics -----------------------------------------------------------------

    def physical_name(self, stack_name: str, logical_id: str) -> str:
        resource = self.stacks[stack_name].template["Resources"][logical_id]
        props = resource.get("Properties", {})
        explicit = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::IAM::Role": "RoleName",
            "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
            "AWS::SageMaker::Pipeline": "PipelineName",
            "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
            "AWS::CloudWatch::Alarm": "AlarmName",
            "AWS::Events::Rule": "Name",
        }.get(resource["Type"])
        if explicit and explicit in props:
            return str(self.resolve(stack_name, props[explicit]))
        name = f"{stack_name}-{logical_id}"
        if resource["Type"] == "AWS::S3::Bucket":
            return f"{name.lower()[:50]}-{_short_id(stack_name, logical_id)}"
        if resource["Type"] == "AWS::IAM::Role":
            return name[:64]
        return name

    def _arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"

    def ref(self, stack_name: str, logical_id: str) -> Any:
        template = self.stacks[stack_name].template
        if logical_id.startswith("AWS::"):
            return self._pseudo(stack_name, logical_id)
        if logical_id in template.get("Parameters", {}):
            parameter = template["Parameters"][logical_id]
            if "Default" not in parameter:
                raise UnresolvableError(f"{stack_name}: parameter {logical_id} has no default")
            return parameter["Default"]
        if logical_id not in template.get("Resources", {}):
            raise UnresolvableError(f"{stack_name}: Ref to unknown {logical_id}")
        type_name = template["Resources"][logical_id]["Type"]
        name = self.physical_name(stack_name, logical_id)
        by_type: dict[str, Callable[[], str]] = {
            "AWS::IAM::ManagedPolicy": lambda: (
                f"arn:{self.partition}:iam::{self.account}:policy/{name}"
            ),
            "AWS::SNS::Topic": lambda: self._arn("sns", name),
            "AWS::SQS::Queue": lambda: (
                f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
            ),
            "AWS::KMS::Key": lambda: _short_id(stack_name, logical_id, length=32),
            "AWS::SageMaker::Model": lambda: self._arn("sagemaker", f"model/{name.lower()}"),
            "AWS::SageMaker::Endpoint": lambda: self._arn("sagemaker", f"endpoint/{name.lower()}"),
            "AWS::SageMaker::ModelPackageGroup": lambda: self._arn(
                "sagemaker", f"model-package-group/{name.lower()}"
            ),
            "AWS::EC2::SecurityGroup": lambda: f"sg-{_short_id(stack_name, logical_id, length=17)}",
            "AWS::EC2::Subnet": lambda: f"subnet-{_short_id(stack_name, logical_id, length=17)}",
            "AWS::EC2::VPC": lambda: f"vpc-{_short_id(stack_name, logical_id, length=17)}",
        }
        return by_type.get(type_name, lambda: name)()

    def get_att(self, stack_name: str, logical_id: str, attribute: str) -> Any:
        template = self.stacks[stack_name].template
        if logical_id not in template.get("Resources", {}):
            raise UnresolvableError(f"{stack_name}: Fn::GetAtt of unknown {logical_id}")
        type_name = template["Resources"][logical_id]["Type"]
        name = self.physical_name(stack_name, logical_id)
        ref = self.ref(stack_name, logical_id)
        arns: dict[str, Callable[[], str]] = {
            "AWS::IAM::Role": lambda: f"arn:{self.partition}:iam::{self.account}:role/{name}",
            "AWS::S3::Bucket": lambda: f"arn:{self.partition}:s3:::{name}",
            "AWS::KMS::Key": lambda: self._arn("kms", f"key/{ref}"),
            "AWS::SQS::Queue": lambda: self._arn("sqs", name),
            "AWS::SNS::Topic": lambda: self._arn("sns", name),
            "AWS::Lambda::Function": lambda: self._arn("lambda", f"function:{name}"),
            "AWS::Events::Rule": lambda: self._arn("events", f"rule/{name}"),
            "AWS::CloudWatch::Alarm": lambda: self._arn("cloudwatch", f"alarm:{name}"),
            "AWS::CloudWatch::CompositeAlarm": lambda: self._arn("cloudwatch", f"alarm:{name}"),
            "AWS::Logs::LogGroup": lambda: self._arn("logs", f"log-group:{name}:*"),
            "AWS::SageMaker::MonitoringSchedule": lambda: self._arn(
                "sagemaker", f"monitoring-schedule/{name.lower()}"
            ),
        }
        if attribute in ("Arn", f"{type_name.rsplit('::', 1)[1]}Arn") and type_name in arns:
            return arns[type_name]()
        plain: dict[tuple[str, str], Callable[[], str]] = {
            ("AWS::SQS::Queue", "QueueName"): lambda: name,
            ("AWS::SQS::Queue", "QueueUrl"): lambda: ref,
            ("AWS::SNS::Topic", "TopicName"): lambda: name,
            ("AWS::SNS::Topic", "TopicArn"): lambda: ref,
            ("AWS::KMS::Key", "KeyId"): lambda: ref,
            ("AWS::IAM::Role", "RoleId"): lambda: f"AROA{_short_id(name, length=17).upper()}",
            ("AWS::S3::Bucket", "DomainName"): lambda: f"{name}.s3.amazonaws.com",
            ("AWS::S3::Bucket", "RegionalDomainName"): lambda: (
                f"{name}.s3.{self.region}.amazonaws.com"
            ),
            ("AWS::IAM::ManagedPolicy", "PolicyArn"): lambda: ref,
        }
        if (type_name, attribute) in plain:
            return plain[(type_name, attribute)]()
        # Attributes no flow reads as a policy subject (endpoint names, a VPC's default
        # security group...): a unique, deterministic value is all that matters.
        return f"{name}.{attribute}"

    def _pseudo(self, stack_name: str, name: str) -> Any:
        values = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": self._arn(
                "cloudformation", f"stack/{stack_name}/{_short_id(stack_name)}"
            ),
        }
        if name not in values:
            raise UnresolvableError(f"{stack_name}: pseudo parameter {name}")
        return values[name]

    def _condition(self, stack_name: str, name: str) -> bool:
        conditions = self.stacks[stack_name].template.get("Conditions", {})
        if name not in conditions:
            raise UnresolvableError(f"{stack_name}: unknown condition {name}")
        return bool(self.resolve(stack_name, conditions[name]))

    def _stack_output(self, stack_name: str, arg: Mapping[str, Any]) -> Any:
        """The CDK's weak cross-stack reference (``Fn::GetStackOutput``): the producer's
        output, resolved in the producer's template."""
        producer = self.resolve(stack_name, arg["StackName"])
        output = self.resolve(stack_name, arg["OutputName"])
        region = self.resolve(stack_name, arg.get("Region", self.region))
        if region != self.region:
            raise UnresolvableError(f"{stack_name}: output {producer}.{output} of {region}")
        if producer not in self.stacks:
            raise UnresolvableError(f"{stack_name}: output of unknown stack {producer}")
        outputs = self.stacks[producer].template.get("Outputs", {})
        if output not in outputs:
            raise UnresolvableError(f"{stack_name}: no output {producer}.{output}")
        return self.resolve(producer, outputs[output]["Value"])

    def resolve(self, stack_name: str, node: Any) -> Any:
        """``node`` with every intrinsic of ``stack_name``'s template replaced by its value."""
        if isinstance(node, list):
            return [
                v for v in (self.resolve(stack_name, item) for item in node) if v is not _NO_VALUE
            ]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self.ref(stack_name, arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(stack_name, logical_id, attribute)
            if key == "Fn::Join":
                sep, values = arg
                return str(sep).join(str(v) for v in self.resolve(stack_name, values))
            if key == "Fn::Select":
                index, values = self.resolve(stack_name, arg)
                return values[int(index)]
            if key == "Fn::Split":
                sep, value = self.resolve(stack_name, arg)
                return str(value).split(sep)
            if key == "Fn::Sub":
                return self._sub(stack_name, arg)
            if key == "Fn::GetAZs":
                return [f"{self.region}{zone}" for zone in "abc"]
            if key == "Fn::ImportValue":
                export = self.resolve(stack_name, arg)
                if export not in self._exports:
                    raise UnresolvableError(f"{stack_name}: Fn::ImportValue of unknown {export}")
                producer, value = self._exports[export]
                return self.resolve(producer, value)
            if key == "Fn::GetStackOutput":
                return self._stack_output(stack_name, arg)
            if key == "Fn::If":
                name, if_true, if_false = arg
                chosen = if_true if self._condition(stack_name, name) else if_false
                return self.resolve(stack_name, chosen)
            if key == "Fn::Equals":
                left, right = self.resolve(stack_name, arg)
                return left == right
            if key == "Fn::Not":
                return not self.resolve(stack_name, arg)[0]
            if key == "Fn::And":
                return all(self.resolve(stack_name, arg))
            if key == "Fn::Or":
                return any(self.resolve(stack_name, arg))
            if key == "Condition":
                return self._condition(stack_name, arg)
            if key == "Fn::FindInMap":
                mapping, top, second = self.resolve(stack_name, arg)
                return self.stacks[stack_name].template["Mappings"][mapping][top][second]
            if key.startswith("Fn::"):
                raise UnresolvableError(f"{stack_name}: intrinsic {key} is not supported")
        return {
            k: v
            for k, v in ((k, self.resolve(stack_name, v)) for k, v in node.items())
            if v is not _NO_VALUE
        }

    def _sub(self, stack_name: str, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else arg
        variables = self.resolve(stack_name, variables)

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(stack_name, logical_id, attribute))
            return str(self.ref(stack_name, name))

        return re.sub(r"\$\{([^}]+)\}", value, text)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


def _construct_paths(tree_file: Path, stack_paths: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Construct path below the stage (``Serving/ApprovedModels/Function/Resource``) ->
    (stack name, logical id) of every resource of the stacks in ``stack_paths``, from the
    app's ``tree.json`` (the templates carry no ``aws:cdk:path`` metadata)."""
    tree = json.loads(tree_file.read_text(encoding="utf-8"))["tree"]
    found: dict[str, tuple[str, str]] = {}

    def walk(node: dict[str, Any], stack_name: str | None, stage: str) -> None:
        path = node.get("path", "")
        stack_name = stack_paths.get(path, stack_name)
        if stack_name is None and path in {p.rsplit("/", 1)[0] for p in stack_paths}:
            stage = path
        attributes = node.get("attributes") or {}
        if "aws:cdk:cloudformation:logicalId" in attributes and stack_name is not None:
            found[path.removeprefix(f"{stage}/")] = (
                stack_name,
                attributes["aws:cdk:cloudformation:logicalId"],
            )
        for child in (node.get("children") or {}).values():
            walk(child, stack_name, stage)

    walk(tree, None, "")
    return found

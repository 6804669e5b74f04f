"""Machinery of the offline deploy rehearsal (the test is ``test_deploy_rehearsal.py``).

A cloud assembly is deployed the way ``cdk deploy`` would deploy it, into moto's in-process
AWS (``moto.mock_aws``) instead of a real account:

* :func:`bootstrap` makes what ``cdk bootstrap`` leaves behind that the templates and the
  assets need: the bootstrap version SSM parameter and the file-asset bucket.
* :func:`publish_file_assets` uploads every file asset of a stack's assets manifest to its
  destination, zipping folders as the CDK CLI does.
* :class:`DeployRehearsal` creates, updates and deletes stacks with CloudFormation calls
  against moto, one account per environment (moto reads the account of every request from
  ``MOTO_ACCOUNT_ID``). Before a template reaches moto it is checked the way CloudFormation
  would check it (:func:`reference_problems`, :func:`rule_problems`) plus an IAM policy
  grammar check moto does not make (:func:`policy_problems`), and rewritten by
  :func:`prepare_template`: resources moto's CloudFormation cannot create are replaced by
  stand-ins, and ``Fn::GetStackOutput`` (the CDK's weak cross-stack reference, which moto
  does not know) is resolved from the producing stack's outputs.

Where moto's CloudFormation differs from the real one, the rehearsal makes up for it, each
time from a list the test keeps explicitly (with the reason) and each checked against moto
itself so that a case nobody listed fails the rehearsal instead of passing silently:

* types moto cannot create: stand-ins (:func:`moto_cannot_create`, ``StandIn``);
* types moto creates but misreads: respelled properties (``MotoAdaptation``);
* types moto cannot update (it would drop the update and forget the resource): handed to
  moto as a replacement under a new logical id (:func:`moto_cannot_update`);
* types whose replacement moto does not pass on to the resources using them: those users
  are updated too (``replaced_on_update``);
* types moto does not delete: deleted through the API first (:func:`moto_cannot_delete`,
  ``MotoDeleter``);
* termination protection, which moto neither enforces nor lets one turn off: enforced here.

Every problem found is reported at once in a :class:`RehearsalError`.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import logging
import os
import re
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
#: The version a current ``cdk bootstrap`` writes; the templates require at least 6.
BOOTSTRAP_VERSION = "30"
PARTITION = "aws"
#: Logical ids CloudFormation itself defines.
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
#: Where a stand-in records the properties of the resource it stands in for.
STAND_IN_OUTPUT_PREFIX = "RehearsalStandIn"
STAND_IN_PARAMETER_PREFIX = "/rehearsal/stand-in"


class RehearsalError(AssertionError):
    """One rehearsal step failed; ``problems`` lists every reason found."""

    def __init__(self, where: str, problems: Sequence[str]) -> None:
        self.where = where
        self.problems = list(problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{where}: {len(self.problems)} problem(s)\n{listed}")


# --------------------------------------------------------------------------------------
# moto


def is_custom_resource(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or (
        resource_type == "AWS::CloudFormation::CustomResource"
    )


def moto_cannot_create(resource_type: str) -> bool:
    """Whether moto's CloudFormation would skip (or fail on) this resource type.

    Asked of moto itself: its parser creates exactly the types in its model registry
    (``get_model_map``) and ignores the wait-condition types; a type outside both is
    skipped with a warning, leaving every ``Ref`` to it empty. Custom resources have a
    model, but creating one invokes the provider Lambda, which moto runs only in Docker.
    """
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    if is_custom_resource(resource_type):
        return True
    if resource_type in NULL_MODELS:
        return False
    return resource_type not in get_model_map()


def moto_cannot_update(resource_type: str) -> bool:
    """Whether moto's CloudFormation would drop an update of this type.

    Asked of moto itself: a model without ``update_from_cloudformation_json`` is not
    updated; moto then forgets the resource (no longer listed, never deleted) while the
    real one keeps its old settings.
    """
    from moto.cloudformation.parsing import get_model_map

    model = get_model_map().get(resource_type)
    return model is not None and hasattr(
        model.update_from_cloudformation_json, "__isabstractmethod__"
    )


def moto_cannot_delete(resource_type: str) -> bool:
    """Whether moto's CloudFormation leaves this type behind when it deletes it.

    Asked of moto itself: a model with neither a ``delete`` method nor
    ``delete_from_cloudformation_json`` is skipped silently on delete (a VPC endpoint left
    behind then keeps its VPC from being deleted).
    """
    from moto.cloudformation.parsing import get_model_map

    model = get_model_map().get(resource_type)
    return (
        model is not None
        and hasattr(model.delete_from_cloudformation_json, "__isabstractmethod__")
        and not hasattr(model, "delete")
    )


def rename_logical_ids(template: dict[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """The template with resources renamed, and every Ref/GetAtt/Sub/DependsOn to them."""
    if not renames:
        return template

    def rename(node: Any) -> Any:
        if isinstance(node, list):
            return [rename(v) for v in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"} and node["Ref"] in renames:
            return {"Ref": renames[node["Ref"]]}
        if set(node) == {"Fn::GetAtt"}:
            logical_id, attribute = _get_att_target(node["Fn::GetAtt"])
            if logical_id in renames:
                return {"Fn::GetAtt": [renames[logical_id], attribute]}
        if set(node) == {"Fn::Sub"}:
            sub = node["Fn::Sub"]
            text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
            for name in _SUB_VARIABLE.findall(text):
                logical_id, dot, attribute = name.partition(".")
                if logical_id in renames and name not in variables:
                    text = text.replace(
                        f"${{{name}}}", f"${{{renames[logical_id]}{dot}{attribute}}}"
                    )
            return {"Fn::Sub": [text, rename(variables)] if variables else text}
        return {k: rename(v) for k, v in node.items()}

    renamed = rename(template)
    resources = {}
    for logical_id, resource in renamed["Resources"].items():
        depends_on = resource.get("DependsOn")
        if isinstance(depends_on, str):
            resource["DependsOn"] = renames.get(depends_on, depends_on)
        elif isinstance(depends_on, list):
            resource["DependsOn"] = [renames.get(d, d) for d in depends_on]
        resources[renames.get(logical_id, logical_id)] = resource
    renamed["Resources"] = resources
    return renamed


@contextlib.contextmanager
def in_account(account: str) -> Iterator[None]:
    """Send every moto request of the block to ``account`` (moto reads it per request)."""
    before = os.environ.get("MOTO_ACCOUNT_ID")
    os.environ["MOTO_ACCOUNT_ID"] = account
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MOTO_ACCOUNT_ID", None)
        else:
            os.environ["MOTO_ACCOUNT_ID"] = before


class Clients:
    """boto3 clients by (service, region), made once inside the mock."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str) -> Any:
        import boto3

        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(service, region_name=region)
        return self._clients[key]


# --------------------------------------------------------------------------------------
# the cloud assembly


@dataclass(frozen=True)
class StackArtifact:
    """One stack of a cloud assembly, as ``manifest.json`` describes it."""

    artifact_id: str
    stack_name: str
    account: str
    region: str
    template_file: Path
    assets_file: Path | None
    dependencies: tuple[str, ...]
    termination_protection: bool
    template_object_url: str | None

    def template(self) -> dict[str, Any]:
        return json.loads(self.template_file.read_text(encoding="utf-8"))


def stack_artifacts(assembly_dir: Path) -> list[StackArtifact]:
    """The stacks of an assembly in dependency order (dependencies first, else as listed)."""
    manifest = json.loads((assembly_dir / "manifest.json").read_text(encoding="utf-8"))
    artifacts = manifest["artifacts"]
    stacks: dict[str, StackArtifact] = {}
    for artifact_id, artifact in artifacts.items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        env = artifact["environment"]
        match = re.fullmatch(r"aws://(\d{12})/([a-z0-9-]+)", env)
        assert match, f"{artifact_id}: environment {env!r} is not a concrete account/region"
        properties = artifact["properties"]
        dependencies = artifact.get("dependencies", [])
        asset_manifests = [
            artifacts[dep]["properties"]["file"]
            for dep in dependencies
            if artifacts.get(dep, {}).get("type") == "cdk:asset-manifest"
        ]
        stacks[artifact_id] = StackArtifact(
            artifact_id=artifact_id,
            stack_name=properties.get("stackName", artifact_id),
            account=match.group(1),
            region=match.group(2),
            template_file=assembly_dir / properties["templateFile"],
            assets_file=assembly_dir / asset_manifests[0] if asset_manifests else None,
            dependencies=tuple(
                dep
                for dep in dependencies
                if artifacts.get(dep, {}).get("type") == "aws:cloudformation:stack"
            ),
            termination_protection=bool(properties.get("terminationProtection")),
            template_object_url=properties.get("stackTemplateAssetObjectUrl"),
        )
    ordered: list[StackArtifact] = []
    placed: set[str] = set()

    def place(artifact_id: str, path: tuple[str, ...]) -> None:
        assert artifact_id not in path, f"dependency cycle: {' -> '.join((*path, artifact_id))}"
        if artifact_id in placed:
            return
        for dep in stacks[artifact_id].dependencies:
            place(dep, (*path, artifact_id))
        placed.add(artifact_id)
        ordered.append(stacks[artifact_id])

    for artifact_id in stacks:
        place(artifact_id, ())
    return ordered


def substitute_placeholders(text: str, account: str, region: str) -> str:
    """The CDK CLI's placeholders in asset destinations and role ARNs."""
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", PARTITION)
    )


# --------------------------------------------------------------------------------------
# bootstrap and assets


def asset_bucket_name(account: str, region: str) -> str:
    return f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{account}-{region}"


def publish_powertools_layer_parameter(account: str, region: str) -> None:
    """The public parameter AWS keeps in every account and region with the ARN of its
    Powertools layer (the functions' templates read it); moto reserves ``/aws/`` names to
    itself, so it is written into moto's SSM backend."""
    import datetime

    from aws_cdk import aws_lambda as lambda_
    from moto.ssm.models import Parameter, ssm_backends

    from mlops_constructs.core.event_function import powertools_layer_parameter

    name = powertools_layer_parameter(lambda_.Runtime.PYTHON_3_14, lambda_.Architecture.X86_64)
    ssm_backends[account][region]._parameters[name].append(
        Parameter(
            account_id=account,
            name=name,
            value=f"arn:aws:lambda:{region}:017000801446:layer:"
            "AWSLambdaPowertoolsPythonV3-python314-x86_64:1",
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=datetime.datetime.now(datetime.UTC),
            version=1,
            data_type="text",
        )
    )


def bootstrap(clients: Clients, account: str, region: str) -> None:
    """What the templates and the asset upload need from ``cdk bootstrap``, and no more."""
    with in_account(account):
        clients("ssm", region).put_parameter(
            Name=BOOTSTRAP_VERSION_PARAMETER,
            Value=BOOTSTRAP_VERSION,
            Type="String",
            Overwrite=True,
        )
        publish_powertools_layer_parameter(account, region)
        s3 = clients("s3", region)
        bucket = asset_bucket_name(account, region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )


def zip_directory(folder: Path) -> bytes:
    """A folder as the CDK CLI zips a ``packaging: zip`` asset: relative paths, sorted."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), (1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


@dataclass
class PublishedAssets:
    files: list[str] = field(default_factory=list)  # s3://bucket/key
    container_images: list[str] = field(default_factory=list)


def publish_file_assets(clients: Clients, assets_file: Path, account: str) -> PublishedAssets:
    """Upload every file asset of an assets manifest, as ``cdk-assets`` would.

    Container images are not published (this rehearsal has no Docker); they are returned
    so the caller can refuse them.
    """
    manifest = json.loads(assets_file.read_text(encoding="utf-8"))
    published = PublishedAssets(container_images=sorted(manifest.get("dockerImages", {})))
    for asset_id, asset in manifest.get("files", {}).items():
        source = asset["source"]
        assert "executable" not in source, f"{asset_id}: executable file assets are not rehearsed"
        path = (assets_file.parent / source["path"]).resolve()
        if source.get("packaging", "file") == "zip" and path.is_dir():
            body = zip_directory(path)
        else:
            body = path.read_bytes()
        for destination in asset["destinations"].values():
            region = destination["region"]
            bucket = substitute_placeholders(destination["bucketName"], account, region)
            key = substitute_placeholders(destination["objectKey"], account, region)
            with in_account(account):
                clients("s3", region).put_object(Bucket=bucket, Key=key, Body=body)
            published.files.append(f"s3://{bucket}/{key}")
    return published


# --------------------------------------------------------------------------------------
# template checks CloudFormation makes (and moto does not, or not clearly)


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def _get_att_target(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        return logical_id, attribute
    return str(value[0]), str(value[1])


def reference_problems(template: Mapping[str, Any]) -> list[str]:
    """``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` and ``DependsOn`` to names the template lacks.

    CloudFormation rejects such a template before creating anything ("Unresolved resource
    dependencies"); moto would fail midway with a bare ``KeyError`` or, for ``DependsOn``,
    not at all.
    """
    resources = template.get("Resources", {})
    known = set(resources) | set(template.get("Parameters", {})) | PSEUDO_PARAMETERS
    problems = []
    for section in ("Resources", "Outputs", "Conditions"):
        for path, node in _walk(template.get(section, {}), section):
            if not isinstance(node, dict):
                continue
            if isinstance(node.get("Ref"), str) and node["Ref"] not in known:
                problems.append(f"{path}: Ref to {node['Ref']!r}, which the template lacks")
            if "Fn::GetAtt" in node:
                logical_id, attribute = _get_att_target(node["Fn::GetAtt"])
                if logical_id not in resources:
                    problems.append(
                        f"{path}: Fn::GetAtt {logical_id}.{attribute} names a resource "
                        "the template lacks"
                    )
            if "Fn::Sub" in node:
                sub = node["Fn::Sub"]
                text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
                for name in _SUB_VARIABLE.findall(text):
                    base = name.split(".", 1)[0]
                    if name in variables or base in variables:
                        continue
                    if (base if "." in name else name) not in known:
                        problems.append(f"{path}: Fn::Sub variable ${{{name}}} is undefined")
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        for dependency in [depends_on] if isinstance(depends_on, str) else depends_on:
            if dependency not in resources:
                problems.append(
                    f"Resources/{logical_id}/DependsOn: {dependency!r} is not a resource"
                )
    return problems


def _rule_value(node: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(node, dict) and len(node) == 1:
        ((function, argument),) = node.items()
        if function == "Ref":
            return parameters[argument]
        if function == "Fn::Not":
            return not _rule_value(argument[0], parameters)
        if function == "Fn::And":
            return all(_rule_value(item, parameters) for item in argument)
        if function == "Fn::Or":
            return any(_rule_value(item, parameters) for item in argument)
        if function == "Fn::Equals":
            return _rule_value(argument[0], parameters) == _rule_value(argument[1], parameters)
        if function == "Fn::Contains":
            return _rule_value(argument[1], parameters) in _rule_value(argument[0], parameters)
        raise ValueError(f"rule function {function} is not rehearsed")
    if isinstance(node, list):
        return [_rule_value(item, parameters) for item in node]
    return node


def rule_problems(template: Mapping[str, Any], parameters: Mapping[str, Any]) -> list[str]:
    """The template's ``Rules`` evaluated as CloudFormation does before any change."""
    problems = []
    for name, rule in template.get("Rules", {}).items():
        try:
            if "RuleCondition" in rule and not _rule_value(rule["RuleCondition"], parameters):
                continue
            for assertion in rule.get("Assertions", []):
                if not _rule_value(assertion["Assert"], parameters):
                    problems.append(f"rule {name} failed: {assertion.get('AssertDescription', '')}")
        except (KeyError, ValueError) as error:
            problems.append(f"rule {name} cannot be evaluated: {error!r}")
    return problems


# --------------------------------------------------------------------------------------
# IAM policy grammar

#: Where the templates carry policy documents: (property path, kind). ``*`` is every
#: item of a list. Kinds: identity (no principal; Resource), resource (principal and
#: Resource), trust (principal; no Resource).
POLICY_DOCUMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "AWS::IAM::Role": (
        ("AssumeRolePolicyDocument", "trust"),
        ("Policies/*/PolicyDocument", "identity"),
    ),
    "AWS::IAM::User": (("Policies/*/PolicyDocument", "identity"),),
    "AWS::IAM::Group": (("Policies/*/PolicyDocument", "identity"),),
    "AWS::IAM::Policy": (("PolicyDocument", "identity"),),
    "AWS::IAM::ManagedPolicy": (("PolicyDocument", "identity"),),
    "AWS::KMS::Key": (("KeyPolicy", "resource"),),
    "AWS::S3::BucketPolicy": (("PolicyDocument", "resource"),),
    "AWS::SNS::TopicPolicy": (("PolicyDocument", "resource"),),
    "AWS::SQS::QueuePolicy": (("PolicyDocument", "resource"),),
    "AWS::SecretsManager::ResourcePolicy": (("ResourcePolicy", "resource"),),
    "AWS::SageMaker::ModelPackageGroup": (("ModelPackageGroupPolicy", "resource"),),
}
_STATEMENT_KEYS = frozenset(
    [
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    ]
)
_ORDERINGS = ("Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan")
_STRING_TESTS = ("Equals", "NotEquals", "EqualsIgnoreCase", "NotEqualsIgnoreCase", "Like")
#: IAM condition operators, without the ForAnyValue:/ForAllValues: prefix and IfExists.
_CONDITION_BASES = frozenset(
    [f"String{op}" for op in (*_STRING_TESTS, "NotLike")]
    + [f"{kind}{op}" for kind in ("Numeric", "Date") for op in (*_ORDERINGS, "GreaterThanEquals")]
    + [f"Arn{op}" for op in ("Equals", "Like", "NotEquals", "NotLike")]
    + ["Bool", "BinaryEquals", "IpAddress", "NotIpAddress"]
)
_PRINCIPAL_KEYS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_ACTION = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")


def _is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)).startswith(("Fn::", "Ref"))
    )


def _strings(value: Any) -> list[Any] | None:
    """A policy element's values (a string or a list of them); None if malformed."""
    items = value if isinstance(value, list) else [value]
    if not items:
        return None
    if all(isinstance(item, str) or _is_intrinsic(item) for item in items):
        return items
    return None


def condition_operator_problem(operator: str) -> str | None:
    base = operator
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if base.startswith(prefix):
            base = base[len(prefix) :]
    if base == "Null":
        return (
            None
            if base == operator
            else f"condition operator {operator!r}: Null takes no set prefix"
        )
    if base.endswith("IfExists"):
        base = base[: -len("IfExists")]
    return None if base in _CONDITION_BASES else f"unknown condition operator {operator!r}"


def statement_problems(statement: Any, kind: str) -> list[str]:
    """The grammar of one statement of a policy of ``kind`` (identity, resource, trust)."""
    if not isinstance(statement, dict):
        return [f"a statement must be an object, got {statement!r}"]
    problems = [
        f"unknown statement element {key!r}" for key in statement if key not in _STATEMENT_KEYS
    ]
    if statement.get("Effect") not in ("Allow", "Deny"):
        problems.append(f"Effect must be 'Allow' or 'Deny', got {statement.get('Effect')!r}")
    actions = [key for key in ("Action", "NotAction") if key in statement]
    if len(actions) != 1:
        problems.append(f"exactly one of Action/NotAction is required, got {actions or 'none'}")
    for key in actions:
        values = _strings(statement[key])
        if values is None:
            problems.append(f"{key} must be a string or a non-empty list of strings")
            continue
        problems += [
            f"{key} {value!r} is not 'service:Action' or '*'"
            for value in values
            if isinstance(value, str) and not _ACTION.match(value)
        ]
    resources = [key for key in ("Resource", "NotResource") if key in statement]
    if kind == "trust":
        if resources:
            problems.append("a trust policy statement takes no Resource/NotResource")
    elif len(resources) != 1:
        problems.append(
            f"exactly one of Resource/NotResource is required, got {resources or 'none'}"
        )
    for key in resources:
        if _strings(statement[key]) is None:
            problems.append(f"{key} must be a string or a non-empty list of strings")
    principals = [key for key in ("Principal", "NotPrincipal") if key in statement]
    if kind == "identity":
        if principals:
            problems.append("an identity policy statement takes no Principal/NotPrincipal")
    elif len(principals) != 1:
        problems.append(
            f"exactly one of Principal/NotPrincipal is required, got {principals or 'none'}"
        )
    for key in principals:
        principal = statement[key]
        if principal == "*" or _is_intrinsic(principal):
            continue
        if not isinstance(principal, dict) or not principal:
            problems.append(
                f"{key} must be '*' or an object such as {{'AWS': ...}}, got {principal!r}"
            )
            continue
        for principal_type, value in principal.items():
            if principal_type not in _PRINCIPAL_KEYS:
                problems.append(
                    f"{key} type {principal_type!r} is not one of {sorted(_PRINCIPAL_KEYS)}"
                )
            elif _strings(value) is None:
                problems.append(f"{key}.{principal_type} must be a string or a list of strings")
    if "Condition" in statement:
        condition = statement["Condition"]
        if not isinstance(condition, dict) or not condition:
            problems.append(f"Condition must be a non-empty object, got {condition!r}")
        else:
            for operator, block in condition.items():
                problem = condition_operator_problem(operator)
                if problem:
                    problems.append(problem)
                if not isinstance(block, dict) or not block:
                    problems.append(f"Condition {operator} must map condition keys to values")
                    continue
                for condition_key, value in block.items():
                    items = value if isinstance(value, list) else [value]
                    if not items or not all(
                        isinstance(item, str | int | float | bool) or _is_intrinsic(item)
                        for item in items
                    ):
                        problems.append(
                            f"Condition {operator} {condition_key}: values must be strings, "
                            f"numbers or booleans, got {value!r}"
                        )
    return problems


def policy_document_problems(document: Any, kind: str) -> list[str]:
    """The grammar of a policy document (as a dict, or as the JSON string of one)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as error:
            return [f"not JSON: {error}"]
    if _is_intrinsic(document):
        return []  # built at deploy time (Fn::If, ...): not checkable statically
    if not isinstance(document, dict):
        return [f"a policy must be an object, got {type(document).__name__}"]
    problems = [
        f"unknown policy element {key!r}"
        for key in document
        if key not in {"Version", "Id", "Statement"}
    ]
    if document.get("Version") not in ("2012-10-17", "2008-10-17"):
        problems.append(f"Version must be '2012-10-17', got {document.get('Version')!r}")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        return [*problems, "Statement must be a statement or a non-empty list of them"]
    sids = [s.get("Sid") for s in statements if isinstance(s, dict) and "Sid" in s]
    problems += [f"duplicate Sid {sid!r}" for sid in sorted({s for s in sids if sids.count(s) > 1})]
    for index, statement in enumerate(statements):
        problems += [f"Statement[{index}]: {p}" for p in statement_problems(statement, kind)]
    return problems


def _at_path(node: Any, parts: list[str], path: str) -> Iterator[tuple[str, Any]]:
    if not parts:
        yield path, node
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        for index, item in enumerate(node if isinstance(node, list) else []):
            yield from _at_path(item, rest, f"{path}/{index}")
    elif isinstance(node, dict) and head in node:
        yield from _at_path(node[head], rest, f"{path}/{head}")


def policy_problems(template: Mapping[str, Any]) -> list[str]:
    """Grammar problems of every policy document of the template (see POLICY_DOCUMENTS)."""
    problems = []
    for logical_id, resource in template.get("Resources", {}).items():
        for prop_path, kind in POLICY_DOCUMENTS.get(resource["Type"], ()):
            for path, document in _at_path(
                resource.get("Properties", {}), prop_path.split("/"), logical_id
            ):
                problems += [
                    f"{path} ({kind} policy): {problem}"
                    for problem in policy_document_problems(document, kind)
                ]
    return problems


# --------------------------------------------------------------------------------------
# stand-ins


def join(*parts: Any) -> Any:
    """Concatenate strings and CloudFormation expressions; a plain string when possible."""
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    if all(isinstance(part, str) for part in merged):
        return "".join(merged)
    return {"Fn::Join": ["", merged]}


@dataclass(frozen=True)
class StandInContext:
    """What a stand-in's values are made from: where it is, and the resource's properties."""

    account: str
    region: str
    stack_name: str
    logical_id: str
    resource_type: str
    properties: Mapping[str, Any]
    partition: str = PARTITION

    def _digest(self) -> str:
        text = f"{self.account}/{self.region}/{self.stack_name}/{self.logical_id}"
        return hashlib.sha256(text.encode()).hexdigest()

    def hex(self, length: int) -> str:
        return self._digest()[:length]

    def uuid(self) -> str:
        return str(uuid.UUID(self._digest()[:32]))

    def generated_name(self, max_length: int = 255) -> str:
        """A name the way CloudFormation makes one: stack-logicalid-SUFFIX."""
        suffix = self._digest()[:12].upper()
        head = f"{self.stack_name}-{self.logical_id}"[: max_length - len(suffix) - 1]
        return f"{head}-{suffix}"

    def prop(self, name: str, max_length: int = 255) -> Any:
        """A naming property, or the name CloudFormation would generate without it."""
        value = self.properties.get(name)
        return value if value is not None else self.generated_name(max_length)

    def arn(self, service: str, *resource: Any, regional: bool = True) -> Any:
        region = self.region if regional else ""
        return join(f"arn:{self.partition}:{service}:{region}:{self.account}:", *resource)


ValueMaker = Callable[[StandInContext], Any]


@dataclass(frozen=True)
class StandIn:
    """How the rehearsal replaces one resource type moto's CloudFormation cannot create.

    ``ref`` makes the value of ``Ref`` to the resource (a name, id or ARN of the shape the
    real type returns), ``attributes`` the values of ``Fn::GetAtt``; both may use the
    resource's own properties (``StandInContext.prop``). ``reason`` says why moto cannot
    create the type.
    """

    reason: str
    ref: ValueMaker
    attributes: Mapping[str, ValueMaker] = field(default_factory=dict)


@dataclass(frozen=True)
class MotoAdaptation:
    """A change to the properties of a type moto does create, to get around a moto bug.

    The template stays equivalent for AWS; only its spelling changes to what moto reads.
    """

    reason: str
    adapt: Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class MotoDeleter:
    """How to delete, through the AWS API, a type moto's CloudFormation leaves behind.

    ``delete(clients, region, physical_id)`` runs in the stack's account just before moto
    deletes the stack (or removes the resource in an update).
    """

    reason: str
    delete: Callable[[Clients, str, str], None]


@dataclass
class PreparedTemplate:
    """A template as handed to moto, and the stand-ins it contains (logical id -> type)."""

    template: dict[str, Any]
    stand_ins: dict[str, str]


StackOutputLookup = Callable[[str, str, str], "str | None"]


def prepare_template(
    template: Mapping[str, Any],
    *,
    stand_ins: Mapping[str, StandIn],
    adaptations: Mapping[str, MotoAdaptation],
    account: str,
    region: str,
    stack_name: str,
    stack_output: StackOutputLookup,
) -> PreparedTemplate:
    """Rewrite a template so that moto can create all of it, or raise RehearsalError.

    * ``Fn::GetStackOutput`` becomes the named output's value, read from the deployed
      producing stack (``stack_output(region, stack_name, output_name)``).
    * A resource moto cannot create (:func:`moto_cannot_create`) is replaced by an
      ``AWS::SSM::Parameter`` named ``/rehearsal/stand-in/<stack>/<logical id>`` whose
      value is the ``Ref`` value the real resource would have; its ``DependsOn``,
      ``Condition`` and ``DeletionPolicy`` are kept. Its resolved properties are recorded as
      the stack output ``RehearsalStandIn<logical id>`` (JSON), so checks can read them.
    * ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub`` variables naming a stand-in are replaced by
      the realistic values of :class:`StandIn`.

    * A type moto creates, but misreads, is respelled by its entry in ``adaptations``.

    A type moto cannot create that ``stand_ins`` does not list, an attribute a stand-in
    cannot make, and a missing stack output are problems.
    """
    problems: list[str] = []
    template = copy.deepcopy(dict(template))
    resources: dict[str, Any] = template.get("Resources", {})

    def resolve_stack_outputs(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::GetStackOutput"}:
                spec = node["Fn::GetStackOutput"]
                if "RoleArn" in spec:
                    problems.append(f"{path}: cross-account Fn::GetStackOutput is not rehearsed")
                    return ""
                value = stack_output(
                    spec.get("Region", region), spec["StackName"], spec["OutputName"]
                )
                if value is None:
                    problems.append(
                        f"{path}: Fn::GetStackOutput {spec['StackName']}.{spec['OutputName']}: "
                        "no such output of a deployed stack"
                    )
                    return ""
                return value
            return {k: resolve_stack_outputs(v, f"{path}/{k}") for k, v in node.items()}
        if isinstance(node, list):
            return [resolve_stack_outputs(v, f"{path}/{i}") for i, v in enumerate(node)]
        return node

    template = resolve_stack_outputs(template, stack_name)
    resources = template.get("Resources", {})

    standing_in: dict[str, StandIn] = {}
    for logical_id, resource in resources.items():
        resource_type = resource["Type"]
        if not moto_cannot_create(resource_type):
            continue
        if resource_type not in stand_ins:
            problems.append(
                f"{logical_id}: moto's CloudFormation cannot create {resource_type}, and it is "
                "not on the stand-in list: add it, with the reason and realistic values"
            )
            continue
        standing_in[logical_id] = stand_ins[resource_type]

    def context(logical_id: str) -> StandInContext:
        resource = resources[logical_id]
        return StandInContext(
            account=account,
            region=region,
            stack_name=stack_name,
            logical_id=logical_id,
            resource_type=resource["Type"],
            properties=resource.get("Properties", {}),
        )

    def value_of(logical_id: str, attribute: str | None, path: str, depth: int) -> Any:
        stand_in = standing_in[logical_id]
        resource_type = resources[logical_id]["Type"]
        if attribute is not None and attribute not in stand_in.attributes:
            problems.append(
                f"{path}: Fn::GetAtt {logical_id}.{attribute}: the stand-in for "
                f"{resource_type} makes no {attribute!r}; add it to the list"
            )
            return ""
        maker = stand_in.ref if attribute is None else stand_in.attributes[attribute]
        try:
            made = maker(context(logical_id))
        except (KeyError, ValueError, TypeError) as error:
            problems.append(f"{path}: the stand-in for {resource_type} {logical_id}: {error!r}")
            return ""
        return rewrite(made, path, depth + 1)

    def rewrite(node: Any, path: str, depth: int = 0) -> Any:
        if depth > 20:
            problems.append(f"{path}: stand-in values refer to each other in a cycle")
            return ""
        if isinstance(node, list):
            return [rewrite(v, f"{path}/{i}", depth) for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"} and node["Ref"] in standing_in:
            return value_of(node["Ref"], None, path, depth)
        if set(node) == {"Fn::GetAtt"}:
            logical_id, attribute = _get_att_target(node["Fn::GetAtt"])
            if logical_id in standing_in:
                return value_of(logical_id, attribute, path, depth)
        if set(node) == {"Fn::Sub"}:
            sub = node["Fn::Sub"]
            text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], dict(sub[1]))
            variables = {k: rewrite(v, f"{path}/{k}", depth) for k, v in variables.items()}
            for index, name in enumerate(_SUB_VARIABLE.findall(text)):
                logical_id, _, attribute = name.partition(".")
                if name in variables or logical_id not in standing_in:
                    continue
                variable = f"RehearsalStandIn{index}"
                variables[variable] = value_of(logical_id, attribute or None, path, depth)
                text = text.replace(f"${{{name}}}", f"${{{variable}}}")
            return {"Fn::Sub": [text, variables] if variables else text}
        return {k: rewrite(v, f"{path}/{k}", depth) for k, v in node.items()}

    new_resources: dict[str, Any] = {}
    recorded: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        if logical_id not in standing_in:
            rewritten = rewrite(resource, f"Resources/{logical_id}")
            adaptation = adaptations.get(resource["Type"])
            if adaptation is not None:
                rewritten["Properties"] = adaptation.adapt(dict(rewritten.get("Properties", {})))
            new_resources[logical_id] = rewritten
            continue
        path = f"Resources/{logical_id}"
        stand_in_resource: dict[str, Any] = {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": f"{STAND_IN_PARAMETER_PREFIX}/{stack_name}/{logical_id}",
                "Type": "String",
                "Value": value_of(logical_id, None, path, 0),
                "Description": f"rehearsal stand-in for {resource['Type']}",
            },
        }
        for key in ("DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy"):
            if key in resource:
                stand_in_resource[key] = resource[key]
        new_resources[logical_id] = stand_in_resource
        recorded[f"{STAND_IN_OUTPUT_PREFIX}{logical_id}"] = {
            "Value": {
                "Fn::ToJsonString": {
                    "Type": resource["Type"],
                    "Properties": rewrite(resource.get("Properties", {}), path),
                }
            }
        }
    template["Resources"] = new_resources
    if "Outputs" in template:
        template["Outputs"] = rewrite(template["Outputs"], "Outputs")
    if recorded:
        template.setdefault("Outputs", {}).update(recorded)
    if problems:
        raise RehearsalError(f"{stack_name}: template preparation", problems)
    return PreparedTemplate(
        template=template, stand_ins={k: resources[k]["Type"] for k in standing_in}
    )


# --------------------------------------------------------------------------------------
# deploying


class _MotoLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def moto_complaints() -> Iterator[list[str]]:
    """Collect what moto's CloudFormation says but does not raise (skipped types, GetAtts)."""
    handler = _MotoLog()
    logger = logging.getLogger("moto")
    logger.addHandler(handler)
    complaints: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield complaints
    finally:
        logger.removeHandler(handler)
    complaints += handler.messages
    complaints += [
        str(w.message) for w in caught if "moto" in (w.filename or "") or "moto" in str(w.message)
    ]


@dataclass
class DeployedStack:
    artifact: StackArtifact
    stack_id: str
    stand_ins: dict[str, str]
    #: The template as synthesized, and as handed to moto (stand-ins, outputs resolved).
    template: dict[str, Any]
    prepared: dict[str, Any]
    #: (stack name, output name) of every Fn::GetStackOutput the original template uses.
    consumes: set[tuple[str, str]]
    #: What the last deploy did: create, update, or unchanged (nothing to deploy).
    last_action: str = "create"
    #: Resources moto knows under another logical id (see DeployRehearsal._replace_for_moto).
    moto_ids: dict[str, str] = field(default_factory=dict)


def consumed_outputs(template: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {
        (node["Fn::GetStackOutput"]["StackName"], node["Fn::GetStackOutput"]["OutputName"])
        for _, node in _walk(template)
        if isinstance(node, dict) and set(node) == {"Fn::GetStackOutput"}
    }


class DeployRehearsal:
    """Creates, updates and deletes an assembly's stacks in moto, as ``cdk deploy`` would.

    Use inside ``moto.mock_aws()``. ``deployed`` holds the stacks that exist, by name.
    """

    def __init__(
        self,
        clients: Clients,
        stand_ins: Mapping[str, StandIn],
        adaptations: Mapping[str, MotoAdaptation],
        replaced_on_update: Mapping[str, str],
        deleters: Mapping[str, MotoDeleter],
    ) -> None:
        self.replaced_on_update = replaced_on_update
        self.deleters = deleters
        self.generation = 0
        self.clients = clients
        self.stand_ins = stand_ins
        self.adaptations = adaptations
        self.deployed: dict[str, DeployedStack] = {}
        self.published: dict[str, PublishedAssets] = {}

    # -- lookups

    def cfn(self, region: str) -> Any:
        return self.clients("cloudformation", region)

    def outputs(self, stack_name: str) -> dict[str, str]:
        deployed = self.deployed[stack_name]
        with in_account(deployed.artifact.account):
            (stack,) = self.cfn(deployed.artifact.region).describe_stacks(
                StackName=deployed.stack_id
            )["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def recorded_stand_ins(self, stack_name: str) -> dict[str, dict[str, Any]]:
        """The properties every stand-in of a deployed stack recorded, by logical id."""
        return {
            key[len(STAND_IN_OUTPUT_PREFIX) :]: json.loads(value)
            for key, value in self.outputs(stack_name).items()
            if key.startswith(STAND_IN_OUTPUT_PREFIX)
        }

    def physical_ids(self, stack_name: str) -> dict[str, tuple[str, str]]:
        """logical id -> (resource type, physical id) of a deployed stack's resources."""
        deployed = self.deployed[stack_name]
        with in_account(deployed.artifact.account):
            listed = self.cfn(deployed.artifact.region).list_stack_resources(
                StackName=deployed.stack_id
            )["StackResourceSummaries"]
        original = {moto_id: logical_id for logical_id, moto_id in deployed.moto_ids.items()}
        return {
            original.get(r["LogicalResourceId"], r["LogicalResourceId"]): (
                r["ResourceType"],
                r.get("PhysicalResourceId", ""),
            )
            for r in listed
        }

    def _stack_output(self, account: str) -> StackOutputLookup:
        def lookup(region: str, stack_name: str, output_name: str) -> str | None:
            deployed = self.deployed.get(stack_name)
            if deployed is None or deployed.artifact.region != region:
                return None
            if deployed.artifact.account != account:
                return None
            return self.outputs(stack_name).get(output_name)

        return lookup

    # -- steps

    def checked_template(
        self, artifact: StackArtifact, template: dict[str, Any]
    ) -> PreparedTemplate:
        """Every check CloudFormation (or this rehearsal) makes before a change, then prepare."""
        problems = reference_problems(template) + policy_problems(template)
        with in_account(artifact.account):
            ssm = self.clients("ssm", artifact.region)
            parameters: dict[str, Any] = {}
            for name, parameter in template.get("Parameters", {}).items():
                value = parameter.get("Default")
                if parameter.get("Type", "").startswith("AWS::SSM::Parameter::Value"):
                    try:
                        value = ssm.get_parameter(Name=value)["Parameter"]["Value"]
                    except ssm.exceptions.ParameterNotFound:
                        problems.append(
                            f"Unable to fetch parameters [{value}] from parameter store "
                            f"(parameter {name}): is the environment bootstrapped?"
                        )
                        continue
                parameters[name] = value
        problems += rule_problems(template, parameters)
        try:
            prepared = prepare_template(
                template,
                stand_ins=self.stand_ins,
                adaptations=self.adaptations,
                account=artifact.account,
                region=artifact.region,
                stack_name=artifact.stack_name,
                stack_output=self._stack_output(artifact.account),
            )
        except RehearsalError as error:
            problems += error.problems
            prepared = None
        if problems or prepared is None:
            raise RehearsalError(f"{artifact.stack_name}: template checks", problems)
        return prepared

    def publish(self, artifact: StackArtifact) -> PublishedAssets:
        if artifact.assets_file is None:
            return PublishedAssets()
        from botocore.exceptions import ClientError

        try:
            published = publish_file_assets(self.clients, artifact.assets_file, artifact.account)
        except ClientError as error:
            raise RehearsalError(
                f"{artifact.stack_name}: assets",
                [f"upload failed ({error}): is the environment bootstrapped?"],
            ) from error
        if published.container_images:
            raise RehearsalError(
                f"{artifact.stack_name}: assets",
                [
                    f"container image asset {image}: not rehearsed (no Docker)"
                    for image in published.container_images
                ],
            )
        if artifact.template_object_url:
            url = substitute_placeholders(
                artifact.template_object_url, artifact.account, artifact.region
            )
            if url not in published.files:
                raise RehearsalError(
                    f"{artifact.stack_name}: assets", [f"template object {url} was not published"]
                )
        self.published[artifact.stack_name] = published
        return published

    def deploy(
        self, artifact: StackArtifact, template: dict[str, Any] | None = None
    ) -> DeployedStack:
        """Publish the stack's assets, check and prepare its template, create or update it.

        ``template`` replaces the artifact's own (for deliberately broken cases). An update
        whose prepared template equals the deployed one is skipped, as the CDK CLI skips a
        stack without changes (``last_action`` says ``unchanged``). Before an update, what
        moto would get wrong is arranged for (:meth:`_propagate_replacements`,
        :meth:`_replace_for_moto`, :meth:`_delete_what_moto_leaves`).
        """
        from botocore.exceptions import ClientError

        template = artifact.template() if template is None else template
        self.publish(artifact)
        prepared = self.checked_template(artifact, template)
        existing = self.deployed.get(artifact.stack_name)
        moto_ids = dict(existing.moto_ids) if existing else {}
        if existing:
            self._propagate_replacements(existing.prepared, prepared.template)
            if prepared.template == existing.prepared:
                existing.last_action = "unchanged"
                return existing
            self._replace_for_moto(existing.prepared, prepared.template, moto_ids)
            self._delete_what_moto_leaves(
                existing,
                {
                    logical_id
                    for logical_id in existing.prepared["Resources"]
                    if logical_id not in prepared.template["Resources"]
                    or moto_ids.get(logical_id) != existing.moto_ids.get(logical_id)
                },
            )
        body = json.dumps(rename_logical_ids(prepared.template, moto_ids))
        capabilities = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
        action = "update" if existing else "create"
        with in_account(artifact.account), moto_complaints() as complaints:
            cfn = self.cfn(artifact.region)
            try:
                if existing:
                    cfn.update_stack(
                        StackName=existing.stack_id, TemplateBody=body, Capabilities=capabilities
                    )
                    stack_id = existing.stack_id
                else:
                    stack_id = cfn.create_stack(
                        StackName=artifact.stack_name,
                        TemplateBody=body,
                        Capabilities=capabilities,
                        EnableTerminationProtection=artifact.termination_protection,
                    )["StackId"]
            except ClientError as error:
                raise RehearsalError(
                    f"{artifact.stack_name}: {action}", [f"CloudFormation (moto) refused: {error}"]
                ) from error
            except Exception as error:  # moto raises plain exceptions for some template errors
                raise RehearsalError(
                    f"{artifact.stack_name}: {action}",
                    [f"moto failed: {type(error).__name__}: {error}"],
                ) from error
            (stack,) = cfn.describe_stacks(StackName=stack_id)["Stacks"]
        problems = [f"moto: {complaint}" for complaint in complaints]
        expected = f"{action.upper()}_COMPLETE"
        if stack["StackStatus"] != expected:
            problems.append(f"status {stack['StackStatus']}, expected {expected}")
        if problems:
            raise RehearsalError(f"{artifact.stack_name}: {action}", problems)
        deployed = DeployedStack(
            artifact=artifact,
            stack_id=stack_id,
            stand_ins=prepared.stand_ins,
            template=template,
            prepared=prepared.template,
            consumes=consumed_outputs(template),
            last_action=action,
            moto_ids=moto_ids,
        )
        self.deployed[artifact.stack_name] = deployed
        return deployed

    def _delete_what_moto_leaves(self, deployed: DeployedStack, logical_ids: set[str]) -> None:
        """Delete through the API the resources (of ``logical_ids``) moto would leave behind.

        Uses the deleters, in their listed order; a retained resource is left alone. A type
        moto leaves behind without a listed deleter is a problem, raised before anything is
        deleted.
        """
        physical = self.physical_ids(deployed.artifact.stack_name)
        order = list(self.deleters)
        targets: list[tuple[int, str, str]] = []
        unhandled = []
        for logical_id in sorted(logical_ids):
            resource = deployed.prepared["Resources"].get(logical_id)
            if resource is None or logical_id not in physical:
                continue
            if resource.get("DeletionPolicy") == "Retain":
                continue
            kind = resource["Type"]
            if kind in self.deleters:
                targets.append((order.index(kind), logical_id, kind))
            elif moto_cannot_delete(kind):
                unhandled.append(
                    f"moto's CloudFormation would leave {logical_id} ({kind}) behind, "
                    "and no deleter is listed"
                )
        if unhandled:
            raise RehearsalError(f"{deployed.artifact.stack_name}: delete", unhandled)
        with in_account(deployed.artifact.account):
            for _, logical_id, kind in sorted(targets):
                self.deleters[kind].delete(
                    self.clients, deployed.artifact.region, physical[logical_id][1]
                )

    def _replace_for_moto(
        self, old: dict[str, Any], new: dict[str, Any], moto_ids: dict[str, str]
    ) -> None:
        """Give moto a replacement where it cannot update a changed resource.

        moto drops the update of a type without an update method (:func:`moto_cannot_update`,
        e.g. a log group's new retention) and forgets the resource. Such a changed resource
        is handed to moto under a new logical id instead, so moto deletes the old one and
        creates one with the new properties; every reference follows the new id, and a
        resource whose only change is such a reference is replaced the same way if moto
        cannot update it either. Real CloudFormation updates these in place; the end state
        the checks look at (the properties) is the same.
        """
        old_resources, new_resources = old.get("Resources", {}), new.get("Resources", {})
        replaced = {
            logical_id
            for logical_id, resource in new_resources.items()
            if logical_id in old_resources
            and old_resources[logical_id] != resource
            and moto_cannot_update(resource["Type"])
        }
        while replaced:
            self.generation += 1
            for logical_id in replaced:
                moto_ids[logical_id] = f"{logical_id}Rehearsal{self.generation}"
            replaced = {
                logical_id
                for logical_id, resource in new_resources.items()
                if logical_id in old_resources
                and logical_id not in moto_ids
                and moto_cannot_update(resource["Type"])
                and rename_logical_ids({"Resources": {logical_id: resource}}, moto_ids)
                != {"Resources": {logical_id: resource}}
            }

    def _propagate_replacements(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Make moto update what refers to a resource its update replaces.

        CloudFormation re-resolves ``Ref``/``Fn::GetAtt`` after replacing a resource and
        updates every resource that uses it. moto only updates resources whose template
        text changed, so a resource whose reference now resolves differently (an endpoint
        naming a replaced endpoint config) would keep pointing at the deleted one. For the
        types in ``replaced_on_update``, the users of a changed resource get a rehearsal
        marker in ``Metadata`` (transitively), which makes moto update them too.
        """
        old_resources, new_resources = old.get("Resources", {}), new.get("Resources", {})
        changed = {
            logical_id
            for logical_id, resource in new_resources.items()
            if resource["Type"] in self.replaced_on_update
            and logical_id in old_resources
            and old_resources[logical_id] != resource
        }
        if not changed:
            return
        self.generation += 1
        marked: set[str] = set()
        while True:
            users = {
                logical_id
                for logical_id, resource in new_resources.items()
                if logical_id not in marked
                and logical_id in old_resources
                and any(
                    isinstance(node, dict)
                    and (
                        node.get("Ref") in changed | marked
                        or (
                            "Fn::GetAtt" in node
                            and _get_att_target(node["Fn::GetAtt"])[0] in changed | marked
                        )
                    )
                    for _, node in _walk(resource.get("Properties", {}))
                )
            }
            if not users:
                break
            for logical_id in users:
                metadata = new_resources[logical_id].setdefault("Metadata", {})
                metadata["RehearsalReplacedReference"] = self.generation
            marked |= users

    def delete(self, stack_name: str, *, disable_termination_protection: bool = False) -> None:
        """Delete a stack as CloudFormation would let an operator.

        moto neither enforces termination protection nor implements
        UpdateTerminationProtection, so the rehearsal enforces it: a protected stack is
        deleted only when the caller says it turned protection off first. Deleting a stack
        whose outputs a still-deployed stack reads (weak references are not guarded by
        CloudFormation) is a problem, as is any status but DELETE_COMPLETE.
        """
        deployed = self.deployed[stack_name]
        problems = []
        if deployed.artifact.termination_protection and not disable_termination_protection:
            problems.append("termination protection is on; turn it off before deleting")
        readers = sorted(
            other.artifact.stack_name
            for other in self.deployed.values()
            if other is not deployed and any(name == stack_name for name, _ in other.consumes)
        )
        if readers:
            problems.append(f"outputs are still read by deployed stacks {readers}")
        if problems:
            raise RehearsalError(f"{stack_name}: delete", problems)
        self._delete_what_moto_leaves(deployed, set(deployed.prepared["Resources"]))
        with in_account(deployed.artifact.account), moto_complaints() as complaints:
            cfn = self.cfn(deployed.artifact.region)
            try:
                cfn.delete_stack(StackName=deployed.stack_id)
            except Exception as error:
                raise RehearsalError(
                    f"{stack_name}: delete", [f"{type(error).__name__}: {error}"]
                ) from error
            (stack,) = cfn.describe_stacks(StackName=deployed.stack_id)["Stacks"]
        problems = [f"moto: {complaint}" for complaint in complaints]
        if stack["StackStatus"] != "DELETE_COMPLETE":
            problems.append(f"status {stack['StackStatus']}, expected DELETE_COMPLETE")
        if problems:
            raise RehearsalError(f"{stack_name}: delete", problems)
        del self.deployed[stack_name]

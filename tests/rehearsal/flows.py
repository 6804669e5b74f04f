"""Every run-time data flow of an environment, evaluated against its synthesized policies.

A *flow* is something the deployed platform does at run time on its own: a pipeline job
reading its inputs and writing its outputs, the endpoint loading models, the deployer copying
an approved model, the Macie remediation moving or tagging an object, CloudWatch and
EventBridge delivering to encrypted topics and queues. Each flow is a list of AWS requests
(principal, action, resource, request context); a flow works when every request is allowed.

The requests are evaluated by ``@cloud-copilot/iam-simulate`` (an npm package pinned in
``package.json``, run by the project's Node.js through ``tools/iam_simulate.mjs``), against
every policy AWS would consult: the principal's identity policies (inline, ``AWS::IAM::Policy``
and customer-managed policies attached from any stack), the resource's policy (bucket, topic,
queue policy, a function's ``AWS::Lambda::Permission`` statements) and, for each KMS call,
the key policy. Policies are taken from the synthesized templates of one cloud assembly.

Why templates resolved here rather than a deployment into moto: the flows need only names
and ARNs to line up, and a resolver (``assembly.py``) that gives every resource one fake
physical name from its logical id (and ARNs per type, from the environment's account and
region) reproduces every cross-reference exactly, including the CDK's ``Fn::GetStackOutput``
between stacks, in milliseconds; moto would add stand-ins for the types it cannot create,
its own rewrites of policies, and seconds of deploy time, without evaluating anything itself.
Resolution is strict: an intrinsic or reference the resolver does not know fails the
rehearsal instead of passing silently.

The flows are derived from what the templates say the platform will do: the pipeline's
requests come from its synthesized definition (every processing input and output, every
training channel, the KMS key each output names), the endpoint's from its model data URL,
the handlers' (deployer, Macie remediation, retraining trigger, the monitoring launcher and
metrics publisher: every AWS call their code makes, dead-letter sends included) from their
environment variables, the monitoring job's from what its launcher passes it, the
deliveries from the alarms' actions, the rules' targets and dead-letter queues.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.rehearsal.assembly import Assembly, UnresolvableError

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE = REPO_ROOT / "node_modules" / ".bin" / "node"
SIMULATOR = REPO_ROOT / "tools" / "iam_simulate.mjs"
#: The execution id a pipeline expression ``Execution.PipelineExecutionId`` stands for.
EXECUTION_ID = "rehearsal-execution"
#: The name of the best training job of a tuning step (``TrainingJobSummaries[0]``).
TRAINING_JOB = "rehearsal-tuning-001-abc"
#: The role Macie assumes to read objects (a service-linked role, not in any template).
MACIE_SLR = "role/aws-service-role/macie.amazonaws.com/AWSServiceRoleForAmazonMacie"
#: The version id of the object version a handler acts on (a lock's, a finding's).
VERSION_ID = "rehearsal-version"
#: The ETag a conditional write matches (an expired deployment lock's).
ETAG = '"rehearsal-etag"'
#: The id of the Macie finding the remediation handles.
FINDING_ID = "rehearsal-finding"
#: The condition key of the tag the remediation flags objects with (``macie-finding-id``).
FLAGGED_TAG_KEY = "s3:ExistingObjectTag/macie-finding-id"
#: The environment variable naming a handler's dead-letter queue (``handler_common.events``).
DEAD_LETTER_QUEUE_URL = "DEAD_LETTER_QUEUE_URL"


# --------------------------------------------------------------------------------------
# Principals and requests
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    """A role of the platform, making requests as one of its sessions."""

    arn: str
    account: str

    @property
    def session(self) -> str:
        name = self.arn.split(":role/", 1)[1].rsplit("/", 1)[-1]
        return f"arn:aws:sts::{self.account}:assumed-role/{name}/rehearsal"

    def __str__(self) -> str:
        return self.arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Service:
    """An AWS service principal acting for a resource of the account (``source_arn``)."""

    name: str
    account: str
    source_arn: str | None = None

    def __str__(self) -> str:
        return self.name


@dataclass
class Request:
    principal: Role | Service
    action: str
    resource: str
    context: dict[str, str | list[str]] = field(default_factory=dict)

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        return f"{self.principal} {self.action} {self.resource}" + (f" [{extra}]" if extra else "")


@dataclass
class Flow:
    """A run-time data flow: ``name`` works when every request of ``requests`` is allowed."""

    name: str
    kind: str
    requests: list[Request]


@dataclass
class Decision:
    request: Request
    result: str
    detail: Any = None

    def describe(self) -> str:
        return f"{self.result}: {self.request.describe()}" + (
            f" ({json.dumps(self.detail)})" if self.detail else ""
        )


@dataclass
class FlowResult:
    flow: Flow
    decisions: list[Decision]

    @property
    def allowed(self) -> bool:
        return all(d.result == "Allowed" for d in self.decisions)

    @property
    def denied(self) -> list[Decision]:
        return [d for d in self.decisions if d.result != "Allowed"]


# --------------------------------------------------------------------------------------
# The policies AWS consults
# --------------------------------------------------------------------------------------


class Policies:
    """Identity, resource and key policies of one resolved assembly, by the ARN they govern."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        a = assembly
        self.role_arns: dict[tuple[str, str], str] = {}
        self.resource: dict[str, dict[str, Any]] = {}
        self.identity: dict[str, list[dict[str, Any]]] = {}
        self.unknown_managed: dict[str, list[str]] = {}
        role_names: dict[str, str] = {}
        managed: dict[str, tuple[str, dict[str, Any]]] = {}
        for stack, logical_id, _ in a.resources("AWS::IAM::Role"):
            arn = a.get_att(stack, logical_id, "Arn")
            self.role_arns[(stack, logical_id)] = arn
            role_names[a.ref(stack, logical_id)] = arn
            self.identity[arn] = []
        for stack, logical_id, resource in a.resources("AWS::IAM::ManagedPolicy"):
            props = a.props(stack, resource)
            arn = a.ref(stack, logical_id)
            managed[arn] = (logical_id, props["PolicyDocument"])
            for role in props.get("Roles", []):
                self._attach(role_names, role, f"{logical_id}", props["PolicyDocument"])
        for stack, logical_id, resource in a.resources("AWS::IAM::Role"):
            props = a.props(stack, resource)
            arn = self.role_arns[(stack, logical_id)]
            # The trust policy is the role's resource policy for sts:AssumeRole.
            self.resource[arn] = props["AssumeRolePolicyDocument"]
            for inline in props.get("Policies", []):
                self.identity[arn].append(
                    {"name": inline["PolicyName"], "policy": inline["PolicyDocument"]}
                )
            for policy_arn in props.get("ManagedPolicyArns", []):
                if policy_arn in managed:
                    name, document = managed[policy_arn]
                    self.identity[arn].append({"name": name, "policy": document})
                else:
                    # AWS managed policies (the Lambda basic execution policy) are not in the
                    # assembly; no flow here depends on them (they grant logs only).
                    self.unknown_managed.setdefault(arn, []).append(policy_arn)
        for stack, logical_id, resource in a.resources("AWS::IAM::Policy"):
            props = a.props(stack, resource)
            for role in props.get("Roles", []):
                self._attach(role_names, role, logical_id, props["PolicyDocument"])

        self.bucket_keys: dict[str, tuple[str | None, bool]] = {}
        self.encryption_keys: dict[str, str | None] = {}
        self.queue_arns: dict[str, str] = {}
        for stack, logical_id, resource in a.resources("AWS::S3::Bucket"):
            props = a.props(stack, resource)
            rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
            key = None
            bucket_key = False
            for rule in rules:
                default = rule.get("ServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                    key = default.get("KMSMasterKeyID")
                    bucket_key = bool(rule.get("BucketKeyEnabled"))
            self.bucket_keys[a.get_att(stack, logical_id, "Arn")] = (key, bucket_key)
        for stack, logical_id, resource in a.resources("AWS::SNS::Topic"):
            props = a.props(stack, resource)
            self.encryption_keys[a.ref(stack, logical_id)] = props.get("KmsMasterKeyId")
        for stack, logical_id, resource in a.resources("AWS::SQS::Queue"):
            props = a.props(stack, resource)
            arn = a.get_att(stack, logical_id, "Arn")
            self.queue_arns[a.ref(stack, logical_id)] = arn
            self.encryption_keys[arn] = props.get("KmsMasterKeyId")
        for stack, _, resource in a.resources("AWS::S3::BucketPolicy"):
            props = a.props(stack, resource)
            self._set_resource_policy(f"arn:aws:s3:::{props['Bucket']}", props["PolicyDocument"])
        for stack, _, resource in a.resources("AWS::SNS::TopicPolicy"):
            props = a.props(stack, resource)
            for topic in props["Topics"]:
                self._set_resource_policy(topic, props["PolicyDocument"])
        for stack, _, resource in a.resources("AWS::SQS::QueuePolicy"):
            props = a.props(stack, resource)
            for queue in props["Queues"]:
                self._set_resource_policy(self.queue_arns[queue], props["PolicyDocument"])
        for stack, _, resource in a.resources("AWS::SageMaker::ModelPackageGroup"):
            props = a.props(stack, resource)
            if "ModelPackageGroupPolicy" in props:
                self._set_resource_policy(
                    a._arn("sagemaker", f"model-package-group/{props['ModelPackageGroupName']}"),
                    props["ModelPackageGroupPolicy"],
                )
        for stack, logical_id, resource in a.resources("AWS::KMS::Key"):
            props = a.props(stack, resource)
            self.resource[a.get_att(stack, logical_id, "Arn")] = props["KeyPolicy"]
        for stack, logical_id, resource in a.resources("AWS::Lambda::Permission"):
            self._lambda_permission(a.props(stack, resource), logical_id)

    def _attach(self, role_names: Mapping[str, str], role: str, name: str, document: Any) -> None:
        if role not in role_names:
            raise UnresolvableError(f"policy {name} attaches to an unknown role {role}")
        self.identity[role_names[role]].append({"name": name, "policy": document})

    def _set_resource_policy(self, arn: str, document: dict[str, Any]) -> None:
        # Each of these policy types replaces the resource's policy: two would overwrite
        # each other at deploy time, whichever CloudFormation applies last.
        if arn in self.resource:
            raise UnresolvableError(f"{arn} has more than one resource policy")
        self.resource[arn] = document

    def _lambda_permission(self, props: dict[str, Any], logical_id: str) -> None:
        function = props["FunctionName"]
        if not function.startswith("arn:"):
            function = self.assembly._arn("lambda", f"function:{function}")
        principal = props["Principal"]
        statement: dict[str, Any] = {
            "Sid": logical_id,
            "Effect": "Allow",
            "Principal": {"Service": principal}
            if principal.endswith(".amazonaws.com")
            else {"AWS": principal},
            "Action": props["Action"],
            "Resource": function,
        }
        conditions: dict[str, dict[str, str]] = {}
        if "SourceArn" in props:
            conditions.setdefault("ArnLike", {})["AWS:SourceArn"] = props["SourceArn"]
        if "SourceAccount" in props:
            conditions.setdefault("StringEquals", {})["AWS:SourceAccount"] = props["SourceAccount"]
        if conditions:
            statement["Condition"] = conditions
        policy = self.resource.setdefault(function, {"Version": "2012-10-17", "Statement": []})
        policy["Statement"].append(statement)

    def key_arn(self, key: str | None) -> str | None:
        """The key ARN behind ``key`` (an ARN, a key id or an alias of the assembly)."""
        if key is None or (key.startswith("arn:aws:kms:") and ":key/" in key):
            return key
        if key.startswith("alias/") or ":alias/" in key:
            alias = key.split(":", 5)[-1]
            for stack, _, resource in self.assembly.resources("AWS::KMS::Alias"):
                props = self.assembly.props(stack, resource)
                if props["AliasName"] == alias:
                    return self.key_arn(props["TargetKeyId"])
            return None
        return self.assembly._arn("kms", f"key/{key}")

    def resource_policy_for(self, resource: str) -> dict[str, Any] | None:
        package = re.fullmatch(r"(arn:aws:sagemaker:[^:]+:\d+:)model-package/([^/]+)/\d+", resource)
        if package:
            # A model package is governed by its group's policy.
            return self.resource.get(f"{package[1]}model-package-group/{package[2]}")
        if resource.startswith("arn:aws:s3:::"):
            return self.resource.get(
                "arn:aws:s3:::" + resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            )
        return self.resource.get(resource)

    def simulation(self, request: Request) -> dict[str, Any]:
        account = self.assembly.account
        context: dict[str, str | list[str]] = {"aws:SecureTransport": "true"}
        principal = request.principal
        identity: list[dict[str, Any]] = []
        if isinstance(principal, ForeignRole):
            identity = [{"name": "granted-by-its-account", "policy": json.loads(principal.policy)}]
            context["aws:PrincipalArn"] = principal.arn
            context["aws:PrincipalAccount"] = principal.account
            principal_id = principal.session
        elif isinstance(principal, _MacieRole):
            context["aws:PrincipalArn"] = principal.arn
            context["aws:PrincipalAccount"] = principal.account
            principal_id = principal.session
        elif isinstance(principal, Role):
            if principal.arn not in self.identity:
                raise UnresolvableError(f"no role {principal.arn} in the assembly")
            identity = self.identity[principal.arn]
            context.update(
                {"aws:PrincipalArn": principal.arn, "aws:PrincipalAccount": principal.account}
            )
            principal_id = principal.session
        else:
            principal_id = principal.name
            context["aws:PrincipalServiceName"] = principal.name
            context["aws:SourceAccount"] = principal.account
            if principal.source_arn:
                context["aws:SourceArn"] = principal.source_arn
        context.update(request.context)
        simulation: dict[str, Any] = {
            "request": {
                "principal": principal_id,
                "action": request.action,
                "resource": {"resource": request.resource, "accountId": account},
                "contextVariables": context,
            },
            "identityPolicies": identity,
        }
        policy = self.resource_policy_for(request.resource)
        if policy is not None:
            simulation["resourcePolicy"] = policy
        elif request.resource.startswith("arn:aws:kms:"):
            raise UnresolvableError(f"no key policy for {request.resource}")
        return simulation


# --------------------------------------------------------------------------------------
# Request builders (what each AWS API call needs, including KMS for encrypted data)
# --------------------------------------------------------------------------------------


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise UnresolvableError(f"not an S3 URI: {uri}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class Requests:
    """Builds the requests of S3, SNS, SQS and Lambda calls against one assembly."""

    def __init__(self, policies: Policies) -> None:
        self.policies = policies
        self.region = policies.assembly.region
        self.account = policies.assembly.account

    def _kms(
        self,
        principal: Role | Service,
        key: str | None,
        actions: Iterable[str],
        via: str,
        **ctx: str,
    ) -> list[Request]:
        key_arn = self.policies.key_arn(key)
        if key_arn is None:
            return []
        context: dict[str, str | list[str]] = dict(ctx)
        if not isinstance(principal, Service):
            # A role's data key requests reach KMS through the service it called; a service
            # principal (CloudWatch, EventBridge) calls KMS itself.
            context["kms:ViaService"] = f"{via}.{self.region}.amazonaws.com"
            context["kms:CallerAccount"] = principal.account
        return [Request(principal, action, key_arn, context) for action in actions]

    def s3_kms(
        self, principal: Role, bucket: str, actions: Iterable[str], kms_key: str | None
    ) -> list[Request]:
        """The KMS requests S3 makes for ``principal`` on ``bucket``'s objects, with
        ``kms_key`` or else the bucket's default key. None for a bucket outside the assembly
        (the CDK's file-asset bucket: ``cdk bootstrap`` encrypts it with the AWS managed
        ``aws/s3`` key, whose policy lets every principal of the account use it through S3).

        S3 also sends an encryption context (the bucket ARN with Bucket Keys, else the
        object's); the simulator's action data does not take ``kms:EncryptionContext:*``
        keys, so a key policy conditioned on it would show here as denied, never allowed."""
        default_key, _ = self.policies.bucket_keys.get(f"arn:aws:s3:::{bucket}", (None, False))
        return self._kms(principal, kms_key or default_key, actions, "s3")

    def s3_list(self, principal: Role, uri: str) -> list[Request]:
        bucket, prefix = _split_s3(uri)
        return [
            Request(principal, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix})
        ]

    def s3_read(self, principal: Role, uri: str, *, kms_key: str | None = None) -> list[Request]:
        """GetObject of ``uri`` (an object), with ``kms:Decrypt`` of the key it is encrypted
        with (``kms_key``, by default the bucket's default key)."""
        bucket, key = _split_s3(uri)
        return [
            Request(principal, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"),
            *self.s3_kms(principal, bucket, ["kms:Decrypt"], kms_key),
        ]

    def s3_read_prefix(
        self, principal: Role, uri: str, *, kms_key: str | None = None
    ) -> list[Request]:
        """A SageMaker ``S3Prefix`` input: list the prefix, then read what is under it (an
        object named exactly like the prefix, as the CDK's file assets are, or below it)."""
        bucket, key = _split_s3(uri)
        object_key = (
            key
            if key and not key.endswith("/") and "." in key.rsplit("/", 1)[-1]
            else (key.rstrip("/") + "/part-00000.csv")
        )
        return [
            *self.s3_list(principal, uri),
            *self.s3_read(principal, f"s3://{bucket}/{object_key}", kms_key=kms_key),
        ]

    def s3_write(
        self,
        principal: Role,
        uri: str,
        *,
        kms_key: str | None = None,
        context: Mapping[str, str] | None = None,
    ) -> list[Request]:
        """PutObject of ``uri`` encrypted with ``kms_key`` (the bucket's default key unless
        the writer names one): SSE-KMS headers, ``kms:GenerateDataKey`` and, for multipart
        uploads (SageMaker's and boto3's for large files), ``kms:Decrypt``. ``context``: the
        request's other condition keys (a conditional write's ``s3:if-none-match``, a
        copy's ``s3:x-amz-copy-source``)."""
        bucket, key = _split_s3(uri)
        bucket_arn = f"arn:aws:s3:::{bucket}"
        default_key, _ = self.policies.bucket_keys.get(bucket_arn, (None, False))
        key_arn = self.policies.key_arn(kms_key or default_key)
        headers: dict[str, str | list[str]] = dict(context or {})
        if key_arn:
            headers.update(
                {
                    "s3:x-amz-server-side-encryption": "aws:kms",
                    "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn,
                }
            )
        return [
            Request(principal, "s3:PutObject", f"{bucket_arn}/{key}", headers),
            *self.s3_kms(principal, bucket, ["kms:GenerateDataKey", "kms:Decrypt"], key_arn),
        ]

    def s3_object_call(
        self, principal: Role, uri: str, action: str, context: Mapping[str, str] | None = None
    ) -> list[Request]:
        bucket, key = _split_s3(uri)
        return [Request(principal, action, f"arn:aws:s3:::{bucket}/{key}", dict(context or {}))]

    def s3_version_call(
        self, principal: Role, uri: str, action: str, version_id: str
    ) -> list[Request]:
        """A call on one version of an object (``s3:GetObjectVersion``,
        ``s3:DeleteObjectVersion``...: the request names ``VersionId``)."""
        return self.s3_object_call(principal, uri, action, {"s3:versionid": version_id})

    def s3_head_listed(self, principal: Role, uri: str) -> list[Request]:
        """HeadObject of ``uri``; a refusal (S3's 403 for a missing key to a caller that may
        not list the bucket) is told from a missing key by listing the key as prefix (the
        deployer's ``_listed``)."""
        bucket, key = _split_s3(uri)
        return [
            Request(principal, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"),
            Request(principal, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": key}),
        ]

    def s3_head_missing(
        self, principal: Role, uri: str, version_id: str | None = None
    ) -> list[Request]:
        """HeadObject (or GetObject) of ``uri`` (of its ``version_id``) when nothing is there:
        S3 answers 404 only to a caller that may list the bucket, 403 otherwise
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html), which a
        handler cannot tell from a refusal. The listing is evaluated without a prefix."""
        bucket, _ = _split_s3(uri)
        read = (
            self.s3_version_call(principal, uri, "s3:GetObjectVersion", version_id)
            if version_id
            else self.s3_object_call(principal, uri, "s3:GetObject")
        )
        return [*read, Request(principal, "s3:ListBucket", f"arn:aws:s3:::{bucket}")]

    def sns_publish(self, principal: Role | Service, topic: str) -> list[Request]:
        """Publish to ``topic``; an encrypted topic needs the publisher's use of its key
        (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
        key = self.policies.encryption_keys.get(topic)
        return [
            Request(principal, "sns:Publish", topic),
            *self._kms(principal, key, ["kms:GenerateDataKey", "kms:Decrypt"], "sns"),
        ]

    def sqs_send_url(self, principal: Role, queue_url: str) -> list[Request]:
        """SendMessage to the queue at ``queue_url`` (a handler's ``DEAD_LETTER_QUEUE_URL``)."""
        if queue_url not in self.policies.queue_arns:
            raise UnresolvableError(f"no queue at {queue_url} in the assembly")
        return self.sqs_send(principal, self.policies.queue_arns[queue_url])

    def sqs_send(self, principal: Role | Service, queue_arn: str) -> list[Request]:
        key = self.policies.encryption_keys.get(queue_arn)
        return [
            Request(principal, "sqs:SendMessage", queue_arn),
            *self._kms(principal, key, ["kms:GenerateDataKey", "kms:Decrypt"], "sqs"),
        ]

    def lambda_invoke(self, principal: Role | Service, function_arn: str) -> list[Request]:
        return [Request(principal, "lambda:InvokeFunction", function_arn)]

    def assume(self, service: str, role: Role) -> list[Request]:
        """``service`` assuming ``role`` (the role's trust policy)."""
        return [Request(Service(service, self.account), "sts:AssumeRole", role.arn)]


# --------------------------------------------------------------------------------------
# The flows
# --------------------------------------------------------------------------------------


def _role(policies: Policies, arn: str) -> Role:
    if arn not in policies.identity:
        raise UnresolvableError(f"{arn} is not a role of the assembly")
    return Role(arn, policies.assembly.account)


def _function_role(policies: Policies, stack: str, function: dict[str, Any]) -> Role:
    return _role(policies, policies.assembly.resolve(stack, function["Properties"]["Role"]))


class _PipelineExpressions:
    """Resolves the SageMaker pipeline expressions (``Get``, ``Std:Join``) a flow needs."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.parameters = {
            p["Name"]: p.get("DefaultValue") for p in definition.get("Parameters", [])
        }
        self.steps: dict[str, dict[str, Any]] = {}

        def collect(steps: list[dict[str, Any]]) -> None:
            for step in steps:
                self.steps[step["Name"]] = step
                arguments = step.get("Arguments", {})
                if step["Type"] == "Condition":
                    collect(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))

        collect(definition["Steps"])

    def value(self, node: Any) -> Any:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and "Std:Join" in node:
            join = node["Std:Join"]
            parts = [self.value(v) for v in join["Values"]]
            return None if None in parts else join["On"].join(str(p) for p in parts)
        if isinstance(node, dict) and "Get" in node:
            path = node["Get"]
            if path.startswith("Parameters."):
                return self.parameters[path.removeprefix("Parameters.")]
            if path == "Execution.PipelineExecutionId":
                return EXECUTION_ID
            output = re.fullmatch(
                r"Steps\.(\w+)\.ProcessingOutputConfig\.Outputs\['(\w+)'\]\.S3Output\.S3Uri", path
            )
            if output:
                step, name = output.groups()
                outputs = self.steps[step]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
                return self.value(
                    next(o for o in outputs if o["OutputName"] == name)["S3Output"]["S3Uri"]
                )
            if re.fullmatch(r"Steps\.\w+\.TrainingJobSummaries\[0\]\.TrainingJobName", path):
                return TRAINING_JOB
        return None


def pipeline_flows(policies: Policies, requests: Requests) -> list[Flow]:
    """Per pipeline: its role reading every processing input and training channel and
    writing every output, with the key each output names."""
    a = policies.assembly
    flows: list[Flow] = []
    for stack, _, resource in a.resources("AWS::SageMaker::Pipeline"):
        props = a.props(stack, resource)
        definition = json.loads(props["PipelineDefinition"]["PipelineDefinitionBody"])
        expressions = _PipelineExpressions(definition)
        pipeline_role = _role(policies, props["RoleArn"])
        flows.append(
            Flow(
                f"{props['PipelineName']}: SageMaker assumes the execution role",
                "pipeline-input",
                requests.assume("sagemaker.amazonaws.com", pipeline_role),
            )
        )
        for step in expressions.steps.values():
            arguments = step.get("Arguments", {})
            role = _role(policies, arguments.get("RoleArn", pipeline_role.arn))
            where = f"{props['PipelineName']}/{step['Name']}"
            for item in arguments.get("ProcessingInputs", []):
                s3 = item.get("S3Input", {})
                uri = expressions.value(s3.get("S3Uri"))
                if uri is None:
                    continue
                reads = (
                    requests.s3_read_prefix(role, uri)
                    if s3.get("S3DataType", "S3Prefix") == "S3Prefix"
                    else requests.s3_read(role, uri)
                )
                flows.append(
                    Flow(
                        f"{where} reads input {item['InputName']} ({uri})", "pipeline-input", reads
                    )
                )
            output_config = arguments.get("ProcessingOutputConfig", {})
            for item in output_config.get("Outputs", []):
                uri = expressions.value(item["S3Output"]["S3Uri"])
                if uri is None:
                    continue
                flows.append(
                    Flow(
                        f"{where} writes output {item['OutputName']} ({uri})",
                        "pipeline-output",
                        requests.s3_write(
                            role,
                            uri.rstrip("/") + "/output.csv",
                            kms_key=output_config.get("KmsKeyId"),
                        ),
                    )
                )
            training = arguments.get("TrainingJobDefinition") or (
                arguments if step["Type"] == "Training" else None
            )
            if training is None:
                continue
            role = _role(policies, training.get("RoleArn", pipeline_role.arn))
            for channel in training.get("InputDataConfig", []):
                source = channel["DataSource"]["S3DataSource"]
                uri = expressions.value(source["S3Uri"])
                if uri is None:
                    continue
                flows.append(
                    Flow(
                        f"{where} reads channel {channel['ChannelName']} ({uri})",
                        "pipeline-input",
                        requests.s3_read_prefix(role, uri),
                    )
                )
            output = training.get("OutputDataConfig", {})
            if "S3OutputPath" in output:
                uri = expressions.value(output["S3OutputPath"])
                flows.append(
                    Flow(
                        f"{where} writes the model ({uri})",
                        "pipeline-output",
                        requests.s3_write(
                            role,
                            f"{uri}/{TRAINING_JOB}/output/model.tar.gz",
                            kms_key=output.get("KmsKeyId"),
                        ),
                    )
                )
            checkpoint = training.get("CheckpointConfig", {})
            if "S3Uri" in checkpoint:
                uri = expressions.value(checkpoint["S3Uri"])
                # Checkpoints are written and read back (a resumed spot job lists them too).
                flows.append(
                    Flow(
                        f"{where} keeps checkpoints ({uri})",
                        "pipeline-output",
                        [
                            *requests.s3_write(
                                role, f"{uri}/checkpoint.0", kms_key=output.get("KmsKeyId")
                            ),
                            *requests.s3_read_prefix(
                                role, f"{uri}/checkpoint.0", kms_key=output.get("KmsKeyId")
                            ),
                        ],
                    )
                )
    return flows


def registered_models(policies: Policies) -> dict[str, list[str]]:
    """Model package group -> the model data URLs its pipelines' RegisterModel steps name."""
    a = policies.assembly
    found: dict[str, list[str]] = {}
    for stack, _, resource in a.resources("AWS::SageMaker::Pipeline"):
        props = a.props(stack, resource)
        expressions = _PipelineExpressions(
            json.loads(props["PipelineDefinition"]["PipelineDefinitionBody"])
        )
        for step in expressions.steps.values():
            if step["Type"] != "RegisterModel":
                continue
            arguments = step["Arguments"]
            for container in arguments["InferenceSpecification"]["Containers"]:
                url = expressions.value(container.get("ModelDataUrl"))
                if url:
                    found.setdefault(arguments["ModelPackageGroupName"], []).append(url)
    return found


def endpoint_flows(policies: Policies, requests: Requests) -> list[Flow]:
    """Every SageMaker model's execution role reading its model data (a multi-model
    endpoint's models live under the data URL prefix); every production and shadow variant
    of an endpoint configuration, through its model, reading what that model loads (an A/B
    test's challengers included); and an inference-component endpoint's execution role
    (``ExecutionRoleArn`` of the configuration, no model in its variant), which the
    deployer's component models run as, reading the archive of every registered version of
    the groups its deployer serves (``pipelines/``, with the artifacts key)."""
    a = policies.assembly
    flows = []
    loads: dict[str, tuple[str, list[Request]]] = {}
    for stack, logical_id, resource in a.resources("AWS::SageMaker::Model"):
        props = a.props(stack, resource)
        role = _role(policies, props["ExecutionRoleArn"])
        flows.append(
            Flow(
                f"{stack}/{logical_id}: SageMaker assumes the execution role",
                "endpoint",
                requests.assume("sagemaker.amazonaws.com", role),
            )
        )
        model_reads: list[Request] = []
        for container in [props.get("PrimaryContainer"), *props.get("Containers", [])]:
            if not container or "ModelDataUrl" not in container:
                continue
            url = container["ModelDataUrl"]
            uri = f"{url}group/v1.tar.gz" if container.get("Mode") == "MultiModel" else url
            reads = requests.s3_read(role, uri)
            if container.get("Mode") == "MultiModel":
                reads = [*requests.s3_list(role, url), *reads]
            model_reads += reads
            flows.append(Flow(f"{stack}/{logical_id} loads models from {url}", "endpoint", reads))
        loads[str(a.get_att(stack, logical_id, "ModelName"))] = (logical_id, model_reads)
    for stack, logical_id, resource in a.resources("AWS::SageMaker::EndpointConfig"):
        props = a.props(stack, resource)
        variants = [
            *props.get("ProductionVariants", []),
            *props.get("ShadowProductionVariants", []),
        ]
        for variant in variants:
            if "ModelName" not in variant:
                continue
            if variant["ModelName"] not in loads:
                raise UnresolvableError(
                    f"{stack}/{logical_id}: variant {variant['VariantName']} names a model "
                    "not in the assembly"
                )
            model, reads = loads[variant["ModelName"]]
            if not reads:
                raise UnresolvableError(f"{stack}/{model} loads no model data")
            flows.append(
                Flow(
                    f"{stack}/{logical_id} variant {variant['VariantName']} ({model}) loads "
                    "its models",
                    "endpoint",
                    reads,
                )
            )
        if "ExecutionRoleArn" not in props:
            continue
        role = _role(policies, props["ExecutionRoleArn"])
        flows.append(
            Flow(
                f"{stack}/{logical_id}: SageMaker assumes the endpoint's execution role",
                "endpoint",
                requests.assume("sagemaker.amazonaws.com", role),
            )
        )
        models = registered_models(policies)
        served = []
        for function_stack, _, function in a.by_path("Serving/*/Function/Resource"):
            env = _function_environment(a, function_stack, function)
            if env.get("EXECUTION_ROLE_ARN") == role.arn:
                served += env["MODEL_PACKAGE_GROUPS"].split(",")
        if not served:
            raise UnresolvableError(f"{stack}/{logical_id}: no deployer serves its components")
        for group in served:
            for source in models.get(group, []):
                flows.append(
                    Flow(
                        f"{stack}/{logical_id}: a component model of {group} loads {source}",
                        "endpoint",
                        requests.s3_read(role, source),
                    )
                )
    return flows


def _function_environment(a: Assembly, stack: str, function: dict[str, Any]) -> dict[str, str]:
    return a.props(stack, function).get("Environment", {}).get("Variables", {})


def _handler_functions(
    policies: Policies, requests: Requests, path: str, marker: str, kind: str, flows: list[Flow]
) -> Iterator[tuple[str, str, dict[str, str], Role]]:
    """(stack, logical id, environment, role) of each function at ``path`` whose environment
    has ``marker`` (what tells the handler apart), after adding the flow of Lambda assuming
    its role to ``flows``."""
    a = policies.assembly
    for stack, logical_id, function in a.by_path(path):
        env = _function_environment(a, stack, function)
        if marker not in env:
            continue
        role = _function_role(policies, stack, function)
        flows.append(
            Flow(
                f"{stack}/{logical_id}: Lambda assumes the function's role",
                kind,
                requests.assume("lambda.amazonaws.com", role),
            )
        )
        yield stack, logical_id, env, role


def _dead_letter_send(requests: Requests, role: Role, env: Mapping[str, str]) -> list[Request]:
    """A handler's own send of a non-retryable failure to ``DEAD_LETTER_QUEUE_URL``
    (``handler_common.events.dead_letter``), with the function's role: SendMessage and the
    queue key's data key."""
    if not env.get(DEAD_LETTER_QUEUE_URL):
        raise UnresolvableError("the function has no DEAD_LETTER_QUEUE_URL")
    return requests.sqs_send_url(role, env[DEAD_LETTER_QUEUE_URL])


#: The hosting of a deployer whose environment names none (the handler's default).
MULTI_MODEL = "multi-model"
#: Application Auto Scaling's service-linked role for SageMaker, which registering the first
#: scalable target of the account creates (Application Auto Scaling User Guide, "Amazon
#: SageMaker AI and Application Auto Scaling").
SCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
SCALING_ROLE = (
    f"role/aws-service-role/{SCALING_SERVICE}/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


def deployer_flows(policies: Policies, requests: Requests) -> list[Flow]:
    """The approved-model deployer (``serving/runtime/model_deployer``) of each endpoint,
    per its ``HOSTING``: on a multi-model endpoint (the default) the archive copies and
    retirements (:func:`_multi_model_deployer_flows`), on an inference-component endpoint
    the models, components and their autoscaling (:func:`_component_deployer_flows`)."""
    flows: list[Flow] = []
    for stack, logical_id, env, role in _handler_functions(
        policies, requests, "Serving/*/Function/Resource", "MODEL_PREFIX", "deployer", flows
    ):
        hosting = env.get("HOSTING") or MULTI_MODEL
        if hosting == MULTI_MODEL:
            flows += _multi_model_deployer_flows(
                policies, requests, f"{stack}/{logical_id}", env, role
            )
        elif hosting == "inference-components":
            flows += _component_deployer_flows(
                policies, requests, f"{stack}/{logical_id}", env, role
            )
        else:
            raise UnresolvableError(f"{stack}/{logical_id}: HOSTING {hosting!r}")
    return flows


def _multi_model_deployer_flows(
    policies: Policies, requests: Requests, name: str, env: Mapping[str, str], role: Role
) -> list[Flow]:
    """Per group and registered model, from the environment (MODEL_BUCKET, MODEL_PREFIX,
    RETIRED_PREFIX, RECORD_PREFIX, MODEL_KEY_ARN, DEAD_LETTER_QUEUE_URL): an Approved
    version: it describes the package (polling while it is being created), heads the
    artifact, takes the version's lock, copies the exact artifact version into the
    endpoint's prefix, checks the copy, keeps a record and deletes the lock's version; a
    redelivery only reads; an expired lock is read and taken over; a copy that does not
    check is removed; a non-retryable failure goes to the dead-letter queue. A Rejected
    version: under the same lock, the served archive's version is copied to RETIRED_PREFIX,
    the copy checked, the served version deleted (``s3:DeleteObjectVersion``), the newest
    other Approved version looked up (ListModelPackages) and headed, the record read and
    rewritten; a retired copy that does not check is removed (its version); a redelivery
    only reads."""
    a = policies.assembly
    flows: list[Flow] = []
    bucket, key_arn = env["MODEL_BUCKET"], env.get("MODEL_KEY_ARN") or None
    models = registered_models(policies)
    for group in env["MODEL_PACKAGE_GROUPS"].split(","):
        package = a._arn("sagemaker", f"model-package/{group}/1")
        target_key = f"{env['MODEL_PREFIX']}{group}/v1.tar.gz"
        target = f"s3://{bucket}/{target_key}"
        retired = f"s3://{bucket}/{env['RETIRED_PREFIX']}{group}/v1.tar.gz"
        newer = f"s3://{bucket}/{env['MODEL_PREFIX']}{group}/v2.tar.gz"
        record = f"s3://{bucket}/{env['RECORD_PREFIX']}{group}/v1.json"
        lock = f"s3://{bucket}/{env['RECORD_PREFIX']}_locks/{group}/v1.lock"
        describe = [Request(role, "sagemaker:DescribeModelPackage", package)]
        take = requests.s3_write(role, lock, kms_key=key_arn, context={"s3:if-none-match": "*"})
        release = requests.s3_version_call(role, lock, "s3:DeleteObjectVersion", VERSION_ID)
        for source in models.get(group, []):
            source_bucket, source_key = _split_s3(source)
            copy = {
                "s3:x-amz-copy-source": f"{source_bucket}/{source_key}",
                "s3:x-amz-metadata-directive": "REPLACE",
            }
            flows.append(
                Flow(
                    f"{name} copies {source} into {env['MODEL_PREFIX']}",
                    "deployer",
                    [
                        *describe,
                        *requests.s3_head_listed(role, source),
                        *requests.s3_head_listed(role, target),
                        *take,
                        # The managed copy of the version headed (s3transfer heads it
                        # again; a multipart copy reads it with UploadPartCopy).
                        *requests.s3_version_call(role, source, "s3:GetObjectVersion", VERSION_ID),
                        *requests.s3_kms(role, source_bucket, ["kms:Decrypt"], None),
                        *requests.s3_write(role, target, kms_key=key_arn, context=copy),
                        *requests.s3_object_call(role, target, "s3:GetObject"),
                        *requests.s3_write(role, record, kms_key=key_arn),
                        *release,
                    ],
                )
            )
            flows.append(
                Flow(
                    f"{name} finds {source} already deployed",
                    "deployer",
                    [
                        *describe,
                        *requests.s3_object_call(role, source, "s3:GetObject"),
                        *requests.s3_object_call(role, target, "s3:GetObject"),
                        *requests.s3_object_call(role, record, "s3:GetObject"),
                    ],
                )
            )
            flows.append(
                Flow(
                    f"{name} removes a copy of {source} that did not check",
                    "deployer",
                    [
                        *requests.s3_object_call(role, target, "s3:AbortMultipartUpload"),
                        *requests.s3_object_call(role, target, "s3:GetObject"),
                        *requests.s3_version_call(
                            role, target, "s3:DeleteObjectVersion", VERSION_ID
                        ),
                        *release,
                    ],
                )
            )
            flows.append(
                Flow(
                    f"{name} dead-letters {group} version 1 (artifact {source} missing)",
                    "deployer",
                    [
                        *describe,
                        *requests.s3_head_listed(role, source),
                        *_dead_letter_send(requests, role, env),
                    ],
                )
            )
        retire_copy = {
            "s3:x-amz-copy-source": f"{bucket}/{target_key}",
            "s3:x-amz-metadata-directive": "REPLACE",
        }
        flows.append(
            Flow(
                f"{name} retires Rejected {group} version 1 into {env['RETIRED_PREFIX']}",
                "deployer",
                [
                    *describe,
                    *requests.s3_object_call(role, target, "s3:GetObject"),
                    *take,
                    *requests.s3_object_call(role, target, "s3:GetObject"),
                    *requests.s3_head_listed(role, retired),
                    *requests.s3_version_call(role, target, "s3:GetObjectVersion", VERSION_ID),
                    *requests.s3_kms(role, bucket, ["kms:Decrypt"], key_arn),
                    *requests.s3_write(role, retired, kms_key=key_arn, context=retire_copy),
                    *requests.s3_object_call(role, retired, "s3:GetObject"),
                    *requests.s3_version_call(role, target, "s3:DeleteObjectVersion", VERSION_ID),
                    Request(role, "sagemaker:ListModelPackages", _no_resource(a, "model-package")),
                    *requests.s3_object_call(role, newer, "s3:GetObject"),
                    *requests.s3_read(role, record, kms_key=key_arn),
                    *requests.s3_write(role, record, kms_key=key_arn),
                    *release,
                ],
            )
        )
        flows.append(
            Flow(
                f"{name} removes a retired copy of {group} version 1 that did not check",
                "deployer",
                [
                    *requests.s3_object_call(role, retired, "s3:AbortMultipartUpload"),
                    *requests.s3_object_call(role, retired, "s3:GetObject"),
                    *requests.s3_version_call(role, retired, "s3:DeleteObjectVersion", VERSION_ID),
                    *release,
                ],
            )
        )
        flows.append(
            Flow(
                f"{name} finds {group} version 1 already retired",
                "deployer",
                [
                    *describe,
                    *requests.s3_head_listed(role, target),
                    *requests.s3_object_call(role, retired, "s3:GetObject"),
                    *requests.s3_read(role, record, kms_key=key_arn),
                ],
            )
        )
        flows.append(
            Flow(
                f"{name} takes over an expired lock of {group} version 1",
                "deployer",
                [
                    *take,
                    *requests.s3_read(role, lock, kms_key=key_arn),
                    *requests.s3_write(role, lock, kms_key=key_arn, context={"s3:if-match": ETAG}),
                    *release,
                ],
            )
        )
    return flows


def _component_deployer_flows(
    policies: Policies, requests: Requests, name: str, env: Mapping[str, str], role: Role
) -> list[Flow]:
    """Per group of COMPONENTS, from the environment (ENDPOINT_NAME, EXECUTION_ROLE_ARN,
    COMPONENTS, RECORD_PREFIX, MODEL_KEY_ARN, DEAD_LETTER_QUEUE_URL), under the group's
    component lock: the first Approved version creates the model ``<component>-v1`` from
    the package (passing the execution role to SageMaker), the component on the endpoint,
    its scalable target (and Application Auto Scaling's service-linked role), the target
    tracking policy and, with scale to zero, the wake-up policy and alarm, then the record;
    a later version makes its model and updates the component; a Rejected version served
    rolls the component back to the newest other Approved one, or, with none, withdraws it
    (scalable target, wake-up alarm, component); a failed component is dead-lettered; an
    expired lock is taken over."""
    a = policies.assembly
    flows: list[Flow] = []
    key_arn = env.get("MODEL_KEY_ARN") or None
    bucket = env["MODEL_BUCKET"]
    execution_role = _role(policies, env["EXECUTION_ROLE_ARN"])
    endpoint = a._arn("sagemaker", f"endpoint/{env['ENDPOINT_NAME'].lower()}")
    components = json.loads(env["COMPONENTS"])
    for group in env["MODEL_PACKAGE_GROUPS"].split(","):
        settings = components[group]
        component = settings["name"]
        arn = a._arn("sagemaker", f"inference-component/{component}")
        model = {v: a._arn("sagemaker", f"model/{component}-v{v}") for v in (1, 2)}
        package = {v: a._arn("sagemaker", f"model-package/{group}/{v}") for v in (1, 2)}
        record = {v: f"s3://{bucket}/{env['RECORD_PREFIX']}{group}/v{v}.json" for v in (1, 2)}
        lock = f"s3://{bucket}/{env['RECORD_PREFIX']}_locks/{group}/component.lock"
        take = requests.s3_write(role, lock, kms_key=key_arn, context={"s3:if-none-match": "*"})
        release = requests.s3_version_call(role, lock, "s3:DeleteObjectVersion", VERSION_ID)
        describe_component = [Request(role, "sagemaker:DescribeInferenceComponent", arn)]
        # Application Auto Scaling's target ARN has an id it generates; its Describe
        # actions take no resource (evaluated against a stand-in, as ListModelPackages).
        target = a._arn("application-autoscaling", "scalable-target/rehearsal-target")
        describe_scaling = [
            Request(role, "application-autoscaling:DescribeScalableTargets", "*"),
            Request(role, "application-autoscaling:DescribeScalingPolicies", "*"),
        ]
        alarm = a._arn("cloudwatch", f"alarm:{component}-no-capacity")
        tracking = a._arn(
            "cloudwatch",
            f"alarm:TargetTracking-inference-component/{component}-AlarmHigh-{VERSION_ID}",
        )
        tracking_alarms = [
            Request(role, f"cloudwatch:{action}", tracking)
            for action in ("PutMetricAlarm", "DescribeAlarms", "DeleteAlarms")
        ]
        wake_up = (
            [
                Request(role, "application-autoscaling:PutScalingPolicy", target),
                Request(role, "cloudwatch:DescribeAlarms", alarm),
                Request(role, "cloudwatch:PutMetricAlarm", alarm),
            ]
            if settings.get("scale_to_zero")
            else []
        )

        make_model = {
            v: [
                Request(role, "sagemaker:DescribeModel", model[v]),
                Request(role, "sagemaker:CreateModel", model[v]),
                Request(
                    role,
                    "iam:PassRole",
                    execution_role.arn,
                    {"iam:PassedToService": "sagemaker.amazonaws.com"},
                ),
            ]
            for v in (1, 2)
        }
        # The record is read before it is written (its history is kept); where none exists
        # yet S3 answers the role 403 (it may list only prefixes), which the handler tells
        # from a refusal by listing the key as prefix, as for a HEAD.
        write_record = {
            v: [
                *requests.s3_head_listed(role, record[v]),
                *requests.s3_write(role, record[v], kms_key=key_arn),
            ]
            for v in (1, 2)
        }

        flows.append(
            Flow(
                f"{name} creates component {component} serving {group} version 1",
                "deployer",
                [
                    Request(role, "sagemaker:DescribeModelPackage", package[1]),
                    *take,
                    *describe_component,
                    *make_model[1],
                    # A component is created on the endpoint: the request names both.
                    Request(role, "sagemaker:CreateInferenceComponent", arn),
                    Request(role, "sagemaker:CreateInferenceComponent", endpoint),
                    *describe_component,
                    *describe_scaling,
                    Request(
                        role,
                        "iam:CreateServiceLinkedRole",
                        a._arn("iam", SCALING_ROLE, regional=False),
                        {"iam:AWSServiceName": SCALING_SERVICE},
                    ),
                    Request(role, "application-autoscaling:RegisterScalableTarget", target),
                    Request(role, "application-autoscaling:PutScalingPolicy", target),
                    # Application Auto Scaling creates the target tracking policy's alarms
                    # and checks first that the caller may (Application Auto Scaling User
                    # Guide, "Permissions validation for API calls on target resources").
                    *tracking_alarms,
                    *wake_up,
                    *write_record[1],
                    *release,
                ],
            )
        )
        flows.append(
            Flow(
                f"{name} updates component {component} to {group} version 2",
                "deployer",
                [
                    Request(role, "sagemaker:DescribeModelPackage", package[2]),
                    *take,
                    *describe_component,
                    *requests.s3_object_call(role, record[2], "s3:GetObject"),
                    *make_model[2],
                    Request(role, "sagemaker:UpdateInferenceComponent", arn),
                    *describe_scaling,
                    *write_record[2],
                    *release,
                ],
            )
        )
        flows.append(
            Flow(
                f"{name} finds {group} version 2 already served by {component}",
                "deployer",
                [
                    Request(role, "sagemaker:DescribeModelPackage", package[2]),
                    *take,
                    *describe_component,
                    *requests.s3_read(role, record[2], kms_key=key_arn),
                    Request(role, "sagemaker:DescribeModel", model[2]),
                    *describe_scaling,
                    *([Request(role, "cloudwatch:DescribeAlarms", alarm)] if wake_up else []),
                    *requests.s3_read(role, record[2], kms_key=key_arn),
                    *release,
                ],
            )
        )
        flows.append(
            Flow(
                f"{name} rolls {component} back from Rejected {group} version 2",
                "deployer",
                [
                    Request(role, "sagemaker:DescribeModelPackage", package[2]),
                    *take,
                    *describe_component,
                    Request(role, "sagemaker:ListModelPackages", _no_resource(a, "model-package")),
                    Request(role, "sagemaker:DescribeModel", model[1]),
                    Request(role, "sagemaker:UpdateInferenceComponent", arn),
                    *requests.s3_read(role, record[2], kms_key=key_arn),
                    *requests.s3_write(role, record[2], kms_key=key_arn),
                    *release,
                ],
            )
        )
        flows.append(
            Flow(
                f"{name} withdraws {component} (Rejected {group} version 1, none approved)",
                "deployer",
                [
                    Request(role, "sagemaker:DescribeModelPackage", package[1]),
                    *take,
                    *describe_component,
                    Request(role, "sagemaker:ListModelPackages", _no_resource(a, "model-package")),
                    Request(role, "application-autoscaling:DeregisterScalableTarget", target),
                    Request(role, "cloudwatch:DeleteAlarms", alarm),
                    Request(role, "sagemaker:DeleteInferenceComponent", arn),
                    *requests.s3_read(role, record[1], kms_key=key_arn),
                    *requests.s3_write(role, record[1], kms_key=key_arn),
                    *release,
                ],
            )
        )
        flows.append(
            Flow(
                f"{name} dead-letters {group} version 1 ({component} failed with it)",
                "deployer",
                [
                    Request(role, "sagemaker:DescribeModelPackage", package[1]),
                    *take,
                    *describe_component,
                    *release,
                    *_dead_letter_send(requests, role, env),
                ],
            )
        )
        flows.append(
            Flow(
                f"{name} takes over an expired lock of {component}",
                "deployer",
                [
                    *take,
                    *requests.s3_read(role, lock, kms_key=key_arn),
                    *requests.s3_write(role, lock, kms_key=key_arn, context={"s3:if-match": ETAG}),
                    *release,
                ],
            )
        )
    return flows


def remediation_flows(policies: Policies, requests: Requests) -> list[Flow]:
    """The Macie remediation function (``macie/runtime/macie_remediation``), per its MODE and
    platform bucket. Without a version id in the finding it finds the scanned version by
    eTag and size in ListObjectVersions of the key alone: HeadObject is authorised as
    s3:GetObject, which the lake denies on objects a finding flagged. quarantine reads the
    version's tags (a flagged version cannot be read, so it is reported instead), copies
    that exact version into QUARANTINE_BUCKET, checks the copy byte for byte, tags it,
    indexes it under ``_findings/<finding id>.json`` and deletes the source version; a
    redelivery reads the index. tag tags the scanned version; a redelivery finds it tagged;
    an object without room for the tags is reported and dead-lettered. Either way it
    publishes a summary, or a "not-remediated" notice, to TOPIC_ARN."""
    flows: list[Flow] = []
    for stack, logical_id, env, role in _handler_functions(
        policies, requests, "Protection/*/Function/Resource", "MODE", "remediation", flows
    ):
        name = f"{stack}/{logical_id} ({env['MODE']})"
        publish = requests.sns_publish(role, env["TOPIC_ARN"])
        quarantine = env.get("QUARANTINE_BUCKET", "")
        quarantine_key = env.get("QUARANTINE_KEY_ARN") or None
        index = f"s3://{quarantine}/_findings/{FINDING_ID}.json"
        for bucket in env["PLATFORM_BUCKETS"].split(","):
            key = "any/object.csv"
            source = f"s3://{bucket}/{key}"
            # Without a version id: the listing of the key's versions, and nothing else.
            scanned_version = [
                Request(
                    role, "s3:ListBucketVersions", f"arn:aws:s3:::{bucket}", {"s3:prefix": key}
                ),
            ]
            # The version's tags: the deny of reads of flagged objects does not cover them.
            read_tags = requests.s3_version_call(
                role, source, "s3:GetObjectVersionTagging", VERSION_ID
            )
            # The same of a version a finding has flagged, whose content no one may read.
            read_flagged_tags = requests.s3_object_call(
                role,
                source,
                "s3:GetObjectVersionTagging",
                {"s3:versionid": VERSION_ID, FLAGGED_TAG_KEY: FINDING_ID},
            )
            if env["MODE"] == "quarantine":
                target = f"s3://{quarantine}/{bucket}/{VERSION_ID}/{key}"
                copy = {
                    "s3:x-amz-copy-source": f"{bucket}/{key}?versionId={VERSION_ID}",
                    "s3:x-amz-metadata-directive": "COPY",
                }
                read_source_version = [
                    *requests.s3_version_call(role, source, "s3:GetObjectVersion", VERSION_ID),
                    *requests.s3_kms(role, bucket, ["kms:Decrypt"], None),
                ]
                steps = [
                    *scanned_version,
                    # Not flagged: the version (HeadObject) and the target, not there yet.
                    *read_tags,
                    *requests.s3_version_call(role, source, "s3:GetObjectVersion", VERSION_ID),
                    *requests.s3_head_missing(role, target),
                    # The managed copy of that version, then the check: size, and the bytes
                    # of both read back and hashed.
                    *read_source_version,
                    *requests.s3_write(role, target, kms_key=quarantine_key, context=copy),
                    *requests.s3_object_call(role, target, "s3:GetObject"),
                    *requests.s3_read(role, target, kms_key=quarantine_key),
                    *requests.s3_object_call(role, target, "s3:PutObjectTagging"),
                    *requests.s3_write(role, index, kms_key=quarantine_key),
                    *requests.s3_version_call(role, source, "s3:DeleteObjectVersion", VERSION_ID),
                ]
                flows.append(
                    Flow(
                        f"{name} finds a redelivered finding of {source} quarantined",
                        "remediation",
                        [
                            *scanned_version,
                            # The scanned version is gone: the index names what was moved,
                            # and the version's tags are missing (404 only to a lister).
                            *requests.s3_read(role, index, kms_key=quarantine_key),
                            *read_tags,
                            Request(role, "s3:ListBucket", f"arn:aws:s3:::{bucket}"),
                            *requests.s3_object_call(role, target, "s3:GetObject"),
                            *requests.s3_object_call(role, target, "s3:GetObjectTagging"),
                            *publish,
                        ],
                    )
                )
                flows.append(
                    Flow(
                        f"{name} reports a version of {source} flagged before",
                        "remediation",
                        [*scanned_version, *read_flagged_tags, *publish],
                    )
                )
                flows.append(
                    Flow(
                        f"{name} abandons a failed copy of {source}",
                        "remediation",
                        requests.s3_object_call(role, target, "s3:AbortMultipartUpload"),
                    )
                )
            else:
                steps = [
                    *scanned_version,
                    *read_tags,
                    *requests.s3_version_call(
                        role, source, "s3:PutObjectVersionTagging", VERSION_ID
                    ),
                ]
                flows.append(
                    Flow(
                        f"{name} finds a redelivered finding (no version id) of {source} tagged",
                        "remediation",
                        [*scanned_version, *read_flagged_tags, *publish],
                    )
                )
                flows.append(
                    Flow(
                        f"{name} dead-letters a finding of {source} without room for tags",
                        "remediation",
                        [
                            *scanned_version,
                            *read_tags,
                            *publish,
                            *_dead_letter_send(requests, role, env),
                        ],
                    )
                )
            flows.append(Flow(f"{name} remediates {source}", "remediation", [*steps, *publish]))
            # No version matches the finding's eTag (nor, in quarantine, does the index name
            # one): nothing is changed, a notice says why.
            flows.append(
                Flow(
                    f"{name} publishes a not-remediated notice about {source}",
                    "remediation",
                    [
                        *scanned_version,
                        *(requests.s3_head_missing(role, index) if quarantine else []),
                        *publish,
                    ],
                )
            )
    return flows


def retraining_flows(policies: Policies, requests: Requests) -> list[Flow]:
    """The retraining trigger (``monitoring/runtime/retraining_trigger``): it lists the recent
    executions of PIPELINE_NAME and starts one. It sends nothing to its dead-letter queue
    itself (it raises no ``NonRetryable``); Lambda's on-failure destination does, see
    :func:`delivery_flows`."""
    a = policies.assembly
    flows = []
    for stack, logical_id, function in a.resources("AWS::Lambda::Function"):
        env = _function_environment(a, stack, function)
        if "PIPELINE_NAME" not in env or "ALARM_NAMES" not in env:
            continue
        role = _function_role(policies, stack, function)
        pipeline = a._arn("sagemaker", f"pipeline/{env['PIPELINE_NAME'].lower()}")
        flows.append(
            Flow(
                f"{stack}/{logical_id}: Lambda assumes the function's role",
                "retraining",
                requests.assume("lambda.amazonaws.com", role),
            )
        )
        flows.append(
            Flow(
                f"{stack}/{logical_id} starts {env['PIPELINE_NAME']} once per cooldown",
                "retraining",
                [
                    Request(role, "sagemaker:ListPipelineExecutions", pipeline),
                    Request(role, "sagemaker:StartPipelineExecution", pipeline),
                ],
            )
        )
    return flows


def _no_resource(a: Assembly, resource_type: str) -> str:
    """The resource a call that names none (ListModelPackages, PutMetricData) is evaluated
    with. IAM evaluates such a call against ``*``; the simulator's action data gives both
    actions an optional resource type (``model-package``, ``dataset``) and answers a ``*``
    request per policy resource, which ``tools/iam_simulate.mjs`` does not take. One ARN of
    that type stands in: a statement on ``*`` covers it, as it covers the real call."""
    if resource_type == "model-package":
        return a._arn("sagemaker", "model-package/rehearsal-no-resource/1")
    return a._arn("cloudwatch", f"{resource_type}/rehearsal-no-resource")


def _monitoring_pipeline_step(policies: Policies, pipeline: str) -> tuple[dict[str, Any], Role]:
    """The ``MonitorModel`` step of the monitoring pipeline ``pipeline`` and the role its
    job runs with."""
    a = policies.assembly
    for stack, _, resource in a.resources("AWS::SageMaker::Pipeline"):
        props = a.props(stack, resource)
        if props["PipelineName"] != pipeline:
            continue
        definition = json.loads(props["PipelineDefinition"]["PipelineDefinitionBody"])
        step = _PipelineExpressions(definition).steps["MonitorModel"]
        return step, _role(policies, step["Arguments"].get("RoleArn", props["RoleArn"]))
    raise UnresolvableError(f"no monitoring pipeline {pipeline} in the assembly")


def monitoring_flows(policies: Policies, requests: Requests) -> list[Flow]:
    """The monitoring engine's hourly run, per launcher (``monitoring/runtime/
    monitoring_launcher``, found by its CAPTURE_PREFIX) and from its environment:

    * EventBridge Scheduler assumes the schedule's role and invokes the launcher, or sends an
      undelivered run to the schedule's dead-letter queue;
    * the launcher lists the newest approved version of MODEL_GROUP (ListModelPackages),
      describes it, checks that its baseline (under the first of READ_PREFIXES) and archive
      exist by listing them, lists the window's hour folders of capture and ground truth,
      writes the two manifests and the placeholder under RUNS_PREFIX, and starts
      PIPELINE_NAME;
    * the job (the ``MonitorModel`` step's role) reads what the parameters name, as SageMaker
      downloads its inputs: each manifest and every object it lists (``ManifestFile``), the
      baseline and the archive as ``S3Prefix`` inputs (its output: :func:`pipeline_flows`);
    * the metrics publisher (found by METRICS_NAMESPACE) reads the run's ``metrics.json``
      under OUTPUT_PREFIX and puts the metrics into its namespace.
    """
    a = policies.assembly
    flows: list[Flow] = []
    launchers: dict[str, str] = {}
    for stack, logical_id, env, role in _handler_functions(
        policies, requests, "Monitoring/*/Function/Resource", "CAPTURE_PREFIX", "monitoring", flows
    ):
        function = a.get_att(stack, logical_id, "Arn")
        launchers[function] = f"{stack}/{logical_id}"
        name = f"{stack}/{logical_id}"
        bucket, group = env["ARTIFACT_BUCKET"], env["MODEL_GROUP"]
        package = f"{env['PACKAGE_ARN_PREFIX']}1"
        read_prefix = env["READ_PREFIXES"].split(",")[0]
        baseline = f"{read_prefix}{group}/executions/{EXECUTION_ID}/baseline/baseline.json"
        # MODELS_PREFIX is the group's folder of the multi-model endpoint's models; without
        # one (an inference-component or single-model endpoint) the archive is the one the
        # package registers.
        if env.get("MODELS_PREFIX"):
            model = f"{env['MODELS_PREFIX']}v1.tar.gz"
        else:
            registered = registered_models(policies).get(group)
            if not registered:
                raise UnresolvableError(f"{name}: no pipeline registers {group}")
            model_bucket, model = _split_s3(registered[0])
            if model_bucket != bucket:
                raise UnresolvableError(f"{name}: {group}'s archive is not in {bucket}")
        hour = "2026/01/01/05/"
        # Data capture writes each production variant's records under <variant>/; the
        # launcher lists and the job reads every variant of CAPTURE_VARIANTS.
        variants = env["CAPTURE_VARIANTS"].split(",")
        captures = [
            f"{env['CAPTURE_PREFIX']}{variant}/{hour}00-00-000-rehearsal.jsonl"
            for variant in variants
        ]
        truth = f"{env['GROUND_TRUTH_PREFIX']}{hour}rehearsal.jsonl"
        run = f"{env['RUNS_PREFIX']}20260101T0600Z/"
        manifests = [
            f"s3://{bucket}/{run}{m}" for m in ("capture.manifest", "ground-truth.manifest")
        ]
        placeholder = f"s3://{bucket}/{run}none/README.txt"
        listing = [
            request
            for key in (
                baseline,
                model,
                *(f"{env['CAPTURE_PREFIX']}{variant}/{hour}" for variant in variants),
                env["GROUND_TRUTH_PREFIX"] + hour,
            )
            for request in requests.s3_list(role, f"s3://{bucket}/{key}")
        ]
        flows.append(
            Flow(
                f"{name} starts a run of {env['PIPELINE_NAME']} on version 1 of {group}",
                "monitoring",
                [
                    Request(role, "sagemaker:ListModelPackages", _no_resource(a, "model-package")),
                    Request(role, "sagemaker:DescribeModelPackage", package),
                    *listing,
                    *(q for uri in (*manifests, placeholder) for q in requests.s3_write(role, uri)),
                    Request(
                        role,
                        "sagemaker:StartPipelineExecution",
                        a._arn("sagemaker", f"pipeline/{env['PIPELINE_NAME'].lower()}"),
                    ),
                ],
            )
        )
        step, job = _monitoring_pipeline_step(policies, env["PIPELINE_NAME"])
        inputs = {i["InputName"]: i["S3Input"] for i in step["Arguments"]["ProcessingInputs"]}
        listed = {
            "capture": [f"s3://{bucket}/{capture}" for capture in captures],
            "ground-truth": [f"s3://{bucket}/{truth}"],
        }
        reads: list[Request] = []
        for input_name, manifest in zip(("capture", "ground-truth"), manifests, strict=True):
            if inputs[input_name]["S3DataType"] != "ManifestFile":
                raise UnresolvableError(f"{input_name} is not a ManifestFile input")
            reads += requests.s3_read(job, manifest)
            for uri in listed[input_name]:
                reads += requests.s3_read(job, uri)
        reads += requests.s3_read(job, placeholder)
        for input_name, key in (("baseline", baseline), ("model", model)):
            if inputs[input_name]["S3DataType"] != "S3Prefix":
                raise UnresolvableError(f"{input_name} is not an S3Prefix input")
            reads += requests.s3_read_prefix(job, f"s3://{bucket}/{key}")
        flows.append(
            Flow(
                f"{env['PIPELINE_NAME']}/MonitorModel reads the run's manifests, capture, "
                "ground truth, baseline and model",
                "monitoring",
                reads,
            )
        )
    for stack, logical_id, resource in a.resources("AWS::Scheduler::Schedule"):
        props = a.props(stack, resource)
        target = props["Target"]
        if target["Arn"] not in launchers:
            continue
        role = _role(policies, target["RoleArn"])
        flows.append(
            Flow(
                f"schedule {stack}/{logical_id} invokes {launchers[target['Arn']]}",
                "monitoring",
                [
                    *requests.assume("scheduler.amazonaws.com", role),
                    *requests.lambda_invoke(role, target["Arn"]),
                    # A run it could not deliver goes to the dead-letter queue, as this role.
                    *requests.sqs_send(role, target["DeadLetterConfig"]["Arn"]),
                ],
            )
        )
    for stack, logical_id, env, role in _handler_functions(
        policies,
        requests,
        "Monitoring/*/Function/Resource",
        "METRICS_NAMESPACE",
        "monitoring",
        flows,
    ):
        metrics = f"s3://{env['ARTIFACT_BUCKET']}/{env['OUTPUT_PREFIX']}{EXECUTION_ID}/metrics.json"
        flows.append(
            Flow(
                f"{stack}/{logical_id} publishes {metrics} into {env['METRICS_NAMESPACE']}",
                "monitoring",
                [
                    *requests.s3_read(role, metrics),
                    Request(
                        role,
                        "cloudwatch:PutMetricData",
                        _no_resource(a, "dataset"),
                        {"cloudwatch:namespace": env["METRICS_NAMESPACE"]},
                    ),
                ],
            )
        )
    return flows


def macie_flows(policies: Policies, requests: Requests) -> list[Flow]:
    """Macie's service-linked role reads SSE-KMS objects of the buckets its discovery job
    scans. The role is AWS's and its AWS managed policy grants no KMS use, so the key
    policy alone must allow it
    (https://docs.aws.amazon.com/macie/latest/user/discovery-supported-encryption-types.html)."""
    a = policies.assembly
    if not any(name.endswith("-Protection") for name in a.stacks):
        return []
    slr = f"arn:aws:iam::{a.account}:{MACIE_SLR}"
    flows = []
    for stack, _, function in a.by_path("Protection/*/Function/Resource"):
        env = _function_environment(a, stack, function)
        for bucket in env.get("PLATFORM_BUCKETS", "").split(","):
            if not bucket:
                continue
            key, _ = policies.bucket_keys.get(f"arn:aws:s3:::{bucket}", (None, False))
            key_arn = policies.key_arn(key)
            if key_arn is None:
                continue
            flows.append(
                Flow(
                    f"Macie decrypts objects of {bucket}",
                    "macie",
                    [
                        Request(
                            _MacieRole(slr, a.account),
                            "kms:Decrypt",
                            key_arn,
                            {
                                "kms:ViaService": f"s3.{a.region}.amazonaws.com",
                                "kms:CallerAccount": a.account,
                            },
                        )
                    ],
                )
            )
    return flows


@dataclass(frozen=True)
class _MacieRole(Role):
    """Macie's service-linked role: AWS owns its (KMS-less) policy, so it has none here."""


@dataclass(frozen=True)
class ForeignRole(Role):
    """A role of another account, with the identity ``policy`` (JSON) its account grants."""

    policy: str = "{}"


def registry_reader_flows(policies: Policies, requests: Requests) -> list[Flow]:
    """Each account a model package group's policy names deploys a registered version in
    its own account: it describes the package and fetches the model archive through S3.
    Cross-account, so the group, bucket and key policies must each allow it, whatever the
    reader's account grants its own role (here: exactly those requests)."""
    a = policies.assembly
    flows = []
    models = registered_models(policies)
    for stack, _, resource in a.resources("AWS::SageMaker::ModelPackageGroup"):
        props = a.props(stack, resource)
        group = props["ModelPackageGroupName"]
        document = props.get("ModelPackageGroupPolicy")
        if not document:
            continue
        readers = sorted(
            {
                principal.split(":")[4]
                for statement in document["Statement"]
                if statement.get("Effect") == "Allow"
                for principal in _listed(statement.get("Principal", {}).get("AWS", []))
            }
        )
        package = a._arn("sagemaker", f"model-package/{group}/1")
        for reader in readers:
            for source in models.get(group, []):
                bucket, key = _split_s3(source)
                default_key = policies.bucket_keys.get(f"arn:aws:s3:::{bucket}", (None, False))[0]
                key_arn = policies.key_arn(default_key)
                grants = {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sagemaker:DescribeModelPackage",
                            "Resource": package,
                        },
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{bucket}/{key}",
                        },
                        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn or "*"},
                    ],
                }
                role = ForeignRole(
                    f"arn:aws:iam::{reader}:role/model-deployer", reader, json.dumps(grants)
                )
                flows.append(
                    Flow(
                        f"account {reader} fetches {group} version 1 ({source})",
                        "registry-reader",
                        [
                            Request(role, "sagemaker:DescribeModelPackage", package),
                            *requests.s3_read(role, source),
                        ],
                    )
                )
    return flows


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def delivery_flows(policies: Policies, requests: Requests) -> list[Flow]:
    """CloudWatch alarms notifying topics, EventBridge rules delivering to their targets
    (topics, queues, functions) and their dead-letter queues, functions' on-failure
    destinations."""
    a = policies.assembly
    flows = []
    for stack, logical_id, resource in a.resources("AWS::CloudWatch::Alarm"):
        props = a.props(stack, resource)
        alarm = a.get_att(stack, logical_id, "Arn")
        actions = [
            *props.get("AlarmActions", []),
            *props.get("OKActions", []),
            *props.get("InsufficientDataActions", []),
        ]
        for action in dict.fromkeys(actions):
            if action.startswith("arn:aws:sns:"):
                cloudwatch = Service("cloudwatch.amazonaws.com", a.account, alarm)
                steps = requests.sns_publish(cloudwatch, action)
            elif action.startswith("arn:aws:lambda:"):
                # Alarms invoke functions as this principal (the function's resource policy).
                cloudwatch = Service("lambda.alarms.cloudwatch.amazonaws.com", a.account, alarm)
                steps = requests.lambda_invoke(cloudwatch, action)
            else:
                continue  # Auto Scaling policies, EC2 actions: no data flow.
            flows.append(Flow(f"alarm {stack}/{logical_id} notifies {action}", "alarm", steps))
    for stack, logical_id, resource in a.resources("AWS::Events::Rule"):
        props = a.props(stack, resource)
        rule = a.get_att(stack, logical_id, "Arn")
        events = Service("events.amazonaws.com", a.account, rule)
        for target in props.get("Targets", []):
            arn = target["Arn"]
            if "RoleArn" in target:
                # EventBridge assumes the target's role and calls the target with it.
                role = _role(policies, target["RoleArn"])
                if arn.startswith("arn:aws:sagemaker:") and ":pipeline/" in arn:
                    steps = [
                        *requests.assume("events.amazonaws.com", role),
                        Request(role, "sagemaker:StartPipelineExecution", arn),
                    ]
                else:
                    raise UnresolvableError(f"rule {logical_id}: no flow for a target like {arn}")
            elif arn.startswith("arn:aws:sns:"):
                steps = requests.sns_publish(events, arn)
            elif arn.startswith("arn:aws:sqs:"):
                steps = requests.sqs_send(events, arn)
            elif arn.startswith("arn:aws:lambda:"):
                steps = requests.lambda_invoke(events, arn)
            else:
                raise UnresolvableError(f"rule {logical_id}: no flow for a target like {arn}")
            flows.append(Flow(f"rule {stack}/{logical_id} delivers to {arn}", "event", steps))
            dead_letter = target.get("DeadLetterConfig", {}).get("Arn")
            if dead_letter:
                flows.append(
                    Flow(
                        f"rule {stack}/{logical_id} dead-letters to {dead_letter}",
                        "event",
                        requests.sqs_send(events, dead_letter),
                    )
                )
    for stack, _, resource in a.resources("AWS::Lambda::EventInvokeConfig"):
        props = a.props(stack, resource)
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if not destination:
            continue
        function_name = props["FunctionName"]
        function = next(
            (s, lid, r)
            for s, lid, r in a.resources("AWS::Lambda::Function")
            if a.ref(s, lid) == function_name
        )
        role = _function_role(policies, function[0], function[2])
        # Lambda sends the failed event with the function's execution role.
        steps = (
            requests.sqs_send(role, destination)
            if ":sqs:" in destination
            else requests.sns_publish(role, destination)
        )
        flows.append(
            Flow(
                f"function {stack}/{function[1]} sends failures to {destination}",
                "dead-letter",
                steps,
            )
        )
    return flows


FLOW_SOURCES = (
    pipeline_flows,
    endpoint_flows,
    deployer_flows,
    remediation_flows,
    retraining_flows,
    monitoring_flows,
    macie_flows,
    delivery_flows,
    registry_reader_flows,
)


def all_flows(policies: Policies) -> list[Flow]:
    """Every run-time flow of the assembly, each listed once."""
    requests = Requests(policies)
    flows: dict[str, Flow] = {}
    for source in FLOW_SOURCES:
        for flow in source(policies, requests):
            flows.setdefault(flow.name, flow)
    return list(flows.values())


# --------------------------------------------------------------------------------------
# Evaluation: one Node process for every request of every flow
# --------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    results: list[FlowResult]
    seconds: float
    requests: int


def evaluate(batches: Mapping[str, tuple[Policies, list[Flow]]]) -> dict[str, Evaluation]:
    """Evaluate the flows of several assemblies (by label) in one simulator run."""
    payload = []
    index: list[tuple[str, int, int]] = []
    for label, (policies, flows) in batches.items():
        for f, flow in enumerate(flows):
            for r, request in enumerate(flow.requests):
                payload.append(
                    {"id": f"{label}:{f}:{r}", "simulation": policies.simulation(request)}
                )
                index.append((label, f, r))
    started = time.perf_counter()
    completed = subprocess.run(
        [str(NODE), str(SIMULATOR)],
        input=json.dumps({"requests": payload}),
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
        timeout=120,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"iam_simulate.mjs failed: {completed.stderr[-4000:]}")
    results = {r["id"]: r for r in json.loads(completed.stdout)["results"]}
    out: dict[str, Evaluation] = {}
    for label, (_, flows) in batches.items():
        flow_results = []
        for f, flow in enumerate(flows):
            decisions = []
            for r, request in enumerate(flow.requests):
                result = results[f"{label}:{f}:{r}"]
                detail: Any = result.get("errors") or result.get("denials") or None
                ignored = [k for k in result.get("ignoredContextKeys", []) if k in request.context]
                if ignored and result["result"] == "Allowed":
                    # A key the flow relies on that the simulator dropped would make the
                    # decision unfounded: report it as a failure, not a pass.
                    decisions.append(Decision(request, "Error", {"ignoredContextKeys": ignored}))
                    continue
                decisions.append(Decision(request, result["result"], detail))
            flow_results.append(FlowResult(flow, decisions))
        out[label] = Evaluation(flow_results, seconds, len(payload))
    return out


def report(results: Iterable[FlowResult]) -> str:
    """The denied flows and, for each, every request that is not allowed and why."""
    lines = []
    for result in results:
        if result.allowed:
            continue
        lines.append(f"- {result.flow.name}")
        lines.extend(f"    {d.describe()}" for d in result.denied)
    return "\n".join(lines)

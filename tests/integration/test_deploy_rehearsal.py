"""Offline deploy rehearsal: every stack of every environment, created, updated, deleted.

What is rehearsed, per environment (dev, staging, prod: each its own account, as in
config/), entirely in moto's in-process AWS (``moto.mock_aws``), no network, no Docker:

1. **Bootstrap**, minimally as ``cdk bootstrap`` would: the SSM parameter
   ``/cdk-bootstrap/hnb659fds/version`` that every template's ``BootstrapVersion`` parameter
   reads and its ``CheckBootstrapVersion`` rule checks, and the file-asset bucket
   ``cdk-hnb659fds-assets-<account>-<region>``.
2. **Publish** each stack's file assets from its ``<artifact>.assets.json`` as the CDK CLI
   does (``packaging: zip`` folders zipped, files as they are, placeholders substituted);
   a container image asset fails the rehearsal (there is no Docker here).
3. **Create** the stacks in the cloud assembly's dependency order, in the environment's
   account and region; cross-stack references are the CDK's weak references
   (``Fn::GetStackOutput``), resolved from the producing stack's outputs, so a reference to
   an output that does not exist fails. Then check the wiring that matters through moto's
   APIs (:func:`wiring_problems`).
4. **Update** every stack with the templates of a second app, synthesized once from a copy
   of the config's context with changed settings (:data:`CHANGES`), and check that the changes
   arrived (:func:`update_problems`).
5. **Delete** the stacks in reverse order (turning termination protection off first where
   the stack has it, as an operator must), and check that what the templates retain
   (``DeletionPolicy: Retain``) is still there and the rest is gone.

Before any template reaches moto it passes the checks CloudFormation makes first (names
that ``Ref``/``Fn::GetAtt``/``Fn::Sub``/``DependsOn`` use exist, the ``Rules`` hold) and an
IAM policy grammar check of every policy document (moto does not validate policies created
through CloudFormation, except identity policies in part).

**Stand-ins.** moto's CloudFormation creates only the types in its model registry; anything
else it skips with a warning, leaving ``Ref`` to it empty. The types it cannot create, asked
of moto itself (``rehearsal.moto_cannot_create``), must be on :data:`STAND_INS` with the
reason; each such resource becomes an ``AWS::SSM::Parameter`` (so ``DependsOn`` and deletion
still work), ``Ref``/``Fn::GetAtt`` to it become realistic values (an ARN, a name or an id of
the real type's shape), and its resolved properties are recorded as a stack output the
checks read. A type moto cannot create that is missing from the list fails the rehearsal.
Custom resources are stood in too: moto would run their provider Lambda, which needs Docker.

**Other moto gaps, made up for and listed the same way** (each list is checked against moto):
:data:`MOTO_ADAPTATIONS` (types moto misreads), :data:`MOTO_REPLACES_ON_UPDATE` (moto does
not update the users of a replaced resource), :data:`MOTO_DELETERS` (types moto does not
delete); types moto cannot update are handed to it as replacements (``rehearsal.py``).
Known deviations the checks account for: moto names SageMaker endpoints itself (it ignores
``EndpointName``; names are compared with the templates' declared names), ignores a log
group's ``KmsKeyId`` and a bucket's ``BucketKeyEnabled`` (not checked), and deletes KMS keys
at once instead of scheduling their deletion.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ENVIRONMENTS, STACKS
from tests.integration.rehearsal import (
    Clients,
    DeployRehearsal,
    MotoAdaptation,
    MotoDeleter,
    RehearsalError,
    StandIn,
    StandInContext,
    bootstrap,
    in_account,
    join,
    moto_cannot_create,
    policy_document_problems,
    stack_artifacts,
)

# --------------------------------------------------------------------------------------
# what moto cannot create, and what stands in for it

NO_MODEL = "moto 5.2.5 has no CloudFormation model for this type"


def _name(prop: str, max_length: int = 255):
    return lambda c: c.prop(prop, max_length)


def _nested_name(prop: str):
    return lambda c: c.properties.get(prop, {}).get("Name") or c.generated_name(255)


def _sagemaker_arn(kind: str, prop: str):
    # SageMaker ARNs carry the resource name in lower case.
    def make(c: StandInContext) -> Any:
        name = c.prop(prop, 63)
        return c.arn("sagemaker", f"{kind}/", name.lower() if isinstance(name, str) else name)

    return make


def _flatten_call(value: Any) -> str:
    """The JSON text of an AwsCustomResource call, intrinsics replaced by a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(p if isinstance(p, str) else "RESOLVED-AT-DEPLOY" for p in parts)
    raise ValueError(f"cannot read the AwsCustomResource call {value!r}")


#: What the AWS calls of the templates' AwsCustomResources answer (the paths they read).
AWS_CALL_RESPONSES: dict[tuple[str, str], Any] = {
    # DescribeRecipe without a version answers with the latest published one; publishing a
    # new recipe makes version 1.0.
    ("DataBrew", "describeRecipe"): lambda c: {"RecipeVersion": "1.0", "Name": "recipe"},
    ("DataBrew", "publishRecipe"): lambda c: {"Name": "recipe"},
    ("Macie2", "createClassificationJob"): lambda c: {
        "jobId": c.hex(32),
        "jobArn": c.arn("macie2", f"classification-job/{c.hex(32)}"),
    },
    # The training pipeline's SDK uploads (Clarify's analysis_config.json...) are written to
    # the exact key its definition names; the physical id is that key.
    ("S3", "putObject"): lambda c: {"ETag": f'"{c.hex(32)}"'},
}


def _aws_call(c: StandInContext) -> tuple[dict[str, Any], dict[str, Any]]:
    call = json.loads(_flatten_call(c.properties.get("Create") or c.properties["Update"]))
    key = (call["service"], call["action"])
    if key not in AWS_CALL_RESPONSES:
        raise ValueError(f"no rehearsed response for AwsCustomResource call {key}")
    return call, AWS_CALL_RESPONSES[key](c)


def _aws_custom_resource_id(c: StandInContext) -> Any:
    call, response = _aws_call(c)
    physical = call.get("physicalResourceId", {})
    if "id" in physical:
        return physical["id"]
    if "responsePath" in physical:
        return response[physical["responsePath"]]
    return c.uuid()


class _AwsCallAttributes(dict):
    """GetAtt of an AwsCustomResource: any field of the call's rehearsed response."""

    def __contains__(self, attribute: object) -> bool:
        return True

    def __getitem__(self, attribute: str):
        return lambda c: _aws_call(c)[1][attribute]


CUSTOM_RESOURCE = (
    "custom resource: moto would invoke its provider Lambda, which moto runs only in Docker"
)

STAND_INS: dict[str, StandIn] = {
    "AWS::ApplicationAutoScaling::ScalableTarget": StandIn(
        reason=f"{NO_MODEL} (moto has the Application Auto Scaling API only)",
        ref=lambda c: join(
            c.prop("ResourceId"), "|", c.prop("ScalableDimension"), "|", c.prop("ServiceNamespace")
        ),
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": StandIn(
        reason=f"{NO_MODEL} (moto has the Application Auto Scaling API only)",
        ref=lambda c: c.arn(
            "autoscaling",
            f"scalingPolicy:{c.uuid()}:resource/",
            c.prop("ServiceNamespace"),
            "/",
            c.properties.get("ResourceId") or c.generated_name(),
            ":policyName/",
            c.prop("PolicyName"),
        ),
        attributes={
            "Arn": lambda c: STAND_INS["AWS::ApplicationAutoScaling::ScalingPolicy"].ref(c)
        },
    ),
    "AWS::CloudWatch::Alarm": StandIn(
        reason=f"{NO_MODEL} (moto has alarms through the CloudWatch API only)",
        ref=_name("AlarmName"),
        attributes={"Arn": lambda c: c.arn("cloudwatch", "alarm:", c.prop("AlarmName"))},
    ),
    **{
        f"AWS::DataBrew::{kind}": StandIn(reason=NO_MODEL, ref=_name("Name"))
        for kind in ("Dataset", "Job", "Recipe", "Ruleset", "Schedule")
    },
    "AWS::EC2::SecurityGroupEgress": StandIn(
        reason=f"{NO_MODEL} (moto models SecurityGroupIngress, not the separate egress rule)",
        ref=lambda c: f"sgr-{c.hex(17)}",
        attributes={"Id": lambda c: f"sgr-{c.hex(17)}"},
    ),
    "AWS::Glue::Connection": StandIn(reason=NO_MODEL, ref=_nested_name("ConnectionInput")),
    "AWS::Glue::Database": StandIn(reason=NO_MODEL, ref=_nested_name("DatabaseInput")),
    "AWS::Glue::Table": StandIn(reason=NO_MODEL, ref=_nested_name("TableInput")),
    **{
        f"AWS::Glue::{kind}": StandIn(reason=NO_MODEL, ref=_name("Name"))
        for kind in ("Crawler", "Job", "SecurityConfiguration", "Trigger", "Workflow")
    },
    "AWS::Glue::MLTransform": StandIn(reason=NO_MODEL, ref=lambda c: f"tfm-{c.hex(32)}"),
    "AWS::Lambda::EventInvokeConfig": StandIn(reason=NO_MODEL, ref=lambda c: c.uuid()),
    "AWS::Macie::AllowList": StandIn(
        reason=f"{NO_MODEL} (moto's Macie backend has no CloudFormation support)",
        ref=lambda c: c.hex(22),
        attributes={
            "Id": lambda c: c.hex(22),
            "Arn": lambda c: c.arn("macie2", f"allow-list/{c.hex(22)}"),
            "Status": lambda c: "OK",
        },
    ),
    "AWS::Macie::CustomDataIdentifier": StandIn(
        reason=f"{NO_MODEL} (moto's Macie backend has no CloudFormation support)",
        ref=lambda c: c.uuid(),
        attributes={
            "Id": lambda c: c.uuid(),
            "Arn": lambda c: c.arn("macie2", f"custom-data-identifier/{c.uuid()}"),
        },
    ),
    "AWS::Macie::Session": StandIn(
        reason=f"{NO_MODEL} (moto's Macie backend has no CloudFormation support)",
        ref=lambda c: c.account,
        attributes={
            "AwsAccountId": lambda c: c.account,
            "ServiceRole": lambda c: (
                f"arn:{c.partition}:iam::{c.account}:role/aws-service-role/"
                "macie.amazonaws.com/AWSServiceRoleForAmazonMacie"
            ),
        },
    ),
    "AWS::S3::BucketPolicy": StandIn(
        reason=f"{NO_MODEL}; its policy is grammar-checked and its bucket checked to exist",
        ref=lambda c: c.properties["Bucket"],
    ),
    "AWS::SNS::TopicPolicy": StandIn(
        reason=f"{NO_MODEL}; its policy is grammar-checked and its topics checked to exist",
        ref=lambda c: c.generated_name(),
    ),
    "AWS::SQS::QueuePolicy": StandIn(
        reason=f"{NO_MODEL}; its policy is grammar-checked and its queues checked to exist",
        ref=lambda c: c.generated_name(),
    ),
    **{
        f"AWS::SageMaker::{kind}JobDefinition": StandIn(
            reason=NO_MODEL,
            ref=_sagemaker_arn(f"{slug}-job-definition", "JobDefinitionName"),
            attributes={
                "JobDefinitionArn": _sagemaker_arn(f"{slug}-job-definition", "JobDefinitionName"),
                "CreationTime": lambda c: "2026-01-01T00:00:00Z",
            },
        )
        for kind, slug in (
            ("DataQuality", "data-quality"),
            ("ModelQuality", "model-quality"),
            ("ModelBias", "model-bias"),
            ("ModelExplainability", "model-explainability"),
        )
    },
    "AWS::SageMaker::MonitoringSchedule": StandIn(
        reason=NO_MODEL,
        ref=_sagemaker_arn("monitoring-schedule", "MonitoringScheduleName"),
        attributes={
            "MonitoringScheduleArn": _sagemaker_arn(
                "monitoring-schedule", "MonitoringScheduleName"
            ),
            "CreationTime": lambda c: "2026-01-01T00:00:00Z",
            "LastModifiedTime": lambda c: "2026-01-01T00:00:00Z",
        },
    ),
    "AWS::SageMaker::ModelPackageGroup": StandIn(
        reason=NO_MODEL,
        ref=_sagemaker_arn("model-package-group", "ModelPackageGroupName"),
        attributes={
            "ModelPackageGroupArn": _sagemaker_arn("model-package-group", "ModelPackageGroupName"),
            "ModelPackageGroupStatus": lambda c: "Completed",
            "CreationTime": lambda c: "2026-01-01T00:00:00Z",
        },
    ),
    "AWS::SageMaker::Pipeline": StandIn(reason=NO_MODEL, ref=_name("PipelineName")),
    "AWS::Scheduler::Schedule": StandIn(
        reason=NO_MODEL,
        # Ref is the schedule's name (at most 64 characters); in the default group.
        ref=_name("Name", 64),
        attributes={"Arn": lambda c: c.arn("scheduler", "schedule/default/", c.prop("Name", 64))},
    ),
    "AWS::SecretsManager::Secret": StandIn(
        reason=f"{NO_MODEL} (moto has secrets through the Secrets Manager API only)",
        ref=lambda c: c.arn("secretsmanager", "secret:", c.prop("Name"), f"-{c.hex(6)}"),
        attributes={
            "Id": lambda c: c.arn("secretsmanager", "secret:", c.prop("Name"), f"-{c.hex(6)}")
        },
    ),
    "Custom::AWS": StandIn(
        reason=f"{CUSTOM_RESOURCE}; values: the AWS call's rehearsed answer (AWS_CALL_RESPONSES)",
        ref=_aws_custom_resource_id,
        attributes=_AwsCallAttributes(),
    ),
    "Custom::S3AutoDeleteObjects": StandIn(reason=CUSTOM_RESOURCE, ref=lambda c: c.uuid()),
    "Custom::VpcRestrictDefaultSG": StandIn(reason=CUSTOM_RESOURCE, ref=lambda c: c.uuid()),
}


def _kms_key_for_moto(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        **properties,
        "KeyPolicy": {"Fn::ToJsonString": properties["KeyPolicy"]},
        "Tags": [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])],
    }


#: Types moto creates but misreads; each is respelled (equivalently) before moto sees it.
MOTO_ADAPTATIONS: dict[str, MotoAdaptation] = {
    "AWS::KMS::Key": MotoAdaptation(
        reason=(
            "moto passes the key's CloudFormation Tags ({Key, Value}) to its tagger, which "
            "wants {TagKey, TagValue} (KeyError), and stores KeyPolicy as given instead of "
            "as the JSON text the KMS API returns"
        ),
        adapt=_kms_key_for_moto,
    ),
}

#: Types whose moto update replaces the resource (new name) without updating its users.
MOTO_REPLACES_ON_UPDATE: dict[str, str] = {
    "AWS::SageMaker::EndpointConfig": (
        "an endpoint config is immutable, so a change replaces it (a new name); CloudFormation "
        "then updates the endpoint to the new config, moto leaves the endpoint on the deleted one"
    ),
    "AWS::SageMaker::Model": (
        "a model is immutable, so a change replaces it; CloudFormation then updates the endpoint "
        "config that names it, moto does not"
    ),
}


def _ec2(clients: Clients, region: str) -> Any:
    return clients("ec2", region)


def _delete_managed_policy(clients: Clients, region: str, arn: str) -> None:
    iam = clients("iam", region)
    for role in iam.list_entities_for_policy(PolicyArn=arn)["PolicyRoles"]:
        iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)


def _disassociate(clients: Clients, region: str, physical_id: str) -> None:
    ec2 = _ec2(clients, region)
    if physical_id.startswith("rtbassoc-"):
        ec2.disassociate_route_table(AssociationId=physical_id)
        return
    for table in ec2.describe_route_tables(RouteTableIds=[physical_id])["RouteTables"]:
        for association in table.get("Associations", []):
            if not association.get("Main"):
                ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])


MOTO_LEAVES = "moto's CloudFormation has no delete for this type"

#: Types moto's CloudFormation does not delete, deleted through the API instead, in this
#: order (associations before route tables). A type moto leaves behind that is missing here
#: fails the rehearsal.
MOTO_DELETERS: dict[str, MotoDeleter] = {
    "AWS::EC2::FlowLog": MotoDeleter(
        MOTO_LEAVES, lambda c, r, i: _ec2(c, r).delete_flow_logs(FlowLogIds=[i])
    ),
    "AWS::EC2::VPCEndpoint": MotoDeleter(
        f"{MOTO_LEAVES}; a VPC endpoint left behind keeps the VPC from being deleted",
        lambda c, r, i: _ec2(c, r).delete_vpc_endpoints(VpcEndpointIds=[i]),
    ),
    "AWS::EC2::SubnetRouteTableAssociation": MotoDeleter(
        f"{MOTO_LEAVES} (and moto gives the route table's id as its physical id)",
        _disassociate,
    ),
    "AWS::EC2::RouteTable": MotoDeleter(
        MOTO_LEAVES, lambda c, r, i: _ec2(c, r).delete_route_table(RouteTableId=i)
    ),
    "AWS::EC2::SecurityGroupIngress": MotoDeleter(
        f"{MOTO_LEAVES}; the rule goes with its security group, which moto deletes",
        lambda c, r, i: None,
    ),
    "AWS::IAM::ManagedPolicy": MotoDeleter(
        f"{MOTO_LEAVES}; detached from its roles and deleted", _delete_managed_policy
    ),
    "AWS::Lambda::Permission": MotoDeleter(
        f"{MOTO_LEAVES}; the statement goes with the function's policy, which moto deletes",
        lambda c, r, i: None,
    ),
}

#: Settings the update step changes, per environment (paths into the environment's config).
#: Both land on resources moto creates: the flow log group's retention (a type moto cannot
#: update, so it is replaced) and the Serving endpoint config's capture percentage (an
#: immutable config, replaced, whose endpoint must follow it).
CHANGES: dict[str, dict[str, Any]] = {
    "dev": {"network.flow_log_retention_days": 60, "serving.capture_percentage": 35},
    "staging": {"network.flow_log_retention_days": 400, "serving.capture_percentage": 40},
    "prod": {"network.flow_log_retention_days": 1096, "serving.capture_percentage": 15},
}


def changed_context(base_context: dict[str, Any]) -> dict[str, Any]:
    context = copy.deepcopy(base_context)
    for env, changes in CHANGES.items():
        config = context["mlops:environments"][env]
        for dotted, value in changes.items():
            *parents, leaf = dotted.split(".")
            node = config
            for parent in parents:
                node = node[parent]
            assert node[leaf] != value, f"{env}.{dotted} is already {value}: change CHANGES"
            node[leaf] = value
    return context


# --------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def changed_app(base_context, tmp_path_factory):
    """The second app, synthesized once from the config's context with :data:`CHANGES`."""
    from stacks.app_factory import create_app

    outdir = tmp_path_factory.mktemp("cdk.out.changed")
    app, config = create_app(changed_context(base_context), outdir=str(outdir))
    app.synth()
    return outdir, config


def models_of_named_variants(validate: Any) -> Any:
    """moto's check that every production variant's model exists (``validate``), for the
    variants that name one. moto requires ``ModelName`` in every variant (KeyError
    otherwise); a variant of an endpoint for inference components names none: its
    configuration has an ``ExecutionRoleArn`` instead, and the components name their models
    (SageMaker API Reference: ``ProductionVariant.ModelName`` is not required;
    ``CreateEndpointConfig``, ``ExecutionRoleArn``). :func:`wiring_problems` checks such a
    configuration's role."""

    def check(backend: Any, production_variants: list[dict[str, Any]]) -> None:
        validate(backend, [v for v in production_variants if "ModelName" in v])

    return check


@pytest.fixture
def aws(monkeypatch, boto3_session) -> Iterator[Clients]:
    """moto's in-process AWS, and boto3 clients into it."""
    import boto3
    from moto import mock_aws
    from moto.cloudformation.models import Stack
    from moto.sagemaker.models import SageMakerModelBackend

    yaml_first = Stack.parse_template

    def json_first(template: str) -> dict[str, Any]:
        try:
            return dict(json.loads(template))
        except ValueError:
            return yaml_first(template)

    # The synthesized templates are JSON, which CloudFormation reads as JSON; moto reads
    # every template with PyYAML's pure-Python loader first (seconds per test).
    monkeypatch.setattr(Stack, "parse_template", staticmethod(json_first))
    monkeypatch.setattr(
        SageMakerModelBackend,
        "validate_production_variants",
        models_of_named_variants(SageMakerModelBackend.validate_production_variants),
    )
    with mock_aws():
        # One session for every test's clients: the service models are parsed once.
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3_session)
        yield Clients()


def new_rehearsal(clients: Clients) -> DeployRehearsal:
    return DeployRehearsal(
        clients, STAND_INS, MOTO_ADAPTATIONS, MOTO_REPLACES_ON_UPDATE, MOTO_DELETERS
    )


# --------------------------------------------------------------------------------------
# checks through moto's APIs


class Environment:
    """Lookups across the deployed stacks of one environment (one account and region)."""

    def __init__(self, rehearsal: DeployRehearsal, account: str, region: str) -> None:
        self.rehearsal = rehearsal
        self.account = account
        self.region = region

    def client(self, service: str) -> Any:
        return self.rehearsal.clients(service, self.region)

    def resources(self, resource_type: str) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(stack, logical id, physical id, prepared resource) of one type, all stacks."""
        found = []
        for stack_name, deployed in self.rehearsal.deployed.items():
            physical = self.rehearsal.physical_ids(stack_name)
            for logical_id, resource in deployed.template["Resources"].items():
                if resource["Type"] == resource_type and logical_id in physical:
                    prepared = deployed.prepared["Resources"][logical_id]
                    found.append((stack_name, logical_id, physical[logical_id][1], prepared))
        return found

    def stand_ins(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        """(Ref value, recorded properties) of every stand-in of a type, all stacks."""
        ssm = self.client("ssm")
        found = []
        for stack_name, deployed in self.rehearsal.deployed.items():
            records = self.rehearsal.recorded_stand_ins(stack_name)
            for logical_id, kind in deployed.stand_ins.items():
                if kind != resource_type:
                    continue
                name = f"/rehearsal/stand-in/{stack_name}/{logical_id}"
                value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
                found.append((value, records[logical_id]["Properties"]))
        return found

    def key_arn(self, stack: str, expression: Any) -> str:
        """The ARN of the KMS key a prepared template names (a literal or Fn::GetAtt)."""
        if isinstance(expression, dict) and "Fn::GetAtt" in expression:
            key_id = self.rehearsal.physical_ids(stack)[expression["Fn::GetAtt"][0]][1]
            expression = self.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        assert isinstance(expression, str), expression
        return expression

    def key_aliases(self, key_arn: str) -> list[str]:
        kms = self.client("kms")
        key_id = kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyId"]
        return [
            alias["AliasName"]
            for alias in kms.list_aliases(KeyId=key_id)["Aliases"]
            if alias.get("TargetKeyId") == key_id
        ]

    def bucket_exists(self, name: str) -> bool:
        try:
            self.client("s3").head_bucket(Bucket=name)
        except Exception:
            return False
        return True

    def exists(self, arn: str) -> bool:
        """Whether the resource an ARN names exists, in moto or as a stand-in."""
        service, resource = arn.split(":")[2], arn.split(":", 5)[5]
        try:
            if service == "lambda":
                self.client("lambda").get_function(FunctionName=arn)
            elif service == "sns":
                self.client("sns").get_topic_attributes(TopicArn=arn)
            elif service == "sqs":
                self.client("sqs").get_queue_url(QueueName=resource)
            elif service == "kms":
                self.client("kms").describe_key(KeyId=arn)
            elif service == "s3":
                return self.bucket_exists(resource.split("/", 1)[0])
            elif service == "iam":
                self.client("iam").get_role(RoleName=resource.rsplit("/", 1)[1])
            elif service == "sagemaker" and resource.startswith("pipeline/"):
                names = [
                    props["PipelineName"] for _, props in self.stand_ins("AWS::SageMaker::Pipeline")
                ]
                return resource.split("/", 1)[1] in names
            elif service == "sagemaker" and resource.startswith("model-package/"):
                # A version's ARN, or the group's prefix of them (the monitoring launcher's
                # PACKAGE_ARN_PREFIX): its group must exist.
                groups = [
                    props["ModelPackageGroupName"]
                    for _, props in self.stand_ins("AWS::SageMaker::ModelPackageGroup")
                ]
                return resource.split("/")[1] in groups
            else:
                raise AssertionError(f"no existence check for {arn}")
        except AssertionError:
            raise
        except Exception:
            return False
        return True


def sagemaker_name(physical_id: str) -> str:
    """moto gives SageMaker resources their ARN as physical id; the APIs take the name."""
    return physical_id.rsplit("/", 1)[-1] if physical_id.startswith("arn:") else physical_id


def _values_of(node: Any, key: str) -> list[Any]:
    """Every value of ``key`` anywhere in a nested structure."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            found += [v] if k == key else _values_of(v, key)
    elif isinstance(node, list):
        for item in node:
            found += _values_of(item, key)
    return found


def _statements(policy: Any) -> list[dict[str, Any]]:
    policy = json.loads(policy) if isinstance(policy, str) else policy
    statements = policy["Statement"]
    return [statements] if isinstance(statements, dict) else statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allows_service(policy: Any, service: str, action_prefix: str) -> bool:
    for statement in _statements(policy):
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        actions = _as_list(statement.get("Action", []))
        if (
            statement.get("Effect") == "Allow"
            and service in services
            and any(a == "*" or a.startswith(action_prefix) for a in actions)
        ):
            return True
    return False


def wiring_problems(env: Environment, config: Any) -> list[str]:
    """The wiring that matters, checked through moto's APIs after the stacks are created.

    * every bucket whose template names a KMS key is encrypted with that key (moto's
      GetBucketEncryption against the template's value), the key exists, and lake zone
      buckets use the data-lake key, the artifacts bucket the ml-artifacts key;
    * every Lambda environment variable naming buckets names buckets that exist, and every
      variable holding an ARN names a resource that exists;
    * every EventBridge rule target exists (Lambda function, SNS topic, SQS queue, or a
      SageMaker pipeline stand-in); a Lambda target lets events.amazonaws.com invoke it for
      that rule; an SNS target's topic policy (stand-in record) lets EventBridge publish and
      its KMS key policy lets EventBridge use the key; a pipeline target has a role;
    * every encrypted log group's key lets CloudWatch Logs use it;
    * every event pattern names buckets that exist (and, for S3 events, send events to
      EventBridge), and alarms, monitoring schedules and model package groups that exist;
    * every SageMaker endpoint is InService with the endpoint config its template names, that
      config captures the configured percentage with the artifacts key, and its models exist;
    * Model Monitor job definitions and schedules, and endpoint alarms, name endpoints the
      templates declare, and schedules run job definitions that exist;
    * every asset-bucket object a stood-in resource reads (Glue scripts, pipeline steps) was
      published;
    * the bucket, topic and queue policies (stand-ins) are attached to resources that exist.

    Checks of stand-ins read the properties they recorded (resolved by moto) and their Ref
    values; everything else is read from moto's own resources.
    """
    problems: list[str] = []
    s3 = env.client("s3")
    kms = env.client("kms")
    # buckets and keys
    for stack, logical_id, bucket, resource in env.resources("AWS::S3::Bucket"):
        rules = (
            resource["Properties"]
            .get("BucketEncryption", {})
            .get("ServerSideEncryptionConfiguration", [])
        )
        wanted = [r["ServerSideEncryptionByDefault"].get("KMSMasterKeyID") for r in rules]
        wanted = [w for w in wanted if w]
        if not wanted:
            continue
        expected = env.key_arn(stack, wanted[0])
        actual = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]["ApplyServerSideEncryptionByDefault"]
        if actual.get("KMSMasterKeyID") != expected or actual.get("SSEAlgorithm") != "aws:kms":
            problems.append(
                f"{stack}/{logical_id}: encrypted with {actual}, template says {expected}"
            )
            continue
        aliases = env.key_aliases(expected)
        purpose = None
        if re.match(r"DataLake(Raw|Curated|Analytics|[A-Z][a-z]+)Bucket", logical_id) and not (
            logical_id.startswith("DataLakeAccessLogs")
        ):
            purpose = "data-lake"
        elif logical_id.startswith("ArtifactsBucket"):
            purpose = "ml-artifacts"
        if purpose and not any(alias.endswith(f"/{purpose}") for alias in aliases):
            problems.append(
                f"{stack}/{logical_id}: key {expected} is not the {purpose} key ({aliases})"
            )
    # encrypted log groups: CloudWatch Logs may use the key (else creating the group fails;
    # moto ignores the group's KmsKeyId, so the template's key is checked)
    logs_service = f"logs.{env.region}.amazonaws.com"
    for stack, logical_id, _, resource in env.resources("AWS::Logs::LogGroup"):
        if "KmsKeyId" not in resource["Properties"]:
            continue
        key_arn = env.key_arn(stack, resource["Properties"]["KmsKeyId"])
        key_policy = kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]
        if not _allows_service(key_policy, logs_service, "kms:"):
            problems.append(
                f"{stack}/{logical_id}: key {key_arn} does not let {logs_service} use it"
            )
    # Lambda environment variables
    lam = env.client("lambda")
    for stack, logical_id, function, _ in env.resources("AWS::Lambda::Function"):
        variables = lam.get_function_configuration(FunctionName=function).get("Environment", {})
        for name, value in variables.get("Variables", {}).items():
            if "BUCKET" in name:
                for bucket in filter(None, value.split(",")):
                    if not env.bucket_exists(bucket):
                        problems.append(
                            f"{stack}/{logical_id}: {name} names missing bucket {bucket!r}"
                        )
            elif value.startswith("arn:") and not env.exists(value):
                problems.append(f"{stack}/{logical_id}: {name} names missing {value}")
    # EventBridge rules
    events = env.client("events")
    recorded_topic_policies = env.stand_ins("AWS::SNS::TopicPolicy")
    for stack, logical_id, rule_name, _ in env.resources("AWS::Events::Rule"):
        rule_arn = events.describe_rule(Name=rule_name)["Arn"]
        for target in events.list_targets_by_rule(Rule=rule_name)["Targets"]:
            arn = target["Arn"]
            where = f"{stack}/{logical_id} target {arn}"
            if not env.exists(arn):
                problems.append(f"{where}: does not exist")
                continue
            service = arn.split(":")[2]
            if service == "lambda":
                try:
                    policy = json.loads(lam.get_policy(FunctionName=arn)["Policy"])
                except lam.exceptions.ResourceNotFoundException:
                    policy = {"Statement": []}  # a function nobody may invoke has no policy
                if not any(
                    s.get("Principal", {}).get("Service") == "events.amazonaws.com"
                    and s.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn") == rule_arn
                    for s in policy["Statement"]
                ):
                    problems.append(
                        f"{where}: no permission for events.amazonaws.com from {rule_arn}"
                    )
            elif service == "sns":
                topic_policies = [
                    p for _, p in recorded_topic_policies if arn in p.get("Topics", [])
                ]
                if not any(
                    _allows_service(p["PolicyDocument"], "events.amazonaws.com", "sns:Publish")
                    for p in topic_policies
                ):
                    problems.append(f"{where}: the topic policy does not let EventBridge publish")
                key = (
                    env.client("sns")
                    .get_topic_attributes(TopicArn=arn)["Attributes"]
                    .get("KmsMasterKeyId")
                )
                if key:
                    key_policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
                    if not _allows_service(key_policy, "events.amazonaws.com", "kms:"):
                        problems.append(
                            f"{where}: the topic's KMS key {key} does not let EventBridge use it, "
                            "so EventBridge cannot publish to the encrypted topic"
                        )
            elif service == "sagemaker" and not (
                target.get("RoleArn") and env.exists(target["RoleArn"])
            ):
                problems.append(f"{where}: a pipeline target needs an existing role")
    # event patterns name things that exist: buckets (S3 sends them events only with
    # EventBridge notifications on; moto ignores that setting, so the template is read),
    # alarms, monitoring schedules and model package groups (stand-ins)
    buckets = {name: resource for _, _, name, resource in env.resources("AWS::S3::Bucket")}
    alarm_arns = {
        f"arn:aws:cloudwatch:{env.region}:{env.account}:alarm:{name}"
        for name, _ in env.stand_ins("AWS::CloudWatch::Alarm")
    }
    schedule_arns = {arn for arn, _ in env.stand_ins("AWS::SageMaker::MonitoringSchedule")}
    groups = {
        props["ModelPackageGroupName"]
        for _, props in env.stand_ins("AWS::SageMaker::ModelPackageGroup")
    }
    glue_jobs = {name for name, _ in env.stand_ins("AWS::Glue::Job")}
    for stack, logical_id, rule_name, _ in env.resources("AWS::Events::Rule"):
        pattern = json.loads(events.describe_rule(Name=rule_name).get("EventPattern") or "{}")
        where = f"{stack}/{logical_id} pattern"
        source = pattern.get("source", [])
        named = [
            name
            for match in _values_of(pattern, "bucket") + _values_of(pattern, "s3Bucket")
            for name in match.get("name", [])
        ]
        for name in named:
            if name not in buckets:
                problems.append(f"{where}: bucket {name!r} does not exist")
            elif source == ["aws.s3"] and not (
                buckets[name]["Properties"]
                .get("NotificationConfiguration", {})
                .get("EventBridgeConfiguration", {})
                .get("EventBridgeEnabled")
            ):
                problems.append(f"{where}: bucket {name!r} does not send events to EventBridge")
        if source == ["aws.glue"]:
            # a Glue job state change (the training pipeline's new-data start) names a job
            problems += [
                f"{where}: Glue job {job!r} does not exist"
                for job in pattern.get("detail", {}).get("jobName", [])
                if job not in glue_jobs
            ]
        if source == ["aws.cloudwatch"]:
            problems += [
                f"{where}: alarm {arn} does not exist"
                for arn in pattern.get("resources", [])
                if arn not in alarm_arns
            ]
        problems += [
            f"{where}: monitoring schedule {arn} does not exist"
            for values in _values_of(pattern, "MonitoringScheduleArn")
            for arn in values
            if arn not in schedule_arns
        ]
        problems += [
            f"{where}: model package group {group!r} does not exist"
            for values in _values_of(pattern, "ModelPackageGroupName")
            for group in values
            if group not in groups
        ]
    # SageMaker endpoints
    sagemaker = env.client("sagemaker")
    captures: dict[str, list[int]] = {"Serving": [], "Monitoring": []}
    component_endpoints = 0
    for stack, logical_id, endpoint_name, resource in env.resources("AWS::SageMaker::Endpoint"):
        endpoint = sagemaker.describe_endpoint(EndpointName=sagemaker_name(endpoint_name))
        config_logical_id = resource["Properties"]["EndpointConfigName"]["Fn::GetAtt"][0]
        expected_config = sagemaker_name(env.rehearsal.physical_ids(stack)[config_logical_id][1])
        if endpoint["EndpointStatus"] != "InService":
            problems.append(f"{stack}/{logical_id}: {endpoint['EndpointStatus']}")
        if endpoint["EndpointConfigName"] != expected_config:
            problems.append(
                f"{stack}/{logical_id}: config {endpoint['EndpointConfigName']}, "
                f"template says {expected_config}"
            )
            continue
        endpoint_config = sagemaker.describe_endpoint_config(EndpointConfigName=expected_config)
        capture = endpoint_config.get("DataCaptureConfig", {})
        captures[stack.split("-", 1)[1]].append(capture.get("InitialSamplingPercentage"))
        capture_key = capture.get("KmsKeyId", "")
        if not capture_key or not any(
            a.endswith("/ml-artifacts") for a in env.key_aliases(capture_key)
        ):
            problems.append(
                f"{stack}/{logical_id}: data capture key {capture_key!r} is not ml-artifacts"
            )
        destination = capture.get("DestinationS3Uri", "")
        if not env.bucket_exists(destination.removeprefix("s3://").split("/", 1)[0]):
            problems.append(f"{stack}/{logical_id}: data capture to missing bucket {destination}")
        variants = endpoint_config["ProductionVariants"]
        for variant in variants:
            if "ModelName" not in variant:
                continue  # an inference-component endpoint's: checked below
            try:
                sagemaker.describe_model(ModelName=variant["ModelName"])
            except Exception:
                problems.append(
                    f"{stack}/{logical_id}: variant model {variant['ModelName']} missing"
                )
        config_resource = env.rehearsal.deployed[stack].prepared["Resources"][config_logical_id]
        if stack.endswith("-Serving") and not all("ModelName" in v for v in variants):
            component_endpoints += 1
        problems += component_endpoint_problems(
            env, f"{stack}/{logical_id}", config_resource["Properties"], variants, resource
        )
        if stack.endswith("-Serving") and config.serving is not None:
            problems += variant_problems(f"{stack}/{logical_id}", variants, config.serving)
    hosting = getattr(config.serving, "hosting", None)
    if (hosting == "inference-components") != (component_endpoints == 1):
        problems.append(
            f"{component_endpoints} Serving endpoints for inference components, hosting {hosting}"
        )
    if config.serving is not None and captures["Serving"] != [config.serving.capture_percentage]:
        problems.append(
            f"Serving endpoint captures {captures['Serving']}%, "
            f"config says {config.serving.capture_percentage}"
        )
    # Only dedicated endpoints live in Monitoring (the engine watches the Serving one).
    expected_monitoring = sorted(
        m.capture_percentage for m in config.monitoring if m.endpoint == "dedicated"
    )
    if sorted(captures["Monitoring"]) != expected_monitoring:
        problems.append(
            f"Monitoring endpoints capture {captures['Monitoring']}%, "
            f"config says {expected_monitoring}"
        )
    # Model Monitor: schedules run job definitions that exist, against endpoints that exist;
    # endpoint alarms watch endpoints that exist. moto ignores an endpoint's EndpointName
    # property (it names endpoints itself), so names are compared with the names the
    # templates declare for the endpoints moto created.
    declared_endpoints = {
        resource["Properties"].get("EndpointName")
        for _, _, _, resource in env.resources("AWS::SageMaker::Endpoint")
    }
    job_definitions = {
        ref.rsplit("/", 1)[1]: props
        for kind in ("DataQuality", "ModelQuality", "ModelBias", "ModelExplainability")
        for ref, props in env.stand_ins(f"AWS::SageMaker::{kind}JobDefinition")
    }
    for name, props in job_definitions.items():
        for endpoint in _values_of(props, "EndpointName"):
            if endpoint not in declared_endpoints:
                problems.append(f"job definition {name} monitors unknown endpoint {endpoint!r}")
    for _, props in env.stand_ins("AWS::SageMaker::MonitoringSchedule"):
        schedule = props["MonitoringScheduleName"]
        job = props["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName")
        if job not in job_definitions:
            problems.append(f"schedule {schedule} runs unknown job definition {job!r}")
        if props.get("EndpointName") not in declared_endpoints:
            problems.append(
                f"schedule {schedule} watches unknown endpoint {props.get('EndpointName')!r}"
            )
    for _, props in env.stand_ins("AWS::CloudWatch::Alarm"):
        for dimension in props.get("Dimensions", []):
            if dimension["Name"] == "EndpointName" and dimension["Value"] not in declared_endpoints:
                problems.append(
                    f"alarm {props.get('AlarmDescription')!r} watches unknown endpoint "
                    f"{dimension['Value']!r}"
                )
    # files the stood-in resources read from the asset bucket (Glue scripts, pipeline steps)
    asset_bucket = f"cdk-hnb659fds-assets-{env.account}-{env.region}"
    recorded = json.dumps(
        [env.rehearsal.recorded_stand_ins(name) for name in env.rehearsal.deployed]
    ).replace("\\", "")
    for key in sorted(set(re.findall(rf"s3://{asset_bucket}/([A-Za-z0-9._/-]+)", recorded))):
        try:
            s3.head_object(Bucket=asset_bucket, Key=key)
        except Exception:
            problems.append(f"s3://{asset_bucket}/{key} is used but was not published")
    # resource policies (stand-ins) on resources that exist
    for _, props in env.stand_ins("AWS::S3::BucketPolicy"):
        if not env.bucket_exists(props["Bucket"]):
            problems.append(f"bucket policy for missing bucket {props['Bucket']}")
    for _, props in recorded_topic_policies:
        problems += [
            f"topic policy for missing topic {t}" for t in props["Topics"] if not env.exists(t)
        ]
    sqs = env.client("sqs")
    for _, props in env.stand_ins("AWS::SQS::QueuePolicy"):
        for queue_url in props["Queues"]:
            try:
                sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
            except Exception:
                problems.append(f"queue policy for missing queue {queue_url}")
    return problems


def component_endpoint_problems(
    env: Environment,
    where: str,
    config_properties: dict[str, Any],
    variants: list[dict[str, Any]],
    endpoint: dict[str, Any],
) -> list[str]:
    """An endpoint config whose variants name no model (inference components) has an
    execution role that exists and that SageMaker may assume, and the approved-model
    deployer that makes its components names this endpoint, one of its variants and that
    role (moto ignores a config's ``ExecutionRoleArn``: it is read from the template)."""
    if all("ModelName" in v for v in variants):
        return []
    role_expression = config_properties.get("ExecutionRoleArn")
    if not (isinstance(role_expression, dict) and "Fn::GetAtt" in role_expression):
        return [f"{where}: variants without a model but no ExecutionRoleArn of the stack"]
    stack = where.split("/", 1)[0]
    role_name = env.rehearsal.physical_ids(stack)[role_expression["Fn::GetAtt"][0]][1]
    try:
        role = env.client("iam").get_role(RoleName=role_name)["Role"]
    except Exception:
        return [f"{where}: execution role {role_name} missing"]
    problems = []
    if not _allows_service(role["AssumeRolePolicyDocument"], "sagemaker.amazonaws.com", "sts:"):
        problems.append(f"{where}: SageMaker may not assume the execution role {role_name}")
    deployers = [
        variables
        for _, _, name, _ in env.resources("AWS::Lambda::Function")
        for variables in [
            env.client("lambda")
            .get_function_configuration(FunctionName=name)
            .get("Environment", {})
            .get("Variables", {})
        ]
        if variables.get("HOSTING") == "inference-components"
        and variables.get("ENDPOINT_NAME") == endpoint["Properties"].get("EndpointName")
    ]
    if len(deployers) != 1:
        return [*problems, f"{where}: {len(deployers)} deployers of its components, not 1"]
    (variables,) = deployers
    if variables.get("EXECUTION_ROLE_ARN") != role["Arn"]:
        problems.append(
            f"{where}: the deployer passes {variables.get('EXECUTION_ROLE_ARN')}, not the "
            f"endpoint's execution role {role['Arn']}"
        )
    if variables.get("VARIANT_NAME") not in {v["VariantName"] for v in variants}:
        problems.append(f"{where}: the deployer's VARIANT_NAME is not a variant of the endpoint")
    components = json.loads(variables.get("COMPONENTS", "{}"))
    if not components or set(components) != set(variables["MODEL_PACKAGE_GROUPS"].split(",")):
        problems.append(f"{where}: COMPONENTS {sorted(components)} are not the deployer's groups")
    vpc = json.loads(variables.get("VPC_CONFIG", "{}"))
    ec2 = env.client("ec2")
    try:
        ec2.describe_subnets(SubnetIds=vpc["Subnets"])
        ec2.describe_security_groups(GroupIds=vpc["SecurityGroupIds"])
    except Exception as error:
        problems.append(f"{where}: the deployer's VPC_CONFIG names what does not exist: {error}")
    return problems


def variant_problems(where: str, variants: list[dict[str, Any]], serving: Any) -> list[str]:
    """The Serving endpoint's production variants are the configured ones: the champion and,
    with an A/B test, every challenger with its configured weight."""
    ab_test = getattr(serving, "ab_test", None)
    names = [v["VariantName"] for v in variants]
    if ab_test is None:
        return [] if names == ["AllTraffic"] else [f"{where}: variants {names}, want AllTraffic"]
    wanted = {
        "AllTraffic": ab_test.champion_weight,
        **{c.name: c.weight for c in ab_test.challengers},
    }
    found = {v["VariantName"]: v.get("InitialVariantWeight") for v in variants}
    if found != wanted:
        return [f"{where}: variants and weights {found}, config says {wanted}"]
    return []


def update_problems(env: Environment, env_name: str) -> list[str]:
    """The changed settings of :data:`CHANGES` arrived, as moto's APIs report them."""
    problems = []
    changes = CHANGES[env_name]
    logs = env.client("logs")
    flow_log_groups = [
        (stack, group)
        for stack, logical_id, group, _ in env.resources("AWS::Logs::LogGroup")
        if stack.endswith("-Network") and "FlowLog" in logical_id
    ]
    if not flow_log_groups:
        problems.append("no flow log group in the Network stack")
    for stack, group in flow_log_groups:
        (described,) = [
            g
            for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
            if g["logGroupName"] == group
        ]
        expected = changes["network.flow_log_retention_days"]
        if described.get("retentionInDays") != expected:
            problems.append(
                f"{stack} {group}: retention {described.get('retentionInDays')}, want {expected}"
            )
    sagemaker = env.client("sagemaker")
    for stack, logical_id, endpoint_name, _ in env.resources("AWS::SageMaker::Endpoint"):
        if not stack.endswith("-Serving"):
            continue
        endpoint = sagemaker.describe_endpoint(EndpointName=sagemaker_name(endpoint_name))
        config = sagemaker.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"]
        )
        percentage = config["DataCaptureConfig"]["InitialSamplingPercentage"]
        if (
            percentage != changes["serving.capture_percentage"]
            or endpoint["EndpointStatus"] != "InService"
        ):
            problems.append(
                f"{stack}/{logical_id}: {endpoint['EndpointStatus']}, capturing {percentage}%, "
                f"want InService and {changes['serving.capture_percentage']}%"
            )
    return problems


def retained(deployed_template: dict[str, Any], resource_type: str) -> dict[str, bool]:
    """logical id -> whether the template retains it on delete, for one type."""
    return {
        logical_id: resource.get("DeletionPolicy") == "Retain"
        for logical_id, resource in deployed_template["Resources"].items()
        if resource["Type"] == resource_type
    }


# --------------------------------------------------------------------------------------
# the rehearsal


@pytest.mark.slow
@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_deploy_rehearsal(env_name, platform, changed_app, aws):
    """Bootstrap, publish, create (and check the wiring), update, delete: every stack."""
    assembly = stack_artifacts(platform.outdir / f"assembly-{env_name}")
    changed_outdir, changed_config = changed_app
    changed = {a.stack_name: a for a in stack_artifacts(changed_outdir / f"assembly-{env_name}")}
    names = [a.stack_name for a in assembly]
    assert names == [f"{env_name}-{stack}" for stack in STACKS], "stacks or their order changed"
    assert set(changed) == set(names)
    account, region = assembly[0].account, assembly[0].region
    config = platform.config.environment(env_name)
    assert (account, region) == (config.account, config.region)
    assert all((a.account, a.region) == (account, region) for a in assembly)

    protected = {a.stack_name for a in assembly if a.termination_protection}
    expected_protected = {"Security", "Lake", "Protection"} if env_name == "prod" else set()
    assert protected == {f"{env_name}-{name}" for name in expected_protected}

    rehearsal = new_rehearsal(aws)
    bootstrap(aws, account, region)
    with in_account(account):
        env = Environment(rehearsal, account, region)

        # create, in dependency order
        for artifact in assembly:
            rehearsal.deploy(artifact)
            assert not rehearsal.published[artifact.stack_name].container_images
        problems = wiring_problems(env, config)
        assert not problems, "wiring after create:\n" + "\n".join(problems)

        # update, with the changed app's templates (and assets)
        actions = {
            artifact.stack_name: rehearsal.deploy(changed[artifact.stack_name]).last_action
            for artifact in assembly
        }
        updated = sorted(name for name, action in actions.items() if action == "update")
        assert {f"{env_name}-Network", f"{env_name}-Serving"} <= set(updated), actions
        problems = update_problems(env, env_name) + wiring_problems(
            env, changed_config.environment(env_name)
        )
        assert not problems, "after update:\n" + "\n".join(problems)

        # delete, in reverse order; retained buckets and keys stay, the rest goes
        buckets: dict[str, bool] = {}
        keys: dict[str, bool] = {}
        for stack_name, deployed in rehearsal.deployed.items():
            physical = rehearsal.physical_ids(stack_name)
            for logical_id, keep in retained(deployed.template, "AWS::S3::Bucket").items():
                buckets[physical[logical_id][1]] = keep
            for logical_id, keep in retained(deployed.template, "AWS::KMS::Key").items():
                keys[physical[logical_id][1]] = keep
        for artifact in reversed(assembly):
            protected = artifact.termination_protection
            if protected:
                with pytest.raises(RehearsalError, match="termination protection is on"):
                    rehearsal.delete(artifact.stack_name)
            rehearsal.delete(artifact.stack_name, disable_termination_protection=protected)
        assert not rehearsal.deployed
        kms = aws("kms", region)
        gone = [b for b, keep in buckets.items() if keep != env.bucket_exists(b)]
        assert not gone, f"buckets whose deletion does not match DeletionPolicy: {gone}"
        for key_id, keep in keys.items():
            try:
                state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
            except kms.exceptions.NotFoundException:
                state = "deleted"  # moto deletes at once; AWS schedules it (PendingDeletion)
            assert (state == "Enabled") == keep, f"key {key_id} is {state}; retained: {keep}"
    if env_name == "prod":
        assert all(buckets.values()) and all(keys.values()), "prod must retain its data"


# --------------------------------------------------------------------------------------
# the stand-in list is exactly what moto cannot create


def test_stand_in_list_is_what_moto_cannot_create(platform):
    """Every listed type is one moto cannot create (else the entry is stale: remove it), and
    every type of every synthesized template that moto cannot create is listed."""
    stale = sorted(t for t in STAND_INS if not moto_cannot_create(t))
    assert not stale, f"moto can create these now; take them off STAND_INS: {stale}"
    used = {
        resource["Type"]
        for path in platform.templates()
        for resource in json.loads(path.read_text(encoding="utf-8"))["Resources"].values()
    }
    missing = sorted(t for t in used if moto_cannot_create(t) and t not in STAND_INS)
    assert not missing, f"moto cannot create these; add them to STAND_INS: {missing}"
    assert all(not moto_cannot_create(t) for t in MOTO_ADAPTATIONS)
    assert all(entry.reason for entry in [*STAND_INS.values(), *MOTO_ADAPTATIONS.values()])


# --------------------------------------------------------------------------------------
# the rehearsal can fail: deliberately broken cases


def _security(platform: Any) -> tuple[Any, dict[str, Any]]:
    """dev's Security stack (no dependencies) and a copy of its template to break."""
    (artifact,) = [
        a
        for a in stack_artifacts(platform.outdir / "assembly-dev")
        if a.stack_name == "dev-Security"
    ]
    return artifact, copy.deepcopy(artifact.template())


def _first(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return next(r for r in template["Resources"].values() if r["Type"] == resource_type)


def _nothing_created(aws: Clients, artifact: Any) -> bool:
    with in_account(artifact.account):
        stacks = aws("cloudformation", artifact.region).list_stacks()["StackSummaries"]
    return not stacks


def test_rehearsal_reports_ref_to_missing_resource(platform, aws):
    artifact, template = _security(platform)
    _first(template, "AWS::KMS::Alias")["Properties"]["TargetKeyId"] = {"Ref": "KeysNoSuchKey"}
    template["Resources"]["Orphan"] = {
        "Type": "AWS::SSM::Parameter",
        "DependsOn": ["KeysAlsoMissing"],
        "Properties": {
            "Type": "String",
            "Value": {"Fn::GetAtt": ["KeysGone", "Arn"]},
            "Name": {"Fn::Sub": "/x/${KeysVanished}"},
        },
    }
    bootstrap(aws, artifact.account, artifact.region)
    with pytest.raises(RehearsalError) as caught:
        new_rehearsal(aws).deploy(artifact, template)
    report = "\n".join(caught.value.problems)
    assert "Ref to 'KeysNoSuchKey', which the template lacks" in report
    assert "'KeysAlsoMissing' is not a resource" in report
    assert "Fn::GetAtt KeysGone.Arn names a resource the template lacks" in report
    assert "Fn::Sub variable ${KeysVanished} is undefined" in report
    assert _nothing_created(aws, artifact)


def test_rehearsal_reports_import_of_missing_export(platform, aws):
    """moto itself refuses a stack importing an export nobody made; the rehearsal says so."""
    artifact, template = _security(platform)
    _first(template, "AWS::KMS::Alias")["Properties"]["TargetKeyId"] = {
        "Fn::ImportValue": "dev-Network:NoSuchExport"
    }
    bootstrap(aws, artifact.account, artifact.region)
    with pytest.raises(RehearsalError, match="dev-Network:NoSuchExport") as caught:
        new_rehearsal(aws).deploy(artifact, template)
    assert "CloudFormation (moto) refused" in str(caught.value)


def test_rehearsal_reports_weak_reference_to_missing_output(platform, aws):
    """A weak reference (Fn::GetStackOutput) to a stack that is not deployed, or to an output
    the producing stack does not have, fails before moto sees the template."""
    artifact, template = _security(platform)
    _first(template, "AWS::KMS::Alias")["Properties"]["TargetKeyId"] = {
        "Fn::GetStackOutput": {"StackName": "dev-Lake", "Region": "eu-west-1", "OutputName": "Nope"}
    }
    bootstrap(aws, artifact.account, artifact.region)
    with pytest.raises(RehearsalError, match=r"Fn::GetStackOutput dev-Lake\.Nope: no such output"):
        new_rehearsal(aws).deploy(artifact, template)
    assert _nothing_created(aws, artifact)


def test_rehearsal_reports_malformed_iam_policies(platform, aws):
    """moto accepts these (it does not validate key policies, or inline policies created by
    CloudFormation); the rehearsal's grammar check refuses them before anything is created."""
    artifact, template = _security(platform)
    key = _first(template, "AWS::KMS::Key")
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    statements[0]["Effect"] = "Maybe"
    del statements[1]["Action"]
    template["Resources"]["BrokenRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}],
            },
            "Policies": [
                {
                    "PolicyName": "broken",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": "*",
                            "Principal": "*",
                            "Condition": {"StringEqualz": {"aws:PrincipalTag/team": "ml"}},
                        },
                    },
                }
            ],
        },
    }
    bootstrap(aws, artifact.account, artifact.region)
    with pytest.raises(RehearsalError) as caught:
        new_rehearsal(aws).deploy(artifact, template)
    report = "\n".join(caught.value.problems)
    assert (
        "(resource policy): Statement[0]: Effect must be 'Allow' or 'Deny', got 'Maybe'" in report
    )
    assert "(resource policy): Statement[1]: exactly one of Action/NotAction is required" in report
    assert "BrokenRole/AssumeRolePolicyDocument (trust policy): Statement[0]: exactly one of " in (
        report
    )
    assert "an identity policy statement takes no Principal/NotPrincipal" in report
    assert "unknown condition operator 'StringEqualz'" in report
    assert _nothing_created(aws, artifact)


def test_rehearsal_reports_type_missing_from_the_stand_in_list(platform, aws):
    artifact, template = _security(platform)
    template["Resources"]["Registry"] = {
        "Type": "AWS::Glue::Registry",
        "Properties": {"Name": "schemas"},
    }
    bootstrap(aws, artifact.account, artifact.region)
    with pytest.raises(RehearsalError, match="cannot create AWS::Glue::Registry, and it is not on"):
        new_rehearsal(aws).deploy(artifact, template)


def test_rehearsal_reports_old_or_missing_bootstrap(platform, aws):
    artifact, _ = _security(platform)
    rehearsal = new_rehearsal(aws)
    with pytest.raises(RehearsalError, match="is the environment bootstrapped"):
        rehearsal.deploy(artifact)
    bootstrap(aws, artifact.account, artifact.region)
    with in_account(artifact.account):
        aws("ssm", artifact.region).put_parameter(
            Name="/cdk-bootstrap/hnb659fds/version", Value="5", Type="String", Overwrite=True
        )
    with pytest.raises(RehearsalError, match="CDK bootstrap stack version 6 required"):
        rehearsal.deploy(artifact)


def test_rehearsal_refuses_to_delete_a_stack_others_read(platform, aws):
    """Weak references are not guarded by CloudFormation: deleting the producer first would
    leave the consumer broken. The rehearsal refuses it."""
    artifacts = stack_artifacts(platform.outdir / "assembly-dev")
    bootstrap(aws, artifacts[0].account, artifacts[0].region)
    rehearsal = new_rehearsal(aws)
    for artifact in artifacts[:2]:  # Security, then Network (reads the logs key's ARN)
        rehearsal.deploy(artifact)
    with pytest.raises(RehearsalError, match=r"still read by deployed stacks \['dev-Network'\]"):
        rehearsal.delete("dev-Security")


def test_wiring_checks_catch_broken_wiring(platform, aws):
    """dev deployed broken: a function pointed at a bucket that does not exist, an endpoint
    capturing another percentage than the config says, the Lambda permission for an
    EventBridge rule gone (Serving), and the training pipeline's new-data rule waiting for a
    Glue job that does not exist (Training). Each deploys; the wiring checks report each."""
    artifacts = stack_artifacts(platform.outdir / "assembly-dev")
    bootstrap(aws, artifacts[0].account, artifacts[0].region)
    rehearsal = new_rehearsal(aws)
    for artifact in artifacts:
        template = artifact.template()
        if artifact.stack_name == "dev-Serving":
            resources = template["Resources"]
            (function,) = [
                r
                for r in resources.values()
                if r["Type"] == "AWS::Lambda::Function"
                and "MODEL_BUCKET" in r["Properties"].get("Environment", {}).get("Variables", {})
            ]
            function["Properties"]["Environment"]["Variables"]["MODEL_BUCKET"] = "no-such-bucket"
            function["Properties"]["Environment"]["Variables"]["VARIANT_NAME"] = "NoSuchVariant"
            capture = _first(template, "AWS::SageMaker::EndpointConfig")["Properties"]
            capture["DataCaptureConfig"]["InitialSamplingPercentage"] = 99
            template["Resources"] = {
                k: v for k, v in resources.items() if v["Type"] != "AWS::Lambda::Permission"
            }
        if artifact.stack_name == "dev-Training":
            (rule,) = [
                r
                for r in template["Resources"].values()
                if r["Type"] == "AWS::Events::Rule"
                and r["Properties"].get("EventPattern", {}).get("source") == ["aws.glue"]
            ]
            rule["Properties"]["EventPattern"]["detail"]["jobName"] = ["no-such-job"]
        rehearsal.deploy(artifact, template)
    with in_account(artifacts[0].account):
        env = Environment(rehearsal, artifacts[0].account, artifacts[0].region)
        report = "\n".join(wiring_problems(env, platform.config.environment("dev")))
    assert "MODEL_BUCKET names missing bucket 'no-such-bucket'" in report
    assert "Serving endpoint captures [99]%, config says 20" in report
    assert "no permission for events.amazonaws.com from arn:aws:events:" in report
    assert "Glue job 'no-such-job' does not exist" in report
    assert "the deployer's VARIANT_NAME is not a variant of the endpoint" in report
    assert len(report.splitlines()) == 5, report


def test_variant_checks_catch_other_variants_or_weights():
    """The A/B check on its own: the configured variants and weights pass; a missing
    challenger, another weight, or a challenger without an A/B test do not."""
    from stacks.config.serving import EndpointSettings

    serving = EndpointSettings.model_validate(
        {"ab_test": {"champion_weight": 4, "challengers": [{"name": "xlarge", "weight": 1}]}}
    )
    champion = {"VariantName": "AllTraffic", "InitialVariantWeight": 4}
    challenger = {"VariantName": "xlarge", "InitialVariantWeight": 1}
    assert variant_problems("e", [champion, challenger], serving) == []
    assert variant_problems("e", [champion], serving)
    assert variant_problems("e", [champion, {**challenger, "InitialVariantWeight": 2}], serving)
    plain = EndpointSettings.model_validate({})
    assert variant_problems("e", [champion], plain) == []
    assert variant_problems("e", [champion, challenger], plain)


def test_moto_still_needs_a_model_in_every_variant():
    """:func:`models_of_named_variants` makes up for moto requiring ``ModelName`` in every
    production variant; once moto takes a variant without one, it goes."""
    from moto.sagemaker.models import SageMakerModelBackend

    backend = SageMakerModelBackend("eu-west-1", "123456789012")
    with pytest.raises(KeyError):
        backend.validate_production_variants([{"VariantName": "AllTraffic"}])
    models_of_named_variants(SageMakerModelBackend.validate_production_variants)(
        backend, [{"VariantName": "AllTraffic"}]
    )


# --------------------------------------------------------------------------------------
# the policy grammar check on its own

VALID_STATEMENT = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}


@pytest.mark.parametrize(
    ("kind", "document", "expected"),
    [
        ("identity", {"Version": "2012-10-17", "Statement": [VALID_STATEMENT]}, None),
        (
            "resource",
            {
                "Version": "2012-10-17",
                "Statement": {**VALID_STATEMENT, "Principal": {"AWS": ["arn:aws:iam::1:root"]}},
            },
            None,
        ),
        ("identity", {"Statement": [VALID_STATEMENT]}, "Version must be '2012-10-17'"),
        ("identity", {"Version": "2012-10-17", "Statement": []}, "non-empty list"),
        (
            "identity",
            {"Version": "2012-10-17", "Statement": [{**VALID_STATEMENT, "Effect": "Maybe"}]},
            "Effect must be 'Allow' or 'Deny'",
        ),
        (
            "identity",
            {"Version": "2012-10-17", "Statement": [{**VALID_STATEMENT, "NotAction": "s3:*"}]},
            "exactly one of Action/NotAction",
        ),
        (
            "identity",
            {"Version": "2012-10-17", "Statement": [{**VALID_STATEMENT, "Action": "s3GetObject"}]},
            "is not 'service:Action'",
        ),
        (
            "identity",
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]},
            "exactly one of Resource/NotResource",
        ),
        (
            "resource",
            {"Version": "2012-10-17", "Statement": [VALID_STATEMENT]},
            "exactly one of Principal/NotPrincipal",
        ),
        (
            "resource",
            {
                "Version": "2012-10-17",
                "Statement": [{**VALID_STATEMENT, "Principal": {"Services": "s3.amazonaws.com"}}],
            },
            "Principal type 'Services'",
        ),
        (
            "trust",
            {
                "Version": "2012-10-17",
                "Statement": [{**VALID_STATEMENT, "Principal": {"Service": "x.amazonaws.com"}}],
            },
            "takes no Resource",
        ),
        (
            "identity",
            {
                "Version": "2012-10-17",
                "Statement": [{**VALID_STATEMENT, "Condition": {"Bool": ["aws:SecureTransport"]}}],
            },
            "must map condition keys to values",
        ),
        (
            "identity",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {**VALID_STATEMENT, "Condition": {"ForAnyValue:Null": {"aws:TagKeys": "true"}}}
                ],
            },
            "Null takes no set prefix",
        ),
        (
            "identity",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {**VALID_STATEMENT, "Condition": {"StringLike": {"s3:prefix": {"a": 1}}}}
                ],
            },
            "values must be strings, numbers or booleans",
        ),
        (
            "identity",
            {"Version": "2012-10-17", "Statement": [VALID_STATEMENT, {**VALID_STATEMENT}]},
            None,
        ),
        (
            "identity",
            {
                "Version": "2012-10-17",
                "Statement": [{**VALID_STATEMENT, "Sid": "A"}, {**VALID_STATEMENT, "Sid": "A"}],
            },
            "duplicate Sid 'A'",
        ),
        ("identity", '{"Version": "2012-10-17", "Statement": [', "not JSON"),
    ],
)
def test_policy_grammar(kind, document, expected):
    problems = policy_document_problems(document, kind)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in problem for problem in problems), problems


def test_stand_ins_make_realistic_values():
    """A few of the stand-in values, against the shapes AWS documents for the real types."""
    context = StandInContext(
        account="111122223333",
        region="eu-west-1",
        stack_name="dev-Monitoring",
        logical_id="spendmonitorDataQualityJob",
        resource_type="AWS::SageMaker::DataQualityJobDefinition",
        properties={"JobDefinitionName": "Spend-Data-Quality"},
    )
    job = STAND_INS["AWS::SageMaker::DataQualityJobDefinition"]
    arn = "arn:aws:sagemaker:eu-west-1:111122223333:data-quality-job-definition/spend-data-quality"
    assert job.ref(context) == arn
    assert job.attributes["JobDefinitionArn"](context) == arn
    alarm = STAND_INS["AWS::CloudWatch::Alarm"]
    named = alarm.ref(context)
    assert re.fullmatch(r"dev-Monitoring-spendmonitorDataQualityJob-[0-9A-F]{12}", named)
    assert alarm.attributes["Arn"](context) == (
        f"arn:aws:cloudwatch:eu-west-1:111122223333:alarm:{named}"
    )
    secret = STAND_INS["AWS::SecretsManager::Secret"].ref(context)
    assert re.fullmatch(
        r"arn:aws:secretsmanager:eu-west-1:111122223333:secret:dev-Monitoring-\S+-[0-9a-f]{6}",
        secret,
    )
    assert STAND_INS["AWS::EC2::SecurityGroupEgress"].ref(context).startswith("sgr-")

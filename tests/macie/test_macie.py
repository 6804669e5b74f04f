"""MacieDiscovery and MacieRemediation: session, job request, rule, quarantine, function."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match
from botocore.validate import validate_parameters

from mlops_constructs import DataLake, PropsError
from mlops_constructs.macie.discovery import MacieDiscovery
from mlops_constructs.macie.props import AllowList, CustomDataIdentifier, DiscoverySchedule
from mlops_constructs.macie.remediation import MacieRemediation
from tests.helpers import acknowledged_rules, synth_construct

ADMIN = "arn:aws:iam::284751930618:role/SecurityAdministrator"


def _build(stack, *, manage_session=True, mode="quarantine", schedule=None):
    key = kms.Key(stack, "LakeKey", enable_key_rotation=True)
    logs_key = kms.Key(stack, "LogsKey", enable_key_rotation=True)
    lake = DataLake(stack, "Lake", encryption_key=key)
    topic = sns.Topic(stack, "Topic", master_key=logs_key, enforce_ssl=True)
    discovery = MacieDiscovery(
        stack,
        "Discovery",
        name_prefix="mlops-test",
        buckets=[lake.bucket("raw"), lake.bucket("curated")],
        bucket_keys=[key],
        manage_session=manage_session,
        schedule=schedule,
        custom_data_identifiers=[
            CustomDataIdentifier(
                "employee_id", "EMP-[0-9]{6}", keywords=("employee",), maximum_match_distance=30
            )
        ],
        allow_lists=[AllowList("test_customers", "TEST-[0-9]{4}")],
    )
    remediation = MacieRemediation(
        stack,
        "Remediation",
        lake=lake,
        logs_key=logs_key,
        topic=topic,
        mode=mode,
        security_admin_role=iam.Role.from_role_arn(stack, "Admin", ADMIN, mutable=False),
    )
    return discovery, remediation


@pytest.fixture(scope="module")
def quarantine_mode():
    template, (discovery, remediation), stack = synth_construct(_build)
    return template, discovery, remediation, stack, template.to_json()["Resources"]


def _logical(construct) -> str:
    return construct.stack.get_logical_id(construct)


def _flatten(node: Any) -> Any:
    """A Custom::AWS call body with every CloudFormation intrinsic replaced by a string."""
    if isinstance(node, dict) and "Fn::Join" in node:
        delimiter, parts = node["Fn::Join"]
        return delimiter.join(p if isinstance(p, str) else "resolved-at-deploy" for p in parts)
    return node


def _job_call(template, phase: str) -> dict[str, Any]:
    (job,) = [
        r
        for r in template.find_resources("Custom::AWS").values()
        if "createClassificationJob" in json.dumps(r)
    ]
    return json.loads(_flatten(job["Properties"][phase]))


def test_session_when_managed(quarantine_mode):
    template, *_ = quarantine_mode
    template.has_resource_properties(
        "AWS::Macie::Session", {"Status": "ENABLED", "FindingPublishingFrequency": "ONE_HOUR"}
    )


def test_no_session_when_macie_is_already_enabled():
    template, _, _ = synth_construct(lambda stack: _build(stack, manage_session=False))
    template.resource_count_is("AWS::Macie::Session", 0)
    template.resource_count_is("AWS::Macie::CustomDataIdentifier", 1)


def test_classification_job_request_is_valid_for_the_macie2_api(quarantine_mode):
    template, *_ = quarantine_mode
    call = _job_call(template, "Create")
    assert call["service"] == "Macie2" and call["action"] == "createClassificationJob"
    params = call["parameters"]
    model = botocore.session.get_session().get_service_model("macie2")
    validate_parameters(params, model.operation_model("CreateClassificationJob").input_shape)
    assert params["jobType"] == "SCHEDULED"
    assert params["scheduleFrequency"] == {"weeklySchedule": {"dayOfWeek": "SUNDAY"}}
    assert params["managedDataIdentifierSelector"] == "RECOMMENDED"
    assert len(params["s3JobDefinition"]["bucketDefinitions"][0]["buckets"]) == 2
    assert len(params["customDataIdentifierIds"]) == 1 and len(params["allowListIds"]) == 1
    assert params["clientToken"].startswith("mlops-test-")


def test_the_validation_can_fail():
    model = botocore.session.get_session().get_service_model("macie2")
    with pytest.raises(botocore.exceptions.ParamValidationError):
        validate_parameters(
            {
                "jobType": "SCHEDULED",
                "s3JobDefinition": {"buckets": "raw"},
                "clientToken": "x",
                "name": "n",
            },
            model.operation_model("CreateClassificationJob").input_shape,
        )


def test_a_settings_change_creates_a_new_job(quarantine_mode):
    # The update call creates a job too; its new physical id (the job id) makes CloudFormation
    # delete the old resource, whose delete call cancels the old job.
    template, *_ = quarantine_mode
    update = _job_call(template, "Update")
    assert update["action"] == "createClassificationJob"
    assert update["physicalResourceId"] == {"responsePath": "jobId"}
    assert update == _job_call(template, "Create")


def test_deleting_the_job_cancels_it(quarantine_mode):
    template, *_ = quarantine_mode
    call = _job_call(template, "Delete")
    assert call["action"] == "updateClassificationJob"
    assert call["parameters"]["jobStatus"] == "CANCELLED"
    assert "ResourceNotFoundException" in call["ignoreErrorCodesMatching"]
    model = botocore.session.get_session().get_service_model("macie2")
    params = {**call["parameters"], "jobId": "0123456789abcdef0123456789abcdef"}
    validate_parameters(params, model.operation_model("UpdateClassificationJob").input_shape)


def test_schedule_variants_are_valid_requests():
    model = botocore.session.get_session().get_service_model("macie2")
    shape = model.operation_model("CreateClassificationJob").input_shape
    for schedule in (DiscoverySchedule("daily"), DiscoverySchedule("monthly", day_of_month=3)):
        template, _, _ = synth_construct(
            lambda stack, s=schedule: _build(stack, schedule=s), nag=False
        )
        params = _job_call(template, "Create")["parameters"]
        validate_parameters(params, shape)
        assert params["scheduleFrequency"] == schedule.to_api()


def test_job_identity_follows_its_settings():
    def digest(schedule):
        template, _, _ = synth_construct(lambda stack: _build(stack, schedule=schedule), nag=False)
        (job,) = [
            r
            for r in template.find_resources("Custom::AWS").values()
            if "createClassificationJob" in json.dumps(r)
        ]
        return job["Properties"]["SettingsDigest"]

    assert digest(DiscoverySchedule("weekly")) == digest(DiscoverySchedule("weekly"))
    assert digest(DiscoverySchedule("weekly")) != digest(DiscoverySchedule("daily"))


def _job_identity(zones: tuple[str, ...]) -> tuple[str, str]:
    """(SettingsDigest, clientToken) of a discovery job over ``zones`` of a three-zone lake."""

    def build(stack):
        key = kms.Key(stack, "LakeKey", enable_key_rotation=True)
        lake = DataLake(stack, "Lake", encryption_key=key, zones=("raw", "curated", "analytics"))
        MacieDiscovery(
            stack, "Discovery", name_prefix="mlops-test", buckets=[lake.bucket(z) for z in zones]
        )

    template, _, _ = synth_construct(build, nag=False)
    (job,) = [
        r
        for r in template.find_resources("Custom::AWS").values()
        if "createClassificationJob" in json.dumps(r)
    ]
    create = json.loads(_flatten(job["Properties"]["Create"]))
    return job["Properties"]["SettingsDigest"], create["parameters"]["clientToken"]


def test_job_identity_follows_which_buckets_are_scanned():
    # As many zones, other zones: another job (a reused client token with other parameters
    # is refused by Macie, or returns the old job), so the identity must name the buckets.
    raw_curated = _job_identity(("raw", "curated"))
    assert _job_identity(("raw", "analytics")) != raw_curated
    assert _job_identity(("curated", "analytics"))[0] != raw_curated[0]
    # The same buckets in another order are the same job.
    assert _job_identity(("curated", "raw")) == raw_curated


def test_custom_identifiers_and_allow_lists(quarantine_mode):
    template, *_ = quarantine_mode
    template.has_resource_properties(
        "AWS::Macie::CustomDataIdentifier",
        {
            "Name": "mlops-test-employee_id",
            "Regex": "EMP-[0-9]{6}",
            "Keywords": ["employee"],
            "MaximumMatchDistance": 30,
        },
    )
    template.has_resource_properties(
        "AWS::Macie::AllowList",
        {"Name": "mlops-test-test_customers", "Criteria": {"Regex": "TEST-[0-9]{4}"}},
    )


def test_macie_may_decrypt_the_lake_key_by_principal_arn(quarantine_mode):
    _, _, _, stack, resources = quarantine_mode
    key = resources[_logical(stack.node.find_child("LakeKey").node.default_child)]
    (statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowMacieToDecryptObjectsItScans"
    ]
    assert statement["Action"] == "kms:Decrypt"
    assert "AWSServiceRoleForAmazonMacie" in json.dumps(statement["Condition"]["ArnEquals"])


IMPORTED_KEY = "arn:aws:kms:eu-west-1:284751930618:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_an_imported_lake_key_gets_a_warning_with_the_statement_to_add():
    # An imported key's policy is not this app's: the statement cannot be added, and
    # without it Macie cannot read what it scans, so the user must be told.
    def build(stack):
        key = kms.Key.from_key_arn(stack, "LakeKey", IMPORTED_KEY)
        lake = DataLake(stack, "Lake", encryption_key=key)
        MacieDiscovery(
            stack, "Discovery", name_prefix="mlops-test", buckets=[lake.bucket("raw")],
            bucket_keys=[key],
        )  # fmt: skip

    _, _, stack = synth_construct(build, nag=False)
    (warning,) = Annotations.from_stack(stack).find_warning(
        "/TestStack/Discovery", Match.string_like_regexp("AllowMacieToDecryptObjectsItScans")
    )
    message = warning.entry.data
    assert IMPORTED_KEY in message or "LakeKey" in message
    assert "kms:Decrypt" in message and "AWSServiceRoleForAmazonMacie" in message
    assert "by hand" in message


def test_rule_pattern_matches_sensitive_findings_on_lake_buckets_only(quarantine_mode):
    _, _, remediation, _, resources = quarantine_mode
    pattern = resources[_logical(remediation.rule.node.default_child)]["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.macie"]
    assert pattern["detail-type"] == ["Macie Finding"]  # not the legacy "Macie Alert"
    detail = pattern["detail"]
    assert detail["type"] == [{"prefix": "SensitiveData:"}]
    assert detail["severity"] == {"score": [{"numeric": [">=", 2]}]}
    assert detail["category"] == ["CLASSIFICATION"]
    assert len(detail["resourcesAffected"]["s3Bucket"]["name"]) == 3  # every lake zone


def test_rule_target_retries_then_dead_letters(quarantine_mode):
    _, _, remediation, _, resources = quarantine_mode
    (target,) = resources[_logical(remediation.rule.node.default_child)]["Properties"]["Targets"]
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 4}
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] == _logical(
        remediation.dead_letter_queue.node.default_child
    )


def test_function_settings_dlq_and_logs(quarantine_mode):
    template, _, remediation, _, resources = quarantine_mode
    function = resources[_logical(remediation.function.node.default_child)]["Properties"]
    assert function["Runtime"] == "python3.14"
    assert function["Timeout"] == 900
    env = function["Environment"]["Variables"]
    assert env["MODE"] == "quarantine"
    assert set(env) == {
        "MODE",
        "PLATFORM_BUCKETS",
        "QUARANTINE_BUCKET",
        "QUARANTINE_KEY_ARN",
        "TOPIC_ARN",
        "LOG_LEVEL",
        "DEAD_LETTER_QUEUE_URL",
    }
    # The handler dead-letters what no retry can change (an object without room for tags).
    assert env["DEAD_LETTER_QUEUE_URL"] == {
        "Ref": _logical(remediation.dead_letter_queue.node.default_child)
    }
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21600,
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {
                        "Fn::GetAtt": [
                            _logical(remediation.dead_letter_queue.node.default_child),
                            "Arn",
                        ]
                    }
                }
            },
        },
    )
    group = function["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources[group]["Properties"]["RetentionInDays"] == 365
    assert "KmsKeyId" in resources[group]["Properties"]
    queue = resources[_logical(remediation.dead_letter_queue.node.default_child)]["Properties"]
    assert queue["MessageRetentionPeriod"] == 1209600 and "KmsMasterKeyId" in queue


def test_role_is_limited_to_the_lake_quarantine_topic_and_keys(quarantine_mode):
    _, _, remediation, _, resources = quarantine_mode
    role = remediation.function.role
    policy = resources[_logical(role.node.find_child("DefaultPolicy").node.default_child)]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    for statement in statements:
        resources_ = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        assert "*" not in resources_, statement
    sids = {s.get("Sid") for s in statements}
    assert {"QuarantineObjects", "QuarantineListing", "QuarantineKey", "PublishSummaries"} <= sids
    managed = resources[_logical(role.node.default_child)]["Properties"]["ManagedPolicyArns"]
    # The basic execution policy, and the lake's remediation policy (with delete).
    assert len(managed) == 2
    (lake_policy,) = [
        r for r in resources.values() if r["Type"] == "AWS::IAM::ManagedPolicy"
        and r["Properties"]["Description"].startswith("Remediate")
    ]  # fmt: skip
    actions = next(
        s["Action"]
        for s in lake_policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Sid"] == "RemediateObjects"
    )
    assert "s3:DeleteObjectVersion" in actions and "s3:PutObject" not in actions


def test_quarantine_bucket_policy_admits_only_the_function_and_admins(quarantine_mode):
    template, _, remediation, _, resources = quarantine_mode
    bucket = _logical(remediation.quarantine_bucket.node.default_child)
    (policy,) = [
        r
        for r in template.find_resources("AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    only = statements["OnlyRemediationAndSecurityAdmins"]
    assert only["Effect"] == "Deny" and only["Principal"] == {"AWS": "*"}
    allowed = only["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert ADMIN in allowed and len(allowed) == 2
    props = resources[bucket]["Properties"]
    assert (
        props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "aws:kms"
    )
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert resources[bucket]["DeletionPolicy"] == "Retain"


def test_tag_mode_has_no_quarantine_and_no_delete():
    template, (_, remediation), _ = synth_construct(lambda stack: _build(stack, mode="tag"))
    assert remediation.quarantine_bucket is None
    policies = [
        r for r in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if r["Properties"]["Description"].startswith("Remediate")
    ]  # fmt: skip
    actions = policies[0]["Properties"]["PolicyDocument"]["Statement"][1]["Action"]
    assert "s3:PutObjectVersionTagging" in actions and "s3:DeleteObjectVersion" not in actions
    template.resource_count_is("AWS::S3::Bucket", 4)  # the lake only


def test_acknowledgements_name_exact_findings(quarantine_mode):
    *_, stack, _ = quarantine_mode
    rules = [rule for _, rule, _ in acknowledged_rules(stack)]
    assert all("[" in r or r.endswith(("-S1", "-SQS3")) for r in rules), rules


def test_invalid_props_are_all_reported():
    def build(stack):
        key = kms.Key(stack, "K", enable_key_rotation=True)
        lake = DataLake(stack, "Lake", encryption_key=key)
        MacieDiscovery(
            stack,
            "D",
            name_prefix="bad prefix!",
            buckets=[],
            finding_publishing_frequency="HOURLY",
            sampling_percentage=0,
        )
        return lake

    with pytest.raises(PropsError) as caught:
        synth_construct(build, nag=False)
    message = str(caught.value)
    for fragment in (
        "name_prefix",
        "buckets: got []",
        "HOURLY",
        "sampling_percentage: got 0",
    ):
        assert fragment in message


def test_disposable_quarantine_empties_itself_and_lets_that_function_in():
    from aws_cdk import RemovalPolicy

    def build(stack):
        key = kms.Key(stack, "LakeKey", enable_key_rotation=True)
        logs_key = kms.Key(stack, "LogsKey", enable_key_rotation=True)
        lake = DataLake(stack, "Lake", encryption_key=key)
        topic = sns.Topic(stack, "Topic", master_key=logs_key, enforce_ssl=True)
        return MacieRemediation(
            stack,
            "Remediation",
            lake=lake,
            logs_key=logs_key,
            topic=topic,
            removal_policy=RemovalPolicy.DESTROY,
        )

    template, remediation, _ = synth_construct(build)
    bucket = _logical(remediation.quarantine_bucket.node.default_child)
    resources = template.to_json()["Resources"]
    assert resources[bucket]["DeletionPolicy"] == "Delete"
    assert len(template.find_resources("Custom::S3AutoDeleteObjects")) == 2  # bucket and its logs
    (policy,) = [
        r
        for r in template.find_resources("AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    deny = next(
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "OnlyRemediationAndSecurityAdmins"
    )
    allowed = json.dumps(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
    assert "CustomS3AutoDeleteObjectsCustomResourceProviderRole" in allowed

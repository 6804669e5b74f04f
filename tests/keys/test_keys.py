"""PlatformKeys: one rotated, aliased, retained key per purpose, with narrow service access."""

from __future__ import annotations

import pytest
from aws_cdk import Duration, RemovalPolicy
from aws_cdk.assertions import Match

from mlops_constructs import KeyPurpose, PlatformKeys, PropsError
from tests.helpers import synth_construct


@pytest.fixture(scope="module")
def default_keys():
    template, keys, _stack = synth_construct(
        lambda stack: PlatformKeys(stack, "Keys", alias_prefix="mlops/test")
    )
    return template, keys


def test_one_key_per_purpose_with_rotation(default_keys):
    template, _ = default_keys
    template.resource_count_is("AWS::KMS::Key", len(KeyPurpose))
    template.all_resources_properties(
        "AWS::KMS::Key",
        {"EnableKeyRotation": True, "RotationPeriodInDays": 365, "PendingWindowInDays": 30},
    )


def test_keys_are_retained_by_default(default_keys):
    template, _ = default_keys
    for resource in template.find_resources("AWS::KMS::Key").values():
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("purpose", list(KeyPurpose))
def test_each_purpose_has_an_alias(default_keys, purpose):
    template, _ = default_keys
    template.has_resource_properties(
        "AWS::KMS::Alias", {"AliasName": f"alias/mlops/test/{purpose.value}"}
    )


def test_root_of_the_account_keeps_control(default_keys):
    # The key can never be locked out of the account: the root principal has kms:*.
    template, _ = default_keys
    template.all_resources_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "kms:*",
                                "Effect": "Allow",
                                "Principal": {
                                    "AWS": {
                                        "Fn::Join": [
                                            "",
                                            [
                                                "arn:",
                                                {"Ref": "AWS::Partition"},
                                                ":iam::284751930618:root",
                                            ],
                                        ]
                                    }
                                },
                                "Resource": "*",
                            }
                        )
                    ]
                )
            }
        },
    )


def _policy_statements(template, keys, purpose):
    key = keys.key(purpose)
    logical_id = key.stack.get_logical_id(key.node.default_child)
    resource = template.to_json()["Resources"][logical_id]
    return resource["Properties"]["KeyPolicy"]["Statement"]


def test_logs_key_allows_cloudwatch_logs_of_this_account_only(default_keys):
    template, keys = default_keys
    statements = _policy_statements(template, keys, KeyPurpose.LOGS)
    logs = next(s for s in statements if s.get("Sid") == "AllowCloudWatchLogsOfThisAccount")
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    condition = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":logs:eu-west-1:284751930618:log-group:*"],
        ]
    }
    delivery = next(
        s for s in statements if s.get("Sid") == "AllowAlarmAndEventDeliveryToEncryptedTopics"
    )
    assert sorted(delivery["Principal"]["Service"]) == [
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    ]
    assert delivery["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]


@pytest.mark.parametrize("purpose", [KeyPurpose.ARTIFACTS, KeyPurpose.SECRETS])
def test_other_keys_grant_no_service_principal(default_keys, purpose):
    # S3, Glue, SageMaker and Secrets Manager use the caller's credentials: roles are
    # granted through IAM, and the key policy names no service.
    template, keys = default_keys
    for statement in _policy_statements(template, keys, purpose):
        assert "Service" not in statement["Principal"], statement


def test_data_lake_key_lets_logs_encrypt_only_databrew_job_logs(default_keys):
    template, keys = default_keys
    statements = _policy_statements(template, keys, KeyPurpose.DATA_LAKE)
    services = [s for s in statements if "Service" in s["Principal"]]
    assert len(services) == 1
    (statement,) = services
    assert statement["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    condition = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition["Fn::Join"][1][-1].endswith(":log-group:/aws-glue-databrew/*")


def test_typed_accessors_match_purposes(default_keys):
    _, keys = default_keys
    assert keys.data_lake_key is keys.key(KeyPurpose.DATA_LAKE)
    assert keys.artifacts_key is keys.key(KeyPurpose.ARTIFACTS)
    assert keys.logs_key is keys.key(KeyPurpose.LOGS)
    assert keys.secrets_key is keys.key(KeyPurpose.SECRETS)


def test_overrides_destroy_pending_window_and_rotation():
    template, _, _ = synth_construct(
        lambda stack: PlatformKeys(
            stack,
            "Keys",
            alias_prefix="mlops/dev",
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
            rotation_period=Duration.days(90),
        )
    )
    template.all_resources_properties(
        "AWS::KMS::Key", {"PendingWindowInDays": 7, "RotationPeriodInDays": 90}
    )
    for resource in template.find_resources("AWS::KMS::Key").values():
        assert resource["DeletionPolicy"] == "Delete"


def test_invalid_props_are_all_reported_at_once():
    with pytest.raises(PropsError) as caught:
        synth_construct(
            lambda stack: PlatformKeys(
                stack,
                "Keys",
                alias_prefix="aws/bad prefix",
                pending_window=Duration.days(3),
                rotation_period=Duration.days(30),
            ),
            nag=False,
        )
    message = str(caught.value)
    assert message.startswith("PlatformKeys received invalid props:")
    assert "alias_prefix: got 'aws/bad prefix'" in message
    assert "pending_window: got '3 days'; expected 7 to 30 days" in message
    assert "rotation_period: got '30 days'; expected 90 to 2560 days" in message

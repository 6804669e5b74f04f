"""ExternalCredentialSecret: a generated value on a customer-managed key, retained."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match

from mlops_constructs import ExternalCredentialSecret, PropsError
from tests.helpers import acknowledged_rules, synth_construct


def _key(stack):
    return kms.Key(stack, "Key", enable_key_rotation=True)


@pytest.fixture(scope="module")
def default_secret():
    return synth_construct(
        lambda stack: ExternalCredentialSecret(
            stack, "Db", encryption_key=_key(stack), username="ml_reader"
        )
    )


def test_value_is_generated_not_literal(default_secret):
    template, _, _ = default_secret
    (secret,) = template.find_resources("AWS::SecretsManager::Secret").values()
    props = secret["Properties"]
    assert "SecretString" not in props
    generated = props["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"]) == {"username": "ml_reader"}
    assert generated["GenerateStringKey"] == "password"
    assert generated["PasswordLength"] == 32


def test_encrypted_with_the_given_key_and_retained(default_secret):
    template, _, _ = default_secret
    template.has_resource(
        "AWS::SecretsManager::Secret",
        {
            "Properties": {"KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]}},
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_no_rotation_is_acknowledged_narrowly_with_a_reason(default_secret):
    template, _secret, stack = default_secret
    template.resource_count_is("AWS::SecretsManager::RotationSchedule", 0)
    acks = acknowledged_rules(stack)
    assert [(path, rule) for path, rule, _ in acks] == [
        ("TestStack/Db/Secret", "AwsSolutions::AwsSolutions-SMG4")
    ]
    assert "rotated by the external data source" in acks[0][2]


def test_rotation_function_turns_rotation_on_without_acknowledgement():
    def build(stack):
        fn = lambda_.Function.from_function_arn(
            stack,
            "Rotator",
            "arn:aws:lambda:eu-west-1:284751930618:function:rotate-db-credential",
        )
        return ExternalCredentialSecret(
            stack,
            "Db",
            encryption_key=_key(stack),
            username="ml_reader",
            rotation_function=fn,
            rotate_after=Duration.days(7),
            removal_policy=RemovalPolicy.DESTROY,
        )

    template, _, stack = synth_construct(build)
    template.has_resource_properties(
        "AWS::SecretsManager::RotationSchedule",
        {"RotationRules": {"ScheduleExpression": "rate(7 days)"}},
    )
    template.has_resource("AWS::SecretsManager::Secret", {"DeletionPolicy": "Delete"})
    assert acknowledged_rules(stack) == []


def test_invalid_props_are_all_reported():
    with pytest.raises(PropsError) as caught:
        synth_construct(
            lambda stack: ExternalCredentialSecret(
                stack, "Db", encryption_key=_key(stack), username="", rotate_after=Duration.days(5)
            ),
            nag=False,
        )
    message = str(caught.value)
    assert "username: got ''" in message
    assert "rotate_after: got '5 days'; only applies with rotation_function" in message

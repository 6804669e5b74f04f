"""Grants to a role CDK may not change warn instead of succeeding silently."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match

from mlops_constructs.core.policies import grant_to_principal, is_immutable_role

ACCOUNT = "111111111111"


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))


def test_both_forms_of_immutable_role_are_recognised():
    stack = _stack()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    imported = iam.Role.from_role_arn(stack, "Imported", f"arn:aws:iam::{ACCOUNT}:role/r")
    frozen = iam.Role.from_role_arn(
        stack, "Frozen", f"arn:aws:iam::{ACCOUNT}:role/f", mutable=False
    )
    assert not is_immutable_role(role)
    assert not is_immutable_role(imported)
    assert is_immutable_role(frozen)
    assert is_immutable_role(role.without_policy_updates())


@pytest.mark.parametrize("form", ["from_role_arn", "without_policy_updates"])
def test_a_grant_to_an_immutable_role_warns_and_is_dropped(form):
    stack = _stack()
    if form == "from_role_arn":
        role = iam.Role.from_role_arn(
            stack, "Frozen", f"arn:aws:iam::{ACCOUNT}:role/f", mutable=False
        )
    else:
        role = iam.Role(
            stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        ).without_policy_updates()
    grant = grant_to_principal(
        stack, role, actions=["sagemaker:InvokeEndpoint"], resource_arns=["arn:x"]
    )
    assert not grant.success
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("sagemaker:InvokeEndpoint .* was not granted")
    )
    assert len(warnings) == 1


def test_a_grant_to_a_mutable_role_is_added():
    stack = _stack()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    grant = grant_to_principal(
        stack, role, actions=["sagemaker:InvokeEndpoint"], resource_arns=["arn:x"]
    )
    assert grant.success
    assert not Annotations.from_stack(stack).find_warning("*", Match.any_value())

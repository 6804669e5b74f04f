"""Exact cdk-nag acknowledgements for wildcards a construct needs on purpose.

cdk-nag 3 acknowledges one finding per id, and IAM5 findings name the wildcard resource as
cdk-nag flattens it (``<LogicalId.Arn>/prefix/*``). :func:`flatten` mirrors that flattening
(cdk-nag's ``flattenCfnReference``) so a construct can acknowledge exactly the wildcards it
creates, with a reason, and nothing else. It works for values that resolve inside the
construct's own stack; cross-stack values are resolved later in synthesis, so constructs
keep wildcard resources in their own stack (see ``DataLake.grant_read``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def flatten(node: Any) -> str:
    """Flatten a resolved CloudFormation value the way cdk-nag names it in findings."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten(item) for item in items)
        if "Fn::Sub" in node:
            return flatten(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten(resource)}.{flatten(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def acknowledge_wildcards(
    scope: IConstruct,
    reason: str,
    *,
    resources: Iterable[str] = (),
    actions: Iterable[str] = (),
) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly these wildcard resources and actions."""
    stack = Stack.of(scope)
    findings = [f"Resource::{flatten(stack.resolve(r))}" for r in resources]
    findings += [f"Action::{a}" for a in actions]
    for finding in dict.fromkeys(findings):
        Validations.of(scope).acknowledge(
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[{finding}]", reason=reason)
        )


def acknowledge_policy_wildcards(policy: iam.CfnPolicy, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for each wildcard action and resource in the document
    of ``policy`` (an ``AWS::IAM::Policy`` a library construct generated), on that policy."""
    document = Stack.of(policy).resolve(policy.policy_document)
    actions: list[str] = []
    resources: list[Any] = []
    for statement in document.get("Statement", []):
        actions += [a for a in _listed(statement.get("Action")) if "*" in a]
        resources += [r for r in _listed(statement.get("Resource")) if "*" in flatten(r)]
    scope = policy.node.scope
    assert scope is not None
    acknowledge_wildcards(scope, reason, resources=resources, actions=actions)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


#: cdk-nag's IAM4 finding for the AWS managed policy Lambda roles get for their own logs.
BASIC_EXECUTION_POLICY = (
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)


def acknowledge_basic_execution_policy(role: IConstruct, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM4 for ``AWSLambdaBasicExecutionRole`` on one role."""
    Validations.of(role).acknowledge(
        Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM4[{BASIC_EXECUTION_POLICY}]", reason=reason
        )
    )

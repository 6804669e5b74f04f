"""Small corrections to what aws-cdk-lib generates, so templates lint clean."""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from constructs import IConstruct


def drop_redundant_provider_dependency(scope: IConstruct, provider_id: str) -> None:
    """Remove the DependsOn from a CDK custom-resource provider's handler to its role.

    aws-cdk-lib's ``CustomResourceProvider`` singletons (for example the ones behind
    ``restrict_default_security_group`` and ``auto_delete_objects``) give the handler both a
    ``Fn::GetAtt`` of its role and a ``DependsOn`` on it. The DependsOn adds nothing, and
    cfn-lint reports it (W3005). ``provider_id`` is the provider's id in the stack, e.g.
    ``Custom::S3AutoDeleteObjectsCustomResourceProvider``.
    """
    provider = Stack.of(scope).node.try_find_child(provider_id)
    if provider is None:
        return
    handler = provider.node.try_find_child("Handler")
    role = provider.node.try_find_child("Role")
    if isinstance(handler, CfnResource) and isinstance(role, CfnResource):
        handler.remove_resource_dependency(role)


def ignore_cfn_lint(resource: CfnResource, rule: str, reason: str) -> None:
    """Turn off one cfn-lint rule for one resource, recording why in its metadata."""
    rules = (resource.get_metadata("cfn-lint") or {}).get("config", {}).get("ignore_checks", [])
    reasons = dict(resource.get_metadata("cfn-lint-reason") or {})
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": [*rules, rule]}})
    resource.add_metadata("cfn-lint-reason", {**reasons, rule: reason})

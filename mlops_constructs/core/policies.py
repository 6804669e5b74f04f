"""Policies on what a construct may have been given: resource policies of keys and buckets
(imported ones belong to another app), and principals whose policies CDK cannot change."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Annotations, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import IConstruct


def add_statement_or_warn(
    scope: IConstruct, resource: kms.IKey | s3.IBucket, statement: iam.PolicyStatement
) -> None:
    """Add ``statement`` (which must have a ``sid``) to ``resource``'s policy.

    An imported key or bucket's policy belongs to another app, so CDK drops the statement
    and reports it only in the result: the grant would silently not exist. A warning on
    ``scope`` then names the statement to add to that policy by hand.
    """
    if resource.add_to_resource_policy(statement).statement_added:
        return
    stack = Stack.of(scope)
    # jsii interfaces cannot be checked with isinstance: tell them apart by attribute.
    if hasattr(resource, "key_arn"):
        kind, name = "key", resource.key_arn
    else:
        kind, name = "bucket", getattr(resource, "bucket_name", resource.node.path)
    rendered = json.dumps(stack.resolve(statement.to_statement_json()), sort_keys=True)
    Annotations.of(scope).add_warning_v2(
        f"mlops:PolicyStatementNotAdded:{statement.sid}",
        f"The statement {statement.sid} could not be added to the policy of the imported "
        f"{kind} {json.dumps(stack.resolve(name))} ({resource.node.path}): this app does not "
        f"manage that policy. Add it by hand, or the grant it makes is missing: {rendered}",
    )


def is_immutable_role(principal: Any) -> bool:
    """True for a role CDK may not add policies to, which ignores them silently.

    CDK makes two such wrappers and gives neither a class of its own through jsii:
    ``Role.from_role_arn(..., mutable=False)`` is a sibling of the role it wraps, named
    ``MutableRole<id>``; ``role.without_policy_updates()`` is a sibling named
    ``ImmutableRole<id>`` of the role ``<id>`` (aws-cdk-lib ``aws-iam/lib/role.ts``).
    """
    node = getattr(principal, "node", None)
    if node is None or node.scope is None:
        return False
    siblings = node.scope.node
    if siblings.try_find_child(f"MutableRole{node.id}") is not None:
        return True
    wrapped = node.id.removeprefix("ImmutableRole")
    return wrapped != node.id and siblings.try_find_child(wrapped) is not None


def warn_if_immutable(scope: IConstruct, grantee: iam.IGrantable, what: str) -> bool:
    """Warn on ``scope`` and return True when ``grantee`` is an immutable role: ``what``
    (e.g. "sagemaker:InvokeEndpoint on the endpoint") must then be granted by hand."""
    principal: Any = grantee.grant_principal
    if not is_immutable_role(principal):
        return False
    Annotations.of(scope).add_warning_v2(
        "mlops:GrantNotApplied",
        f"{principal.node.path} is an immutable role: {what} was not granted to it. Add it "
        "to the role's policy by hand, or the grant is missing.",
    )
    return True


def grant_to_principal(
    scope: IConstruct,
    grantee: iam.IGrantable,
    *,
    actions: Sequence[str],
    resource_arns: Sequence[str],
    conditions: Mapping[str, Any] | None = None,
) -> iam.Grant:
    """``iam.Grant.add_to_principal``, except that an immutable role gets a warning on
    ``scope`` and a dropped grant (``success`` false) instead of a silent no-op."""
    if warn_if_immutable(scope, grantee, f"{', '.join(actions)} on {scope.node.path}"):
        return iam.Grant.drop(grantee, ", ".join(actions))
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(actions),
        resource_arns=list(resource_arns),
        conditions=dict(conditions) if conditions is not None else None,
    )

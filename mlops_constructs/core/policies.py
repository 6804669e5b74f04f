"""Resource-policy statements on keys and buckets that a construct may have been given."""

from __future__ import annotations

import json

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

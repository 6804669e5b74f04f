"""What aws-cdk-lib's AwsCustomResource singleton function needs acknowledged, in one place."""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from aws_cdk import custom_resources as cr
from constructs import IConstruct

from mlops_constructs.core.cfn_fixes import ignore_cfn_lint
from mlops_constructs.core.nag import acknowledge_basic_execution_policy


def acknowledge_sdk_function(scope: IConstruct) -> None:
    """Acknowledge, on the stack's AwsCustomResource function only, the two reports its
    aws-cdk-lib-made resources get: IAM4 for its managed logging policy, and cfn-lint W3005
    for its redundant DependsOn. Call after making an AwsCustomResource."""
    singleton_id = "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
    function = Stack.of(scope).node.try_find_child(singleton_id)
    role = function.node.try_find_child("ServiceRole") if function is not None else None
    if function is None or role is None:
        return
    handler = function.node.default_child
    if isinstance(handler, CfnResource):
        ignore_cfn_lint(
            handler,
            "W3005",
            "aws-cdk-lib makes the function depend on its role and also reference it; the "
            "DependsOn is redundant but harmless, and the construct offers no way to drop it.",
        )
    acknowledge_basic_execution_policy(
        role,
        "aws-cdk-lib's AwsCustomResource function uses the AWS managed basic execution policy "
        "for its own CloudWatch logs only; its API permissions are the scoped statements of "
        "each call.",
    )

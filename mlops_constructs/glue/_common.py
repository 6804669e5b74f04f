"""What the Glue constructs share: physical names, roles and their policies."""

from __future__ import annotations

from aws_cdk import Names
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.core.nag import acknowledge_wildcards


def _unique_name(scope: Construct, max_length: int = 100) -> str:
    """A deterministic physical name for resources where AWS requires one."""
    return Names.unique_resource_name(scope, max_length=max_length, separator="-").lower()


def _after_role_policy(resource: Construct, role: iam.Role) -> None:
    """Create ``resource`` only once its role's inline policy exists.

    The resource already waits for the role itself (it references its ARN), but Glue checks
    the role's permissions when the job, crawler or transform is created or first runs.
    """
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is not None:
        resource.node.add_dependency(policy)


def _glue_role(scope: Construct, id: str, description: str) -> iam.Role:
    return iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
        description=description,
    )


def _allow_glue_metrics(role: iam.Role) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="GlueJobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
        )
    )
    acknowledge_wildcards(
        role,
        "cloudwatch:PutMetricData has no resource-level scoping; a condition limits it to "
        "the Glue namespace.",
        resources=["*"],
    )

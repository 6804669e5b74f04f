"""What the Glue constructs share: physical names, roles and their policies."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from aws_cdk import CfnElement, Names, Stack
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


def _keep_logical_id(resource: CfnElement, scope: Construct, id: str) -> None:
    """Give ``resource`` the logical id an L1 named ``id`` directly in ``scope`` gets.

    The Glue L2 constructs put their L1 one level deeper (``<id>/Resource``), which changes
    the hash of the logical id, and CloudFormation replaces a resource whose logical id
    changes: a database or security configuration, with its fixed name, cannot even be
    re-created while the old one exists. The constructs that moved from L1 to L2 keep the
    ids their L1 had.
    """
    stack = Stack.of(scope)
    scopes = scope.node.scopes
    components = [s.node.id for s in scopes[scopes.index(stack) + 1 :]] + [id]
    resource.override_logical_id(_make_unique_id(components))


def _make_unique_id(components: Sequence[str]) -> str:
    """The logical id aws-cdk-lib allocates to a path below a stack (its ``makeUniqueId``).

    Human-readable path (without ``Resource`` components and repeated terms) plus the first
    8 hex digits of the MD5 of the path; ``Default`` components are left out entirely, and a
    single component is used as it is. A test compares it with what aws-cdk-lib allocates.
    """
    path = [c for c in components if c != "Default"]
    if not path:
        raise ValueError("a logical id needs at least one path component")

    def alphanumeric(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9]", "", text)

    if len(path) == 1 and len(alphanumeric(path[0])) <= 255:
        return alphanumeric(path[0])
    digest = hashlib.md5("/".join(path).encode(), usedforsecurity=False).hexdigest()
    human: list[str] = []
    for component in path:
        if not human or not human[-1].endswith(component):
            human.append(component)
    readable = "".join(alphanumeric(c) for c in human if c != "Resource")[:240]
    return readable + digest[:8].upper()

"""Grants that attach a customer-managed policy, returned as an ``iam.Grant``."""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from mlops_constructs.core.policies import warn_if_immutable
from mlops_constructs.core.s3 import attach_managed_policy


@jsii.implements(iam.IPrincipal)
class _PolicyHolder:
    """The principal side of a grant whose statements are already in a managed policy.

    ``iam.Grant`` has no public constructor; ``Grant.add_to_principal`` through this holder
    yields a real one (its statements, ``success``, ``apply_before`` depending on the
    policy) without adding anything twice: the statements are the policy's own.
    """

    def __init__(self, grantee: iam.IGrantable, policy: iam.ManagedPolicy) -> None:
        self._principal = grantee.grant_principal
        self._policy = policy

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self

    @property
    def assume_role_action(self) -> str:
        return self._principal.assume_role_action

    @property
    def policy_fragment(self) -> iam.PrincipalPolicyFragment:
        return self._principal.policy_fragment

    @property
    def principal_account(self) -> str | None:
        return self._principal.principal_account

    def add_to_policy(self, statement: iam.PolicyStatement) -> bool:
        return True

    def add_to_principal_policy(
        self, statement: iam.PolicyStatement
    ) -> iam.AddToPrincipalPolicyResult:
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._policy)


def grant_managed_policy(
    scope: IConstruct, grantee: iam.IGrantable, policy: iam.ManagedPolicy, alternative: str
) -> iam.Grant:
    """Attach ``policy`` to ``grantee``'s role, user or group and return the grant.

    An immutable imported role ignores the attachment: a warning on ``scope`` then says so
    and names the policy to attach by hand, and the grant returned is dropped
    (``success`` false). Other principals (a service, an account) raise ``TypeError``:
    only a role, user or group can have a managed policy.
    """
    if warn_if_immutable(scope, grantee, f"the managed policy {policy.node.path}"):
        return iam.Grant.drop(grantee, f"attach {policy.node.path}")
    attach_managed_policy(grantee, policy, alternative)
    holder = _PolicyHolder(grantee, policy)
    # Unresolved, so tokens stay strings, as Grant wants them.
    document = policy.document.to_json() or {}
    grants = [
        iam.Grant.add_to_principal(
            grantee=holder,
            actions=_listed(statement.get("Action")),
            resource_arns=_listed(statement.get("Resource")),
            conditions=statement.get("Condition"),
        )
        for statement in document.get("Statement", [])
        # The access policies hold Allow statements only; a Deny is not something granted.
        if statement.get("Effect") == "Allow" and "Action" in statement
    ]
    if not grants:
        return iam.Grant.drop(grantee, f"attach {policy.node.path} (it allows nothing)")
    grant = grants[0]
    for other in grants[1:]:
        grant = grant.combine(other)
    return grant


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]

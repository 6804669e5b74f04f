"""The SageMaker Model Registry: one model package group per model."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_constructs._nag import acknowledge_wildcards
from mlops_constructs._validation import PropsCheck

_GROUP_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class ModelRegistry(Construct):
    """Makes a model package group for one model.

    * Named ``group_name`` (SageMaker requires a name; 1-63 letters, digits and hyphens).
    * With ``reader_accounts`` (e.g. the staging and prod accounts, when they differ from
      this one), a resource policy lets those accounts describe the group and list and
      describe its packages, so they can deploy approved ones. No account is given write
      access. Without reader accounts, no resource policy.
    * Removal policy **RETAIN** by default: registered versions and their approval history
      are an audit trail.

    ``grant_register(role)`` lets a pipeline's role create packages in the group;
    ``version_arn(n)`` names one of its versions.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        group_name: str,
        description: str = "",
        reader_accounts: Sequence[str] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("ModelRegistry")
        check.require(
            bool(_GROUP_RE.match(group_name)),
            "group_name",
            group_name,
            "expected 1-63 letters, digits or hyphens, starting and ending with a letter or digit",
        )
        bad = [a for a in reader_accounts if not re.match(r"^\d{12}$", a)]
        check.require(not bad, "reader_accounts", bad, "expected 12-digit account ids")
        check.raise_if_any()
        stack = Stack.of(self)
        self.group_name = group_name
        self.group_arn = stack.format_arn(
            service="sagemaker", resource="model-package-group", resource_name=group_name
        )
        self.packages_arn = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{group_name}/*"
        )
        readers = [a for a in dict.fromkeys(reader_accounts) if a != stack.account]
        policy = None
        if readers:
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ReadApprovedModelsFromOtherAccounts",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": [f"arn:{stack.partition}:iam::{a}:root" for a in readers]
                        },
                        "Action": [
                            "sagemaker:DescribeModelPackageGroup",
                            "sagemaker:ListModelPackages",
                            "sagemaker:DescribeModelPackage",
                        ],
                        "Resource": [self.group_arn, self.packages_arn],
                    }
                ],
            }
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Resource",
            model_package_group_name=group_name,
            model_package_group_description=description or None,
            model_package_group_policy=policy,
        )
        self.group.apply_removal_policy(removal_policy)

    def version_arn(self, version: int) -> str:
        """The ARN of model package ``version`` of the group (to serve a pinned version)."""
        return Stack.of(self).format_arn(
            service="sagemaker",
            resource="model-package",
            resource_name=f"{self.group_name}/{version}",
        )

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` register model packages in the group."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackageGroup"],
            resource_arns=[self.group_arn, self.packages_arn],
        )
        if isinstance(grantee, Construct):
            acknowledge_wildcards(
                grantee,
                "Model package versions are numbered by SageMaker when registered; this is "
                "the one group's packages.",
                resources=[self.packages_arn],
            )
        return grant

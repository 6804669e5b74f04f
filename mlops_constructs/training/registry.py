"""The SageMaker Model Registry: one model package group per model."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.policies import add_statement_or_warn, grant_to_principal
from mlops_constructs.core.validation import PropsCheck, PropsError
from mlops_constructs.lake.interfaces import IArtifactStore
from mlops_constructs.training.interfaces import IModelRegistry

_GROUP_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def _check_group(check: PropsCheck, group_name: str, reader_accounts: Sequence[str]) -> None:
    """Raise every problem of a group name and reader accounts, made or imported alike."""
    check.require(
        bool(_GROUP_RE.match(group_name)),
        "group_name",
        group_name,
        "expected 1-63 letters, digits or hyphens, starting and ending with a letter or digit",
    )
    bad = [a for a in reader_accounts if not re.match(r"^\d{12}$", a)]
    check.require(not bad, "reader_accounts", bad, "expected 12-digit account ids")
    check.raise_if_any()


class _RegistryBase(Construct):
    """Grants and names of a model package group, made or imported."""

    group_name: str
    group_arn: str
    packages_arn: str
    reader_accounts: tuple[str, ...]

    def _set_names(self, group_name: str) -> None:
        stack = Stack.of(self)
        self.group_name = group_name
        self.group_arn = stack.format_arn(
            service="sagemaker", resource="model-package-group", resource_name=group_name
        )
        self.packages_arn = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{group_name}/*"
        )

    def version_arn(self, version: int) -> str:
        """The ARN of model package ``version`` of the group (to serve a pinned version)."""
        return Stack.of(self).format_arn(
            service="sagemaker",
            resource="model-package",
            resource_name=f"{self.group_name}/{version}",
        )

    def share_model_artifacts(self, artifacts: IArtifactStore, prefix: str) -> None:
        """Let the reader accounts read the model archives of the group's packages: the
        ``<prefix><training job>/output/model.tar.gz`` objects of ``artifacts`` (where
        SageMaker training and tuning jobs write them under their output path ``prefix``),
        and decrypt them with the artifacts key, through S3 only. Nothing else under
        ``prefix`` (checkpoints, other job output) and no other object is shared. Does nothing
        without reader accounts.

        The bucket policy and key policy change in the stacks that own the bucket and key.
        """
        if not self.reader_accounts:
            return
        if not prefix.endswith("/"):
            raise PropsError(
                f"ModelRegistry.share_model_artifacts: prefix {prefix!r} must end with /"
            )
        principals = [iam.AccountPrincipal(a) for a in self.reader_accounts]
        sid = "ModelRegistryReaders" + re.sub(r"[^A-Za-z0-9]", "", self.group_name)
        add_statement_or_warn(
            self,
            artifacts.bucket,
            iam.PolicyStatement(
                sid=sid,
                principals=principals,
                actions=["s3:GetObject"],
                resources=[artifacts.bucket.arn_for_objects(f"{prefix}*/output/model.tar.gz")],
            ),
        )
        # The key policy cannot name the bucket (its stack depends on the key's), so the
        # grant holds only for requests S3 makes on the readers' behalf; the bucket policy
        # above decides which objects those are.
        add_statement_or_warn(
            self,
            artifacts.encryption_key,
            iam.PolicyStatement(
                sid=sid,
                principals=principals,
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"s3.{Stack.of(artifacts.bucket).region}.amazonaws.com"
                    }
                },
            ),
        )

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` register model packages in the group."""
        grant = grant_to_principal(
            self,
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


class ModelRegistry(_RegistryBase):
    """Makes a model package group for one model.

    * Named ``group_name`` (SageMaker requires a name; 1-63 letters, digits and hyphens).
    * With ``reader_accounts`` (e.g. the staging and prod accounts, when they differ from
      this one), a resource policy lets those accounts describe the group and list and
      describe its packages, so they can deploy approved ones. No account is given write
      access. Without reader accounts, no resource policy.
    * Removal policy **RETAIN** by default: registered versions and their approval history
      are an audit trail.

    ``grant_register(role)`` lets a pipeline's role create packages in the group;
    ``version_arn(n)`` names one of its versions; ``share_model_artifacts(artifacts, prefix)``
    lets the reader accounts fetch the model archives the packages point to (without it they
    may describe a package but not deploy it). Defaults: no ``description``, no
    ``reader_accounts``, ``removal_policy`` RETAIN. A group made elsewhere is imported with
    :meth:`from_group_name`.
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
        _check_group(PropsCheck("ModelRegistry"), group_name, reader_accounts)
        stack = Stack.of(self)
        self._set_names(group_name)
        readers = [a for a in dict.fromkeys(reader_accounts) if a != stack.account]
        self.reader_accounts = tuple(readers)
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

    @classmethod
    def from_group_name(
        cls,
        scope: Construct,
        id: str,
        *,
        group_name: str,
        reader_accounts: Sequence[str] = (),
    ) -> IModelRegistry:
        """A model package group made elsewhere (in ``scope``'s account and region), to
        register into and to serve versions of. ``reader_accounts`` (none by default) are
        the accounts its resource policy lets read it, for ``share_model_artifacts``.
        Nothing is created."""
        return _ImportedRegistry(scope, id, group_name=group_name, reader_accounts=reader_accounts)


class _ImportedRegistry(_RegistryBase):
    """A model package group made elsewhere; see :meth:`ModelRegistry.from_group_name`."""

    def __init__(
        self, scope: Construct, id: str, *, group_name: str, reader_accounts: Sequence[str]
    ) -> None:
        super().__init__(scope, id)
        _check_group(PropsCheck("ModelRegistry.from_group_name"), group_name, reader_accounts)
        self._set_names(group_name)
        account = Stack.of(self).account
        self.reader_accounts = tuple(a for a in dict.fromkeys(reader_accounts) if a != account)

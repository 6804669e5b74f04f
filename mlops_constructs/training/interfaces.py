"""What other constructs need of a model registry.

:class:`~mlops_constructs.training.ModelRegistry` implements :class:`IModelRegistry`, and so
does what ``ModelRegistry.from_group_name`` returns, so a pipeline can register into a model
package group another app made.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aws_cdk import aws_iam as iam
from constructs import Node

from mlops_constructs.lake.interfaces import IArtifactStore


@runtime_checkable
class IModelRegistry(Protocol):
    """A SageMaker model package group."""

    @property
    def node(self) -> Node:
        """The construct node."""
        ...

    @property
    def group_name(self) -> str:
        """The model package group's name."""
        ...

    @property
    def group_arn(self) -> str:
        """The model package group's ARN."""
        ...

    @property
    def packages_arn(self) -> str:
        """The ARN pattern of every package (version) of the group."""
        ...

    def version_arn(self, version: int) -> str:
        """The ARN of one version of the group."""
        ...

    def share_model_artifacts(self, artifacts: IArtifactStore, prefix: str) -> None:
        """Let the group's reader accounts read its model archives under ``prefix``."""
        ...

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` register model packages in the group."""
        ...

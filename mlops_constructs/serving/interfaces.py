"""What other constructs need of a serving endpoint.

:class:`~mlops_constructs.serving.MultiModelEndpoint` and
:class:`~mlops_constructs.serving.ModelPackageEndpoint` implement :class:`IServingEndpoint`,
and so do the objects ``from_endpoint_attributes`` returns, so a deployer or a monitor can
be pointed at an endpoint another app deployed. :class:`IMultiModelEndpoint` is the kind
the :class:`~mlops_constructs.serving.ApprovedModelDeployer` can deploy into.
"""

from __future__ import annotations

from typing import Protocol, Unpack, runtime_checkable

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Node

from mlops_constructs.core.metrics import MetricOptionsArgs
from mlops_constructs.lake.interfaces import IArtifactStore


@runtime_checkable
class IServingEndpoint(Protocol):
    """A SageMaker endpoint whose data lives under ``endpoints/<name>/`` of an artifact store."""

    @property
    def node(self) -> Node:
        """The construct node."""
        ...

    @property
    def endpoint_name(self) -> str:
        """The endpoint's name."""
        ...

    @property
    def endpoint_arn(self) -> str:
        """The endpoint's ARN."""
        ...

    @property
    def artifacts(self) -> IArtifactStore:
        """The artifact store holding its models, captures and records."""
        ...

    @property
    def prefix(self) -> str:
        """``endpoints/<name>/``: its key prefix in the artifact store."""
        ...

    @property
    def multi_model(self) -> bool:
        """True when it hosts many models (``TargetModel``)."""
        ...

    @property
    def capture_percentage(self) -> int:
        """Share of requests captured (0 when capture is off)."""
        ...

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` invoke the endpoint."""
        ...

    def metric(
        self,
        name: str,
        *,
        namespace: str = "AWS/SageMaker",
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """A metric of the endpoint's production variant."""
        ...


@runtime_checkable
class IMultiModelEndpoint(IServingEndpoint, Protocol):
    """A multi-model endpoint: serves every archive under ``models_prefix``.

    Structurally a single-model endpoint looks alike; constructs that need a multi-model
    one check ``multi_model`` and raise ``PropsError`` otherwise."""

    @property
    def models_prefix(self) -> str:
        """``endpoints/<name>/models/``: the archives it serves."""
        ...

    @property
    def deployments_prefix(self) -> str:
        """``endpoints/<name>/deployments/``: records of what was deployed."""
        ...


@runtime_checkable
class IInferenceComponentEndpoint(IServingEndpoint, Protocol):
    """An endpoint hosting inference components, one per served model package group; the
    :class:`~mlops_constructs.serving.ApprovedModelDeployer` creates and updates them.
    Constructs that need one check ``inference_components``."""

    @property
    def inference_components(self) -> bool:
        """True: it hosts inference components (callers name ``InferenceComponentName``)."""
        ...

    @property
    def variant_name(self) -> str:
        """The production variant the components run on."""
        ...

    @property
    def execution_role(self) -> iam.IRole:
        """The role of the endpoint configuration, which its models run as too."""
        ...

    @property
    def subnet_ids(self) -> list[str]:
        """The subnets its models run in."""
        ...

    @property
    def security_group_ids(self) -> list[str]:
        """The security groups of its models."""
        ...

    @property
    def deployments_prefix(self) -> str:
        """``endpoints/<name>/deployments/``: records of what was deployed."""
        ...

    @property
    def scale_to_zero(self) -> bool:
        """True when the endpoint scales to zero instances (components get the wake-up)."""
        ...

    @property
    def component_names(self) -> dict[str, str]:
        """Per model package group, the name of its component."""
        ...

    def components_environment(self) -> str:
        """The deployer's ``COMPONENTS`` setting (a JSON object; may hold tokens)."""
        ...

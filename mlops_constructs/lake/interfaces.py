"""What other constructs need of a data lake and an artifact store.

:class:`~mlops_constructs.lake.DataLake` and :class:`~mlops_constructs.lake.ArtifactStore`
implement these, and so do the objects their ``from_*`` importers return, so a construct that
takes an ``IDataLake`` works as well with a lake deployed by another app.
"""

from __future__ import annotations

from typing import Protocol, Unpack, runtime_checkable

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Node

from mlops_constructs.core.metrics import MetricOptionsArgs


@runtime_checkable
class IDataLake(Protocol):
    """A data lake: one bucket per zone, all encrypted with one KMS key."""

    @property
    def node(self) -> Node:
        """The construct node (the lake's stack is ``Stack.of(lake)``)."""
        ...

    @property
    def encryption_key(self) -> kms.IKey:
        """The key every zone bucket is encrypted with."""
        ...

    @property
    def zones(self) -> list[str]:
        """The zone names."""
        ...

    def bucket(self, zone: str) -> s3.IBucket:
        """The bucket of ``zone``; ``KeyError`` naming the zones for another."""
        ...

    def grant_read(self, grantee: iam.IGrantable, zone: str, prefix: str = "") -> iam.Grant:
        """Let ``grantee`` read the objects under ``prefix`` of ``zone``."""
        ...

    def grant_read_write(self, grantee: iam.IGrantable, zone: str, prefix: str = "") -> iam.Grant:
        """Let ``grantee`` read and write the objects under ``prefix`` of ``zone``."""
        ...

    def grant_remediation(self, grantee: iam.IGrantable, *, delete: bool) -> iam.Grant:
        """Let ``grantee`` tag (and with ``delete``, delete versions of) any zone object."""
        ...

    def metric_bucket_size_bytes(
        self,
        zone: str,
        *,
        storage_type: str = "StandardStorage",
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Bytes stored in the zone's bucket in one storage class, daily."""
        ...

    def metric_number_of_objects(
        self,
        zone: str,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Objects (current and noncurrent versions) in the zone's bucket, daily."""
        ...


@runtime_checkable
class IArtifactStore(Protocol):
    """A bucket of ML artifacts encrypted with one KMS key."""

    @property
    def node(self) -> Node:
        """The construct node (the store's stack is ``Stack.of(store)``)."""
        ...

    @property
    def bucket(self) -> s3.IBucket:
        """The artifacts bucket."""
        ...

    @property
    def encryption_key(self) -> kms.IKey:
        """The key the bucket is encrypted with."""
        ...

    def grant_prefix(
        self,
        grantee: iam.IGrantable,
        prefix: str,
        *,
        write: bool = True,
        delete_versions: bool = False,
    ) -> iam.Grant:
        """Let ``grantee`` read (and write, and delete versions of) objects under ``prefix``."""
        ...

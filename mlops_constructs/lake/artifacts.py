"""The bucket of ML artifacts: models, checkpoints, evaluation reports, baselines, captures."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.core.s3 import (
    log_to,
    prefix_access_policy,
    secure_bucket,
)
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.lake._grants import grant_managed_policy
from mlops_constructs.lake.interfaces import IArtifactStore


class _ArtifactStoreBase(Construct):
    """The grants of an artifact store, made or imported (see :class:`ArtifactStore`)."""

    bucket: s3.IBucket
    encryption_key: kms.IKey
    _policies: dict[tuple[str, bool, bool], iam.ManagedPolicy]

    def grant_prefix(
        self,
        grantee: iam.IGrantable,
        prefix: str,
        *,
        write: bool = True,
        delete_versions: bool = False,
    ) -> iam.Grant:
        """Attach read (and with ``write``, on by default, write; with ``delete_versions``,
        off by default, permanent deletes of object versions too) access to the objects
        under ``prefix``, as a policy in this construct's stack, to ``grantee``'s role, user
        or group. Returns the grant; an immutable imported role cannot take the policy: the
        grant is then dropped with a warning annotation."""
        delete_versions = write and delete_versions
        key = (prefix, write, delete_versions)
        if key not in self._policies:
            mode = "ReadWriteDelete" if delete_versions else "ReadWrite" if write else "Read"
            name = "".join(p.capitalize() for p in prefix.replace("-", "/").split("/") if p)
            self._policies[key] = prefix_access_policy(
                self,
                f"{name or 'All'}{mode}Policy",
                bucket=self.bucket,
                key=self.encryption_key,
                prefix=prefix,
                write=write,
                delete_versions=delete_versions,
                description=f"{mode} artifacts under '{prefix}'",
                statement_label="Artifacts",
                key_statement="UseArtifactsKeyThroughS3",
            )
        return grant_managed_policy(
            self, grantee, self._policies[key], "artifacts.grant_prefix(...)"
        )


class ArtifactStore(_ArtifactStoreBase):
    """Makes the artifacts bucket: SSE-KMS with ``encryption_key`` (the ML-artifacts key) and
    bucket keys, private, TLS 1.2+ only, versioned, noncurrent versions expiring after
    ``noncurrent_version_expiration`` (90 days), retained by default (``removal_policy``
    ``RETAIN``; ``DESTROY`` also empties the bucket on delete), and, with
    ``access_log_bucket`` (none by default), its access logs there under ``artifacts/``.

    ``grant_prefix(grantee, prefix)`` attaches a policy (made in this construct's stack, so
    its object ARN stays exact) for the objects under one prefix. An artifact store made
    elsewhere is imported with :meth:`from_bucket`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: kms.IKey,
        access_log_bucket: s3.IBucket | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        noncurrent_version_expiration: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.encryption_key = encryption_key
        bucket = secure_bucket(
            self,
            "Bucket",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            auto_delete_objects=removal_policy == RemovalPolicy.DESTROY,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireNoncurrentVersions",
                    noncurrent_version_expiration=noncurrent_version_expiration
                    or Duration.days(90),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        self.bucket = bucket
        if access_log_bucket is not None:
            log_to(bucket, access_log_bucket, "artifacts/")
        self._policies = {}

    @classmethod
    def from_bucket(
        cls,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket | None = None,
        bucket_name: str | None = None,
        encryption_key: kms.IKey | None = None,
        encryption_key_arn: str | None = None,
    ) -> IArtifactStore:
        """An artifact store that already exists, to grant on and to pass to the serving,
        training and monitoring constructs.

        Give the bucket as ``bucket`` or ``bucket_name``, and its key as
        ``encryption_key`` or ``encryption_key_arn``: one of each. Nothing is created but
        the grant policies, in ``scope``'s stack. The bucket and key policies belong to the
        app that made them: statements this app would add to them are reported as
        warnings instead.
        """
        return _ImportedArtifactStore(
            scope,
            id,
            bucket=bucket,
            bucket_name=bucket_name,
            encryption_key=encryption_key,
            encryption_key_arn=encryption_key_arn,
        )


class _ImportedArtifactStore(_ArtifactStoreBase):
    """An artifact store made elsewhere; see :meth:`ArtifactStore.from_bucket`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket | None,
        bucket_name: str | None,
        encryption_key: kms.IKey | None,
        encryption_key_arn: str | None,
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("ArtifactStore.from_bucket")
        check.exactly_one({"bucket": bucket, "bucket_name": bucket_name}, "the bucket")
        check.exactly_one(
            {"encryption_key": encryption_key, "encryption_key_arn": encryption_key_arn},
            "the bucket's key",
        )
        check.raise_if_any()
        if encryption_key is None:
            assert encryption_key_arn is not None
            encryption_key = kms.Key.from_key_arn(self, "Key", encryption_key_arn)
        self.encryption_key = encryption_key
        if bucket is None:
            assert bucket_name is not None
            bucket = s3.Bucket.from_bucket_attributes(
                self, "Bucket", bucket_name=bucket_name, encryption_key=encryption_key
            )
        self.bucket = bucket
        self._policies = {}

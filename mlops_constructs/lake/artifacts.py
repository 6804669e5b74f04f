"""The bucket of ML artifacts: models, checkpoints, evaluation reports, baselines, captures."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.core.s3 import (
    attach_managed_policy,
    log_to,
    prefix_access_policy,
    secure_bucket,
)


class ArtifactStore(Construct):
    """Makes the artifacts bucket: SSE-KMS with ``encryption_key`` (the ML-artifacts key) and
    bucket keys, private, TLS 1.2+ only, versioned, noncurrent versions expiring after
    ``noncurrent_version_expiration`` (90 days), retained by default, and, with
    ``access_log_bucket``, its access logs there under ``artifacts/``.

    ``grant_prefix(grantee, prefix)`` attaches a policy (made in this construct's stack, so
    its object ARN stays exact) for the objects under one prefix.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: kms.IKey,
        access_log_bucket: s3.Bucket | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        noncurrent_version_expiration: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.encryption_key = encryption_key
        self.bucket = secure_bucket(
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
        if access_log_bucket is not None:
            log_to(self.bucket, access_log_bucket, "artifacts/")
        self._policies: dict[tuple[str, bool, bool], iam.ManagedPolicy] = {}

    def grant_prefix(
        self,
        grantee: iam.IGrantable,
        prefix: str,
        *,
        write: bool = True,
        delete_versions: bool = False,
    ) -> iam.IManagedPolicy:
        """Attach read (and with ``write``, write; with ``delete_versions``, permanent deletes
        of object versions too) access to the objects under ``prefix``."""
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
        return attach_managed_policy(grantee, self._policies[key], "artifacts.grant_prefix(...)")

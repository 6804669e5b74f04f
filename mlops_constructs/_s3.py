"""The bucket settings every platform bucket shares, and server access logging."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


def secure_bucket(
    scope: Construct,
    id: str,
    *,
    encryption_key: kms.IKey | None,
    removal_policy: RemovalPolicy,
    auto_delete_objects: bool = False,
    lifecycle_rules: Sequence[s3.LifecycleRule] | None = None,
) -> s3.Bucket:
    """A private, versioned, TLS 1.2+ only bucket without ACLs.

    SSE-KMS with ``encryption_key`` and S3 Bucket Keys, or SSE-S3 when the key is None
    (server access logs can only be delivered to SSE-S3 buckets).
    """
    encryption = (
        {
            "encryption": s3.BucketEncryption.KMS,
            "encryption_key": encryption_key,
            "bucket_key_enabled": True,
        }
        if encryption_key is not None
        else {"encryption": s3.BucketEncryption.S3_MANAGED}
    )
    return s3.Bucket(
        scope,
        id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        removal_policy=removal_policy,
        auto_delete_objects=auto_delete_objects,
        lifecycle_rules=list(lifecycle_rules) if lifecycle_rules else None,
        **encryption,
    )


def access_log_bucket(
    scope: Construct,
    id: str,
    *,
    purpose: str,
    removal_policy: RemovalPolicy,
    retention: Duration,
    abort_incomplete_multipart_upload_after: Duration,
    auto_delete_objects: bool = False,
) -> s3.Bucket:
    """A :func:`secure_bucket` (SSE-S3) for server access logs, expiring them after
    ``retention``. ``purpose`` completes the reason its own logging is acknowledged off."""
    bucket = secure_bucket(
        scope,
        id,
        encryption_key=None,
        removal_policy=removal_policy,
        auto_delete_objects=auto_delete_objects,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="ExpireAccessLogs",
                expiration=retention,
                noncurrent_version_expiration=Duration.days(1),
                abort_incomplete_multipart_upload_after=abort_incomplete_multipart_upload_after,
            )
        ],
    )
    Validations.of(bucket).acknowledge(
        Acknowledgment(
            id="AwsSolutions::AwsSolutions-S1",
            reason=(
                f"This is the server-access-log bucket of {purpose}: it receives their access "
                "logs, and logging it into itself would loop."
            ),
        )
    )
    return bucket


def log_to(bucket: s3.Bucket, log_bucket: s3.Bucket, prefix: str) -> None:
    """Send ``bucket``'s server access logs to ``log_bucket`` under ``prefix``.

    Set on the L1 resource with our own log-bucket policy rather than through
    Bucket(server_access_logs_bucket=...), whose grant depends on a feature flag
    (serverAccessLogsUseBucketPolicy) and falls back to ACLs in apps without it.
    """
    cfn = bucket.node.default_child
    assert isinstance(cfn, s3.CfnBucket)
    cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
        destination_bucket_name=log_bucket.bucket_name, log_file_prefix=prefix
    )
    log_bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AccessLogsFrom" + "".join(p.capitalize() for p in prefix.strip("/").split("-")),
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[log_bucket.arn_for_objects(f"{prefix}*")],
            conditions={
                "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Stack.of(bucket).account},
            },
        )
    )

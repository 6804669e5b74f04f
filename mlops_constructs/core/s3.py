"""The bucket settings every platform bucket shares, and server access logging."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.policies import add_statement_or_warn


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


def log_to(bucket: s3.Bucket, log_bucket: s3.IBucket, prefix: str) -> None:
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
    add_statement_or_warn(
        bucket,
        log_bucket,
        iam.PolicyStatement(
            sid="AccessLogsFrom" + "".join(p.capitalize() for p in prefix.strip("/").split("-")),
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[log_bucket.arn_for_objects(f"{prefix}*")],
            conditions={
                "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Stack.of(bucket).account},
            },
        ),
    )


def prefix_access_policy(
    scope: Construct,
    id: str,
    *,
    bucket: s3.IBucket,
    key: kms.IKey,
    prefix: str,
    write: bool,
    description: str,
    statement_label: str,
    key_statement: str,
    delete_versions: bool = False,
) -> iam.ManagedPolicy:
    """A customer-managed policy in ``scope``'s stack for the objects under ``prefix``.

    Read: list the prefix (``s3:ListBucket`` limited by ``s3:prefix``), locate the bucket,
    get objects and their versions, decrypt with ``key`` through S3. Write adds put, delete
    and multipart-upload actions, and encrypting with the key; ``delete_versions`` also
    deleting object versions (permanently).

    In the bucket's own stack the object ARN ``<bucket>/<prefix>*`` resolves there, so it
    stays exact and cdk-nag's finding on its wildcard is acknowledged once, with its reason,
    instead of in every stack that uses the bucket.
    """
    if prefix and not prefix.endswith("/"):
        raise ValueError(f"prefix {prefix!r}: expected a key prefix ending with '/', or ''")
    objects = bucket.arn_for_objects(f"{prefix}*")
    listing = iam.PolicyStatement(
        sid=f"List{statement_label}", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]
    )
    if prefix:
        listing.add_condition("StringLike", {"s3:prefix": [f"{prefix}*"]})
    statements = [
        listing,
        # Apart from the listing: GetBucketLocation requests carry no s3:prefix.
        iam.PolicyStatement(
            sid=f"Locate{statement_label}",
            actions=["s3:GetBucketLocation"],
            resources=[bucket.bucket_arn],
        ),
        iam.PolicyStatement(
            sid="ReadObjects", actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[objects]
        ),
    ]
    key_actions = ["kms:Decrypt"]
    if write:
        statements.append(
            iam.PolicyStatement(
                sid="WriteObjects",
                actions=[
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                    *(["s3:DeleteObjectVersion"] if delete_versions else []),
                ],
                resources=[objects],
            )
        )
        key_actions += ["kms:Encrypt", "kms:GenerateDataKey"]
    region = Stack.of(scope).region
    statements.append(
        iam.PolicyStatement(
            sid=key_statement,
            actions=key_actions,
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        )
    )
    policy = iam.ManagedPolicy(scope, id, description=description, statements=statements)
    acknowledge_wildcards(
        policy,
        "Grants the objects under one key prefix of one bucket; S3 names objects under a "
        "prefix only with a wildcard ARN.",
        resources=[objects],
    )
    return policy


def attach_managed_policy(
    grantee: iam.IGrantable, policy: iam.ManagedPolicy, alternative: str
) -> iam.IManagedPolicy:
    """Attach ``policy`` to ``grantee``'s role, user or group; ``alternative`` says what to
    attach by hand for other principals."""
    principal = grantee.grant_principal
    if not hasattr(principal, "add_managed_policy"):
        raise TypeError(
            f"this grant attaches a managed policy, so the grantee must be an IAM role, user "
            f"or group made in this app; got {type(principal).__name__}. For other "
            f"principals, attach {alternative} yourself."
        )
    principal.add_managed_policy(policy)
    return policy

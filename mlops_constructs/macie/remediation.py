"""Responding to Macie sensitive-data findings: quarantine or tag, and notify."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.core.cfn_fixes import drop_redundant_provider_dependency
from mlops_constructs.core.event_function import event_function
from mlops_constructs.core.metrics import EventFunctionMetrics
from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.s3 import access_log_bucket, log_to, secure_bucket
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.lake.interfaces import IDataLake
from mlops_constructs.macie.props import _AUTO_DELETE_PROVIDER


class MacieRemediation(EventFunctionMetrics, Construct):
    """Makes the response to Macie sensitive-data findings on the given lake's buckets.

    * An EventBridge rule: ``aws.macie`` / ``Macie Finding`` events (the legacy
      ``Macie Alert`` does not match) of a ``SensitiveData:`` type, severity score of at
      least ``min_severity_score`` (2 = Medium by default; Macie scores 1-3), on one of the
      lake's buckets, and nothing else.
    * A Lambda function (Python, ``macie/runtime/macie_remediation``) that, per ``mode``:
      ``quarantine`` (default) moves the exact object version to the quarantine bucket,
      verifying the copy before deleting the source; ``tag`` tags the object version with
      the finding, which the lake's bucket policy then refuses to serve. The version is the
      finding's, or for findings without one the version whose ETag and size match what
      Macie scanned; never a version written since. Either way it publishes a summary
      without sensitive values to the KMS-encrypted SNS ``topic``, and a "not remediated"
      notice with the finding id when it cannot act (the scanned version is gone).
      Timeout 15 minutes (copies of large objects), 1 GB memory, JSON logs kept
      ``log_retention`` (one year) in a log group encrypted with ``logs_key``.
    * A dead-letter queue (SQS, encrypted with ``logs_key``, TLS only, 14 days): failed
      invocations go there after two retries, and so do events EventBridge could not
      deliver after its own retries; a failure no retry can change (an object without
      room for the finding's tags) goes there at once, with its reason.
    * In ``quarantine`` mode, the quarantine bucket: SSE-KMS with the lake key, versioned,
      private, TLS only, retained (with ``RemovalPolicy.DESTROY``: deleted, after emptying
      itself), with access logs to its own log bucket, and a policy that denies object
      access to everyone but the remediation role and ``security_admin_role`` (when given).

    ``lake`` is an :class:`~mlops_constructs.lake.IDataLake`: a :class:`DataLake`, or one
    imported with ``DataLake.from_lake_attributes`` (then the remediation policy is made in
    the importing stack). ``metric_errors``, ``metric_invocations`` and
    ``metric_dead_letter_queue_depth`` take the ``cloudwatch.MetricOptions`` as keyword-only
    options.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lake: IDataLake,
        logs_key: kms.IKey,
        topic: sns.ITopic,
        mode: str = "quarantine",
        min_severity_score: int = 2,
        security_admin_role: iam.IRole | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("MacieRemediation")
        check.require(mode in ("quarantine", "tag"), "mode", mode, "expected 'quarantine' or 'tag'")
        check.require(
            1 <= min_severity_score <= 3,
            "min_severity_score",
            min_severity_score,
            "expected 1 (Low) to 3 (High)",
        )
        check.raise_if_any()
        self.mode = mode
        buckets = [lake.bucket(z) for z in lake.zones]

        self.quarantine_bucket: s3.Bucket | None = None
        if mode == "quarantine":
            self.quarantine_bucket = self._quarantine_bucket(lake.encryption_key, removal_policy)

        handler = event_function(
            self,
            handler="macie_remediation",
            description="Remediates Macie sensitive-data findings on the data lake",
            logs_key=logs_key,
            environment={
                "MODE": mode,
                "PLATFORM_BUCKETS": ",".join(b.bucket_name for b in buckets),
                "QUARANTINE_BUCKET": self.quarantine_bucket.bucket_name
                if self.quarantine_bucket
                else "",
                "QUARANTINE_KEY_ARN": lake.encryption_key.key_arn if self.quarantine_bucket else "",
                "TOPIC_ARN": topic.topic_arn,
            },
            # Copies and checksums of large objects.
            timeout=Duration.minutes(15),
            memory_size=1024,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.function = handler.function
        self.dead_letter_queue = handler.dead_letter_queue
        role = handler.role
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PublishSummaries", actions=["sns:Publish"], resources=[topic.topic_arn]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EncryptForTopic",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[logs_key.key_arn],
            )
        )
        lake.grant_remediation(role, delete=mode == "quarantine")
        if self.quarantine_bucket is not None:
            self._grant_quarantine(
                role, self.quarantine_bucket, lake.encryption_key, security_admin_role
            )
        self.rule = handler.add_rule(
            self,
            "SensitiveDataFindings",
            description="Macie sensitive-data findings on the data lake -> remediation",
            event_pattern=events.EventPattern(
                source=["aws.macie"],
                detail_type=["Macie Finding"],
                detail={
                    "category": ["CLASSIFICATION"],
                    "type": events.Match.prefix("SensitiveData:"),
                    "severity": {"score": events.Match.greater_than_or_equal(min_severity_score)},
                    "resourcesAffected": {"s3Bucket": {"name": [b.bucket_name for b in buckets]}},
                },
            ),
        )

    def _quarantine_bucket(self, key: kms.IKey, removal_policy: RemovalPolicy) -> s3.Bucket:
        auto_delete = removal_policy == RemovalPolicy.DESTROY
        access_logs = access_log_bucket(
            self,
            "QuarantineAccessLogs",
            purpose="the quarantine bucket",
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete,
            retention=Duration.days(731),
            abort_incomplete_multipart_upload_after=Duration.days(7),
        )
        bucket = secure_bucket(
            self,
            "QuarantineBucket",
            encryption_key=key,
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete,
        )
        if auto_delete:
            drop_redundant_provider_dependency(self, _AUTO_DELETE_PROVIDER)
        log_to(bucket, access_logs, "quarantine/")
        return bucket

    def _grant_quarantine(
        self,
        role: iam.IRole,
        bucket: s3.Bucket,
        key: kms.IKey,
        security_admin_role: iam.IRole | None,
    ) -> None:
        objects = bucket.arn_for_objects("*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QuarantineObjects",
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:GetObjectTagging",
                    "s3:PutObjectTagging",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                resources=[objects],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QuarantineListing", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QuarantineKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
            )
        )
        acknowledge_wildcards(
            role,
            "The function writes any object it quarantines into the quarantine bucket; object "
            "keys come from the findings.",
            resources=[objects],
        )
        allowed = [role.role_arn] + ([security_admin_role.role_arn] if security_admin_role else [])
        # A disposable (DESTROY) quarantine empties itself on delete: let that function in.
        provider = Stack.of(self).node.try_find_child(_AUTO_DELETE_PROVIDER)
        provider_role = provider.node.try_find_child("Role") if provider is not None else None
        if isinstance(provider_role, CfnResource):
            allowed.append(provider_role.get_att("Arn").to_string())
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyRemediationAndSecurityAdmins",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*", "s3:RestoreObject"],
                resources=[objects],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": allowed}},
            )
        )
        if security_admin_role is not None:
            bucket.grant_read(security_admin_role)

"""Amazon Macie: sensitive-data discovery over the lake, and remediation of what it finds."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_macie as macie
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct

from mlops_constructs._event_function import event_function
from mlops_constructs._nag import acknowledge_wildcards
from mlops_constructs._policies import add_statement_or_warn
from mlops_constructs._s3 import access_log_bucket, log_to, secure_bucket
from mlops_constructs._sdk_calls import acknowledge_sdk_function
from mlops_constructs._validation import PropsCheck
from mlops_constructs.cfn_fixes import drop_redundant_provider_dependency
from mlops_constructs.data_lake import DataLake

_SCHEDULES = ("daily", "weekly", "monthly")
_AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
#: Where Macie's service-linked role lives; it reads (and decrypts) the objects it scans.
_MACIE_SLR = "role/aws-service-role/macie.amazonaws.com/AWSServiceRoleForAmazonMacie"


@dataclass(frozen=True)
class CustomDataIdentifier:
    """A Macie custom data identifier: ``regex``, optionally within ``maximum_match_distance``
    characters of one of ``keywords``."""

    name: str
    regex: str
    keywords: Sequence[str] = ()
    maximum_match_distance: int = 50
    description: str = ""


@dataclass(frozen=True)
class AllowList:
    """Text that Macie must not report: matches of ``regex``."""

    name: str
    regex: str
    description: str = ""


@dataclass(frozen=True)
class DiscoverySchedule:
    """How often the classification job runs: ``daily``, ``weekly`` (on ``day``) or
    ``monthly`` (on ``day_of_month``)."""

    frequency: str = "weekly"
    day: str = "SUNDAY"
    day_of_month: int = 1

    def to_api(self) -> dict[str, object]:
        if self.frequency == "daily":
            return {"dailySchedule": {}}
        if self.frequency == "monthly":
            return {"monthlySchedule": {"dayOfMonth": self.day_of_month}}
        return {"weeklySchedule": {"dayOfWeek": self.day}}


def _bucket_identity(bucket: s3.IBucket) -> str:
    """What names ``bucket`` at synth time: its name when known, else its construct path.

    Buckets made by CloudFormation have generated names (unresolved tokens); their construct
    path is what fixes their logical id, so it changes exactly when the bucket does.
    """
    name = bucket.bucket_name
    return bucket.node.path if Token.is_unresolved(name) else name


class MacieDiscovery(Construct):
    """Makes Macie sensitive-data discovery for lake buckets.

    * The Macie session for the account and region, with ``finding_publishing_frequency``
      (one hour by default), only when ``manage_session`` is true (the default): there
      can be one session per account and region, so pass ``manage_session=False`` where
      Macie is already enabled. Deleting the stack then disables Macie only if the stack
      enabled it.
    * Custom data identifiers and allow lists, as CloudFormation resources.
    * A scheduled classification job over ``buckets`` (``weekly`` on Sunday by default),
      with the recommended managed data identifiers plus the custom ones and the allow
      lists, sampling ``sampling_percentage`` (100) of objects. CloudFormation has no type
      for jobs, so a custom resource calls ``CreateClassificationJob``. Jobs cannot be
      deleted: when the job's settings change, a new job is created and the previous one is
      cancelled; when the stack is deleted, its job is cancelled (it stays listed in Macie
      as cancelled). A job created with the same settings again reuses its idempotency
      token, so a retried deployment never duplicates it.
    * The lake key lets Macie's service-linked role decrypt objects, so it can scan them.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name_prefix: str,
        buckets: Sequence[s3.IBucket],
        bucket_keys: Sequence[kms.IKey] = (),
        manage_session: bool = True,
        finding_publishing_frequency: str = "ONE_HOUR",
        schedule: DiscoverySchedule | None = None,
        sampling_percentage: int = 100,
        custom_data_identifiers: Sequence[CustomDataIdentifier] = (),
        allow_lists: Sequence[AllowList] = (),
    ) -> None:
        super().__init__(scope, id)
        schedule = schedule or DiscoverySchedule()
        check = PropsCheck("MacieDiscovery")
        check.require(
            bool(_NAME_RE.match(name_prefix)),
            "name_prefix",
            name_prefix,
            "expected letters, digits, '-' or '_'",
        )
        check.require(
            bool(buckets), "buckets", list(buckets), "expected at least one bucket to scan"
        )
        check.require(
            finding_publishing_frequency in ("FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"),
            "finding_publishing_frequency",
            finding_publishing_frequency,
            "expected FIFTEEN_MINUTES, ONE_HOUR or SIX_HOURS",
        )
        check.require(
            schedule.frequency in _SCHEDULES,
            "schedule.frequency",
            schedule.frequency,
            f"expected one of {_SCHEDULES}",
        )
        check.require(
            schedule.day in _DAYS, "schedule.day", schedule.day, f"expected one of {_DAYS}"
        )
        check.require(
            1 <= schedule.day_of_month <= 31,
            "schedule.day_of_month",
            schedule.day_of_month,
            "expected 1 to 31",
        )
        check.require(
            1 <= sampling_percentage <= 100,
            "sampling_percentage",
            sampling_percentage,
            "expected 1 to 100",
        )
        for identifier in custom_data_identifiers:
            check.require(
                1 <= identifier.maximum_match_distance <= 300,
                "custom_data_identifiers.maximum_match_distance",
                identifier.maximum_match_distance,
                "expected 1 to 300 characters",
            )
            check.require(
                len(identifier.keywords) <= 50,
                "custom_data_identifiers.keywords",
                len(identifier.keywords),
                "expected at most 50 keywords",
            )
        check.raise_if_any()
        stack = Stack.of(self)

        self.session: macie.CfnSession | None = None
        if manage_session:
            self.session = macie.CfnSession(
                self,
                "Session",
                status="ENABLED",
                finding_publishing_frequency=finding_publishing_frequency,
            )
        self.custom_data_identifiers = [
            macie.CfnCustomDataIdentifier(
                self,
                f"Identifier{i}",
                name=f"{name_prefix}-{c.name}",
                regex=c.regex,
                keywords=list(c.keywords) or None,
                maximum_match_distance=c.maximum_match_distance,
                description=c.description or None,
            )
            for i, c in enumerate(custom_data_identifiers)
        ]
        self.allow_lists = [
            macie.CfnAllowList(
                self,
                f"AllowList{i}",
                name=f"{name_prefix}-{a.name}",
                description=a.description or None,
                criteria=macie.CfnAllowList.CriteriaProperty(regex=a.regex),
            )
            for i, a in enumerate(allow_lists)
        ]
        for resource in [*self.custom_data_identifiers, *self.allow_lists]:
            if self.session is not None:
                resource.node.add_dependency(self.session)

        self.job_request = {
            "jobType": "SCHEDULED",
            "scheduleFrequency": schedule.to_api(),
            "s3JobDefinition": {
                "bucketDefinitions": [
                    {"accountId": stack.account, "buckets": [b.bucket_name for b in buckets]}
                ]
            },
            "managedDataIdentifierSelector": "RECOMMENDED",
            "customDataIdentifierIds": [c.attr_id for c in self.custom_data_identifiers],
            "allowListIds": [a.attr_id for a in self.allow_lists],
            "samplingPercentage": sampling_percentage,
            "initialRun": True,
            "description": f"Sensitive-data discovery over the {name_prefix} data lake",
        }
        # Settings that are known at synth time decide the job's identity: a change makes a
        # new job (and cancels the old one); the same settings reuse the idempotency token.
        digest = hashlib.sha256(
            json.dumps(
                {
                    "schedule": schedule.to_api(),
                    "buckets": sorted(_bucket_identity(b) for b in buckets),
                    "sampling": sampling_percentage,
                    "identifiers": [vars(c) for c in custom_data_identifiers],
                    "allow": [vars(a) for a in allow_lists],
                    "prefix": name_prefix,
                },
                sort_keys=True,
                default=list,
            ).encode()
        ).hexdigest()[:12]
        create = cr.AwsSdkCall(
            service="Macie2",
            action="createClassificationJob",
            parameters={
                **self.job_request,
                "name": f"{name_prefix}-discovery-{digest}",
                "clientToken": f"{name_prefix}-{digest}",
            },
            physical_resource_id=cr.PhysicalResourceId.from_response("jobId"),
        )
        job_arns = stack.format_arn(
            service="macie2", resource="classification-job", resource_name="*"
        )
        self.job = cr.AwsCustomResource(
            self,
            "ClassificationJob",
            on_create=create,
            # A settings change creates the new job; its new id makes CloudFormation delete
            # the old resource, which cancels the old job.
            on_update=create,
            on_delete=cr.AwsSdkCall(
                service="Macie2",
                action="updateClassificationJob",
                parameters={"jobId": cr.PhysicalResourceIdReference(), "jobStatus": "CANCELLED"},
                # After a failed create there is no job to cancel; the rollback must not stick.
                ignore_error_codes_matching="ValidationException|ResourceNotFoundException",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=[
                            "macie2:CreateClassificationJob",
                            "macie2:UpdateClassificationJob",
                            "macie2:TagResource",
                        ],
                        resources=[job_arns],
                    ),
                    iam.PolicyStatement(
                        # Macie checks that the job may use these identifiers and lists.
                        actions=["macie2:GetCustomDataIdentifier", "macie2:GetAllowList"],
                        resources=[
                            stack.format_arn(
                                service="macie2",
                                resource="custom-data-identifier",
                                resource_name="*",
                            ),
                            stack.format_arn(
                                service="macie2", resource="allow-list", resource_name="*"
                            ),
                        ],
                    ),
                ]
            ),
            install_latest_aws_sdk=False,
        )
        # The job changes (replaced, with the old one cancelled) whenever the digest does.
        job_resource = self.job.node.find_child("Resource").node.default_child
        job_resource.add_property_override("SettingsDigest", digest)  # type: ignore[union-attr]
        if self.session is not None:
            self.job.node.add_dependency(self.session)
        policy = self.job.node.try_find_child("CustomResourcePolicy")
        if policy is not None:
            acknowledge_wildcards(
                policy,
                "Classification job ids, and the ids of the custom identifiers and allow lists "
                "the job uses, are assigned by Macie at run time; these are this account's and "
                "region's only.",
                resources=[
                    job_arns,
                    stack.format_arn(
                        service="macie2", resource="custom-data-identifier", resource_name="*"
                    ),
                    stack.format_arn(service="macie2", resource="allow-list", resource_name="*"),
                ],
            )
        acknowledge_sdk_function(self)

        slr = f"arn:{stack.partition}:iam::{stack.account}:{_MACIE_SLR}"
        for key in bucket_keys:
            add_statement_or_warn(
                self,
                key,
                iam.PolicyStatement(
                    sid="AllowMacieToDecryptObjectsItScans",
                    # A condition on the principal ARN, not the role as principal: the role
                    # exists only once Macie is enabled, and KMS rejects unknown principals.
                    principals=[iam.AnyPrincipal()],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={"ArnEquals": {"aws:PrincipalArn": slr}},
                ),
            )


class MacieRemediation(Construct):
    """Makes the response to Macie sensitive-data findings on the given lake's buckets.

    * An EventBridge rule: ``aws.macie`` / ``Macie Finding`` events (the legacy
      ``Macie Alert`` does not match) of a ``SensitiveData:`` type, severity score of at
      least ``min_severity_score`` (2 = Medium by default; Macie scores 1-3), on one of the
      lake's buckets, and nothing else.
    * A Lambda function (Python, ``lambda_src/macie_remediation``) that, per ``mode``:
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
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lake: DataLake,
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

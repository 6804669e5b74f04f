"""The S3 data lake: one KMS-encrypted bucket per zone, and a bucket for their access logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.core.cfn_fixes import drop_redundant_provider_dependency
from mlops_constructs.core.metrics import MetricOptionsArgs, metric_options
from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.s3 import (
    access_log_bucket,
    log_to,
    prefix_access_policy,
    secure_bucket,
)
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.lake._grants import grant_managed_policy
from mlops_constructs.lake.interfaces import IDataLake
from mlops_constructs.lake.props import DEFAULT_ZONES, zones_problems

_THIRTY_DAYS = Duration.days(30)
#: Objects carrying this tag (set by the Macie remediation in ``tag`` mode) cannot be read.
SENSITIVE_TAG_KEY = "macie-finding-id"


class _DataLakeBase(Construct):
    """Grants and metrics of a data lake, made or imported (see :class:`DataLake`)."""

    encryption_key: kms.IKey
    _buckets: dict[str, s3.IBucket]
    _policies: dict[tuple[str, str, bool], iam.ManagedPolicy]

    @property
    def zones(self) -> list[str]:
        """The zone names, in the order given."""
        return list(self._buckets)

    def bucket(self, zone: str) -> s3.IBucket:
        """The bucket of ``zone``; raises ``KeyError`` naming the zones that exist."""
        try:
            return self._buckets[zone]
        except KeyError:
            raise KeyError(f"no zone {zone!r} in this data lake; zones are {self.zones}") from None

    def access_policy(
        self, zone: str, prefix: str = "", *, write: bool = False
    ) -> iam.ManagedPolicy:
        """A customer-managed policy, in this construct's stack, for the objects under ``prefix``.

        Read: list the prefix (``s3:ListBucket`` limited by ``s3:prefix``), get objects and
        their versions, decrypt with the lake key through S3. Write adds put, delete and
        multipart-upload actions, and encrypting with the key. One policy per zone, prefix
        and mode, made once and reused.

        Why a managed policy in this construct's stack rather than statements on the
        grantee: the object ARN ``<bucket>/<prefix>*`` then resolves inside one stack, so it
        stays exact and cdk-nag's wildcard finding on it is acknowledged once, here, with
        its reason, instead of in every stack that uses the lake. For a lake made in
        another stack, that is the lake's stack; a consumer that wants its grants in its own
        stack imports the lake there with :meth:`DataLake.from_lake_attributes`.
        """
        bucket = self.bucket(zone)
        if prefix and not prefix.endswith("/"):
            raise ValueError(f"prefix {prefix!r}: expected a key prefix ending with '/', or ''")
        cache_key = (zone, prefix, write)
        if cache_key in self._policies:
            return self._policies[cache_key]
        mode = "ReadWrite" if write else "Read"
        path = "".join(p.capitalize() for p in prefix.strip("/").replace("-", "/").split("/") if p)
        policy = prefix_access_policy(
            self,
            f"{_zone_id(zone)}{path or 'All'}{mode}Policy",
            bucket=bucket,
            key=self.encryption_key,
            prefix=prefix,
            write=write,
            description=f"{mode} objects under '{prefix}' of the {zone} zone of the data lake",
            statement_label="Zone",
            key_statement="UseLakeKeyThroughS3",
        )
        self._policies[cache_key] = policy
        return policy

    def grant_remediation(self, grantee: iam.IGrantable, *, delete: bool) -> iam.Grant:
        """Attach a policy (in this construct's stack) for remediating findings on any zone object:
        read objects and versions, read and write their tags, and with ``delete`` delete
        object versions; decrypt through S3 with the lake key."""
        cache_key = ("*", "remediation", delete)
        policy = self._policies.get(cache_key)
        if policy is None:
            objects = [self.bucket(z).arn_for_objects("*") for z in self.zones]
            actions = [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:GetObjectTagging",
                "s3:GetObjectVersionTagging",
                "s3:PutObjectTagging",
                "s3:PutObjectVersionTagging",
            ]
            if delete:
                actions += ["s3:DeleteObject", "s3:DeleteObjectVersion"]
            stack = Stack.of(self)
            policy = iam.ManagedPolicy(
                self,
                "DeleteRemediationPolicy" if delete else "TagRemediationPolicy",
                description="Remediate sensitive-data findings on objects of every lake zone",
                statements=[
                    iam.PolicyStatement(
                        sid="ListZones",
                        actions=["s3:ListBucket", "s3:ListBucketVersions"],
                        resources=[self.bucket(z).bucket_arn for z in self.zones],
                    ),
                    iam.PolicyStatement(sid="RemediateObjects", actions=actions, resources=objects),
                    iam.PolicyStatement(
                        sid="UseLakeKeyThroughS3",
                        actions=["kms:Decrypt"],
                        resources=[self.encryption_key.key_arn],
                        conditions={
                            "StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}
                        },
                    ),
                ],
            )
            acknowledge_wildcards(
                policy,
                "Findings can name any object of any lake zone; the object keys are known only "
                "when a finding arrives.",
                resources=objects,
            )
            self._policies[cache_key] = policy
        return self._attach(grantee, policy)

    def grant_read(self, grantee: iam.IGrantable, zone: str, prefix: str = "") -> iam.Grant:
        """Attach :meth:`access_policy` (read) to ``grantee``'s role, user or group.

        Returns the grant (its statements are the policy's). An immutable imported role
        cannot take the policy: the grant is then dropped with a warning annotation; a
        principal that is no role, user or group raises ``TypeError``.
        """
        return self._attach(grantee, self.access_policy(zone, prefix))

    def grant_read_write(self, grantee: iam.IGrantable, zone: str, prefix: str = "") -> iam.Grant:
        """Attach :meth:`access_policy` (read and write) to ``grantee``, as :meth:`grant_read`."""
        return self._attach(grantee, self.access_policy(zone, prefix, write=True))

    def _attach(self, grantee: iam.IGrantable, policy: iam.ManagedPolicy) -> iam.Grant:
        return grant_managed_policy(self, grantee, policy, "lake.access_policy(...)")

    def metric_bucket_size_bytes(
        self,
        zone: str,
        *,
        storage_type: str = "StandardStorage",
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Bytes stored in ``zone``'s bucket in ``storage_type`` (``StandardStorage`` by
        default; objects Intelligent-Tiering moved are under ``IntelligentTiering*Storage``),
        the daily S3 storage metric (no metrics configuration needed): average over 1 day
        by default. The keyword-only options are ``cloudwatch.MetricOptions``'; a
        ``dimensions_map`` is merged over the bucket's."""
        return self._storage_metric("BucketSizeBytes", zone, storage_type, options)

    def metric_number_of_objects(
        self,
        zone: str,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Objects (current and noncurrent versions) in ``zone``'s bucket, the daily S3
        storage metric: average over 1 day by default; options as
        :meth:`metric_bucket_size_bytes`."""
        return self._storage_metric("NumberOfObjects", zone, "AllStorageTypes", options)

    def _storage_metric(
        self, name: str, zone: str, storage_type: str, given: Mapping[str, Any]
    ) -> cloudwatch.Metric:
        # S3 publishes storage metrics once a day; a shorter period would show no data.
        options = metric_options(
            given,
            dimensions_map={
                "BucketName": self.bucket(zone).bucket_name,
                "StorageType": storage_type,
            },
            statistic="Average",
            period=Duration.days(1),
        )
        return cloudwatch.Metric(namespace="AWS/S3", metric_name=name, **options)


class DataLake(_DataLakeBase):
    """Makes one S3 bucket per zone of the lake, plus a server-access-log bucket.

    Every zone bucket, by default:

    * SSE-KMS with ``encryption_key`` and S3 Bucket Keys on (fewer KMS calls, lower cost);
    * Block Public Access all on, object ownership enforced (ACLs disabled);
    * versioning on; noncurrent versions expire after ``noncurrent_version_expiration``
      (90 days), incomplete multipart uploads are aborted after
      ``abort_incomplete_multipart_upload_after`` (7 days), and current objects move to
      Intelligent-Tiering after ``intelligent_tiering_after`` (30 days; ``None`` to keep
      them in S3 Standard);
    * server access logs to the log bucket, under ``<zone>/``;
    * EventBridge notifications on (natively, no notifications Lambda), so other stacks can
      react to new objects with EventBridge rules; don't also use
      ``bucket.add_event_notification``, whose custom resource would replace that setting;
    * removal policy **RETAIN**; with ``RemovalPolicy.DESTROY`` (a dev environment), the
      buckets also empty themselves on delete unless ``auto_delete_objects=False``.

    What the construct always enforces (after defaults and props), in each bucket policy:

    * deny any request not sent over TLS, and TLS older than 1.2;
    * deny reads of objects tagged ``macie-finding-id`` (flagged as sensitive by the Macie
      remediation), for every principal;
    * with ``enforce_kms_uploads`` (on by default), deny uploads that ask for an encryption
      other than SSE-KMS with ``encryption_key`` (uploads that name no encryption get the
      bucket default, which is that key).

    The access-log bucket uses SSE-S3, because S3 server access logging cannot deliver to
    an SSE-KMS bucket; it is TLS-only, private, versioned, and expires logs after
    ``access_log_retention`` (365 days).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: kms.IKey,
        zones: Sequence[str] = DEFAULT_ZONES,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        auto_delete_objects: bool | None = None,
        enforce_kms_uploads: bool = True,
        noncurrent_version_expiration: Duration | None = None,
        abort_incomplete_multipart_upload_after: Duration | None = None,
        intelligent_tiering_after: Duration | None = _THIRTY_DAYS,
        access_log_retention: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        noncurrent = noncurrent_version_expiration or Duration.days(90)
        abort_after = abort_incomplete_multipart_upload_after or Duration.days(7)
        log_retention = access_log_retention or Duration.days(365)
        destroy = removal_policy == RemovalPolicy.DESTROY
        auto_delete = destroy if auto_delete_objects is None else auto_delete_objects

        check = PropsCheck("DataLake")
        for field, got, expected in zones_problems(zones):
            check.require(False, field, got, expected)
        check.require(
            not auto_delete or destroy,
            "auto_delete_objects",
            auto_delete_objects,
            "only possible with removal_policy=RemovalPolicy.DESTROY",
        )
        check.require(
            1 <= noncurrent.to_days() <= 3650,
            "noncurrent_version_expiration",
            f"{noncurrent.to_days()} days",
            "expected 1 to 3650 days",
        )
        check.require(
            1 <= abort_after.to_days() <= 365,
            "abort_incomplete_multipart_upload_after",
            f"{abort_after.to_days()} days",
            "expected 1 to 365 days",
        )
        if intelligent_tiering_after is not None:
            check.require(
                intelligent_tiering_after.to_days() >= 0,
                "intelligent_tiering_after",
                f"{intelligent_tiering_after.to_days()} days",
                "expected 0 days or more, or None for no tiering",
            )
        check.require(
            log_retention.to_days() >= 1,
            "access_log_retention",
            f"{log_retention.to_days()} days",
            "expected 1 day or more",
        )
        check.raise_if_any()

        self.encryption_key = encryption_key
        self._policies = {}
        self.access_log_bucket = access_log_bucket(
            self,
            "AccessLogs",
            purpose="the data lake's zone buckets",
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete,
            retention=log_retention,
            abort_incomplete_multipart_upload_after=abort_after,
        )

        transitions = (
            [
                s3.Transition(
                    storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                    transition_after=intelligent_tiering_after,
                )
            ]
            if intelligent_tiering_after is not None
            else None
        )
        self._buckets = {}
        for zone in zones:
            bucket = secure_bucket(
                self,
                _zone_id(zone),
                encryption_key=encryption_key,
                removal_policy=removal_policy,
                auto_delete_objects=auto_delete,
                lifecycle_rules=[
                    s3.LifecycleRule(
                        id="ExpireNoncurrentVersions",
                        noncurrent_version_expiration=noncurrent,
                        abort_incomplete_multipart_upload_after=abort_after,
                        transitions=transitions,
                    )
                ],
            )
            log_to(bucket, self.access_log_bucket, f"{zone}/")
            self._notify_event_bridge(bucket)
            self._deny_reads_of_flagged_objects(bucket)
            if enforce_kms_uploads:
                self._deny_other_encryption(bucket, encryption_key)
            self._buckets[zone] = bucket
        if auto_delete:
            drop_redundant_provider_dependency(
                self, "Custom::S3AutoDeleteObjectsCustomResourceProvider"
            )

    @classmethod
    def from_lake_attributes(
        cls,
        scope: Construct,
        id: str,
        *,
        bucket_names: Mapping[str, str] | None = None,
        buckets: Mapping[str, s3.IBucket] | None = None,
        encryption_key: kms.IKey | None = None,
        encryption_key_arn: str | None = None,
    ) -> IDataLake:
        """A lake that already exists (made by another app or stack), to grant on.

        Give the zone buckets as ``bucket_names`` (zone -> bucket name) or ``buckets``
        (zone -> ``s3.IBucket``), and the key as ``encryption_key`` or
        ``encryption_key_arn``: one of each. Nothing is created but the grant policies,
        and those in ``scope``'s stack, so importing the lake in a consumer's stack keeps
        that consumer's grants there (the lake's stack is not touched).

        The bucket and key policies belong to the app that made them: statements this app
        would add to them (for instance the registry sharing model archives) are reported
        as warnings instead.
        """
        return _ImportedDataLake(
            scope,
            id,
            bucket_names=bucket_names,
            buckets=buckets,
            encryption_key=encryption_key,
            encryption_key_arn=encryption_key_arn,
        )

    @staticmethod
    def _deny_reads_of_flagged_objects(bucket: s3.Bucket) -> None:
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyReadsOfObjectsFlaggedAsSensitive",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects("*")],
                conditions={"Null": {f"s3:ExistingObjectTag/{SENSITIVE_TAG_KEY}": "false"}},
            )
        )

    @staticmethod
    def _notify_event_bridge(bucket: s3.Bucket) -> None:
        # Native CloudFormation: Bucket(event_bridge_enabled=True) instead deploys a
        # notifications Lambda (Custom::S3BucketNotifications) to do the same thing.
        cfn = bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )

    @staticmethod
    def _deny_other_encryption(bucket: s3.Bucket, key: kms.IKey) -> None:
        objects = bucket.arn_for_objects("*")
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyUploadsNotEncryptedWithTheLakeKey",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[objects],
                conditions={
                    "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
                },
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyUploadsWithAnotherKmsKey",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[objects],
                conditions={
                    "StringNotEqualsIfExists": {
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": key.key_arn
                    }
                },
            )
        )


class _ImportedDataLake(_DataLakeBase):
    """A data lake made elsewhere; see :meth:`DataLake.from_lake_attributes`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket_names: Mapping[str, str] | None,
        buckets: Mapping[str, s3.IBucket] | None,
        encryption_key: kms.IKey | None,
        encryption_key_arn: str | None,
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("DataLake.from_lake_attributes")
        check.exactly_one(
            {"bucket_names": bucket_names, "buckets": buckets},
            "the zone buckets (bucket_names: zone -> name)",
        )
        check.exactly_one(
            {"encryption_key": encryption_key, "encryption_key_arn": encryption_key_arn},
            "the lake key",
        )
        zones = list(bucket_names or buckets or {})
        for _, got, expected in zones_problems(zones):
            check.require(False, "bucket_names", got, expected)
        check.raise_if_any()
        if encryption_key is None:
            assert encryption_key_arn is not None
            encryption_key = kms.Key.from_key_arn(self, "Key", encryption_key_arn)
        self.encryption_key = encryption_key
        self._policies = {}
        self._buckets = {}
        for zone in zones:
            if buckets is not None:
                self._buckets[zone] = buckets[zone]
            else:
                assert bucket_names is not None
                self._buckets[zone] = s3.Bucket.from_bucket_attributes(
                    self,
                    _zone_id(zone),
                    bucket_name=bucket_names[zone],
                    encryption_key=encryption_key,
                )


def _zone_id(zone: str) -> str:
    """Construct id of a zone's bucket: ``feature-store`` -> ``FeatureStoreBucket``."""
    return "".join(part.capitalize() for part in zone.split("-")) + "Bucket"

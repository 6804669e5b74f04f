"""DataLake: encrypted, private, TLS-only, versioned zone buckets with exact access policies."""

from __future__ import annotations

import pytest
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match

from mlops_constructs import DataLake, PropsError
from tests.helpers import acknowledged_rules, synth_construct


def _lake(stack, **props):
    key = kms.Key(stack, "LakeKey", enable_key_rotation=True)
    return DataLake(stack, "Lake", encryption_key=key, **props)


@pytest.fixture(scope="module")
def default_lake():
    def build(stack):
        lake = _lake(stack)
        role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
        lake.grant_read(role, "raw", "customers/")
        lake.grant_read_write(role, "curated", "customers/")
        return lake

    return synth_construct(build)


def _zone_buckets(template):
    return {
        logical_id: resource
        for logical_id, resource in template.find_resources("AWS::S3::Bucket").items()
        if not logical_id.startswith("LakeAccessLogs")
    }


def test_one_bucket_per_default_zone_plus_access_logs(default_lake):
    template, lake, _ = default_lake
    template.resource_count_is("AWS::S3::Bucket", 4)
    assert lake.zones == ["raw", "curated", "analytics"]
    assert sorted(_zone_buckets(template)) == sorted(
        [lake.bucket(z).stack.get_logical_id(lake.bucket(z).node.default_child) for z in lake.zones]
    )


def test_zone_buckets_use_the_lake_key_with_bucket_keys(default_lake):
    template, _, _ = default_lake
    for bucket in _zone_buckets(template).values():
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["BucketKeyEnabled"] is True
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0].startswith(
            "LakeKey"
        )


def test_every_bucket_is_private_versioned_without_acls(default_lake):
    template, _, _ = default_lake
    template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
        },
    )


def test_zone_lifecycle_defaults(default_lake):
    template, _, _ = default_lake
    for bucket in _zone_buckets(template).values():
        assert bucket["Properties"]["LifecycleConfiguration"]["Rules"] == [
            {
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                "Id": "ExpireNoncurrentVersions",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                "Status": "Enabled",
                "Transitions": [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 30}],
            }
        ]


def test_access_logs_and_event_bridge_on_every_zone(default_lake):
    template, lake, _ = default_lake
    log_bucket = lake.access_log_bucket.stack.get_logical_id(
        lake.access_log_bucket.node.default_child
    )
    for zone in lake.zones:
        bucket = lake.bucket(zone)
        props = _zone_buckets(template)[bucket.stack.get_logical_id(bucket.node.default_child)][
            "Properties"
        ]
        assert props["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": log_bucket},
            "LogFilePrefix": f"{zone}/",
        }
        assert props["NotificationConfiguration"] == {
            "EventBridgeConfiguration": {"EventBridgeEnabled": True}
        }
    # Natively: no notifications Lambda.
    template.resource_count_is("Custom::S3BucketNotifications", 0)


def _policy_statements(template, bucket_logical_id):
    for policy in template.find_resources("AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket_logical_id}:
            return policy["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(f"no bucket policy for {bucket_logical_id}")


def test_bucket_policies_deny_insecure_transport_and_old_tls(default_lake):
    template, lake, _ = default_lake
    for bucket in [lake.access_log_bucket, *(lake.bucket(z) for z in lake.zones)]:
        statements = _policy_statements(
            template, bucket.stack.get_logical_id(bucket.node.default_child)
        )
        denies = [s for s in statements if s["Effect"] == "Deny" and s["Action"] == "s3:*"]
        conditions = [s["Condition"] for s in denies]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions
        for deny in denies:
            assert deny["Principal"] == {"AWS": "*"}


def test_uploads_with_other_encryption_are_denied(default_lake):
    template, lake, _ = default_lake
    bucket = lake.bucket("raw")
    statements = {
        s.get("Sid"): s
        for s in _policy_statements(
            template, bucket.stack.get_logical_id(bucket.node.default_child)
        )
    }
    assert statements["DenyUploadsNotEncryptedWithTheLakeKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }
    other_key = statements["DenyUploadsWithAnotherKmsKey"]
    assert other_key["Effect"] == "Deny"
    assert other_key["Action"] == "s3:PutObject"
    condition = other_key["Condition"]["StringNotEqualsIfExists"]
    assert condition["s3:x-amz-server-side-encryption-aws-kms-key-id"]["Fn::GetAtt"][1] == "Arn"


def test_objects_flagged_as_sensitive_cannot_be_read(default_lake):
    template, lake, _ = default_lake
    for zone in lake.zones:
        bucket = lake.bucket(zone)
        statements = {
            s.get("Sid"): s
            for s in _policy_statements(
                template, bucket.stack.get_logical_id(bucket.node.default_child)
            )
        }
        deny = statements["DenyReadsOfObjectsFlaggedAsSensitive"]
        assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
        assert deny["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
        assert deny["Condition"] == {"Null": {"s3:ExistingObjectTag/macie-finding-id": "false"}}


def test_access_log_bucket_accepts_only_s3_logging_per_zone_prefix(default_lake):
    template, lake, _ = default_lake
    log_bucket = lake.access_log_bucket
    statements = _policy_statements(
        template, log_bucket.stack.get_logical_id(log_bucket.node.default_child)
    )
    allows = [
        s
        for s in statements
        if s["Effect"] == "Allow" and s.get("Sid", "").startswith("AccessLogs")
    ]
    assert len(allows) == 3
    for statement in allows:
        assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
        assert statement["Action"] == "s3:PutObject"
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "284751930618"}
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with([Match.object_like({"ExpirationInDays": 365})])
            },
        },
    )


def test_retained_by_default(default_lake):
    template, _, _ = default_lake
    for bucket in template.find_resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_read_policy_is_exact_and_in_the_lake_stack(default_lake):
    template, lake, _ = default_lake
    raw = lake.bucket("raw").stack.get_logical_id(lake.bucket("raw").node.default_child)
    policy = template.find_resources(
        "AWS::IAM::ManagedPolicy",
        {
            "Properties": {
                "Description": "Read objects under 'customers/' of the raw zone of the data lake"
            }
        },
    )
    ((_, resource),) = policy.items()
    statements = {s["Sid"]: s for s in resource["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["ListZone"]["Action"] == "s3:ListBucket"
    assert statements["ListZone"]["Condition"] == {"StringLike": {"s3:prefix": ["customers/*"]}}
    # GetBucketLocation carries no s3:prefix, so it must not sit behind that condition.
    assert statements["LocateZone"]["Action"] == "s3:GetBucketLocation"
    assert "Condition" not in statements["LocateZone"]
    assert statements["ReadObjects"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert statements["ReadObjects"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [raw, "Arn"]}, "/customers/*"]]
    }
    assert "WriteObjects" not in statements
    assert statements["UseLakeKeyThroughS3"]["Action"] == "kms:Decrypt"
    assert statements["UseLakeKeyThroughS3"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    }
    # No s3:* and no action wildcards anywhere in the lake's grants.
    for managed in template.find_resources("AWS::IAM::ManagedPolicy").values():
        for statement in managed["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert not any("*" in a for a in actions), statement


def test_read_write_policy_adds_writes_and_encryption(default_lake):
    template, _, _ = default_lake
    ((_, resource),) = template.find_resources(
        "AWS::IAM::ManagedPolicy",
        {
            "Properties": {
                "Description": Match.string_like_regexp(
                    "ReadWrite objects under 'customers/' of the curated"
                )
            }
        },
    ).items()
    statements = {s["Sid"]: s for s in resource["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["WriteObjects"]["Action"] == [
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    ]
    assert statements["UseLakeKeyThroughS3"]["Action"] == [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
    ]


def test_grants_attach_the_policies_to_the_role(default_lake):
    template, _, _ = default_lake
    (role,) = template.find_resources("AWS::IAM::Role").values()
    assert len(role["Properties"]["ManagedPolicyArns"]) == 2


def test_object_wildcards_are_acknowledged_once_per_policy(default_lake):
    _, lake, _ = default_lake
    acks = acknowledged_rules(lake)
    iam5 = sorted(rule for _, rule, _ in acks if "IAM5" in rule)
    assert len(iam5) == 2
    assert all(r.endswith("/customers/*]") for r in iam5)
    assert all(path.endswith("Policy") or path.endswith("AccessLogs") for path, _, _ in acks)


def test_policies_are_reused_and_prefixes_checked():
    def build(stack):
        lake = _lake(stack)
        first = lake.access_policy("raw", "a/")
        assert lake.access_policy("raw", "a/") is first
        assert lake.access_policy("raw", "a/", write=True) is not first
        with pytest.raises(ValueError, match="ending with '/'"):
            lake.access_policy("raw", "a")
        with pytest.raises(KeyError, match="zones are"):
            lake.bucket("gold")
        return lake

    synth_construct(build)


def test_dev_overrides_destroy_and_auto_delete_and_custom_lifecycle():
    template, lake, _ = synth_construct(
        lambda stack: _lake(
            stack,
            zones=["landing", "feature-store"],
            removal_policy=RemovalPolicy.DESTROY,
            noncurrent_version_expiration=Duration.days(7),
            intelligent_tiering_after=None,
            access_log_retention=Duration.days(30),
            enforce_kms_uploads=False,
        )
    )
    assert lake.zones == ["landing", "feature-store"]
    template.resource_count_is("AWS::S3::Bucket", 3)
    for bucket in template.find_resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Delete"
    template.resource_count_is("Custom::S3AutoDeleteObjects", 3)
    for bucket in _zone_buckets(template).values():
        (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
        assert "Transitions" not in rule
    policies = template.to_json()["Resources"]
    sids = [
        s.get("Sid")
        for r in policies.values()
        if r["Type"] == "AWS::S3::BucketPolicy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert "DenyUploadsNotEncryptedWithTheLakeKey" not in sids


def test_invalid_props_are_all_reported():
    with pytest.raises(PropsError) as caught:
        synth_construct(
            lambda stack: _lake(
                stack,
                zones=["Raw", "raw", "raw"],
                auto_delete_objects=True,
                noncurrent_version_expiration=Duration.days(0),
            ),
            nag=False,
        )
    message = str(caught.value)
    assert "zones: got ['Raw']" in message
    assert "expected each zone once" in message
    assert "auto_delete_objects: got True; only possible with removal_policy" in message
    assert "noncurrent_version_expiration: got '0 days'" in message


def test_grant_to_a_non_role_is_refused():
    def build(stack):
        lake = _lake(stack)
        with pytest.raises(TypeError, match=r"attach lake\.access_policy"):
            lake.grant_read(iam.AccountRootPrincipal(), "raw")
        return lake

    synth_construct(build)


def test_storage_metrics_are_daily_per_zone_and_take_metric_options(default_lake):
    _, lake, stack = default_lake
    size = lake.metric_bucket_size_bytes("raw")
    assert (size.namespace, size.metric_name, size.statistic) == (
        "AWS/S3",
        "BucketSizeBytes",
        "Average",
    )
    assert size.period.to_days() == 1
    dimensions = stack.resolve(size.dimensions)
    assert dimensions["StorageType"] == "StandardStorage"
    assert dimensions["BucketName"] == {
        "Ref": stack.get_logical_id(lake.bucket("raw").node.default_child)
    }
    objects = lake.metric_number_of_objects(
        "curated", statistic="Maximum", label="objects", dimensions_map={"Extra": "x"}
    )
    assert (objects.statistic, objects.label) == ("Maximum", "objects")
    # A caller's dimensions add to the bucket's, never replace them.
    assert set(stack.resolve(objects.dimensions)) == {"BucketName", "StorageType", "Extra"}
    assert stack.resolve(objects.dimensions)["StorageType"] == "AllStorageTypes"
    tiered = lake.metric_bucket_size_bytes("raw", storage_type="IntelligentTieringFAStorage")
    assert tiered.dimensions["StorageType"] == "IntelligentTieringFAStorage"


def test_grants_return_the_grant(default_lake):
    _, lake, stack = default_lake
    role = iam.Role(stack, "Another", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
    grant = lake.grant_read(role, "raw", "customers/")
    assert isinstance(grant, iam.Grant) and grant.success
    assert any("s3:GetObject" in st.actions for st in grant.principal_statements)

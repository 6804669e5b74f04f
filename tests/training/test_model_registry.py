"""ModelRegistry: a named, retained model package group, readable by other accounts if asked."""

from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam

from mlops_constructs import PropsError
from mlops_constructs.training.registry import ModelRegistry
from tests.helpers import synth_construct


def test_group_is_named_and_retained_without_policy_by_default():
    template, _, _ = synth_construct(
        lambda stack: ModelRegistry(stack, "Registry", group_name="mlops-dev-churn")
    )
    template.has_resource(
        "AWS::SageMaker::ModelPackageGroup",
        {
            "Properties": {"ModelPackageGroupName": "mlops-dev-churn"},
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    (group,) = template.find_resources("AWS::SageMaker::ModelPackageGroup").values()
    assert "ModelPackageGroupPolicy" not in group["Properties"]


def test_other_accounts_may_read_but_not_write():
    template, _, _ = synth_construct(
        lambda stack: ModelRegistry(
            stack,
            "Registry",
            group_name="mlops-dev-churn",
            # The own account is dropped: it needs no resource policy.
            reader_accounts=["593027461185", "730461925847", "284751930618"],
        )
    )
    (group,) = template.find_resources("AWS::SageMaker::ModelPackageGroup").values()
    (statement,) = group["Properties"]["ModelPackageGroupPolicy"]["Statement"]
    assert [p["Fn::Join"][1][-1] for p in statement["Principal"]["AWS"]] == [
        ":iam::593027461185:root",
        ":iam::730461925847:root",
    ]
    assert statement["Action"] == [
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
        "sagemaker:DescribeModelPackage",
    ]
    assert [r["Fn::Join"][1][-1] for r in statement["Resource"]] == [
        ":sagemaker:eu-west-1:284751930618:model-package-group/mlops-dev-churn",
        ":sagemaker:eu-west-1:284751930618:model-package/mlops-dev-churn/*",
    ]


def test_grant_register_and_destroy_override():
    def build(stack):
        registry = ModelRegistry(
            stack, "Registry", group_name="g1", removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
        registry.grant_register(role)
        return registry

    template, _, _ = synth_construct(build, nag=False)
    template.has_resource("AWS::SageMaker::ModelPackageGroup", {"DeletionPolicy": "Delete"})
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == [
        "sagemaker:CreateModelPackage",
        "sagemaker:DescribeModelPackageGroup",
    ]


def test_invalid_props_are_all_reported():
    with pytest.raises(PropsError) as caught:
        synth_construct(
            lambda stack: ModelRegistry(
                stack, "R", group_name="bad_name!", reader_accounts=["123"]
            ),
            nag=False,
        )
    assert "group_name: got 'bad_name!'" in str(caught.value)
    assert "reader_accounts: got ['123']" in str(caught.value)


def _shared(readers: list[str]):
    from aws_cdk import aws_kms as kms

    from mlops_constructs.lake.artifacts import ArtifactStore

    def build(stack):
        key = kms.Key(stack, "ArtifactsKey", enable_key_rotation=True)
        artifacts = ArtifactStore(stack, "Artifacts", encryption_key=key)
        registry = ModelRegistry(
            stack, "Registry", group_name="mlops-dev-churn", reader_accounts=readers
        )
        registry.share_model_artifacts(artifacts, "pipelines/mlops-dev-churn/tuning/")
        return registry

    # The store without access logs: nag is not what these tests are about.
    template, _, _ = synth_construct(build, nag=False)
    (policy,) = template.find_resources("AWS::S3::BucketPolicy").values()
    (key,) = template.find_resources("AWS::KMS::Key").values()
    return (
        policy["Properties"]["PolicyDocument"]["Statement"],
        key["Properties"]["KeyPolicy"]["Statement"],
    )


def _from(statements, account: str) -> list[dict]:
    return [s for s in statements if account in str(s.get("Principal"))]


def test_readers_can_fetch_model_archives_and_decrypt_them_through_s3_only():
    bucket, key = _shared(["593027461185", "730461925847", "284751930618"])
    for account in ("593027461185", "730461925847"):
        (read,) = _from(bucket, account)
        assert read["Effect"] == "Allow" and read["Action"] == "s3:GetObject"
        resource = read["Resource"]["Fn::Join"][1]
        assert resource[-1] == "/pipelines/mlops-dev-churn/tuning/*/output/model.tar.gz"
        (decrypt,) = _from(key, account)
        assert decrypt["Action"] == "kms:Decrypt"
        assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == (
            "s3.eu-west-1.amazonaws.com"
        )
    # The own account needs no resource policy; only the archives are shared.
    shared = [s for s in bucket if "model.tar.gz" in str(s)]
    assert len(shared) == 1 and "284751930618" not in str(shared[0]["Principal"])


def test_an_imported_artifacts_key_gets_a_warning_with_the_statement_to_add():
    from aws_cdk import aws_kms as kms
    from aws_cdk.assertions import Annotations, Match

    from mlops_constructs.lake.artifacts import ArtifactStore

    def build(stack):
        key = kms.Key.from_key_arn(
            stack, "ArtifactsKey", "arn:aws:kms:eu-west-1:284751930618:key/1234abcd-12ab"
        )
        artifacts = ArtifactStore(stack, "Artifacts", encryption_key=key)
        registry = ModelRegistry(
            stack, "Registry", group_name="mlops-dev-churn", reader_accounts=["593027461185"]
        )
        registry.share_model_artifacts(artifacts, "pipelines/mlops-dev-churn/tuning/")

    _, _, stack = synth_construct(build, nag=False)
    (warning,) = Annotations.from_stack(stack).find_warning(
        "/TestStack/Registry", Match.string_like_regexp("ModelRegistryReaders")
    )
    message = warning.entry.data
    assert "kms:Decrypt" in message and "593027461185" in message and "by hand" in message


def test_nothing_is_shared_without_readers():
    bucket, key = _shared([])
    assert not [s for s in bucket if "model.tar.gz" in str(s)]
    assert not [s for s in key if s.get("Sid", "").startswith("ModelRegistryReaders")]

"""ArtifactStore given resources from elsewhere."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match

from mlops_constructs import ArtifactStore
from tests.helpers import synth_construct


def test_an_imported_access_log_bucket_gets_a_warning_with_the_statement_to_add():
    # S3 delivers access logs only where the log bucket's policy lets it: the statement
    # is dropped on an imported bucket, so the user must add it to that bucket's policy.
    def build(stack):
        key = kms.Key(stack, "Key", enable_key_rotation=True)
        logs = s3.Bucket.from_bucket_name(stack, "Logs", "team-access-logs")
        ArtifactStore(stack, "Artifacts", encryption_key=key, access_log_bucket=logs)

    _, _, stack = synth_construct(build, nag=False)
    (warning,) = Annotations.from_stack(stack).find_warning(
        "/TestStack/Artifacts/Bucket", Match.string_like_regexp("AccessLogsFromArtifacts")
    )
    message = warning.entry.data
    assert "team-access-logs" in message and "logging.s3.amazonaws.com" in message
    assert "by hand" in message


def test_grant_prefix_returns_the_grant_and_an_imported_store_grants_in_its_own_stack():
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    def build(stack):
        store = ArtifactStore.from_bucket(
            stack,
            "Artifacts",
            bucket=s3.Bucket.from_bucket_name(stack, "Existing", "team-artifacts"),
            encryption_key=kms.Key.from_key_arn(
                stack, "Key", "arn:aws:kms:eu-west-1:284751930618:key/k"
            ),
        )
        role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
        return store.grant_prefix(role, "models/", write=False)

    template, grant, _ = synth_construct(build)
    assert grant.success
    assert {a for st in grant.principal_statements for a in st.actions} >= {"s3:GetObject"}
    assert isinstance(template, Template)
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    assert "team-artifacts/models/*" in str(policy["Properties"]["PolicyDocument"])

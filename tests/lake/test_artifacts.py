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

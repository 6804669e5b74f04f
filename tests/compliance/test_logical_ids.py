"""Construct ids of stateful resources are a contract: a changed logical id replaces data.

If one of these fails, a refactoring moved or renamed a stateful resource. Deploying that
would create a new key, secret, bucket, log group or model package group and orphan (or
delete, in dev) the old one.
Keep the old construct path, or plan a migration, before changing an expected id here.
"""

from __future__ import annotations

import pytest

from tests.conftest import resources_of_type

STATEFUL = {
    "Security": {
        "AWS::KMS::Key": {
            "KeysDataLakeKey0C32AF12",
            "KeysArtifactsKeyC28B19C2",
            "KeysLogsKeyD24E82DB",
            "KeysSecretsKey3899A925",
        },
        "AWS::SecretsManager::Secret": {"FeatureSourceDbSecret1297F44A"},
    },
    "Network": {
        "AWS::Logs::LogGroup": {"NetworkFlowLogGroup4F8CEEEF"},
    },
    "Lake": {
        "AWS::S3::Bucket": {
            "DataLakeAccessLogs1DA51325",
            "DataLakeRawBucket881B694B",
            "DataLakeCuratedBucketFF1C9EA8",
            "DataLakeAnalyticsBucket218960F6",
            "ArtifactsBucket88671897",
        },
    },
    "Training": {
        "AWS::SageMaker::ModelPackageGroup": {"spendregistry19EC89BE"},
    },
    "Serving": {
        "AWS::Logs::LogGroup": {"ApprovedModelsLogGroup3E5548F7"},
    },
    "Monitoring": {
        # The engine's launcher and metrics publisher log groups are new with issue 14.
        "AWS::Logs::LogGroup": {
            "spendretrainingLogGroupF6A2F8E9",
            "spendengineLauncherLogGroup1720513F",
            "spendenginePublisherLogGroup02AB765A",
        },
    },
    "Protection": {
        "AWS::S3::Bucket": {
            "RemediationQuarantineBucketF8495879",
            "RemediationQuarantineAccessLogs99F77FDE",
        },
    },
}
# Tag-mode environments (dev) have no quarantine bucket.
_ABSENT_IN = {("dev", "Protection")}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
@pytest.mark.parametrize("stack", sorted(STATEFUL))
def test_stateful_logical_ids_are_stable(platform, env, stack):
    template = platform.template(env, stack)
    for type_name, expected in STATEFUL[stack].items():
        found = set(resources_of_type(template, type_name))
        assert found == (set() if (env, stack) in _ABSENT_IN else expected), type_name

"""The data lake of one environment (stateful): zone buckets and their access-log bucket."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_constructs import DataLake
from mlops_constructs.lake import ArtifactStore
from stacks.base import PlatformStack
from stacks.config import EnvironmentConfig
from stacks.removal import data_removal_policy


class LakeStack(PlatformStack):
    """Wraps :class:`mlops_constructs.DataLake` with the environment's lake settings."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        data_key: kms.IKey,
        artifacts_key: kms.IKey,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, config=config, **kwargs)
        settings = config.data.lake
        tiering = settings.intelligent_tiering_after_days
        self.lake = DataLake(
            self,
            "DataLake",
            encryption_key=data_key,
            zones=settings.zones,
            removal_policy=data_removal_policy(config),
            enforce_kms_uploads=settings.enforce_kms_uploads,
            noncurrent_version_expiration=Duration.days(
                settings.noncurrent_version_expiration_days
            ),
            abort_incomplete_multipart_upload_after=Duration.days(
                settings.abort_incomplete_multipart_days
            ),
            intelligent_tiering_after=Duration.days(tiering) if tiering is not None else None,
            access_log_retention=Duration.days(settings.access_log_retention_days),
        )
        # Models, training checkpoints, evaluation reports and monitoring baselines.
        self.artifacts = ArtifactStore(
            self,
            "Artifacts",
            encryption_key=artifacts_key,
            access_log_bucket=self.lake.access_log_bucket,
            removal_policy=data_removal_policy(config),
            noncurrent_version_expiration=Duration.days(
                settings.noncurrent_version_expiration_days
            ),
        )

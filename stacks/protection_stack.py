"""Data protection of one environment: Macie discovery and remediation of its findings."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs import DataLake, PlatformKeys
from mlops_constructs.macie import MacieDiscovery, MacieRemediation
from stacks.base import PlatformStack
from stacks.config import EnvironmentConfig, MacieConfig
from stacks.removal import data_removal_policy, retention


class ProtectionStack(PlatformStack):
    """Macie discovery over the configured lake zones, the findings rule, the remediation
    function, its quarantine bucket (stateful) and the KMS-encrypted notification topic."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        macie_config: MacieConfig,
        keys: PlatformKeys,
        lake: DataLake,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, config=config, **kwargs)
        prefix = f"{config.resource_prefix}-{config.name}"
        self.topic = self.notifications_topic(keys.logs_key, "data protection")
        zones = macie_config.zones or lake.zones
        self.discovery = MacieDiscovery(
            self,
            "Discovery",
            name_prefix=prefix,
            buckets=[lake.bucket(z) for z in zones],
            bucket_keys=[keys.data_lake_key],
            manage_session=macie_config.manage_macie_session,
            finding_publishing_frequency=macie_config.finding_publishing_frequency,
            schedule=macie_config.discovery_schedule,
            sampling_percentage=macie_config.sampling_percentage,
            custom_data_identifiers=macie_config.custom_data_identifiers,
            allow_lists=macie_config.allow_lists,
        )
        admin = (
            iam.Role.from_role_arn(
                self, "SecurityAdmin", macie_config.security_admin_role_arn, mutable=False
            )
            if macie_config.security_admin_role_arn
            else None
        )
        self.remediation = MacieRemediation(
            self,
            "Remediation",
            lake=lake,
            logs_key=keys.logs_key,
            topic=self.topic,
            mode=macie_config.remediation,
            min_severity_score=macie_config.min_severity_score,
            security_admin_role=admin,
            removal_policy=data_removal_policy(config),
            log_retention=retention(config.logs.function_retention_days),
        )

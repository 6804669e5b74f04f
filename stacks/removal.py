"""How the environment config maps to retention: removal policies and log retention."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from stacks.config import LOG_RETENTION_DAYS, EnvironmentConfig


def data_removal_policy(config: EnvironmentConfig) -> RemovalPolicy:
    """RETAIN unless the config explicitly allows destruction (possible in dev tier only)."""
    return RemovalPolicy.DESTROY if config.allows_destroy else RemovalPolicy.RETAIN


# CloudWatch Logs' retention periods in the order aws-cdk-lib lists them (INFINITE last).
_RETENTION = dict(
    zip(LOG_RETENTION_DAYS, list(logs.RetentionDays)[: len(LOG_RETENTION_DAYS)], strict=True)
)


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a number of days CloudWatch Logs accepts."""
    return _RETENTION[days]

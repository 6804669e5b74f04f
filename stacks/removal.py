"""How the environment config maps to removal behaviour of data-bearing resources."""

from __future__ import annotations

from aws_cdk import RemovalPolicy

from stacks.config import EnvironmentConfig


def data_removal_policy(config: EnvironmentConfig) -> RemovalPolicy:
    """RETAIN unless the config explicitly allows destruction (possible in dev tier only)."""
    return RemovalPolicy.DESTROY if config.allows_destroy else RemovalPolicy.RETAIN

"""Stateful security foundation of one environment: KMS keys and Secrets Manager secrets."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from constructs import Construct

from mlops_constructs import ExternalCredentialSecret, PlatformKeys
from stacks.base import PlatformStack
from stacks.config import EnvironmentConfig
from stacks.removal import data_removal_policy


class SecurityStack(PlatformStack):
    """Keys per purpose (``self.keys``) and the external credentials the config lists."""

    def __init__(
        self, scope: Construct, id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, id, config=config, **kwargs)
        removal = data_removal_policy(config)
        self.keys = PlatformKeys(
            self,
            "Keys",
            alias_prefix=f"{config.resource_prefix}/{config.name}",
            removal_policy=removal,
            pending_window=Duration.days(config.keys.pending_window_days),
            rotation_period=Duration.days(config.keys.rotation_period_days),
        )
        self.external_credentials = {
            cred.name: ExternalCredentialSecret(
                self,
                cred.name,
                encryption_key=self.keys.secrets_key,
                username=cred.username,
                description=cred.description,
                removal_policy=removal,
            )
            for cred in config.secrets.external_credentials
        }

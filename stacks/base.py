"""The base class of the platform's stacks."""

from __future__ import annotations

from typing import Any

from aws_cdk import Fn, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import EnvironmentConfig


class PlatformStack(Stack):
    """A stack of one environment that never looks up its availability zones.

    A stack with an explicit account and region normally asks AWS for its zone names (the
    ``availability-zones`` context lookup). Platform stacks answer from config instead: the
    zones the config pins, or ``Fn::GetAZs`` selections that CloudFormation resolves at
    deploy time, so synthesis stays offline and no zone name is hard-coded.

    The CloudFormation stack name is ``<environment>-<id>`` (e.g. ``prod-Lake``) wherever the
    stage sits, so a stage deployed by hand and the same stage deployed by the delivery
    pipeline are the same stacks.
    """

    def __init__(
        self, scope: Construct, id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        self._zones = config.pinned_availability_zones or [
            Fn.select(i, Fn.get_azs()) for i in range(config.network.max_azs)
        ]
        kwargs.setdefault("stack_name", f"{config.name}-{id}")
        super().__init__(scope, id, **kwargs)
        self.config = config

    @property
    def availability_zones(self) -> list[str]:
        return list(self._zones)

    def notifications_topic(self, logs_key: kms.IKey, what: str) -> sns.Topic:
        """The stack's ``Notifications`` topic for alarms, summaries and failures: SNS,
        encrypted with ``logs_key`` (which lets CloudWatch and EventBridge publish), TLS only."""
        return sns.Topic(
            self,
            "Notifications",
            display_name=f"ML platform {self.config.name}: {what}",
            master_key=logs_key,
            enforce_ssl=True,
        )

"""The network of one environment: a new or adopted VPC, endpoints and security groups."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_constructs import Network
from stacks.base import PlatformStack
from stacks.config import EnvironmentConfig
from stacks.removal import data_removal_policy, retention


class NetworkStack(PlatformStack):
    """Wraps :class:`mlops_constructs.Network` with the environment's network settings."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        logs_key: kms.IKey,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, config=config, **kwargs)
        net = config.network
        existing = net.existing_vpc
        vpc = None
        if existing is not None:
            vpc = ec2.Vpc.from_vpc_attributes(
                self,
                "ExistingVpc",
                vpc_id=existing.vpc_id,
                vpc_cidr_block=str(existing.vpc_cidr_block),
                availability_zones=existing.availability_zones,
                isolated_subnet_ids=existing.isolated_subnet_ids,
                isolated_subnet_route_table_ids=existing.isolated_subnet_route_table_ids,
            )
        self.network = Network(
            self,
            "Network",
            vpc=vpc,
            flow_logs_key=logs_key if vpc is None else None,
            max_azs=net.max_azs,
            availability_zones=None if existing else config.pinned_availability_zones,
            cidr=str(net.cidr),
            interface_endpoints=net.interface_endpoints,
            flow_log_retention=retention(net.flow_log_retention_days),
            removal_policy=data_removal_policy(config),
        )

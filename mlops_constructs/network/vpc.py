"""A private network for SageMaker, Glue and Lambda: isolated subnets and VPC endpoints."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_constructs.core.cfn_fixes import drop_redundant_provider_dependency
from mlops_constructs.core.validation import PropsCheck

#: Interface endpoints made by default in a new VPC: what SageMaker jobs and endpoints,
#: Glue jobs and Lambda functions in isolated subnets call.
DEFAULT_INTERFACE_ENDPOINTS: tuple[str, ...] = (
    "sagemaker.api",
    "sagemaker.runtime",
    "ecr.api",
    "ecr.dkr",
    "sts",
    "logs",
    "monitoring",
    "kms",
    "secretsmanager",
    "glue",
)


class Network(Construct):
    """Makes (or adopts) a VPC with private isolated subnets and what workloads need in it.

    With no ``vpc`` prop, it makes a new VPC:

    * one private isolated subnet in each of ``max_azs`` zones (2 by default), chosen at
      deploy time with ``Fn::GetAZs`` so that nothing is looked up or hard-coded at synth;
      or in the zones named by ``availability_zones``. No internet gateway, no NAT. The
      subnets are carved from ``cidr`` (``10.0.0.0/16`` by default);
    * VPC flow logs of all traffic to a CloudWatch log group encrypted with
      ``flow_logs_key``, kept for ``flow_log_retention`` (one year by default); the group is
      retained by default (``removal_policy``);
    * an S3 gateway endpoint, and one interface endpoint, with private DNS, for each name in
      ``interface_endpoints`` (:data:`DEFAULT_INTERFACE_ENDPOINTS` by default);
    * the default security group left without rules (the CDK's restrictDefaultSecurityGroup).

    With ``vpc`` (an existing VPC, e.g. ``ec2.Vpc.from_vpc_attributes``, which needs no
    lookup), it makes no VPC, subnets, flow logs or gateway endpoint, and interface
    endpoints only for the names given in ``interface_endpoints`` (none by default, since
    an existing VPC usually has them and private DNS allows one per service).

    In both cases it makes two security groups, neither allowing all outbound traffic:

    * ``workload_security_group`` for jobs, endpoints and functions: all traffic to and from
      itself (SageMaker inter-container encryption and distributed training, Glue workers),
      and HTTPS out (the subnets' only routes lead to the endpoints and S3);
    * ``endpoint_security_group`` on the interface endpoints: HTTPS in from the workload
      group only. Use :meth:`allow_endpoint_access_from` for other callers.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        flow_logs_key: kms.IKey | None = None,
        vpc: ec2.IVpc | None = None,
        max_azs: int = 2,
        availability_zones: Sequence[str] | None = None,
        cidr: str = "10.0.0.0/16",
        interface_endpoints: Sequence[str] | None = None,
        flow_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        endpoints = tuple(
            interface_endpoints
            if interface_endpoints is not None
            else (() if vpc is not None else DEFAULT_INTERFACE_ENDPOINTS)
        )
        self._check_props(vpc, flow_logs_key, max_azs, availability_zones, cidr, endpoints)

        self.flow_log_group: logs.ILogGroup | None = None
        if vpc is None:
            zones = (
                list(availability_zones)
                if availability_zones
                else [Fn.select(i, Fn.get_azs()) for i in range(max_azs)]
            )
            vpc = self._new_vpc(zones, cidr, flow_logs_key, flow_log_retention, removal_policy)
        self.vpc: ec2.IVpc = vpc
        #: The subnets workloads run in.
        self.subnet_selection = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        self.workload_security_group = ec2.SecurityGroup(
            self,
            "WorkloadSecurityGroup",
            vpc=vpc,
            description="ML workloads: HTTPS out, all traffic within the group",
            allow_all_outbound=False,
        )
        self.workload_security_group.add_ingress_rule(
            self.workload_security_group,
            ec2.Port.all_traffic(),
            "Members of the group: inter-container encryption, distributed training, Glue workers",
        )
        self.workload_security_group.add_egress_rule(
            self.workload_security_group,
            ec2.Port.all_traffic(),
            "Members of the group: inter-container encryption, distributed training, Glue workers",
        )
        self.workload_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.HTTPS,
            "HTTPS to the VPC endpoints and the S3 gateway; isolated subnets have no other route",
        )

        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=vpc,
            description="Interface VPC endpoints: HTTPS from platform workloads only",
            allow_all_outbound=False,
        )
        self.allow_endpoint_access_from(self.workload_security_group)

        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for name in endpoints:
            self.interface_endpoints[name] = ec2.InterfaceVpcEndpoint(
                self,
                "Endpoint-" + name.replace(".", "-"),
                vpc=vpc,
                service=ec2.InterfaceVpcEndpointAwsService(name),
                subnets=self.subnet_selection,
                security_groups=[self.endpoint_security_group],
                private_dns_enabled=True,
                open=False,
            )

    def allow_endpoint_access_from(self, peer: ec2.IPeer) -> None:
        """Let ``peer`` (e.g. another security group) reach the interface endpoints on 443."""
        self.endpoint_security_group.add_ingress_rule(
            peer, ec2.Port.HTTPS, "HTTPS from callers of the interface endpoints"
        )

    def _new_vpc(
        self,
        availability_zones: list[str],
        cidr: str,
        flow_logs_key: kms.IKey | None,
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> ec2.Vpc:
        network = ipaddress.IPv4Network(cidr)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            availability_zones=availability_zones,
            nat_gateways=0,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Isolated",
                    subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                    # Room for 8 subnets: up to 6 zones plus spares for later growth.
                    cidr_mask=network.prefixlen + 3,
                )
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
        )
        drop_redundant_provider_dependency(
            self, "Custom::VpcRestrictDefaultSGCustomResourceProvider"
        )
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            encryption_key=flow_logs_key,
            retention=retention,
            removal_policy=removal_policy,
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return vpc

    @staticmethod
    def _check_props(
        vpc: ec2.IVpc | None,
        flow_logs_key: kms.IKey | None,
        max_azs: int,
        availability_zones: Sequence[str] | None,
        cidr: str,
        endpoints: Sequence[str],
    ) -> None:
        check = PropsCheck("Network")
        if vpc is None:
            check.require(
                flow_logs_key is not None,
                "flow_logs_key",
                flow_logs_key,
                "expected a KMS key for the flow log group of the new VPC",
            )
            check.require(1 <= max_azs <= 6, "max_azs", max_azs, "expected 1 to 6 zones")
            if availability_zones is not None:
                check.require(
                    1 <= len(availability_zones) <= 6,
                    "availability_zones",
                    list(availability_zones),
                    "expected 1 to 6 zone names, such as ['eu-west-1a', 'eu-west-1b'], or None "
                    "to let CloudFormation pick the first max_azs zones (Fn::GetAZs)",
                )
            try:
                prefix = ipaddress.IPv4Network(cidr).prefixlen
                check.require(16 <= prefix <= 24, "cidr", cidr, "expected a /16 to /24 block")
            except ValueError:
                check.require(
                    False, "cidr", cidr, "expected an IPv4 CIDR block such as '10.0.0.0/16'"
                )
        check.require(
            len(set(endpoints)) == len(endpoints),
            "interface_endpoints",
            list(endpoints),
            "expected each endpoint name once",
        )
        check.require(
            all(name and name == name.strip() and " " not in name for name in endpoints),
            "interface_endpoints",
            list(endpoints),
            "expected service short names such as 'sagemaker.api' or 'logs'",
        )
        check.raise_if_any()

"""Network: isolated subnets, encrypted flow logs, endpoints and tight security groups."""

from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match

from mlops_constructs import Network, PropsError
from mlops_constructs.network.vpc import DEFAULT_INTERFACE_ENDPOINTS
from tests.helpers import synth_construct


def _new_network(stack, **props):
    key = kms.Key(stack, "LogsKey", enable_key_rotation=True)
    return Network(stack, "Net", flow_logs_key=key, **props)


@pytest.fixture(scope="module")
def default_network():
    return synth_construct(_new_network)


def test_only_isolated_subnets_no_internet_path(default_network):
    template, _, _ = default_network
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": "10.0.0.0/16"})
    template.resource_count_is("AWS::EC2::Subnet", 2)
    template.all_resources_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": False})
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::NatGateway", 0)


def test_zones_are_resolved_by_cloudformation_not_hard_coded(default_network):
    template, _, _ = default_network
    zones = [
        subnet["Properties"]["AvailabilityZone"]
        for subnet in template.find_resources("AWS::EC2::Subnet").values()
    ]
    assert zones == [{"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in range(2)]


def test_subnets_are_sized_from_the_cidr(default_network):
    template, _, _ = default_network
    blocks = sorted(
        s["Properties"]["CidrBlock"] for s in template.find_resources("AWS::EC2::Subnet").values()
    )
    assert blocks == ["10.0.0.0/19", "10.0.32.0/19"]


def test_flow_logs_all_traffic_to_an_encrypted_retained_group(default_network):
    template, _, _ = default_network
    template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"TrafficType": "ALL", "ResourceType": "VPC", "LogDestinationType": "cloud-watch-logs"},
    )
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "RetentionInDays": 365,
                "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^LogsKey"), "Arn"]},
            },
            "DeletionPolicy": "Retain",
        },
    )


def test_s3_gateway_and_default_interface_endpoints(default_network):
    template, network, _ = default_network
    # A gateway endpoint on the isolated route tables.
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]},
            "RouteTableIds": Match.array_with(
                [{"Ref": Match.string_like_regexp("IsolatedSubnet1")}]
            ),
            "VpcEndpointType": "Gateway",
        },
    )
    interfaces = [
        e["Properties"]
        for e in template.find_resources(
            "AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}}
        ).values()
    ]
    assert len(interfaces) == len(DEFAULT_INTERFACE_ENDPOINTS)
    assert set(network.interface_endpoints) == set(DEFAULT_INTERFACE_ENDPOINTS)
    endpoint_sg = network.vpc.stack.get_logical_id(
        network.endpoint_security_group.node.default_child
    )
    for props in interfaces:
        assert props["PrivateDnsEnabled"] is True
        assert props["SecurityGroupIds"] == [{"Fn::GetAtt": [endpoint_sg, "GroupId"]}]
    names = {p["ServiceName"] for p in interfaces}
    assert "com.amazonaws.eu-west-1.sagemaker.api" in names
    assert "com.amazonaws.eu-west-1.ecr.dkr" in names


def test_default_security_group_is_restricted(default_network):
    template, _, _ = default_network
    template.resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def without_description(rule):
    return {k: v for k, v in rule.items() if k != "Description"}


def _sg_logical_ids(network):
    stack = network.vpc.stack
    return (
        stack.get_logical_id(network.workload_security_group.node.default_child),
        stack.get_logical_id(network.endpoint_security_group.node.default_child),
    )


def test_workload_group_talks_to_itself_and_https_only(default_network):
    template, network, _ = default_network
    workload, _ = _sg_logical_ids(network)
    resources = template.to_json()["Resources"]
    egress = [
        without_description(r) for r in resources[workload]["Properties"]["SecurityGroupEgress"]
    ]
    assert egress == [
        {
            "CidrIp": "0.0.0.0/0",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    assert "SecurityGroupIngress" not in resources[workload]["Properties"]
    self_rules = [
        (r["Type"], r["Properties"]["IpProtocol"])
        for r in resources.values()
        if r["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
        and r["Properties"]["GroupId"] == {"Fn::GetAtt": [workload, "GroupId"]}
    ]
    assert sorted(self_rules) == [
        ("AWS::EC2::SecurityGroupEgress", "-1"),
        ("AWS::EC2::SecurityGroupIngress", "-1"),
    ]


def test_endpoints_accept_https_from_the_workload_group_only(default_network):
    template, network, _ = default_network
    workload, endpoint = _sg_logical_ids(network)
    ingress = [
        without_description(r["Properties"])
        for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [endpoint, "GroupId"]}
    ]
    assert ingress == [
        {
            "FromPort": 443,
            "GroupId": {"Fn::GetAtt": [endpoint, "GroupId"]},
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": {"Fn::GetAtt": [workload, "GroupId"]},
            "ToPort": 443,
        }
    ]
    resources = template.to_json()["Resources"]
    # No "allow all outbound": the CDK's placeholder rule that matches no traffic.
    assert resources[endpoint]["Properties"]["SecurityGroupEgress"][0]["CidrIp"] == (
        "255.255.255.255/32"
    )


def test_overrides_zones_cidr_endpoints_retention_removal():
    template, network, _ = synth_construct(
        lambda stack: _new_network(
            stack,
            availability_zones=["eu-west-1a", "eu-west-1b", "eu-west-1c"],
            cidr="10.30.0.0/20",
            interface_endpoints=["sagemaker.runtime", "logs"],
            flow_log_retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
    )
    template.resource_count_is("AWS::EC2::Subnet", 3)
    template.has_resource_properties("AWS::EC2::Subnet", {"AvailabilityZone": "eu-west-1c"})
    template.has_resource_properties("AWS::EC2::Subnet", {"CidrBlock": "10.30.0.0/23"})
    template.resource_count_is("AWS::EC2::VPCEndpoint", 3)  # S3 gateway + 2 interfaces
    template.has_resource(
        "AWS::Logs::LogGroup",
        {"Properties": {"RetentionInDays": 30}, "DeletionPolicy": "Delete"},
    )
    assert sorted(network.interface_endpoints) == ["logs", "sagemaker.runtime"]


def _existing(stack, **props):
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Existing",
        vpc_id="vpc-0a1b2c3d4e5f67890",
        vpc_cidr_block="10.50.0.0/16",
        availability_zones=["eu-west-1a", "eu-west-1b"],
        isolated_subnet_ids=["subnet-0a1b2c3d4e5f67890", "subnet-1a1b2c3d4e5f67890"],
        isolated_subnet_route_table_ids=["rtb-0a1b2c3d4e5f67890", "rtb-1a1b2c3d4e5f67890"],
    )
    return Network(stack, "Net", vpc=vpc, **props)


def test_existing_vpc_is_adopted_without_new_network_resources():
    template, network, _ = synth_construct(_existing)
    for type_name in (
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::FlowLog",
        "AWS::EC2::VPCEndpoint",
    ):
        template.resource_count_is(type_name, 0)
    template.resource_count_is("AWS::EC2::SecurityGroup", 2)
    template.all_resources_properties("AWS::EC2::SecurityGroup", {"VpcId": "vpc-0a1b2c3d4e5f67890"})
    assert network.flow_log_group is None


def test_existing_vpc_gets_the_endpoints_asked_for():
    template, _, _ = synth_construct(lambda stack: _existing(stack, interface_endpoints=["sts"]))
    template.resource_count_is("AWS::EC2::VPCEndpoint", 1)
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "SubnetIds": ["subnet-0a1b2c3d4e5f67890", "subnet-1a1b2c3d4e5f67890"],
            "VpcId": "vpc-0a1b2c3d4e5f67890",
        },
    )


def test_allow_endpoint_access_from_another_peer():
    def build(stack):
        network = _new_network(stack, interface_endpoints=["sts"])
        other = ec2.SecurityGroup(stack, "Other", vpc=network.vpc, allow_all_outbound=False)
        network.allow_endpoint_access_from(other)
        return network

    template, network, stack = synth_construct(build)
    endpoint = stack.get_logical_id(network.endpoint_security_group.node.default_child)
    sources = [
        r["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0]
        for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [endpoint, "GroupId"]}
    ]
    assert len(sources) == 2 and any(s.startswith("Other") for s in sources)


def test_invalid_props_are_all_reported():
    with pytest.raises(PropsError) as caught:
        synth_construct(
            lambda stack: Network(
                stack,
                "Net",
                max_azs=0,
                cidr="10.0.0.0/8",
                interface_endpoints=["sts", "sts"],
            ),
            nag=False,
        )
    message = str(caught.value)
    assert "flow_logs_key: got None" in message
    assert "max_azs: got 0" in message
    assert "cidr: got '10.0.0.0/8'; expected a /16 to /24 block" in message
    assert "interface_endpoints: got ['sts', 'sts']; expected each endpoint name once" in message

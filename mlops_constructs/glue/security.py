"""Glue security: an encrypted security configuration and a VPC network connection.

Both are aws-cdk-lib's Glue L2 constructs (``aws_glue.SecurityConfiguration`` and
``aws_glue.Connection``), wrapped for the grants a job or crawler role needs, and keeping the
logical ids their L1 resources had."""

from __future__ import annotations

import hashlib

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.glue._common import _keep_logical_id, _unique_name


class GlueSecurityConfiguration(Construct):
    """Makes a Glue security configuration: everything Glue writes is KMS-encrypted.

    * S3 output: SSE-KMS with ``data_key``;
    * CloudWatch logs: CSE-KMS with ``logs_key`` (its policy must let CloudWatch Logs use
      it, as :class:`mlops_constructs.PlatformKeys` does);
    * job bookmarks: CSE-KMS with ``data_key``.

    ``grant_use(role)`` gives a job or crawler role what it needs to write under it. It is
    aws-cdk-lib's ``aws_glue.SecurityConfiguration`` (:attr:`security_configuration`),
    deleted with the stack (the L2 would retain it).
    """

    def __init__(
        self, scope: Construct, id: str, *, data_key: kms.IKey, logs_key: kms.IKey
    ) -> None:
        super().__init__(scope, id)
        self.data_key = data_key
        self.logs_key = logs_key
        # Every property of a security configuration forces a replacement, and the name is
        # fixed: name it after what it encrypts with, so a new configuration gets a new name.
        settings = hashlib.sha256(
            f"{data_key.node.path}|{logs_key.node.path}|SSE-KMS|SSE-KMS|CSE-KMS".encode()
        ).hexdigest()[:8]
        self.name = f"{_unique_name(self, max_length=90)}-{settings}"
        #: The aws-cdk-lib construct (an ``ISecurityConfiguration`` for L2 jobs).
        self.security_configuration = glue.SecurityConfiguration(
            self,
            "Resource",
            security_configuration_name=self.name,
            s3_encryption=glue.S3Encryption.kms(data_key),
            cloud_watch_encryption=glue.CloudWatchEncryption.kms(logs_key),
            job_bookmarks_encryption=glue.JobBookmarksEncryption.client_side_kms(data_key),
            # The L2 retains by default; this one never did. Its name is fixed, so a retained
            # configuration would only stop a re-created stack from creating it again, and
            # it holds no data (the keys it names are retained with the keys stack).
            removal_policy=RemovalPolicy.DESTROY,
        )
        resource = self.security_configuration.node.default_child
        assert isinstance(resource, glue.CfnSecurityConfiguration)
        _keep_logical_id(resource, scope=self, id="Resource")
        #: The CloudFormation resource.
        self.resource = resource

    def grant_use(self, role: iam.IRole) -> None:
        """Let ``role`` encrypt output, bookmarks and (encrypted) CloudWatch logs."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueSecurityConfigurationKeys",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[self.data_key.key_arn, self.logs_key.key_arn],
            )
        )
        stack = Stack.of(self)
        # Glue names the log groups of encrypted jobs and crawlers after the security
        # configuration, under /aws-glue/; the log groups are created at run time.
        log_groups = (
            f"arn:{Aws.PARTITION}:logs:{stack.region}:{stack.account}:log-group:/aws-glue/*"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueLogsUnderAwsGlue",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:AssociateKmsKey",
                ],
                resources=[log_groups],
            )
        )
        acknowledge_wildcards(
            role,
            "Glue creates its log groups at run time, named after the job or crawler, under "
            "/aws-glue/ in this account and region only.",
            resources=[log_groups],
        )


class GlueNetworkConnection(Construct):
    """Makes a Glue NETWORK connection in one isolated subnet, with the workload group.

    Jobs that use it run in the VPC and reach AWS only through its endpoints. Glue puts a
    job's workers in the connection's single subnet, so this picks the first one. It is
    aws-cdk-lib's ``aws_glue.Connection`` (:attr:`connection`).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, id)
        subnet = vpc.select_subnets(
            subnet_type=subnets.subnet_type, subnet_group_name=subnets.subnet_group_name
        ).subnets[0]
        self.name = _unique_name(self)
        #: The aws-cdk-lib construct (an ``IConnection`` for L2 jobs).
        self.connection = glue.Connection(
            self,
            "Resource",
            type=glue.ConnectionType.NETWORK,
            connection_name=self.name,
            description="Runs Glue workers in an isolated subnet of the platform VPC",
            network=glue.ConnectionNetwork.subnet(subnet),
            security_groups=[security_group],
        )
        resource = self.connection.node.default_child
        assert isinstance(resource, glue.CfnConnection)
        _keep_logical_id(resource, scope=self, id="Resource")
        #: The CloudFormation resource.
        self.resource = resource

    def grant_use(self, role: iam.IRole) -> None:
        """Let ``role`` run workers in the connection's subnet."""
        stack = Stack.of(self)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueGetNetworkConnection",
                actions=["glue:GetConnection"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(
                        service="glue", resource="connection", resource_name=self.name
                    ),
                ],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueWorkersInVpc",
                # Glue creates, describes and deletes the workers' network interfaces; these
                # EC2 actions do not support resource-level permissions.
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeVpcEndpoints",
                    "ec2:DescribeRouteTables",
                    "ec2:DescribeVpcAttribute",
                ],
                resources=["*"],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueTagWorkerInterfaces",
                actions=["ec2:CreateTags", "ec2:DeleteTags"],
                resources=[
                    stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
                ],
                conditions={
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}
                },
            )
        )
        acknowledge_wildcards(
            role,
            "Glue manages its workers' network interfaces: the EC2 describe and network "
            "interface actions support no resource-level scoping, and interface ids are made "
            "at run time (tagging is limited to Glue's own tag key).",
            resources=[
                "*",
                stack.format_arn(service="ec2", resource="network-interface", resource_name="*"),
            ],
        )

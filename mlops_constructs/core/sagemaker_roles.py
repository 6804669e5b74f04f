"""What every SageMaker execution role of the platform needs to run in the VPC."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from mlops_constructs.core.nag import acknowledge_wildcards


def grant_sagemaker_runtime(
    role: iam.Role,
    *,
    log_group_prefix: str = "/aws/sagemaker/*",
    volume_key: kms.IKey | None = None,
) -> None:
    """Let ``role``'s jobs or endpoints write their logs under ``log_group_prefix``, pull
    AWS-owned algorithm images, publish metrics and attach network interfaces in the VPC;
    with ``volume_key``, create the grants their encrypted volumes need on that key."""
    stack = Stack.of(role)
    if volume_key is not None:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ArtifactsKeyForVolumes",
                actions=[
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                    "kms:GenerateDataKey",
                    "kms:Decrypt",
                ],
                resources=[volume_key.key_arn],
            )
        )
    log_groups = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name=log_group_prefix,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="JobLogs",
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            resources=[log_groups],
        )
    )
    ecr_repositories = stack.format_arn(
        service="ecr", account="*", resource="repository", resource_name="*"
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="PullAwsImages",
            actions=[
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            resources=[ecr_repositories],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="NoResourceScope",
            # None of these actions supports resource-level permissions.
            actions=[
                "ecr:GetAuthorizationToken",
                "cloudwatch:PutMetricData",
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            ],
            resources=["*"],
        )
    )
    acknowledge_wildcards(
        role,
        "SageMaker names the log groups of jobs and endpoints at run time; the AWS algorithm "
        "images live in AWS-owned ECR repositories whose account differs per region; ECR "
        "authorization, metrics and the VPC network interfaces support no resource scoping.",
        resources=[log_groups, ecr_repositories, "*"],
    )

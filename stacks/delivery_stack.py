"""The delivery pipeline: CDK Pipelines deploying every environment, dev to prod."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Environment, RemovalPolicy, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.core.cfn_fixes import ignore_cfn_lint
from mlops_constructs.core.nag import acknowledge_policy_wildcards
from mlops_constructs.core.s3 import access_log_bucket, log_to, secure_bucket
from stacks.config import DeliveryConfig, PlatformConfig
from stacks.stage import PlatformStage

#: What the pipeline's build runs: the same two commands as a developer's machine.
SYNTH_COMMANDS = ("make test", "make synth")


class DeliveryStack(Stack):
    """A CDK Pipelines pipeline in the tooling account that builds the repository with
    ``make test`` and ``make synth``, updates itself, and deploys the platform's stages in
    order (dev, staging, prod by default), with a manual approval before each environment
    of ``approval_before`` (prod).

    * Source: the repository and branch through a CodeConnections connection.
    * Cross-account: a KMS key for the artifacts (rotation on) so the target accounts,
      bootstrapped with ``--trust <tooling account>``, can read them.
    * The artifact bucket is ours: SSE-KMS with that key, TLS only, versioned, retained,
      with access logs to its own log bucket.
    * CodeBuild runs privileged-free (no Docker: synthesis needs none), on the standard
      Linux image; the app's cdk-nag gate covers the pipeline and its stages alike.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: PlatformConfig,
        delivery: DeliveryConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            id,
            env=Environment(account=delivery.account, region=delivery.region),
            **kwargs,
        )
        key = kms.Key(
            self,
            "ArtifactsKey",
            description="Encrypts the delivery pipeline's artifacts (shared with the targets)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        logs_bucket = access_log_bucket(
            self,
            "ArtifactsAccessLogs",
            purpose="the delivery pipeline's artifact bucket",
            removal_policy=RemovalPolicy.RETAIN,
            auto_delete_objects=False,
            retention=Duration.days(365),
            abort_incomplete_multipart_upload_after=Duration.days(7),
        )
        artifacts: s3.Bucket = secure_bucket(
            self,
            "Artifacts",
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
            auto_delete_objects=False,
        )
        log_to(artifacts, logs_bucket, "pipeline/")
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            code_pipeline=codepipeline.Pipeline(
                self,
                "CodePipeline",
                artifact_bucket=artifacts,
                restart_execution_on_update=True,
                pipeline_type=codepipeline.PipelineType.V2,
            ),
            synth=pipelines.ShellStep(
                "Synth",
                input=pipelines.CodePipelineSource.connection(
                    delivery.repository,
                    delivery.branch,
                    connection_arn=delivery.connection_arn,
                ),
                commands=list(SYNTH_COMMANDS),
                primary_output_directory="cdk.out",
            ),
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                    compute_type=codebuild.ComputeType.MEDIUM,
                    privileged=False,
                ),
                timeout=Duration.minutes(90),
            ),
            docker_enabled_for_synth=False,
            # One CodeBuild project publishes every file asset (not one project per asset).
            publish_assets_in_parallel=False,
            self_mutation=True,
        )
        wanted = delivery.environments or [e.name for e in platform.environments]
        self.stages: dict[str, PlatformStage] = {}
        for env in platform.environments:
            if env.name not in wanted:
                continue
            stage = PlatformStage(self, env.name, config=env)
            pre = (
                [pipelines.ManualApprovalStep(f"Promote-to-{env.name}")]
                if env.name in delivery.approval_before
                else None
            )
            self.pipeline.add_stage(stage, pre=pre)
            self.stages[env.name] = stage
        # The pipeline's own resources exist only once build_pipeline() has run.
        self.pipeline.build_pipeline()
        self._acknowledge_generated_policies()
        cfn_pipeline = self.pipeline.pipeline.node.default_child
        assert isinstance(cfn_pipeline, codepipeline.CfnPipeline)
        ignore_cfn_lint(
            cfn_pipeline,
            "E3703",
            "CDK Pipelines writes the CodeBuild actions' environment variables as Fn::Join "
            "with an empty delimiter; CloudFormation accepts it, cfn-lint prefers Fn::Sub.",
        )
        ignore_cfn_lint(
            cfn_pipeline,
            "W3005",
            "aws-cdk-lib's Pipeline depends on its role besides the GetAtt of the role's ARN "
            "(redundant; the construct offers no way to drop it).",
        )

    def _acknowledge_generated_policies(self) -> None:
        """Acknowledge, policy by policy and finding by finding, the wildcards in the roles
        CDK Pipelines generates (the stages' own resources are not touched)."""
        stage_paths = tuple(f"{stage.node.path}/" for stage in self.stages.values())
        for node in self.node.find_all():
            if isinstance(node, iam.CfnPolicy) and not node.node.path.startswith(stage_paths):
                acknowledge_policy_wildcards(
                    node,
                    "Generated by CDK Pipelines for the pipeline's own work: reading and "
                    "writing the pipeline's artifact bucket and key (aws-cdk-lib grants them "
                    "with action wildcards), writing its CodeBuild logs and reports, and "
                    "assuming the CDK bootstrap roles of the target accounts (cdk-hnb659fds-*), "
                    "which decide what a deployment may do.",
                )

"""A model-building SageMaker Pipeline, authored with the SageMaker Python SDK at synth time."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_constructs._nag import acknowledge_wildcards
from mlops_constructs._sagemaker_roles import grant_sagemaker_runtime
from mlops_constructs._validation import PropsCheck
from mlops_constructs.artifacts import ArtifactStore
from mlops_constructs.data_lake import DataLake
from mlops_constructs.model_registry import ModelRegistry
from mlops_constructs.sources import sagemaker_script_path


@dataclass(frozen=True)
class TuningSettings:
    """Hyperparameter tuning of the built-in XGBoost algorithm (Bayesian, early stopping)."""

    problem_type: str
    objective_metric: str
    objective_type: str
    ranges: Sequence[Mapping[str, Any]]
    static_hyperparameters: Mapping[str, str] = field(default_factory=dict)
    max_jobs: int = 10
    max_parallel_jobs: int = 2
    use_spot: bool = True
    max_runtime_minutes: int = 60
    max_wait_minutes: int = 120
    xgboost_version: str = "1.7-1"
    training_instance_type: str = "ml.m5.xlarge"
    processing_instance_type: str = "ml.m5.large"


class TrainingPipeline(Construct):
    """Makes a SageMaker Pipeline that builds, checks and registers one model.

    Steps (the definition is written by the SageMaker Python SDK v3 at synth time, offline):
    ``PrepareFeatures`` (scikit-learn processing of the curated features into train,
    validation and test splits), ``TuneModel`` (Bayesian tuning of built-in XGBoost, early
    stopping, managed spot training with ``max_wait`` and checkpoints, ``FastFile`` input),
    ``DataQualityBaseline`` and ``DataBiasBaseline`` (baselines for Model Monitor, written
    under ``pipelines/<name>/baselines/`` of the artifacts bucket), ``EvaluateModel``
    (``sagemaker_src/evaluate.py``), and ``CheckMetric``: if the test metric reaches the
    ``MetricThreshold`` parameter, ``RegisterModel`` in the registry's group with the
    metrics and baselines attached and the ``ModelApprovalStatus`` parameter (its default
    is ``approval_status``), else the pipeline fails.

    Every job runs in the given subnets and security group, with network isolation,
    inter-container traffic encryption, and volumes and outputs encrypted with
    ``artifacts_key``, as one execution role. That role reads only the input prefix of the
    lake and the pipeline's scripts, writes only ``pipelines/<name>/`` of the artifacts
    bucket, and registers only in the model's group.

    Parameters at start: ``InputDataUri`` (default: the curated prefix), ``MetricThreshold``,
    ``ModelApprovalStatus``, ``TriggerReason`` (``schedule``, ``new-data``, ``alarm``), and,
    from the retraining trigger, ``TriggerAlarm`` and ``TriggerDetail``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipeline_name: str,
        lake: DataLake,
        input_zone: str,
        input_prefix: str,
        artifacts: ArtifactStore,
        registry: ModelRegistry,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        label: str,
        features: Sequence[str],
        key_column: str,
        bias_facet: str,
        tuning: TuningSettings,
        evaluation_threshold: float,
        approval_status: str = "PendingManualApproval",
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("TrainingPipeline")
        check.require(
            approval_status in ("PendingManualApproval", "Approved"),
            "approval_status",
            approval_status,
            "expected PendingManualApproval or Approved",
        )
        check.require(
            tuning.max_parallel_jobs <= tuning.max_jobs,
            "tuning.max_parallel_jobs",
            tuning.max_parallel_jobs,
            "expected at most max_jobs",
        )
        check.require(
            not tuning.use_spot or tuning.max_wait_minutes >= tuning.max_runtime_minutes,
            "tuning.max_wait_minutes",
            tuning.max_wait_minutes,
            "expected at least max_runtime_minutes with spot training",
        )
        check.require(
            bias_facet in features, "bias_facet", bias_facet, "expected one of the features"
        )
        check.require(
            input_prefix.endswith("/"),
            "input_prefix",
            input_prefix,
            "expected a key prefix ending with '/'",
        )
        check.raise_if_any()
        stack = Stack.of(self)
        prefix = f"pipelines/{pipeline_name}"
        self.pipeline_name = pipeline_name
        #: Where the baseline steps write Model Monitor's baselines in the artifacts bucket
        #: (``data-quality/constraints.json`` and ``statistics.json``, ``data-bias/``...).
        self.baselines_prefix = f"{prefix}/baselines/"

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Jobs of the {pipeline_name} pipeline",
        )
        scripts = {
            name: s3_assets.Asset(
                self, f"{name.capitalize()}Script", path=sagemaker_script_path(f"{name}.py")
            )
            for name in ("preprocess", "evaluate")
        }
        subnet_ids = vpc.select_subnets(
            subnet_type=subnets.subnet_type, subnet_group_name=subnets.subnet_group_name
        ).subnet_ids

        from mlops_constructs._sagemaker_definition import PipelineSpec, build_definition

        spec = PipelineSpec(
            name=pipeline_name,
            region=stack.region,
            role_arn=self.role.role_arn,
            bucket=artifacts.bucket.bucket_name,
            prefix=prefix,
            kms_key_id=artifacts.encryption_key.key_arn,
            subnets=list(subnet_ids),
            security_group_ids=[security_group.security_group_id],
            model_package_group_name=registry.group_name,
            prepare_script_uri=scripts["preprocess"].s3_object_url,
            evaluate_script_uri=scripts["evaluate"].s3_object_url,
            input_uri=f"s3://{lake.bucket(input_zone).bucket_name}/{input_prefix}",
            label=label,
            key_column=key_column,
            headers=[label, *features],
            problem_type=tuning.problem_type,
            objective_metric=tuning.objective_metric,
            objective_type=tuning.objective_type,
            xgboost_version=tuning.xgboost_version,
            sklearn_version="1.2-1",
            hyperparameter_ranges=[dict(r) for r in tuning.ranges],
            static_hyperparameters=dict(tuning.static_hyperparameters),
            max_jobs=tuning.max_jobs,
            max_parallel_jobs=tuning.max_parallel_jobs,
            use_spot=tuning.use_spot,
            max_runtime_seconds=tuning.max_runtime_minutes * 60,
            max_wait_seconds=tuning.max_wait_minutes * 60,
            training_instance_type=tuning.training_instance_type,
            processing_instance_type=tuning.processing_instance_type,
            evaluation_threshold=evaluation_threshold,
            approval_status=approval_status,
            bias_facet=bias_facet,
        )
        definition = build_definition(spec)
        body = self._ship_uploads(definition.body, definition.uploads)
        self.definition_body = body

        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Resource",
            pipeline_name=pipeline_name,
            pipeline_description=f"Builds, checks and registers the {registry.group_name} model",
            role_arn=self.role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": body},
        )
        self.pipeline_arn = stack.format_arn(
            service="sagemaker", resource="pipeline", resource_name=pipeline_name.lower()
        )
        self._grant(lake, input_zone, input_prefix, artifacts, registry, prefix, scripts)
        policy = self.role.node.find_child("DefaultPolicy")
        self.pipeline.node.add_dependency(policy)

    def _ship_uploads(self, body: str, uploads: Mapping[str, bytes]) -> str:
        """Files the SDK would have uploaded become assets; the definition points at them."""
        self.upload_assets: list[s3_assets.Asset] = []
        for i, (uri, content) in enumerate(sorted(uploads.items())):
            folder = Path(tempfile.mkdtemp(prefix="pipeline-config-"))
            name = Path(uri).name
            (folder / name).write_bytes(content)
            asset = s3_assets.Asset(self, f"Upload{i}", path=str(folder / name))
            self.upload_assets.append(asset)
            body = body.replace(uri, asset.s3_object_url)
        return body

    def _grant(
        self,
        lake: DataLake,
        input_zone: str,
        input_prefix: str,
        artifacts: ArtifactStore,
        registry: ModelRegistry,
        prefix: str,
        scripts: Mapping[str, s3_assets.Asset],
    ) -> None:
        role = self.role
        stack = Stack.of(self)
        lake.grant_read(role, input_zone, input_prefix)
        artifacts.grant_prefix(role, f"{prefix}/")
        for asset in [*scripts.values(), *self.upload_assets]:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[asset.bucket.arn_for_objects(asset.s3_object_key)],
                )
            )
        registry.grant_register(role)
        job_arns = [
            stack.format_arn(service="sagemaker", resource=kind, resource_name="*")
            for kind in ("processing-job", "hyper-parameter-tuning-job", "training-job")
        ]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RunPipelineJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateHyperParameterTuningJob",
                    "sagemaker:DescribeHyperParameterTuningJob",
                    "sagemaker:StopHyperParameterTuningJob",
                    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=job_arns,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassOwnRole",
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        # Jobs create grants on the artifacts key for their encrypted volumes.
        grant_sagemaker_runtime(role, volume_key=artifacts.encryption_key)
        acknowledge_wildcards(
            role,
            "SageMaker names the pipeline's jobs at run time; job outputs go under the "
            "pipeline's own prefix.",
            resources=job_arns,
        )

    def schedule_rule(self, id: str, *, schedule: str, reason: str = "schedule") -> events.CfnRule:
        """Start the pipeline on ``schedule`` (an EventBridge ``cron(...)``)."""
        return self._start_rule(id, reason, schedule_expression=schedule)

    def data_rule(self, id: str, *, bucket: s3.IBucket, prefix: str) -> events.CfnRule:
        """Start the pipeline when an object is created under ``prefix`` of ``bucket``
        (S3 EventBridge notifications must be on, as the lake's are)."""
        return self._start_rule(
            id,
            "new-data",
            event_pattern={
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": prefix}]},
                },
            },
        )

    def _start_rule(self, id: str, reason: str, **rule: Any) -> events.CfnRule:
        if not hasattr(self, "_events_role"):
            self._events_role = iam.Role(
                self,
                "StartRole",
                assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
                description=f"EventBridge starts the {self.pipeline_name} pipeline",
            )
            self._events_role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:StartPipelineExecution"], resources=[self.pipeline_arn]
                )
            )
        return events.CfnRule(
            self,
            id,
            description=f"Starts the {self.pipeline_name} pipeline ({reason})",
            state="ENABLED",
            targets=[
                events.CfnRule.TargetProperty(
                    id="Pipeline",
                    arn=self.pipeline_arn,
                    role_arn=self._events_role.role_arn,
                    sage_maker_pipeline_parameters=events.CfnRule.SageMakerPipelineParametersProperty(
                        pipeline_parameter_list=[
                            events.CfnRule.SageMakerPipelineParameterProperty(
                                name="TriggerReason", value=reason
                            )
                        ]
                    ),
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_retry_attempts=3, maximum_event_age_in_seconds=3600
                    ),
                )
            ],
            **rule,
        )

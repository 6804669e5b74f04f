"""A SageMaker Pipeline that builds, checks and registers one model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import custom_resources as cr
from constructs import Construct

from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.sagemaker_roles import grant_sagemaker_runtime
from mlops_constructs.core.sdk_calls import acknowledge_sdk_function
from mlops_constructs.core.sources import sagemaker_script_path
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.lake.interfaces import IArtifactStore, IDataLake
from mlops_constructs.training.interfaces import IModelRegistry
from mlops_constructs.training.props import (
    DEFAULT_INFERENCE_INSTANCE_TYPES,
    DEFAULT_TRANSFORM_INSTANCE_TYPES,
    TuningSettings,
    tuning_problems,
)

#: The scikit-learn image the feature preparation step runs on (Python 3.9: the scripts in
#: runtime/ must run there; tests/training/test_runtime_python.py checks them).
SKLEARN_VERSION = "1.2-1"


class TrainingPipeline(Construct):
    """Makes a SageMaker Pipeline that builds, checks and registers one model.

    Needs the SageMaker Python SDK (the package's ``pipelines`` extra) and a stack with an
    explicit region; without either it raises a ``PropsError`` saying what to do.

    Steps (the definition is written by the SageMaker Python SDK v3 at synth time, offline):
    ``PrepareFeatures`` (scikit-learn processing of the curated features into train,
    validation and test splits: the label, then exactly ``features`` in their order),
    ``TuneModel`` (Bayesian tuning of built-in XGBoost, early stopping, managed spot training
    with ``max_wait`` and no checkpoints, ``tuning.input_mode`` input, ``File`` by default),
    with ``model_monitor_baselines`` only (``False`` by default: Model Monitor and Clarify
    are closed to new customers, and these steps need them), ``DataQualityBaseline`` (a
    QualityCheckStep, on the train split read as header-less CSV with the label first) and
    ``DataBiasBaseline`` (a ClarifyCheckStep) (baselines for Model Monitor, written under
    the execution, ``pipelines/<name>/executions/<execution id>/baselines/`` of the
    artifacts bucket (:attr:`executions_prefix`), so no later run replaces a registered
    version's baselines, and registered as that version's ``DriftCheckBaselines``, which
    :class:`~mlops_constructs.monitoring.ModelMonitor` reads; the bias baseline's
    positive outcome is ``bias_label_values_or_threshold``, by default ``[0.5]`` for binary
    classification (the class 1) and required for regression, and its sensitive group
    ``bias_facet_values_or_threshold``, ``[0.5]`` by default: the 1.0 rows of a one-hot
    facet. The splits are float CSV columns, which Clarify treats as continuous (smclarify
    ``series_datatype``): one value is a threshold and the group the rows above it, so ``[1]``
    would be empty. The baseline computes every pre-training metric but CDDL, which needs a
    group variable),
    ``EvaluateModel`` (``runtime/evaluate.py``), ``MonitoringBaseline``
    (``runtime/baseline.py`` on the XGBoost image: the statistics of the train split and the
    best model's mean absolute SHAP value per feature, written to
    ``pipelines/<name>/executions/<execution id>/baseline/baseline.json``, in every
    account), and ``CheckMetric``: if the test metric reaches the ``MetricThreshold``
    parameter, ``RegisterModel`` in the registry's group with the metrics and baselines
    attached (the version's ``baseline.json`` as ``ModelMetrics.ModelDataQuality.Statistics``,
    so each version carries its own), the ``ModelApprovalStatus`` parameter
    (its default is ``approval_status``) and ``inference_instance_types`` (``ml.m5.large``
    by default; the types the environment's endpoints serve the model on) and
    ``transform_instance_types`` (``ml.m5.xlarge`` by default), else the pipeline fails.

    Files the SDK would upload while authoring (with ``model_monitor_baselines``: Clarify's
    ``analysis_config.json`` and the bias monitoring config, keyed by its content under
    ``baselines/data-bias-config/``) are written at deploy time to
    exactly the artifacts-bucket key the definition names, by a custom resource
    (``PutObject``): Clarify looks for ``analysis_config.json`` by name, which an asset's
    hashed key would not give. They are kept when the stack is deleted (registered model
    packages refer to the monitoring config).

    Every job runs in the given subnets and security group, with network isolation,
    inter-container traffic encryption, and volumes and outputs encrypted with
    ``artifacts_key``, as one execution role. That role reads only the input prefix of the
    lake and the pipeline's scripts (with ``s3:ListBucket`` on the assets bucket for exactly
    the scripts' keys, as processing inputs are ``S3Prefix`` inputs), writes only
    ``pipelines/<name>/`` of the artifacts bucket, and registers only in the model's group.
    The registry's reader accounts may read the tuning jobs' model archives
    (:meth:`ModelRegistry.share_model_artifacts`), so a package they can see is usable.

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
        lake: IDataLake,
        input_zone: str,
        input_prefix: str,
        artifacts: IArtifactStore,
        registry: IModelRegistry,
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
        bias_label_values_or_threshold: Sequence[float] | None = None,
        bias_facet_values_or_threshold: Sequence[float] = (0.5,),
        inference_instance_types: Sequence[str] = DEFAULT_INFERENCE_INSTANCE_TYPES,
        transform_instance_types: Sequence[str] = DEFAULT_TRANSFORM_INSTANCE_TYPES,
        model_monitor_baselines: bool = False,
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("TrainingPipeline")
        check.require(
            approval_status in ("PendingManualApproval", "Approved"),
            "approval_status",
            approval_status,
            "expected PendingManualApproval or Approved",
        )
        for field, got, expected in tuning_problems(tuning):
            check.require(False, f"tuning.{field}", got, expected)
        check.require(
            bias_facet in features, "bias_facet", bias_facet, "expected one of the features"
        )
        if bias_label_values_or_threshold is None:
            check.require(
                tuning.problem_type == "binary_classification",
                "bias_label_values_or_threshold",
                None,
                "expected a label threshold (the positive outcome) for a regression model",
            )
            bias_label_values_or_threshold = (0.5,)
        check.require(
            tuning.problem_type != "regression" or len(bias_label_values_or_threshold) == 1,
            "bias_label_values_or_threshold",
            list(bias_label_values_or_threshold),
            "expected one threshold for a regression label",
        )
        check.require(
            bool(bias_facet_values_or_threshold),
            "bias_facet_values_or_threshold",
            list(bias_facet_values_or_threshold),
            "expected at least one facet value",
        )
        check.require(
            bool(inference_instance_types) and bool(transform_instance_types),
            "inference_instance_types",
            [list(inference_instance_types), list(transform_instance_types)],
            "expected at least one inference and one transform instance type",
        )
        check.require(
            input_prefix.endswith("/"),
            "input_prefix",
            input_prefix,
            "expected a key prefix ending with '/'",
        )
        check.require_sagemaker_sdk(self, "the pipeline definition")
        check.raise_if_any()
        stack = Stack.of(self)
        prefix = f"pipelines/{pipeline_name}"
        self.pipeline_name = pipeline_name
        #: Whether the Model Monitor and Clarify baseline steps run (see the class docstring).
        self.model_monitor_baselines = model_monitor_baselines
        #: Where each execution writes its outputs in the artifacts bucket,
        #: ``pipelines/<name>/executions/<execution id>/``: the evaluation, the monitoring
        #: baseline and, with ``model_monitor_baselines``, Model Monitor's and Clarify's
        #: baselines (``baselines/data-quality/``, ``baselines/data-bias/``), which the
        #: version it registers names as its ``DriftCheckBaselines``. A monitor reads the
        #: pinned version's baselines under it.
        self.executions_prefix = f"{prefix}/executions/"

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
            for name in ("preprocess", "evaluate", "baseline")
        }
        subnet_ids = vpc.select_subnets(
            subnet_type=subnets.subnet_type, subnet_group_name=subnets.subnet_group_name
        ).subnet_ids

        from mlops_constructs.training._definition import PipelineSpec, build_definition

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
            baseline_script_uri=scripts["baseline"].s3_object_url,
            input_uri=f"s3://{lake.bucket(input_zone).bucket_name}/{input_prefix}",
            label=label,
            key_column=key_column,
            headers=[label, *features],
            problem_type=tuning.problem_type,
            objective_metric=tuning.objective_metric,
            objective_type=tuning.objective_type,
            xgboost_version=tuning.xgboost_version,
            sklearn_version=SKLEARN_VERSION,
            hyperparameter_ranges=[r.to_dict() for r in tuning.ranges],
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
            bias_label_values_or_threshold=[float(v) for v in bias_label_values_or_threshold],
            bias_facet_values_or_threshold=[float(v) for v in bias_facet_values_or_threshold],
            input_mode=tuning.input_mode,
            inference_instances=list(inference_instance_types),
            transform_instances=list(transform_instance_types),
            model_monitor_baselines=model_monitor_baselines,
        )
        definition = build_definition(spec)
        body = definition.body
        self.definition_body = body
        #: The features the PrepareFeatures step passes as ``--features``, in CSV order.
        self.features = list(features)

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
        # Registered packages point at the tuning jobs' archives: the registry's reader
        # accounts may read those (and nothing else of the pipeline's prefix).
        registry.share_model_artifacts(artifacts, f"{prefix}/tuning/")
        policy = self.role.node.find_child("DefaultPolicy")
        self.pipeline.node.add_dependency(policy)
        uploads = self._deploy_uploads(definition.uploads, artifacts, prefix)
        if uploads is not None:
            self.pipeline.node.add_dependency(uploads)

    def _deploy_uploads(
        self, uploads: Mapping[str, bytes], artifacts: IArtifactStore, prefix: str
    ) -> Construct | None:
        """Write each file the SDK would have uploaded to the very URI the definition names
        (in the artifacts bucket, under ``prefix``), at deploy time."""
        #: Artifacts-bucket keys of the files the definition reads (its SDK uploads).
        self.upload_keys: dict[str, str] = {}
        if not uploads:
            return None
        bucket = artifacts.bucket
        head = f"s3://{bucket.bucket_name}/"
        for uri in uploads:
            key = uri[len(head) :] if uri.startswith(head) else ""
            if not key.startswith(f"{prefix}/"):
                raise ValueError(f"SDK upload {uri} is not under the pipeline's prefix {prefix}/")
            self.upload_keys[uri] = key
        scope = Construct(self, "SdkUploads")
        region = Stack.of(self).region
        for i, (uri, key) in enumerate(sorted(self.upload_keys.items())):
            put = cr.AwsSdkCall(
                service="S3",
                action="putObject",
                parameters={
                    "Bucket": bucket.bucket_name,
                    "Key": key,
                    "Body": uploads[uri].decode("utf-8"),
                    "ContentType": "application/json",
                    "ServerSideEncryption": "aws:kms",
                    "SSEKMSKeyId": artifacts.encryption_key.key_arn,
                },
                physical_resource_id=cr.PhysicalResourceId.of(key),
            )
            policy = cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["s3:PutObject"], resources=[bucket.arn_for_objects(key)]
                    ),
                    # The bucket encrypts with the artifacts key; the writer needs it via S3.
                    iam.PolicyStatement(
                        actions=["kms:GenerateDataKey"],
                        resources=[artifacts.encryption_key.key_arn],
                        conditions={
                            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}
                        },
                    ),
                ]
            )
            # No on_delete: registered model packages keep referring to these files.
            cr.AwsCustomResource(
                scope,
                f"Upload{i}",
                on_create=put,
                on_update=put,
                policy=policy,
                install_latest_aws_sdk=False,
            )
        acknowledge_sdk_function(self)
        return scope

    def _grant(
        self,
        lake: IDataLake,
        input_zone: str,
        input_prefix: str,
        artifacts: IArtifactStore,
        registry: IModelRegistry,
        prefix: str,
        scripts: Mapping[str, s3_assets.Asset],
    ) -> None:
        role = self.role
        stack = Stack.of(self)
        lake.grant_read(role, input_zone, input_prefix)
        artifacts.grant_prefix(role, f"{prefix}/")
        for asset in scripts.values():
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[asset.bucket.arn_for_objects(asset.s3_object_key)],
                )
            )
        # A script is a processing job's S3Prefix input: the job lists the bucket with the
        # object's key as prefix before it downloads. List exactly those keys.
        for bucket_arn in sorted({a.bucket.bucket_arn for a in scripts.values()}):
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket_arn],
                    conditions={
                        "StringEquals": {
                            "s3:prefix": [
                                a.s3_object_key
                                for a in scripts.values()
                                if a.bucket.bucket_arn == bucket_arn
                            ]
                        }
                    },
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

    def data_rule(self, id: str, *, etl_job_name: str) -> events.CfnRule:
        """Start the pipeline once per successful run of the Glue job ``etl_job_name`` that
        writes its input (EventBridge ``Glue Job State Change`` to ``SUCCEEDED``).

        Not on S3 ``Object Created``: one run writes many part files, and each would start
        an execution with its own tuning job. Runs are as frequent as the ETL's schedule or
        workflow; no cooldown applies (the retraining trigger's cooldown covers alarms).
        """
        return self._start_rule(
            id,
            "new-data",
            event_pattern={
                "source": ["aws.glue"],
                "detail-type": ["Glue Job State Change"],
                "detail": {"jobName": [etl_job_name], "state": ["SUCCEEDED"]},
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

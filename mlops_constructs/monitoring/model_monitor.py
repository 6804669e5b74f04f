"""SageMaker Model Monitor schedules on a serving endpoint, with alarms."""

from __future__ import annotations

import copy
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import CfnResource, Fn, Names, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct

from mlops_constructs.core.sagemaker_roles import grant_sagemaker_runtime
from mlops_constructs.core.sdk_calls import acknowledge_sdk_function
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.lake.interfaces import IArtifactStore
from mlops_constructs.monitoring.props import (
    _HIGHER_IS_BETTER,
    _PROBLEM_TYPES,
    BIAS_METRICS,
    DATA_QUALITY,
    DEFAULT_MAX_RUNTIME_SECONDS,
    MODEL_BIAS,
    MODEL_QUALITY,
    BiasSettings,
    MonitorSchedules,
    MonitorThresholds,
    bias_problems,
    quality_problems,
    runtime_problems,
)
from mlops_constructs.serving.interfaces import IServingEndpoint
from mlops_constructs.serving.props import _PACKAGE_ARN
from mlops_constructs.training._definition import DATA_QUALITY_DATASET_FORMAT

#: The dataset format of the training pipeline's ``DataQualityBaseline`` step (a
#: QualityCheckStep on the train split: CSV, no header, the label first), as the SageMaker
#: SDK's ``DatasetFormat.csv`` arguments; the drift metric names follow from it (see
#: :func:`analyzer_column`).
BASELINE_DATASET_FORMAT: dict[str, Any] = DATA_QUALITY_DATASET_FORMAT
#: Columns the built-in XGBoost answers a CSV request with: one score per row.
OUTPUT_COLUMNS = 1
#: The job environment every job definition sets: the prebuilt containers (Model Monitor's
#: analyzer and Clarify) publish CloudWatch metrics only when it says ``Enabled`` ("Container
#: Contract Inputs", ``publish_cloudwatch_metrics``; the SageMaker SDK sets it the same way,
#: ``_generate_env_map``).
JOB_ENVIRONMENT = {"publish_cloudwatch_metrics": "Enabled"}
#: Where DescribeModelPackage has the version's Model Monitor baselines.
_BASELINE_FIELDS = {
    "constraints": "DriftCheckBaselines.ModelDataQuality.Constraints.S3Uri",
    "statistics": "DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri",
}


def analyzer_column(features: Sequence[str], feature: str) -> str:
    """The name Model Monitor's analyzer gives ``feature`` (one of ``features``, in the
    order the endpoint receives them) in the data-quality monitoring of this platform's
    endpoints, which is the name in its ``feature_baseline_drift_<name>`` metric.

    The baseline (``BASELINE_DATASET_FORMAT``) is header-less CSV, so the analyzer names
    columns by position, ``_c0``, ``_c1``... (Spark's names for a CSV without a header); a
    monitoring run reads each captured record as the response's columns and then the
    request's (``dataset_format`` ``sagemakerCaptureJson`` with ``endpointInput`` and
    ``endpointOutput``, "Container Contract Inputs"), placed as the baseline's label:
    first for ``output_columns_position`` ``START``. So with the label first, feature ``i``
    is ``_c<i + 1>`` (``_c0`` is the score); with ``END``, ``_c<i>``.
    """
    if BASELINE_DATASET_FORMAT["header"]:  # pragma: no cover - the contract is header-less
        raise NotImplementedError("names for a baseline with a header are not derived here")
    first = OUTPUT_COLUMNS if BASELINE_DATASET_FORMAT["output_columns_position"] == "START" else 0
    return f"_c{first + list(features).index(feature)}"


def drift_metric_name(features: Sequence[str], feature: str) -> str:
    """The CloudWatch metric with ``feature``'s baseline drift ("CloudWatch Metrics",
    model-monitor-interpreting-cloudwatch: ``feature_baseline_drift_{feature_name}``)."""
    return f"feature_baseline_drift_{analyzer_column(features, feature)}"


class ModelMonitor(Construct):
    """Makes the Model Monitor jobs of one single-model endpoint serving one pinned model
    package version, their schedules and alarms.

    Needs the SageMaker Python SDK (the package's ``pipelines`` extra: it names the Model
    Monitor and Clarify images) and a stack with an explicit region; without either it raises
    a ``PropsError`` saying what to do.

    **What it watches**: ``endpoint``, a single-model endpoint (Model Monitor supports only
    endpoints hosting a single model: the Model Monitor overview page, model-monitor.html,
    Notes; a multi-model endpoint is refused) serving ``model_package_arn``, one *versioned*
    model package ARN (``.../model-package/<group>/<version>``). That version must exist and
    carry Model Monitor's baselines as its ``DriftCheckBaselines`` (the training pipeline's
    ``DataQualityBaseline`` step, ``TrainingPipeline(model_monitor_baselines=True)``), or the
    deploy fails: a fresh account with no trained version cannot use this engine. When the
    endpoint serves another version, change ``model_package_arn`` with it.

    * **Baselines of the pinned version**: a custom resource (``AwsCustomResource``) calls
      DescribeModelPackage on ``model_package_arn`` at deploy time (its policy allows that
      call on that ARN only) and the data-quality job reads the version's registered
      ``DriftCheckBaselines.ModelDataQuality`` constraints and statistics, which the
      pipeline writes under its execution (``executions_prefix``), so another run, approved
      or not, never replaces them.
    * **Job definitions**: data quality (against those baselines), model quality (captured
      predictions joined with ground truth under ``ground_truth_prefix`` by inference id,
      ``problem_type``), model bias (Clarify: DPL, KL, TVD and, with a group variable, CDDL,
      on the facet; its analysis configuration is written by the SageMaker SDK's config
      classes at synth time and shipped as an S3 asset). Images are the SDK's
      ``model-monitor`` and ``clarify`` images for the region. Every job's environment has
      ``publish_cloudwatch_metrics: Enabled`` (:data:`JOB_ENVIRONMENT`), without which the
      containers publish no metric for the alarms.
    * **No explainability job.** Clarify's SHAP analysis in Model Monitor computes
      attributions by sending synthetic records (``num_samples`` per record) to the
      endpoint, which captures them as traffic for the next runs to analyse ("Analysis
      configuration files"); its alternative, a shadow endpoint, needs network isolation
      off ("Give Amazon SageMaker Clarify Jobs Access to Resources in Your Amazon VPC") and
      Clarify is closed to new customers ("Clarify availability change"). The default
      engine (:class:`~mlops_constructs.monitoring.MonitoringEngine`) computes TreeSHAP
      offline from the model archive instead. So no job here calls the endpoint: every job
      has **network isolation** on and the role cannot invoke any endpoint.
    * Every job: ``instance_type`` (``ml.m5.xlarge`` by default) with its 30 GB volume and
      outputs encrypted with the artifacts key, in the given subnets and security group,
      inter-container traffic encrypted, and at most ``max_runtime_seconds`` (1800 by
      default): CreateMonitoringSchedule refuses a runtime longer than the time between two
      runs of a schedule, or above 1800 seconds on an hourly model-quality or bias schedule
      (:func:`~mlops_constructs.monitoring.props.runtime_problems`).
    * One role for the jobs: it reads the endpoint's capture prefix, the ground truth, the
      pipeline's ``executions_prefix`` and the analysis configuration, and writes only the
      reports prefix ``endpoints/<name>/monitoring/``.
    * **Schedules**: one per job with its ``schedules`` cron (:class:`MonitorSchedules`
      defaults). Schedule names are generated at synth time (CloudFormation requires a
      name); job definitions get generated names. Schedules and job definitions depend on
      the endpoint resource when ``endpoint`` was made in this app (SageMaker checks that
      the endpoint exists when a schedule is created); for an endpoint imported with
      ``from_endpoint_attributes`` there is nothing to depend on: deploy it first.
    * **Alarms** to ``alarm_topic``: feature drift per feature (on the analyzer's column
      name, :func:`drift_metric_name`), the model-quality metric, each bias metric
      threshold; and an EventBridge rule sending failed monitoring executions to the
      topic. ``drift_alarms`` lists the alarms meant to start retraining.

    ``endpoint`` is a :class:`~mlops_constructs.serving.ModelPackageEndpoint` with data
    capture on, or one imported with ``ModelPackageEndpoint.from_endpoint_attributes``;
    ``artifacts`` an :class:`~mlops_constructs.lake.IArtifactStore`; ``executions_prefix``
    the training pipeline's ``TrainingPipeline.executions_prefix``
    (``pipelines/<name>/executions/``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint: IServingEndpoint,
        artifacts: IArtifactStore,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        alarm_topic: sns.ITopic,
        problem_type: str,
        features: Sequence[str],
        label: str,
        model_package_arn: str,
        executions_prefix: str,
        bias: BiasSettings,
        thresholds: MonitorThresholds | None = None,
        schedules: MonitorSchedules | None = None,
        ground_truth_prefix: str | None = None,
        instance_type: str = "ml.m5.xlarge",
        max_runtime_seconds: int = DEFAULT_MAX_RUNTIME_SECONDS,
    ) -> None:
        super().__init__(scope, id)
        thresholds = thresholds or MonitorThresholds()
        schedules = schedules or MonitorSchedules()
        self._check(
            endpoint, problem_type, features, bias, thresholds, schedules, model_package_arn,
            executions_prefix, max_runtime_seconds,
        )  # fmt: skip
        stack = Stack.of(self)
        self.endpoint = endpoint
        self.artifacts = artifacts
        self.model_package_arn = model_package_arn
        self.features = list(features)
        bucket = artifacts.bucket.bucket_name
        self.reports_prefix = f"{endpoint.prefix}monitoring/"
        self.ground_truth_prefix = ground_truth_prefix or f"{endpoint.prefix}ground-truth/"
        self.ground_truth_uri = f"s3://{bucket}/{self.ground_truth_prefix.rstrip('/')}"
        self.problem_type = problem_type

        from mlops_constructs.training._definition import image_uri

        self.monitor_image = image_uri("model-monitor", stack.region)
        self.clarify_image = image_uri("clarify", stack.region)

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Model Monitor jobs of the {endpoint.endpoint_name} endpoint",
        )
        configs = self._analysis_configs(features, label, bias)
        self._grant(executions_prefix, configs)
        baselines = self._pinned_baselines(model_package_arn)

        subnet_ids = vpc.select_subnets(
            subnet_type=subnets.subnet_type, subnet_group_name=subnets.subnet_group_name
        ).subnet_ids
        self._subnets = list(subnet_ids)
        self._security_group = security_group.security_group_id
        self._instance_type = instance_type
        self._max_runtime = max_runtime_seconds
        self._key = artifacts.encryption_key.key_arn
        self._bucket = bucket

        captured = sagemaker.CfnDataQualityJobDefinition.EndpointInputProperty(
            endpoint_name=endpoint.endpoint_name, local_path="/opt/ml/processing/input/endpoint"
        )
        self.job_definitions: dict[str, Any] = {}
        self.job_definitions[DATA_QUALITY] = sagemaker.CfnDataQualityJobDefinition(
            self,
            "DataQualityJob",
            endpoint_name=endpoint.endpoint_name,
            role_arn=self.role.role_arn,
            data_quality_app_specification=sagemaker.CfnDataQualityJobDefinition.DataQualityAppSpecificationProperty(
                image_uri=self.monitor_image, environment=dict(JOB_ENVIRONMENT)
            ),
            data_quality_baseline_config=sagemaker.CfnDataQualityJobDefinition.DataQualityBaselineConfigProperty(
                constraints_resource=sagemaker.CfnDataQualityJobDefinition.ConstraintsResourceProperty(
                    s3_uri=baselines["constraints"]
                ),
                statistics_resource=sagemaker.CfnDataQualityJobDefinition.StatisticsResourceProperty(
                    s3_uri=baselines["statistics"]
                ),
            ),
            data_quality_job_input=sagemaker.CfnDataQualityJobDefinition.DataQualityJobInputProperty(
                endpoint_input=captured
            ),
            data_quality_job_output_config=self._output(
                sagemaker.CfnDataQualityJobDefinition, "data-quality"
            ),
            job_resources=self._resources(sagemaker.CfnDataQualityJobDefinition),
            network_config=self._network(sagemaker.CfnDataQualityJobDefinition),
            stopping_condition=self._stopping(sagemaker.CfnDataQualityJobDefinition),
        )
        model_input = self._endpoint_input(sagemaker.CfnModelQualityJobDefinition)
        self.job_definitions[MODEL_QUALITY] = sagemaker.CfnModelQualityJobDefinition(
            self,
            "ModelQualityJob",
            endpoint_name=endpoint.endpoint_name,
            role_arn=self.role.role_arn,
            model_quality_app_specification=sagemaker.CfnModelQualityJobDefinition.ModelQualityAppSpecificationProperty(
                image_uri=self.monitor_image,
                problem_type=_PROBLEM_TYPES[problem_type],
                environment=dict(JOB_ENVIRONMENT),
            ),
            model_quality_job_input=sagemaker.CfnModelQualityJobDefinition.ModelQualityJobInputProperty(
                endpoint_input=model_input,
                ground_truth_s3_input=sagemaker.CfnModelQualityJobDefinition.MonitoringGroundTruthS3InputProperty(
                    s3_uri=self.ground_truth_uri
                ),
            ),
            model_quality_job_output_config=self._output(
                sagemaker.CfnModelQualityJobDefinition, "model-quality"
            ),
            job_resources=self._resources(sagemaker.CfnModelQualityJobDefinition),
            network_config=self._network(sagemaker.CfnModelQualityJobDefinition),
            stopping_condition=self._stopping(sagemaker.CfnModelQualityJobDefinition),
        )
        self.job_definitions[MODEL_BIAS] = sagemaker.CfnModelBiasJobDefinition(
            self,
            "ModelBiasJob",
            endpoint_name=endpoint.endpoint_name,
            role_arn=self.role.role_arn,
            model_bias_app_specification=sagemaker.CfnModelBiasJobDefinition.ModelBiasAppSpecificationProperty(
                image_uri=self.clarify_image,
                config_uri=configs["bias"].s3_object_url,
                environment=dict(JOB_ENVIRONMENT),
            ),
            model_bias_job_input=sagemaker.CfnModelBiasJobDefinition.ModelBiasJobInputProperty(
                endpoint_input=self._endpoint_input(sagemaker.CfnModelBiasJobDefinition),
                ground_truth_s3_input=sagemaker.CfnModelBiasJobDefinition.MonitoringGroundTruthS3InputProperty(
                    s3_uri=self.ground_truth_uri
                ),
            ),
            model_bias_job_output_config=self._output(
                sagemaker.CfnModelBiasJobDefinition, "model-bias"
            ),
            job_resources=self._resources(sagemaker.CfnModelBiasJobDefinition),
            network_config=self._network(sagemaker.CfnModelBiasJobDefinition),
            stopping_condition=self._stopping(sagemaker.CfnModelBiasJobDefinition),
        )
        policy = self.role.node.find_child("DefaultPolicy")
        # SageMaker checks that the endpoint exists when a schedule is created; an imported
        # endpoint has no resource here (see the docstring).
        endpoint_resource = getattr(endpoint, "endpoint", None)
        if not isinstance(endpoint_resource, CfnResource):
            endpoint_resource = None
        self.schedules: dict[str, sagemaker.CfnMonitoringSchedule] = {}
        for monitoring_type, definition in self.job_definitions.items():
            definition.node.add_dependency(policy)
            schedule = sagemaker.CfnMonitoringSchedule(
                self,
                f"{monitoring_type}Schedule",
                monitoring_schedule_name=Names.unique_resource_name(
                    self, max_length=50, separator="-"
                )
                + f"-{_SHORT[monitoring_type]}",
                endpoint_name=endpoint.endpoint_name,
                monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                    monitoring_type=monitoring_type,
                    # Job definitions have generated names, which only their ARN carries.
                    monitoring_job_definition_name=Fn.select(
                        1, Fn.split("/", definition.attr_job_definition_arn)
                    ),
                    schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                        schedule_expression=schedules.for_type(monitoring_type)
                    ),
                ),
            )
            if endpoint_resource is not None:
                definition.node.add_dependency(endpoint_resource)
                schedule.node.add_dependency(endpoint_resource)
            self.schedules[monitoring_type] = schedule

        self.alarms: dict[str, cloudwatch.CfnAlarm] = {}
        self._alarm_on(alarm_topic, features, bias, thresholds)
        self.failed_executions_rule = events.Rule(
            self,
            "FailedExecutions",
            description=f"Failed Model Monitor executions of {endpoint.endpoint_name}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Processing Job State Change"],
                detail={
                    "ProcessingJobStatus": ["Failed"],
                    "MonitoringScheduleArn": [
                        s.attr_monitoring_schedule_arn for s in self.schedules.values()
                    ],
                },
            ),
            targets=[targets.SnsTopic(alarm_topic)],
        )

    @property
    def drift_alarms(self) -> list[cloudwatch.CfnAlarm]:
        """The alarms that mean the model no longer fits its traffic: feature drift and
        model quality (bias alarms call for people, not automatic retraining)."""
        return [a for name, a in self.alarms.items() if not name.startswith("Bias")]

    def grant_ground_truth_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` (the labelling process) write ground truth records: a policy in
        the artifact store's stack attached to its role, user or group (dropped with a
        warning for an immutable imported role)."""
        return self.artifacts.grant_prefix(grantee, self.ground_truth_prefix)

    # -- validation -----------------------------------------------------------------------
    def _check(
        self,
        endpoint: IServingEndpoint,
        problem_type: str,
        features: Sequence[str],
        bias: BiasSettings,
        thresholds: MonitorThresholds,
        schedules: MonitorSchedules,
        model_package_arn: str,
        executions_prefix: str,
        max_runtime_seconds: int,
    ) -> None:
        check = PropsCheck("ModelMonitor")
        check.require(
            not endpoint.multi_model and not getattr(endpoint, "inference_components", False),
            "endpoint",
            endpoint.node.path,
            "expected a single-model endpoint: Model Monitor does not monitor multi-model "
            "endpoints (the Model Monitor overview page, model-monitor.html, Notes: it "
            "supports endpoints that host a single model), and an inference-component "
            "endpoint hosts one per component; use the monitoring engine",
        )
        check.require(
            endpoint.capture_percentage > 0,
            "endpoint.capture_percentage",
            endpoint.capture_percentage,
            "expected data capture on (above 0): every monitor reads the captured traffic",
        )
        check.require(
            problem_type in _PROBLEM_TYPES,
            "problem_type",
            problem_type,
            f"expected one of {sorted(_PROBLEM_TYPES)}",
        )
        check.require(bias.facet in features, "bias.facet", bias.facet, "expected a feature")
        check.require(
            Token.is_unresolved(model_package_arn) or bool(_PACKAGE_ARN.match(model_package_arn)),
            "model_package_arn",
            model_package_arn,
            "expected the versioned model package ARN the endpoint serves "
            "(arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>): "
            "its registered baselines are the ones monitored",
        )
        # The rules the app's config applies too (monitoring/props.py).
        for field, got, expected in [
            *(("thresholds." + f, v, x) for f, v, x in quality_problems(problem_type, thresholds)),
            *(("bias." + f, v, x) for f, v, x in bias_problems(problem_type, features, bias)),
            *runtime_problems(schedules, max_runtime_seconds),
        ]:
            check.require(False, field, got, expected)
        check.require(
            executions_prefix.endswith("/"),
            "executions_prefix",
            executions_prefix,
            "expected a key prefix ending with '/' (TrainingPipeline.executions_prefix)",
        )
        check.require_sagemaker_sdk(self, "the Model Monitor and Clarify image URIs")
        check.raise_if_any()

    # -- parts ----------------------------------------------------------------------------
    def _analysis_configs(
        self,
        features: Sequence[str],
        label: str,
        bias: BiasSettings,
    ) -> dict[str, s3_assets.Asset]:
        """The bias job's Clarify analysis configuration, written by the SageMaker SDK's
        config classes. It has no ``predictor`` section: the job reads the captured
        predictions and never calls the endpoint."""
        from mlops_constructs.training._definition import offline_sdk, sdk_cached

        region = Stack.of(self).region
        positive = (
            [bias.label_threshold] if bias.label_threshold is not None else list(bias.label_values)
        )
        inputs = [region, list(features), label, positive, bias.facet, bias.facet_value,
                  bias.group_variable]  # fmt: skip

        def write() -> dict[str, Any]:
            with offline_sdk(region):
                from sagemaker.core.clarify import BiasConfig
                from sagemaker.core.model_monitor.clarify_model_monitoring import (
                    BiasAnalysisConfig,
                )

                return {
                    "bias": BiasAnalysisConfig(
                        BiasConfig(
                            label_values_or_threshold=positive,
                            facet_name=bias.facet,
                            facet_values_or_threshold=[bias.facet_value],
                            group_name=bias.group_variable,
                        ),
                        headers=[label, *features],
                        label=label,
                    )._to_dict(),
                }

        written = copy.deepcopy(sdk_cached("clarify-bias-analysis-config", inputs, write))
        bias_config = written["bias"]
        pre_training = [m for m in bias.thresholds if m in BIAS_METRICS] or ["DPL"]
        bias_config["methods"] = {
            "pre_training_bias": {"methods": pre_training},
            "post_training_bias": {"methods": ["DPPL"]},
        }
        # A file asset (not a folder, which would ship as a zip): ConfigUri is the JSON.
        path = Path(tempfile.mkdtemp(prefix="monitor-config-")) / "analysis_config.json"
        path.write_text(json.dumps(bias_config, sort_keys=True))
        self.analysis_configs = {"bias": bias_config}
        return {"bias": s3_assets.Asset(self, "BiasAnalysisConfig", path=str(path))}

    def _pinned_baselines(self, model_package_arn: str) -> dict[str, str]:
        """The S3 URIs of the pinned version's registered data-quality baselines, read at
        deploy time with DescribeModelPackage."""
        call = cr.AwsSdkCall(
            service="SageMaker",
            action="describeModelPackage",
            parameters={"ModelPackageName": model_package_arn},
            physical_resource_id=cr.PhysicalResourceId.of(model_package_arn),
            output_paths=list(_BASELINE_FIELDS.values()),
        )
        self.baselines_lookup = cr.AwsCustomResource(
            self,
            "PinnedBaselines",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["sagemaker:DescribeModelPackage"], resources=[model_package_arn]
                    )
                ]
            ),
            install_latest_aws_sdk=False,
        )
        acknowledge_sdk_function(self)
        return {
            name: self.baselines_lookup.get_response_field(field)
            for name, field in _BASELINE_FIELDS.items()
        }

    def _grant(self, executions_prefix: str, configs: Mapping[str, s3_assets.Asset]) -> None:
        role = self.role
        artifacts = self.artifacts
        artifacts.grant_prefix(role, f"{self.endpoint.prefix}capture/", write=False)
        artifacts.grant_prefix(role, self.ground_truth_prefix, write=False)
        # The pinned version's baselines are under one execution of the pipeline, known
        # only at deploy time.
        artifacts.grant_prefix(role, executions_prefix, write=False)
        artifacts.grant_prefix(role, self.reports_prefix)
        for asset in configs.values():
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[asset.bucket.arn_for_objects(f"{asset.s3_object_key}")],
                )
            )
        # No grant to invoke the endpoint: no job calls it.
        grant_sagemaker_runtime(role, volume_key=artifacts.encryption_key)

    def _resources(self, cls: Any) -> Any:
        return cls.MonitoringResourcesProperty(
            cluster_config=cls.ClusterConfigProperty(
                instance_count=1,
                instance_type=self._instance_type,
                volume_size_in_gb=30,
                volume_kms_key_id=self._key,
            )
        )

    def _network(self, cls: Any) -> Any:
        return cls.NetworkConfigProperty(
            enable_network_isolation=True,
            enable_inter_container_traffic_encryption=True,
            vpc_config=cls.VpcConfigProperty(
                security_group_ids=[self._security_group], subnets=self._subnets
            ),
        )

    def _output(self, cls: Any, kind: str) -> Any:
        return cls.MonitoringOutputConfigProperty(
            kms_key_id=self._key,
            monitoring_outputs=[
                cls.MonitoringOutputProperty(
                    s3_output=cls.S3OutputProperty(
                        local_path="/opt/ml/processing/output",
                        s3_uri=f"s3://{self._bucket}/{self.reports_prefix}{kind}",
                        s3_upload_mode="EndOfJob",
                    )
                )
            ],
        )

    def _stopping(self, cls: Any) -> Any:
        return cls.StoppingConditionProperty(max_runtime_in_seconds=self._max_runtime)

    def _endpoint_input(self, cls: Any, *, ground_truth: bool = True) -> Any:
        """The captured traffic; with ground truth, the last day's predictions, once their
        labels have had a day to arrive."""
        classification = self.problem_type == "binary_classification"
        # Built-in XGBoost answers CSV: the score (a probability when classifying) is column 0.
        extra: dict[str, Any] = (
            {"probability_attribute": "0"} if classification else {"inference_attribute": "0"}
        )
        if ground_truth:
            extra.update(start_time_offset="-P2D", end_time_offset="-P1D")
            if classification:
                extra["probability_threshold_attribute"] = 0.5
        return cls.EndpointInputProperty(
            endpoint_name=self.endpoint.endpoint_name,
            local_path="/opt/ml/processing/input/endpoint",
            **extra,
        )

    def _alarm_on(
        self,
        topic: sns.ITopic,
        features: Sequence[str],
        bias: BiasSettings,
        thresholds: MonitorThresholds,
    ) -> None:
        name = self.endpoint.endpoint_name
        for feature in features:
            column = analyzer_column(features, feature)
            self._insights_alarm(
                f"Drift{pascal_case(feature)}",
                topic,
                namespace="aws/sagemaker/Endpoints/data-metrics",
                metric=drift_metric_name(features, feature),
                schedule=DATA_QUALITY,
                threshold=thresholds.feature_drift,
                above=True,
                what=f"{name}: drift of feature {feature} (column {column}) from its baseline",
            )
        metric = thresholds.metric(self.problem_type)
        above = metric not in _HIGHER_IS_BETTER
        self._insights_alarm(
            f"Quality{pascal_case(metric)}",
            topic,
            namespace="aws/sagemaker/Endpoints/model-metrics",
            metric=metric,
            schedule=MODEL_QUALITY,
            threshold=thresholds.quality_threshold,
            above=above,
            what=f"{name}: model {metric} {'above' if above else 'below'} its threshold",
        )
        for short, threshold in bias.thresholds.items():
            self._insights_alarm(
                f"Bias{short}",
                topic,
                namespace="aws/sagemaker/Endpoints/bias-metrics",
                metric=f"bias_metric_{short}",
                schedule=MODEL_BIAS,
                threshold=threshold,
                above=True,
                what=f"{name}: bias metric {short} on {bias.facet} above its threshold",
            )

    def _insights_alarm(
        self,
        id: str,
        topic: sns.ITopic,
        *,
        namespace: str,
        metric: str,
        schedule: str,
        threshold: float,
        above: bool,
        what: str,
    ) -> None:
        # A Metrics Insights query: the monitors add dimensions (label, facet, stage...)
        # whose values are only known at run time, so the alarm filters on the schedule.
        query = Fn.join(
            "",
            [
                f'SELECT MAX("{metric}") FROM "{namespace}" WHERE MonitoringSchedule = \'',
                self.schedules[schedule].monitoring_schedule_name,
                "'",
            ],
        )
        alarm = cloudwatch.CfnAlarm(
            self,
            f"{id}Alarm",
            alarm_description=what,
            comparison_operator="GreaterThanThreshold" if above else "LessThanThreshold",
            threshold=threshold,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data="notBreaching",
            metrics=[
                cloudwatch.CfnAlarm.MetricDataQueryProperty(
                    id="q", expression=query, period=3600, return_data=True
                )
            ],
            alarm_actions=[topic.topic_arn],
            ok_actions=[topic.topic_arn],
        )
        self.alarms[id] = alarm


_SHORT = {DATA_QUALITY: "dq", MODEL_QUALITY: "mq", MODEL_BIAS: "bias"}


def pascal_case(name: str) -> str:
    """``spend_v2`` or ``rmse-x`` as a construct id part: ``SpendV2``, ``RmseX``."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)

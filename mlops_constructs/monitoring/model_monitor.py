"""SageMaker Model Monitor schedules on a serving endpoint, with alarms."""

from __future__ import annotations

import copy
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Fn, Names, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.core.sagemaker_roles import grant_sagemaker_runtime
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.lake.interfaces import IArtifactStore
from mlops_constructs.monitoring.props import (
    _HIGHER_IS_BETTER,
    _PROBLEM_TYPES,
    BIAS_METRICS,
    DATA_QUALITY,
    MODEL_BIAS,
    MODEL_EXPLAINABILITY,
    MODEL_QUALITY,
    BiasSettings,
    MonitorSchedules,
    MonitorThresholds,
    bias_problems,
    quality_problems,
)
from mlops_constructs.serving.interfaces import IServingEndpoint


class ModelMonitor(Construct):
    """Makes the four Model Monitor jobs of one single-model endpoint, their schedules and
    alarms.

    Needs the SageMaker Python SDK (the package's ``pipelines`` extra: it names the Model
    Monitor and Clarify images) and a stack with an explicit region; without either it raises
    a ``PropsError`` saying what to do.

    * **Job definitions**: data quality (against the training pipeline's data-quality
      constraints and statistics), model quality (captured predictions joined with ground
      truth under ``ground_truth_prefix`` by inference id, ``problem_type``), model bias
      (Clarify: DPL, KL, TVD and, with a group variable, CDDL, on the facet) and model
      explainability (Clarify SHAP against ``shap_baseline``, default a row of zeros).
      The Clarify analysis configurations are written by the SageMaker SDK's config classes
      at synth time and shipped as S3 assets. Images are the SDK's ``model-monitor`` and
      ``clarify`` images for the region.
    * Every job: ``instance_type`` with its volume and outputs encrypted with the artifacts
      key, in the given subnets and security group, inter-container traffic encrypted,
      **network isolation** on, except the explainability job, which must call the
      endpoint to compute SHAP values (it still runs in the VPC, reaching the endpoint
      through the SageMaker runtime interface endpoint), and at most ``max_runtime_seconds``.
    * One role for the jobs: it reads the endpoint's capture prefix, the ground truth,
      the baselines prefix and the analysis configurations, writes only the reports
      prefix ``endpoints/<name>/monitoring/``, and may invoke only this endpoint.
    * **Schedules**: one per job with its ``schedules`` cron. Schedule names are generated
      at synth time (CloudFormation requires a name); job definitions get generated names.
    * **Alarms** to ``alarm_topic``: feature drift per feature, the model-quality metric,
      each bias metric threshold; and an EventBridge rule sending failed monitoring
      executions to the topic. ``drift_alarms`` lists the alarms meant to start retraining.

    Model Monitor does not monitor multi-model endpoints: ``endpoint`` must be a
    :class:`~mlops_constructs.serving.ModelPackageEndpoint` with data capture on, or one
    imported with ``ModelPackageEndpoint.from_endpoint_attributes``; ``artifacts`` an
    :class:`~mlops_constructs.lake.IArtifactStore`.
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
        baselines_prefix: str,
        bias: BiasSettings,
        thresholds: MonitorThresholds | None = None,
        schedules: MonitorSchedules | None = None,
        ground_truth_prefix: str | None = None,
        shap_baseline: Sequence[float] | None = None,
        instance_type: str = "ml.m5.xlarge",
        max_runtime_seconds: int = 3600,
    ) -> None:
        super().__init__(scope, id)
        thresholds = thresholds or MonitorThresholds()
        schedules = schedules or MonitorSchedules()
        self._check(
            endpoint, problem_type, features, bias, thresholds, schedules, baselines_prefix,
            shap_baseline, max_runtime_seconds,
        )  # fmt: skip
        stack = Stack.of(self)
        self.endpoint = endpoint
        self.artifacts = artifacts
        bucket = artifacts.bucket.bucket_name
        self.reports_prefix = f"{endpoint.prefix}monitoring/"
        self.ground_truth_prefix = ground_truth_prefix or f"{endpoint.prefix}ground-truth/"
        self.ground_truth_uri = f"s3://{bucket}/{self.ground_truth_prefix.rstrip('/')}"
        self.problem_type = problem_type
        baselines = f"s3://{bucket}/{baselines_prefix.rstrip('/')}"

        from mlops_constructs.training._definition import image_uri

        self.monitor_image = image_uri("model-monitor", stack.region)
        self.clarify_image = image_uri("clarify", stack.region)

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Model Monitor jobs of the {endpoint.endpoint_name} endpoint",
        )
        configs = self._analysis_configs(endpoint, features, label, bias, shap_baseline)
        self._grant(baselines_prefix, configs)

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
                image_uri=self.monitor_image
            ),
            data_quality_baseline_config=sagemaker.CfnDataQualityJobDefinition.DataQualityBaselineConfigProperty(
                constraints_resource=sagemaker.CfnDataQualityJobDefinition.ConstraintsResourceProperty(
                    s3_uri=f"{baselines}/data-quality/constraints.json"
                ),
                statistics_resource=sagemaker.CfnDataQualityJobDefinition.StatisticsResourceProperty(
                    s3_uri=f"{baselines}/data-quality/statistics.json"
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
                image_uri=self.monitor_image, problem_type=_PROBLEM_TYPES[problem_type]
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
                image_uri=self.clarify_image, config_uri=configs["bias"].s3_object_url
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
        self.job_definitions[MODEL_EXPLAINABILITY] = sagemaker.CfnModelExplainabilityJobDefinition(
            self,
            "ModelExplainabilityJob",
            endpoint_name=endpoint.endpoint_name,
            role_arn=self.role.role_arn,
            model_explainability_app_specification=sagemaker.CfnModelExplainabilityJobDefinition.ModelExplainabilityAppSpecificationProperty(
                image_uri=self.clarify_image, config_uri=configs["explainability"].s3_object_url
            ),
            model_explainability_job_input=sagemaker.CfnModelExplainabilityJobDefinition.ModelExplainabilityJobInputProperty(
                endpoint_input=self._endpoint_input(
                    sagemaker.CfnModelExplainabilityJobDefinition, ground_truth=False
                )
            ),
            model_explainability_job_output_config=self._output(
                sagemaker.CfnModelExplainabilityJobDefinition, "model-explainability"
            ),
            job_resources=self._resources(sagemaker.CfnModelExplainabilityJobDefinition),
            # Clarify computes SHAP values by invoking the endpoint: no network isolation.
            network_config=self._network(
                sagemaker.CfnModelExplainabilityJobDefinition, isolate=False
            ),
            stopping_condition=self._stopping(sagemaker.CfnModelExplainabilityJobDefinition),
        )
        policy = self.role.node.find_child("DefaultPolicy")
        self.schedules: dict[str, sagemaker.CfnMonitoringSchedule] = {}
        for monitoring_type, definition in self.job_definitions.items():
            definition.node.add_dependency(policy)
            self.schedules[monitoring_type] = sagemaker.CfnMonitoringSchedule(
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
        baselines_prefix: str,
        shap_baseline: Sequence[float] | None,
        max_runtime_seconds: int,
    ) -> None:
        check = PropsCheck("ModelMonitor")
        check.require(
            not endpoint.multi_model,
            "endpoint",
            endpoint.node.path,
            "expected a single-model endpoint: Model Monitor does not monitor multi-model "
            "endpoints",
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
        # The rules the app's config applies too (monitoring/props.py).
        for field, got, expected in [
            *(("thresholds." + f, v, x) for f, v, x in quality_problems(problem_type, thresholds)),
            *(("bias." + f, v, x) for f, v, x in bias_problems(problem_type, features, bias)),
        ]:
            check.require(False, field, got, expected)
        check.require(
            baselines_prefix.endswith("/"),
            "baselines_prefix",
            baselines_prefix,
            "expected a key prefix ending with '/'",
        )
        check.require(
            shap_baseline is None or len(shap_baseline) == len(features),
            "shap_baseline",
            list(shap_baseline or []),
            f"expected one value per feature ({len(features)})",
        )
        check.require(
            60 <= max_runtime_seconds <= 86400,
            "max_runtime_seconds",
            max_runtime_seconds,
            "expected 60 to 86400",
        )
        check.require_sagemaker_sdk(self, "the Model Monitor and Clarify image URIs")
        check.raise_if_any()

    # -- parts ----------------------------------------------------------------------------
    def _analysis_configs(
        self,
        endpoint: IServingEndpoint,
        features: Sequence[str],
        label: str,
        bias: BiasSettings,
        shap_baseline: Sequence[float] | None,
    ) -> dict[str, s3_assets.Asset]:
        """Clarify analysis configurations, written by the SageMaker SDK's config classes."""
        from mlops_constructs.training._definition import offline_sdk, sdk_cached

        region = Stack.of(self).region
        positive = (
            [bias.label_threshold] if bias.label_threshold is not None else list(bias.label_values)
        )
        baseline = [list(shap_baseline or [0.0] * len(features))]
        inputs = [region, endpoint.endpoint_name, list(features), label, positive,
                  bias.facet, bias.facet_value, bias.group_variable, baseline]  # fmt: skip

        def write() -> dict[str, Any]:
            with offline_sdk(region):
                from sagemaker.core.clarify import BiasConfig, ModelConfig, SHAPConfig
                from sagemaker.core.model_monitor.clarify_model_monitoring import (
                    BiasAnalysisConfig,
                    ExplainabilityAnalysisConfig,
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
                    "explainability": ExplainabilityAnalysisConfig(
                        SHAPConfig(
                            baseline=baseline,
                            num_samples=100,
                            agg_method="mean_abs",
                            save_local_shap_values=False,
                        ),
                        ModelConfig(
                            endpoint_name=endpoint.endpoint_name,
                            content_type="text/csv",
                            accept_type="text/csv",
                        ),
                        headers=list(features),
                    )._to_dict(),
                }

        written = copy.deepcopy(sdk_cached("clarify-analysis-configs", inputs, write))
        bias_config = written["bias"]
        explainability_config = written["explainability"]
        pre_training = [m for m in bias.thresholds if m in BIAS_METRICS] or ["DPL"]
        bias_config["methods"] = {
            "pre_training_bias": {"methods": pre_training},
            "post_training_bias": {"methods": ["DPPL"]},
        }
        assets = {}
        for name, config in (("bias", bias_config), ("explainability", explainability_config)):
            # A file asset (not a folder, which would ship as a zip): ConfigUri is the JSON.
            path = Path(tempfile.mkdtemp(prefix="monitor-config-")) / "analysis_config.json"
            path.write_text(json.dumps(config, sort_keys=True))
            assets[name] = s3_assets.Asset(
                self, f"{name.capitalize()}AnalysisConfig", path=str(path)
            )
        self.analysis_configs = {"bias": bias_config, "explainability": explainability_config}
        return assets

    def _grant(self, baselines_prefix: str, configs: Mapping[str, s3_assets.Asset]) -> None:
        role = self.role
        artifacts = self.artifacts
        artifacts.grant_prefix(role, f"{self.endpoint.prefix}capture/", write=False)
        artifacts.grant_prefix(role, self.ground_truth_prefix, write=False)
        artifacts.grant_prefix(role, baselines_prefix, write=False)
        artifacts.grant_prefix(role, self.reports_prefix)
        for asset in configs.values():
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[asset.bucket.arn_for_objects(f"{asset.s3_object_key}")],
                )
            )
        # Clarify's SHAP analysis invokes the monitored endpoint.
        self.endpoint.grant_invoke(role)
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

    def _network(self, cls: Any, *, isolate: bool = True) -> Any:
        return cls.NetworkConfigProperty(
            enable_network_isolation=isolate,
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
            self._insights_alarm(
                f"Drift{pascal_case(feature)}",
                topic,
                namespace="aws/sagemaker/Endpoints/data-metrics",
                metric=f"feature_baseline_drift_{feature}",
                schedule=DATA_QUALITY,
                threshold=thresholds.feature_drift,
                above=True,
                what=f"{name}: drift of feature {feature} from its baseline",
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


_SHORT = {DATA_QUALITY: "dq", MODEL_QUALITY: "mq", MODEL_BIAS: "bias", MODEL_EXPLAINABILITY: "expl"}


def pascal_case(name: str) -> str:
    """``spend_v2`` or ``rmse-x`` as a construct id part: ``SpendV2``, ``RmseX``."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)

"""Serving endpoints: a SageMaker multi-model endpoint, or one serving a model package."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Unpack

from aws_cdk import Duration, Names, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.core.metrics import MetricOptionsArgs, metric_options
from mlops_constructs.core.policies import grant_to_principal
from mlops_constructs.core.sagemaker_roles import grant_sagemaker_runtime
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.lake.interfaces import IArtifactStore
from mlops_constructs.serving.interfaces import IMultiModelEndpoint, IServingEndpoint
from mlops_constructs.serving.props import (
    _INSTANCE_TYPE,
    _PACKAGE_ARN,
    CAPTURE,
    DEPLOYMENTS,
    MODELS,
    SHADOW_VARIANT,
    VARIANT,
    ABTest,
    EndpointAlarmThresholds,
    EndpointAutoScaling,
    Rollout,
    ShadowVariant,
    ab_test_problems,
    autoscaling_problems,
    has_instance_storage,
    rollout_problems,
    smallest_fleet,
)

_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class _EndpointBase(Construct):
    """Metrics and grants of an endpoint, made or imported."""

    endpoint_name: str
    endpoint_arn: str
    artifacts: IArtifactStore
    prefix: str
    models_prefix: str
    deployments_prefix: str
    capture_percentage: int
    #: Where data capture writes (endpoints made here; set by the subclass).
    capture_uri: str
    #: True when the endpoint hosts many models (``TargetModel``); Model Monitor cannot
    #: monitor such endpoints.
    multi_model = False

    def _data_capture(
        self, key_arn: str, percentage: int
    ) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        """Data capture of ``percentage`` of the requests and responses (0: off) to
        ``capture_uri``, encrypted with ``key_arn``; CSV and JSON bodies kept as text."""
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=percentage > 0,
            initial_sampling_percentage=percentage,
            destination_s3_uri=self.capture_uri,
            kms_key_id=key_arn,
            capture_options=[
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
            ],
            capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                csv_content_types=["text/csv"], json_content_types=["application/json"]
            ),
        )

    def _set_names(self, endpoint_name: str, artifacts: IArtifactStore) -> None:
        self.endpoint_name = endpoint_name
        self.prefix = f"endpoints/{endpoint_name}/"
        self.models_prefix = f"{self.prefix}{MODELS}"
        self.deployments_prefix = f"{self.prefix}{DEPLOYMENTS}"
        self.artifacts = artifacts
        self.endpoint_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=endpoint_name.lower()
        )

    # -- metrics ----------------------------------------------------------------------------
    # Each metric_* method takes the cloudwatch.MetricOptions as keyword-only options, as
    # aws-cdk's own do; a dimensions_map is merged over the variant's dimensions.
    def metric(
        self,
        name: str,
        *,
        namespace: str = "AWS/SageMaker",
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """A metric of the production variant (dimensions ``EndpointName``, ``VariantName``):
        ``Sum`` per minute by default."""
        return self._variant_metric(name, options, namespace=namespace)

    def _variant_metric(
        self,
        name: str,
        given: Mapping[str, Any],
        *,
        statistic: str = "Sum",
        namespace: str = "AWS/SageMaker",
    ) -> cloudwatch.Metric:
        return _endpoint_metric(self.endpoint_name, name, given, statistic, namespace)

    def metric_invocations(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Requests to the variant: ``Sum`` per minute by default."""
        return self._variant_metric("Invocations", options)

    def metric_server_errors(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """5XX responses: ``Sum`` per minute by default."""
        return self._variant_metric("Invocation5XXErrors", options)

    def metric_client_errors(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """4XX responses: ``Sum`` per minute by default."""
        return self._variant_metric("Invocation4XXErrors", options)

    def metric_model_latency(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Time the model took to respond, in microseconds: ``p99`` per minute by
        default."""
        return self._variant_metric("ModelLatency", options, statistic="p99")

    def metric_model_loading_wait_time(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Time requests waited for their model to load, in microseconds: ``p99`` per
        minute by default."""
        return self._variant_metric("ModelLoadingWaitTime", options, statistic="p99")

    def metric_model_cache_hit(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Share of requests whose model was already loaded (0 to 1): ``Average`` per
        minute by default."""
        return self._variant_metric("ModelCacheHit", options, statistic="Average")

    def metric_cpu_utilization(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """CPU utilization of the instances, percent summed over vCPUs: ``Average`` per
        minute by default."""
        return self._variant_metric(
            "CPUUtilization", options, statistic="Average", namespace="/aws/sagemaker/Endpoints"
        )

    def metric_memory_utilization(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Memory utilization of the instances, percent: ``Average`` per minute by
        default."""
        return self._variant_metric(
            "MemoryUtilization", options, statistic="Average", namespace="/aws/sagemaker/Endpoints"
        )

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` invoke the endpoint (any of its models)."""
        return grant_to_principal(
            self,
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint"],
            resource_arns=[self.endpoint_arn],
        )


class ServingEndpoint(_EndpointBase):
    """What :class:`MultiModelEndpoint` and :class:`ModelPackageEndpoint` share; see them."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        artifacts: IArtifactStore,
        image_uri: str | None = None,
        model_package_arn: str | None = None,
        model_read_prefix: str = "pipelines/",
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        alarm_topic: sns.ITopic,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        capture_percentage: int = 20,
        autoscaling: EndpointAutoScaling | None = None,
        rollout: Rollout | None = None,
        shadow: ShadowVariant | None = None,
        ab_test: ABTest | None = None,
        alarm_thresholds: EndpointAlarmThresholds | None = None,
    ) -> None:
        super().__init__(scope, id)
        fleet = smallest_fleet(instance_count, autoscaling, ab_test)
        rollout = (rollout or Rollout()).for_fleet(fleet)
        thresholds = alarm_thresholds or EndpointAlarmThresholds()
        self._check(
            instance_type, instance_count, capture_percentage, autoscaling, rollout, shadow, ab_test
        )
        self.ab_test = ab_test
        self.capture_percentage = capture_percentage
        self._set_names(Names.unique_resource_name(self, max_length=63, separator="-"), artifacts)
        bucket = artifacts.bucket.bucket_name
        self.capture_uri = f"s3://{bucket}/{self.prefix}{CAPTURE.rstrip('/')}"
        key = artifacts.encryption_key

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"{'Multi-model' if self.multi_model else 'Model'} endpoint: reads its "
            "model archives, writes its data capture",
        )
        artifacts.grant_prefix(
            self.role, self.models_prefix if self.multi_model else model_read_prefix, write=False
        )
        artifacts.grant_prefix(self.role, f"{self.prefix}{CAPTURE}")
        grant_sagemaker_runtime(self.role, log_group_prefix="/aws/sagemaker/Endpoints/*")

        subnet_ids = vpc.select_subnets(
            subnet_type=subnets.subnet_type, subnet_group_name=subnets.subnet_group_name
        ).subnet_ids
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri,
                mode="MultiModel",
                model_data_url=f"s3://{bucket}/{self.models_prefix}",
                multi_model_config=sagemaker.CfnModel.MultiModelConfigProperty(
                    model_cache_setting="Enabled"
                ),
            )
            if self.multi_model
            # The package names its image and archive; the version is pinned.
            else sagemaker.CfnModel.ContainerDefinitionProperty(
                model_package_name=model_package_arn
            ),
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=[security_group.security_group_id], subnets=subnet_ids
            ),
            enable_network_isolation=True,
        )
        policy = self.role.node.find_child("DefaultPolicy")
        self.model.node.add_dependency(policy)

        challengers = ab_test.challengers if ab_test else ()
        # A challenger with its own image gets a model of its own over the same archives.
        models = {
            c.name: self._challenger_model(c.image_uri, c.name) if c.image_uri else None
            for c in challengers
        }
        variants = (
            [instance_type]
            + [c.instance_type or instance_type for c in challengers]
            + ([shadow.instance_type] if shadow else [])
        )
        self.config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    model_name=self.model.attr_model_name,
                    instance_type=instance_type,
                    initial_instance_count=instance_count,
                    initial_variant_weight=ab_test.champion_weight if ab_test else 1.0,
                ),
                *(
                    sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                        variant_name=c.name,
                        model_name=(models[c.name] or self.model).attr_model_name,
                        instance_type=c.instance_type or instance_type,
                        initial_instance_count=c.instance_count,
                        initial_variant_weight=c.weight,
                    )
                    for c in challengers
                ),
            ],
            shadow_production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=SHADOW_VARIANT,
                    model_name=self.model.attr_model_name,
                    instance_type=shadow.instance_type,
                    initial_instance_count=shadow.instance_count,
                    initial_variant_weight=shadow.traffic_percent / 100,
                )
            ]
            if shadow
            else None,
            kms_key_id=None if any(map(has_instance_storage, variants)) else key.key_arn,
            data_capture_config=self._data_capture(key.key_arn, capture_percentage),
        )

        self.alarms = self._alarms(thresholds, alarm_topic)
        #: The 5XX and latency alarms of each challenger, by variant name (the champion's
        #: are in ``alarms``).
        self.variant_alarms: dict[str, dict[str, cloudwatch.Alarm]] = {
            c.name: self._variant_alarms(c.name, thresholds, alarm_topic) for c in challengers
        }
        rollback = [self.alarms["ServerErrors"], self.alarms["ModelLatency"]]
        for alarms in self.variant_alarms.values():
            rollback += [alarms["ServerErrors"], alarms["ModelLatency"]]
        retain, excluded = self._retained(autoscaling, ab_test)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.config.attr_endpoint_config_name,
            deployment_config=sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                    traffic_routing_configuration=self._traffic(rollout),
                    termination_wait_in_seconds=rollout.bake_seconds,
                ),
                auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                    alarms=[
                        sagemaker.CfnEndpoint.AlarmProperty(alarm_name=a.alarm_name)
                        for a in rollback
                    ]
                ),
            ),
            retain_all_variant_properties=retain,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type=p)
                for p in excluded
            ]
            or None,
        )
        self.scalable_target: appscaling.CfnScalableTarget | None = None
        self.scaling_policies: list[appscaling.CfnScalingPolicy] = []
        #: Each challenger's scalable target, by variant name (the champion's is
        #: ``scalable_target``).
        self.variant_scalable_targets: dict[str, appscaling.CfnScalableTarget] = {}
        if autoscaling is not None:
            self.scalable_target = self._autoscale(autoscaling)
        for c in challengers:
            if c.autoscaling is not None:
                self.variant_scalable_targets[c.name] = self._autoscale(c.autoscaling, c.name)
        self.dashboard = self._dashboard(shadow is not None)

    # -- validation -----------------------------------------------------------------------
    @classmethod
    def _check(
        cls,
        instance_type: str,
        instance_count: int,
        capture_percentage: int,
        autoscaling: EndpointAutoScaling | None,
        rollout: Rollout,
        shadow: ShadowVariant | None,
        ab_test: ABTest | None,
    ) -> None:
        check = PropsCheck(cls.__name__)
        # The settings types check their own fields when made (serving/props.py); what
        # relates them to each other and to these props is checked here.
        check.require(
            bool(_INSTANCE_TYPE.match(instance_type)),
            "instance_type",
            instance_type,
            "expected a SageMaker instance type such as 'ml.m5.large'",
        )
        check.require(instance_count >= 1, "instance_count", instance_count, "expected >= 1")
        check.require(
            0 <= capture_percentage <= 100,
            "capture_percentage",
            capture_percentage,
            "expected 0 to 100",
        )
        for field, got, expected in [
            *rollout_problems(rollout, smallest_fleet(instance_count, autoscaling, ab_test)),
            *autoscaling_problems(instance_type, instance_count, autoscaling),
            *ab_test_problems(
                ab_test, instance_type=instance_type, shadow=shadow, multi_model=cls.multi_model
            ),
        ]:
            check.require(False, field, got, expected)
        check.raise_if_any()

    # -- parts ----------------------------------------------------------------------------
    @staticmethod
    def _traffic(rollout: Rollout) -> sagemaker.CfnEndpoint.TrafficRoutingConfigProperty:
        assert rollout.traffic is not None  # chosen for the fleet in __init__
        step = sagemaker.CfnEndpoint.CapacitySizeProperty(
            type="CAPACITY_PERCENT", value=rollout.step_percent
        )
        return sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type=rollout.traffic,
            wait_interval_in_seconds=rollout.wait_seconds,
            canary_size=step if rollout.traffic == "CANARY" else None,
            linear_step_size=step if rollout.traffic == "LINEAR" else None,
        )

    def _challenger_model(self, image_uri: str, variant: str) -> sagemaker.CfnModel:
        """A multi-model model of ``image_uri`` over the endpoint's models prefix, as the
        champion's but for the image."""
        champion = self.model
        container = sagemaker.CfnModel.ContainerDefinitionProperty(
            image=image_uri,
            mode="MultiModel",
            model_data_url=f"s3://{self.artifacts.bucket.bucket_name}/{self.models_prefix}",
            multi_model_config=sagemaker.CfnModel.MultiModelConfigProperty(
                model_cache_setting="Enabled"
            ),
        )
        model = sagemaker.CfnModel(
            self,
            f"Model-{variant}",
            execution_role_arn=champion.execution_role_arn,
            primary_container=container,
            vpc_config=champion.vpc_config,
            enable_network_isolation=True,
        )
        model.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        return model

    @staticmethod
    def _retained(
        autoscaling: EndpointAutoScaling | None, ab_test: ABTest | None
    ) -> tuple[bool, list[str]]:
        """``RetainAllVariantProperties`` and the ``ExcludeRetainedVariantProperties`` of
        the endpoint: what a stack update keeps of the running variants (instance counts,
        weights) and what it takes from the configuration. Instance types, images and the
        set of variants always follow the configuration (they are not variant properties:
        API Reference, "VariantProperty")."""
        if ab_test is None:
            # Keep what autoscaling has set (instance count) across updates, but apply a
            # changed data capture configuration.
            return (autoscaling is not None, ["DataCaptureConfig"] if autoscaling else [])
        scaled = autoscaling is not None or any(c.autoscaling for c in ab_test.challengers)
        excluded = []
        if not scaled:
            # Nothing else sets instance counts: the configured ones apply on every update.
            excluded.append("DesiredInstanceCount")
        if not ab_test.retain_weights:
            excluded.append("DesiredWeight")
        # Weights shifted at run time survive an update (unless retain_weights is off).
        return True, [*excluded, "DataCaptureConfig"]

    def _autoscale(
        self, a: EndpointAutoScaling, variant: str = VARIANT
    ) -> appscaling.CfnScalableTarget:
        # The champion's construct ids are those it had before A/B tests existed.
        suffix = "" if variant == VARIANT else f"-{variant}"
        scheduled = None
        if a.off_hours is not None:
            off = a.off_hours
            scheduled = [
                appscaling.CfnScalableTarget.ScheduledActionProperty(
                    scheduled_action_name="off-hours-start",
                    schedule=off.start,
                    timezone=off.timezone,
                    scalable_target_action=appscaling.CfnScalableTarget.ScalableTargetActionProperty(
                        min_capacity=off.min_capacity, max_capacity=off.max_capacity
                    ),
                ),
                appscaling.CfnScalableTarget.ScheduledActionProperty(
                    scheduled_action_name="off-hours-end",
                    schedule=off.end,
                    timezone=off.timezone,
                    scalable_target_action=appscaling.CfnScalableTarget.ScalableTargetActionProperty(
                        min_capacity=a.min_capacity, max_capacity=a.max_capacity
                    ),
                ),
            ]
        # No RoleARN: Application Auto Scaling uses its SageMaker service-linked role.
        target = appscaling.CfnScalableTarget(
            self,
            f"ScalableTarget{suffix}",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=f"endpoint/{self.endpoint_name}/variant/{variant}",
            min_capacity=a.min_capacity,
            max_capacity=a.max_capacity,
            scheduled_actions=scheduled,
        )
        # The resource id is a string, not a reference: the variant must exist first.
        target.node.add_dependency(self.endpoint)
        policies: list[
            tuple[
                str,
                str,
                float,
                appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty | None,
                appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty | None,
            ]
        ] = [
            (
                "InvocationsScaling",
                "invocations-per-instance",
                float(a.invocations_per_instance),
                appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                ),
                None,
            )
        ]
        if a.utilization_metric is not None:
            policies.append(
                (
                    "UtilizationScaling",
                    a.utilization_metric.lower().replace("utilization", "-utilization"),
                    a.utilization_target,
                    None,
                    appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                        metric_name=a.utilization_metric,
                        namespace="/aws/sagemaker/Endpoints",
                        statistic="Average",
                        unit="Percent",
                        dimensions=self._dimensions_for_scaling(variant),
                    ),
                )
            )
        for id, name, value, predefined, customized in policies:
            policy = appscaling.CfnScalingPolicy(
                self,
                f"{id}{suffix}",
                policy_name=name,
                policy_type="TargetTrackingScaling",
                scaling_target_id=target.ref,
                target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                    target_value=value,
                    predefined_metric_specification=predefined,
                    customized_metric_specification=customized,
                    scale_in_cooldown=a.scale_in_cooldown_seconds,
                    scale_out_cooldown=a.scale_out_cooldown_seconds,
                ),
            )
            self.scaling_policies.append(policy)
        return target

    def _dimensions_for_scaling(
        self, variant: str
    ) -> list[appscaling.CfnScalingPolicy.MetricDimensionProperty]:
        return [
            appscaling.CfnScalingPolicy.MetricDimensionProperty(
                name="EndpointName", value=self.endpoint_name
            ),
            appscaling.CfnScalingPolicy.MetricDimensionProperty(name="VariantName", value=variant),
        ]

    def _alarms(self, t: EndpointAlarmThresholds, topic: sns.ITopic) -> dict[str, cloudwatch.Alarm]:
        specs = [
            (
                "ServerErrors",
                self.metric_server_errors(),
                t.server_errors_per_minute,
                "5XX errors per minute",
            ),
            (
                "ModelLatency",
                self.metric_model_latency(),
                t.model_latency_p99_ms * 1000,
                "p99 model latency (microseconds)",
            ),
            *(
                [
                    (
                        "ModelLoadingWait",
                        self.metric_model_loading_wait_time(),
                        t.model_loading_wait_p99_ms * 1000,
                        "p99 wait for a model to load (microseconds)",
                    )
                ]
                if self.multi_model
                else []
            ),
            (
                "CpuUtilization",
                self.metric_cpu_utilization(),
                t.cpu_utilization_percent,
                "CPU utilization (percent, summed over vCPUs)",
            ),
            (
                "MemoryUtilization",
                self.metric_memory_utilization(),
                t.memory_utilization_percent,
                "memory utilization (percent)",
            ),
        ]
        return {
            id: self._alarm(f"{id}Alarm", metric, threshold, what, t, topic)
            for id, metric, threshold, what in specs
        }

    def _variant_alarms(
        self, variant: str, t: EndpointAlarmThresholds, topic: sns.ITopic
    ) -> dict[str, cloudwatch.Alarm]:
        """The 5XX and p99 latency alarms of a challenger variant (they also roll back a
        blue/green update)."""
        on = {"dimensions_map": {"VariantName": variant}}
        return {
            "ServerErrors": self._alarm(
                f"ServerErrors-{variant}Alarm",
                self.metric_server_errors(**on),  # type: ignore[arg-type]
                t.server_errors_per_minute,
                f"variant {variant}: 5XX errors per minute",
                t,
                topic,
            ),
            "ModelLatency": self._alarm(
                f"ModelLatency-{variant}Alarm",
                self.metric_model_latency(**on),  # type: ignore[arg-type]
                t.model_latency_p99_ms * 1000,
                f"variant {variant}: p99 model latency (microseconds)",
                t,
                topic,
            ),
        }

    def _alarm(
        self,
        id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        what: str,
        t: EndpointAlarmThresholds,
        topic: sns.ITopic,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            id,
            alarm_description=f"{self.endpoint_name}: {what} above {threshold}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=t.periods,
            datapoints_to_alarm=t.periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
        alarm.add_ok_action(cw_actions.SnsAction(topic))
        return alarm

    def _dashboard(self, shadow: bool) -> cloudwatch.Dashboard:
        def graph(
            title: str, *metrics: cloudwatch.IMetric, width: int = 12
        ) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(metrics), width=width)

        # Each variant side by side: the A/B test's, or production against its shadow.
        variants = (
            self.ab_test.variant_names()
            if self.ab_test
            else [VARIANT, SHADOW_VARIANT]
            if shadow
            else []
        )
        what = "production vs shadow" if shadow else "by variant"

        def each(method: Any) -> list[cloudwatch.IMetric]:
            return [method(dimensions_map={"VariantName": v}, label=v) for v in variants]

        compared = (
            [
                [
                    graph(f"Invocations, {what}", *each(self.metric_invocations), width=8),
                    graph(f"5XX errors, {what}", *each(self.metric_server_errors), width=8),
                    graph(
                        f"Model latency p99 (us), {what}",
                        *each(self.metric_model_latency),
                        width=8,
                    ),
                ]
            ]
            if variants
            else []
        )
        return cloudwatch.Dashboard(
            self,
            "Dashboard",
            widgets=[
                [
                    graph("Invocations", self.metric_invocations()),
                    graph("Errors", self.metric_server_errors(), self.metric_client_errors()),
                ],
                [
                    graph("Model latency p99 (us)", self.metric_model_latency()),
                    graph(
                        "Model loading wait p99 (us), cache hit ratio",
                        self.metric_model_loading_wait_time(),
                        self.metric_model_cache_hit(),
                    )
                    if self.multi_model
                    else graph(
                        "Overhead latency p99 (us)", self.metric("OverheadLatency", statistic="p99")
                    ),
                ],
                [
                    graph(
                        "Utilization (%)",
                        self.metric_cpu_utilization(),
                        self.metric_memory_utilization(),
                    )
                ],
                *compared,
            ],
        )


class MultiModelEndpoint(ServingEndpoint):
    """Makes a SageMaker multi-model endpoint serving every model archive under its prefix.

    * **Model**: ``MultiModel`` mode over ``s3://<artifacts>/endpoints/<name>/models/``
      (a model is invoked with ``TargetModel`` = its key under that prefix, e.g.
      ``spend/v3.tar.gz``), ``image_uri`` (for example the XGBoost inference image the
      sagemaker SDK gives for the region), model caching on, in the given subnets and
      security group, **network isolation** on. Its execution role may read only that
      prefix, write only the capture prefix, decrypt/encrypt with the artifacts key through
      S3, pull AWS images, write logs under ``/aws/sagemaker/Endpoints/*`` and attach network
      interfaces; the model depends on that role's policy, so it is never created before its
      permissions exist.
    * **Endpoint configuration**: the ``AllTraffic`` variant (``instance_type``,
      ``instance_count``), and with ``shadow`` a ``Shadow`` variant getting a copy of
      production traffic, or with ``ab_test`` (:class:`ABTest`; not both: an endpoint with a
      shadow variant has one production variant) a challenger variant per
      :class:`Challenger` sharing the traffic by weight: the same models prefix, its own
      instance type and count, and its own model where it names another image; volumes
      encrypted with the artifacts key (instance types with local NVMe storage take no volume
      key: they are hardware-encrypted, and SageMaker rejects one); **data capture** of
      requests and responses (``capture_percentage`` of them; 0 turns capture off) to
      ``endpoints/<name>/capture/``, KMS-encrypted.
    * **Endpoint**: blue/green updates shifting traffic per ``rollout`` (by default a 10%
      canary from 2 instances, all at once on one instance, baked 600 s either way), rolled
      back automatically when the server-error or latency alarm of any variant fires. With
      autoscaling, an update keeps the instance counts autoscaling has set; with an A/B
      test it keeps the weights set at run time (``UpdateEndpointWeightsAndCapacities``)
      unless ``ab_test.retain_weights`` is false, and the configured instance counts apply
      when no variant autoscales. Instance types and images always follow the configuration.
    * **Autoscaling** (``autoscaling``, and each challenger's own): a scalable target on the
      variant's instance count (it depends on the endpoint), target tracking on invocations
      per instance with the given cooldowns, optionally a CPU or memory policy and
      off-hours bounds. Not for ``ml.t*`` types (SageMaker cannot scale them).
    * **Alarms** to ``alarm_topic`` (server errors, p99 model latency, p99 model loading wait
      time, CPU and memory utilization; server errors and p99 latency of each challenger)
      and a CloudWatch dashboard, which graphs invocations, errors and latency of each
      variant side by side with an A/B test, or production against shadow.

    Names: the model and configuration get generated names, so a changed setting replaces
    them cleanly; the endpoint's name is generated at synth time from the construct path
    (its alarms name it, and it names its rollback alarms, so CloudFormation cannot generate
    it) and, being the endpoint's only replacement-causing property, never blocks an update.

    Props (keyword-only): ``artifacts`` (an :class:`~mlops_constructs.lake.IArtifactStore`),
    ``vpc``, ``subnets``, ``security_group``, ``alarm_topic``; ``instance_type``
    (``ml.m5.large`` by default), ``instance_count`` (1), ``capture_percentage`` (20),
    ``autoscaling`` (none), ``rollout`` (the default :class:`Rollout`), ``shadow`` (none),
    ``ab_test`` (none), ``alarm_thresholds`` (the default :class:`EndpointAlarmThresholds`).
    An endpoint deployed elsewhere is imported with :meth:`from_endpoint_attributes`.
    """

    multi_model = True

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        image_uri: str,
        artifacts: IArtifactStore,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        alarm_topic: sns.ITopic,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        capture_percentage: int = 20,
        autoscaling: EndpointAutoScaling | None = None,
        rollout: Rollout | None = None,
        shadow: ShadowVariant | None = None,
        ab_test: ABTest | None = None,
        alarm_thresholds: EndpointAlarmThresholds | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            image_uri=image_uri,
            artifacts=artifacts,
            vpc=vpc,
            subnets=subnets,
            security_group=security_group,
            alarm_topic=alarm_topic,
            instance_type=instance_type,
            instance_count=instance_count,
            capture_percentage=capture_percentage,
            autoscaling=autoscaling,
            rollout=rollout,
            shadow=shadow,
            ab_test=ab_test,
            alarm_thresholds=alarm_thresholds,
        )

    @classmethod
    def from_endpoint_attributes(
        cls, scope: Construct, id: str, *, endpoint_name: str, artifacts: IArtifactStore
    ) -> IMultiModelEndpoint:
        """A multi-model endpoint deployed elsewhere, named ``endpoint_name``, serving the
        archives under ``endpoints/<endpoint_name>/models/`` of ``artifacts`` (the layout this
        construct makes): to deploy approved models into, invoke, or graph. Nothing is
        created."""
        return _ImportedEndpoint(
            scope, id, endpoint_name=endpoint_name, artifacts=artifacts, multi_model=True
        )


class ModelPackageEndpoint(ServingEndpoint):
    """Makes a single-model endpoint serving one pinned, approved model package version.

    Everything is as for :class:`MultiModelEndpoint` (role, VPC, network isolation, KMS,
    data capture, blue/green with rollback alarms, autoscaling, alarms, dashboard), except:

    * the model is ``model_package_arn`` (a versioned package ARN: the package names the
      image and the archive), so promoting another version is a reviewed config change that
      goes through the blue/green rollout;
    * the execution role reads model archives under ``model_read_prefix`` (``pipelines/``,
      where the training pipelines write them) instead of a models prefix;
    * there is no model-loading alarm (one model, loaded when an instance starts).

    This is the endpoint kind Model Monitor can watch (it does not monitor multi-model
    endpoints).

    Props (keyword-only): ``model_package_arn``, ``model_read_prefix`` (``pipelines/``),
    and the others as :class:`MultiModelEndpoint`'s, with the same defaults. An endpoint
    deployed elsewhere is imported with :meth:`from_endpoint_attributes`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_package_arn: str,
        model_read_prefix: str = "pipelines/",
        artifacts: IArtifactStore,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        alarm_topic: sns.ITopic,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        capture_percentage: int = 20,
        autoscaling: EndpointAutoScaling | None = None,
        rollout: Rollout | None = None,
        shadow: ShadowVariant | None = None,
        ab_test: ABTest | None = None,
        alarm_thresholds: EndpointAlarmThresholds | None = None,
    ) -> None:
        check = PropsCheck("ModelPackageEndpoint")
        check.require(
            bool(_PACKAGE_ARN.match(model_package_arn)),
            "model_package_arn",
            model_package_arn,
            "expected a versioned model package ARN "
            "(arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>)",
        )
        check.raise_if_any()
        super().__init__(
            scope,
            id,
            model_package_arn=model_package_arn,
            model_read_prefix=model_read_prefix,
            artifacts=artifacts,
            vpc=vpc,
            subnets=subnets,
            security_group=security_group,
            alarm_topic=alarm_topic,
            instance_type=instance_type,
            instance_count=instance_count,
            capture_percentage=capture_percentage,
            autoscaling=autoscaling,
            rollout=rollout,
            shadow=shadow,
            ab_test=ab_test,
            alarm_thresholds=alarm_thresholds,
        )

    @classmethod
    def from_endpoint_attributes(
        cls,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        artifacts: IArtifactStore,
        capture_percentage: int = 20,
    ) -> IServingEndpoint:
        """A single-model endpoint deployed elsewhere, named ``endpoint_name``, whose data
        capture (``capture_percentage`` of requests, 20 by default as this construct's) goes
        under ``endpoints/<endpoint_name>/capture/`` of ``artifacts``: to monitor, invoke or
        graph. Nothing is created."""
        return _ImportedEndpoint(
            scope,
            id,
            endpoint_name=endpoint_name,
            artifacts=artifacts,
            multi_model=False,
            capture_percentage=capture_percentage,
        )


class _ImportedEndpoint(_EndpointBase):
    """An endpoint deployed elsewhere; see ``from_endpoint_attributes``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        artifacts: IArtifactStore,
        multi_model: bool,
        capture_percentage: int = 20,
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("from_endpoint_attributes")
        check.require(
            bool(_ENDPOINT_NAME.match(endpoint_name)),
            "endpoint_name",
            endpoint_name,
            "expected 1-63 letters, digits or hyphens, starting with a letter or digit",
        )
        check.require(
            0 <= capture_percentage <= 100,
            "capture_percentage",
            capture_percentage,
            "expected 0-100",
        )
        check.raise_if_any()
        self.multi_model = multi_model
        self.capture_percentage = capture_percentage
        self._set_names(endpoint_name, artifacts)


def _endpoint_metric(
    endpoint_name: str, name: str, given: Mapping[str, Any], statistic: str, namespace: str
) -> cloudwatch.Metric:
    options = metric_options(
        given,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": VARIANT},
        statistic=statistic,
        period=Duration.minutes(1),
    )
    return cloudwatch.Metric(namespace=namespace, metric_name=name, **options)

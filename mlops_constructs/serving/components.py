"""An endpoint hosting inference components: one per served model group, each with its own
copies and scaling, on instances SageMaker adds and removes (managed instance scaling)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Unpack

from aws_cdk import Duration, Names, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.core.metrics import MetricOptionsArgs, metric_options
from mlops_constructs.core.sagemaker_roles import grant_sagemaker_runtime
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.lake.interfaces import IArtifactStore
from mlops_constructs.serving.component_props import (
    ComponentSettings,
    InstanceScaling,
    RoutingStrategy,
    component_name,
    components_problems,
)
from mlops_constructs.serving.endpoint import _EndpointBase
from mlops_constructs.serving.props import (
    CAPTURE,
    VARIANT,
    EndpointAlarmThresholds,
    has_instance_storage,
)

#: Where invocation metrics of a component are (``AWS/SageMaker``, dimension
#: ``InferenceComponentName``) and where its utilization is
#: (``/aws/sagemaker/InferenceComponents``, normalized to the copies' reserved resources):
#: SageMaker Developer Guide, "Amazon SageMaker AI metrics in Amazon CloudWatch"
#: (monitoring-cloudwatch.html), "endpoint invocation metrics" and "inference component
#: metrics".
COMPONENT_UTILIZATION_NAMESPACE = "/aws/sagemaker/InferenceComponents"
_GROUP = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class InferenceComponentEndpoint(_EndpointBase):
    """Makes a SageMaker real-time endpoint for inference components, and describes the
    component of each served model package group that the approved-model deployer
    (:class:`~mlops_constructs.serving.ApprovedModelDeployer`) creates at run time.

    A component needs a model, and a fresh account has no approved version: so
    CloudFormation makes the endpoint with no component, and the deployer creates each
    component (named :func:`component_name`), its model versions (``<component>-v<N>``), its
    Application Auto Scaling target (``inference-component/<component>``,
    ``sagemaker:inference-component:DesiredCopyCount``, ``min_copies``-``max_copies``),
    target tracking on ``SageMakerInferenceComponentInvocationsPerCopy`` and, with
    ``scaling.scale_to_zero``, the documented wake-up: a step scaling policy and the
    CloudWatch alarm ``<component>-no-capacity`` on ``NoCapacityInvocationFailures`` whose
    action is that policy (the policy's ARN exists only once the target is registered).

    * **Execution role** (``execution_role``; the endpoint configuration's
      ``ExecutionRoleArn``, and the role the deployer gives the models): reads model archives
      under ``model_read_prefix`` (``pipelines/``, where training writes them), writes only
      the capture prefix, pulls AWS images, writes logs under ``/aws/sagemaker/Endpoints/*``
      and attaches network interfaces. The configuration depends on its policy.
    * **Endpoint configuration**: the ``AllTraffic`` variant with no model,
      ``instance_type`` (``ml.m5.large``), managed instance scaling between
      ``scaling.min_instances`` and ``scaling.max_instances`` (1 and 2; starting with
      ``max(1, min_instances)``), routing ``routing`` (``LEAST_OUTSTANDING_REQUESTS``);
      the given subnets and security group, network isolation on; volumes encrypted with
      the artifacts key (none for instance types with local NVMe storage, which SageMaker
      rejects); data capture (``capture_percentage``, 20; 0 leaves data capture out of
      the configuration) to ``endpoints/<name>/capture/``, KMS-encrypted.
    * **Endpoint**: named at synth time from the construct path (as the other endpoints);
      an update keeps the instance count managed scaling has set (``RetainAllVariantProperties``)
      but applies a changed data capture configuration.
    * **Alarms** per component, to ``alarm_topic``: 5XX errors and p99 model latency on the
      component's ``InferenceComponentName`` (``alarm_thresholds``, the default
      :class:`EndpointAlarmThresholds`); they are the alarms the deployer gives
      ``UpdateInferenceComponent``'s automatic rollback. Missing data is not breaching.
    * **Dashboard**: per component invocations, errors, p99 model latency, and CPU and
      memory utilization normalized to the copies' reservation.

    ``components`` maps each model package group to its :class:`ComponentSettings`; the
    limits (instance types, copies that fit ``max_instances``, scale to zero) are
    :func:`~mlops_constructs.serving.component_props.components_problems`, all reported at
    once. Not for Model Monitor (it monitors endpoints with one model only); no
    ``TargetModel``: callers name the component (``InferenceComponentName``).

    Props (keyword-only): ``artifacts``, ``vpc``, ``subnets``, ``security_group``,
    ``alarm_topic``, ``components`` (required); ``instance_type``, ``scaling`` (the default
    :class:`InstanceScaling`), ``routing``, ``capture_percentage``, ``alarm_thresholds``,
    ``model_read_prefix`` as above.
    """

    multi_model = False
    #: Hosts inference components: the deployer creates and updates components.
    inference_components = True

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        artifacts: IArtifactStore,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        alarm_topic: sns.ITopic,
        components: Mapping[str, ComponentSettings],
        instance_type: str = "ml.m5.large",
        scaling: InstanceScaling | None = None,
        routing: RoutingStrategy = "LEAST_OUTSTANDING_REQUESTS",
        capture_percentage: int = 20,
        alarm_thresholds: EndpointAlarmThresholds | None = None,
        model_read_prefix: str = "pipelines/",
    ) -> None:
        super().__init__(scope, id)
        scaling = scaling or InstanceScaling()
        thresholds = alarm_thresholds or EndpointAlarmThresholds()
        check = PropsCheck("InferenceComponentEndpoint")
        for group in components:
            check.require(
                bool(_GROUP.match(group)),
                "components",
                group,
                "expected model package group names (1-63 letters, digits or hyphens)",
            )
        check.require(
            0 <= capture_percentage <= 100, "capture_percentage", capture_percentage, "0-100"
        )
        check.require(
            routing in ("LEAST_OUTSTANDING_REQUESTS", "RANDOM"),
            "routing",
            routing,
            "expected LEAST_OUTSTANDING_REQUESTS or RANDOM",
        )
        for field, got, expected in components_problems(instance_type, scaling, components):
            check.require(False, field, got, expected)
        check.raise_if_any()

        self.capture_percentage = capture_percentage
        self.scaling = scaling
        self.scale_to_zero = scaling.scale_to_zero
        self.instance_type = instance_type
        self.variant_name = VARIANT
        self._set_names(Names.unique_resource_name(self, max_length=63, separator="-"), artifacts)
        #: The settings and the name of each group's component.
        self.component_settings: dict[str, ComponentSettings] = dict(components)
        self.component_names = {g: component_name(self.endpoint_name, g) for g in components}
        bucket = artifacts.bucket.bucket_name
        self.capture_uri = f"s3://{bucket}/{self.prefix}{CAPTURE.rstrip('/')}"
        key = artifacts.encryption_key

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Inference-component endpoint and its models: reads model archives, "
            "writes its data capture",
        )
        self.execution_role: iam.IRole = self.role
        artifacts.grant_prefix(self.role, model_read_prefix, write=False)
        artifacts.grant_prefix(self.role, f"{self.prefix}{CAPTURE}")
        grant_sagemaker_runtime(self.role, log_group_prefix="/aws/sagemaker/Endpoints/*")

        self.subnet_ids = vpc.select_subnets(
            subnet_type=subnets.subnet_type, subnet_group_name=subnets.subnet_group_name
        ).subnet_ids
        self.security_group_ids = [security_group.security_group_id]
        self.config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            execution_role_arn=self.role.role_arn,
            production_variants=[
                # No ModelName: the models are the components' (CreateEndpointConfig,
                # "ProductionVariant"; "Inference components" in the Developer Guide).
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    instance_type=instance_type,
                    # InitialInstanceCount is at least 1 (ProductionVariant); managed
                    # scaling then goes down to MinInstanceCount.
                    initial_instance_count=max(1, scaling.min_instances),
                    managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                        status="ENABLED",
                        min_instance_count=scaling.min_instances,
                        max_instance_count=scaling.max_instances,
                    ),
                    routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                        routing_strategy=routing
                    ),
                )
            ],
            vpc_config=sagemaker.CfnEndpointConfig.VpcConfigProperty(
                security_group_ids=self.security_group_ids, subnets=self.subnet_ids
            ),
            enable_network_isolation=True,
            kms_key_id=None if has_instance_storage(instance_type) else key.key_arn,
            # Capture off leaves the configuration out altogether (not verified in AWS that
            # SageMaker captures component traffic: this keeps a way to turn it off whole).
            data_capture_config=None
            if capture_percentage == 0
            else self._data_capture(key.key_arn, capture_percentage),
        )
        # SageMaker checks the execution role when the configuration is created.
        self.config.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.config.attr_endpoint_config_name,
            # Managed instance scaling sets the instance count at run time; an update keeps
            # it, but applies a changed data capture configuration.
            retain_all_variant_properties=True,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(
                    variant_property_type="DataCaptureConfig"
                )
            ],
        )
        #: Per group, the component's alarms: ``ServerErrors`` and ``ModelLatency`` (the
        #: rollback alarms of its updates).
        self.component_alarms = {
            g: self._component_alarms(g, thresholds, alarm_topic) for g in components
        }
        self.dashboard = self._dashboard()

    # -- what the deployer needs -----------------------------------------------------------
    def rollback_alarms(self, group: str) -> list[cloudwatch.IAlarm]:
        """The alarms that roll back an update of ``group``'s component."""
        alarms = self.component_alarms[group]
        return [alarms["ServerErrors"], alarms["ModelLatency"]]

    def components_environment(self) -> str:
        """The deployer's ``COMPONENTS`` setting: a JSON object, per group ``name``,
        ``cpu_cores``, ``memory_mib``, ``min_copies``, ``max_copies``,
        ``invocations_per_copy``, ``rollback_alarms`` (alarm names) and ``scale_to_zero``
        (resolved by CloudFormation: the alarm names are generated)."""
        described: dict[str, Any] = {}
        for group, c in self.component_settings.items():
            described[group] = {
                "name": self.component_names[group],
                "cpu_cores": c.cpu_cores,
                "memory_mib": c.memory_mib,
                "min_copies": c.min_copies,
                "max_copies": c.max_copies,
                "invocations_per_copy": c.invocations_per_copy,
                "rollback_alarms": [a.alarm_name for a in self.rollback_alarms(group)],
                "scale_to_zero": self.scale_to_zero,
            }
        return Stack.of(self).to_json_string(described)

    # -- metrics ----------------------------------------------------------------------------
    def metric_component(
        self,
        group: str,
        name: str,
        *,
        namespace: str = "AWS/SageMaker",
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """A metric of ``group``'s component (dimension ``InferenceComponentName``): ``Sum``
        per minute by default."""
        return self._component_metric(group, name, options, "Sum", namespace)

    def _component_metric(
        self,
        group: str,
        name: str,
        given: Mapping[str, Any],
        statistic: str,
        namespace: str = "AWS/SageMaker",
    ) -> cloudwatch.Metric:
        options = metric_options(
            given,
            dimensions_map={"InferenceComponentName": self.component_names[group]},
            statistic=statistic,
            period=Duration.minutes(1),
        )
        return cloudwatch.Metric(namespace=namespace, metric_name=name, **options)

    def _component_alarms(
        self, group: str, t: EndpointAlarmThresholds, topic: sns.ITopic
    ) -> dict[str, cloudwatch.Alarm]:
        scope = Construct(self, f"Component-{group}")
        name = self.component_names[group]
        specs = [
            (
                "ServerErrors",
                self._component_metric(group, "Invocation5XXErrors", {}, "Sum"),
                t.server_errors_per_minute,
                "5XX errors per minute",
            ),
            (
                "ModelLatency",
                self._component_metric(group, "ModelLatency", {}, "p99"),
                t.model_latency_p99_ms * 1000,
                "p99 model latency (microseconds)",
            ),
        ]
        alarms = {}
        for id, metric, threshold, what in specs:
            alarm = cloudwatch.Alarm(
                scope,
                f"{id}Alarm",
                alarm_description=f"{name} ({group} on {self.endpoint_name}): {what} above "
                f"{threshold}",
                metric=metric,
                threshold=threshold,
                evaluation_periods=t.periods,
                datapoints_to_alarm=t.periods,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
            alarm.add_ok_action(cw_actions.SnsAction(topic))
            alarms[id] = alarm
        return alarms

    def _dashboard(self) -> cloudwatch.Dashboard:
        rows: list[list[cloudwatch.IWidget]] = []
        for group in self.component_settings:

            def metric(name: str, statistic: str, namespace: str = "AWS/SageMaker") -> Any:
                return self._component_metric(group, name, {}, statistic, namespace)  # noqa: B023

            rows.append(
                [
                    cloudwatch.GraphWidget(
                        title=f"{group}: invocations and errors",
                        left=[
                            metric("Invocations", "Sum"),
                            metric("Invocation4XXErrors", "Sum"),
                            metric("Invocation5XXErrors", "Sum"),
                        ],
                        width=8,
                    ),
                    cloudwatch.GraphWidget(
                        title=f"{group}: model latency p99 (us)",
                        left=[metric("ModelLatency", "p99")],
                        width=8,
                    ),
                    cloudwatch.GraphWidget(
                        title=f"{group}: utilization of reserved CPU and memory (%)",
                        left=[
                            metric(
                                "CPUUtilizationNormalized",
                                "Average",
                                COMPONENT_UTILIZATION_NAMESPACE,
                            ),
                            metric(
                                "MemoryUtilizationNormalized",
                                "Average",
                                COMPONENT_UTILIZATION_NAMESPACE,
                            ),
                        ],
                        width=8,
                    ),
                ]
            )
        return cloudwatch.Dashboard(self, "Dashboard", widgets=rows)

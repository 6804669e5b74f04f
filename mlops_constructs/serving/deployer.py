"""Approved models flowing into a multi-model endpoint or into inference components, and
rejected ones taken out of service."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_constructs.core.event_function import event_function
from mlops_constructs.core.metrics import EventFunctionMetrics
from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.validation import PropsCheck, PropsError
from mlops_constructs.serving.component_props import wake_up_alarm_name
from mlops_constructs.serving.interfaces import IInferenceComponentEndpoint, IMultiModelEndpoint
from mlops_constructs.serving.props import MODELS

#: Where a rejected version's archive moves, under ``endpoints/<name>/``.
RETIRED = "retired/"
#: The service-linked role Application Auto Scaling scales SageMaker resources with
#: (Application Auto Scaling User Guide, "Amazon SageMaker AI and Application Auto
#: Scaling": created when a first SageMaker scalable target is registered).
SCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
SCALING_ROLE = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"


class ApprovedModelDeployer(EventFunctionMetrics, Construct):
    """Puts each newly approved model version of the given registry groups into service on
    ``endpoint``, and takes a rejected one out of service. ``endpoint`` is a multi-model
    endpoint (:class:`~mlops_constructs.serving.MultiModelEndpoint`, or one imported with
    ``MultiModelEndpoint.from_endpoint_attributes``) or an inference-component endpoint
    (:class:`~mlops_constructs.serving.InferenceComponentEndpoint`); a single-model endpoint
    raises ``PropsError``, as it would never serve what is deployed.

    * An EventBridge rule: ``aws.sagemaker`` / ``SageMaker Model Package State Change`` with
      ``ModelApprovalStatus`` ``Approved`` or ``Rejected`` in one of ``model_package_groups``.
    * A Lambda function (``serving/runtime/model_deployer``) that checks the package's
      current status. On a multi-model endpoint (``HOSTING=multi-model``) it copies an
      approved version's archive (a managed copy, so archives over 5 GB work) to
      ``endpoints/<name>/models/<group>/v<version>.tar.gz`` (the ``TargetModel`` is
      ``<group>/v<version>.tar.gz``), verifies it and writes a deployment record under
      ``endpoints/<name>/deployments/``; a copy that does not verify is deleted (its version);
      a rejected version's archive moves to ``endpoints/<name>/retired/``. On an
      inference-component endpoint (``HOSTING=inference-components``) it creates the model
      ``<component>-v<version>`` from the package and creates or updates the group's
      component (rolled back by the component's alarms), registers its scalable target and
      target tracking, and with scale to zero its wake-up (a step scaling policy and the
      alarm ``<component>-no-capacity``); a rejected version is replaced by the newest other
      approved one. A repeated event changes nothing; an unrelated or malformed one is
      logged and ignored. A package still being created is waited for (then retried);
      transient failures are retried twice, deterministic ones go to the KMS-encrypted
      dead-letter queue at once, with the reason. JSON logs, encrypted with ``logs_key``.
      With ``serialize`` (default), deliveries of one version never run at once: each takes
      a lock object under ``deployments/_locks/`` with an S3 conditional write, which
      expires 30 seconds after the function's timeout (``LOCK_SECONDS``), before Lambda's
      first retry of an invocation that timed out holding it; one that finds it held waits
      for it (within its own time but the copy's reserve), then is retried. No concurrency
      is reserved (a new account's quota of 10 leaves none to reserve).
    * Its role reads model archives under ``source_prefix`` (``pipelines/``, where the
      training pipelines write), writes the endpoint's deployments prefix (and deletes
      versions of its own lock objects), and describes packages of the given groups only.
      Multi-model: it also writes the models prefix (deleting versions: an unverified copy,
      a retired archive) and the retired prefix (deleting versions: an unverified retired
      copy), and lists packages (no resource scope exists). Inference components: it creates and
      describes models ``<component>-v*``, creates, updates and describes the endpoint's
      components only, describes the endpoint, lists packages (no resource scope exists),
      passes the endpoint's execution role to SageMaker only, registers and describes
      scalable targets and scaling policies (Application Auto Scaling has no resource scope
      for them), may create Application Auto Scaling's SageMaker service-linked role only,
      describes and deletes the wake-up alarms only and, with scale to zero, writes them.
      A component left without an approved version may be deleted (its models and
      records stay).

    Settings of the function (the contract with its handler): ``HOSTING``, ``MODEL_BUCKET``,
    ``MODEL_PREFIX``, ``RECORD_PREFIX``, ``RETIRED_PREFIX``, ``MODEL_PACKAGE_GROUPS``,
    ``MODEL_KEY_ARN``, ``SERIALIZE_DEPLOYMENTS``, ``LOCK_SECONDS``; with inference
    components also ``ENDPOINT_NAME``, ``VARIANT_NAME``, ``EXECUTION_ROLE_ARN``,
    ``VPC_CONFIG`` (``{"Subnets": [...], "SecurityGroupIds": [...]}``) and ``COMPONENTS``
    (the endpoint's ``components_environment()``). On an inference-component endpoint
    ``model_package_groups`` must be groups the endpoint has components for.

    Adding groups changes the rule's pattern and the function's settings, not the number of
    resources. Defaults: ``source_prefix`` ``pipelines/``, ``log_retention`` one year,
    ``removal_policy`` RETAIN (the log group and queue), ``serialize`` on.

    ``metric_errors``, ``metric_invocations`` and ``metric_dead_letter_queue_depth`` take
    the ``cloudwatch.MetricOptions`` as keyword-only options.
    """

    #: Seconds the lock outlives the function's timeout (the handler's
    #: ``LOCK_MARGIN_SECONDS``): less than the minute before Lambda's first retry.
    LOCK_MARGIN_SECONDS = 30

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint: IMultiModelEndpoint | IInferenceComponentEndpoint,
        model_package_groups: Sequence[str],
        logs_key: kms.IKey,
        source_prefix: str = "pipelines/",
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        serialize: bool = True,
    ) -> None:
        components = bool(getattr(endpoint, "inference_components", False))
        if not components and not getattr(endpoint, "multi_model", False):
            # A single-model endpoint serves its pinned package; it never reads the models
            # prefix the function would copy to.
            raise PropsError(
                f"ApprovedModelDeployer: endpoint {endpoint.node.path!r} is neither a "
                "multi-model nor an inference-component endpoint; expected a "
                "MultiModelEndpoint (or one imported with "
                "MultiModelEndpoint.from_endpoint_attributes) or an InferenceComponentEndpoint: "
                "a single-model endpoint serves its pinned model package and would never load "
                "the deployed models"
            )
        super().__init__(scope, id)
        check = PropsCheck("ApprovedModelDeployer")
        check.require(
            bool(model_package_groups),
            "model_package_groups",
            list(model_package_groups),
            "expected at least one model package group",
        )
        groups = list(dict.fromkeys(model_package_groups))
        if components:
            served = getattr(endpoint, "component_names", {})
            missing = [g for g in groups if g not in served]
            check.require(
                not missing,
                "model_package_groups",
                missing,
                f"expected groups the endpoint has components for ({sorted(served)})",
            )
        check.raise_if_any()
        artifacts = endpoint.artifacts
        retired_prefix = f"{endpoint.prefix}{RETIRED}"
        # Where a multi-model endpoint serves archives from (a component endpoint has none;
        # its handler knows the setting all the same).
        models_prefix = f"{endpoint.prefix}{MODELS}"
        # Managed copies of multi-gigabyte archives.
        timeout = Duration.minutes(15)
        environment = {
            "HOSTING": "inference-components" if components else "multi-model",
            "MODEL_BUCKET": artifacts.bucket.bucket_name,
            "MODEL_PREFIX": models_prefix,
            "RECORD_PREFIX": endpoint.deployments_prefix,
            "RETIRED_PREFIX": retired_prefix,
            "MODEL_PACKAGE_GROUPS": ",".join(groups),
            "MODEL_KEY_ARN": artifacts.encryption_key.key_arn,
            "SERIALIZE_DEPLOYMENTS": "true" if serialize else "false",
            # A lock outlives the invocation that took it, and has expired when Lambda
            # retries a timed-out invocation a minute later (Lambda Developer Guide,
            # "How Lambda handles errors and retries with asynchronous invocation").
            "LOCK_SECONDS": str(int(timeout.to_seconds()) + self.LOCK_MARGIN_SECONDS),
        }
        if components:
            ic: IInferenceComponentEndpoint = endpoint  # type: ignore[assignment]
            stack = Stack.of(self)
            environment |= {
                "ENDPOINT_NAME": ic.endpoint_name,
                "VARIANT_NAME": ic.variant_name,
                "EXECUTION_ROLE_ARN": ic.execution_role.role_arn,
                "VPC_CONFIG": stack.to_json_string(
                    {"Subnets": ic.subnet_ids, "SecurityGroupIds": ic.security_group_ids}
                ),
                "COMPONENTS": ic.components_environment(),
            }
        handler = event_function(
            self,
            handler="model_deployer",
            description=f"Deploys approved models to the {endpoint.endpoint_name} endpoint",
            logs_key=logs_key,
            environment=environment,
            timeout=timeout,
            memory_size=512,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.function = handler.function
        self.dead_letter_queue = handler.dead_letter_queue
        role = handler.role
        artifacts.grant_prefix(role, source_prefix, write=False)
        if not components:
            # A copy that does not verify is deleted for good, not hidden behind a marker;
            # a retired archive leaves the models prefix the same way.
            artifacts.grant_prefix(role, models_prefix, delete_versions=True)
            # A retired copy that does not verify is deleted for good too.
            artifacts.grant_prefix(role, retired_prefix, delete_versions=True)
        artifacts.grant_prefix(role, endpoint.deployments_prefix)
        # A released lock leaves no version behind (a delete marker would pile up).
        artifacts.grant_prefix(role, f"{endpoint.deployments_prefix}_locks/", delete_versions=True)
        stack = Stack.of(self)
        packages = [
            stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{g}/*")
            for g in groups
        ]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DescribeApprovedPackages",
                actions=["sagemaker:DescribeModelPackage"],
                resources=packages,
            )
        )
        acknowledge_wildcards(
            role,
            "Model package versions are numbered by SageMaker when registered; these are the "
            "configured groups' packages only.",
            resources=packages,
        )
        if components:
            self._grant_components(role, endpoint, groups)  # type: ignore[arg-type]
        else:
            # A rejected version's record names the newest other approved version.
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ListPackages",
                    # ListModelPackages takes no resource (Service Authorization Reference,
                    # Amazon SageMaker).
                    actions=["sagemaker:ListModelPackages"],
                    resources=["*"],
                )
            )
            acknowledge_wildcards(
                role,
                "ListModelPackages takes no resource (Service Authorization Reference): the "
                "deployer lists a group's approved versions to name the one still served after a "
                "rejection.",
                resources=["*"],
            )
        self.rule = handler.add_rule(
            self,
            "Approvals",
            description=f"Approved and rejected models -> the {endpoint.endpoint_name} endpoint",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={
                    "ModelPackageGroupName": groups,
                    "ModelApprovalStatus": ["Approved", "Rejected"],
                },
            ),
        )

    def _grant_components(
        self, role: iam.IRole, endpoint: IInferenceComponentEndpoint, groups: list[str]
    ) -> None:
        """What the handler needs for the components of ``groups`` on ``endpoint``."""
        stack = Stack.of(self)
        names = [endpoint.component_names[g] for g in groups]

        def sagemaker_arn(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        # Component names are lower case (component_name), as SageMaker writes names in ARNs.
        models = [sagemaker_arn("model", f"{n}-v*") for n in names]
        inference_components = [sagemaker_arn("inference-component", n) for n in names]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ComponentModels",
                actions=["sagemaker:CreateModel", "sagemaker:DescribeModel"],
                resources=models,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="Components",
                actions=[
                    "sagemaker:CreateInferenceComponent",
                    "sagemaker:UpdateInferenceComponent",
                    "sagemaker:UpdateInferenceComponentRuntimeConfig",
                    "sagemaker:DescribeInferenceComponent",
                    # A component left without an approved version is withdrawn.
                    "sagemaker:DeleteInferenceComponent",
                ],
                # A component is created on the endpoint from a model: the request names all
                # three (Service Authorization Reference, Amazon SageMaker).
                resources=[*inference_components, endpoint.endpoint_arn, *models],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassExecutionRole",
                actions=["iam:PassRole"],
                resources=[endpoint.execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="NoResourceScope",
                # ListModelPackages takes no resource; Application Auto Scaling's targets
                # and policies have generated ARNs, and its Describe actions none at all.
                actions=[
                    "sagemaker:ListModelPackages",
                    "application-autoscaling:RegisterScalableTarget",
                    "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:DescribeScalableTargets",
                    "application-autoscaling:PutScalingPolicy",
                    "application-autoscaling:DescribeScalingPolicies",
                ],
                resources=["*"],
            )
        )
        scaling_role = stack.format_arn(
            service="iam",
            region="",
            resource="role",
            resource_name=f"aws-service-role/{SCALING_SERVICE}/{SCALING_ROLE}",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ScalingServiceLinkedRole",
                actions=["iam:CreateServiceLinkedRole"],
                resources=[scaling_role],
                conditions={"StringLike": {"iam:AWSServiceName": SCALING_SERVICE}},
            )
        )
        wildcards = ["*", *models]
        alarms = [
            stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name=wake_up_alarm_name(n),
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for n in names
        ]
        # The wake-up alarms are written only with scale to zero; a withdrawn component's
        # alarm is deleted either way (scale to zero may have been on before).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WakeUpAlarms",
                actions=[
                    *(["cloudwatch:PutMetricAlarm"] if endpoint.scale_to_zero else []),
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DeleteAlarms",
                ],
                resources=alarms,
            )
        )
        # Application Auto Scaling creates each target tracking policy's alarms
        # (TargetTracking-<resource id>-AlarmHigh/Low-<uuid>) and first checks that the caller
        # may (Application Auto Scaling User Guide, "Permissions validation for API calls on
        # target resources").
        tracking = [
            stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name=f"TargetTracking-inference-component/{n}-*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for n in names
        ]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="TargetTrackingAlarms",
                actions=[
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DeleteAlarms",
                ],
                resources=tracking,
            )
        )
        acknowledge_wildcards(
            role,
            "ListModelPackages and Application Auto Scaling's Describe actions take no "
            "resource, and scalable targets and scaling policies have ARNs generated at "
            "registration; model versions of the components are numbered when approved; "
            "target tracking alarms end with an id Application Auto Scaling generates.",
            resources=[*wildcards, *tracking],
        )

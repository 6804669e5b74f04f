"""The function that starts each run of a monitoring engine's pipeline (its handler is
``runtime/monitoring_launcher``)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_constructs.core.event_function import event_function
from mlops_constructs.core.metrics import EventFunctionMetrics
from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.lake.interfaces import IArtifactStore

#: The ``source`` of the schedule's Input, which the handler requires.
SCHEDULE_SOURCE = "mlops.monitoring-schedule"
#: EventBridge Scheduler's context attribute for the time a run was scheduled for
#: (EventBridge Scheduler User Guide, "Adding context attributes").
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


class MonitoringLauncher(EventFunctionMetrics, Construct):
    """A Lambda function (``monitoring/runtime/monitoring_launcher``, on the shared event
    function shape: Python 3.14, Powertools, JSON logs encrypted with ``logs_key``, retried
    twice, then a KMS-encrypted dead-letter queue) that starts one run of ``pipeline_name``
    per invocation: it picks the version (``model_version``, or the newest Approved one of
    ``model_group`` when None), its baseline and archive, lists the window's capture and
    ground-truth keys, writes them as manifests under ``runs_prefix`` and starts the pipeline;
    see the handler's docstring for every rule. ``capture_prefix`` is the endpoint's capture
    folder and ``capture_variants`` the production variants whose subfolders it lists.

    Its role may: ``sagemaker:ListModelPackages`` (no resource-level permission exists for
    it), ``sagemaker:DescribeModelPackage`` of ``model_group``'s packages, list the artifact
    bucket under ``list_prefixes`` only (``s3:prefix`` condition; each variant's capture
    folder, not the endpoint's whole, so a shadow variant's stays unlisted), read and write objects
    under ``runs_prefix`` (``artifacts.grant_prefix``, with the bucket key through S3), and
    ``sagemaker:StartPipelineExecution`` of ``pipeline_arn`` only. Defaults: ``log_retention``
    one year, ``removal_policy`` RETAIN, timeout one minute.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        artifacts: IArtifactStore,
        logs_key: kms.IKey,
        pipeline_name: str,
        pipeline_arn: str,
        model_group: str,
        model_version: int | None,
        baseline_uri: str | None,
        model_uri: str | None,
        models_prefix: str | None,
        capture_prefix: str,
        capture_variants: Sequence[str],
        ground_truth_prefix: str,
        runs_prefix: str,
        read_prefixes: Sequence[str],
        window_hours: int,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        packages = stack.format_arn(
            service="sagemaker",
            resource="model-package",
            resource_name=f"{model_group.lower()}/",
        )
        handler = event_function(
            self,
            handler="monitoring_launcher",
            description=f"Starts the runs of the monitoring pipeline {pipeline_name}",
            logs_key=logs_key,
            environment={
                "PIPELINE_NAME": pipeline_name,
                "MODEL_GROUP": model_group,
                "PACKAGE_ARN_PREFIX": packages,
                "PINNED_VERSION": "" if model_version is None else str(model_version),
                "BASELINE_URI": baseline_uri or "",
                "MODEL_URI": model_uri or "",
                "MODELS_PREFIX": models_prefix or "",
                "ARTIFACT_BUCKET": artifacts.bucket.bucket_name,
                "CAPTURE_PREFIX": capture_prefix,
                "CAPTURE_VARIANTS": ",".join(capture_variants),
                "GROUND_TRUTH_PREFIX": ground_truth_prefix,
                "RUNS_PREFIX": runs_prefix,
                "READ_PREFIXES": ",".join(read_prefixes),
                "WINDOW_HOURS": str(window_hours),
            },
            timeout=Duration.minutes(1),
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.function = handler.function
        self.dead_letter_queue = handler.dead_letter_queue
        self.role = handler.role
        artifacts.grant_prefix(handler.function, runs_prefix)
        captures = [f"{capture_prefix}{v}/" for v in capture_variants]
        list_prefixes = list(dict.fromkeys([*captures, ground_truth_prefix, *read_prefixes]))
        #: The key prefixes the function may list (besides ``runs_prefix``).
        self.list_prefixes = list_prefixes
        described = f"{packages}*"
        self.policy = iam.Policy(
            self,
            "LaunchPolicy",
            statements=[
                iam.PolicyStatement(
                    sid="FindApprovedVersions",
                    actions=["sagemaker:ListModelPackages"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="DescribeGroupVersions",
                    actions=["sagemaker:DescribeModelPackage"],
                    resources=[described],
                ),
                iam.PolicyStatement(
                    sid="ListWindowKeys",
                    actions=["s3:ListBucket"],
                    resources=[artifacts.bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in list_prefixes]}},
                ),
                iam.PolicyStatement(
                    sid="StartMonitoringPipeline",
                    actions=["sagemaker:StartPipelineExecution"],
                    resources=[pipeline_arn],
                ),
            ],
        )
        self.policy.attach_to_role(handler.role)
        acknowledge_wildcards(
            self.policy,
            "sagemaker:ListModelPackages supports no resource-level permissions (the Service "
            "Authorization Reference lists no resource type for it); the function lists the "
            "approved versions of its one model group.",
            resources=["*"],
        )
        acknowledge_wildcards(
            self.policy,
            f"The versions of the model package group {model_group} are numbered as they "
            "are registered; the function describes only that group's packages.",
            resources=[described],
        )

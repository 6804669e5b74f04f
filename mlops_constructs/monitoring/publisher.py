"""Publishing the monitoring engine's metrics: its jobs cannot reach CloudWatch themselves."""

from __future__ import annotations

import re

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_constructs.core.event_function import event_function
from mlops_constructs.core.metrics import EventFunctionMetrics
from mlops_constructs.core.nag import flatten
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.lake.interfaces import IArtifactStore

#: The namespace ``monitoring/runtime/monitor.py`` writes its metrics under by default.
DEFAULT_NAMESPACE = "MLOps/ModelMonitoring"

#: The statuses of a finished processing job (DescribeProcessingJob's ProcessingJobStatus).
FINISHED_STATUSES = ("Completed", "Failed", "Stopped")

# ProcessingJobName is [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}: a prefix is its start (63 at most).
_JOB_PREFIX = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}-*")
# A key prefix: no leading slash, ending with one.
_OUTPUT_PREFIX = re.compile(r"[^/].*/")


class MonitoringMetricsPublisher(EventFunctionMetrics, Construct):
    """Publishes the ``metrics.json`` of each monitoring job to CloudWatch when it completes,
    and a ``MonitoringJobFailed`` datum when one fails or is stopped.

    * An EventBridge rule: ``aws.sagemaker`` / ``SageMaker Processing Job State Change`` of
      jobs whose name starts with ``job_name_prefix``, into ``Completed``, ``Failed`` or
      ``Stopped``.
    * A Lambda function (``monitoring/runtime/metrics_publisher``) that reads ``metrics.json``
      from the job's output named ``output`` (which must lie under ``output_prefix`` of
      ``artifacts``), checks it (namespace ``namespace``, the keys and limits of
      ``PutMetricData``, finite values) and publishes it in calls of at most 1000 metrics and
      under 1 MB; a missing or invalid file goes straight to the dead-letter queue with the
      reason. Unrelated or malformed events are logged and ignored; S3 and CloudWatch errors
      are retried twice, then the event goes to a KMS-encrypted dead-letter queue.
    * Its role may read objects under ``output_prefix`` of the artifact bucket (get them and
      list that prefix, so a missing file is told from a denied one; decrypt with the
      bucket's key through S3 only: ``artifacts.grant_prefix(..., write=False)``),
      ``cloudwatch:PutMetricData`` into ``namespace`` only (a condition on
      ``cloudwatch:namespace``: the action takes no resource), and
      ``sagemaker:DescribeProcessingJob`` of the engine's jobs (for the arguments naming the
      endpoint and model of a failed job, when the event does not carry them).

    Defaults: ``namespace`` ``MLOps/ModelMonitoring`` (the engine's), ``log_retention`` one
    year, ``removal_policy`` RETAIN. ``metric_errors``, ``metric_invocations`` and
    ``metric_dead_letter_queue_depth`` take the ``cloudwatch.MetricOptions`` as keyword-only
    options.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        artifacts: IArtifactStore,
        output_prefix: str,
        job_name_prefix: str,
        logs_key: kms.IKey,
        namespace: str = DEFAULT_NAMESPACE,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("MonitoringMetricsPublisher")
        check.require(
            bool(_OUTPUT_PREFIX.fullmatch(output_prefix)),
            "output_prefix",
            output_prefix,
            "expected the key prefix of the engine's outputs, ending with '/' (e.g. "
            "'monitoring/'); the function may read nothing outside it",
        )
        check.require(
            bool(_JOB_PREFIX.fullmatch(job_name_prefix)),
            "job_name_prefix",
            job_name_prefix,
            "expected the start of the engine's processing job names: letters, digits and "
            "hyphens, starting with a letter or digit, 63 characters at most",
        )
        check.require(
            1 <= len(namespace) <= 255 and not namespace.startswith(("AWS/", ":")),
            "namespace",
            namespace,
            "expected a custom CloudWatch namespace: 1 to 255 characters, not starting with "
            "'AWS/' or ':'",
        )
        check.raise_if_any()
        handler = event_function(
            self,
            handler="metrics_publisher",
            description=f"Publishes the metrics of monitoring jobs {job_name_prefix}*",
            logs_key=logs_key,
            environment={
                "METRICS_NAMESPACE": namespace,
                "MONITOR_JOB_PREFIX": job_name_prefix,
                "ARTIFACT_BUCKET": artifacts.bucket.bucket_name,
                "OUTPUT_PREFIX": output_prefix,
            },
            timeout=Duration.minutes(2),
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.function = handler.function
        self.dead_letter_queue = handler.dead_letter_queue
        self.namespace = namespace
        artifacts.grant_prefix(handler.function, output_prefix, write=False)

        stack = Stack.of(self)
        # SageMaker ARNs carry the job name in lower case.
        jobs = stack.format_arn(
            service="sagemaker",
            resource="processing-job",
            resource_name=f"{job_name_prefix.lower()}*",
        )
        self.policy = iam.Policy(
            self,
            "PublishPolicy",
            statements=[
                iam.PolicyStatement(
                    sid="PutMonitoringMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
                ),
                iam.PolicyStatement(
                    sid="DescribeMonitoringJobs",
                    actions=["sagemaker:DescribeProcessingJob"],
                    resources=[jobs],
                ),
            ],
        )
        self.policy.attach_to_role(handler.role)
        Validations.of(self.policy).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "cloudwatch:PutMetricData supports no resource-level permissions (the "
                    "Service Authorization Reference lists no resource type for it); the "
                    f"statement is limited to the namespace {namespace} by the "
                    "cloudwatch:namespace condition."
                ),
            )
        )
        Validations.of(self.policy).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{flatten(stack.resolve(jobs))}]",
                reason=(
                    "The monitoring engine names each job run anew under one prefix; the "
                    "function describes only the jobs of that prefix."
                ),
            )
        )
        self.rule = handler.add_rule(
            self,
            "JobStateChange",
            description=f"Monitoring jobs {job_name_prefix}* finished -> publish their metrics",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Processing Job State Change"],
                detail={
                    "ProcessingJobName": events.Match.prefix(job_name_prefix),
                    "ProcessingJobStatus": list(FINISHED_STATUSES),
                },
            ),
        )

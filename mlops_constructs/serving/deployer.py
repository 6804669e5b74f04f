"""Approved models flowing into a multi-model endpoint."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_constructs.core.event_function import event_function
from mlops_constructs.core.metrics import EventFunctionMetrics
from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.validation import PropsCheck, PropsError
from mlops_constructs.serving.interfaces import IMultiModelEndpoint


class ApprovedModelDeployer(EventFunctionMetrics, Construct):
    """Copies each newly approved model of the given registry groups into ``endpoint``, a
    multi-model endpoint (:class:`~mlops_constructs.serving.MultiModelEndpoint`, or one
    imported with ``MultiModelEndpoint.from_endpoint_attributes``); any other endpoint
    raises ``PropsError``, as it would never read what is copied.

    * An EventBridge rule: ``aws.sagemaker`` / ``SageMaker Model Package State Change`` with
      ``ModelApprovalStatus`` ``Approved`` in one of ``model_package_groups``.
    * A Lambda function (``serving/runtime/model_deployer``) that checks the package is still
      approved, copies its model archive (a managed copy, so archives over 5 GB work) to
      ``endpoints/<name>/models/<group>/v<version>.tar.gz`` (the ``TargetModel`` is
      ``<group>/v<version>.tar.gz``), verifies it and writes a deployment record under
      ``endpoints/<name>/deployments/``; a copy that does not verify is deleted (its version).
      A repeated event changes nothing; an unrelated or
      malformed one is logged and ignored. A package still being created is waited for (then
      retried); transient failures are retried twice, deterministic ones (a missing
      artifact, a name deployed from another source) go to the KMS-encrypted dead-letter
      queue at once, with the reason. JSON logs, encrypted with ``logs_key``. With
      ``serialize`` (default), deliveries of one version never copy at once: each takes a
      lock object under ``deployments/_locks/`` with an S3 conditional write, which expires
      30 seconds after the function's timeout (``LOCK_SECONDS``), before Lambda's first
      retry of an invocation that timed out holding it; one that finds it held waits for
      it (within its own time but the copy's reserve), then is retried. No concurrency is
      reserved (a new account's quota of 10 leaves none to reserve).
    * Its role reads model archives under ``source_prefix`` (``pipelines/``, where the
      training pipelines write) of the artifacts bucket, writes only the endpoint's models
      and deployments prefixes (and deletes versions of its own lock objects), and describes
      packages of the given groups only.

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
        endpoint: IMultiModelEndpoint,
        model_package_groups: Sequence[str],
        logs_key: kms.IKey,
        source_prefix: str = "pipelines/",
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        serialize: bool = True,
    ) -> None:
        if not getattr(endpoint, "multi_model", False):
            # A single-model endpoint serves its pinned package; it never reads the models
            # prefix the function would copy to.
            raise PropsError(
                f"ApprovedModelDeployer: endpoint {endpoint.node.path!r} is not a multi-model "
                "endpoint; expected a MultiModelEndpoint (or one imported with "
                "MultiModelEndpoint.from_endpoint_attributes): a single-model endpoint serves "
                "its pinned model package and would never load the copied models"
            )
        super().__init__(scope, id)
        check = PropsCheck("ApprovedModelDeployer")
        check.require(
            bool(model_package_groups),
            "model_package_groups",
            list(model_package_groups),
            "expected at least one model package group",
        )
        check.raise_if_any()
        artifacts = endpoint.artifacts
        groups = list(dict.fromkeys(model_package_groups))
        # Managed copies of multi-gigabyte archives.
        timeout = Duration.minutes(15)
        handler = event_function(
            self,
            handler="model_deployer",
            description=f"Copies approved models into the {endpoint.endpoint_name} endpoint",
            logs_key=logs_key,
            environment={
                "MODEL_BUCKET": artifacts.bucket.bucket_name,
                "MODEL_PREFIX": endpoint.models_prefix,
                "RECORD_PREFIX": endpoint.deployments_prefix,
                "MODEL_PACKAGE_GROUPS": ",".join(groups),
                "MODEL_KEY_ARN": artifacts.encryption_key.key_arn,
                "SERIALIZE_DEPLOYMENTS": "true" if serialize else "false",
                # A lock outlives the invocation that took it, and has expired when Lambda
                # retries a timed-out invocation a minute later (Lambda Developer Guide,
                # "How Lambda handles errors and retries with asynchronous invocation").
                "LOCK_SECONDS": str(int(timeout.to_seconds()) + self.LOCK_MARGIN_SECONDS),
            },
            timeout=timeout,
            memory_size=512,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.function = handler.function
        self.dead_letter_queue = handler.dead_letter_queue
        role = handler.role
        artifacts.grant_prefix(role, source_prefix, write=False)
        # A copy that does not verify is deleted for good, not hidden behind a marker.
        artifacts.grant_prefix(role, endpoint.models_prefix, delete_versions=True)
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
        self.rule = handler.add_rule(
            self,
            "Approvals",
            description=f"Approved models -> the {endpoint.endpoint_name} endpoint",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={
                    "ModelPackageGroupName": groups,
                    "ModelApprovalStatus": ["Approved"],
                },
            ),
        )

"""The monitoring engine: an hourly SageMaker pipeline running ``runtime/monitor.py`` on the
newest approved (or a pinned) version of a served model, the function that starts each run,
the publisher of its metrics, and alarms on them that follow every version."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.sagemaker_roles import grant_sagemaker_runtime
from mlops_constructs.core.sources import monitoring_script_path
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.monitoring.alarm_queries import insights_query
from mlops_constructs.monitoring.launcher import (
    SCHEDULE_SOURCE,
    SCHEDULED_TIME,
    MonitoringLauncher,
)
from mlops_constructs.monitoring.model_monitor import pascal_case
from mlops_constructs.monitoring.publisher import DEFAULT_NAMESPACE, MonitoringMetricsPublisher
from mlops_constructs.serving.interfaces import IServingEndpoint
from mlops_constructs.serving.props import (
    CAPTURE,
    MODELS,
    SHADOW_VARIANT,
    VARIANT,
    has_instance_storage,
)

#: The metrics ``monitor.py`` writes per problem type (its ``QUALITY_METRICS``); the first
#: is the default headline. Higher is better except for these:
QUALITY_METRICS = {
    "binary_classification": ("auc", "accuracy", "f1", "precision", "recall"),
    "regression": ("rmse", "mae", "r2"),
}
LOWER_IS_BETTER = frozenset({"rmse", "mae"})
#: What the metrics publisher puts when a job fails or is stopped (by Endpoint and Model).
FAILED_METRIC = "MonitoringJobFailed"
#: Ten minutes past every hour (UTC): the hour's last capture files have had time to land
#: (S3 delivery has a delay; Model Monitor's own hourly runs start up to 20 minutes late).
DEFAULT_SCHEDULE = "cron(10 * * * ? *)"
#: The built-in XGBoost image the job runs on (the one the model is trained with).
XGBOOST_VERSION = "1.7-1"

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
#: The longest custom job prefix the SageMaker SDK keeps: it names a job ``<prefix>-<23-
#: character timestamp>`` within 63 characters, cutting the prefix to 39
#: (``sagemaker.core.common_utils.name_from_base``), and writes that cut prefix into the
#: definition; Pipelines appends its own suffix at run time.
MAX_JOB_PREFIX = 39
_JOB_PREFIX = re.compile(rf"[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,{MAX_JOB_PREFIX - 1}}}")
_SCHEDULE = re.compile(r"(cron|rate)\(.+\)")
_S3_URI = re.compile(r"s3://[^/]+/.+")
#: A production variant's name (``ProductionVariant.VariantName`` in the API reference).
_VARIANT = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


def production_variants(endpoint: IServingEndpoint) -> list[str]:
    """The names of ``endpoint``'s production variants, whose traffic the engine watches:
    the A/B test's (champion first) when the endpoint has one, the variant its inference
    components run on, else ``AllTraffic``. A shadow variant is not one: its requests repeat
    the production variant's inputs, so its records would count them twice."""
    ab_test = getattr(endpoint, "ab_test", None)
    if ab_test is not None:
        return list(ab_test.variant_names())
    variant = getattr(endpoint, "variant_name", None)
    return [variant] if isinstance(variant, str) else [VARIANT]


def default_job_name_prefix(model_group: str) -> str:
    """``monitor-<group, cut to 22 characters>-<8 hex of the group's SHA-256>``: at most 39
    characters (``MAX_JOB_PREFIX``), and not the start of another group's prefix (the
    publisher's rule and the job role match job names by prefix: ``spend`` must not catch
    ``spend-eu``'s jobs, nor two long names cut to the same characters share one)."""
    digest = hashlib.sha256(model_group.encode()).hexdigest()[:8]
    return f"monitor-{model_group[:22].rstrip('-')}-{digest}"


class MonitoringEngine(Construct):
    """Monitors one model (a registry group) served by one endpoint, hourly: by default the
    newest Approved version, whichever that is at each run.

    * **Launcher**: a :class:`MonitoringLauncher` function, invoked by the schedule, that per
      run picks the version (``model_version``, pinned, which must be Approved; or, None by
      default, the newest Approved version of ``model_group``: with none yet the run is
      skipped, so a fresh account deploys and waits), its baseline (``baseline_uri``, or
      None by default: the version's registered ``ModelMetrics.ModelDataQuality.Statistics``)
      and archive (``model_uri``, or None by default: on a multi-model endpoint
      ``endpoints/<name>/models/<model_group>/v<N>.tar.gz``, where the deployer copies it;
      on a single-model endpoint the package's first container's ``ModelDataUrl``); lists the
      window's capture and ground-truth keys, writes them as manifests under
      ``monitoring/<model_group>/runs/<window end>/`` and starts the pipeline. An hour
      without captured traffic starts nothing.
    * **Pipeline** ``pipeline_name`` (default ``<model_group>-monitor``), written with the
      SageMaker Python SDK at synth time, offline: one ``MonitorModel`` processing step
      running ``runtime/monitor.py`` on the built-in XGBoost ``1.7-1`` image, on
      ``instance_type`` (``ml.m5.large``), 30 GB volume, at most ``max_runtime_seconds``
      (1800), with **network isolation**, in the given subnets and security group,
      inter-container traffic encrypted, volume and output encrypted with the artifacts key.
      Its jobs are named from ``job_name_prefix`` (default
      :func:`default_job_name_prefix`: ``monitor-<model_group, cut>-<8 hex of its hash>``, 39
      characters at most (what the SDK keeps), no engine's the start of another's; the SDK's
      custom job prefix).
      ``instance_type`` must have no local NVMe storage (SageMaker rejects a volume key
      there). Parameters, all required (no defaults;
      the launcher gives them): ``ModelVersion``, ``BaselineUri``, ``ModelUri``,
      ``CaptureManifestUri``, ``GroundTruthManifestUri``, ``WindowEnd``. Inputs: ``capture``
      (the window's capture files of every variant in ``variant_names``)
      and ``ground-truth`` from the two ``ManifestFile`` manifests, ``baseline`` and
      ``model`` (``S3Prefix``) from their URIs. Arguments end with ``--model-version`` and
      ``--window-end`` from the parameters; ``--window-hours`` is ``window_hours`` (1).
      Output ``output`` to ``monitoring/<model_group>/<execution id>/`` of the artifacts
      bucket.
    * **Schedule**: an EventBridge Scheduler schedule, ``schedule`` (default
      ``cron(10 * * * ? *)``, ten past each hour, UTC; flexible window off) invoking the
      launcher (asynchronously, as Scheduler invokes Lambda) with the Input
      ``{"source": "mlops.monitoring-schedule", "scheduledTime":
      "<aws.scheduler.scheduled-time>"}``; three retries within 30 minutes. Its role is
      trusted by ``scheduler.amazonaws.com`` for this account only (``aws:SourceAccount``)
      and may invoke the launcher only.
    * **Publisher**: a :class:`MonitoringMetricsPublisher` for the job prefix and the output
      prefix, publishing into ``namespace`` (``MLOps/ModelMonitoring``).
    * **Alarms** (``alarms``, to ``alarm_topic``), on Metrics Insights queries that match
      every version (see :mod:`alarm_queries`): per feature ``MAX(FeatureDrifted)`` of the
      endpoint, model and feature >= 1 (``drift_alarms``); ``AVG(ModelQuality)`` of the
      endpoint, model and ``Metric`` = ``quality_metric`` below ``quality_threshold`` (above
      it for ``rmse`` and ``mae``; ``quality_alarm``), each over one hour; and
      ``MonitoringJobFailed`` (``Endpoint``, ``Model``: no version) ``Maximum`` >= 1
      (``job_failed_alarm``). Missing data (an hour without traffic or labels) does not
      breach. On a multi-model endpoint every version reporting in the hour counts.

    The captured traffic is that of ``variant_names``: by default every production variant
    of the endpoint (:func:`production_variants`: with an A/B test the champion and each
    challenger, whose requests of the watched version count alike), never a shadow variant
    (refused: its records repeat production's inputs). Data capture writes each variant's
    records under ``<capture prefix>/<endpoint name>/<variant name>/`` (Developer Guide,
    "Capture data from real-time endpoint"); an inference-component endpoint's under its one
    variant (``AllTraffic``), by the same page, which says nothing of components: not
    verified in AWS. The job keeps the captured records whose ``InferenceId`` starts with
    ``v<version>.`` unless ``filter_by_inference_id`` is False (default True). ``baseline_uri`` and
    ``model_uri`` need a pinned ``model_version`` (they belong to one version); every
    baseline and archive must lie in the endpoint's artifact store, under ``read_prefix``
    (``pipelines/``, where the training pipelines write) or, for an archive on a multi-model
    endpoint, its models prefix: the launcher skips a run whose baseline the job could not
    read, and runs without SHAP values when the archive is missing.

    Job arguments: ``features`` (the CSV payload's columns, in order; no quotes or
    backslashes, as they are alarm query values), ``problem_type``
    (``binary_classification`` or ``regression``), ``quality_metric`` (default ``auc`` or
    ``rmse``), ``drift_threshold`` (0.1), ``drift_p_value`` (0.01), ``label_threshold``
    (0.5), ``facet`` (a feature; none by default: no bias metrics) and ``facet_threshold``
    (0.5), ``shap_rows`` (500). ``logs_key`` encrypts the publisher's and the launcher's logs
    and dead-letter queues; ``log_retention`` (one year) and ``removal_policy`` (RETAIN) are
    theirs. Needs the SageMaker Python SDK and a stack with an explicit region.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint: IServingEndpoint,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        alarm_topic: sns.ITopic,
        logs_key: kms.IKey,
        model_group: str,
        features: Sequence[str],
        problem_type: str,
        quality_threshold: float,
        model_version: int | None = None,
        baseline_uri: str | None = None,
        model_uri: str | None = None,
        quality_metric: str | None = None,
        pipeline_name: str | None = None,
        job_name_prefix: str | None = None,
        schedule: str = DEFAULT_SCHEDULE,
        window_hours: int = 1,
        variant_names: Sequence[str] | None = None,
        ground_truth_prefix: str | None = None,
        read_prefix: str = "pipelines/",
        filter_by_inference_id: bool = True,
        drift_threshold: float = 0.1,
        drift_p_value: float = 0.01,
        label_threshold: float = 0.5,
        facet: str | None = None,
        facet_threshold: float = 0.5,
        shap_rows: int = 500,
        instance_type: str = "ml.m5.large",
        max_runtime_seconds: int = 1800,
        namespace: str = DEFAULT_NAMESPACE,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        features = list(features)
        quality_metric = quality_metric or QUALITY_METRICS.get(problem_type, ("",))[0]
        pipeline_name = pipeline_name or f"{model_group}-monitor"
        job_name_prefix = job_name_prefix or default_job_name_prefix(model_group)
        variants = (
            list(variant_names) if variant_names is not None else production_variants(endpoint)
        )
        self._check(
            endpoint, variants, model_group, model_version, baseline_uri, model_uri, features,
            problem_type, quality_metric, pipeline_name, job_name_prefix, schedule,
            window_hours, read_prefix, ground_truth_prefix, drift_threshold, drift_p_value,
            facet, shap_rows, max_runtime_seconds, instance_type,
        )  # fmt: skip
        stack = Stack.of(self)
        artifacts = endpoint.artifacts
        bucket = artifacts.bucket.bucket_name
        self.endpoint = endpoint
        self.model_group = model_group
        #: The pinned version, or None: the newest Approved one at each run.
        self.model_version = model_version
        self.features = features
        self.namespace = namespace
        self.pipeline_name = pipeline_name
        self.job_name_prefix = job_name_prefix
        self.window_hours = window_hours
        #: The production variants whose captured traffic the engine watches.
        self.variant_names = variants
        #: Key prefixes in the artifacts bucket: what the jobs read and write. The capture
        #: prefix is the endpoint's folder; each variant writes under its own subfolder.
        self.capture_prefix = f"{endpoint.prefix}{CAPTURE}{endpoint.endpoint_name}/"
        self.capture_prefixes = [f"{self.capture_prefix}{v}/" for v in variants]
        self.ground_truth_prefix = ground_truth_prefix or f"{endpoint.prefix}ground-truth/"
        self.output_prefix = f"monitoring/{model_group}/"
        #: Where the launcher writes each run's manifests (read by the job).
        self.runs_prefix = f"{self.output_prefix}runs/"
        #: Where a multi-model endpoint's versions are (None on a single-model endpoint).
        self.models_prefix = (
            f"{endpoint.prefix}{MODELS}{model_group}/" if endpoint.multi_model else None
        )
        #: The overrides given (None: the launcher reads them from the registry per run).
        self.baseline_uri = baseline_uri
        self.model_uri = model_uri

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Monitoring pipeline {pipeline_name} and its jobs",
        )
        script = s3_assets.Asset(self, "MonitorScript", path=monitoring_script_path("monitor.py"))
        subnet_ids = vpc.select_subnets(
            subnet_type=subnets.subnet_type, subnet_group_name=subnets.subnet_group_name
        ).subnet_ids
        arguments = [
            "--features", ",".join(features),
            "--endpoint", endpoint.endpoint_name,
            "--model-group", model_group,
            "--problem-type", problem_type,
            "--quality-metric", quality_metric,
            "--drift-threshold", str(drift_threshold),
            "--drift-p-value", str(drift_p_value),
            "--label-threshold", str(label_threshold),
            "--shap-rows", str(shap_rows),
            "--namespace", namespace,
            "--inference-id-prefix-filter", "version" if filter_by_inference_id else "off",
            "--window-hours", str(window_hours),
        ]  # fmt: skip
        if facet:
            arguments += ["--facet", facet, "--facet-threshold", str(facet_threshold)]
        #: The job's arguments before ``--model-version`` and ``--window-end`` (parameters).
        self.job_arguments = arguments

        from mlops_constructs.monitoring._definition import MonitoringSpec, build_definition

        body = build_definition(
            MonitoringSpec(
                name=pipeline_name,
                region=stack.region,
                role_arn=self.role.role_arn,
                bucket=bucket,
                kms_key_id=artifacts.encryption_key.key_arn,
                subnets=list(subnet_ids),
                security_group_ids=[security_group.security_group_id],
                script_uri=script.s3_object_url,
                output_uri=f"s3://{bucket}/{self.output_prefix.rstrip('/')}",
                job_name_prefix=job_name_prefix,
                xgboost_version=XGBOOST_VERSION,
                instance_type=instance_type,
                volume_size_gb=30,
                max_runtime_seconds=max_runtime_seconds,
                arguments=arguments,
            )
        )
        self.definition_body = body
        watched = (
            "the newest approved version" if model_version is None else f"version {model_version}"
        )
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Resource",
            pipeline_name=pipeline_name,
            pipeline_description=(
                f"Monitors {watched} of {model_group} on {endpoint.endpoint_name}"
            ),
            role_arn=self.role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": body},
        )
        self.pipeline_arn = stack.format_arn(
            service="sagemaker", resource="pipeline", resource_name=pipeline_name.lower()
        )
        self._grant(script, read_prefix)
        self.pipeline.node.add_dependency(self.role.node.find_child("DefaultPolicy"))

        self.launcher = MonitoringLauncher(
            self,
            "Launcher",
            artifacts=artifacts,
            logs_key=logs_key,
            pipeline_name=pipeline_name,
            pipeline_arn=self.pipeline_arn,
            model_group=model_group,
            model_version=model_version,
            baseline_uri=baseline_uri,
            model_uri=model_uri,
            models_prefix=self.models_prefix,
            capture_prefix=self.capture_prefix,
            capture_variants=variants,
            ground_truth_prefix=self.ground_truth_prefix,
            runs_prefix=self.runs_prefix,
            read_prefixes=[read_prefix, *([self.models_prefix] if self.models_prefix else [])],
            window_hours=window_hours,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.schedule = self._schedule(schedule)
        self.publisher = MonitoringMetricsPublisher(
            self,
            "Publisher",
            artifacts=artifacts,
            output_prefix=self.output_prefix,
            job_name_prefix=job_name_prefix,
            logs_key=logs_key,
            namespace=namespace,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        #: Every alarm, for :class:`RetrainingTrigger` (which takes ``IAlarm``).
        self.alarms: list[cloudwatch.Alarm] = []
        #: The ``FeatureDrifted`` alarm of each feature.
        self.drift_alarms: dict[str, cloudwatch.Alarm] = {}
        self._alarm_on(alarm_topic, quality_metric, quality_threshold)

    # --- validation --------------------------------------------------------------------

    def _check(
        self,
        endpoint: IServingEndpoint,
        variants: list[str],
        model_group: str,
        model_version: int | None,
        baseline_uri: str | None,
        model_uri: str | None,
        features: list[str],
        problem_type: str,
        quality_metric: str,
        pipeline_name: str,
        job_name_prefix: str,
        schedule: str,
        window_hours: int,
        read_prefix: str,
        ground_truth_prefix: str | None,
        drift_threshold: float,
        drift_p_value: float,
        facet: str | None,
        shap_rows: int,
        max_runtime_seconds: int,
        instance_type: str,
    ) -> None:
        check = PropsCheck("MonitoringEngine")
        check.require(
            Token.is_unresolved(instance_type) or not has_instance_storage(instance_type),
            "instance_type",
            instance_type,
            "expected an instance type without local NVMe storage: the job's volume is "
            "encrypted with the artifacts key, which SageMaker refuses for instance types with "
            "instance storage (API reference, ProcessingClusterConfig.VolumeKmsKeyId)",
        )
        check.require(
            endpoint.capture_percentage > 0,
            "endpoint.capture_percentage",
            endpoint.capture_percentage,
            "expected data capture on (above 0): the engine reads the captured traffic",
        )
        check.require(
            bool(variants)
            and len(set(variants)) == len(variants)
            and all(not Token.is_unresolved(v) and _VARIANT.fullmatch(v) for v in variants),
            "variant_names",
            variants,
            "expected the distinct names of the endpoint's production variants, known at "
            "synth time (1 to 63 letters, digits or hyphens: they name capture folders)",
        )
        check.require(
            SHADOW_VARIANT not in variants,
            "variant_names",
            variants,
            f"expected production variants only, not {SHADOW_VARIANT!r}: a shadow variant "
            "gets a copy of production's requests, so its records would count them twice",
        )
        check.require(
            not Token.is_unresolved(model_group) and bool(_NAME.fullmatch(model_group)),
            "model_group",
            model_group,
            "expected the model package group's name, known at synth time (it names the "
            "pipeline, the output prefix and the alarms' dimension): 1 to 63 letters, digits "
            "or hyphens",
        )
        check.require(
            model_version is None
            or (
                isinstance(model_version, int)
                and not isinstance(model_version, bool)
                and model_version >= 1
            ),
            "model_version",
            model_version,
            "expected the registry's version number to pin, a positive integer, or None "
            "(the default: the newest approved version at each run)",
        )
        if baseline_uri is not None:
            check.require(
                bool(_S3_URI.fullmatch(baseline_uri)) and baseline_uri.endswith(".json"),
                "baseline_uri",
                baseline_uri,
                "expected the s3:// URI of the version's baseline.json, or None (the "
                "default: the version's registered ModelMetrics.ModelDataQuality.Statistics)",
            )
        if model_uri is not None:
            check.require(
                bool(_S3_URI.fullmatch(model_uri)) and model_uri.endswith(".tar.gz"),
                "model_uri",
                model_uri,
                "expected the s3:// URI of the version's .tar.gz archive, or None (the "
                "default: where the deployer copies it, or the package's ModelDataUrl)",
            )
        for prop, value in (("baseline_uri", baseline_uri), ("model_uri", model_uri)):
            check.require(
                value is None or model_version is not None,
                prop,
                value,
                "expected a pinned model_version too: it belongs to one version, while "
                "without model_version each run may watch another",
            )
        bad = [
            f
            for f in features
            if not f or any(c in f for c in ",'\"\\") or f != f.strip() or len(f) > 1024
        ]
        check.require(
            bool(features) and not bad and len(set(features)) == len(features),
            "features",
            features,
            "expected distinct column names without commas, quotes, backslashes or "
            "surrounding spaces (they are --features and the alarm queries' Feature value, 1 "
            "to 1024 characters)",
        )
        check.require(
            problem_type in QUALITY_METRICS,
            "problem_type",
            problem_type,
            f"expected one of {sorted(QUALITY_METRICS)}",
        )
        if problem_type in QUALITY_METRICS:
            check.require(
                quality_metric in QUALITY_METRICS[problem_type],
                "quality_metric",
                quality_metric,
                f"expected one of {list(QUALITY_METRICS[problem_type])} for {problem_type}",
            )
        check.require(
            bool(re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}", pipeline_name)),
            "pipeline_name",
            pipeline_name,
            "expected 1 to 256 letters, digits or hyphens",
        )
        check.require(
            bool(_JOB_PREFIX.fullmatch(job_name_prefix)),
            "job_name_prefix",
            job_name_prefix,
            f"expected 1 to {MAX_JOB_PREFIX} letters, digits or hyphens, not starting or ending "
            "with a hyphen (the SageMaker SDK cuts a longer custom job prefix, and the "
            "publisher's rule must match the jobs' names)",
        )
        check.require(
            isinstance(window_hours, int) and 1 <= window_hours <= 24,
            "window_hours",
            window_hours,
            "expected 1 to 24 hours: the window each run analyses, ending at the hour of its "
            "scheduled time",
        )
        check.require(
            bool(_SCHEDULE.fullmatch(schedule)),
            "schedule",
            schedule,
            "expected an EventBridge Scheduler expression, e.g. 'cron(10 * * * ? *)'",
        )
        for prop, prefix in (
            ("read_prefix", read_prefix),
            ("ground_truth_prefix", ground_truth_prefix),
        ):
            if prefix is not None:
                check.require(
                    bool(re.fullmatch(r"[^/].*/", prefix)),
                    prop,
                    prefix,
                    "expected a key prefix ending with '/', without a leading '/'",
                )
        check.require(
            0 <= drift_threshold <= 1,
            "drift_threshold",
            drift_threshold,
            "expected a Jensen-Shannon distance, between 0 and 1",
        )
        check.require(
            0 < drift_p_value < 1, "drift_p_value", drift_p_value, "expected between 0 and 1"
        )
        check.require(
            facet is None or facet in features, "facet", facet, "expected one of the features"
        )
        check.require(
            facet is None or problem_type == "binary_classification",
            "facet",
            facet,
            "expected no facet for regression: the job computes bias for binary "
            "classification only",
        )
        check.require(shap_rows >= 1, "shap_rows", shap_rows, "expected at least 1")
        check.require(
            60 <= max_runtime_seconds <= 3000,
            "max_runtime_seconds",
            max_runtime_seconds,
            "expected 60 to 3000 seconds: a run must end before the next hour's starts",
        )
        check.require_sagemaker_sdk(self, "the monitoring pipeline")
        check.raise_if_any()

    # --- permissions -------------------------------------------------------------------

    def _grant(self, script: s3_assets.Asset, read_prefix: str) -> None:
        role = self.role
        endpoint = self.endpoint
        artifacts = endpoint.artifacts
        for prefix in self.capture_prefixes:
            artifacts.grant_prefix(role, prefix, write=False)
        artifacts.grant_prefix(role, self.ground_truth_prefix, write=False)
        artifacts.grant_prefix(role, read_prefix, write=False)
        if endpoint.multi_model:
            artifacts.grant_prefix(
                role, f"{endpoint.prefix}{MODELS}{self.model_group}/", write=False
            )
        artifacts.grant_prefix(role, self.output_prefix)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[script.bucket.arn_for_objects(script.s3_object_key)],
            )
        )
        # The script is an S3Prefix input: the job lists the bucket with its key as prefix.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[script.bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": [script.s3_object_key]}},
            )
        )
        stack = Stack.of(self)
        # SageMaker ARNs carry the job name in lower case.
        jobs = stack.format_arn(
            service="sagemaker",
            resource="processing-job",
            resource_name=f"{self.job_name_prefix.lower()}*",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RunMonitoringJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                ],
                resources=[jobs],
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
        grant_sagemaker_runtime(role, volume_key=artifacts.encryption_key)
        acknowledge_wildcards(
            role,
            "The pipeline names each monitoring job at run time under the engine's prefix.",
            resources=[jobs],
        )

    # --- schedule ----------------------------------------------------------------------

    def _schedule(self, expression: str) -> scheduler.CfnSchedule:
        stack = Stack.of(self)
        function = self.launcher.function
        self.schedule_role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"EventBridge Scheduler starts the runs of {self.pipeline_name}",
        )
        self.schedule_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[function.function_arn]
            )
        )
        schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            description=f"Starts a run of the {self.pipeline_name} pipeline every hour",
            schedule_expression=expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=function.function_arn,
                role_arn=self.schedule_role.role_arn,
                # Scheduler replaces the context attribute with the run's scheduled time.
                input=json.dumps({"source": SCHEDULE_SOURCE, "scheduledTime": SCHEDULED_TIME}),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=3, maximum_event_age_in_seconds=1800
                ),
                # A run Scheduler could not deliver within its retries is kept, not dropped.
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=self.launcher.dead_letter_queue.queue_arn
                ),
            ),
        )
        # Scheduler sends to the dead-letter queue as the schedule's role, through the
        # queue's KMS key (exact actions: no wildcard for cdk-nag to acknowledge).
        queue = self.launcher.dead_letter_queue
        self.schedule_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
        )
        if queue.encryption_master_key is not None:
            self.schedule_role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[queue.encryption_master_key.key_arn],
                )
            )
        schedule.node.add_dependency(self.schedule_role.node.find_child("DefaultPolicy"))
        schedule.node.add_dependency(self.pipeline)
        return schedule

    # --- alarms ------------------------------------------------------------------------

    def _query(self, function: str, metric: str, **where: str) -> cloudwatch.MathExpression:
        # Every version's data points: ModelVersion is in the SCHEMA, not in the WHERE.
        extra = list(where)
        query = insights_query(
            function,
            metric,
            self.namespace,
            ["Endpoint", *extra, "Model", "ModelVersion"],
            {"Endpoint": self.endpoint.endpoint_name, "Model": self.model_group, **where},
        )
        return cloudwatch.MathExpression(
            expression=query, period=Duration.hours(1), using_metrics={}
        )

    def _alarm(
        self,
        id: str,
        topic: sns.ITopic,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            id,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
        self.alarms.append(alarm)
        return alarm

    def _alarm_on(self, topic: sns.ITopic, quality_metric: str, threshold: float) -> None:
        version = "" if self.model_version is None else f" v{self.model_version}"
        what = f"{self.model_group}{version} on {self.endpoint.endpoint_name}"
        at_least_one = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        for i, feature in enumerate(self.features):
            self.drift_alarms[feature] = self._alarm(
                f"Drift{i}{pascal_case(feature)}",
                topic,
                self._query("MAX", "FeatureDrifted", Feature=feature),
                threshold=1,
                comparison=at_least_one,
                description=f"{what}: feature {feature} drifted from the version's baseline",
            )
        lower = quality_metric in LOWER_IS_BETTER
        self.quality_alarm = self._alarm(
            "Quality",
            topic,
            self._query("AVG", "ModelQuality", Metric=quality_metric),
            threshold=threshold,
            comparison=(
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                if lower
                else cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
            ),
            description=(
                f"{what}: {quality_metric} on joined ground truth "
                f"{'above' if lower else 'below'} {threshold}"
            ),
        )
        self.job_failed_alarm = self._alarm(
            "JobFailed",
            topic,
            cloudwatch.Metric(
                namespace=self.namespace,
                metric_name=FAILED_METRIC,
                dimensions_map={"Endpoint": self.endpoint.endpoint_name, "Model": self.model_group},
                statistic="Maximum",
                period=Duration.hours(1),
            ),
            threshold=1,
            comparison=at_least_one,
            description=f"{what}: a monitoring job failed or was stopped",
        )

"""Glue ETL: the feature job and the workflow that runs crawler and job in order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Unpack

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from mlops_constructs.core.metrics import MetricOptionsArgs, metric_options
from mlops_constructs.core.sources import glue_script_path
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.glue._common import (
    _after_role_policy,
    _allow_glue_metrics,
    _glue_role,
    _keep_logical_id,
)
from mlops_constructs.glue.catalog import CsvTable, LakeCatalog, ZoneCrawler
from mlops_constructs.glue.props import (
    _GLUE_VERSIONS,
    _WORKER_TYPES,
    FeatureSpec,
    feature_spec_argument,
)
from mlops_constructs.glue.security import GlueNetworkConnection, GlueSecurityConfiguration
from mlops_constructs.lake.interfaces import IDataLake


class FeatureEtlJob(Construct):
    """Makes a Glue Spark ETL job that engineers features from a raw table into Parquet.

    It runs ``glue/runtime/feature_etl.py`` (shipped with this library; ``script`` replaces
    it), which reads ``source_table`` through the catalog, de-duplicates, splits a composite
    column, one-hot encodes a categorical column, log-transforms a skewed one, and appends
    Parquet partitioned by ``feature_spec["partition_by"]`` under ``target_prefix`` of the
    target zone. ``feature_spec`` is a :class:`~mlops_constructs.glue.props.FeatureSpec` or
    its JSON-shaped mapping, checked at synth by the script's own parser (a bad spec raises
    ``PropsError`` naming each problem).

    Defaults: Glue 5.0, ``G.1X`` x 2 workers, 60-minute timeout, 1 retry; job bookmarks on
    (each run reads only new data), continuous CloudWatch logging, job metrics and
    observability metrics on, the security configuration attached, and, with
    ``connection``, workers in the VPC. Its role can read only the source prefix, write
    only the target prefix, read the source table's definition, and use the keys.

    The job is aws-cdk-lib's ``aws_glue.PySparkEtlJob`` (:attr:`job`, an ``IJob``; the
    CloudFormation resource is :attr:`resource`); ``metric_*`` give its CloudWatch metrics.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lake: IDataLake,
        catalog: LakeCatalog,
        source_table: CsvTable,
        target_zone: str,
        target_prefix: str,
        feature_spec: FeatureSpec | Mapping[str, object],
        security_configuration: GlueSecurityConfiguration,
        connection: GlueNetworkConnection | None = None,
        glue_version: str = "5.0",
        worker_type: str = "G.1X",
        number_of_workers: int = 2,
        timeout: Duration | None = None,
        max_retries: int = 1,
        script: s3_assets.Asset | None = None,
    ) -> None:
        super().__init__(scope, id)
        timeout = timeout or Duration.minutes(60)
        check = PropsCheck("FeatureEtlJob")
        check.require(
            glue_version in _GLUE_VERSIONS,
            "glue_version",
            glue_version,
            f"expected one of {_GLUE_VERSIONS}",
        )
        check.require(
            worker_type in _WORKER_TYPES,
            "worker_type",
            worker_type,
            f"expected one of {_WORKER_TYPES}",
        )
        check.require(
            2 <= number_of_workers <= 299,
            "number_of_workers",
            number_of_workers,
            "expected 2 to 299",
        )
        check.require(0 <= max_retries <= 10, "max_retries", max_retries, "expected 0 to 10")
        check.require(
            1 <= timeout.to_minutes() <= 2880,
            "timeout",
            f"{timeout.to_minutes()} minutes",
            "expected 1 to 2880 minutes",
        )
        check.require(
            target_prefix.endswith("/") and not target_prefix.startswith("/"),
            "target_prefix",
            target_prefix,
            "expected a key prefix such as 'customers/' (ending with '/')",
        )
        check.require(
            target_zone in lake.zones, "target_zone", target_zone, f"expected one of {lake.zones}"
        )
        try:  # the job's own parser, so a bad spec fails here and not at the first run
            spec_argument = feature_spec_argument(feature_spec)
        except ValueError as error:
            check.add("feature_spec", str(error))
        check.raise_if_any()

        self.role = _glue_role(
            self, "Role", "Feature ETL job: reads one raw prefix, writes one curated prefix"
        )
        script = script or s3_assets.Asset(self, "Script", path=glue_script_path("feature_etl.py"))
        # Only the script object, not the whole asset bucket.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadJobScript",
                actions=["s3:GetObject"],
                resources=[script.bucket.arn_for_objects(script.s3_object_key)],
            )
        )
        lake.grant_read(self.role, source_table.zone, source_table.prefix)
        lake.grant_read_write(self.role, target_zone, target_prefix)
        catalog.grant_read_tables(self.role, source_table.zone, source_table.table_name)
        security_configuration.grant_use(self.role)
        _allow_glue_metrics(self.role)
        if connection is not None:
            connection.grant_use(self.role)

        target = f"s3://{lake.bucket(target_zone).bucket_name}/{target_prefix}"
        #: The aws-cdk-lib job.
        self.job = glue.PySparkEtlJob(
            self,
            "Resource",
            # The L2 grants its role read access to the whole script bucket (s3:GetObject*,
            # s3:GetBucket*, s3:List*); ReadJobScript above allows the one object, so the L2
            # gets a view of the role it cannot add statements to.
            role=self.role.without_policy_updates(),
            script=glue.Code.from_bucket(script.bucket, script.s3_object_key),
            description=f"Feature engineering of {source_table.table_name} into {target_zone}",
            glue_version=glue.GlueVersion["V" + glue_version.replace(".", "_")],
            worker_configuration=glue.WorkerConfiguration(
                worker_type=glue.WorkerType[worker_type.replace(".", "_")],
                number_of_workers=number_of_workers,
            ),
            timeout=timeout,
            max_retries=max_retries,
            max_concurrent_runs=1,
            security_configuration=security_configuration.security_configuration,
            connections=[connection.connection] if connection is not None else None,
            # "--job-language" and the logging and metrics flags below are the L2's own
            # arguments; job bookmarks it leaves to the caller.
            continuous_logging=glue.ContinuousLoggingProps(enabled=True),
            enable_metrics=True,
            enable_observability_metrics=True,
            default_arguments={
                "--job-bookmark-option": "job-bookmark-enable",
                "--source_database": source_table.database_name,
                "--source_table": source_table.table_name,
                "--target_path": target,
                "--feature_spec": json.dumps(spec_argument, separators=(",", ":")),
            },
        )
        resource = self.job.node.default_child
        assert isinstance(resource, glue.CfnJob)
        # The job's name (and with it its bookmarks) comes from its logical id.
        _keep_logical_id(resource, scope=self, id="Resource")
        #: The CloudFormation resource.
        self.resource = resource
        _after_role_policy(resource, self.role)
        self.job_name = self.job.job_name

    def metric(
        self,
        metric_name: str,
        *,
        type: glue.MetricType = glue.MetricType.COUNT,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Glue job metric ``metric_name`` (namespace ``Glue``) of all the job's runs
        (``JobRunId`` ``ALL``, ``Type`` ``type``, COUNT by default), e.g.
        ``glue.driver.aggregate.numCompletedTasks``: ``Average`` over 5 minutes by default.
        """
        return self.job.metric(metric_name, type, **metric_options(options))

    def metric_failed_tasks(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Spark tasks that failed (``glue.driver.aggregate.numFailedTasks``): ``Sum`` over
        5 minutes by default."""
        return self.job.metric(
            "glue.driver.aggregate.numFailedTasks",
            glue.MetricType.COUNT,
            **metric_options(options, statistic=cloudwatch.Stats.SUM, unit=cloudwatch.Unit.COUNT),
        )

    def metric_success(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Runs that succeeded: ``Sum`` over 5 minutes by default. aws-cdk-lib counts them
        with an EventBridge rule on the job's state changes (``AWS/Events``
        ``TriggeredRules``), made on the first call."""
        return self.job.metric_success(**metric_options(options))

    def metric_failure(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Runs that failed: ``Sum`` over 5 minutes by default (an EventBridge rule, as
        :meth:`metric_success`)."""
        return self.job.metric_failure(**metric_options(options))

    def metric_timeout(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Runs that timed out: ``Sum`` over 5 minutes by default (an EventBridge rule, as
        :meth:`metric_success`)."""
        return self.job.metric_timeout(**metric_options(options))


class EtlWorkflow(Construct):
    """Makes a Glue workflow: on ``schedule``, crawl the source, run the job, crawl the output.

    Each step starts only when the one before it succeeded.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_crawler: ZoneCrawler,
        job: FeatureEtlJob,
        target_crawler: ZoneCrawler,
        schedule: str,
    ) -> None:
        super().__init__(scope, id)
        #: The aws-cdk-lib workflow. Its triggers stay L1: ``Workflow.add_*_trigger`` also
        #: renders ``EventBatchingCondition``, a setting of EVENT triggers, on scheduled and
        #: conditional ones, and names the triggers after the workflow rather than this
        #: construct (each would be replaced).
        self.workflow = glue.Workflow(
            self,
            "Resource",
            description="Crawl raw -> feature ETL -> crawl curated",
            max_concurrent_runs=1,
        )
        resource = self.workflow.node.default_child
        assert isinstance(resource, glue.CfnWorkflow)
        _keep_logical_id(resource, scope=self, id="Resource")
        name = self.workflow.workflow_name
        glue.CfnTrigger(
            self,
            "Start",
            type="SCHEDULED",
            schedule=schedule,
            start_on_creation=True,
            workflow_name=name,
            actions=[glue.CfnTrigger.ActionProperty(crawler_name=source_crawler.crawler_name)],
        )
        self._after(
            "AfterSourceCrawl",
            glue.CfnTrigger.ConditionProperty(
                crawler_name=source_crawler.crawler_name,
                crawl_state="SUCCEEDED",
                logical_operator="EQUALS",
            ),
            glue.CfnTrigger.ActionProperty(job_name=job.job_name),
        )
        self._after(
            "AfterJob",
            glue.CfnTrigger.ConditionProperty(
                job_name=job.job_name, state="SUCCEEDED", logical_operator="EQUALS"
            ),
            glue.CfnTrigger.ActionProperty(crawler_name=target_crawler.crawler_name),
        )

    def _after(
        self,
        id: str,
        condition: glue.CfnTrigger.ConditionProperty,
        action: glue.CfnTrigger.ActionProperty,
    ) -> glue.CfnTrigger:
        """A trigger of the workflow that runs ``action`` once ``condition`` holds."""
        return glue.CfnTrigger(
            self,
            id,
            type="CONDITIONAL",
            start_on_creation=True,
            workflow_name=self.workflow.workflow_name,
            predicate=glue.CfnTrigger.PredicateProperty(conditions=[condition]),
            actions=[action],
        )

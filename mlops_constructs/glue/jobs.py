"""Glue ETL: the feature job and the workflow that runs crawler and job in order."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from mlops_constructs.core.sources import glue_script_path
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.glue._common import _after_role_policy, _allow_glue_metrics, _glue_role
from mlops_constructs.glue.catalog import CsvTable, LakeCatalog, ZoneCrawler
from mlops_constructs.glue.props import _GLUE_VERSIONS, _WORKER_TYPES
from mlops_constructs.glue.security import GlueNetworkConnection, GlueSecurityConfiguration
from mlops_constructs.lake.data_lake import DataLake


class FeatureEtlJob(Construct):
    """Makes a Glue Spark ETL job that engineers features from a raw table into Parquet.

    It runs ``glue/runtime/feature_etl.py`` (shipped with this library; ``script`` replaces
    it), which reads ``source_table`` through the catalog, de-duplicates, splits a composite
    column, one-hot encodes a categorical column, log-transforms a skewed one, and appends
    Parquet partitioned by ``feature_spec["partition_by"]`` under ``target_prefix`` of the
    target zone.

    Defaults: Glue 5.0, ``G.1X`` x 2 workers, 60-minute timeout, 1 retry; job bookmarks on
    (each run reads only new data), continuous CloudWatch logging, job metrics and
    observability metrics on, the security configuration attached, and, with
    ``connection``, workers in the VPC. Its role can read only the source prefix, write
    only the target prefix, read the source table's definition, and use the keys.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lake: DataLake,
        catalog: LakeCatalog,
        source_table: CsvTable,
        target_zone: str,
        target_prefix: str,
        feature_spec: Mapping[str, object],
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
        self.job = glue.CfnJob(
            self,
            "Resource",
            role=self.role.role_arn,
            description=f"Feature engineering of {source_table.table_name} into {target_zone}",
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=script.s3_object_url
            ),
            glue_version=glue_version,
            worker_type=worker_type,
            number_of_workers=number_of_workers,
            timeout=int(timeout.to_minutes()),
            max_retries=max_retries,
            security_configuration=security_configuration.name,
            connections=(
                glue.CfnJob.ConnectionsListProperty(connections=[connection.name])
                if connection is not None
                else None
            ),
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            default_arguments={
                "--job-language": "python",
                "--job-bookmark-option": "job-bookmark-enable",
                "--enable-continuous-cloudwatch-log": "true",
                "--enable-metrics": "true",
                "--enable-observability-metrics": "true",
                "--source_database": source_table.database_name,
                "--source_table": source_table.table_name,
                "--target_path": target,
                "--feature_spec": json.dumps(dict(feature_spec), separators=(",", ":")),
            },
        )
        _after_role_policy(self.job, self.role)
        self.job_name = self.job.ref


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
        self.workflow = glue.CfnWorkflow(
            self,
            "Resource",
            description="Crawl raw -> feature ETL -> crawl curated",
            max_concurrent_runs=1,
        )
        name = self.workflow.ref
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
            workflow_name=self.workflow.ref,
            predicate=glue.CfnTrigger.PredicateProperty(conditions=[condition]),
            actions=[action],
        )

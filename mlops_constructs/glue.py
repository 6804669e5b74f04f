"""Glue: catalog databases, an encrypted security configuration, tables, crawlers, ETL.

All jobs and crawlers made here run with a Glue security configuration (S3 output,
CloudWatch logs and job bookmarks encrypted with KMS) and, when given a network, inside the
VPC's isolated subnets through a Glue NETWORK connection.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Annotations, Aws, Duration, Names, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from mlops_constructs._nag import acknowledge_wildcards
from mlops_constructs._validation import PropsCheck
from mlops_constructs.data_lake import DataLake
from mlops_constructs.sources import glue_script_path

_GLUE_VERSIONS = ("4.0", "5.0")

#: The Glue versions FindMatches ML transforms run on. "Using FindMatches in a visual job"
#: (AWS Glue Developer Guide, find-matches-visual-job): "Currently, the FindMatches API only
#: works with Glue 2.0"; no later Glue version lists ML transforms.
ML_TRANSFORM_GLUE_VERSIONS = ("2.0",)
#: End of life of the Glue versions, from "AWS Glue version support policy"
#: (glue-version-support-policy): after it, job and task runs can no longer be started.
GLUE_END_OF_LIFE = {"0.9": "2026-04-01", "1.0": "2026-04-01", "2.0": "2026-04-01"}
_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")  # G.025X: streaming jobs only


def _unique_name(scope: Construct, max_length: int = 100) -> str:
    """A deterministic physical name for resources where AWS requires one."""
    return Names.unique_resource_name(scope, max_length=max_length, separator="-").lower()


class GlueSecurityConfiguration(Construct):
    """Makes a Glue security configuration: everything Glue writes is KMS-encrypted.

    * S3 output: SSE-KMS with ``data_key``;
    * CloudWatch logs: CSE-KMS with ``logs_key`` (its policy must let CloudWatch Logs use
      it, as :class:`mlops_constructs.PlatformKeys` does);
    * job bookmarks: CSE-KMS with ``data_key``.

    ``grant_use(role)`` gives a job or crawler role what it needs to write under it.
    """

    def __init__(
        self, scope: Construct, id: str, *, data_key: kms.IKey, logs_key: kms.IKey
    ) -> None:
        super().__init__(scope, id)
        self.data_key = data_key
        self.logs_key = logs_key
        # Every property of a security configuration forces a replacement, and the name is
        # fixed: name it after what it encrypts with, so a new configuration gets a new name.
        settings = hashlib.sha256(
            f"{data_key.node.path}|{logs_key.node.path}|SSE-KMS|SSE-KMS|CSE-KMS".encode()
        ).hexdigest()[:8]
        self.name = f"{_unique_name(self, max_length=90)}-{settings}"
        self.resource = glue.CfnSecurityConfiguration(
            self,
            "Resource",
            name=self.name,
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(
                        s3_encryption_mode="SSE-KMS", kms_key_arn=data_key.key_arn
                    )
                ],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=logs_key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=data_key.key_arn
                ),
            ),
        )

    def grant_use(self, role: iam.IRole) -> None:
        """Let ``role`` encrypt output, bookmarks and (encrypted) CloudWatch logs."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueSecurityConfigurationKeys",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[self.data_key.key_arn, self.logs_key.key_arn],
            )
        )
        stack = Stack.of(self)
        # Glue names the log groups of encrypted jobs and crawlers after the security
        # configuration, under /aws-glue/; the log groups are created at run time.
        log_groups = (
            f"arn:{Aws.PARTITION}:logs:{stack.region}:{stack.account}:log-group:/aws-glue/*"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueLogsUnderAwsGlue",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:AssociateKmsKey",
                ],
                resources=[log_groups],
            )
        )
        acknowledge_wildcards(
            role,
            "Glue creates its log groups at run time, named after the job or crawler, under "
            "/aws-glue/ in this account and region only.",
            resources=[log_groups],
        )


class LakeCatalog(Construct):
    """Makes one Glue Data Catalog database per zone of a :class:`DataLake`.

    Database names are ``<database_prefix>_<zone>`` (``-`` becomes ``_``), e.g.
    ``mlops_platform_dev_raw``: Glue requires names, and they must be unique per account
    and region, so the prefix should name the project and environment.
    """

    def __init__(self, scope: Construct, id: str, *, lake: DataLake, database_prefix: str) -> None:
        super().__init__(scope, id)
        check = PropsCheck("LakeCatalog")
        prefix = database_prefix.replace("-", "_").lower()
        check.require(
            bool(prefix) and prefix.replace("_", "").isalnum() and prefix[0].isalpha(),
            "database_prefix",
            database_prefix,
            "expected letters, digits, '-' or '_', starting with a letter",
        )
        check.raise_if_any()
        self.lake = lake
        self._databases: dict[str, glue.CfnDatabase] = {}
        for zone in lake.zones:
            name = f"{prefix}_{zone.replace('-', '_')}"
            self._databases[zone] = glue.CfnDatabase(
                self,
                zone.capitalize() + "Database",
                catalog_id=Stack.of(self).account,
                database_input=glue.CfnDatabase.DatabaseInputProperty(
                    name=name,
                    description=f"Tables of the {zone} zone ({lake.bucket(zone).bucket_name})",
                ),
            )

    def database_name(self, zone: str) -> str:
        """The database of ``zone`` (resolves to its name; depends on the database)."""
        if zone not in self._databases:
            raise KeyError(f"no database for zone {zone!r}; zones are {list(self._databases)}")
        return self._databases[zone].ref

    def database_arn(self, zone: str) -> str:
        stack = Stack.of(self)
        return stack.format_arn(
            service="glue", resource="database", resource_name=self.database_name(zone)
        )

    def table_arn(self, zone: str, table: str = "*") -> str:
        stack = Stack.of(self)
        return stack.format_arn(
            service="glue", resource="table", resource_name=f"{self.database_name(zone)}/{table}"
        )

    def catalog_arn(self) -> str:
        stack = Stack.of(self)
        return stack.format_arn(service="glue", resource="catalog")

    def grant_read_tables(self, grantee: iam.IGrantable, zone: str, table: str = "*") -> iam.Grant:
        """Let ``grantee`` read the definitions (and partitions) of tables in ``zone``."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
            ],
            resource_arns=[
                self.catalog_arn(),
                self.database_arn(zone),
                self.table_arn(zone, table),
            ],
        )

    def grant_write_tables(self, role: iam.IRole, zone: str) -> iam.Grant:
        """Let ``role`` (a crawler's) create and update tables and partitions in ``zone``."""
        grant = iam.Grant.add_to_principal(
            grantee=role,
            actions=[
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
                "glue:BatchCreatePartition",
                "glue:BatchUpdatePartition",
                "glue:CreatePartition",
                "glue:UpdatePartition",
            ],
            resource_arns=[self.catalog_arn(), self.database_arn(zone), self.table_arn(zone)],
        )
        acknowledge_wildcards(
            role,
            "A crawler creates the tables it discovers; their names are known only at run "
            "time, so it may write any table of this one zone's database.",
            resources=[self.table_arn(zone)],
        )
        return grant


@dataclass(frozen=True)
class Column:
    """A table column: a Glue (Hive) type such as ``string``, ``double``, ``timestamp``."""

    name: str
    type: str = "string"


class CsvTable(Construct):
    """Makes a Glue table over CSV files under a prefix of one lake zone.

    Declared in CloudFormation (rather than discovered by a crawler) so that jobs and ML
    transforms that read it can be created in the same deployment. The first line of each
    file is a header and is skipped; ``delimiter`` is ``,`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        catalog: LakeCatalog,
        zone: str,
        table_name: str,
        prefix: str,
        columns: Sequence[Column],
        delimiter: str = ",",
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("CsvTable")
        check.require(bool(columns), "columns", list(columns), "expected at least one column")
        check.require(prefix.endswith("/"), "prefix", prefix, "expected a prefix ending with '/'")
        check.require(len(delimiter) == 1, "delimiter", delimiter, "expected one character")
        check.raise_if_any()
        bucket = catalog.lake.bucket(zone)
        self.zone = zone
        self.prefix = prefix
        self.catalog = catalog
        self.table_name = table_name
        self.location = f"s3://{bucket.bucket_name}/{prefix}"
        self.resource = glue.CfnTable(
            self,
            "Resource",
            catalog_id=Stack.of(self).account,
            database_name=catalog.database_name(zone),
            table_input=glue.CfnTable.TableInputProperty(
                name=table_name,
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "csv",
                    "skip.header.line.count": "1",
                    "has_encrypted_data": "true",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=self.location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                        parameters={"field.delim": delimiter},
                    ),
                    columns=[
                        glue.CfnTable.ColumnProperty(name=c.name, type=c.type) for c in columns
                    ],
                ),
            ),
        )

    @property
    def database_name(self) -> str:
        return self.catalog.database_name(self.zone)


def _after_role_policy(resource: Construct, role: iam.Role) -> None:
    """Create ``resource`` only once its role's inline policy exists.

    The resource already waits for the role itself (it references its ARN), but Glue checks
    the role's permissions when the job, crawler or transform is created or first runs.
    """
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is not None:
        resource.node.add_dependency(policy)


def _glue_role(scope: Construct, id: str, description: str) -> iam.Role:
    return iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
        description=description,
    )


class GlueNetworkConnection(Construct):
    """Makes a Glue NETWORK connection in one isolated subnet, with the workload group.

    Jobs that use it run in the VPC and reach AWS only through its endpoints. Glue puts a
    job's workers in the connection's single subnet, so this picks the first one.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, id)
        subnet = vpc.select_subnets(
            subnet_type=subnets.subnet_type, subnet_group_name=subnets.subnet_group_name
        ).subnets[0]
        self.name = _unique_name(self)
        self.resource = glue.CfnConnection(
            self,
            "Resource",
            catalog_id=Stack.of(self).account,
            connection_input=glue.CfnConnection.ConnectionInputProperty(
                name=self.name,
                connection_type="NETWORK",
                description="Runs Glue workers in an isolated subnet of the platform VPC",
                physical_connection_requirements=glue.CfnConnection.PhysicalConnectionRequirementsProperty(
                    availability_zone=subnet.availability_zone,
                    subnet_id=subnet.subnet_id,
                    security_group_id_list=[security_group.security_group_id],
                ),
            ),
        )

    def grant_use(self, role: iam.IRole) -> None:
        """Let ``role`` run workers in the connection's subnet."""
        stack = Stack.of(self)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueGetNetworkConnection",
                actions=["glue:GetConnection"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(
                        service="glue", resource="connection", resource_name=self.name
                    ),
                ],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueWorkersInVpc",
                # Glue creates, describes and deletes the workers' network interfaces; these
                # EC2 actions do not support resource-level permissions.
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeVpcEndpoints",
                    "ec2:DescribeRouteTables",
                    "ec2:DescribeVpcAttribute",
                ],
                resources=["*"],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueTagWorkerInterfaces",
                actions=["ec2:CreateTags", "ec2:DeleteTags"],
                resources=[
                    stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
                ],
                conditions={
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}
                },
            )
        )
        acknowledge_wildcards(
            role,
            "Glue manages its workers' network interfaces: the EC2 describe and network "
            "interface actions support no resource-level scoping, and interface ids are made "
            "at run time (tagging is limited to Glue's own tag key).",
            resources=[
                "*",
                stack.format_arn(service="ec2", resource="network-interface", resource_name="*"),
            ],
        )


class FeatureEtlJob(Construct):
    """Makes a Glue Spark ETL job that engineers features from a raw table into Parquet.

    It runs ``glue_src/feature_etl.py`` (shipped with this library; ``script`` replaces
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


class ZoneCrawler(Construct):
    """Makes a Glue crawler over one zone's prefixes (or a catalog table) into its database.

    Defaults: the security configuration attached (encrypted logs), schema changes update
    the catalog and deletions are only logged (``update_behavior``/``delete_behavior``),
    new partitions inherit the table's schema, S3 targets recrawl only new folders when
    both behaviours are ``LOG``,
    and no schedule (a workflow starts it) unless ``schedule`` is given. Its role can read
    only the crawled prefixes and write tables only in the zone's database.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lake: DataLake,
        catalog: LakeCatalog,
        zone: str,
        security_configuration: GlueSecurityConfiguration,
        prefixes: Sequence[str] = (),
        catalog_table: CsvTable | None = None,
        schedule: str | None = None,
        update_behavior: str = "UPDATE_IN_DATABASE",
        delete_behavior: str = "LOG",
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("ZoneCrawler")
        check.require(
            bool(prefixes) != (catalog_table is not None),
            "prefixes/catalog_table",
            {
                "prefixes": list(prefixes),
                "catalog_table": catalog_table and catalog_table.table_name,
            },
            "expected either S3 prefixes or one catalog table",
        )
        check.require(zone in lake.zones, "zone", zone, f"expected one of {lake.zones}")
        check.require(
            update_behavior in ("UPDATE_IN_DATABASE", "LOG"),
            "update_behavior",
            update_behavior,
            "expected UPDATE_IN_DATABASE or LOG",
        )
        check.require(
            delete_behavior in ("LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE"),
            "delete_behavior",
            delete_behavior,
            "expected LOG, DELETE_FROM_DATABASE or DEPRECATE_IN_DATABASE",
        )
        check.raise_if_any()

        self.role = _glue_role(self, "Role", f"Crawler of the {zone} zone")
        bucket: s3.IBucket = lake.bucket(zone)
        if catalog_table is not None:
            lake.grant_read(self.role, zone, catalog_table.prefix)
            targets = glue.CfnCrawler.TargetsProperty(
                catalog_targets=[
                    glue.CfnCrawler.CatalogTargetProperty(
                        database_name=catalog_table.database_name,
                        tables=[catalog_table.table_name],
                    )
                ]
            )
            # Crawlers of catalog targets may only log deletions.
            delete_behavior = "LOG"
            recrawl = None
        else:
            for prefix in prefixes:
                lake.grant_read(self.role, zone, prefix)
            targets = glue.CfnCrawler.TargetsProperty(
                s3_targets=[
                    glue.CfnCrawler.S3TargetProperty(path=f"s3://{bucket.bucket_name}/{p}")
                    for p in prefixes
                ]
            )
            # Crawling only new folders is cheaper, but S3 allows it only when schema
            # changes are merely logged.
            incremental = update_behavior == "LOG" and delete_behavior == "LOG"
            recrawl = glue.CfnCrawler.RecrawlPolicyProperty(
                recrawl_behavior="CRAWL_NEW_FOLDERS_ONLY" if incremental else "CRAWL_EVERYTHING"
            )
        catalog.grant_write_tables(self.role, zone)
        security_configuration.grant_use(self.role)

        self.crawler = glue.CfnCrawler(
            self,
            "Resource",
            role=self.role.role_arn,
            database_name=catalog.database_name(zone),
            description=f"Crawls the {zone} zone into its catalog database",
            targets=targets,
            crawler_security_configuration=security_configuration.name,
            schedule=glue.CfnCrawler.ScheduleProperty(schedule_expression=schedule)
            if schedule
            else None,
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior=update_behavior, delete_behavior=delete_behavior
            ),
            recrawl_policy=recrawl,
            configuration=json.dumps(
                {
                    "Version": 1.0,
                    "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
                    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
                }
            ),
        )
        _after_role_policy(self.crawler, self.role)
        self.crawler_name = self.crawler.ref


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


class FindMatchesTransform(Construct):
    """Makes a Glue FindMatches ML transform over a catalog table (entity resolution).

    Defaults: precision-recall trade-off 0.9 (favour precision), accuracy-cost trade-off
    0.5, provided labels not enforced, Glue 2.0 ML workers ``G.1X`` x 2, 120-minute timeout.
    Its ML user data (labels, models) is encrypted with the data key (SSE-KMS) and its task
    runs use the security configuration. Its role reads the table's prefix and definition,
    and reads and writes ``labeling_prefix`` (``find-matches/<table>/`` of the table's zone
    by default), where labelling sets and labels live.

    ``glue_version`` must be one of :data:`ML_TRANSFORM_GLUE_VERSIONS`, the versions ML
    transforms run on (only ``2.0``). A version past its end of life
    (:data:`GLUE_END_OF_LIFE`: 2.0 on 2026-04-01) gets a synth warning: AWS no longer starts
    its task runs, so the transform can neither be trained nor run.

    The transform learns from labels, in three task runs (``<...>`` are :attr:`labeling_set_uri`,
    :attr:`labels_uri` and :attr:`exported_labels_uri`)::

        aws glue start-ml-labeling-set-generation-task-run --transform-id <id> \\
            --output-s3-path <labeling_set_uri>
        # label the CSV files written there (the label column), upload them, then:
        aws glue start-import-labels-task-run --transform-id <id> \\
            --input-s3-path <labels_uri> --no-replace-all-labels
        aws glue start-export-labels-task-run --transform-id <id> \\
            --output-s3-path <exported_labels_uri>
    """

    #: The Glue versions the construct accepts (see :data:`ML_TRANSFORM_GLUE_VERSIONS`).
    GLUE_VERSIONS = ML_TRANSFORM_GLUE_VERSIONS

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lake: DataLake,
        catalog: LakeCatalog,
        table: CsvTable,
        primary_key: str,
        security_configuration: GlueSecurityConfiguration,
        precision_recall_tradeoff: float = 0.9,
        accuracy_cost_tradeoff: float = 0.5,
        enforce_provided_labels: bool = False,
        worker_type: str = "G.1X",
        number_of_workers: int = 2,
        timeout: Duration | None = None,
        glue_version: str = "2.0",
        labeling_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        timeout = timeout or Duration.minutes(120)
        check = PropsCheck("FindMatchesTransform")
        check.require(
            glue_version in ML_TRANSFORM_GLUE_VERSIONS,
            "glue_version",
            glue_version,
            f"expected one of {ML_TRANSFORM_GLUE_VERSIONS}, the Glue versions FindMatches ML "
            "transforms run on",
        )
        check.require(
            0 <= precision_recall_tradeoff <= 1,
            "precision_recall_tradeoff",
            precision_recall_tradeoff,
            "expected 0.0 to 1.0",
        )
        check.require(
            0 <= accuracy_cost_tradeoff <= 1,
            "accuracy_cost_tradeoff",
            accuracy_cost_tradeoff,
            "expected 0.0 to 1.0",
        )
        check.require(
            worker_type in ("G.1X", "G.2X"), "worker_type", worker_type, "expected G.1X or G.2X"
        )
        check.require(
            2 <= number_of_workers <= 100,
            "number_of_workers",
            number_of_workers,
            "expected 2 to 100",
        )
        check.require(bool(primary_key), "primary_key", primary_key, "expected a column name")
        labeling_prefix = labeling_prefix or f"find-matches/{table.table_name}/"
        check.require(
            labeling_prefix.endswith("/") and not labeling_prefix.startswith("/"),
            "labeling_prefix",
            labeling_prefix,
            "expected a key prefix such as 'find-matches/customers/'",
        )
        check.raise_if_any()
        if glue_version in GLUE_END_OF_LIFE:
            Annotations.of(self).add_warning_v2(
                "mlops:FindMatchesGlueEndOfLife",
                f"Glue {glue_version} reached end of life on {GLUE_END_OF_LIFE[glue_version]} "
                "(AWS Glue version support policy) and FindMatches runs on no later version: "
                "the transform can be created but not trained or run.",
            )
        self.glue_version = glue_version
        self.labeling_prefix = labeling_prefix
        #: Where the labelling task runs read and write: the table's zone, since labelling
        #: sets hold the table's records.
        self.labeling_uri = f"s3://{lake.bucket(table.zone).bucket_name}/{labeling_prefix}"
        self.labeling_set_uri = f"{self.labeling_uri}labeling-set/"
        self.labels_uri = f"{self.labeling_uri}labels/"
        self.exported_labels_uri = f"{self.labeling_uri}exported-labels/"

        self.role = _glue_role(self, "Role", f"FindMatches over {table.table_name}")
        lake.grant_read(self.role, table.zone, table.prefix)
        # StartMLLabelingSetGenerationTaskRun and StartExportLabelsTaskRun write under the
        # prefix, StartImportLabelsTaskRun reads the labels uploaded there.
        lake.grant_read_write(self.role, table.zone, labeling_prefix)
        catalog.grant_read_tables(self.role, table.zone, table.table_name)
        security_configuration.grant_use(self.role)
        _allow_glue_metrics(self.role)

        self.transform = glue.CfnMLTransform(
            self,
            "Resource",
            role=self.role.role_arn,
            description=f"Finds records of {table.table_name} that refer to the same entity",
            glue_version=glue_version,
            worker_type=worker_type,
            number_of_workers=number_of_workers,
            timeout=int(timeout.to_minutes()),
            max_retries=0,
            input_record_tables=glue.CfnMLTransform.InputRecordTablesProperty(
                glue_tables=[
                    glue.CfnMLTransform.GlueTablesProperty(
                        database_name=table.database_name, table_name=table.table_name
                    )
                ]
            ),
            transform_parameters=glue.CfnMLTransform.TransformParametersProperty(
                transform_type="FIND_MATCHES",
                find_matches_parameters=glue.CfnMLTransform.FindMatchesParametersProperty(
                    primary_key_column_name=primary_key,
                    precision_recall_tradeoff=precision_recall_tradeoff,
                    accuracy_cost_tradeoff=accuracy_cost_tradeoff,
                    enforce_provided_labels=enforce_provided_labels,
                ),
            ),
            transform_encryption=glue.CfnMLTransform.TransformEncryptionProperty(
                ml_user_data_encryption=glue.CfnMLTransform.MLUserDataEncryptionProperty(
                    ml_user_data_encryption_mode="SSE-KMS",
                    kms_key_id=security_configuration.data_key.key_arn,
                ),
                task_run_security_configuration_name=security_configuration.name,
            ),
        )
        _after_role_policy(self.transform, self.role)
        self.transform.node.add_dependency(table.resource)


def _allow_glue_metrics(role: iam.Role) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="GlueJobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
        )
    )
    acknowledge_wildcards(
        role,
        "cloudwatch:PutMetricData has no resource-level scoping; a condition limits it to "
        "the Glue namespace.",
        resources=["*"],
    )

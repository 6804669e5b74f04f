"""The Glue Data Catalog of the lake: databases per zone, CSV tables and crawlers."""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.policies import grant_to_principal
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.glue._common import _after_role_policy, _glue_role, _keep_logical_id
from mlops_constructs.glue.props import Column
from mlops_constructs.glue.security import GlueSecurityConfiguration
from mlops_constructs.lake.interfaces import IDataLake


class LakeCatalog(Construct):
    """Makes one Glue Data Catalog database per zone of a lake (a :class:`DataLake` or one
    imported with ``DataLake.from_lake_attributes``).

    Database names are ``<database_prefix>_<zone>`` (``-`` becomes ``_``), e.g.
    ``mlops_platform_dev_raw``: Glue requires names, and they must be unique per account
    and region, so the prefix should name the project and environment. Each is an
    ``aws_glue.Database`` (:meth:`database`), deleted with the stack (the tables' data stays
    in the lake's buckets).
    """

    def __init__(self, scope: Construct, id: str, *, lake: IDataLake, database_prefix: str) -> None:
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
        self._databases: dict[str, glue.Database] = {}
        for zone in lake.zones:
            id = zone.capitalize() + "Database"
            database = glue.Database(
                self,
                id,
                database_name=f"{prefix}_{zone.replace('-', '_')}",
                description=f"Tables of the {zone} zone ({lake.bucket(zone).bucket_name})",
                # The L2 retains by default; these never were. A retained database keeps its
                # fixed name, so the re-created stack could not create it again; it holds
                # only table definitions, which the stack re-creates.
                removal_policy=RemovalPolicy.DESTROY,
            )
            resource = database.node.default_child
            assert isinstance(resource, glue.CfnDatabase)
            _keep_logical_id(resource, scope=self, id=id)
            self._databases[zone] = database

    def database(self, zone: str) -> glue.IDatabase:
        """The database of ``zone``, for aws-cdk-lib's Glue constructs."""
        if zone not in self._databases:
            raise KeyError(f"no database for zone {zone!r}; zones are {list(self._databases)}")
        return self._databases[zone]

    def database_name(self, zone: str) -> str:
        """The database of ``zone`` (resolves to its name; depends on the database)."""
        return self.database(zone).database_name

    def database_arn(self, zone: str) -> str:
        return self.database(zone).database_arn

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
        return grant_to_principal(
            self,
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
        grant = grant_to_principal(
            self,
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
        # L1: aws-cdk-lib's S3Table renders a table of its own shape (and grants on the
        # bucket); this one's properties are what the jobs and FindMatches were built against.
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
        lake: IDataLake,
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

        # L1: aws-cdk-lib has no Glue crawler construct.
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

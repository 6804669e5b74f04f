"""Data processing of one environment: Glue catalog, crawlers, ETL, FindMatches, DataBrew."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from constructs import Construct

from mlops_constructs import DataLake, Network, PlatformKeys
from mlops_constructs.databrew import DataBrewPipeline, RecipeStep
from mlops_constructs.glue import (
    CsvTable,
    EtlWorkflow,
    FeatureEtlJob,
    FindMatchesTransform,
    GlueNetworkConnection,
    GlueSecurityConfiguration,
    LakeCatalog,
    ZoneCrawler,
)
from stacks.base import PlatformStack
from stacks.config import DatasetConfig, EnvironmentConfig


class DataStack(PlatformStack):
    """Catalog databases per zone, and for each configured dataset: its raw table, crawlers,
    the feature ETL job chained in a workflow, and optionally FindMatches and DataBrew."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        keys: PlatformKeys,
        lake: DataLake,
        network: Network,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, config=config, **kwargs)
        self.lake = lake
        self.catalog = LakeCatalog(
            self,
            "Catalog",
            lake=lake,
            database_prefix=f"{config.resource_prefix}_{config.name}",
        )
        self.security_configuration = GlueSecurityConfiguration(
            self, "GlueSecurity", data_key=keys.data_lake_key, logs_key=keys.logs_key
        )
        self.connection = GlueNetworkConnection(
            self,
            "GlueNetwork",
            vpc=network.vpc,
            subnets=network.subnet_selection,
            security_group=network.workload_security_group,
        )
        glue_cfg = config.data.glue
        self.analytics_crawler = None
        if "analytics" in lake.zones:
            self.analytics_crawler = ZoneCrawler(
                self,
                "AnalyticsCrawler",
                lake=lake,
                catalog=self.catalog,
                zone="analytics",
                prefixes=[""],  # the whole zone
                security_configuration=self.security_configuration,
                schedule=glue_cfg.crawler_schedule,
                update_behavior=glue_cfg.update_behavior,
                delete_behavior=glue_cfg.delete_behavior,
            )
        self.datasets = {ds.name: self._dataset(ds, config) for ds in config.data.datasets}

    def _dataset(self, ds: DatasetConfig, config: EnvironmentConfig) -> dict[str, Construct]:
        glue_cfg = config.data.glue
        scope = Construct(self, ds.name.replace("_", "-"))
        table = CsvTable(
            scope,
            "RawTable",
            catalog=self.catalog,
            zone=ds.source_zone,
            table_name=ds.name,
            prefix=ds.prefix,
            columns=ds.columns,
            delimiter=ds.csv_delimiter,
        )
        source_crawler = ZoneCrawler(
            scope,
            "SourceCrawler",
            lake=self.lake,
            catalog=self.catalog,
            zone=ds.source_zone,
            catalog_table=table,
            security_configuration=self.security_configuration,
        )
        job = FeatureEtlJob(
            scope,
            "FeatureEtl",
            lake=self.lake,
            catalog=self.catalog,
            source_table=table,
            target_zone=ds.target_zone,
            target_prefix=ds.prefix,
            feature_spec=ds.features.spec,
            security_configuration=self.security_configuration,
            connection=self.connection,
            glue_version=glue_cfg.glue_version,
            worker_type=glue_cfg.worker_type,
            number_of_workers=glue_cfg.number_of_workers,
            timeout=Duration.minutes(glue_cfg.timeout_minutes),
            max_retries=glue_cfg.max_retries,
        )
        target_crawler = ZoneCrawler(
            scope,
            "TargetCrawler",
            lake=self.lake,
            catalog=self.catalog,
            zone=ds.target_zone,
            prefixes=[ds.prefix],
            security_configuration=self.security_configuration,
            update_behavior=glue_cfg.update_behavior,
            delete_behavior=glue_cfg.delete_behavior,
        )
        made: dict[str, Construct] = {
            "table": table,
            "job": job,
            "workflow": EtlWorkflow(
                scope,
                "Workflow",
                source_crawler=source_crawler,
                job=job,
                target_crawler=target_crawler,
                schedule=glue_cfg.workflow_schedule,
            ),
        }
        if ds.find_matches is not None:
            fm = ds.find_matches
            made["find_matches"] = FindMatchesTransform(
                scope,
                "FindMatches",
                lake=self.lake,
                catalog=self.catalog,
                table=table,
                primary_key=fm.primary_key,
                security_configuration=self.security_configuration,
                precision_recall_tradeoff=fm.precision_recall_tradeoff,
                accuracy_cost_tradeoff=fm.accuracy_cost_tradeoff,
                enforce_provided_labels=fm.enforce_provided_labels,
                worker_type=fm.worker_type,
                number_of_workers=fm.number_of_workers,
                timeout=Duration.minutes(fm.timeout_minutes),
                glue_version=fm.glue_version,
            )
        if ds.databrew is not None:
            made["databrew"] = self._databrew(scope, ds, config)
        return made

    def _databrew(
        self, scope: Construct, ds: DatasetConfig, config: EnvironmentConfig
    ) -> DataBrewPipeline:
        brew = ds.databrew
        assert brew is not None
        return DataBrewPipeline(
            scope,
            "DataBrew",
            lake=self.lake,
            name_prefix=f"{config.resource_prefix}-{config.name}-{ds.name.replace('_', '-')}",
            source_zone=ds.source_zone,
            source_prefix=ds.prefix,
            target_zone=ds.target_zone,
            target_prefix=f"databrew/{ds.prefix}",
            report_prefix=f"databrew-reports/{ds.prefix}",
            steps=recipe_steps(ds),
            rules=brew.quality.quality_rules(),
            csv_delimiter=ds.csv_delimiter,
            schedule=brew.schedule,
            max_capacity=brew.max_capacity,
            timeout=Duration.minutes(brew.timeout_minutes),
        )


def recipe_steps(ds: DatasetConfig) -> list[RecipeStep]:
    """The DataBrew recipe of ``ds``: its missing-value filling, then the feature steps of the
    ETL job (``glue/runtime/feature_etl.py``) in the job's order, so both paths make the
    same features: split, one-hot encoding, ln(1 + x), and the dropped columns last."""
    assert ds.databrew is not None
    f = ds.features
    steps = [m.recipe_step() for m in ds.databrew.fill_missing]
    if f.split is not None:
        steps.append(RecipeStep.split_column(f.split.column, f.split.delimiter, len(f.split.into)))
    steps.append(RecipeStep.one_hot_encode(f.one_hot.column))
    steps += RecipeStep.log1p(f.log_transform.column, f"{f.log_transform.column}_log")
    steps += [RecipeStep.delete_column(c) for c in f.drop_columns]
    return steps

"""Glue: catalog databases, security configuration, tables, crawlers, ETL jobs, FindMatches.

The feature ETL job's script is ``runtime/feature_etl.py``."""

from mlops_constructs.glue.catalog import CsvTable, LakeCatalog, ZoneCrawler
from mlops_constructs.glue.find_matches import FindMatchesTransform
from mlops_constructs.glue.jobs import EtlWorkflow, FeatureEtlJob
from mlops_constructs.glue.props import GLUE_END_OF_LIFE, ML_TRANSFORM_GLUE_VERSIONS, Column
from mlops_constructs.glue.security import GlueNetworkConnection, GlueSecurityConfiguration

__all__ = [
    "GLUE_END_OF_LIFE",
    "ML_TRANSFORM_GLUE_VERSIONS",
    "Column",
    "CsvTable",
    "EtlWorkflow",
    "FeatureEtlJob",
    "FindMatchesTransform",
    "GlueNetworkConnection",
    "GlueSecurityConfiguration",
    "LakeCatalog",
    "ZoneCrawler",
]

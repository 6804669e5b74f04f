"""Glue DataBrew: datasets, recipes, recipe and profile jobs, data quality rules."""

from mlops_constructs.databrew.pipeline import DataBrewPipeline
from mlops_constructs.databrew.props import (
    FillMissing,
    QualityChecks,
    QualityRule,
    RecipeStep,
    ValueRange,
)

__all__ = [
    "DataBrewPipeline",
    "FillMissing",
    "QualityChecks",
    "QualityRule",
    "RecipeStep",
    "ValueRange",
]

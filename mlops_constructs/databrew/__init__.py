"""Glue DataBrew: datasets, recipes, recipe and profile jobs, data quality rules."""

from mlops_constructs.databrew.pipeline import DataBrewPipeline
from mlops_constructs.databrew.props import QualityRule, RecipeStep

__all__ = [
    "DataBrewPipeline",
    "QualityRule",
    "RecipeStep",
]

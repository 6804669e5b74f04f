"""The data section of the config: FindMatches only on a Glue version it runs on and that is
still alive, columns dropped from the curated zone, and DataBrew settings that are the
construct's own types."""

from __future__ import annotations

import copy
from typing import Any

from mlops_constructs.databrew import FillMissing, QualityChecks, ValueRange
from stacks.config import (
    ENVIRONMENTS_CONTEXT_KEY,
    FillMissingConfig,
    QualityConfig,
    RangeRuleConfig,
    load_config,
)
from tests.helpers import config_problems


def _dataset(ctx: dict[str, Any], env: str = "dev") -> dict[str, Any]:
    return ctx[ENVIRONMENTS_CONTEXT_KEY][env]["data"]["datasets"][0]


def test_find_matches_is_refused_while_its_only_glue_version_is_end_of_life(base_context):
    ctx = copy.deepcopy(base_context)
    _dataset(ctx)["find_matches"] = {"primary_key": "customer_id"}
    (problem,) = config_problems(ctx)
    assert problem.startswith("environment 'dev', field 'data.datasets.0.find_matches': ")
    assert "runs only on Glue 2.0, which reached end of life on 2026-04-01" in problem


def test_find_matches_glue_version_must_be_one_ml_transforms_run_on(base_context):
    ctx = copy.deepcopy(base_context)
    _dataset(ctx, "prod")["find_matches"] = {"primary_key": "customer_id", "glue_version": "5.0"}
    (problem,) = config_problems(ctx)
    assert "field 'data.datasets.0.find_matches.glue_version': got '5.0'" in problem
    assert "the Glue versions FindMatches ML transforms run on" in problem


def test_shipped_config_has_no_find_matches_and_no_personal_names_in_curated(base_context):
    config = load_config(base_context)
    for env in config.environments:
        for ds in env.data.datasets:
            assert ds.find_matches is None
            assert not {"full_name", "first_name", "last_name"} & set(ds.curated_columns)
            assert "customer_id" in ds.curated_columns


def test_drop_columns_must_exist_and_keep_partitions(base_context):
    ctx = copy.deepcopy(base_context)
    _dataset(ctx)["features"]["drop_columns"] = ["full_name", "nickname", "country"]
    found = config_problems(ctx)
    at = "environment 'dev', field 'data.datasets.0.features"
    assert any(
        f"{at}.drop_columns': got 'nickname'; expected a column the feature" in p for p in found
    )
    # The Glue job's own parser: the partition column is gone once drop_columns has run.
    assert any(
        f"{at}.partition_by.0': got 'country'; expected a column that still exists; "
        "drop_columns drops it" in p
        for p in found
    )
    assert len(found) == 2, found


def test_drop_columns_are_named_once(base_context):
    ctx = copy.deepcopy(base_context)
    _dataset(ctx)["features"]["drop_columns"] = ["full_name", "full_name"]
    (problem,) = config_problems(ctx)
    assert problem == (
        "environment 'dev', field 'data.datasets.0.features.drop_columns': got "
        "['full_name', 'full_name']; expected distinct values; repeated: [\"full_name\"]"
    )


def test_training_cannot_read_a_dropped_column(base_context):
    ctx = copy.deepcopy(base_context)
    _dataset(ctx)["features"]["drop_columns"] = ["full_name", "annual_spend_log"]
    (problem,) = config_problems(ctx)
    assert "field 'training.0.label_column': got 'annual_spend_log'; expected a curated" in problem


def test_databrew_cannot_drop_split_outputs_it_names_otherwise(base_context):
    ctx = copy.deepcopy(base_context)
    features = _dataset(ctx)["features"]
    features["split"] = {"column": "full_name", "delimiter": " ", "into": ["first", "last"]}
    features["drop_columns"] = ["first", "last"]
    found = config_problems(ctx)
    assert len(found) == 2 and all("expected no split output with databrew" in p for p in found)
    del _dataset(ctx)["databrew"]
    load_config(ctx)  # the ETL alone names them as configured


def test_databrew_settings_are_the_constructs_types(base_context):
    brew = load_config(base_context).environment("dev").data.datasets[0].databrew
    assert brew is not None
    assert all(isinstance(m, FillMissing) for m in brew.fill_missing)
    assert isinstance(brew.quality, QualityChecks)
    assert all(isinstance(r, ValueRange) for r in brew.quality.ranges)
    assert FillMissingConfig is FillMissing and QualityConfig is QualityChecks
    assert RangeRuleConfig is ValueRange


def test_databrew_settings_problems_name_the_field(base_context):
    ctx = copy.deepcopy(base_context)
    brew = _dataset(ctx)["databrew"]
    brew["fill_missing"] = [{"column": "annual_spend", "strategy": "median", "value": "0"}]
    brew["quality"]["max_missing_percent"] = 101
    brew["quality"]["ranges"] = [{"column": "annual_spend", "min": 5, "max": 1}]
    at = "environment 'dev', field 'data.datasets.0.databrew"
    assert sorted(config_problems(ctx)) == [
        f"{at}.fill_missing.0': give 'value' exactly when strategy is 'custom'",
        f"{at}.quality.max_missing_percent': got 101; Input should be less than or equal to 100",
        f"{at}.quality.ranges.0': min (5.0) is greater than max (1.0)",
    ]

"""The DataBrew settings types: each declares its bounds and cross-field rule once, and makes
the recipe step or quality rules the construct takes (the app's config embeds the same types)."""

from __future__ import annotations

from typing import get_args

import pytest
from aws_cdk import CfnParameter, Stack
from pydantic import ValidationError

from mlops_constructs.databrew import (
    FillMissing,
    QualityChecks,
    QualityRule,
    RecipeStep,
    ValueRange,
)
from mlops_constructs.databrew.props import FILL_OPERATIONS, FillStrategy


@pytest.mark.parametrize(
    ("strategy", "operation"),
    [
        ("mean", "FILL_WITH_AVERAGE"),
        ("median", "FILL_WITH_MEDIAN"),
        ("most_frequent", "FILL_WITH_MOST_FREQUENT"),
    ],
)
def test_each_strategy_is_its_databrew_action(strategy, operation):
    step = FillMissing(column="age", strategy=strategy).recipe_step()
    assert step == RecipeStep(operation, {"sourceColumn": "age"})


def test_every_strategy_has_an_action():
    assert set(FILL_OPERATIONS) == set(get_args(FillStrategy))


def test_custom_fills_its_value_as_a_string():
    step = FillMissing(column="segment", strategy="custom", value="consumer").recipe_step()
    assert step == RecipeStep(
        "FILL_WITH_CUSTOM",
        {"sourceColumn": "segment", "columnDataType": "string", "value": "consumer"},
    )


def test_mean_is_the_default_strategy():
    assert FillMissing(column="age").recipe_step().operation == "FILL_WITH_AVERAGE"


@pytest.mark.parametrize(
    "kwargs",
    [{"strategy": "custom"}, {"strategy": "median", "value": "0"}],
)
def test_a_value_is_given_exactly_for_custom(kwargs):
    with pytest.raises(ValidationError, match="give 'value' exactly when strategy is 'custom'"):
        FillMissing(column="x", **kwargs)


def test_unknown_strategies_and_fields_are_refused():
    with pytest.raises(ValidationError, match="'mean', 'median', 'most_frequent' or 'custom'"):
        FillMissing(column="x", strategy="average")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="column"):
        FillMissing(column="")
    with pytest.raises(ValidationError, match="Unexpected keyword argument"):
        FillMissing(column="x", fill="mean")  # type: ignore[call-arg]


def test_the_step_factory_is_the_settings_type():
    assert (
        RecipeStep.fill_missing("segment", "custom", "consumer")
        == FillMissing(column="segment", strategy="custom", value="consumer").recipe_step()
    )
    with pytest.raises(ValidationError, match="give 'value' exactly"):
        RecipeStep.fill_missing("x", "custom")
    with pytest.raises(ValidationError, match="most_frequent"):
        RecipeStep.fill_missing("x", "average")  # type: ignore[arg-type]


def test_a_range_is_a_between_rule_with_plain_numbers():
    rule = ValueRange(column="annual_spend", min=0, max=2.5).quality_rule()
    assert rule == QualityRule(
        name="annual_spend-in-range",
        check_expression=":col1 IS_BETWEEN :val1 AND :val2",
        substitutions={":col1": "`annual_spend`", ":val1": "0", ":val2": "2.5"},
    )
    assert QualityRule.value_range("annual_spend", 0, 2.5) == rule


def test_a_range_needs_min_at_most_max():
    assert ValueRange(column="x", min=3, max=3).quality_rule().substitutions[":val2"] == "3"
    with pytest.raises(ValidationError, match=r"min \(5.0\) is greater than max \(1.0\)"):
        ValueRange(column="x", min=5, max=1)
    with pytest.raises(ValidationError, match="greater than max"):
        QualityRule.value_range("x", 5, 1)


def test_range_bounds_may_be_parameters_known_at_deploy_time():
    stack = Stack()
    low = CfnParameter(stack, "Low", type="Number").value_as_number
    high = CfnParameter(stack, "High", type="Number").value_as_number
    rule = ValueRange(column="x", min=high, max=low).quality_rule()  # not compared at synth
    resolved = stack.resolve(rule.substitutions)
    assert resolved[":val1"] == {"Ref": "High"} and resolved[":val2"] == {"Ref": "Low"}


def test_quality_checks_make_completeness_then_ranges_then_has_rows():
    checks = QualityChecks(
        complete_columns=["customer_id", "country"],
        max_missing_percent=1.5,
        ranges=[{"column": "age", "min": 0, "max": 120}],  # type: ignore[list-item]
    )
    rules = checks.quality_rules()
    assert [r.name for r in rules] == [
        "customer_id-complete",
        "country-complete",
        "age-in-range",
        "has-rows",
    ]
    assert rules[0] == QualityRule(
        name="customer_id-complete",
        check_expression="AGG(MISSING_VALUES_PERCENTAGE) <= :val1",
        substitutions={":val1": "1.5"},
        columns=("customer_id",),
    )
    assert rules[-1] == QualityRule.has_rows()
    assert QualityRule.completeness("customer_id", 1.5) == rules[0]


def test_quality_check_defaults():
    checks = QualityChecks(complete_columns=["id"])
    assert checks.max_missing_percent == 0 and tuple(checks.ranges) == ()
    assert checks.quality_rules()[0].substitutions == {":val1": "0"}


@pytest.mark.parametrize("percent", [-1, 100.5])
def test_missing_percent_is_a_percentage(percent):
    with pytest.raises(ValidationError, match="max_missing_percent"):
        QualityChecks(complete_columns=["id"], max_missing_percent=percent)
    with pytest.raises(ValidationError, match="max_missing_percent"):
        QualityRule.completeness("id", percent)


def test_quality_checks_need_a_complete_column():
    with pytest.raises(ValidationError, match="complete_columns"):
        QualityChecks(complete_columns=[])

"""The two feature paths of the shipped config, on the same rows: the Glue ETL job (run on a
local Spark session) and the DataBrew recipe the Data stack publishes (run by a tiny evaluator
of the recipe actions we emit). They must make the same ln(1 + x), and the curated zone must
carry no personal names."""

from __future__ import annotations

import math
from collections import Counter
from statistics import median
from typing import Any

import pytest
from pyspark.sql import SparkSession

from mlops_constructs.databrew.props import RecipeStep
from mlops_constructs.glue.runtime.feature_etl import parse_spec, transform
from stacks.app_factory import default_context
from stacks.config import load_config
from stacks.data_stack import recipe_steps

RAW_COLUMNS = ["customer_id", "full_name", "segment", "annual_spend", "country", "updated_at"]
#: One row per customer (the recipe has no de-duplication step), as a CSV reader gives them.
RAW_ROWS = [
    ("1", "Ada Lovelace", "consumer", "0", "GB", "2024-01-01T00:00:00Z"),
    ("2", "Grace Hopper", "corporate", "1", "US", "2024-01-02T00:00:00Z"),
    ("3", "Linus Torvalds", "home office", "1.718281828459045", "FI", "2024-01-03T00:00:00Z"),
    ("4", "Margaret Hamilton", "consumer", "125000.5", "US", "2024-01-04T00:00:00Z"),
    ("5", "Alan Turing", "corporate", "0.25", "GB", "2024-01-05T00:00:00Z"),
]
PERSONAL = {"full_name", "first_name", "last_name"}


@pytest.fixture(scope="module", params=["dev", "staging", "prod"])
def dataset(request: pytest.FixtureRequest) -> Any:
    return load_config(default_context()).environment(request.param).data.datasets[0]


@pytest.fixture(scope="module")
def etl(spark: SparkSession, dataset: Any) -> list[dict[str, Any]]:
    spec = parse_spec(dataset.features.model_dump(mode="json"))
    df = transform(spark.createDataFrame(RAW_ROWS, RAW_COLUMNS), spec)
    return [row.asDict() for row in df.orderBy("customer_id").collect()]


# --------------------------------------------------------------------------------------------
# A tiny evaluator of the DataBrew recipe actions the platform emits (and no others), following
# the recipe step reference: rows are dicts of the CSV's text values.
# --------------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def _ln(value: float | None) -> float | None:
    if value is None:
        return None
    if value == 0:
        return -math.inf
    return math.log(value) if value > 0 else math.nan


def _fill_value(op: str, parameters: dict[str, str], present: list[Any]) -> Any:
    if op == "FILL_WITH_CUSTOM":
        return parameters["value"]
    if op == "FILL_WITH_MEDIAN":
        return median(float(v) for v in present)
    if op == "FILL_WITH_AVERAGE":
        return sum(float(v) for v in present) / len(present)
    assert op == "FILL_WITH_MOST_FREQUENT", op
    return Counter(present).most_common(1)[0][0]


def run_recipe(steps: list[RecipeStep], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [dict(r) for r in rows]
    for step in steps:
        p = dict(step.parameters)
        op = step.operation
        if op.startswith("FILL_WITH_"):
            column = p["sourceColumn"]
            present = [r[column] for r in rows if r[column] not in (None, "")]
            fill = _fill_value(op, p, present)
            for r in rows:
                if r[column] in (None, ""):
                    r[column] = fill
        elif op == "SPLIT_COLUMN_SINGLE_DELIMITER":
            column, parts = p["sourceColumn"], int(p["limit"]) + 1
            for r in rows:
                pieces = (r.pop(column) or "").split(p["pattern"], parts - 1)
                for i in range(parts):
                    r[f"{column}_{i + 1}"] = pieces[i] if i < len(pieces) else None
        elif op == "ONE_HOT_ENCODING":
            column = p["sourceColumn"]
            values = sorted({r[column] for r in rows})
            for r in rows:
                value = r.pop(column)
                for v in values:
                    r[f"{column}_{v}"] = int(value == v)
        elif op == "ADD":
            for r in rows:
                a = _number(r[p["sourceColumn1"]])
                b = _number(r[p["sourceColumn2"]]) if "sourceColumn2" in p else float(p["value1"])
                r[p["targetColumn"]] = None if a is None or b is None else a + b
        elif op == "LN":
            for r in rows:
                r[p["targetColumn"]] = _ln(_number(r[p["sourceColumn"]]))
        elif op == "DELETE":
            for r in rows:
                del r[p["sourceColumn"]]
        else:
            raise AssertionError(f"the evaluator does not know {op}: add it from the reference")
    return rows


def test_the_evaluator_knows_ln_of_zero_is_minus_infinity() -> None:
    # The defect this file guards against: LN straight on a zero spend.
    rows = run_recipe([RecipeStep("LN", {"sourceColumn": "x", "targetColumn": "y"})], [{"x": "0"}])
    assert rows == [{"x": "0", "y": -math.inf}]


# --------------------------------------------------------------------------------------------
# The two paths agree
# --------------------------------------------------------------------------------------------


def test_databrew_and_etl_compute_the_same_log_feature_on_the_same_rows(
    dataset: Any, etl: list[dict[str, Any]]
) -> None:
    raw = [dict(zip(RAW_COLUMNS, row, strict=True)) for row in RAW_ROWS]
    brewed = run_recipe(recipe_steps(dataset), raw)
    log = f"{dataset.features.log_transform.column}_log"
    etl_values = {r["customer_id"]: r[log] for r in etl}
    brew_values = {r["customer_id"]: r[log] for r in brewed}
    assert set(etl_values) == set(brew_values) == {r[0] for r in RAW_ROWS}
    for customer, value in etl_values.items():
        assert math.isfinite(brew_values[customer]), (customer, brew_values[customer])
        assert brew_values[customer] == pytest.approx(value, rel=1e-12, abs=1e-12), customer
    assert etl_values["1"] == 0.0  # a zero spend is ln(1) = 0 on both paths


def test_databrew_output_carries_no_personal_names(dataset: Any) -> None:
    raw = [dict(zip(RAW_COLUMNS, row, strict=True)) for row in RAW_ROWS]
    brewed = run_recipe(recipe_steps(dataset), raw)
    names = {row[1] for row in RAW_ROWS} | {p for row in RAW_ROWS for p in row[1].split()}
    for row in brewed:
        assert not PERSONAL & set(row), row
        assert not names & {v for v in row.values() if isinstance(v, str)}, row


# --------------------------------------------------------------------------------------------
# The curated zone: what training needs, no personal names
# --------------------------------------------------------------------------------------------


def test_etl_writes_exactly_the_curated_columns_and_no_personal_names(
    dataset: Any, etl: list[dict[str, Any]]
) -> None:
    columns = list(etl[0])
    assert columns == dataset.curated_columns
    assert not PERSONAL & set(columns)
    names = {row[1] for row in RAW_ROWS} | {p for row in RAW_ROWS for p in row[1].split()}
    for row in etl:
        assert not names & {v for v in row.values() if isinstance(v, str)}, row


def test_etl_output_keeps_what_training_reads(dataset: Any, etl: list[dict[str, Any]]) -> None:
    config = load_config(default_context())
    columns = set(etl[0])
    for env in config.environments:
        for t in env.training:
            assert {t.key_column, t.label_column, *t.feature_columns} <= columns
    assert {"customer_id", "annual_spend_log"} <= columns
    assert {c for c in columns if c.startswith("segment_")} == {
        "segment_consumer",
        "segment_corporate",
        "segment_home_office",
    }
    by_id = {r["customer_id"]: r for r in etl}
    assert by_id["3"]["segment_home_office"] == 1 and by_id["3"]["annual_spend_log"] == (
        pytest.approx(1.0)
    )

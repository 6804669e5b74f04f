"""DataBrew settings: recipe steps and data quality rules."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\- ]{0,199}$")
_PARAM_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
_OPERATION_RE = re.compile(r"^[A-Z_]{1,128}$")
_FILL_OPERATIONS = {
    "mean": "FILL_WITH_AVERAGE",
    "median": "FILL_WITH_MEDIAN",
    "most_frequent": "FILL_WITH_MOST_FREQUENT",
    "custom": "FILL_WITH_CUSTOM",
}


@dataclass(frozen=True)
class RecipeStep:
    """One DataBrew recipe action: an operation and its (camelCase, string) parameters."""

    operation: str
    parameters: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def fill_missing(column: str, strategy: str, value: str | None = None) -> RecipeStep:
        """Fill missing values of ``column``: ``mean``, ``median``, ``most_frequent`` or
        ``custom`` (with ``value``)."""
        if strategy not in _FILL_OPERATIONS:
            raise ValueError(f"strategy {strategy!r}: expected one of {sorted(_FILL_OPERATIONS)}")
        params = {"sourceColumn": column}
        if strategy == "custom":
            if value is None:
                raise ValueError("strategy 'custom' needs a value")
            params |= {"columnDataType": "string", "value": value}
        return RecipeStep(_FILL_OPERATIONS[strategy], params)

    @staticmethod
    def split_column(column: str, delimiter: str, parts: int) -> RecipeStep:
        """Split ``column`` on a literal ``delimiter`` into ``parts`` columns."""
        return RecipeStep(
            "SPLIT_COLUMN_SINGLE_DELIMITER",
            {
                "sourceColumn": column,
                "pattern": delimiter,
                "limit": str(parts - 1),
                "includeInSplit": "false",
            },
        )

    @staticmethod
    def one_hot_encode(column: str) -> RecipeStep:
        """One 0/1 column per distinct value of ``column`` (DataBrew allows up to 10)."""
        return RecipeStep("ONE_HOT_ENCODING", {"sourceColumn": column})

    @staticmethod
    def log1p(column: str, target: str) -> tuple[RecipeStep, RecipeStep, RecipeStep]:
        """``target`` = ln(1 + ``column``), as the feature ETL job computes it (ln(0) would be
        -inf for a zero): ``ADD`` 1 into a scratch column, ``LN`` of it, ``DELETE`` it."""
        # Actions and parameters from the DataBrew recipe step reference: ADD
        # (recipe-actions.functions.ADD: sourceColumn1 + value1), LN
        # (recipe-actions.functions.LN) and DELETE (recipe-actions.DELETE).
        scratch = f"{target}_1p"
        return (
            RecipeStep("ADD", {"sourceColumn1": column, "value1": "1", "targetColumn": scratch}),
            RecipeStep("LN", {"sourceColumn": scratch, "targetColumn": target}),
            RecipeStep.delete_column(scratch),
        )

    @staticmethod
    def delete_column(column: str) -> RecipeStep:
        """Removes ``column`` from the output."""
        return RecipeStep("DELETE", {"sourceColumn": column})


@dataclass(frozen=True)
class QualityRule:
    """A DataBrew data-quality rule, checked by the profile job."""

    name: str
    check_expression: str
    substitutions: Mapping[str, str] = field(default_factory=dict)
    columns: Sequence[str] = ()

    @staticmethod
    def completeness(column: str, max_missing_percent: float = 0.0) -> QualityRule:
        """At most ``max_missing_percent`` of ``column``'s values may be missing."""
        return QualityRule(
            name=f"{column}-complete",
            check_expression="AGG(MISSING_VALUES_PERCENTAGE) <= :val1",
            substitutions={":val1": _number(max_missing_percent)},
            columns=(column,),
        )

    @staticmethod
    def value_range(column: str, minimum: float, maximum: float) -> QualityRule:
        """Every value of ``column`` lies between ``minimum`` and ``maximum``."""
        return QualityRule(
            name=f"{column}-in-range",
            check_expression=":col1 IS_BETWEEN :val1 AND :val2",
            substitutions={
                ":col1": f"`{column}`",
                ":val1": _number(minimum),
                ":val2": _number(maximum),
            },
        )

    @staticmethod
    def has_rows() -> QualityRule:
        """The dataset is not empty."""
        return QualityRule(
            name="has-rows",
            check_expression="AGG(ROWS_COUNT) > :val1",
            substitutions={":val1": "0"},
        )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)

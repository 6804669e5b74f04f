"""DataBrew settings: recipe steps and data-quality rules (what the construct takes), and
the settings types the app's config embeds, which make them: :class:`FillMissing` (a recipe
step), :class:`ValueRange` and :class:`QualityChecks` (quality rules)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from aws_cdk import Token
from pydantic import Field, model_validator

from mlops_constructs.core.props import resolved, settings

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\- ]{0,199}$")
_PARAM_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
_OPERATION_RE = re.compile(r"^[A-Z_]{1,128}$")

#: How :class:`FillMissing` fills a column's missing values.
FillStrategy = Literal["mean", "median", "most_frequent", "custom"]
#: The DataBrew recipe action of each strategy: the DataBrew Developer Guide's "Data quality
#: recipe steps" (recipe-actions.data-quality), pages recipe-actions.FILL_WITH_AVERAGE,
#: .FILL_WITH_MEDIAN, .FILL_WITH_MOST_FREQUENT (each takes ``sourceColumn``) and
#: .FILL_WITH_CUSTOM (also ``columnDataType`` and ``value``).
FILL_OPERATIONS: Mapping[FillStrategy, str] = {
    "mean": "FILL_WITH_AVERAGE",
    "median": "FILL_WITH_MEDIAN",
    "most_frequent": "FILL_WITH_MOST_FREQUENT",
    "custom": "FILL_WITH_CUSTOM",
}

#: A column name (not empty).
ColumnName = Annotated[str, Field(min_length=1)]


@dataclass(frozen=True)
class RecipeStep:
    """One DataBrew recipe action: an operation and its (camelCase, string) parameters."""

    operation: str
    parameters: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def fill_missing(column: str, strategy: FillStrategy, value: str | None = None) -> RecipeStep:
        """Fill missing values of ``column``: ``mean``, ``median``, ``most_frequent`` or
        ``custom`` (with ``value``, given for ``custom`` only); checked as
        :class:`FillMissing` (its ``ValidationError`` otherwise)."""
        return FillMissing(column=column, strategy=strategy, value=value).recipe_step()

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
        """At most ``max_missing_percent`` (0-100, 0 by default) of ``column``'s values may
        be missing; checked as :class:`QualityChecks` (its ``ValidationError`` otherwise)."""
        checks = QualityChecks(complete_columns=(column,), max_missing_percent=max_missing_percent)
        (rule,) = checks.completeness_rules()
        return rule

    @staticmethod
    def value_range(column: str, minimum: float, maximum: float) -> QualityRule:
        """Every value of ``column`` lies between ``minimum`` and ``maximum`` (at most
        ``maximum``); checked as :class:`ValueRange` (its ``ValidationError`` otherwise)."""
        return ValueRange(column=column, min=minimum, max=maximum).quality_rule()

    @staticmethod
    def has_rows() -> QualityRule:
        """The dataset is not empty."""
        return QualityRule(
            name="has-rows",
            check_expression="AGG(ROWS_COUNT) > :val1",
            substitutions={":val1": "0"},
        )


def _number(value: float) -> str:
    if not resolved(value):
        # A number token (a CloudFormation parameter) goes into the rule as it resolves.
        return Token.as_string(value)
    return str(int(value)) if float(value).is_integer() else str(value)


@settings
class FillMissing:
    """Fill the missing values of ``column`` with its mean, median or most frequent value,
    or with a custom ``value`` (as a string); one recipe step (:meth:`recipe_step`, the
    DataBrew action of :data:`FILL_OPERATIONS`)."""

    column: ColumnName
    """The column to fill (required)."""
    strategy: FillStrategy = "mean"
    """``mean``, ``median``, ``most_frequent`` or ``custom``; ``mean`` by default."""
    value: str | None = None
    """The value filled in, given exactly when ``strategy`` is ``custom``; none by default."""

    @model_validator(mode="after")
    def _value(self) -> FillMissing:
        # A value with another strategy would be ignored: refused rather than dropped.
        if (self.strategy == "custom") != (self.value is not None):
            raise ValueError("give 'value' exactly when strategy is 'custom'")
        return self

    def recipe_step(self) -> RecipeStep:
        """The DataBrew recipe step that fills the column."""
        params = {"sourceColumn": self.column}
        if self.value is not None:
            params |= {"columnDataType": "string", "value": self.value}
        return RecipeStep(FILL_OPERATIONS[self.strategy], params)


@settings
class ValueRange:
    """Every value of ``column`` lies between ``min`` and ``max`` (both included): one
    quality rule (:meth:`quality_rule`)."""

    column: ColumnName
    """The column checked (required)."""
    min: float
    """The lowest value allowed (required)."""
    max: float
    """The highest value allowed, at least ``min`` (required)."""

    @model_validator(mode="after")
    def _order(self) -> ValueRange:
        if resolved(self.min, self.max) and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def quality_rule(self) -> QualityRule:
        """The DataBrew rule ``<column>-in-range``."""
        return QualityRule(
            name=f"{self.column}-in-range",
            check_expression=":col1 IS_BETWEEN :val1 AND :val2",
            substitutions={
                ":col1": f"`{self.column}`",
                ":val1": _number(self.min),
                ":val2": _number(self.max),
            },
        )


@settings
class QualityChecks:
    """What the profile job checks (:meth:`quality_rules`): at most ``max_missing_percent``
    of the values of each of ``complete_columns`` missing, every range of ``ranges``, and
    that the dataset has rows."""

    complete_columns: Annotated[Sequence[ColumnName], Field(min_length=1)]
    """The columns whose missing values are bounded (at least one; required)."""
    max_missing_percent: float = Field(default=0.0, ge=0, le=100)
    """Percent of the values of each complete column that may be missing, 0-100; 0 by
    default."""
    ranges: Sequence[ValueRange] = ()
    """Value ranges of columns; none by default."""

    def completeness_rules(self) -> list[QualityRule]:
        """One rule ``<column>-complete`` per complete column, in order."""
        return [
            QualityRule(
                name=f"{column}-complete",
                check_expression="AGG(MISSING_VALUES_PERCENTAGE) <= :val1",
                substitutions={":val1": _number(self.max_missing_percent)},
                columns=(column,),
            )
            for column in self.complete_columns
        ]

    def quality_rules(self) -> list[QualityRule]:
        """The rules the construct takes: completeness, then the ranges, then ``has-rows``."""
        return [
            *self.completeness_rules(),
            *(r.quality_rule() for r in self.ranges),
            QualityRule.has_rows(),
        ]

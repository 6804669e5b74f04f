"""Feature engineering for the ML platform's Glue 5.0 ETL job.

The job reads the rows of a Glue Data Catalog table that are new since its last job bookmark,
turns them into model features and appends them to S3 as Parquet, partitioned by configured
columns. The steps, in order (see :func:`transform`):

1. deduplicate: keep one row per key, the latest by a timestamp column (within this run's
   batch: rows of earlier runs are already written, and a key updated in two runs appears in
   both runs' output, each with the then-latest row);
2. split a text column on a literal delimiter into several columns (optional);
3. one-hot encode a categorical column against a fixed list of categories;
4. add ln(1 + x) of a numeric column;
5. drop the columns the features must not carry, such as personal identifiers the model does
   not use (optional).

All configuration is one JSON job argument, ``--feature_spec`` (see :func:`parse_spec`)::

    {
      "one_hot": {"column": "segment", "categories": ["consumer", "corporate", "home office"]},
      "log_transform": {"column": "annual_spend"},
      "split": {"column": "full_name", "delimiter": " ", "into": ["first_name", "last_name"]},
      "dedup": {"keys": ["customer_id"], "latest_by": "updated_at"},
      "partition_by": ["country"],
      "drop_columns": ["first_name", "last_name"]
    }

``split`` may be ``null`` or left out, and ``drop_columns`` left out or empty.

The file is uploaded on its own as the Glue job script, so it imports only the standard library
and pyspark at module level (pyspark optionally: the spec half is imported at synth too).
``awsglue`` exists only on Glue and is imported inside :func:`main`;
everything else is a pure function of DataFrames that runs on a local Spark session.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

try:
    from pyspark.sql import Column, DataFrame, Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType
except ModuleNotFoundError:  # pragma: no cover - Glue and the tests have pyspark
    # The spec half of this file (parse_spec, sanitize_category, FeatureSpec) is also what
    # the construct and the app's config check a spec with at synth, where Spark is absent;
    # the Spark half is used only where pyspark is installed.
    pass

__all__ = [
    "Dedup",
    "FeatureSpec",
    "FeatureSpecError",
    "LogTransform",
    "OneHot",
    "Split",
    "deduplicate",
    "drop_columns",
    "log_column",
    "log_transform",
    "main",
    "one_hot_column",
    "one_hot_encode",
    "parse_spec",
    "sanitize_category",
    "split_column",
    "transform",
    "write_partitioned",
]

JOB_ARGUMENTS: Final = (
    "JOB_NAME",
    "source_database",
    "source_table",
    "target_path",
    "feature_spec",
)

_SPEC_KEYS: Final = ("one_hot", "log_transform", "split", "dedup", "partition_by", "drop_columns")
#: Keys that may be missing (``split`` may also be null).
_OPTIONAL_KEYS: Final = ("split", "drop_columns")
_SECTION_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "one_hot": ("column", "categories"),
    "log_transform": ("column",),
    "split": ("column", "delimiter", "into"),
    "dedup": ("keys", "latest_by"),
}
_NOT_ALPHANUMERIC: Final = re.compile(r"[^0-9a-z]+")
_ROW_NUMBER: Final = "__feature_etl_row_number"


# --------------------------------------------------------------------------------------------
# The spec
# --------------------------------------------------------------------------------------------


def sanitize_category(category: str) -> str:
    """A category as a column-name suffix: lower-case, each run of other characters than a-z
    and 0-9 becomes ``_``, leading and trailing ``_`` removed (``"Home Office"`` ->
    ``"home_office"``)."""
    # ASCII only: Glue Data Catalog and Athena column names are lower-case letters, digits and
    # underscores.
    return _NOT_ALPHANUMERIC.sub("_", category.lower()).strip("_")


def one_hot_column(column: str, category: str) -> str:
    """The name of the 0/1 column that :func:`one_hot_encode` adds for one category."""
    return f"{column}_{sanitize_category(category)}"


def log_column(column: str) -> str:
    """The name of the column that :func:`log_transform` adds."""
    return f"{column}_log"


@dataclass(frozen=True)
class OneHot:
    """One 0/1 column per category for ``column``, which is then dropped."""

    column: str
    categories: tuple[str, ...]

    @property
    def output_columns(self) -> tuple[str, ...]:
        return tuple(one_hot_column(self.column, category) for category in self.categories)


@dataclass(frozen=True)
class LogTransform:
    """``<column>_log`` = ln(1 + column)."""

    column: str

    @property
    def output_column(self) -> str:
        return log_column(self.column)


@dataclass(frozen=True)
class Split:
    """``column`` split on the literal ``delimiter`` into the columns ``into``, then dropped."""

    column: str
    delimiter: str
    into: tuple[str, ...]


@dataclass(frozen=True)
class Dedup:
    """One row per ``keys``: the one with the greatest ``latest_by``."""

    keys: tuple[str, ...]
    latest_by: str


@dataclass(frozen=True)
class FeatureSpec:
    """The whole ``--feature_spec`` job argument."""

    one_hot: OneHot
    log_transform: LogTransform
    split: Split | None
    dedup: Dedup
    partition_by: tuple[str, ...]
    drop_columns: tuple[str, ...] = ()


class _Missing:
    def __repr__(self) -> str:
        return "nothing (the key is missing)"


_MISSING: Final = _Missing()


def _show(value: object) -> str:
    # The spec is JSON, so values are shown as JSON: "" and null, not Python's '' and None.
    if isinstance(value, _Missing):
        return repr(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


class FeatureSpecError(ValueError):
    """An invalid spec; ``problems`` holds ``(field, value received, what is expected)`` per
    problem (the app's config reports them in its own words, with the file and field)."""

    def __init__(self, message: str, problems: Sequence[tuple[str, object, str]]) -> None:
        super().__init__(message)
        self.problems = list(problems)


class _Problems:
    """Every problem found in a spec: one failed run reports them all, not one per run."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.found: list[tuple[str, object, str]] = []

    def add(self, field: str, got: object, expected: str) -> None:
        self.messages.append(f"{field}: got {_show(got)}, expected {expected}")
        self.found.append((field, got, expected))

    def error(self) -> FeatureSpecError:
        count = len(self.messages)
        lines = "\n".join(f"  - {message}" for message in self.messages)
        return FeatureSpecError(
            f"invalid feature_spec ({count} problem{'s' if count != 1 else ''}):\n{lines}",
            self.found,
        )


def _object(
    problems: _Problems, value: object, field: str, keys: Sequence[str]
) -> Mapping[str, Any] | None:
    """``value`` if it is an object, after reporting its unknown keys (a missing key is reported
    by the field reader, which knows what the key expects)."""
    if not isinstance(value, Mapping):
        problems.add(field, value, f"an object with the keys {', '.join(keys)}")
        return None
    for key in value:
        if key not in keys:
            problems.add(
                f"{field}.{key}" if field != "feature_spec" else str(key),
                value[key],
                f"no such key (the keys of {field} are {', '.join(keys)})",
            )
    return value


# The field readers take the parent object, or None when it was already reported as invalid;
# they return None when the field is invalid (and reported) or cannot be read.


def _name(
    problems: _Problems, parent: Mapping[str, Any] | None, key: str, field: str
) -> str | None:
    if parent is None:
        return None
    value = parent.get(key, _MISSING)
    if isinstance(value, str) and value.strip():
        return value
    problems.add(field, value, "a non-blank string (a column name)")
    return None


def _names(
    problems: _Problems,
    parent: Mapping[str, Any] | None,
    key: str,
    field: str,
    minimum: int,
) -> tuple[str, ...] | None:
    """A list of at least ``minimum`` distinct non-blank strings."""
    if parent is None:
        return None
    value = parent.get(key, _MISSING)
    expected = f"a list of at least {minimum} distinct non-blank strings"
    if not isinstance(value, list | tuple):
        problems.add(field, value, expected)
        return None
    ok = True
    if len(value) < minimum:
        problems.add(field, value, expected)
        ok = False
    for index, item in enumerate(value):
        if not (isinstance(item, str) and item.strip()):
            problems.add(f"{field}[{index}]", item, "a non-blank string")
            ok = False
    repeated = sorted({item for item in value if isinstance(item, str) and value.count(item) > 1})
    if repeated:
        problems.add(field, value, f"distinct values; repeated: {_show(repeated)}")
        ok = False
    return tuple(value) if ok else None


def _categories(problems: _Problems, parent: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    categories = _names(problems, parent, "categories", "one_hot.categories", minimum=1)
    if categories is None:
        return None
    ok = True
    by_suffix: dict[str, list[str]] = {}
    for index, category in enumerate(categories):
        suffix = sanitize_category(category)
        if suffix:
            by_suffix.setdefault(suffix, []).append(category)
            continue
        problems.add(
            f"one_hot.categories[{index}]",
            category,
            "a category with at least one letter a-z or digit (it names a column)",
        )
        ok = False
    for suffix, same in by_suffix.items():
        if len(same) > 1:
            problems.add(
                "one_hot.categories",
                same,
                f"categories that stay distinct as column names, but all become {_show(suffix)} "
                "(names are lower-cased and each run of other characters than a-z and 0-9 "
                "becomes _)",
            )
            ok = False
    return categories if ok else None


def _delimiter(problems: _Problems, parent: Mapping[str, Any] | None) -> str | None:
    if parent is None:
        return None
    value = parent.get("delimiter", _MISSING)
    if isinstance(value, str) and value:
        return value
    # Whitespace is a valid delimiter (" " splits names), so only the empty string is refused.
    problems.add("split.delimiter", value, "a non-empty string (matched literally)")
    return None


def _check_pipeline(
    problems: _Problems,
    split_column: str | None,
    split_into: tuple[str, ...] | None,
    one_hot: OneHot | None,
    one_hot_column: str | None,
    log_transform_column: str | None,
    partition_by: tuple[str, ...] | None,
    drop: tuple[str, ...] | None = None,
) -> None:
    """Reports columns that a step needs but an earlier step drops, and output columns that two
    steps both create: the spec alone tells, so a run need not read data to find out.

    Works from the valid fields only, so it also runs when other fields have problems.
    """
    dropped: dict[str, str] = {}
    created: dict[str, str] = {}

    def create(columns: Sequence[str], field: str) -> None:
        for column in columns:
            if column in created:
                problems.add(field, column, f"a new column name; {created[column]} creates it too")
            created[column] = field
            dropped.pop(column, None)

    def need(column: str, field: str) -> None:
        if column in dropped:
            problems.add(field, column, f"a column that still exists; {dropped[column]} drops it")

    # Without a valid split.into, split may recreate its own column: nothing is known dropped.
    if split_column is not None and split_into is not None:
        dropped[split_column] = "split"
        create(split_into, "split.into")
    if one_hot_column is not None:
        need(one_hot_column, "one_hot.column")
        dropped[one_hot_column] = "one_hot"
    if one_hot is not None:
        create(one_hot.output_columns, "one_hot.categories")
    if log_transform_column is not None:
        need(log_transform_column, "log_transform.column")
        create([log_column(log_transform_column)], "log_transform.column")
    for index, column in enumerate(drop or ()):
        need(column, f"drop_columns[{index}]")
        dropped[column] = "drop_columns"
    for index, column in enumerate(partition_by or ()):
        need(column, f"partition_by[{index}]")


def parse_spec(raw: str | Mapping[str, Any]) -> FeatureSpec:
    """The ``--feature_spec`` job argument (JSON text, or the already-decoded object), checked.

    Every key is required but ``split`` (may also be null) and ``drop_columns``, and no other
    is allowed. Raises one :class:`ValueError` that lists every problem found, each naming the
    field, the value received and what is expected.
    """
    if isinstance(raw, str):
        try:
            data: object = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"invalid feature_spec: got text that is not JSON ({error}), expected a JSON object"
            ) from None
    else:
        data = raw

    problems = _Problems()
    top = _object(problems, data, "feature_spec", _SPEC_KEYS)
    if top is None:
        raise problems.error()
    has_split = top.get("split") is not None
    sections = {
        name: _object(problems, top.get(name, _MISSING), name, keys)
        for name, keys in _SECTION_KEYS.items()
        if name != "split" or has_split
    }

    one_hot_column = _name(problems, sections["one_hot"], "column", "one_hot.column")
    categories = _categories(problems, sections["one_hot"])
    log_transform_column = _name(
        problems, sections["log_transform"], "column", "log_transform.column"
    )
    split_column = delimiter = into = None
    if has_split:
        split_column = _name(problems, sections["split"], "column", "split.column")
        delimiter = _delimiter(problems, sections["split"])
        into = _names(problems, sections["split"], "into", "split.into", minimum=2)
    keys = _names(problems, sections["dedup"], "keys", "dedup.keys", minimum=1)
    latest_by = _name(problems, sections["dedup"], "latest_by", "dedup.latest_by")
    partition_by = _names(problems, top, "partition_by", "partition_by", minimum=1)
    drop = (
        _names(problems, top, "drop_columns", "drop_columns", minimum=0)
        if "drop_columns" in top
        else ()
    )

    one_hot = (
        OneHot(column=one_hot_column, categories=categories)
        if one_hot_column is not None and categories is not None
        else None
    )
    _check_pipeline(
        problems,
        split_column,
        into,
        one_hot,
        one_hot_column,
        log_transform_column,
        partition_by,
        drop,
    )
    split_ok = not has_split or None not in (split_column, delimiter, into)
    if (
        problems.messages
        or one_hot is None
        or log_transform_column is None
        or not split_ok
        or keys is None
        or latest_by is None
        or partition_by is None
        or drop is None
    ):
        raise problems.error()
    return FeatureSpec(
        one_hot=one_hot,
        log_transform=LogTransform(column=log_transform_column),
        split=(
            Split(column=split_column, delimiter=delimiter, into=into)
            if split_column is not None and delimiter is not None and into is not None
            else None
        ),
        dedup=Dedup(keys=keys, latest_by=latest_by),
        partition_by=partition_by,
        drop_columns=drop,
    )


# --------------------------------------------------------------------------------------------
# The transforms
# --------------------------------------------------------------------------------------------


def _quoted(name: str) -> str:
    # Backticks make a name with a dot one column, not a path into a struct column.
    return "`" + name.replace("`", "``") + "`"


def _col(name: str) -> Column:
    return F.col(_quoted(name))


def _try_cast(name: str, sql_type: str) -> Column:
    # try_cast gives null for a value that does not convert, also when spark.sql.ansi.enabled is
    # on (where cast raises). pyspark 3.5 has no Column.try_cast; the SQL function has it.
    return F.expr(f"try_cast({_quoted(name)} AS {sql_type})")


def _strip_whitespace(value: Column) -> Column:
    # F.trim removes only spaces; raw text also carries tabs and line breaks.
    return F.regexp_replace(value, r"^\s+|\s+$", "")


def _require_columns(df: DataFrame, names: Sequence[str], field: str) -> None:
    missing = [name for name in names if name not in df.columns]
    if missing:
        raise ValueError(f"{field}: no column {missing} in the input, which has {df.columns}")


def _refuse_overwrite(df: DataFrame, outputs: Sequence[str], dropped: str, field: str) -> None:
    """Refuses output columns that already exist: replacing input data silently would hide a
    spec that does not fit the table. The step's own source column may be reused."""
    repeated = sorted({name for name in outputs if list(outputs).count(name) > 1})
    if repeated:
        raise ValueError(f"{field}: output columns {repeated} are repeated")
    existing = [name for name in outputs if name in df.columns and name != dropped]
    if existing:
        raise ValueError(f"{field}: output columns {existing} already exist in the input")


def _java_regex_quote(literal: str) -> str:
    """``literal`` as a Java regex that matches exactly it: a port of Java's Pattern.quote."""
    # \Q...\E quotes everything up to the next \E, so a \E inside the literal ends the quote,
    # is written as an escaped backslash plus E, and a new quote starts.
    return "\\Q" + literal.replace("\\E", "\\E\\\\E\\Q") + "\\E"


def deduplicate(df: DataFrame, keys: Sequence[str], latest_by: str) -> DataFrame:
    """One row per distinct ``keys``: the row with the greatest ``latest_by``.

    ``latest_by`` is compared by its type. A string column is compared as the timestamp it
    holds where it parses as one, so ``"...T10:00:00+05:00"`` is earlier than
    ``"...T06:00:00Z"``; strings that do not parse come after those that do, in string order.
    A null ``latest_by`` loses to any value. Null keys form one group, like any other value.

    Ties (same keys, same ``latest_by``) go to the row whose values, cast to string and
    compared column by column in the DataFrame's column order, are smallest (nulls last), so
    the result does not depend on how the input is ordered or partitioned. The columns and
    their order are unchanged.
    """
    if not keys:
        raise ValueError("dedup.keys: got [], expected at least one key column")
    _require_columns(df, [*keys, latest_by], "dedup")
    order: list[Column] = []
    if isinstance(df.schema[latest_by].dataType, StringType):
        # Raw CSV tables hold timestamps as text, whose string order ignores the UTC offset.
        order.append(_try_cast(latest_by, "TIMESTAMP").desc_nulls_last())
    order.append(_col(latest_by).desc_nulls_last())
    order.extend(_col(name).cast("string").asc_nulls_last() for name in df.columns)
    window = Window.partitionBy(*[_col(key) for key in keys]).orderBy(*order)
    return (
        df.withColumn(_ROW_NUMBER, F.row_number().over(window))
        .where(F.col(_ROW_NUMBER) == 1)
        .select(*[_col(name) for name in df.columns])
    )


def split_column(df: DataFrame, column: str, delimiter: str, into: Sequence[str]) -> DataFrame:
    """Splits ``column`` on the literal ``delimiter`` into the columns ``into``.

    The value is split into at most ``len(into)`` parts: the text after the last split point
    stays in the last part (``"a.b.c"`` on ``"."`` into 2 gives ``"a"``, ``"b.c"``). Parts
    that are missing, or empty after their surrounding whitespace is removed, are null. The
    source column is dropped; the new columns come last, in the order of ``into``.
    """
    if not delimiter:
        raise ValueError('split.delimiter: got "", expected a non-empty string')
    if len(into) < 2:
        raise ValueError(f"split.into: got {list(into)}, expected at least 2 column names")
    _require_columns(df, [column], "split.column")
    _refuse_overwrite(df, into, column, "split.into")
    # Spark's split takes a Java regex; quoted, "." and "|" are the characters themselves.
    parts = F.split(_col(column).cast("string"), _java_regex_quote(delimiter), len(into))
    outputs: list[Column] = []
    for index, name in enumerate(into):
        # try_element_at: past the end of the array is null, also where ANSI mode would raise.
        part = _strip_whitespace(F.try_element_at(parts, F.lit(index + 1)))
        outputs.append(F.when(part != "", part).alias(name))
    return df.select(*[_col(name) for name in df.columns if name != column], *outputs)


def one_hot_encode(df: DataFrame, column: str, categories: Sequence[str]) -> DataFrame:
    """Adds an integer 0/1 column ``<column>_<sanitized category>`` per category (see
    :func:`sanitize_category`), and drops ``column``.

    A value matches a category when both are equal after removing surrounding whitespace and
    lower-casing, so ``"Corporate "`` matches ``"corporate"``. Null and unlisted values get 0
    in every column. The new columns come last, in the order of ``categories``.
    """
    if not categories:
        raise ValueError("one_hot.categories: got [], expected at least one category")
    outputs = [one_hot_column(column, category) for category in categories]
    unnamed = [category for category in categories if not sanitize_category(category)]
    if unnamed:
        raise ValueError(f"one_hot.categories: {unnamed} have no letter a-z or digit")
    _require_columns(df, [column], "one_hot.column")
    _refuse_overwrite(df, outputs, column, "one_hot.categories")

    def normalized(value: Column) -> Column:
        # The same Spark functions on both sides: Python and Java differ on what is whitespace
        # and on lower-casing some characters.
        return F.lower(_strip_whitespace(value))

    value = normalized(_col(column).cast("string"))
    flags = [
        F.when(value == normalized(F.lit(category)), 1).otherwise(0).cast("int").alias(name)
        for category, name in zip(categories, outputs, strict=True)
    ]
    return df.select(*[_col(name) for name in df.columns if name != column], *flags)


def log_transform(df: DataFrame, column: str) -> DataFrame:
    """Casts ``column`` to double in place and adds ``<column>_log`` = ln(1 + x) as the last
    column.

    Values that do not convert to a double (``"abc"``, ``""``) become null. ``<column>_log``
    is null where the value is null, not a number, negative, NaN or infinite.
    """
    _require_columns(df, [column], "log_transform.column")
    output = log_column(column)
    _refuse_overwrite(df, [output], column, "log_transform.column")
    value = _try_cast(column, "DOUBLE")
    # between() is false for NaN (Spark orders NaN above every double) and for infinity, so
    # only finite values >= 0 get a logarithm, and null stays null.
    log = F.when(value.between(0.0, sys.float_info.max), F.log1p(value))
    return df.select(
        *[value.alias(name) if name == column else _col(name) for name in df.columns],
        log.alias(output),
    )


def drop_columns(df: DataFrame, columns: Sequence[str]) -> DataFrame:
    """``df`` without ``columns``, which must exist; the other columns keep their order."""
    _require_columns(df, columns, "drop_columns")
    return df.select(*[_col(name) for name in df.columns if name not in columns])


def transform(df: DataFrame, spec: FeatureSpec) -> DataFrame:
    """Applies the spec's steps in order: deduplicate, split (if any), one-hot encode, log
    transform, drop columns (if any)."""
    # Deduplicate first: latest_by and the keys are raw columns, and the later row-wise steps
    # then run only on the rows that are kept.
    out = deduplicate(df, spec.dedup.keys, spec.dedup.latest_by)
    if spec.split is not None:
        out = split_column(out, spec.split.column, spec.split.delimiter, spec.split.into)
    out = one_hot_encode(out, spec.one_hot.column, spec.one_hot.categories)
    out = log_transform(out, spec.log_transform.column)
    # Last, so that every step may read them: the curated zone, which training reads and
    # Macie scans, then never holds them.
    return drop_columns(out, spec.drop_columns) if spec.drop_columns else out


def write_partitioned(df: DataFrame, path: str, partition_by: Sequence[str]) -> None:
    """Appends ``df`` as Parquet under ``path``, in a ``<column>=<value>/`` folder per value of
    the ``partition_by`` columns."""
    if not partition_by:
        raise ValueError("partition_by: got [], expected at least one partition column")
    _require_columns(df, partition_by, "partition_by")
    # Append, never overwrite: with job bookmarks each run holds only the raw rows that are new
    # since the last run, so the features of earlier runs must stay.
    df.write.mode("append").partitionBy(*partition_by).parquet(path)


# --------------------------------------------------------------------------------------------
# The Glue entry point
# --------------------------------------------------------------------------------------------


def main() -> None:
    """Glue entry point: reads the new rows of the source table, appends their features."""
    # awsglue exists only on Glue: imported here, the module stays importable (and testable)
    # anywhere else.
    from awsglue.context import GlueContext
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, list(JOB_ARGUMENTS))
    # Before any data is read: a bad spec fails the run at once, listing all its problems.
    spec = parse_spec(args["feature_spec"])

    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    logger = glue_context.get_logger()

    # The transformation_ctx names the bookmark state: with it, a run reads only the data that
    # is new since the last committed run.
    source = glue_context.create_dynamic_frame.from_catalog(
        database=args["source_database"],
        table_name=args["source_table"],
        transformation_ctx="source",
    )
    raw = source.toDF()
    # Nothing new since the bookmark: the frame can then have no columns at all, which the
    # transforms would reject. Committing still ends the run as a success.
    if raw.isEmpty():
        logger.info("No new rows since the last job bookmark; nothing to write.")
        job.commit()
        return

    features = transform(raw, spec)
    _require_columns(features, spec.partition_by, "partition_by")
    glue_context.write_dynamic_frame.from_options(
        frame=DynamicFrame.fromDF(features, glue_context, "features"),
        connection_type="s3",
        connection_options={"path": args["target_path"], "partitionKeys": list(spec.partition_by)},
        format="glueparquet",
        transformation_ctx="sink",
    )
    job.commit()


if __name__ == "__main__":
    main()

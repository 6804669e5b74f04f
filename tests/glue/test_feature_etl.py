"""The Glue feature ETL script's transforms, on a local Spark session (Glue 5.0: Spark 3.5.4)."""

from __future__ import annotations

import json
import math
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from mlops_constructs.glue.runtime.feature_etl import (
    Dedup,
    FeatureSpec,
    LogTransform,
    OneHot,
    Split,
    deduplicate,
    log_transform,
    main,
    one_hot_encode,
    parse_spec,
    split_column,
    transform,
    write_partitioned,
)

SPEC: dict[str, Any] = {
    "one_hot": {"column": "segment", "categories": ["consumer", "corporate", "home office"]},
    "log_transform": {"column": "annual_spend"},
    "split": {"column": "full_name", "delimiter": " ", "into": ["first_name", "last_name"]},
    "dedup": {"keys": ["customer_id"], "latest_by": "updated_at"},
    "partition_by": ["country"],
}

RAW_COLUMNS = ["customer_id", "full_name", "segment", "annual_spend", "country", "updated_at"]
#: A raw CSV table as the catalog types it: every column a string.
RAW_ROWS = [
    ("1", "Ada Lovelace", "Consumer", "100", "GB", "2024-01-01T00:00:00Z"),
    ("1", "Ada King Lovelace", "Corporate ", "0", "GB", "2024-03-01T00:00:00Z"),
    # 10:00+05:00 is 05:00Z: earlier than 06:00Z although its text sorts after it.
    ("2", "Grace Hopper", "HOME OFFICE", "abc", "US", "2024-02-01T10:00:00+05:00"),
    ("2", "Grace B. Hopper", " home office", "-5", "US", "2024-02-01T06:00:00Z"),
    ("3", "Linus", None, "1.718281828459045", "FI", "2024-01-05T00:00:00Z"),
    ("3", "Linus Torvalds", "consumer", "7", "FI", None),
]
FEATURE_COLUMNS = [
    "customer_id",
    "annual_spend",
    "country",
    "updated_at",
    "first_name",
    "last_name",
    "segment_consumer",
    "segment_corporate",
    "segment_home_office",
    "annual_spend_log",
]
FEATURE_ROWS = [
    ("1", 0.0, "GB", "2024-03-01T00:00:00Z", "Ada", "King Lovelace", 0, 1, 0, 0.0),
    ("2", -5.0, "US", "2024-02-01T06:00:00Z", "Grace", "B. Hopper", 0, 0, 1, None),
    ("3", math.e - 1, "FI", "2024-01-05T00:00:00Z", "Linus", None, 0, 0, 0, 1.0),
]


@pytest.fixture(params=[False, True], ids=["ansi-off", "ansi-on"])
def ansi(request: pytest.FixtureRequest, spark: SparkSession) -> Iterator[bool]:
    """Runs a test with Spark's ANSI SQL mode off (the Spark 3.5 default) and on."""
    spark.conf.set("spark.sql.ansi.enabled", str(request.param).lower())
    yield request.param
    spark.conf.unset("spark.sql.ansi.enabled")


def rows(df: DataFrame, *order_by: str) -> list[tuple[Any, ...]]:
    ordered = df.orderBy(*order_by) if order_by else df
    return [tuple(row) for row in ordered.collect()]


def approx_rows(expected: list[tuple[Any, ...]]) -> list[Any]:
    """``expected`` with floats compared approximately, everything else exactly."""
    return [pytest.approx(row) for row in expected]


# --------------------------------------------------------------------------------------------
# parse_spec
# --------------------------------------------------------------------------------------------


def test_parse_spec_reads_the_example() -> None:
    assert parse_spec(SPEC) == FeatureSpec(
        one_hot=OneHot(column="segment", categories=("consumer", "corporate", "home office")),
        log_transform=LogTransform(column="annual_spend"),
        split=Split(column="full_name", delimiter=" ", into=("first_name", "last_name")),
        dedup=Dedup(keys=("customer_id",), latest_by="updated_at"),
        partition_by=("country",),
    )


def test_parse_spec_reads_json_text() -> None:
    assert parse_spec(json.dumps(SPEC)) == parse_spec(SPEC)


def test_parse_spec_lists_every_problem_in_one_error() -> None:
    bad = {
        "one_hot": {"column": "segment", "categories": []},
        "log_transform": "annual_spend",
        "split": {"column": "full_name", "delimiter": "", "into": ["only"]},
        "dedup": {"keys": [], "latest_by": 5},
        "partition_by": [],
        "extra": True,
    }
    with pytest.raises(ValueError) as caught:
        parse_spec(bad)
    message = str(caught.value)
    expected = [
        "one_hot.categories: got [], expected a list of at least 1",
        'log_transform: got "annual_spend", expected an object with the keys column',
        'split.delimiter: got "", expected a non-empty string',
        'split.into: got ["only"], expected a list of at least 2',
        "dedup.keys: got [], expected a list of at least 1",
        "dedup.latest_by: got 5, expected a non-blank string",
        "partition_by: got [], expected a list of at least 1",
        "extra: got true, expected no such key",
    ]
    for fragment in expected:
        assert fragment in message
    assert message.startswith(f"invalid feature_spec ({len(expected)} problems):")
    assert message.count("\n  - ") == len(expected)


def test_parse_spec_checks_names_and_how_the_steps_fit() -> None:
    bad = json.loads(json.dumps(SPEC))
    bad["one_hot"]["categories"] = ["Home Office", "home-office", "!!", "consumer"]
    # one_hot drops "segment" before the log step, whose output split also creates.
    bad["log_transform"]["column"] = "segment"
    bad["split"]["into"] = ["first_name", "segment_log"]
    bad["dedup"] = {"keys": ["customer_id", "customer_id"]}
    bad["partition_by"] = ["full_name"]  # split drops it
    with pytest.raises(ValueError) as caught:
        parse_spec(bad)
    message = str(caught.value)
    expected = [
        'one_hot.categories[2]: got "!!", expected a category with at least one letter',
        'one_hot.categories: got ["Home Office", "home-office"], expected categories that stay '
        'distinct as column names, but all become "home_office"',
        'dedup.keys: got ["customer_id", "customer_id"], expected distinct values; repeated: '
        '["customer_id"]',
        "dedup.latest_by: got nothing (the key is missing), expected a non-blank string",
        'log_transform.column: got "segment", expected a column that still exists; one_hot drops',
        'log_transform.column: got "segment_log", expected a new column name; split.into creates',
        'partition_by[0]: got "full_name", expected a column that still exists; split drops it',
    ]
    for fragment in expected:
        assert fragment in message
    assert message.count("\n  - ") == len(expected)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("{not json", "got text that is not JSON"),
        ("[1, 2]", "feature_spec: got [1, 2], expected an object with the keys one_hot"),
    ],
)
def test_parse_spec_refuses_what_is_not_an_object(raw: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="invalid feature_spec") as caught:
        parse_spec(raw)
    assert fragment in str(caught.value)


# --------------------------------------------------------------------------------------------
# The transforms
# --------------------------------------------------------------------------------------------


def test_deduplicate_keeps_the_latest_row_of_each_key(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [
            ("t1", 1, 10, "old"),
            ("t1", 1, 30, "latest"),
            ("t1", 1, 20, "middle"),
            ("t1", 1, None, "no time"),
            ("t1", 2, 5, "other id"),
            ("t2", 1, 1, "other tenant"),
            ("t2", 1, None, "no time"),
        ],
        "tenant string, id int, version int, note string",
    )
    result = deduplicate(df, ["tenant", "id"], "version")
    assert result.columns == ["tenant", "id", "version", "note"]
    assert rows(result, "tenant", "id") == [
        ("t1", 1, 30, "latest"),
        ("t1", 2, 5, "other id"),
        ("t2", 1, 1, "other tenant"),
    ]


def test_deduplicate_breaks_ties_the_same_way_whatever_the_input_order(
    spark: SparkSession,
) -> None:
    tied = [("k", "2024-01-01", "b", None), ("k", "2024-01-01", "a", "x")]
    schema = "key string, at string, value string, extra string"
    kept = [
        rows(deduplicate(spark.createDataFrame(order, schema), ["key"], "at"))
        for order in (tied, tied[::-1])
    ]
    # Smallest values as strings, column by column: "a" < "b".
    assert kept == [[("k", "2024-01-01", "a", "x")]] * 2


def test_split_column_splits_on_the_literal_delimiter(spark: SparkSession) -> None:
    # Regex metacharacters, and \E, which ends a \Q...\E quote.
    for delimiter in [".", "|", "\\E", "$("]:
        values = [
            f"a{delimiter}b",
            f"a{delimiter}b{delimiter}c",  # the remainder stays in the last part
            "abc",  # one part: the second is null
            f" a {delimiter}\tb\n",  # parts are trimmed
            f"a{delimiter} ",  # blank parts are null
            None,
        ]
        df = spark.createDataFrame(list(enumerate(values)), "id int, name string")
        result = split_column(df, "name", delimiter, ["first", "rest"])
        assert result.columns == ["id", "first", "rest"]
        assert rows(result, "id") == [
            (0, "a", "b"),
            (1, "a", f"b{delimiter}c"),
            (2, "abc", None),
            (3, "a", "b"),
            (4, "a", None),
            (5, None, None),
        ], f"delimiter {delimiter!r}"


def test_split_column_into_three_parts(spark: SparkSession) -> None:
    df = spark.createDataFrame([("x", "1|2|3|4"), ("y", "1|2")], "key string, code string")
    result = split_column(df, "code", "|", ["a", "b", "c"])
    assert result.columns == ["key", "a", "b", "c"]
    assert rows(result, "key") == [("x", "1", "2", "3|4"), ("y", "1", "2", None)]


def test_one_hot_encode(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(1, "Corporate "), (2, None), (3, "unknown"), (4, " HOME office\t"), (5, "consumer")],
        "id int, segment string",
    )
    result = one_hot_encode(df, "segment", ["consumer", "corporate", "Home Office"])
    assert result.dtypes == [
        ("id", "int"),
        ("segment_consumer", "int"),
        ("segment_corporate", "int"),
        ("segment_home_office", "int"),
    ]
    assert rows(result, "id") == [
        (1, 0, 1, 0),
        (2, 0, 0, 0),
        (3, 0, 0, 0),
        (4, 0, 0, 1),
        (5, 1, 0, 0),
    ]


@pytest.mark.usefixtures("ansi")
def test_log_transform(spark: SparkSession) -> None:
    values = ["0", str(math.e - 1), "-5", "abc", None, " 3 ", "NaN", "Infinity", ""]
    df = spark.createDataFrame(list(enumerate(values)), "id int, spend string")
    result = log_transform(df, "spend")
    assert result.dtypes == [("id", "int"), ("spend", "double"), ("spend_log", "double")]
    got = rows(result, "id")
    assert got[6][1] is not None and math.isnan(got[6][1])
    assert got[:6] + got[7:] == approx_rows(
        [
            (0, 0.0, 0.0),
            (1, math.e - 1, 1.0),
            (2, -5.0, None),
            (3, None, None),
            (4, None, None),
            (5, 3.0, math.log1p(3)),
            (7, math.inf, None),
            (8, None, None),
        ]
    )
    assert got[6][2] is None


@pytest.mark.usefixtures("ansi")
def test_transform_gives_exactly_the_expected_features(spark: SparkSession) -> None:
    raw = spark.createDataFrame(RAW_ROWS, RAW_COLUMNS)
    result = transform(raw, parse_spec(SPEC))
    assert result.columns == FEATURE_COLUMNS
    assert rows(result, "customer_id") == approx_rows(FEATURE_ROWS)


def test_transforms_refuse_columns_they_would_lose_or_overwrite(spark: SparkSession) -> None:
    df = spark.createDataFrame([("1", "a b", "x")], "id string, name string, first string")
    with pytest.raises(ValueError, match=r"dedup: no column \['at'\]"):
        deduplicate(df, ["id"], "at")
    with pytest.raises(ValueError, match=r"split.into: output columns \['first'\] already exist"):
        split_column(df, "name", " ", ["first", "last"])
    with pytest.raises(ValueError, match=r"one_hot.categories: output columns \['name_a'\] are"):
        one_hot_encode(df, "name", ["A", "a "])
    with pytest.raises(ValueError, match=r"partition_by: no column \['country'\]"):
        write_partitioned(df, "unused", ["country"])


def test_write_partitioned_appends_parquet_by_partition(
    spark: SparkSession, tmp_path: Path
) -> None:
    df = spark.createDataFrame(
        [("1", 1.0, "GB"), ("2", 2.0, "US"), ("3", 3.0, "GB")],
        "customer_id string, spend double, country string",
    )
    target = tmp_path / "features"
    write_partitioned(df, str(target), ["country"])
    assert sorted(p.name for p in target.iterdir() if p.is_dir()) == ["country=GB", "country=US"]
    back = spark.read.parquet(str(target))
    # The partition column comes back from the folder names, as the last column.
    assert back.columns == ["customer_id", "spend", "country"]
    assert rows(back, "customer_id") == rows(df, "customer_id")

    write_partitioned(df, str(target), ["country"])
    assert rows(spark.read.parquet(str(target)), "customer_id") == sorted(rows(df) * 2)


# --------------------------------------------------------------------------------------------
# main, with stand-ins for the awsglue modules that exist only on Glue
# --------------------------------------------------------------------------------------------


class FakeGlue:
    """Records what main asks of Glue; returns ``source`` as the new rows of the table."""

    def __init__(self, spark: SparkSession, source: DataFrame) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        fake = self

        class GlueContext:
            def __init__(self, spark_context: Any) -> None:
                assert spark_context is spark.sparkContext
                self.create_dynamic_frame = types.SimpleNamespace(from_catalog=self.from_catalog)
                self.write_dynamic_frame = types.SimpleNamespace(from_options=self.from_options)

            def get_logger(self) -> Any:
                return types.SimpleNamespace(info=lambda message: None)

            def from_catalog(self, **kwargs: Any) -> Any:
                fake.events.append(("read", kwargs))
                return types.SimpleNamespace(toDF=lambda: source)

            def from_options(self, **kwargs: Any) -> None:
                fake.events.append(("write", kwargs))

        class Job:
            def __init__(self, glue_context: GlueContext) -> None:
                pass

            def init(self, name: str, args: dict[str, str]) -> None:
                fake.events.append(("init", {"name": name}))

            def commit(self) -> None:
                fake.events.append(("commit", {}))

        class DynamicFrame:
            @staticmethod
            def fromDF(df: DataFrame, glue_context: GlueContext, name: str) -> Any:
                return types.SimpleNamespace(df=df, name=name)

        def get_resolved_options(argv: list[str], names: list[str]) -> dict[str, str]:
            return {name: argv[argv.index(f"--{name}") + 1] for name in names}

        self.modules = {
            "awsglue": types.ModuleType("awsglue"),
            "awsglue.context": types.ModuleType("awsglue.context"),
            "awsglue.dynamicframe": types.ModuleType("awsglue.dynamicframe"),
            "awsglue.job": types.ModuleType("awsglue.job"),
            "awsglue.utils": types.ModuleType("awsglue.utils"),
        }
        self.modules["awsglue.context"].GlueContext = GlueContext  # type: ignore[attr-defined]
        self.modules["awsglue.dynamicframe"].DynamicFrame = DynamicFrame  # type: ignore[attr-defined]
        self.modules["awsglue.job"].Job = Job  # type: ignore[attr-defined]
        self.modules["awsglue.utils"].getResolvedOptions = get_resolved_options  # type: ignore[attr-defined]

    def run(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, module in self.modules.items():
            monkeypatch.setitem(sys.modules, name, module)
        argv = ["feature_etl.py", "--JOB_NAME", "features", "--source_database", "raw"]
        argv += ["--source_table", "customers", "--target_path", "s3://bucket/features/"]
        argv += ["--feature_spec", json.dumps(SPEC)]
        monkeypatch.setattr(sys, "argv", argv)
        main()


def test_main_writes_the_features_with_bookmark_contexts(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    glue = FakeGlue(spark, spark.createDataFrame(RAW_ROWS, RAW_COLUMNS))
    glue.run(monkeypatch)
    assert [event for event, _ in glue.events] == ["init", "read", "write", "commit"]
    assert glue.events[1][1] == {
        "database": "raw",
        "table_name": "customers",
        "transformation_ctx": "source",
    }
    write = dict(glue.events[2][1])
    frame = write.pop("frame")
    assert write == {
        "connection_type": "s3",
        "connection_options": {"path": "s3://bucket/features/", "partitionKeys": ["country"]},
        "format": "glueparquet",
        "transformation_ctx": "sink",
    }
    assert frame.df.columns == FEATURE_COLUMNS
    assert rows(frame.df, "customer_id") == approx_rows(FEATURE_ROWS)


def test_main_commits_an_empty_batch_without_writing(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing new since the bookmark: Glue hands over a frame without rows or columns.
    glue = FakeGlue(spark, spark.createDataFrame([], StructType([])))
    glue.run(monkeypatch)
    assert [event for event, _ in glue.events] == ["init", "read", "commit"]


# --------------------------------------------------------------------------------------------
# Optional split, dropped columns
# --------------------------------------------------------------------------------------------


def test_parse_spec_takes_no_split_and_columns_to_drop() -> None:
    spec = {k: v for k, v in SPEC.items() if k != "split"} | {"drop_columns": ["full_name"]}
    parsed = parse_spec(spec)
    assert parsed.split is None and parsed.drop_columns == ("full_name",)
    assert parse_spec(spec | {"split": None}) == parsed
    assert parse_spec(SPEC).drop_columns == ()


def test_parse_spec_refuses_drops_of_lost_or_partition_columns() -> None:
    bad = json.loads(json.dumps(SPEC))
    bad["drop_columns"] = ["full_name", "country"]
    with pytest.raises(ValueError) as caught:
        parse_spec(bad)
    message = str(caught.value)
    for fragment in (
        'drop_columns[0]: got "full_name", expected a column that still exists; split drops it',
        'partition_by[0]: got "country", expected a column that still exists; drop_columns',
    ):
        assert fragment in message, message
    bad["drop_columns"] = ["first_name", "first_name"]
    with pytest.raises(ValueError, match="expected distinct values"):
        parse_spec(bad)


def test_transform_drops_the_columns_last(spark: SparkSession) -> None:
    spec = parse_spec(SPEC | {"drop_columns": ["first_name", "last_name", "updated_at"]})
    df = transform(spark.createDataFrame(RAW_ROWS, RAW_COLUMNS), spec)
    dropped = {"first_name", "last_name", "updated_at"}
    assert df.columns == [c for c in FEATURE_COLUMNS if c not in dropped]
    assert rows(df, "customer_id") == approx_rows(
        [
            tuple(v for c, v in zip(FEATURE_COLUMNS, row, strict=True) if c not in dropped)
            for row in FEATURE_ROWS
        ]
    )

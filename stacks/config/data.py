"""The data section: the lake, Glue, the datasets and their features (checked by the Glue
job's own spec parser), FindMatches and DataBrew; and its cross-field checks."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from mlops_constructs.core.props import AwsCron, Problem
from mlops_constructs.databrew.props import FillMissing, QualityChecks, ValueRange
from mlops_constructs.glue.props import (
    GLUE_END_OF_LIFE,
    ML_TRANSFORM_GLUE_VERSIONS,
    Column,
    FeatureSpec,
    FeatureSpecError,
    check_identifier,
    engineered_columns,
    feature_columns,
    parse_feature_spec,
)
from mlops_constructs.glue.runtime import feature_etl
from mlops_constructs.lake.props import DEFAULT_ZONES, zones_problems
from stacks.config._common import _Strict

if TYPE_CHECKING:
    pass


class LakeConfig(_Strict):
    """The S3 data lake: zones and lifecycle."""

    zones: list[str] = Field(default_factory=lambda: list(DEFAULT_ZONES), min_length=1)
    enforce_kms_uploads: bool = True
    noncurrent_version_expiration_days: int = Field(default=90, ge=1, le=3650)
    abort_incomplete_multipart_days: int = Field(default=7, ge=1, le=365)
    intelligent_tiering_after_days: int | None = Field(default=30, ge=0)
    access_log_retention_days: int = Field(default=365, ge=1)

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: list[str]) -> list[str]:
        problems = zones_problems(value)
        if problems:
            raise ValueError("; ".join(f"{expected}, got {got}" for _, got, expected in problems))
        return value


class GlueConfig(_Strict):
    """Glue jobs and crawlers of the environment."""

    glue_version: Literal["4.0", "5.0"] = "5.0"
    # G.025X is for streaming jobs only; the feature job is a batch (glueetl) job.
    worker_type: Literal["G.1X", "G.2X", "G.4X", "G.8X"] = "G.1X"
    number_of_workers: int = Field(default=2, ge=2, le=299)
    timeout_minutes: int = Field(default=60, ge=1, le=2880)
    max_retries: int = Field(default=1, ge=0, le=10)
    workflow_schedule: AwsCron = "cron(0 2 * * ? *)"
    crawler_schedule: AwsCron = "cron(0 6 * * ? *)"
    update_behavior: Literal["UPDATE_IN_DATABASE", "LOG"] = "UPDATE_IN_DATABASE"
    delete_behavior: Literal["LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE"] = "LOG"


class OneHotConfig(_Strict):
    column: str
    categories: list[str] = Field(min_length=1)


class ColumnRef(_Strict):
    column: str


class SplitConfig(_Strict):
    # A space is a valid delimiter, so strings here are taken as written.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    column: str
    delimiter: str = Field(min_length=1)
    into: list[str] = Field(min_length=2)

    _into = field_validator("into")(lambda v: [check_identifier(x) for x in v])


class DedupConfig(_Strict):
    keys: list[str] = Field(min_length=1)
    latest_by: str


class FeaturesConfig(_Strict):
    """Feature engineering of the Glue ETL job (and the DataBrew recipe)."""

    one_hot: OneHotConfig
    log_transform: ColumnRef
    split: SplitConfig | None = None
    dedup: DedupConfig
    partition_by: list[str] = Field(min_length=1)
    #: Columns the curated zone must not carry, dropped after every other step: personal
    #: identifiers the model does not use (training reads the curated zone, and Macie in
    #: quarantine mode would move objects holding them away from it).
    drop_columns: list[str] = Field(default_factory=list)

    @property
    def spec(self) -> FeatureSpec:
        """This section as the feature ETL job's typed spec (the construct's
        ``feature_spec``), made field by field: the job's parser checks it in
        :func:`data_problems`, and the construct checks it again at synth."""
        return FeatureSpec(
            one_hot=feature_etl.OneHot(self.one_hot.column, tuple(self.one_hot.categories)),
            log_transform=feature_etl.LogTransform(self.log_transform.column),
            split=feature_etl.Split(self.split.column, self.split.delimiter, tuple(self.split.into))
            if self.split
            else None,
            dedup=feature_etl.Dedup(tuple(self.dedup.keys), self.dedup.latest_by),
            partition_by=tuple(self.partition_by),
            drop_columns=tuple(self.drop_columns),
        )


class FindMatchesConfig(_Strict):
    primary_key: str
    #: A Glue version FindMatches runs on and that has not reached end of life (checked in
    #: data_problems; the versions and dates are in mlops_constructs.glue).
    glue_version: str = "2.0"
    precision_recall_tradeoff: float = Field(default=0.9, ge=0, le=1)
    accuracy_cost_tradeoff: float = Field(default=0.5, ge=0, le=1)
    enforce_provided_labels: bool = False
    worker_type: Literal["G.1X", "G.2X"] = "G.1X"
    number_of_workers: int = Field(default=2, ge=2, le=100)
    timeout_minutes: int = Field(default=120, ge=1, le=2880)


# The DataBrew settings are the construct's own types (mlops_constructs.databrew), embedded
# as they are; the old names stay as aliases.
FillMissingConfig = FillMissing
RangeRuleConfig = ValueRange
QualityConfig = QualityChecks


class DataBrewConfig(_Strict):
    """The DataBrew recipe (``fill_missing``, then the feature steps) and profile job
    (``quality``) of a dataset."""

    schedule: AwsCron = "cron(0 4 * * ? *)"
    fill_missing: list[FillMissing] = Field(min_length=1)
    quality: QualityChecks
    max_capacity: int = Field(default=5, ge=1, le=149)
    timeout_minutes: int = Field(default=120, ge=1, le=2880)


class DatasetConfig(_Strict):
    """A dataset landing in the raw zone, and what the platform makes of it."""

    name: str
    source_zone: str = "raw"
    target_zone: str = "curated"
    prefix: str
    csv_delimiter: Literal[",", ";", "|", "\t"] = ","
    columns: list[Column] = Field(min_length=1)
    features: FeaturesConfig
    find_matches: FindMatchesConfig | None = None
    databrew: DataBrewConfig | None = None

    _name = field_validator("name")(check_identifier)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.match(r"^([A-Za-z0-9_.=-]+/)+$", value):
            raise ValueError("expected an S3 key prefix such as 'customers/' (ending with '/')")
        return value

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def curated_columns(self) -> list[str]:
        """The columns the feature ETL job (``glue/runtime/feature_etl.py``) writes: split
        and one-hot sources replaced by their outputs, the log column added, ``drop_columns``
        removed."""
        return feature_columns(self.column_names, self.features.spec)

    @property
    def one_hot_columns(self) -> list[str]:
        """The 0/1 columns the one-hot step adds, one per category, as the ETL names them."""
        return list(self.features.spec.one_hot.output_columns)

    @property
    def engineered_columns(self) -> list[str]:
        """The columns after every feature step but ``drop_columns``."""
        return engineered_columns(self.column_names, self.features.spec)


class DataConfig(_Strict):
    """The data layer: lake, Glue settings and the datasets."""

    lake: LakeConfig = Field(default_factory=LakeConfig)
    glue: GlueConfig = Field(default_factory=GlueConfig)
    datasets: list[DatasetConfig] = Field(default_factory=list)


def _find_matches_version_problems(at: str, version: str) -> list[Problem]:
    # "Using FindMatches in a visual job" (find-matches-visual-job): FindMatches works only
    # with Glue 2.0; "AWS Glue version support policy" (glue-version-support-policy): Glue
    # 2.0 reached end of life on 2026-04-01, after which no task run starts.
    if version not in ML_TRANSFORM_GLUE_VERSIONS:
        return [
            (
                f"{at}.find_matches.glue_version",
                version,
                f"expected one of {list(ML_TRANSFORM_GLUE_VERSIONS)}, the Glue versions "
                "FindMatches ML transforms run on",
            )
        ]
    if version in GLUE_END_OF_LIFE:
        return [
            (
                f"{at}.find_matches",
                {"glue_version": version},
                f"no find_matches: FindMatches runs only on Glue "
                f"{', '.join(ML_TRANSFORM_GLUE_VERSIONS)}, which reached end of life on "
                f"{GLUE_END_OF_LIFE[version]}, so the transform could never be trained or run",
            )
        ]
    return []


def _spec_field(field: str) -> str:
    """A field of the feature ETL job's spec problems as a config field path."""
    return re.sub(r"\[(\d+)\]", r".\1", field)


def data_problems(data: DataConfig) -> list[tuple[str, Any, str]]:
    """Cross-field checks of the data section: (field, value received, what is expected)."""
    problems: list[tuple[str, Any, str]] = []
    zones = data.lake.zones
    names = [d.name for d in data.datasets]
    for dupe in sorted({n for n in names if names.count(n) > 1}):
        problems.append(("data.datasets", dupe, "expected unique dataset names"))
    for i, ds in enumerate(data.datasets):
        at = f"data.datasets.{i}"
        for field in ("source_zone", "target_zone"):
            zone = getattr(ds, field)
            if zone not in zones:
                problems.append((f"{at}.{field}", zone, f"expected one of the lake zones {zones}"))
        if ds.source_zone == ds.target_zone:
            problems.append(
                (f"{at}.target_zone", ds.target_zone, "expected a zone other than source_zone")
            )
        columns = ds.column_names
        if len(set(columns)) != len(columns):
            problems.append((f"{at}.columns", columns, "expected unique column names"))
        f = ds.features
        refs = [
            ("features.one_hot.column", f.one_hot.column),
            ("features.log_transform.column", f.log_transform.column),
            *([("features.split.column", f.split.column)] if f.split else []),
            ("features.dedup.latest_by", f.dedup.latest_by),
            *[("features.dedup.keys", k) for k in f.dedup.keys],
            *[("features.partition_by", p) for p in f.partition_by],
        ]
        if ds.find_matches:
            refs.append(("find_matches.primary_key", ds.find_matches.primary_key))
            problems += _find_matches_version_problems(at, ds.find_matches.glue_version)
        if ds.databrew:
            refs += [("databrew.fill_missing.column", m.column) for m in ds.databrew.fill_missing]
            refs += [
                ("databrew.quality.complete_columns", c)
                for c in ds.databrew.quality.complete_columns
            ]
            refs += [
                ("databrew.quality.ranges.column", r.column) for r in ds.databrew.quality.ranges
            ]
        for field, column in refs:
            if column not in columns:
                problems.append(
                    (f"{at}.{field}", column, f"expected a column of the dataset {columns}")
                )
        # What the Glue job's own parser refuses (a column used after a step drops it, one
        # made twice, a repeated name...), in the config's words.
        try:
            parse_feature_spec(f.spec)
        except FeatureSpecError as error:
            problems += [
                (f"{at}.features.{_spec_field(field)}", value, f"expected {expected}")
                for field, value, expected in error.problems
            ]
        engineered = ds.engineered_columns
        for column in f.drop_columns:
            if column not in engineered:
                problems.append(
                    (
                        f"{at}.features.drop_columns",
                        column,
                        f"expected a column the feature steps leave {engineered}",
                    )
                )
        if ds.databrew and f.split:
            # DataBrew names split parts itself (<column>_1, _2...), so the recipe could not
            # drop them by these names: drop the split source instead.
            for column in set(f.drop_columns) & set(f.split.into):
                problems.append(
                    (
                        f"{at}.features.drop_columns",
                        column,
                        f"expected no split output with databrew; drop {f.split.column!r} "
                        "and leave out the split",
                    )
                )
    return problems

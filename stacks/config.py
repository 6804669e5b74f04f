"""Per-environment configuration: the typed models of the platform's settings.

The settings live in the layered files of ``config/`` (``base.yaml``, one ``<env>.yaml`` per
environment, ``delivery.yaml``; merged as :mod:`stacks.config_files` describes), or, for
tests, in the context keys ``mlops:environments`` and ``mlops:delivery``. :func:`load_config`
turns them into :class:`PlatformConfig` and fails with a single :class:`ConfigError` that
lists *every* problem found in *every* environment, each naming the file(s) the value came
from, the environment, the field, the value received and what is expected.

Only ``app.py`` and ``stacks/`` read configuration; constructs receive typed props.
Later capabilities add their own sections to :class:`EnvironmentConfig`; unknown keys are
rejected so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlops_constructs.glue.props import GLUE_END_OF_LIFE, ML_TRANSFORM_GLUE_VERSIONS
from mlops_constructs.monitoring.props import (
    BIAS_METRICS,
    DEFAULT_QUALITY_METRIC,
    QUALITY_METRICS,
    is_monitor_cron,
)
from mlops_constructs.serving.props import Rollout, is_burstable, rollout_problems, smallest_fleet
from mlops_constructs.training import xgboost_channels

if TYPE_CHECKING:
    from stacks.config_files import LayeredConfig

ENVIRONMENTS_CONTEXT_KEY = "mlops:environments"
DELIVERY_CONTEXT_KEY = "mlops:delivery"
SELECT_CONTEXT_KEY = "mlops:select"

#: The interface endpoints the platform's private subnets can use, by short name.
INTERFACE_ENDPOINTS: tuple[str, ...] = (
    "sagemaker.api",
    "sagemaker.runtime",
    "ecr.api",
    "ecr.dkr",
    "sts",
    "logs",
    "monitoring",
    "kms",
    "secretsmanager",
    "glue",
)

#: Retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_TAG_VALUE_RE = re.compile(r"^[\w\s.:/=+\-@]{1,256}$")
_AZ_SUFFIX_RE = re.compile(r"^[a-z]$")


class ConfigError(ValueError):
    """Invalid configuration: ``problems`` holds one human-readable line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"Invalid platform configuration ({count} {noun}); nothing was synthesized:\n{lines}"
        )


@cache
def known_regions() -> frozenset[str]:
    """The AWS regions aws-cdk-lib knows about (offline, from its bundled region facts)."""
    from aws_cdk import region_info

    return frozenset(r.name for r in region_info.RegionInfo.regions)


_INSTANCE_TYPE_RE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


def _instance_type(value: str) -> str:
    if not _INSTANCE_TYPE_RE.match(value):
        raise ValueError("expected a SageMaker instance type such as 'ml.m5.large'")
    return value


def _account_id(value: Any) -> Any:
    if not isinstance(value, str) or not _ACCOUNT_RE.match(value):
        raise ValueError("expected a 12-digit AWS account id as a string, such as '111122223333'")
    return value


def _known_region(value: str) -> str:
    regions = known_regions()
    if value not in regions:
        close = difflib.get_close_matches(value, sorted(regions), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"expected a known AWS region such as 'eu-west-1'{hint}")
    return value


class Tier(StrEnum):
    """What an environment is for; it decides the safety rules applied to it."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class TagsConfig(_Strict):
    """Tags applied to every resource of the environment (the ``environment`` tag is added)."""

    project: str
    cost_center: str
    owner: str
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("project", "cost_center", "owner")
    @classmethod
    def _tag_value(cls, value: str) -> str:
        if not _TAG_VALUE_RE.match(value):
            raise ValueError(
                "expected 1-256 characters of letters, digits, spaces and _ . : / = + - @"
            )
        return value


class ExistingVpcConfig(_Strict):
    """An existing VPC, described by attributes so that synthesis needs no lookup."""

    vpc_id: str
    vpc_cidr_block: ipaddress.IPv4Network
    availability_zones: list[str] = Field(min_length=1)
    isolated_subnet_ids: list[str] = Field(min_length=1)
    isolated_subnet_route_table_ids: list[str] = Field(min_length=1)

    @field_validator("vpc_id")
    @classmethod
    def _vpc_id(cls, value: str) -> str:
        if not re.match(r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$", value):
            raise ValueError("expected a VPC id such as 'vpc-0a1b2c3d4e5f67890'")
        return value

    @field_validator("isolated_subnet_ids")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.match(r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$", v)]
        if bad:
            raise ValueError(f"expected subnet ids such as 'subnet-0a1b2c3d4e5f67890', not {bad}")
        return value

    @field_validator("isolated_subnet_route_table_ids")
    @classmethod
    def _route_tables(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.match(r"^rtb-[0-9a-f]{8}([0-9a-f]{9})?$", v)]
        if bad:
            raise ValueError(f"expected route table ids such as 'rtb-0a1b2c3d4e5f67890', not {bad}")
        return value

    @model_validator(mode="after")
    def _one_subnet_per_az(self) -> ExistingVpcConfig:
        azs = len(self.availability_zones)
        if len(self.isolated_subnet_ids) != azs or len(self.isolated_subnet_route_table_ids) != azs:
            raise ValueError(
                "expected one isolated subnet and one route table per availability zone "
                f"({azs} zones, {len(self.isolated_subnet_ids)} subnets, "
                f"{len(self.isolated_subnet_route_table_ids)} route tables)"
            )
        return self


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"expected one of CloudWatch Logs' retention periods {list(LOG_RETENTION_DAYS)}"
        )
    return value


class LogsConfig(_Strict):
    """How long the platform's Lambda functions keep their logs (days)."""

    function_retention_days: int = 365

    _retention = field_validator("function_retention_days")(_log_retention)


class NetworkConfig(_Strict):
    """The environment's network: a new VPC (default) or an existing one."""

    max_azs: int = Field(default=2, ge=1, le=6)
    availability_zones: list[str] | None = None
    cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.0.0.0/16")
    #: None: every endpoint in a new VPC, none in an existing one.
    interface_endpoints: list[str] | None = None
    flow_log_retention_days: int = 365
    existing_vpc: ExistingVpcConfig | None = None

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not 16 <= value.prefixlen <= 24:
            raise ValueError("expected a CIDR block from /16 to /24, such as '10.20.0.0/16'")
        if not value.is_private:
            raise ValueError("expected a private (RFC 1918) CIDR block")
        return value

    @field_validator("interface_endpoints")
    @classmethod
    def _endpoints(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        unknown = [v for v in value if v not in INTERFACE_ENDPOINTS]
        if unknown:
            raise ValueError(
                f"unknown endpoint(s) {unknown}; expected any of {list(INTERFACE_ENDPOINTS)}"
            )
        if len(set(value)) != len(value):
            raise ValueError("expected each endpoint once")
        return value

    _retention = field_validator("flow_log_retention_days")(_log_retention)

    @model_validator(mode="after")
    def _azs(self) -> NetworkConfig:
        if self.availability_zones is not None and len(self.availability_zones) != self.max_azs:
            raise ValueError(
                f"expected exactly max_azs ({self.max_azs}) availability_zones, "
                f"got {len(self.availability_zones)}"
            )
        return self


class KeysConfig(_Strict):
    """Customer-managed KMS keys."""

    pending_window_days: int = Field(default=30, ge=7, le=30)
    rotation_period_days: int = Field(default=365, ge=90, le=2560)


class ExternalCredentialConfig(_Strict):
    """A credential for an external data source, generated by Secrets Manager."""

    name: str
    username: str = Field(min_length=1, max_length=128)
    description: str = Field(default="External data source credential", max_length=2048)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z][A-Za-z0-9]{0,62}$", value):
            raise ValueError("expected an alphanumeric construct id starting with a letter")
        return value


class SecretsConfig(_Strict):
    external_credentials: list[ExternalCredentialConfig] = Field(default_factory=list)

    @field_validator("external_credentials")
    @classmethod
    def _unique(cls, value: list[ExternalCredentialConfig]) -> list[ExternalCredentialConfig]:
        names = [c.name for c in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"expected unique names, {dupes} repeat")
        return value


_CRON_FIELD = {
    "minutes": re.compile(r"^(\*|[0-5]?\d([-/,][0-5]?\d)*(/\d+)?)$"),
    "hours": re.compile(r"^(\*|[01]?\d|2[0-3])([-/,]([01]?\d|2[0-3]))*(/\d+)?$|^\*(/\d+)?$"),
    "day_of_month": re.compile(r"^(\?|\*|L|W|([1-9]|[12]\d|3[01])W?([-,/]([1-9]|[12]\d|3[01]))*)$"),
    "month": re.compile(
        r"^(\*|((1[0-2]|0?[1-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)"
        r"([-,/](1[0-2]|0?[1-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC))*))(/\d+)?$"
    ),
    "day_of_week": re.compile(
        r"^(\?|\*|L|([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(#[1-5]|L)?"
        r"([-,]([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT))*)$"
    ),
    "year": re.compile(r"^(\*|(19[7-9]\d|2[01]\d\d)([-,/](19[7-9]\d|2[01]\d\d|\d+))*)$"),
}


def check_aws_cron(value: str) -> str:
    """Validate an EventBridge/Glue/DataBrew schedule ``cron(m h dom mon dow year)``."""
    match = re.match(r"^cron\((.*)\)$", value.strip())
    if not match:
        raise ValueError("expected a schedule such as 'cron(0 2 * * ? *)'")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ValueError(
            f"expected 6 cron fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(fields)}"
        )
    bad = [
        name
        for (name, pattern), field in zip(_CRON_FIELD.items(), fields, strict=True)
        if not pattern.match(field.upper())
    ]
    if bad:
        raise ValueError(f"invalid cron field(s) {bad}")
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be '?'")
    return value.strip()


_IDENT_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_GLUE_TYPE_RE = re.compile(
    r"^(string|boolean|tinyint|smallint|int|bigint|float|double|date|timestamp|"
    r"decimal\(\d{1,2},\d{1,2}\))$"
)


def sanitize_category(category: str) -> str:
    """A one-hot category as a column-name part, as the feature ETL job names it."""
    return re.sub(r"[^a-z0-9]+", "_", category.strip().lower()).strip("_")


def _identifier(value: str) -> str:
    if not _IDENT_RE.match(value):
        raise ValueError(
            "expected a lower-case identifier: letters, digits, '_', starting with a letter"
        )
    return value


class LakeConfig(_Strict):
    """The S3 data lake: zones and lifecycle."""

    zones: list[str] = Field(default_factory=lambda: ["raw", "curated", "analytics"], min_length=1)
    enforce_kms_uploads: bool = True
    noncurrent_version_expiration_days: int = Field(default=90, ge=1, le=3650)
    abort_incomplete_multipart_days: int = Field(default=7, ge=1, le=365)
    intelligent_tiering_after_days: int | None = Field(default=30, ge=0)
    access_log_retention_days: int = Field(default=365, ge=1)

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: list[str]) -> list[str]:
        bad = [z for z in value if not re.match(r"^[a-z][a-z0-9-]{0,19}$", z)]
        if bad:
            raise ValueError(f"zone names {bad} are not 1-20 lower-case letters, digits or '-'")
        if len(set(value)) != len(value):
            raise ValueError("expected each zone once")
        return value


class GlueConfig(_Strict):
    """Glue jobs and crawlers of the environment."""

    glue_version: Literal["4.0", "5.0"] = "5.0"
    # G.025X is for streaming jobs only; the feature job is a batch (glueetl) job.
    worker_type: Literal["G.1X", "G.2X", "G.4X", "G.8X"] = "G.1X"
    number_of_workers: int = Field(default=2, ge=2, le=299)
    timeout_minutes: int = Field(default=60, ge=1, le=2880)
    max_retries: int = Field(default=1, ge=0, le=10)
    workflow_schedule: str = "cron(0 2 * * ? *)"
    crawler_schedule: str = "cron(0 6 * * ? *)"
    update_behavior: Literal["UPDATE_IN_DATABASE", "LOG"] = "UPDATE_IN_DATABASE"
    delete_behavior: Literal["LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE"] = "LOG"

    _cron = field_validator("workflow_schedule", "crawler_schedule")(check_aws_cron)


class ColumnConfig(_Strict):
    name: str
    type: str = "string"

    _name = field_validator("name")(_identifier)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not _GLUE_TYPE_RE.match(value):
            raise ValueError(
                "expected a Glue column type such as string, bigint, double, timestamp"
            )
        return value


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

    _into = field_validator("into")(lambda v: [_identifier(x) for x in v])


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


class FillMissingConfig(_Strict):
    column: str
    strategy: Literal["mean", "median", "most_frequent", "custom"] = "mean"
    value: str | None = None

    @model_validator(mode="after")
    def _value(self) -> FillMissingConfig:
        if (self.strategy == "custom") != (self.value is not None):
            raise ValueError("give 'value' exactly when strategy is 'custom'")
        return self


class RangeRuleConfig(_Strict):
    column: str
    min: float
    max: float

    @model_validator(mode="after")
    def _order(self) -> RangeRuleConfig:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class QualityConfig(_Strict):
    """DataBrew data-quality rules checked by the profile job."""

    complete_columns: list[str] = Field(min_length=1)
    max_missing_percent: float = Field(default=0.0, ge=0, le=100)
    ranges: list[RangeRuleConfig] = Field(default_factory=list)


class DataBrewConfig(_Strict):
    schedule: str = "cron(0 4 * * ? *)"
    fill_missing: list[FillMissingConfig] = Field(min_length=1)
    quality: QualityConfig
    max_capacity: int = Field(default=5, ge=1, le=149)
    timeout_minutes: int = Field(default=120, ge=1, le=2880)

    _cron = field_validator("schedule")(check_aws_cron)


class DatasetConfig(_Strict):
    """A dataset landing in the raw zone, and what the platform makes of it."""

    name: str
    source_zone: str = "raw"
    target_zone: str = "curated"
    prefix: str
    csv_delimiter: Literal[",", ";", "|", "\t"] = ","
    columns: list[ColumnConfig] = Field(min_length=1)
    features: FeaturesConfig
    find_matches: FindMatchesConfig | None = None
    databrew: DataBrewConfig | None = None

    _name = field_validator("name")(_identifier)

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
        return [c for c in self.engineered_columns if c not in self.features.drop_columns]

    @property
    def one_hot_columns(self) -> list[str]:
        """The 0/1 columns the one-hot step adds, one per category, as the ETL names them."""
        f = self.features
        return [f"{f.one_hot.column}_{sanitize_category(c)}" for c in f.one_hot.categories]

    @property
    def engineered_columns(self) -> list[str]:
        """The columns after every feature step but ``drop_columns``."""
        f = self.features
        split_source = [f.split.column] if f.split else []
        kept = [c for c in self.column_names if c not in (f.one_hot.column, *split_source)]
        split_into = f.split.into if f.split else []
        return [*kept, *split_into, *self.one_hot_columns, f"{f.log_transform.column}_log"]


class DataConfig(_Strict):
    """The data layer: lake, Glue settings and the datasets."""

    lake: LakeConfig = Field(default_factory=LakeConfig)
    glue: GlueConfig = Field(default_factory=GlueConfig)
    datasets: list[DatasetConfig] = Field(default_factory=list)


#: A problem found by a cross-field check: (field, value received, what is expected).
Problem = tuple[str, Any, str]


def macie_problems(env: EnvironmentConfig) -> list[tuple[str, Any, str]]:
    """Cross-field checks of the macie section."""
    macie = env.macie
    if macie is None:
        return []
    zones = env.data.lake.zones
    problems: list[tuple[str, Any, str]] = [
        ("macie.zones", zone, f"expected one of the lake zones {zones}")
        for zone in macie.zones or []
        if zone not in zones
    ]
    if (
        env.tier != Tier.DEV
        and macie.remediation == "quarantine"
        and not macie.security_admin_role_arn
    ):
        problems.append(
            (
                "macie.security_admin_role_arn",
                None,
                "expected the role of the security admins who review the quarantine "
                "(required with quarantine outside dev: nobody else can read it)",
            )
        )
    for field, items in (
        ("macie.custom_data_identifiers", macie.custom_data_identifiers),
        ("macie.allow_lists", macie.allow_lists),
    ):
        names = [i.name for i in items]
        for dupe in sorted({n for n in names if names.count(n) > 1}):
            problems.append((field, dupe, "expected unique names"))
    return problems


def _bias_threshold_problems(at: str, t: TrainingConfig, dataset: DatasetConfig) -> list[Problem]:
    """Bias thresholds that select no row or every row of a 0/1 column.

    The splits are float CSV columns, which Clarify treats as continuous (smclarify
    ``bias/metrics/common.py`` ``series_datatype``): a facet's or label's single value is a
    threshold and the selected rows those above it, up to the column's maximum (smclarify
    ``bias/report.py`` ``_interval_index``; "Configure the Analysis",
    https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-configure-analysis.html).
    For a 0.0/1.0 column only a threshold in [0, 1) selects the 1.0 rows. A regression
    label's range is the data's, unknown here.
    """
    problems: list[Problem] = []
    facets = t.bias_facet_values_or_threshold
    if t.bias_facet in dataset.one_hot_columns and not all(0 <= v < 1 for v in facets):
        problems.append(
            (
                f"{at}.bias_facet_values_or_threshold",
                facets,
                f"expected thresholds in [0, 1) for the one-hot column {t.bias_facet} "
                "(a threshold; Clarify's group is the rows above it)",
            )
        )
    labels = t.bias_label_values_or_threshold or []
    if t.problem_type == "binary_classification" and not all(0 <= v < 1 for v in labels):
        problems.append(
            (
                f"{at}.bias_label_values_or_threshold",
                labels,
                "expected thresholds in [0, 1) for the 0/1 label of a binary classification "
                "model (a threshold; Clarify's positive outcome is the labels above it)",
            )
        )
    return problems


def training_problems(env: EnvironmentConfig) -> list[tuple[str, Any, str]]:
    """Cross-field checks of the training section against the data section and the tier."""
    problems: list[tuple[str, Any, str]] = []
    datasets = {d.name: d for d in env.data.datasets}
    names = [t.model_name for t in env.training]
    for dupe in sorted({n for n in names if names.count(n) > 1}):
        problems.append(("training", dupe, "expected unique model names"))
    for i, t in enumerate(env.training):
        at = f"training.{i}"
        dataset = datasets.get(t.dataset)
        if dataset is None:
            problems.append(
                (f"{at}.dataset", t.dataset, f"expected one of the datasets {list(datasets)}")
            )
        else:
            curated = dataset.curated_columns
            for name, column in (
                ("label_column", t.label_column),
                ("key_column", t.key_column),
                *(("feature_columns", c) for c in t.feature_columns),
            ):
                if column not in curated:
                    problems.append(
                        (
                            f"{at}.{name}",
                            column,
                            f"expected a curated column of {t.dataset} {curated}",
                        )
                    )
            if t.bias_facet not in t.feature_columns:
                problems.append(
                    (f"{at}.bias_facet", t.bias_facet, "expected one of the feature_columns")
                )
            problems += _bias_threshold_problems(at, t, dataset)
            if t.label_column in t.feature_columns:
                problems.append(
                    (f"{at}.feature_columns", t.label_column, "expected features without the label")
                )
        if env.tier != Tier.DEV and t.approval_status != "PendingManualApproval":
            problems.append(
                (
                    f"{at}.approval_status",
                    t.approval_status,
                    "expected PendingManualApproval outside dev",
                )
            )
    return problems


def _endpoint_problems(env: EnvironmentConfig, at: str, e: EndpointSettings) -> list[Problem]:
    """Checks shared by the multi-model and the monitored endpoints."""
    problems: list[Problem] = []
    a = e.autoscaling
    if a is not None:
        if is_burstable(e.instance_type):
            problems.append(
                (
                    f"{at}.instance_type",
                    e.instance_type,
                    "expected a non-burstable type with autoscaling (SageMaker cannot scale "
                    "ml.t* instances): choose e.g. ml.m5.large or remove autoscaling",
                )
            )
        if a.min_capacity > a.max_capacity:
            problems.append(
                (
                    f"{at}.autoscaling.min_capacity",
                    a.min_capacity,
                    f"expected at most max_capacity ({a.max_capacity})",
                )
            )
        elif not a.min_capacity <= e.instance_count <= a.max_capacity:
            problems.append(
                (
                    f"{at}.instance_count",
                    e.instance_count,
                    f"expected within the autoscaling bounds {a.min_capacity}-{a.max_capacity}",
                )
            )
        off = a.off_hours
        if off is not None and not off.min_capacity <= off.max_capacity <= a.max_capacity:
            problems.append(
                (
                    f"{at}.autoscaling.off_hours",
                    {"min_capacity": off.min_capacity, "max_capacity": off.max_capacity},
                    f"expected min_capacity <= max_capacity <= {a.max_capacity}",
                )
            )
    # The documented canary/linear limits against the smallest fleet (serving.py names the
    # SageMaker documentation pages).
    fleet = smallest_fleet(e.instance_count, a)
    if env.tier == Tier.PROD:
        # Prod must keep 2 instances (checked below); one problem for a fleet that is too small.
        fleet = max(fleet, 2)
    rollout = Rollout(**e.rollout.model_dump())
    problems += [(f"{at}.{f}", v, x) for f, v, x in rollout_problems(rollout, fleet)]
    if env.tier == Tier.PROD:
        lowest = min(e.instance_count, a.min_capacity if a else e.instance_count)
        if a is not None and a.off_hours is not None:
            lowest = min(lowest, a.off_hours.min_capacity)
        if lowest < 2:
            problems.append(
                (
                    f"{at}.instance_count",
                    lowest,
                    "expected at least 2 instances at all times in prod (also as autoscaling "
                    "and off-hours minimum), so that one Availability Zone can fail",
                )
            )
    return problems


def serving_problems(env: EnvironmentConfig) -> list[Problem]:
    """Cross-field checks of the serving and monitoring sections."""
    problems: list[Problem] = []
    trained = {t.model_name: t for t in env.training}
    serving = env.serving
    if serving is not None:
        problems += _endpoint_problems(env, "serving", serving)
        for model in serving.models:
            if model not in trained:
                problems.append(
                    ("serving.models", model, f"expected a training model {sorted(trained)}")
                )
        images = {
            (trained[m].algorithm, trained[m].algorithm_version)
            for m in serving.models
            if m in trained
        }
        if len(images) > 1:
            problems.append(
                (
                    "serving.models",
                    serving.models,
                    f"expected models of one algorithm and version (one container), got "
                    f"{sorted(images)}",
                )
            )
    seen: set[str] = set()
    for i, m in enumerate(env.monitoring):
        at = f"monitoring.{i}"
        problems += _endpoint_problems(env, at, m)
        if m.model in seen:
            problems.append((f"{at}.model", m.model, "expected each model monitored once"))
        seen.add(m.model)
        if m.capture_percentage == 0:
            problems.append(
                (
                    f"{at}.capture_percentage",
                    0,
                    "expected data capture on (1-100): every monitor reads the captured traffic",
                )
            )
        t = trained.get(m.model)
        if t is None:
            problems.append(
                (f"{at}.model", m.model, f"expected a training model {sorted(trained)}")
            )
            continue
        metrics = QUALITY_METRICS[t.problem_type]
        metric = m.quality_metric or DEFAULT_QUALITY_METRIC[t.problem_type]
        if metric not in metrics:
            problems.append(
                (
                    f"{at}.quality_metric",
                    metric,
                    f"expected one of {sorted(metrics)} for {t.problem_type} model {m.model}",
                )
            )
        else:
            low, high = metrics[metric]
            if not low <= m.quality_threshold <= high:
                problems.append(
                    (
                        f"{at}.quality_threshold",
                        m.quality_threshold,
                        f"expected {metric} within [{low}, {high}]",
                    )
                )
        b = m.bias
        for name, value in b.thresholds.items():
            if name not in BIAS_METRICS:
                problems.append(
                    (f"{at}.bias.thresholds", name, f"expected one of {list(BIAS_METRICS)}")
                )
                continue
            low, high = BIAS_METRICS[name]
            if not 0 < value < high:
                problems.append(
                    (
                        f"{at}.bias.thresholds.{name}",
                        value,
                        f"expected above 0 and below {high} ({name} ranges over [{low}, {high}]; "
                        "the alarm fires above it)",
                    )
                )
        if "CDDL" in b.thresholds and b.group_variable is None:
            problems.append(
                (f"{at}.bias.group_variable", None, "expected a feature column: CDDL needs one")
            )
        if b.group_variable is not None and b.group_variable not in t.feature_columns:
            problems.append(
                (
                    f"{at}.bias.group_variable",
                    b.group_variable,
                    f"expected one of the feature_columns {t.feature_columns}",
                )
            )
        if t.problem_type == "regression" and b.label_threshold is None:
            problems.append(
                (
                    f"{at}.bias.label_threshold",
                    None,
                    f"expected the value of {t.label_column} above which an outcome counts as "
                    "positive (a regression model's bias needs one)",
                )
            )
    return problems


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
        consumed = {f.one_hot.column, *([f.split.column] if f.split else []), *f.drop_columns}
        for column in f.partition_by:
            if column in consumed:
                problems.append(
                    (f"{at}.features.partition_by", column, "expected a column the features keep")
                )
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
        if len(set(f.drop_columns)) != len(f.drop_columns):
            problems.append(
                (f"{at}.features.drop_columns", f.drop_columns, "expected each column once")
            )
    return problems


class CustomDataIdentifierConfig(_Strict):
    """A Macie custom data identifier: a regex, optionally near one of ``keywords``."""

    name: str
    regex: str = Field(min_length=1, max_length=512)
    keywords: list[str] = Field(default_factory=list, max_length=50)
    maximum_match_distance: int = Field(default=50, ge=1, le=300)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        bad = [k for k in value if not 3 <= len(k) <= 90]
        if bad:
            raise ValueError(f"expected keywords of 3 to 90 characters (Macie's limits), not {bad}")
        return value

    description: str = Field(default="", max_length=512)

    _name = field_validator("name")(_identifier)

    @field_validator("regex")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"expected a valid regular expression ({error})") from None
        return value


class AllowListConfig(_Strict):
    """Text Macie ignores: matches of ``regex`` are not reported as sensitive."""

    name: str
    regex: str = Field(min_length=1, max_length=512)
    description: str = Field(default="", max_length=512)

    _name = field_validator("name")(_identifier)


_SEVERITY_SCORES = {"Low": 1, "Medium": 2, "High": 3}


class MacieConfig(_Strict):
    """Sensitive-data discovery with Amazon Macie, and what happens to what it finds."""

    manage_macie_session: bool = True
    finding_publishing_frequency: Literal["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"] = "ONE_HOUR"
    schedule: Literal["daily", "weekly", "monthly"] = "weekly"
    weekly_day: Literal[
        "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"
    ] = "SUNDAY"
    zones: list[str] | None = None
    sampling_percentage: int = Field(default=100, ge=1, le=100)
    custom_data_identifiers: list[CustomDataIdentifierConfig] = Field(default_factory=list)
    allow_lists: list[AllowListConfig] = Field(default_factory=list)
    min_severity: Literal["Low", "Medium", "High"] = "Medium"
    remediation: Literal["quarantine", "tag"] = "quarantine"
    security_admin_role_arn: str | None = None

    @field_validator("security_admin_role_arn")
    @classmethod
    def _admin(cls, value: str | None) -> str | None:
        if value is not None and not re.match(
            r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$", value
        ):
            raise ValueError(
                "expected an IAM role ARN such as 'arn:aws:iam::111122223333:role/SecurityAdmin'"
            )
        return value

    @property
    def min_severity_score(self) -> int:
        return _SEVERITY_SCORES[self.min_severity]


#: Built-in algorithms the training pipeline can tune, with their objective metrics.
ALGORITHM_METRICS: dict[str, dict[str, tuple[str, ...]]] = {
    "xgboost": {
        "binary_classification": (
            "validation:auc",
            "validation:logloss",
            "validation:error",
            "validation:f1",
        ),
        "regression": ("validation:rmse", "validation:mae", "validation:mse"),
    },
}
_MINIMIZE = (
    "validation:logloss",
    "validation:error",
    "validation:rmse",
    "validation:mae",
    "validation:mse",
)


class HyperparameterRangeConfig(_Strict):
    """One tuned hyperparameter: an integer or continuous range, or categorical values."""

    name: str = Field(min_length=1, max_length=256)
    type: Literal["integer", "continuous", "categorical"]
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"

    @model_validator(mode="after")
    def _range(self) -> HyperparameterRangeConfig:
        if self.type == "categorical":
            if not self.values:
                raise ValueError(f"range '{self.name}': expected at least one categorical value")
        elif self.min is None or self.max is None or not self.min < self.max:
            raise ValueError(
                f"range '{self.name}': expected min < max, got min={self.min} max={self.max}"
            )
        return self


class TrainingConfig(_Strict):
    """The model-building pipeline of one model: data, algorithm, tuning, spot, gate."""

    model_name: str
    dataset: str
    label_column: str
    feature_columns: list[str] = Field(min_length=1)
    key_column: str
    bias_facet: str
    problem_type: Literal["binary_classification", "regression"]
    #: The bias baseline's positive outcome: label values, or for regression one threshold
    #: (required). Default for binary classification: [0.5], labels above it (the class 1).
    bias_label_values_or_threshold: list[float] | None = None
    #: The facet's sensitive group: [0.5] by default, rows above it (a one-hot facet's 1.0).
    #: The splits are float CSV columns, and Clarify treats a float column as continuous
    #: (smclarify ``bias/metrics/common.py`` ``series_datatype``): one value is a threshold
    #: and the group the interval (threshold, max] (``bias/report.py`` ``_interval_index``),
    #: so [1] would select no row.
    bias_facet_values_or_threshold: list[float] = Field(default_factory=lambda: [0.5])
    algorithm: str = "xgboost"
    algorithm_version: str = "1.7-1"
    #: TrainingInputMode of the tuning jobs: File, or Pipe to stream the CSV splits.
    input_mode: str = "File"
    objective_metric: str | None = None
    hyperparameter_ranges: list[HyperparameterRangeConfig] = Field(min_length=1)
    static_hyperparameters: dict[str, str] = Field(default_factory=dict)
    max_jobs: int = Field(default=10, ge=1, le=500)
    max_parallel_jobs: int = Field(default=2, ge=1, le=100)
    early_stopping: Literal["Auto", "Off"] = "Auto"
    instance_type: str = "ml.m5.xlarge"
    processing_instance_type: str = "ml.m5.large"
    use_spot: bool = True
    max_runtime_minutes: int = Field(default=60, ge=1, le=40320)
    max_wait_minutes: int = Field(default=120, ge=1, le=40320)
    evaluation_threshold: float = Field(default=0.7)
    approval_status: Literal["PendingManualApproval", "Approved"] = "PendingManualApproval"
    schedule: str = "cron(0 3 ? * SUN *)"
    registry_reader_accounts: list[str] = Field(default_factory=list)

    _model = field_validator("model_name")(_identifier)
    _cron = field_validator("schedule")(check_aws_cron)

    @field_validator("algorithm")
    @classmethod
    def _algorithm(cls, value: str) -> str:
        if value not in ALGORITHM_METRICS:
            raise ValueError(
                f"expected a supported built-in algorithm: {sorted(ALGORITHM_METRICS)}"
            )
        return value

    _instance = field_validator("instance_type", "processing_instance_type")(_instance_type)

    @field_validator("registry_reader_accounts")
    @classmethod
    def _accounts(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not _ACCOUNT_RE.match(a)]
        if bad:
            raise ValueError(f"expected 12-digit account ids, not {bad}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _bias_label_default(cls, data: Any) -> Any:
        # A 0/1 label's positive outcome is the class 1: the float label column is continuous
        # to Clarify, so the threshold 0.5 selects it. A regression label has no default.
        if (
            isinstance(data, dict)
            and data.get("problem_type") == "binary_classification"
            and data.get("bias_label_values_or_threshold") is None
        ):
            return {**data, "bias_label_values_or_threshold": [0.5]}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        problems = []
        metrics = ALGORITHM_METRICS[self.algorithm][self.problem_type]
        if self.objective_metric is not None and self.objective_metric not in metrics:
            problems.append(
                f"objective_metric '{self.objective_metric}' is not one of {list(metrics)} "
                f"for {self.algorithm} {self.problem_type}"
            )
        if self.max_parallel_jobs > self.max_jobs:
            problems.append(
                f"max_parallel_jobs ({self.max_parallel_jobs}) exceeds max_jobs ({self.max_jobs})"
            )
        if self.use_spot and self.max_wait_minutes < self.max_runtime_minutes:
            problems.append(
                f"spot max_wait_minutes ({self.max_wait_minutes}) is shorter than "
                f"max_runtime_minutes ({self.max_runtime_minutes})"
            )
        names = [r.name for r in self.hyperparameter_ranges]
        if len(set(names)) != len(names):
            problems.append(f"hyperparameter ranges repeat a name: {names}")
        # The XGBoost container rejects a channel whose (content type, input mode) it does not
        # register; the table and its source: mlops_constructs/xgboost_channels.py. Doc:
        # https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-how-to-use.html
        channel = xgboost_channels.problem(self.algorithm_version, "text/csv", self.input_mode)
        if channel is not None:
            problems.append(f"input_mode '{self.input_mode}': {channel}")
        labels = self.bias_label_values_or_threshold
        if self.problem_type == "regression" and (labels is None or len(labels) != 1):
            # Clarify: a continuous label's single value is the positive-outcome threshold.
            # https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-configure-analysis.html
            problems.append(
                f"bias_label_values_or_threshold {labels}: a regression label needs one "
                "threshold (labels above it are the positive outcome)"
            )
        if labels is not None and not labels:
            problems.append("bias_label_values_or_threshold []: expected at least one value")
        if not self.bias_facet_values_or_threshold:
            problems.append("bias_facet_values_or_threshold []: expected at least one value")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def objective(self) -> tuple[str, str]:
        """(metric, "Maximize" or "Minimize")."""
        metric = self.objective_metric or ALGORITHM_METRICS[self.algorithm][self.problem_type][0]
        return metric, "Minimize" if metric in _MINIMIZE else "Maximize"


class OffHoursConfig(_Strict):
    """Lower autoscaling bounds from ``start`` until ``end`` (cron, in ``timezone``)."""

    min_capacity: int = Field(ge=1)
    max_capacity: int = Field(ge=1)
    start: str = "cron(0 19 ? * MON-FRI *)"
    end: str = "cron(0 7 ? * MON-FRI *)"
    timezone: str = "UTC"

    _cron = field_validator("start", "end")(check_aws_cron)


class EndpointAutoscalingConfig(_Strict):
    """Target tracking on invocations per instance, optionally on CPU or memory too."""

    min_capacity: int = Field(default=1, ge=1)
    max_capacity: int = Field(default=2, ge=1)
    invocations_per_instance: int = Field(default=100, ge=1)
    scale_in_cooldown_seconds: int = Field(default=600, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(default=120, ge=0, le=3600)
    utilization_metric: Literal["CPUUtilization", "MemoryUtilization"] | None = None
    utilization_target: float = Field(default=70, gt=0, le=1000)
    off_hours: OffHoursConfig | None = None


class RolloutConfig(_Strict):
    """Blue/green traffic shifting of endpoint updates, rolled back on alarms. ``traffic``
    unset: CANARY from 2 instances, ALL_AT_ONCE on one (see serving.rollout_problems)."""

    traffic: Literal["CANARY", "LINEAR", "ALL_AT_ONCE"] | None = None
    # 1-50: SageMaker API Reference, TrafficRoutingConfig (CanarySize <= 50%, LinearStepSize
    # 10-50% of the instances); the per-fleet checks are in serving_problems.
    step_percent: int = Field(default=10, ge=1, le=50)
    wait_seconds: int = Field(default=300, ge=0, le=3600)
    bake_seconds: int = Field(default=600, ge=0, le=3600)


class ShadowConfig(_Strict):
    """A shadow variant that receives a copy of ``traffic_percent`` of the requests."""

    instance_type: str
    instance_count: int = Field(default=1, ge=1)
    traffic_percent: int = Field(default=100, ge=1, le=100)

    _type = field_validator("instance_type")(_instance_type)


class EndpointAlarmsConfig(_Strict):
    """Endpoint alarm thresholds; each must breach ``periods`` consecutive minutes."""

    server_errors_per_minute: int = Field(default=5, ge=0)
    model_latency_p99_ms: int = Field(default=1000, ge=1)
    model_loading_wait_p99_ms: int = Field(default=10000, ge=1)
    cpu_utilization_percent: int = Field(default=90, ge=1, le=10000)
    memory_utilization_percent: int = Field(default=90, ge=1, le=100)
    periods: int = Field(default=3, ge=1, le=60)


class EndpointSettings(_Strict):
    """Instances, data capture, rollout, autoscaling and alarms of one endpoint."""

    instance_type: str = "ml.m5.large"
    instance_count: int = Field(default=1, ge=1)
    capture_percentage: int = Field(default=20, ge=0, le=100)
    autoscaling: EndpointAutoscalingConfig | None = None
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    shadow: ShadowConfig | None = None
    alarms: EndpointAlarmsConfig = Field(default_factory=EndpointAlarmsConfig)

    _type = field_validator("instance_type")(_instance_type)


class ServingConfig(EndpointSettings):
    """The multi-model endpoint and the training ``models`` whose approved versions it gets."""

    models: list[str] = Field(min_length=1)
    #: Deploy each approved model version one delivery at a time, with a lock object (an S3
    #: conditional write); no Lambda concurrency is reserved, so new accounts work too.
    serialize_deployments: bool = True


class MonitorSchedulesConfig(_Strict):
    """Model Monitor crons: hourly, daily at an hour, or every N hours from an hour."""

    data_quality: str = "cron(0 * ? * * *)"
    model_quality: str = "cron(0 4 ? * * *)"
    model_bias: str = "cron(0 5 ? * * *)"
    model_explainability: str = "cron(0 6 ? * * *)"

    @field_validator("*")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not is_monitor_cron(value):
            raise ValueError(
                "expected a Model Monitor schedule: hourly 'cron(0 * ? * * *)', daily "
                "'cron(0 H ? * * *)' or every N hours 'cron(0 H/N ? * * *)'"
            )
        return value


class BiasMonitorConfig(_Strict):
    """The bias monitor's positive outcome, facet value, group variable and thresholds
    (the facet is the model's training ``bias_facet``)."""

    label_threshold: float | None = None
    label_values: list[float] = Field(default_factory=lambda: [1.0], min_length=1)
    facet_value: float = 1
    group_variable: str | None = None
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"DPL": 0.2, "KL": 0.2, "TVD": 0.2}
    )


class MonitoringConfig(EndpointSettings):
    """A single-model endpoint serving one pinned, approved version of a trained ``model``,
    its Model Monitor jobs and alarms, and retraining when drift or quality alarms fire."""

    model: str
    model_package_version: int = Field(ge=1)
    schedules: MonitorSchedulesConfig = Field(default_factory=MonitorSchedulesConfig)
    feature_drift_threshold: float = Field(default=0.2, gt=0, le=1)
    quality_metric: str | None = None
    quality_threshold: float
    bias: BiasMonitorConfig = Field(default_factory=BiasMonitorConfig)
    job_instance_type: str = "ml.m5.xlarge"
    retraining: bool = True
    retraining_cooldown_minutes: int = Field(default=360, ge=1, le=43200)

    _job_type = field_validator("job_instance_type")(_instance_type)


class EnvironmentConfig(_Strict):
    """One deployable environment: where it goes, how it is tagged and what it may destroy."""

    name: str
    tier: Tier
    account: str
    region: str
    removal: Literal["retain", "destroy"] = "retain"
    tags: TagsConfig
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    keys: KeysConfig = Field(default_factory=KeysConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    macie: MacieConfig | None = None
    training: list[TrainingConfig] = Field(default_factory=list)
    serving: ServingConfig | None = None
    monitoring: list[MonitoringConfig] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(
                "expected 1-20 lower-case letters, digits or '-', starting with a letter"
            )
        return value

    _account = field_validator("account", mode="before")(_account_id)
    _region = field_validator("region")(_known_region)

    @field_validator("removal")
    @classmethod
    def _removal(cls, value: str, info: ValidationInfo) -> str:
        tier = info.data.get("tier")
        if value == "destroy" and tier is not None and tier != Tier.DEV:
            raise ValueError(
                f"a {tier.value} environment must retain its data; "
                "'destroy' is allowed only where tier is 'dev'"
            )
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> EnvironmentConfig:
        problems = []
        net = self.network
        azs = net.existing_vpc.availability_zones if net.existing_vpc else net.availability_zones
        wrong = [az for az in azs or [] if not az.startswith(self.region)]
        if wrong:
            problems.append(f"network availability zones {wrong} are not in region {self.region}")
        if self.tier == Tier.PROD and net.existing_vpc is None and net.max_azs < 2:
            problems.append("network.max_azs must be at least 2 in prod so that one zone can fail")
        if net.existing_vpc is None and net.availability_zones is None and net.max_azs > 3:
            problems.append(
                f"network.max_azs is {net.max_azs}: some regions and accounts have only 3 zones, "
                "so list the zone names in network.availability_zones to use more"
            )
        if len(self.resource_prefix) > 24:
            problems.append(
                f"tags.project '{self.tags.project}' makes names of {len(self.resource_prefix)} "
                "characters; expected at most 24 (Glue, DataBrew and Macie names derive from it)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def resource_prefix(self) -> str:
        """The project tag as a name part: lower-case letters, digits and '-'."""
        return re.sub(r"[^a-z0-9]+", "-", self.tags.project.lower()).strip("-") or "mlops"

    @property
    def allows_destroy(self) -> bool:
        """True only where the config explicitly lets data-bearing resources be deleted."""
        return self.removal == "destroy"

    @property
    def pinned_availability_zones(self) -> list[str] | None:
        """AZ names the config pins, or None to let CloudFormation pick (Fn::GetAZs)."""
        net = self.network
        if net.existing_vpc is not None:
            return list(net.existing_vpc.availability_zones)
        if net.availability_zones is not None:
            return list(net.availability_zones)
        return None


class DeliveryConfig(_Strict):
    """The CDK Pipelines delivery pipeline, in the tooling ``account`` and ``region``."""

    enabled: bool = False
    account: str
    region: str
    repository: str
    branch: str = "main"
    connection_arn: str
    environments: list[str] | None = None
    approval_before: list[str] = Field(default_factory=lambda: ["prod"])

    _account = field_validator("account", mode="before")(_account_id)
    _region = field_validator("region")(_known_region)

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not re.match(r"^[\w.-]+/[\w.-]+$", value):
            raise ValueError("expected 'owner/name' of the source repository")
        return value

    @field_validator("connection_arn")
    @classmethod
    def _connection(cls, value: str) -> str:
        if not re.match(
            r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:"
            r"connection/[0-9a-f-]{36}$",
            value,
        ):
            raise ValueError(
                "expected the ARN of a CodeConnections connection "
                "(arn:aws:codeconnections:<region>:<account>:connection/<uuid>)"
            )
        return value


class PlatformConfig(BaseModel):
    """All environments, in the order the config lists them, and which are selected."""

    model_config = ConfigDict(frozen=True)

    environments: tuple[EnvironmentConfig, ...]
    selected: tuple[str, ...]
    delivery: DeliveryConfig | None = None

    def selected_environments(self) -> list[EnvironmentConfig]:
        return [e for e in self.environments if e.name in self.selected]

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)


def _field_path(loc: Iterable[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _allowed_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names a model accepts at ``loc`` (the parent of an unknown key)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return list(current.model_fields) if hasattr(current, "model_fields") else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _describe(env: str, error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    field = _field_path(loc) or "(environment)"
    received = error.get("input")
    if error["type"] == "extra_forbidden":
        allowed = [f for f in _allowed_fields(EnvironmentConfig, loc[:-1]) if f != "name"]
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"environment '{env}', field '{field}': unknown key{hint} Expected one of {allowed}"
    if error["type"] == "missing":
        return f"environment '{env}', field '{field}': missing; this field is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if loc and isinstance(received, Mapping):
        # A model-level check: the input is the whole section, which says nothing useful.
        return f"environment '{env}', field '{field}': {message}"
    if not loc:
        return f"environment '{env}': {message}"
    return f"environment '{env}', field '{field}': got {received!r}; {message}"


def load_config(context: Mapping[str, Any], config_dir: Path | None = None) -> PlatformConfig:
    """Validate the app's configuration and return it typed, or raise one :class:`ConfigError`.

    The environments and the delivery settings come from the layered files of the ``config/``
    folder (``config_dir``, by default the one beside ``app.py``; see
    :mod:`stacks.config_files`), and every problem names the file(s) its value came from.
    A context key ``mlops:environments`` (with ``mlops:delivery``), where given, replaces
    the files entirely: tests use it to check variations.

    The selection ``mlops:select`` (context, e.g. ``-c mlops:select=dev``) is a
    comma-separated list of environment names; all environments are selected when it is
    absent or empty.
    """
    if ENVIRONMENTS_CONTEXT_KEY in context:
        return _validate(
            context.get(ENVIRONMENTS_CONTEXT_KEY),
            context.get(DELIVERY_CONTEXT_KEY),
            context.get(SELECT_CONTEXT_KEY),
            layered=None,
        )
    from stacks.config_files import read_config_dir

    layered = read_config_dir(config_dir)
    if not layered.environments:
        raise ConfigError(layered.problems)
    return _validate(
        layered.environments, layered.delivery, context.get(SELECT_CONTEXT_KEY), layered=layered
    )


_ENV_PROBLEM_RE = re.compile(r"^environment '([^']*)'(?:, field '([^']*)')?")


def _with_files(problem: str, layered: LayeredConfig) -> str:
    """``problem`` prefixed with the file(s) its environment's field came from."""
    match = _ENV_PROBLEM_RE.match(problem)
    if match is None:
        return problem
    files = layered.files_of(match.group(1), match.group(2) or "")
    return f"{' + '.join(files)}: {problem}" if files else problem


def _validate(
    raw_envs: Any, raw_delivery: Any, raw_select: Any, *, layered: LayeredConfig | None
) -> PlatformConfig:
    problems: list[str] = list(layered.problems) if layered is not None else []
    if not isinstance(raw_envs, Mapping) or not raw_envs:
        raise ConfigError(
            [
                f"context key '{ENVIRONMENTS_CONTEXT_KEY}': got {raw_envs!r}; expected an object "
                "mapping each environment name to its settings (see config/ and README.md)"
            ]
        )

    env_problems: list[str] = []
    environments: list[EnvironmentConfig] = []
    for name, raw in raw_envs.items():
        if not isinstance(raw, Mapping):
            env_problems.append(
                f"environment '{name}': got {raw!r}; expected an object of settings"
            )
            continue
        try:
            env = EnvironmentConfig.model_validate({**raw, "name": name})
        except ValidationError as exc:
            env_problems.extend(_describe(name, err) for err in exc.errors())
            continue
        env_problems.extend(
            f"environment '{name}', field '{field}': got {value!r}; {expected}"
            for field, value, expected in [
                *data_problems(env.data),
                *macie_problems(env),
                *training_problems(env),
                *serving_problems(env),
            ]
        )
        environments.append(env)

    env_problems.extend(_shared_account_problems(environments))
    if layered is not None:
        env_problems = [_with_files(p, layered) for p in env_problems]
    problems.extend(env_problems)
    selected = _parse_selection(raw_select, list(raw_envs), problems)
    where = (
        layered.delivery_file
        if layered is not None and layered.delivery_file
        else f"context key '{DELIVERY_CONTEXT_KEY}'"
    )
    delivery = _delivery(raw_delivery, list(raw_envs), problems, where)
    if problems:
        raise ConfigError(problems)
    return PlatformConfig(
        environments=tuple(environments), selected=tuple(selected), delivery=delivery
    )


def _delivery(raw: Any, names: list[str], problems: list[str], where: str) -> DeliveryConfig | None:
    """The delivery section, or None where it is absent or not enabled; ``where`` names its
    source in problems (the context key or the file)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: got {raw!r}; expected an object of settings")
        return None
    try:
        delivery = DeliveryConfig.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            field = _field_path(error["loc"])
            problems.append(
                f"{where}, field '{field}': got {error.get('input')!r}; "
                + str(error["msg"]).removeprefix("Value error, ")
            )
        return None
    if not delivery.enabled:
        return None  # an inert example until enabled: its fields are checked, nothing else
    for field, values in (
        ("environments", delivery.environments or []),
        ("approval_before", delivery.approval_before),
    ):
        unknown = [v for v in values if v not in names]
        if unknown:
            problems.append(
                f"{where}, field '{field}': got {unknown!r}; expected environments of {names}"
            )
    return delivery


def _shared_account_problems(environments: list[EnvironmentConfig]) -> list[str]:
    """Environments sharing an account and region must not both own its Macie session."""
    owners: dict[tuple[str, str], str] = {}
    problems = []
    for env in environments:
        if env.macie is None or not env.macie.manage_macie_session:
            continue
        other = owners.setdefault((env.account, env.region), env.name)
        if other != env.name:
            problems.append(
                f"environment '{env.name}', field 'macie.manage_macie_session': got True; "
                f"'{other}' already manages the Macie session of account {env.account} in "
                f"{env.region} (one session per account and region): set it to false here"
            )
    return problems


def _parse_selection(raw: Any, names: list[str], problems: list[str]) -> list[str]:
    if raw is None or raw == "":
        return names
    if isinstance(raw, str):
        wanted = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        wanted = list(raw)
    else:
        problems.append(
            f"context key '{SELECT_CONTEXT_KEY}': got {raw!r}; expected environment names "
            "separated by commas, such as 'dev' or 'dev,staging'"
        )
        return []
    unknown = [w for w in wanted if w not in names]
    if unknown:
        problems.append(
            f"context key '{SELECT_CONTEXT_KEY}': unknown environment(s) {unknown}; "
            f"expected any of {names}"
        )
    return [n for n in names if n in wanted]

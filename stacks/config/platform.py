"""The platform sections of an environment: tags, network, keys, logs and secrets."""

from __future__ import annotations

import ipaddress
import re

from pydantic import Field, field_validator, model_validator

from mlops_constructs.network import DEFAULT_INTERFACE_ENDPOINTS
from stacks.config._common import _Strict

#: The interface endpoints the platform's private subnets can use, by short name: the
#: Network construct's defaults (declared once, in mlops_constructs.network).
INTERFACE_ENDPOINTS: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS

#: Retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip


_TAG_VALUE_RE = re.compile(r"^[\w\s.:/=+\-@]{1,256}$")
_AZ_SUFFIX_RE = re.compile(r"^[a-z]$")


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

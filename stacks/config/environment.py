"""One environment, the delivery pipeline, and the whole platform configuration."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from stacks.config._common import _NAME_RE, Tier, _account_id, _known_region, _Strict
from stacks.config.data import DataConfig
from stacks.config.macie import MacieConfig
from stacks.config.platform import KeysConfig, LogsConfig, NetworkConfig, SecretsConfig, TagsConfig
from stacks.config.serving import MonitoringConfig, ServingConfig
from stacks.config.training import TrainingConfig, with_default_features


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
    def _defaults(self) -> EnvironmentConfig:
        # A training entry that lists no features gets its dataset's (training.py): set
        # here, where the datasets are known, so every reader sees the same list.
        object.__setattr__(
            self, "training", with_default_features(self.training, self.data.datasets)
        )
        # A multi-model endpoint that names no models serves every trained one.
        if self.serving is not None and not self.serving.models:
            models = [t.model_name for t in self.training]
            object.__setattr__(self, "serving", self.serving.model_copy(update={"models": models}))
        return self

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

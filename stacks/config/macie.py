"""The macie section: sensitive-data discovery and remediation; and its cross-field checks."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from mlops_constructs.core.props import settings_field
from mlops_constructs.macie.props import (
    AllowList,
    CustomDataIdentifier,
    DiscoverySchedule,
    Frequency,
    Weekday,
)
from stacks.config._common import Tier, _Strict

if TYPE_CHECKING:
    from stacks.config.environment import EnvironmentConfig

_SEVERITY_SCORES = {"Low": 1, "Medium": 2, "High": 3}


class MacieConfig(_Strict):
    """Sensitive-data discovery with Amazon Macie, and what happens to what it finds."""

    manage_macie_session: bool = True
    finding_publishing_frequency: Literal["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"] = "ONE_HOUR"
    # The construct's DiscoverySchedule, flat (as the config files have always written it).
    schedule: Frequency = settings_field(DiscoverySchedule, "frequency")
    weekly_day: Weekday = settings_field(DiscoverySchedule, "day")
    zones: list[str] | None = None
    sampling_percentage: int = Field(default=100, ge=1, le=100)
    custom_data_identifiers: list[CustomDataIdentifier] = Field(default_factory=list)
    allow_lists: list[AllowList] = Field(default_factory=list)
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
    def discovery_schedule(self) -> DiscoverySchedule:
        """The schedule, as the discovery construct takes it."""
        return DiscoverySchedule(frequency=self.schedule, day=self.weekly_day)

    @property
    def min_severity_score(self) -> int:
        return _SEVERITY_SCORES[self.min_severity]


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

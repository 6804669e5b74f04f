"""Macie settings: custom data identifiers, allow lists and the discovery schedule."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_SCHEDULES = ("daily", "weekly", "monthly")
_AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
#: Where Macie's service-linked role lives; it reads (and decrypts) the objects it scans.
_MACIE_SLR = "role/aws-service-role/macie.amazonaws.com/AWSServiceRoleForAmazonMacie"


@dataclass(frozen=True)
class CustomDataIdentifier:
    """A Macie custom data identifier: ``regex``, optionally within ``maximum_match_distance``
    characters of one of ``keywords``."""

    name: str
    regex: str
    keywords: Sequence[str] = ()
    maximum_match_distance: int = 50
    description: str = ""


@dataclass(frozen=True)
class AllowList:
    """Text that Macie must not report: matches of ``regex``."""

    name: str
    regex: str
    description: str = ""


@dataclass(frozen=True)
class DiscoverySchedule:
    """How often the classification job runs: ``daily``, ``weekly`` (on ``day``) or
    ``monthly`` (on ``day_of_month``)."""

    frequency: str = "weekly"
    day: str = "SUNDAY"
    day_of_month: int = 1

    def to_api(self) -> dict[str, object]:
        if self.frequency == "daily":
            return {"dailySchedule": {}}
        if self.frequency == "monthly":
            return {"monthlySchedule": {"dayOfMonth": self.day_of_month}}
        return {"weeklySchedule": {"dayOfWeek": self.day}}

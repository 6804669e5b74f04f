"""Macie settings: custom data identifiers, allow lists and the discovery schedule."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from mlops_constructs.core.props import settings

_AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
#: Where Macie's service-linked role lives; it reads (and decrypts) the objects it scans.
_MACIE_SLR = "role/aws-service-role/macie.amazonaws.com/AWSServiceRoleForAmazonMacie"


def _name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            "expected 1-128 letters, digits, '_' or '-', starting with a letter or digit"
        )
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"expected a valid regular expression ({error})") from None
    return value


def _keywords(value: Sequence[str]) -> Sequence[str]:
    bad = [k for k in value if not 3 <= len(k) <= 90]
    if bad:
        raise ValueError(f"expected keywords of 3 to 90 characters (Macie's limits), not {bad}")
    return value


#: A name Macie accepts after the construct's ``name_prefix-``.
_Name = Annotated[str, AfterValidator(_name)]
#: A regular expression of at most 512 characters (Macie's limit), which must compile.
_Regex = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_regex)]


@settings
class CustomDataIdentifier:
    """A Macie custom data identifier: ``regex``, optionally within ``maximum_match_distance``
    characters of one of ``keywords``."""

    name: _Name
    """Its name, after the construct's ``name_prefix-`` (required)."""
    regex: _Regex
    """What sensitive text looks like (required)."""
    keywords: Annotated[Sequence[str], Field(max_length=50), AfterValidator(_keywords)] = ()
    """Words (3-90 characters, at most 50) one of which must be near a match; none by
    default (every match counts)."""
    maximum_match_distance: int = Field(default=50, ge=1, le=300)
    """Characters between a keyword and a match, 50 by default."""
    description: str = Field(default="", max_length=512)
    """A description, none by default."""


@settings
class AllowList:
    """Text that Macie must not report: matches of ``regex``."""

    name: _Name
    """Its name, after the construct's ``name_prefix-`` (required)."""
    regex: _Regex
    """What Macie must ignore (required)."""
    description: str = Field(default="", max_length=512)
    """A description, none by default."""


#: How often the classification job runs.
Frequency = Literal["daily", "weekly", "monthly"]
#: A day of the week, as Macie's weekly schedule names it.
Weekday = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]


@settings
class DiscoverySchedule:
    """How often the classification job runs: ``daily``, ``weekly`` (on ``day``) or
    ``monthly`` (on ``day_of_month``)."""

    frequency: Frequency = "weekly"
    """``daily``, ``weekly`` or ``monthly``; ``weekly`` by default."""
    day: Weekday = "SUNDAY"
    """The day of a weekly run, ``SUNDAY`` by default."""
    day_of_month: int = Field(default=1, ge=1, le=31)
    """The day of a monthly run, 1-31; 1 by default."""

    def to_api(self) -> dict[str, object]:
        if self.frequency == "daily":
            return {"dailySchedule": {}}
        if self.frequency == "monthly":
            return {"monthlySchedule": {"dayOfMonth": self.day_of_month}}
        return {"weeklySchedule": {"dayOfWeek": self.day}}

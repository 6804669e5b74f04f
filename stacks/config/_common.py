"""What every section of the config shares: the context keys, the error, the tier, the
strict base model and the account and region checks."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict

ENVIRONMENTS_CONTEXT_KEY = "mlops:environments"
DELIVERY_CONTEXT_KEY = "mlops:delivery"
SELECT_CONTEXT_KEY = "mlops:select"


_ACCOUNT_RE = re.compile(r"^\d{12}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


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

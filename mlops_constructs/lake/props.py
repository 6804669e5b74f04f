"""Data lake settings: the zones, and the rule that checks them (used by the
:class:`~mlops_constructs.lake.data_lake.DataLake` construct and by the app's config)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from mlops_constructs.core.props import Problem

#: The zones of a lake when none are named: landed data, engineered features, reports.
DEFAULT_ZONES: tuple[str, ...] = ("raw", "curated", "analytics")
#: A zone name: it becomes part of a bucket name and of construct ids.
ZONE_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


def zones_problems(zones: Sequence[str]) -> list[Problem]:
    """What is wrong with ``zones``: none, a name that is not 1-20 lower-case letters,
    digits or '-' starting with a letter, or a name given twice."""
    problems: list[Problem] = []
    if not zones:
        problems.append(("zones", list(zones), "expected at least one zone"))
    bad = [z for z in zones if not ZONE_RE.match(z)]
    if bad:
        problems.append(
            (
                "zones",
                bad,
                "expected 1-20 lower-case letters, digits or '-', starting with a letter",
            )
        )
    if len(set(zones)) != len(zones):
        problems.append(("zones", list(zones), "expected each zone once"))
    return problems

"""Macie settings refuse what Macie refuses, when they are made."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops_constructs.macie import AllowList, DiscoverySchedule


def test_a_schedule_macie_does_not_have_is_refused():
    with pytest.raises(ValidationError) as raised:
        DiscoverySchedule(frequency="yearly", day="FUNDAY")
    fields = {error["loc"][-1] for error in raised.value.errors()}
    assert fields == {"frequency", "day"}


def test_a_valid_schedule_and_the_defaults_are_accepted():
    assert DiscoverySchedule("weekly", day="MONDAY").day == "MONDAY"
    DiscoverySchedule()


def test_names_follow_macies_rule():
    with pytest.raises(ValidationError):
        AllowList(name="has space", regex="x")
    assert AllowList(name="test_customers-1", regex="TEST-[0-9]{4}").name == "test_customers-1"

"""Serving settings: scaling, off-hours, rollout, shadow variant and alarm thresholds,
and the rules that check them (used by the constructs and by the app's config)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Protocol

#: Families whose instances bring local NVMe storage, encrypted by the instance's hardware;
#: SageMaker rejects an endpoint configuration that names a volume KMS key for them
#: (``m5d``, ``c5d``, ``r5d``, ``g4dn``, ``p3dn``, ``p4d``, ``m6id``, ``x2iedn``..., and the
#: GPU/Trainium families below, whose every size has instance storage).
_INSTANCE_STORE = re.compile(r"^ml\.(?:[a-z]+\d+[a-z]*d[a-z]*|g5|g6|g6e|p5|p5e|p5en|trn\d+n?)\.")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_PACKAGE_ARN = re.compile(
    r"^arn:[a-z-]+:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]{1,63}/\d+$"
)
VARIANT = "AllTraffic"
SHADOW_VARIANT = "Shadow"
#: Where the endpoint's data lives in the artifacts bucket, under ``endpoints/<name>/``.
MODELS, CAPTURE, DEPLOYMENTS = "models/", "capture/", "deployments/"


def has_instance_storage(instance_type: str) -> bool:
    """True for instance types with local NVMe storage (no volume KMS key allowed)."""
    return bool(_INSTANCE_STORE.match(instance_type))


def is_burstable(instance_type: str) -> bool:
    """True for ``ml.t*`` types, which SageMaker cannot scale automatically."""
    return instance_type.startswith("ml.t")


@dataclass(frozen=True)
class OffHours:
    """Lower capacity bounds outside working hours: from ``start`` until ``end`` (both
    Application Auto Scaling ``cron(...)`` expressions in ``timezone``)."""

    min_capacity: int
    max_capacity: int
    start: str = "cron(0 19 ? * MON-FRI *)"
    end: str = "cron(0 7 ? * MON-FRI *)"
    timezone: str = "UTC"


@dataclass(frozen=True)
class EndpointAutoScaling:
    """Target tracking on invocations per instance, optionally a second policy on
    ``CPUUtilization`` or ``MemoryUtilization`` (per instance, percent; CPU is summed over
    the instance's vCPUs, so it can exceed 100), and optional off-hours bounds."""

    min_capacity: int = 1
    max_capacity: int = 2
    invocations_per_instance: int = 100
    scale_in_cooldown_seconds: int = 600
    scale_out_cooldown_seconds: int = 120
    utilization_metric: str | None = None
    utilization_target: float = 70.0
    off_hours: OffHours | None = None


@dataclass(frozen=True)
class Rollout:
    """Blue/green traffic shifting of endpoint updates: ``CANARY`` (``step_percent`` of
    capacity first, the rest after ``wait_seconds``), ``LINEAR`` (``step_percent`` at a time,
    every ``wait_seconds``) or ``ALL_AT_ONCE``; the old fleet is kept ``bake_seconds`` before
    it is terminated, and the endpoint's alarms roll the update back until then.

    ``traffic`` ``None`` (the default) chooses by the smallest fleet the variant can have:
    ``CANARY`` from 2 instances, ``ALL_AT_ONCE`` on one instance, which cannot hold a canary
    of at most half the fleet (see :func:`rollout_problems`). ``step_percent`` is 10 by
    default, ``wait_seconds`` 300 and ``bake_seconds`` 600."""

    traffic: str | None = None
    step_percent: int = 10
    wait_seconds: int = 300
    bake_seconds: int = 600

    def for_fleet(self, smallest_fleet: int) -> Rollout:
        """This rollout with ``traffic`` chosen for ``smallest_fleet`` instances if unset."""
        if self.traffic is not None:
            return self
        return replace(self, traffic="CANARY" if smallest_fleet >= 2 else "ALL_AT_ONCE")


class _MinCapacity(Protocol):
    @property
    def min_capacity(self) -> int: ...


class _ScalingBounds(_MinCapacity, Protocol):
    """What :func:`smallest_fleet` reads of autoscaling settings (an
    :class:`EndpointAutoScaling`, or the app config's model of it)."""

    @property
    def off_hours(self) -> _MinCapacity | None: ...


def smallest_fleet(instance_count: int, autoscaling: _ScalingBounds | None) -> int:
    """The fewest instances the variant can run: a blue/green update may start at any time,
    also when autoscaling (or its off-hours bounds) has scaled the fleet in."""
    fleet = instance_count
    if autoscaling is not None:
        fleet = min(fleet, autoscaling.min_capacity)
        if autoscaling.off_hours is not None:
            fleet = min(fleet, autoscaling.off_hours.min_capacity)
    return fleet


def rollout_problems(rollout: Rollout, fleet: int) -> list[tuple[str, object, str]]:
    """What SageMaker would refuse in ``rollout`` for a variant of ``fleet`` instances (its
    smallest, see :func:`smallest_fleet`): ``(field, value, expected)`` per problem."""
    # Limits from the SageMaker API Reference, "TrafficRoutingConfig" (and the CloudFormation
    # AWS::SageMaker::Endpoint TrafficRoutingConfig page): CanarySize "must be less than or
    # equal to 50% of the variant's total instance count", LinearStepSize "must be 10-50%";
    # WaitIntervalInSeconds 0-3600. "Use canary traffic shifting" / "Use linear traffic
    # shifting" (deployment-guardrails-blue-green-canary, -linear) say the same of the fleet.
    # A step is made of whole instances, at least one: we count it rounded up, so it must
    # still be at most half the fleet (one instance is never a canary of at most half).
    traffic = rollout.for_fleet(fleet).traffic
    problems: list[tuple[str, object, str]] = []
    known = traffic in ("CANARY", "LINEAR", "ALL_AT_ONCE")
    if not known:
        problems.append(("rollout.traffic", traffic, "expected CANARY, LINEAR or ALL_AT_ONCE"))
    if traffic == "ALL_AT_ONCE":
        return problems
    low = 10 if traffic == "LINEAR" else 1
    if not low <= rollout.step_percent <= 50:
        problems.append(
            (
                "rollout.step_percent",
                rollout.step_percent,
                f"expected {low} to 50 (percent of the instances) for {traffic}",
            )
        )
    elif known and fleet < 2:
        problems.append(
            (
                "rollout.traffic",
                traffic,
                f"expected ALL_AT_ONCE (still baked and rolled back by the alarms): {traffic} "
                f"shifts at most half of the instances, whole instances, and the variant can "
                f"run with {fleet}; or keep at least 2 instances",
            )
        )
    elif known and math.ceil(fleet * rollout.step_percent / 100) * 2 > fleet:
        problems.append(
            (
                "rollout.step_percent",
                rollout.step_percent,
                f"expected a step of at most half of the {fleet} instances the variant can "
                f"run with, once rounded up to whole instances",
            )
        )
    return problems


@dataclass(frozen=True)
class ShadowVariant:
    """A shadow variant that gets a copy of ``traffic_percent`` of the production requests
    (its responses are captured, never returned to callers)."""

    instance_type: str
    instance_count: int = 1
    traffic_percent: int = 100


@dataclass(frozen=True)
class EndpointAlarmThresholds:
    """Alarm thresholds. Each alarm breaches for ``periods`` consecutive minutes."""

    server_errors_per_minute: int = 5
    model_latency_p99_ms: int = 1000
    model_loading_wait_p99_ms: int = 10000
    cpu_utilization_percent: int = 90
    memory_utilization_percent: int = 90
    periods: int = 3

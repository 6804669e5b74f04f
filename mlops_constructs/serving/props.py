"""Serving settings: scaling, off-hours, rollout, shadow variant and alarm thresholds,
and the rules that check them (used by the constructs and by the app's config)."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Literal

from pydantic import Field

from mlops_constructs.core.props import (
    INSTANCE_TYPE_RE,
    AwsCron,
    InstanceType,
    Problem,
    resolved,
    settings,
)

#: Families whose instances bring local NVMe storage, encrypted by the instance's hardware;
#: SageMaker rejects an endpoint configuration that names a volume KMS key for them
#: (``m5d``, ``c5d``, ``r5d``, ``g4dn``, ``p3dn``, ``p4d``, ``m6id``, ``x2iedn``..., and the
#: GPU/Trainium families below, whose every size has instance storage).
_INSTANCE_STORE = re.compile(r"^ml\.(?:[a-z]+\d+[a-z]*d[a-z]*|g5|g6|g6e|p5|p5e|p5en|trn\d+n?)\.")
#: What the endpoint construct checks its ``instance_type`` prop against.
_INSTANCE_TYPE = INSTANCE_TYPE_RE
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


@settings
class OffHours:
    """Lower capacity bounds outside working hours: from ``start`` until ``end`` (both
    Application Auto Scaling ``cron(...)`` expressions in ``timezone``)."""

    min_capacity: int = Field(ge=1)
    """Fewest instances outside working hours (at least 1)."""
    max_capacity: int = Field(ge=1)
    """Most instances outside working hours, at most the autoscaling ``max_capacity``."""
    start: AwsCron = "cron(0 19 ? * MON-FRI *)"
    """When the off-hours bounds start: 19:00 on working days by default."""
    end: AwsCron = "cron(0 7 ? * MON-FRI *)"
    """When the working-hours bounds come back: 07:00 on working days by default."""
    timezone: str = "UTC"
    """The IANA time zone of ``start`` and ``end``, ``UTC`` by default."""


@settings
class EndpointAutoScaling:
    """Target tracking on invocations per instance, optionally a second policy on
    ``CPUUtilization`` or ``MemoryUtilization`` (per instance, percent; CPU is summed over
    the instance's vCPUs, so it can exceed 100), and optional off-hours bounds. The bounds
    against each other and the instance count: :func:`autoscaling_problems`."""

    min_capacity: int = Field(default=1, ge=1)
    """Fewest instances, 1 by default."""
    max_capacity: int = Field(default=2, ge=1)
    """Most instances, 2 by default."""
    invocations_per_instance: int = Field(default=100, ge=1)
    """Target of invocations per instance per minute, 100 by default."""
    scale_in_cooldown_seconds: int = Field(default=600, ge=0, le=3600)
    """Seconds after a scale-in before the next, 600 by default."""
    scale_out_cooldown_seconds: int = Field(default=120, ge=0, le=3600)
    """Seconds after a scale-out before the next, 120 by default."""
    utilization_metric: Literal["CPUUtilization", "MemoryUtilization"] | None = None
    """A second target-tracking policy on this per-instance metric; none by default."""
    utilization_target: float = Field(default=70.0, gt=0, le=1000)
    """Target of ``utilization_metric``, percent (CPU can exceed 100), 70 by default."""
    off_hours: OffHours | None = None
    """Lower bounds outside working hours; none by default."""


def autoscaling_problems(
    instance_type: str, instance_count: int, autoscaling: EndpointAutoScaling | None
) -> list[Problem]:
    """What Application Auto Scaling or SageMaker would refuse in ``autoscaling`` for a
    variant of ``instance_count`` instances of ``instance_type``: ``(field, value,
    expected)`` per problem (the fields relative to the endpoint's settings)."""
    a = autoscaling
    if a is None:
        return []
    problems: list[Problem] = []
    if resolved(instance_type) and is_burstable(instance_type):
        problems.append(
            (
                "instance_type",
                instance_type,
                "expected a non-burstable type with autoscaling (SageMaker cannot scale "
                "ml.t* instances): choose e.g. ml.m5.large or remove autoscaling",
            )
        )
    known = resolved(a.min_capacity, a.max_capacity, instance_count)
    if known and a.min_capacity > a.max_capacity:
        problems.append(
            (
                "autoscaling.min_capacity",
                a.min_capacity,
                f"expected at most max_capacity ({a.max_capacity})",
            )
        )
    elif known and not a.min_capacity <= instance_count <= a.max_capacity:
        problems.append(
            (
                "instance_count",
                instance_count,
                f"expected within the autoscaling bounds {a.min_capacity}-{a.max_capacity}",
            )
        )
    off = a.off_hours
    if (
        off is not None
        and resolved(off.min_capacity, off.max_capacity, a.max_capacity)
        and not off.min_capacity <= off.max_capacity <= a.max_capacity
    ):
        problems.append(
            (
                "autoscaling.off_hours",
                {"min_capacity": off.min_capacity, "max_capacity": off.max_capacity},
                f"expected min_capacity <= max_capacity <= {a.max_capacity}",
            )
        )
    return problems


@settings
class Rollout:
    """Blue/green traffic shifting of endpoint updates: ``CANARY`` (``step_percent`` of
    capacity first, the rest after ``wait_seconds``), ``LINEAR`` (``step_percent`` at a time,
    every ``wait_seconds``) or ``ALL_AT_ONCE``; the old fleet is kept ``bake_seconds`` before
    it is terminated, and the endpoint's alarms roll the update back until then.

    ``traffic`` ``None`` (the default) chooses by the smallest fleet the variant can have:
    ``CANARY`` from 2 instances, ``ALL_AT_ONCE`` on one instance, which cannot hold a canary
    of at most half the fleet (see :func:`rollout_problems`). ``step_percent`` is 10 by
    default, ``wait_seconds`` 300 and ``bake_seconds`` 600."""

    traffic: Literal["CANARY", "LINEAR", "ALL_AT_ONCE"] | None = None
    """How traffic shifts; ``None`` chooses by the smallest fleet (see above)."""
    # 1-50: SageMaker API Reference, TrafficRoutingConfig (CanarySize <= 50%, LinearStepSize
    # 10-50% of the instances); the per-fleet checks are in rollout_problems.
    step_percent: int = Field(default=10, ge=1, le=50)
    """Percent of the instances per canary or linear step, 10 by default."""
    wait_seconds: int = Field(default=300, ge=0, le=3600)
    """Seconds between the steps, 300 by default."""
    bake_seconds: int = Field(default=600, ge=0, le=3600)
    """Seconds the old fleet is kept (and alarms roll back) after the shift, 600 by default."""

    def for_fleet(self, smallest_fleet: int) -> Rollout:
        """This rollout with ``traffic`` chosen for ``smallest_fleet`` instances if unset."""
        if self.traffic is not None:
            return self
        return replace(self, traffic="CANARY" if smallest_fleet >= 2 else "ALL_AT_ONCE")


def smallest_fleet(
    instance_count: int,
    autoscaling: EndpointAutoScaling | None,
    ab_test: ABTest | None = None,
) -> int:
    """The fewest instances a variant can run: a blue/green update may start at any time,
    also when autoscaling (or its off-hours bounds) has scaled the fleet in. With
    ``ab_test``, the smallest of every production variant's: traffic shifting steps by a
    share of each variant's instances (API Reference, "TrafficRoutingConfig": CanarySize
    "of the variant's total instance count")."""
    fleet = instance_count
    if autoscaling is not None:
        fleet = min(fleet, autoscaling.min_capacity)
        if autoscaling.off_hours is not None:
            fleet = min(fleet, autoscaling.off_hours.min_capacity)
    if ab_test is not None:
        for c in ab_test.challengers:
            fleet = min(fleet, smallest_fleet(c.instance_count, c.autoscaling))
    return fleet


def rollout_problems(rollout: Rollout, fleet: int) -> list[Problem]:
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
    problems: list[Problem] = []
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


@settings
class ShadowVariant:
    """A shadow variant that gets a copy of ``traffic_percent`` of the production requests
    (its responses are captured, never returned to callers).

    SageMaker's rules: one shadow variant at most (this is one), and then exactly one
    production variant, so no A/B test beside it (:func:`ab_test_problems`). It is a
    standing ``ShadowProductionVariants`` entry of the endpoint configuration, which runs
    until it is removed ("Testing models with shadow variants", Developer Guide); the 7-day
    default and 30-day maximum duration ("Create a shadow test"; API Reference,
    "InferenceExperimentSchedule") bound the shadow tests of ``CreateInferenceExperiment``,
    which this platform does not use. Remove it when the comparison is done: it costs as
    long as it runs."""

    instance_type: InstanceType
    """The shadow variant's instance type (required)."""
    instance_count: int = Field(default=1, ge=1)
    """Instances of the shadow variant, 1 by default."""
    traffic_percent: int = Field(default=100, ge=1, le=100)
    """Percent of the production requests copied to it, 100 by default."""


@settings
class EndpointAlarmThresholds:
    """Alarm thresholds. Each alarm breaches for ``periods`` consecutive minutes."""

    server_errors_per_minute: int = Field(default=5, ge=0)
    """5xx responses per minute, 5 by default."""
    model_latency_p99_ms: int = Field(default=1000, ge=1)
    """p99 model latency in milliseconds, 1000 by default."""
    model_loading_wait_p99_ms: int = Field(default=10000, ge=1)
    """p99 wait for a model to load (multi-model endpoints) in milliseconds, 10000 by
    default."""
    # CPU is summed over the instance's vCPUs, hence up to 10000 (96 vCPUs and more).
    cpu_utilization_percent: int = Field(default=90, ge=1, le=10000)
    """CPU utilization percent per instance, 90 by default."""
    memory_utilization_percent: int = Field(default=90, ge=1, le=100)
    """Memory utilization percent per instance, 90 by default."""
    periods: int = Field(default=3, ge=1, le=60)
    """Consecutive one-minute periods that breach before an alarm fires, 3 by default."""


#: A production variant's name (SageMaker API Reference, "ProductionVariant": VariantName,
#: at most 63 characters of this pattern).
VARIANT_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
#: Production variants one endpoint configuration may hold (API Reference,
#: "CreateEndpointConfig": ProductionVariants, 1-10 items).
MAX_PRODUCTION_VARIANTS = 10
#: Alarms a blue/green update may watch for rollback (API Reference, "AutoRollbackConfig":
#: Alarms, 1-10 items). The endpoint watches two per production variant (5XX, latency).
MAX_ROLLBACK_ALARMS = 10
ROLLBACK_ALARMS_PER_VARIANT = 2


@settings
class Challenger:
    """A challenger production variant of an A/B test: it answers ``weight`` / (the sum of
    all weights) of the requests.

    On a multi-model endpoint every variant serves the same model archives (the endpoint's
    ``models/`` prefix, where approved versions are deployed), so a challenger tests a
    *serving configuration*: another instance type or count, or another inference image
    (``image_uri``, e.g. a newer framework container) over the same models. Two model
    versions need no variant to be compared there: both are callable by ``TargetModel``. On
    a single-model endpoint the challenger serves the champion's pinned package."""

    name: str = Field(pattern=VARIANT_NAME)
    """The variant's name (``VariantName``; callers pin it with ``TargetVariant``): 1-63
    letters, digits or hyphens; not ``AllTraffic`` (the champion) nor ``Shadow``."""
    weight: float = Field(ge=0)
    """Relative traffic weight (SageMaker's ``InitialVariantWeight``, at least 0)."""
    instance_type: InstanceType | None = None
    """The challenger's instance type; the champion's by default."""
    instance_count: int = Field(default=1, ge=1)
    """Instances of the challenger, 1 by default."""
    image_uri: str | None = None
    """Another inference image over the same models (multi-model endpoints only); the
    champion's by default."""
    autoscaling: EndpointAutoScaling | None = None
    """Autoscaling of this variant's instance count, as the champion's; none by default."""


@settings
class ABTest:
    """An A/B test: the champion (the endpoint's ``AllTraffic`` variant, with the endpoint's
    instance settings) takes ``champion_weight`` and each challenger its own ``weight``,
    relative to the sum (a champion of 9 and one challenger of 1 split 90/10). A caller can
    pin a variant with ``TargetVariant``.

    With ``retain_weights`` (the default) these weights apply when the endpoint, or a
    variant, is created; afterwards weights set at run time (``UpdateEndpointWeightsAndCapacities``,
    ``tools/endpoint_weights.py``) survive stack updates, so a shift or a promotion is not
    undone by the next deploy. ``retain_weights: false`` makes every deploy apply the weights
    written here (a promotion is then a config change).

    Adding or removing a variant is not a guarded update: blue/green traffic shifting needs
    the new configuration to have the old one's variant names (Developer Guide, deployment
    guardrails "Exclusions"), so start or end a test in a deploy of its own, with no other
    change. Before a deploy that removes the challengers, give the champion a weight above 0
    (``tools/endpoint_weights.py ENDPOINT set AllTraffic=1``): retained weights apply to the
    variants that stay."""

    challengers: tuple[Challenger, ...] = Field(min_length=1)
    """The challenger variants, at least one."""
    champion_weight: float = Field(default=1.0, ge=0)
    """The champion's relative weight, 1 by default."""
    retain_weights: bool = True
    """Keep the weights set at run time across stack updates; true by default."""

    def variant_names(self) -> list[str]:
        """The production variants' names, the champion's first."""
        return [VARIANT, *(c.name for c in self.challengers)]


def ab_test_problems(
    ab_test: ABTest | None,
    *,
    instance_type: str,
    shadow: ShadowVariant | None = None,
    multi_model: bool = True,
) -> list[Problem]:
    """What SageMaker would refuse in ``ab_test`` on an endpoint whose champion runs
    ``instance_type``, beside ``shadow`` (a multi-model endpoint unless ``multi_model`` is
    false): ``(field, value, expected)`` per problem, the fields relative to the endpoint's
    settings. Each challenger's autoscaling is checked as the champion's
    (:func:`autoscaling_problems`); the rollout against every variant's fleet is
    :func:`rollout_problems` with :func:`smallest_fleet` given the A/B test."""
    if ab_test is None:
        return []
    problems: list[Problem] = []
    if shadow is not None:
        # API Reference, "CreateEndpointConfig": ShadowProductionVariants, "If you use this
        # field, you can only specify one variant for ProductionVariants and one variant for
        # ShadowProductionVariants"; Developer Guide, "Create a shadow test": "For an
        # endpoint with a shadow variant, there can be a maximum of one production variant."
        problems.append(
            (
                "ab_test",
                [c.name for c in ab_test.challengers],
                "expected no A/B test beside a shadow variant: an endpoint with a shadow "
                "variant has exactly one production variant; remove `shadow` or `ab_test`",
            )
        )
    variants = len(ab_test.challengers) + 1
    most = min(MAX_PRODUCTION_VARIANTS, MAX_ROLLBACK_ALARMS // ROLLBACK_ALARMS_PER_VARIANT)
    if variants > most:
        problems.append(
            (
                "ab_test.challengers",
                len(ab_test.challengers),
                f"expected at most {most - 1} challengers: blue/green updates roll back on "
                f"{ROLLBACK_ALARMS_PER_VARIANT} alarms of each variant and SageMaker watches "
                f"at most {MAX_ROLLBACK_ALARMS} (API Reference, AutoRollbackConfig)",
            )
        )
    # Names equal but for case are refused too: a dashboard reader could not tell them apart.
    seen = {VARIANT.lower(), SHADOW_VARIANT.lower()}
    for i, c in enumerate(ab_test.challengers):
        at = f"ab_test.challengers.{i}"
        if resolved(c.name):
            if c.name.lower() in seen:
                problems.append(
                    (
                        f"{at}.name",
                        c.name,
                        f"expected a name unique among the variants, and neither {VARIANT!r} "
                        f"(the champion) nor {SHADOW_VARIANT!r}",
                    )
                )
            seen.add(c.name.lower())
        if c.image_uri is not None and not multi_model:
            problems.append(
                (
                    f"{at}.image_uri",
                    c.image_uri,
                    "expected no image on a model-package endpoint (the package names its image)",
                )
            )
        problems += [
            (f"{at}.{f}", v, x)
            for f, v, x in autoscaling_problems(
                c.instance_type or instance_type, c.instance_count, c.autoscaling
            )
        ]
    weights = [ab_test.champion_weight, *(c.weight for c in ab_test.challengers)]
    if resolved(*weights) and sum(weights) <= 0:
        # API Reference, "ProductionVariant": InitialVariantWeight, a variant's share is its
        # weight over the sum of all; with every weight 0 no variant is meant to serve.
        problems.append(
            (
                "ab_test.champion_weight",
                ab_test.champion_weight,
                "expected the weights to sum above 0 (all variants at weight 0 serve nothing)",
            )
        )
    return problems

"""Inference-component hosting settings: per served model group a component's resources and
copies, the endpoint's managed instance scaling, the component names the deployer creates,
and the rules that check them (used by :class:`InferenceComponentEndpoint` and by the app's
config).

Documentation the limits come from (SageMaker API Reference unless said otherwise):

* ``InferenceComponentComputeResourceRequirements``: ``NumberOfCpuCoresRequired`` at least
  0.25, ``MinMemoryRequiredInMb`` at least 128.
* ``InferenceComponentRuntimeConfig``: ``CopyCount`` at least 0.
* ``ProductionVariantManagedInstanceScaling``: ``MinInstanceCount`` at least 0,
  ``MaxInstanceCount`` at least 1.
* ``CreateInferenceComponent`` / ``CreateModel``: ``InferenceComponentName`` and
  ``ModelName`` at most 63 characters, ``[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?``.
* SageMaker Developer Guide, "Scale an endpoint to zero instances"
  (endpoint-auto-scaling-zero-instances.html): an endpoint scales to and from zero
  instances only if it hosts inference components, its variant's ``ManagedInstanceScaling``
  has ``MinInstanceCount`` 0, each component's scalable target has minimum capacity 0, and
  scaling out from zero needs a step scaling policy triggered by a CloudWatch alarm on
  ``NoCapacityInvocationFailures`` (``InferenceComponentName`` dimension); target tracking
  alone never scales out from zero ("Auto scaling policy overview",
  endpoint-auto-scaling-policy.html: "you must use step scaling if you want to enable an
  endpoint to scale out from zero active instances").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from mlops_constructs.core.props import Problem, resolved, settings


@settings
class ComponentSettings:
    """One inference component: the resources of each copy of the model and how many copies
    run. Application Auto Scaling keeps ``min_copies``-``max_copies`` copies, tracking
    ``invocations_per_copy`` invocations per copy per minute. ``min_copies`` 0 needs the
    endpoint's ``scale_to_zero`` (see :func:`components_problems`)."""

    # 0.25: NumberOfCpuCores minimum (InferenceComponentComputeResourceRequirements).
    cpu_cores: float = Field(default=1.0, ge=0.25)
    """CPU cores reserved per copy (``NumberOfCpuCoresRequired``), 1 by default."""
    # 128: MemoryInMb minimum (InferenceComponentComputeResourceRequirements).
    memory_mib: int = Field(default=1024, ge=128)
    """Memory reserved per copy in MiB (``MinMemoryRequiredInMb``), 1024 by default."""
    # 0: InferenceComponentRuntimeConfig CopyCount minimum (scale to zero).
    min_copies: int = Field(default=1, ge=0)
    """Fewest copies (the scalable target's minimum), 1 by default."""
    max_copies: int = Field(default=2, ge=1)
    """Most copies (the scalable target's maximum), 2 by default."""
    invocations_per_copy: int = Field(default=100, ge=1)
    """Target tracking target: invocations per copy per minute
    (``SageMakerInferenceComponentInvocationsPerCopy``), 100 by default."""


@settings
class InstanceScaling:
    """The endpoint's managed instance scaling (``ManagedInstanceScaling``): SageMaker adds
    instances when component copies do not fit and removes idle ones, between
    ``min_instances`` and ``max_instances``. ``scale_to_zero`` lets it remove every instance
    when no copy runs (``min_instances`` 0 and every component's ``min_copies`` 0); the
    deployer then gives each component the documented wake-up (a step scaling policy and the
    ``NoCapacityInvocationFailures`` alarm). Off by default."""

    # 0: ManagedInstanceScalingMinInstanceCount minimum; 1: MaxInstanceCount minimum.
    min_instances: int = Field(default=1, ge=0)
    """Fewest instances, 1 by default (0 only with ``scale_to_zero``)."""
    max_instances: int = Field(default=2, ge=1)
    """Most instances, 2 by default."""
    scale_to_zero: bool = False
    """Scale to zero instances and copies when idle, and wake on the first request; off by
    default."""


#: How the endpoint routes requests among copies (``ProductionVariantRoutingConfig``).
RoutingStrategy = Literal["LEAST_OUTSTANDING_REQUESTS", "RANDOM"]

#: vCPUs and memory (GiB) of the instance types an inference-component endpoint may use
#: here, from the Amazon EC2 instance type pages ("General purpose", "Compute optimized",
#: "Memory optimized" instance specifications; ml.* types have the sizes of the EC2 types of
#: the same name), read 2025-06. The SageMaker docs publish no list of instance types that
#: support inference components (the API accepts every ``ProductionVariantInstanceType``);
#: these are the CPU families without instance storage whose sizes we encode: ``ml.t*``
#: burstable types are left out (SageMaker cannot scale them, see ``is_burstable``), GPU
#: and Inferentia types too (this hosting mode reserves CPU and memory only).
INSTANCE_RESOURCES: dict[str, tuple[int, int]] = {
    **{
        f"ml.{family}.{size}": (vcpus, vcpus * 4)
        for family in ("m5", "m6i")
        for size, vcpus in (("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16))
    },
    **{
        f"ml.{family}.{size}": (vcpus, vcpus * 2)
        for family in ("c5", "c6i")
        for size, vcpus in (("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16))
    },
    **{
        f"ml.{family}.{size}": (vcpus, vcpus * 8)
        for family in ("r5", "r6i")
        for size, vcpus in (("large", 2), ("xlarge", 4), ("2xlarge", 8))
    },
}

#: Longest component name: the deployer names each version's model ``<component>-v<N>``
#: (``ModelName`` at most 63 characters, CreateModel), which leaves ``-v`` and 9 digits.
COMPONENT_NAME_MAX = 52
_NAME_PART = re.compile(r"[^a-zA-Z0-9]+")
_NAME = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")


def component_name(endpoint_name: str, group: str) -> str:
    """The inference component serving ``group`` on ``endpoint_name``: deterministic, at most
    :data:`COMPONENT_NAME_MAX` characters of ``[a-z0-9-]`` starting and ending with a letter
    or digit, and unique per endpoint and group (both cut to fit, then an 8-character hash
    of the two uncut names). Lower case, as SageMaker writes names in ARNs, so the
    deployer's permissions name the components exactly."""
    digest = hashlib.sha256(f"{endpoint_name}\n{group}".encode()).hexdigest()[:8]

    def cut(text: str, length: int) -> str:
        return _NAME_PART.sub("-", text).lower()[:length].strip("-")

    room = COMPONENT_NAME_MAX - len(digest) - 1
    # The group tells components of one endpoint apart: it gets most of the room.
    group_part = cut(group, min(len(group), room * 2 // 3))
    endpoint_part = cut(endpoint_name, room - len(group_part) - 1)
    name = "-".join(p for p in (endpoint_part, group_part, digest) if p)
    assert _NAME.match(name) and len(name) <= COMPONENT_NAME_MAX, name
    return name


def wake_up_alarm_name(component: str) -> str:
    """The CloudWatch alarm the deployer makes to wake a scaled-to-zero component."""
    return f"{component}-no-capacity"


def instance_type_problems(instance_type: str) -> list[Problem]:
    """``instance_type`` must be one whose resources :data:`INSTANCE_RESOURCES` knows."""
    if not resolved(instance_type) or instance_type in INSTANCE_RESOURCES:
        return []
    return [
        (
            "instance_type",
            instance_type,
            "expected an instance type for inference components with known vCPUs and memory: "
            f"one of {sorted(INSTANCE_RESOURCES)} (EC2 instance type specifications; the "
            "SageMaker docs list no types for inference components, see component_props.py)",
        )
    ]


def components_problems(
    instance_type: str,
    scaling: InstanceScaling,
    components: Mapping[str, ComponentSettings],
) -> list[Problem]:
    """What SageMaker or Application Auto Scaling would refuse, or what could never serve,
    in ``components`` on an endpoint of ``instance_type`` scaled per ``scaling``: ``(field,
    value, expected)`` per problem, all of them; values that are tokens are skipped.

    The resource check is necessary, not sufficient: copies are placed whole on instances,
    and SageMaker keeps part of each instance's memory for itself (how much is not
    documented), so copies that pass may still not all be placed at ``max_instances``."""
    problems: list[Problem] = [*instance_type_problems(instance_type)]
    if not components:
        problems.append(("components", {}, "expected at least one model package group"))
    s = scaling
    if resolved(s.min_instances, s.max_instances) and s.min_instances > s.max_instances:
        problems.append(
            (
                "scaling.min_instances",
                s.min_instances,
                f"expected at most max_instances ({s.max_instances})",
            )
        )
    # "Scale an endpoint to zero instances": MinInstanceCount 0 together with copies that
    # may reach 0, and the step-scaling wake-up the deployer adds only with scale_to_zero.
    if s.scale_to_zero and resolved(s.min_instances) and s.min_instances != 0:
        problems.append(
            (
                "scaling.min_instances",
                s.min_instances,
                "expected 0 with scale_to_zero (ManagedInstanceScaling MinInstanceCount 0; "
                "SageMaker Developer Guide, endpoint-auto-scaling-zero-instances.html)",
            )
        )
    if not s.scale_to_zero and resolved(s.min_instances) and s.min_instances == 0:
        problems.append(
            (
                "scaling.min_instances",
                0,
                "expected at least 1, or scale_to_zero: an endpoint at zero instances "
                "scales out again only through the step-scaling wake-up that scale_to_zero "
                "adds (endpoint-auto-scaling-policy.html)",
            )
        )
    resources = INSTANCE_RESOURCES.get(instance_type)
    for group, c in components.items():
        field = f"components.{group}"
        if resolved(c.min_copies, c.max_copies) and c.min_copies > c.max_copies:
            problems.append(
                (
                    f"{field}.min_copies",
                    c.min_copies,
                    f"expected at most max_copies ({c.max_copies})",
                )
            )
        if s.scale_to_zero and resolved(c.min_copies) and c.min_copies != 0:
            problems.append(
                (
                    f"{field}.min_copies",
                    c.min_copies,
                    "expected 0 with scale_to_zero: an instance that holds a copy is never "
                    "released (endpoint-auto-scaling-zero-instances.html)",
                )
            )
        if not s.scale_to_zero and resolved(c.min_copies) and c.min_copies == 0:
            problems.append(
                (
                    f"{field}.min_copies",
                    0,
                    "expected at least 1, or scale_to_zero: a component at zero copies "
                    "scales out only through the step-scaling wake-up",
                )
            )
        if resources is not None and resolved(c.cpu_cores, c.memory_mib):
            vcpus, gib = resources
            if c.cpu_cores > vcpus or c.memory_mib > gib * 1024:
                problems.append(
                    (
                        field,
                        {"cpu_cores": c.cpu_cores, "memory_mib": c.memory_mib},
                        f"expected one copy to fit one {instance_type} ({vcpus} vCPUs, "
                        f"{gib * 1024} MiB)",
                    )
                )
    sizes = [v for c in components.values() for v in (c.cpu_cores, c.memory_mib, c.max_copies)]
    if resources is not None and components and resolved(s.max_instances, *sizes):
        vcpus, gib = resources
        cpus = sum(c.max_copies * c.cpu_cores for c in components.values())
        memory = sum(c.max_copies * c.memory_mib for c in components.values())
        if cpus > vcpus * s.max_instances or memory > gib * 1024 * s.max_instances:
            problems.append(
                (
                    "components",
                    {"cpu_cores": cpus, "memory_mib": memory},
                    f"expected every component's max_copies to fit max_instances "
                    f"({s.max_instances}) x {instance_type} ({vcpus * s.max_instances} vCPUs, "
                    f"{gib * 1024 * s.max_instances} MiB): raise max_instances or lower "
                    "max_copies, cpu_cores or memory_mib",
                )
            )
    return problems

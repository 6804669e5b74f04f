#!/usr/bin/env python3
"""The standing monthly cost of each environment, from the synthesized templates: ``make cost``.

Reads the cloud assembly (``cdk.out``: one nested assembly per environment, as ``make synth``
writes it) and prices what is billed while nothing runs, at the list prices of
``tools/prices/<region>.yaml`` (dated, each price with its source), 730 hours a month:

* SageMaker endpoint instances: each production and shadow variant of an endpoint config that
  an ``AWS::SageMaker::Endpoint`` uses, ``InitialInstanceCount`` instances of ``InstanceType``,
  unless an Application Auto Scaling target on the variant's ``DesiredInstanceCount`` keeps
  fewer: then its ``MinCapacity``, lowered or raised for part of the week by its scheduled
  actions (the week is walked minute by minute, in the schedules' own local time, and the
  minimum in force averaged);
* inference-component endpoints (managed instance scaling enabled): ``MinInstanceCount``
  instances (0 is scale to zero), and at least one while any component keeps a copy (its
  scaling target's minimum, or its ``CopyCount`` when it has none);
* interface VPC endpoints, per endpoint per subnet (one network interface per Availability
  Zone); NAT gateways; KMS keys (and replicas); Secrets Manager secrets (and replicas);
  CloudWatch alarms (per metric: standard, high resolution, anomaly detection as three,
  Metrics Insights per metric its query matches: unknown here) and dashboards.

What it does not count, and says so: the monitoring engine's scheduled jobs, pipelines, Glue,
DataBrew, Lambda, queues (billed per use, not while idle), storage (S3, CloudWatch Logs), data
processed by endpoints, API requests, and the free tier. A price missing from the table (or a
quantity the template does not fix) is listed by name and makes the total a lower bound.

"What scale to zero and off-hours bounds save" is the instance cost at the configured instance
count (``InitialInstanceCount``) around the clock, less the instance cost above.

Exit status: 0 after printing; 2 when the cloud assembly is missing (run ``make synth``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
PRICES_DIR = Path(__file__).resolve().parent / "prices"

MINUTES_PER_WEEK = 7 * 24 * 60
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# AWS cron day-of-week numbers: 1 is Sunday (docs: EventBridge Scheduler "Cron expressions
# reference", also used by Application Auto Scaling scheduled actions).
_DOW_NUMBERS = {1: 6, 2: 0, 3: 1, 4: 2, 5: 3, 6: 4, 7: 5}

NOT_COUNTED = (
    "not counted: scheduled and on-demand work (the monitoring engine's jobs and schedules, "
    "pipelines, Glue, DataBrew, Lambda, queues): billed per run, not while idle",
    "not counted: storage (S3, CloudWatch Logs, endpoint volumes), data processed by "
    "endpoints and NAT, API requests, Macie's per-bucket fee (it depends on every bucket of "
    "the account)",
    "not counted: the free tier (10 alarm metrics and 3 dashboards per account, SageMaker's "
    "first months)",
)


class CostError(Exception):
    """The cloud assembly or the price table cannot be read."""


class UnsupportedSchedule(ValueError):
    """A schedule that is not a weekly cron expression."""


# ------------------------------------------------------------------------------------------
# Prices


@dataclass(frozen=True)
class Price:
    """One unit price (None when not found) and where it comes from."""

    value: float | None
    source: str
    basis: str = "quoted"


@dataclass
class PriceTable:
    """The dated prices of one region."""

    region: str
    as_of: str
    hours_per_month: float
    entries: dict[str, Any]
    path: Path

    def get(self, key: str, sub: str | None = None) -> Price:
        entry = self.entries.get(key)
        if sub is not None:
            entry = (entry or {}).get(sub)
        if not entry:
            return Price(None, "not in the price table")
        return Price(entry.get("price"), str(entry.get("source", "")), entry.get("basis", "quoted"))


def load_prices(region: str, prices_dir: Path = PRICES_DIR) -> PriceTable:
    path = prices_dir / f"{region}.yaml"
    if not path.is_file():
        raise CostError(f"no price table for region {region}: {path} is missing")
    data = yaml.safe_load(path.read_text())
    entries = {k: v for k, v in data.items() if isinstance(v, dict)}
    return PriceTable(
        region=data["region"],
        as_of=str(data["as_of"]),
        hours_per_month=float(data.get("hours_per_month", 730)),
        entries=entries,
        path=path,
    )


# ------------------------------------------------------------------------------------------
# Weekly schedules


def _expand(
    field_text: str, low: int, high: int, names: Mapping[str, int] | None = None
) -> set[int]:
    values: set[int] = set()
    for part in field_text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise UnsupportedSchedule(f"{field_text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: Mapping[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise UnsupportedSchedule(f"{text!r} is not supported")
    return int(text)


def weekly_minutes(expression: str) -> list[int]:
    """The minutes of a week (0 = Monday 00:00) at which a cron expression fires.

    Only weekly patterns: day-of-month and month ``*`` or ``?``; ``rate()``, ``at()``, ``L``,
    ``W`` and ``#`` raise UnsupportedSchedule.
    """
    match = re.fullmatch(r"cron\((.*)\)", expression.strip())
    if not match:
        raise UnsupportedSchedule(f"{expression}: only cron() expressions repeat weekly")
    fields = match.group(1).split()
    if len(fields) not in (5, 6):
        raise UnsupportedSchedule(f"{expression}: a cron expression has six fields")
    minute, hour, day_of_month, month, day_of_week = fields[:5]
    year = fields[5] if len(fields) == 6 else "*"
    if day_of_month not in ("*", "?") or month != "*" or year != "*":
        raise UnsupportedSchedule(f"{expression}: not a weekly pattern")
    minutes = _expand(minute, 0, 59)
    hours = _expand(hour, 0, 23)
    if day_of_week in ("*", "?"):
        days = set(range(7))
    else:
        # Name ranges (MON-FRI) in the AWS order SUN=1 .. SAT=7, mapped to Monday-first days.
        aws_names = {name: number for number, name in enumerate(("SUN", *_DAYS[:6]), start=1)}
        days = {_DOW_NUMBERS[n] for n in _expand(day_of_week, 1, 7, aws_names)}
    return sorted(d * 1440 + h * 60 + m for d in days for h in hours for m in minutes)


def weighted_minimum(
    base: float, actions: Iterable[tuple[str, float | None]]
) -> tuple[float, float]:
    """The average and the lowest minimum in force over a week (see weekly_series)."""
    series = weekly_series(base, actions)
    return sum(series) / MINUTES_PER_WEEK, min(series)


def weekly_series(base: float, actions: Iterable[tuple[str, float | None]]) -> list[float]:
    """The minimum in force at each minute of a week (0 = Monday 00:00, local time).

    ``actions`` are (schedule, minimum it sets or None). The week is walked twice, so that
    the state at its start is what the last action of the week before left.
    """
    events: dict[int, list[float]] = {}
    for schedule, minimum in actions:
        if minimum is None:
            continue
        for minute in weekly_minutes(schedule):
            events.setdefault(minute, []).append(minimum)
    current = base
    series: list[float] = []
    for week in (0, 1):
        for minute in range(MINUTES_PER_WEEK):
            for value in events.get(minute, ()):
                current = value
            if week:
                series.append(current)
    return series


# ------------------------------------------------------------------------------------------
# Templates


@dataclass
class Stack:
    name: str
    region: str
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.get("Resources", {})
        return resources

    def of_type(self, type_name: str) -> list[tuple[str, dict[str, Any]]]:
        return sorted((k, r) for k, r in self.resources.items() if r.get("Type") == type_name)

    def render(self, value: Any) -> str:
        """A string for an intrinsic value, with the same token for the same unknown."""
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                return self._name_of(arg)
            if fn == "Fn::GetAtt":
                logical = arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
                return self._name_of(logical)
            if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
                return str(arg[0]).join(self.render(part) for part in arg[1])
        return "{" + json.dumps(value, sort_keys=True) + "}"

    def _name_of(self, logical: str) -> str:
        resource = self.resources.get(logical, {})
        name_property = {
            "AWS::SageMaker::Endpoint": "EndpointName",
            "AWS::SageMaker::EndpointConfig": "EndpointConfigName",
            "AWS::SageMaker::InferenceComponent": "InferenceComponentName",
        }.get(resource.get("Type", ""))
        props = resource.get("Properties", {})
        if name_property and name_property in props:
            return self.render(props[name_property])
        return "{" + f"{self.name}/{logical}" + "}"


@dataclass
class Environment:
    name: str
    account: str
    region: str
    stacks: list[Stack]


def read_assembly(cdk_out: Path) -> list[Environment]:
    """The environments of a cloud assembly: one per nested assembly (stage), and the stacks
    outside any stage (if there are any) as ``(app)``."""
    manifest_path = cdk_out / "manifest.json"
    if not manifest_path.is_file():
        raise CostError(f"{cdk_out} has no cloud assembly (manifest.json): run `make synth` first")
    manifest = json.loads(manifest_path.read_text())
    environments: list[Environment] = []
    top_level: list[tuple[str, dict[str, Any]]] = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "cdk:cloud-assembly":
            directory = cdk_out / artifact["properties"]["directoryName"]
            nested = json.loads((directory / "manifest.json").read_text())
            name = artifact["properties"].get("displayName", artifact_id)
            environments.append(_environment(name, directory, nested.get("artifacts", {}).items()))
        elif artifact.get("type") == "aws:cloudformation:stack":
            top_level.append((artifact_id, artifact))
    if top_level:
        environments.append(_environment("(app)", cdk_out, top_level))
    # The manifest's order is the app's (dev, staging, prod), the same on every synth.
    return environments


def _environment(
    name: str, directory: Path, artifacts: Iterable[tuple[str, dict[str, Any]]]
) -> Environment:
    stacks: list[Stack] = []
    accounts: set[str] = set()
    regions: set[str] = set()
    for artifact_id, artifact in sorted(artifacts):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        _, _, target = artifact.get("environment", "aws:///").partition("://")
        account, _, region = target.partition("/")
        template_file = artifact.get("properties", {}).get(
            "templateFile", f"{artifact_id}.template.json"
        )
        template = json.loads((directory / template_file).read_text())
        display = artifact.get("displayName", artifact_id).rsplit("/", 1)[-1]
        stacks.append(Stack(display, region, template))
        accounts.add(account)
        regions.add(region)
    return Environment(name, ",".join(sorted(accounts)), ",".join(sorted(regions)), stacks)


# ------------------------------------------------------------------------------------------
# Items


@dataclass
class Item:
    """One line of the report: what is billed, how much of it a month, at which price."""

    resource: str
    quantity: float  # units a month (instance-hours, AZ-hours, key-months ...)
    unit: str
    price: Price
    detail: str = ""
    always_on_quantity: float | None = None  # for instances: at the configured count
    note: str = ""

    @property
    def monthly(self) -> float | None:
        return None if self.price.value is None else self.quantity * self.price.value

    @property
    def always_on_monthly(self) -> float | None:
        if self.always_on_quantity is None or self.price.value is None:
            return None
        return self.always_on_quantity * self.price.value


@dataclass
class Report:
    environment: Environment
    prices: PriceTable
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(i.monthly or 0.0 for i in self.items)

    @property
    def missing(self) -> list[Item]:
        return [i for i in self.items if i.monthly is None]

    @property
    def savings(self) -> tuple[float, float]:
        """(always-on instance cost at the configured count, saved by scaling bounds)."""
        always_on = sum(
            i.always_on_monthly or 0.0 for i in self.items if i.always_on_quantity is not None
        )
        actual = sum(i.monthly or 0.0 for i in self.items if i.always_on_quantity is not None)
        return always_on, always_on - actual


def _scalable_targets(
    stacks: list[Stack], dimension: str
) -> dict[str, tuple[Stack, str, dict[str, Any]]]:
    targets = {}
    for stack in stacks:
        for logical, resource in stack.of_type("AWS::ApplicationAutoScaling::ScalableTarget"):
            props = resource.get("Properties", {})
            if props.get("ScalableDimension") == dimension:
                targets[stack.render(props.get("ResourceId"))] = (stack, logical, props)
    return targets


def _schedule(props: Mapping[str, Any]) -> list[tuple[str, float | None]]:
    actions = []
    for action in props.get("ScheduledActions", []) or []:
        minimum = (action.get("ScalableTargetAction") or {}).get("MinCapacity")
        actions.append(
            (str(action.get("Schedule", "")), None if minimum is None else float(minimum))
        )
    return actions


def _series(base: float, props: Mapping[str, Any], where: str, notes: list[str]) -> list[float]:
    try:
        return weekly_series(base, _schedule(props))
    except UnsupportedSchedule as error:
        notes.append(
            f"{where}: scheduled actions not weighted ({error}); its MinCapacity is used all week"
        )
        return [base] * MINUTES_PER_WEEK


def endpoint_items(env: Environment, prices: PriceTable, notes: list[str]) -> list[Item]:
    hours = prices.hours_per_month
    variant_targets = _scalable_targets(env.stacks, "sagemaker:variant:DesiredInstanceCount")
    copy_targets = _scalable_targets(env.stacks, "sagemaker:inference-component:DesiredCopyCount")
    used_targets: set[str] = set()
    items: list[Item] = []
    for stack in env.stacks:
        for logical, endpoint in stack.of_type("AWS::SageMaker::Endpoint"):
            props = endpoint.get("Properties", {})
            config_ref = props.get("EndpointConfigName")
            config_logical = None
            if isinstance(config_ref, dict):
                ref = config_ref.get("Ref") or config_ref.get("Fn::GetAtt")
                config_logical = ref[0] if isinstance(ref, list) else ref
            config = stack.resources.get(str(config_logical), {})
            if config.get("Type") != "AWS::SageMaker::EndpointConfig":
                notes.append(
                    f"{stack.name}/{logical}: endpoint config not in the template; not counted"
                )
                continue
            endpoint_name = stack.render(props.get("EndpointName", {"Ref": logical}))
            config_props = config.get("Properties", {})
            variants = [(v, "") for v in config_props.get("ProductionVariants", [])]
            variants += [
                (v, "shadow ") for v in config_props.get("ShadowProductionVariants", []) or []
            ]
            components = _components_of(env.stacks, endpoint_name, copy_targets, notes)
            for variant, kind in variants:
                name = variant.get("VariantName", "?")
                label = f"{stack.name}/{logical} {kind}variant {name}"
                if "ServerlessConfig" in variant:
                    provisioned = variant["ServerlessConfig"].get("ProvisionedConcurrency")
                    if provisioned:
                        items.append(
                            Item(
                                label,
                                float(provisioned),
                                "provisioned concurrency",
                                Price(None, "serverless provisioned concurrency: not in the table"),
                            )
                        )
                    else:
                        notes.append(
                            f"{label}: serverless, no provisioned concurrency: no idle cost"
                        )
                    continue
                instance_type = str(variant.get("InstanceType", "?"))
                configured = float(variant.get("InitialInstanceCount", 1))
                price = prices.get("sagemaker_hosting_instance_hour", instance_type)
                managed = variant.get("ManagedInstanceScaling") or {}
                if managed.get("Status") == "ENABLED":
                    floor = float(managed.get("MinInstanceCount", 0))
                    if not components:
                        notes.append(
                            f"{label}: no inference component in the template (the deployer "
                            "creates them at run time): idle instances counted at "
                            "MinInstanceCount"
                        )
                    keeps_copy = [
                        1.0 if any(s[m] > 0 for s in components) else 0.0
                        for m in range(MINUTES_PER_WEEK)
                    ]
                    average = sum(max(floor, k) for k in keeps_copy) / MINUTES_PER_WEEK
                    how = f"managed instance scaling, min {floor:g}" + (
                        ", at least 1 while a component keeps a copy" if components else ""
                    )
                    items.append(
                        Item(
                            label,
                            average * hours,
                            "instance-hours",
                            price,
                            f"{instance_type}, {average:.2f} avg x {hours:g} h ({how})",
                            always_on_quantity=max(configured, floor) * hours,
                        )
                    )
                    continue
                resource_id = f"endpoint/{endpoint_name}/variant/{name}"
                target = variant_targets.get(resource_id)
                if target is None:
                    average, how = configured, "no autoscaling: the configured count"
                else:
                    used_targets.add(resource_id)
                    t_stack, t_logical, t_props = target
                    base = float(t_props.get("MinCapacity", configured))
                    series = _series(base, t_props, f"{t_stack.name}/{t_logical}", notes)
                    average = sum(series) / MINUTES_PER_WEEK
                    how = f"autoscaling min {base:g}"
                    if t_props.get("ScheduledActions"):
                        how += f", scheduled: lowest {min(series):g}"
                items.append(
                    Item(
                        label,
                        average * hours,
                        "instance-hours",
                        price,
                        f"{instance_type}, {average:.2f} avg x {hours:g} h ({how})",
                        always_on_quantity=configured * hours,
                    )
                )
    for resource_id, (t_stack, t_logical, _) in sorted(variant_targets.items()):
        if resource_id not in used_targets:
            notes.append(
                f"{t_stack.name}/{t_logical}: scaling target {resource_id} "
                "matches no endpoint variant"
            )
    return items


def _components_of(
    stacks: list[Stack],
    endpoint_name: str,
    copy_targets: Mapping[str, tuple[Stack, str, dict[str, Any]]],
    notes: list[str],
) -> list[list[float]]:
    """For each inference component on the endpoint, the minimum copies over a week."""
    series = []
    for stack in stacks:
        for logical, component in stack.of_type("AWS::SageMaker::InferenceComponent"):
            props = component.get("Properties", {})
            if stack.render(props.get("EndpointName")) != endpoint_name:
                continue
            copies = float((props.get("RuntimeConfig") or {}).get("CopyCount", 1))
            name = stack.render(props.get("InferenceComponentName", {"Ref": logical}))
            target = copy_targets.get(f"inference-component/{name}")
            if target is None:
                series.append([copies] * MINUTES_PER_WEEK)
            else:
                t_stack, t_logical, t_props = target
                base = float(t_props.get("MinCapacity", copies))
                series.append(_series(base, t_props, f"{t_stack.name}/{t_logical}", notes))
    return series


def network_items(env: Environment, prices: PriceTable, notes: list[str]) -> list[Item]:
    hours = prices.hours_per_month
    items: list[Item] = []
    gateway = 0
    for stack in env.stacks:
        for logical, resource in stack.of_type("AWS::EC2::VPCEndpoint"):
            props = resource.get("Properties", {})
            kind = props.get("VpcEndpointType", "Gateway")
            # com.amazonaws.<region>.<service>: the region is often a Ref, so drop three parts.
            service = ".".join(stack.render(props.get("ServiceName")).split(".")[3:]) or "?"
            label = f"{stack.name}/{logical} ({service})"
            if kind == "Gateway":
                gateway += 1
                continue
            key = (
                "vpc_interface_endpoint_az_hour"
                if kind == "Interface"
                else "vpc_gateway_load_balancer_endpoint_az_hour"
            )
            subnets = props.get("SubnetIds")
            if isinstance(subnets, list):
                zones = len(subnets)
                items.append(
                    Item(
                        label,
                        zones * hours,
                        "AZ-hours",
                        prices.get(key),
                        f"{kind} endpoint, {zones} AZ x {hours:g} h",
                    )
                )
            else:
                items.append(
                    Item(
                        label,
                        0.0,
                        "AZ-hours",
                        Price(None, "the number of subnets is not fixed in the template"),
                        f"{kind} endpoint, subnets unknown",
                    )
                )
        for logical, _ in stack.of_type("AWS::EC2::NatGateway"):
            items.append(
                Item(
                    f"{stack.name}/{logical}",
                    hours,
                    "hours",
                    prices.get("nat_gateway_hour"),
                    f"NAT gateway x {hours:g} h",
                )
            )
    if gateway:
        notes.append(f"{gateway} gateway VPC endpoint(s) (S3, DynamoDB): no charge")
    return items


def key_and_secret_items(env: Environment, prices: PriceTable) -> list[Item]:
    items: list[Item] = []
    for stack in env.stacks:
        for type_name in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey"):
            for logical, resource in stack.of_type(type_name):
                rotation = resource.get("Properties", {}).get("EnableKeyRotation")
                items.append(
                    Item(
                        f"{stack.name}/{logical}",
                        1.0,
                        "key-months",
                        prices.get("kms_key_month"),
                        "KMS key"
                        + (
                            " (rotation: +$1 a month per rotated version, from year 2)"
                            if rotation
                            else ""
                        ),
                    )
                )
        for logical, resource in stack.of_type("AWS::SecretsManager::Secret"):
            copies = 1 + len(resource.get("Properties", {}).get("ReplicaRegions", []) or [])
            items.append(
                Item(
                    f"{stack.name}/{logical}",
                    float(copies),
                    "secret-months",
                    prices.get("secretsmanager_secret_month"),
                    "secret" + (f" and {copies - 1} replica(s)" if copies > 1 else ""),
                )
            )
    return items


def alarm_items(env: Environment, prices: PriceTable) -> list[Item]:
    """CloudWatch alarms, summed by kind per stack, and dashboards."""
    items: list[Item] = []
    for stack in env.stacks:
        counts = {"standard": 0.0, "high": 0.0, "insights": 0.0}
        for _, resource in stack.of_type("AWS::CloudWatch::Alarm"):
            props = resource.get("Properties", {})
            metrics = props.get("Metrics")
            if metrics:
                expressions = " ".join(str(m.get("Expression", "")) for m in metrics)
                stats = [m for m in metrics if "MetricStat" in m]
                if re.search(r"\bSELECT\b", expressions, re.IGNORECASE):
                    counts["insights"] += 1
                    continue
                factor = 3 if "ANOMALY_DETECTION_BAND" in expressions else 1
                high = any(int(m["MetricStat"].get("Period", 60)) < 60 for m in stats)
                counts["high" if high else "standard"] += factor * max(len(stats), 1)
            else:
                counts["high" if int(props.get("Period", 60)) < 60 else "standard"] += 1
        composite = len(stack.of_type("AWS::CloudWatch::CompositeAlarm"))
        dashboards = len(stack.of_type("AWS::CloudWatch::Dashboard"))
        rows = (
            ("standard", "cloudwatch_alarm_metric_month", "alarm metrics, standard resolution"),
            (
                "high",
                "cloudwatch_alarm_high_resolution_metric_month",
                "alarm metrics, high resolution",
            ),
        )
        for kind, key, text in rows:
            if counts[kind]:
                items.append(
                    Item(
                        f"{stack.name} alarms",
                        counts[kind],
                        "alarm-metric-months",
                        prices.get(key),
                        f"{counts[kind]:g} {text}",
                    )
                )
        if counts["insights"]:
            items.append(
                Item(
                    f"{stack.name} Metrics Insights alarms",
                    counts["insights"],
                    "alarms",
                    Price(None, "billed per metric the query matches: unknown before it runs"),
                    f"{counts['insights']:g} Metrics Insights query alarms, "
                    "metrics matched unknown",
                )
            )
        if composite:
            items.append(
                Item(
                    f"{stack.name} composite alarms",
                    float(composite),
                    "alarm-months",
                    prices.get("cloudwatch_composite_alarm_month"),
                    f"{composite} composite alarms",
                )
            )
        if dashboards:
            items.append(
                Item(
                    f"{stack.name} dashboards",
                    float(dashboards),
                    "dashboard-months",
                    prices.get("cloudwatch_dashboard_month"),
                    f"{dashboards} dashboards",
                )
            )
    return items


def report(env: Environment, prices: PriceTable) -> Report:
    result = Report(env, prices)
    result.items += endpoint_items(env, prices, result.notes)
    result.items += network_items(env, prices, result.notes)
    result.items += key_and_secret_items(env, prices)
    result.items += alarm_items(env, prices)
    return result


# ------------------------------------------------------------------------------------------
# Output


def _money(value: float | None) -> str:
    return "missing" if value is None else f"${value:,.2f}"


def _unit_price(item: Item) -> str:
    if item.price.value is None:
        return "missing"
    unit = {"instance-hours": "h", "AZ-hours": "AZ-h", "hours": "h"}.get(
        item.unit, item.unit.split("-")[0]
    )
    text = f"${item.price.value:g}/{unit}"
    return text + (" (derived)" if item.price.basis == "derived" else "")


def format_report(result: Report) -> str:
    env, prices = result.environment, result.prices
    lines = [
        f"## {env.name} (account {env.account}, {env.region})",
        "",
        f"Standing monthly cost at list prices of {prices.as_of} "
        f"(tools/prices/{prices.path.name}), {prices.hours_per_month:g} hours a month.",
        "",
        "| resource | quantity | unit price | monthly |",
        "| --- | --- | --- | ---: |",
    ]
    for item in result.items:
        quantity = item.detail or f"{item.quantity:g} {item.unit}"
        lines.append(
            f"| {item.resource} | {quantity} | {_unit_price(item)} | {_money(item.monthly)} |"
        )
    missing = result.missing
    bound = " (lower bound)" if missing else ""
    lines.append(f"| **total** | | | **{_money(result.total)}**{bound} |")
    lines.append("")
    always_on, saved = result.savings
    lines.append(
        f"Scale to zero and off-hours bounds save {_money(saved)} a month against endpoint "
        f"instances always on at the configured count ({_money(always_on)})."
    )
    if missing:
        lines.append("")
        lines.append("Missing prices (the total leaves them out, so it is a lower bound):")
        for item in missing:
            lines.append(f"- {item.resource}: {item.detail or item.unit}: {item.price.source}")
    derived = sorted(
        {
            (i.detail.split(",")[0], i.price.source)
            for i in result.items
            if i.price.basis == "derived"
        }
    )
    if derived:
        lines.append("")
        lines.append("Derived prices (no quoted price found; how each was derived):")
        for what, source in derived:
            lines.append(f"- {what}: {source}")
    lines.append("")
    for note in [*result.notes, *NOT_COUNTED]:
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cdk-out", type=Path, default=REPO_ROOT / "cdk.out")
    parser.add_argument(
        "--prices", type=Path, default=PRICES_DIR, help="folder of <region>.yaml tables"
    )
    parser.add_argument(
        "--env", action="append", help="only these environments (repeatable, or dev,staging)"
    )
    args = parser.parse_args(argv)
    try:
        environments = read_assembly(args.cdk_out)
        if args.env:
            wanted = {name for value in args.env for name in value.split(",") if name}
            environments = [e for e in environments if e.name in wanted]
        if not environments:
            raise CostError(f"no environment to report in {args.cdk_out}")
        outputs = []
        for env in environments:
            if "," in env.region or not env.region or env.region.startswith("unknown"):
                raise CostError(f"{env.name}: stacks are not in one known region ({env.region!r})")
            outputs.append(format_report(report(env, load_prices(env.region, args.prices))))
    except CostError as error:
        print(f"make cost: {error}", file=sys.stderr)
        return 2
    print("\n".join(outputs), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shift the traffic weights of an endpoint's production variants, or promote one: the run-time
side of an A/B test (``serving.ab_test``).

    python tools/endpoint_weights.py ENDPOINT show
    python tools/endpoint_weights.py ENDPOINT set AllTraffic=9 challenger=1 [--wait]
    python tools/endpoint_weights.py ENDPOINT promote challenger [--wait]

``set`` changes the named variants' weights (the others keep theirs); ``promote`` gives the
named variant all the traffic (weight 1, every other variant 0). Both check first, against
the endpoint as it runs (``DescribeEndpoint``), that every named variant exists, that each
weight is a number of at least 0 and that the weights after the change sum above 0 (API
Reference, "DesiredWeightAndCapacity": DesiredWeight minimum 0; "ProductionVariant": a
variant's share is its weight over the sum of all), and that the endpoint is ``InService``;
then they call ``UpdateEndpointWeightsAndCapacities`` with the weights alone (instance
counts stay as they are). ``--dry-run`` prints the weights without changing anything.

Later ``cdk deploy`` runs keep these weights: with an A/B test the endpoint retains its
variants' weights across updates (``RetainAllVariantProperties``, unless
``ab_test.retain_weights`` is false). Retained weights also apply to the variants that stay
when a deploy removes the challengers: give the champion (``AllTraffic``) a weight above 0
before such a deploy, or it keeps the 0 a promotion gave it.

Credentials and region come from the usual AWS settings (``AWS_PROFILE``, ``AWS_REGION``);
``--region`` overrides the region.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import boto3


class WeightsError(ValueError):
    """A requested change SageMaker would refuse or that would leave no variant serving."""


def current_weights(
    client: Any, endpoint_name: str, *, in_service: bool = True
) -> dict[str, float]:
    """The production variants of ``endpoint_name`` and their current weights (shadow
    variants take a copy of the traffic, not a share: they are not listed). With
    ``in_service`` (the default), raises :class:`WeightsError` if the endpoint is not
    ``InService`` (an update is under way, or it failed)."""
    described = client.describe_endpoint(EndpointName=endpoint_name)
    status = described["EndpointStatus"]
    if in_service and status != "InService":
        raise WeightsError(
            f"endpoint {endpoint_name!r} is {status}: weights can change once it is InService"
        )
    return {
        v["VariantName"]: float(v.get("CurrentWeight", v.get("DesiredWeight", 0.0)))
        for v in described["ProductionVariants"]
    }


def planned_weights(current: Mapping[str, float], changes: Mapping[str, float]) -> dict[str, float]:
    """``current`` with ``changes`` applied, after checking them: every changed variant
    exists, every weight is a finite number >= 0, and the weights sum above 0."""
    problems = []
    for name, weight in changes.items():
        if name not in current:
            problems.append(f"variant {name!r} is not on the endpoint (it has {sorted(current)})")
        if not (isinstance(weight, int | float) and math.isfinite(weight) and weight >= 0):
            problems.append(f"weight of {name!r} must be a number >= 0, got {weight!r}")
    if problems:
        raise WeightsError("; ".join(problems))
    planned = {**current, **{n: float(w) for n, w in changes.items()}}
    if sum(planned.values()) <= 0:
        raise WeightsError(f"the weights would sum to 0 ({planned}): no variant would serve")
    return planned


def promotion(current: Mapping[str, float], variant: str) -> dict[str, float]:
    """The change that gives ``variant`` all the traffic: weight 1, every other 0."""
    return {name: 1.0 if name == variant else 0.0 for name in current} | {variant: 1.0}


def shift_weights(
    client: Any,
    endpoint_name: str,
    changes: Mapping[str, float],
    *,
    dry_run: bool = False,
    wait: bool = False,
) -> dict[str, float]:
    """Check ``changes`` (variant name to weight) against ``endpoint_name`` as it runs and
    apply them with ``UpdateEndpointWeightsAndCapacities`` (weights only); the weights after
    the change. Nothing is called to change anything if a check fails or ``dry_run``."""
    current = current_weights(client, endpoint_name)
    planned = planned_weights(current, changes)
    if dry_run:
        return planned
    client.update_endpoint_weights_and_capacities(
        EndpointName=endpoint_name,
        DesiredWeightsAndCapacities=[
            {"VariantName": name, "DesiredWeight": planned[name]} for name in changes
        ],
    )
    if wait:
        client.get_waiter("endpoint_in_service").wait(EndpointName=endpoint_name)
    return planned


def _parse_assignments(items: Sequence[str]) -> dict[str, float]:
    changes: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise WeightsError(f"expected VARIANT=WEIGHT, got {item!r}")
        if name in changes:
            raise WeightsError(f"variant {name!r} given twice")
        try:
            changes[name] = float(value)
        except ValueError:
            raise WeightsError(f"weight of {name!r} must be a number, got {value!r}") from None
    return changes


def main(argv: Sequence[str] | None = None, client: Any = None) -> int:
    """The command line (see the module's docstring); 0 on success, 2 on a refused change."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("endpoint")
    parser.add_argument("--region")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show", help="print each production variant's current weight")
    for name, help_ in (
        ("set", "set VARIANT=WEIGHT for the named variants"),
        ("promote", "give VARIANT all the traffic"),
    ):
        command = sub.add_parser(name, help=help_)
        command.add_argument("variants", nargs="+" if name == "set" else 1)
        command.add_argument("--dry-run", action="store_true")
        command.add_argument("--wait", action="store_true", help="wait until InService again")
    args = parser.parse_args(argv)
    client = client or boto3.client("sagemaker", region_name=args.region)
    try:
        if args.command == "show":
            weights = current_weights(client, args.endpoint, in_service=False)
        else:
            if args.command == "set":
                changes = _parse_assignments(args.variants)
            else:
                (variant,) = args.variants
                current = current_weights(client, args.endpoint)
                if variant not in current:
                    raise WeightsError(
                        f"variant {variant!r} is not on the endpoint (it has {sorted(current)})"
                    )
                changes = promotion(current, variant)
            weights = shift_weights(
                client, args.endpoint, changes, dry_run=args.dry_run, wait=args.wait
            )
    except WeightsError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    total = sum(weights.values())
    for name, weight in weights.items():
        share = weight / total if total else 0.0
        print(f"{name}\t{weight:g}\t{share:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

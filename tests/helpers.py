"""Helpers for construct tests: a small app with cdk-nag, synthesized on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
from aws_cdk import Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

ACCOUNT = "284751930618"
REGION = "eu-west-1"


def synth_construct(
    build: Callable[[cdk.Stack], Any], *, nag: bool = True, outdir: str | None = None
) -> tuple[Template, Any, cdk.Stack]:
    """Build a construct in a fresh env-specific stack and return its template.

    cdk-nag's AwsSolutions pack checks the stack, as it would in a user's app: a construct's
    defaults must be free of unacknowledged findings on their own.
    """
    app = cdk.App(outdir=outdir, builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "TestStack", env=cdk.Environment(account=ACCOUNT, region=REGION))
    made = build(stack)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return Template.from_stack(stack), made, stack


def acknowledged_rules(construct: Any) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) of every acknowledgement at or below ``construct``."""
    found: list[tuple[str, str, str]] = []
    for node in construct.node.find_all():
        for entry in node.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule_id, reason in dict(entry.data).items():
                    found.append((node.node.path, rule_id, reason))
    return found

"""cdk-nag's AwsSolutions pack: zero unacknowledged findings; every acknowledgement narrow."""

from __future__ import annotations

import copy

import pytest
from aws_cdk import Stack
from aws_cdk import aws_s3 as s3

from stacks.app_factory import create_app
from stacks.config import SELECT_CONTEXT_KEY
from tests.conftest import ENVIRONMENTS, STACKS
from tests.helpers import acknowledged_rules


def test_whole_app_synthesizes_with_no_unacknowledged_finding(platform):
    # The session fixture's synth raises on any AwsSolutions finding; reaching here means none.
    assert len(platform.templates()) == len(ENVIRONMENTS) * len(STACKS)


def test_the_pack_really_runs_on_every_stage(base_context, tmp_path):
    """A non-compliant bucket in any stage must fail the synth (the gate can fail)."""
    ctx = copy.deepcopy(base_context)
    ctx[SELECT_CONTEXT_KEY] = "prod"
    app, _ = create_app(ctx, outdir=str(tmp_path))
    s3.Bucket(app.node.find_child("prod").node.find_child("Network"), "UnloggedBucket")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "AwsSolutions-S1" in report
    assert "prod/Network/UnloggedBucket/Resource" in report


def test_acknowledgements_are_narrow_and_reasoned(platform):
    all_acks = acknowledged_rules(platform.app)
    # aws-cdk-lib acknowledges a few rules of its own built-in template validator (which
    # this app turns off); every other acknowledgement is ours and must be for cdk-nag.
    acks = [a for a in all_acks if not a[1].startswith("CloudFormation-Validate::")]
    assert acks, "expected at least the documented SMG4 acknowledgement"
    for path, rule_id, reason in acks:
        node = platform.app.node.find_child(path.split("/")[0])
        for part in path.split("/")[1:]:
            node = node.node.find_child(part)
        # One resource, one exact rule: never a stack or stage, never a whole pack.
        assert not isinstance(node, Stack), path
        assert rule_id.startswith("AwsSolutions::AwsSolutions-"), rule_id
        assert len(reason) >= 60, (path, rule_id, reason)

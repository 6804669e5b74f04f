"""cfn-lint: zero errors and zero warnings on every synthesized template."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint_all

from tests.conftest import ENVIRONMENTS, REPO_ROOT, STACKS
from tests.helpers import lint_file


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_templates_lint_clean(platform, env):
    templates = sorted((platform.outdir / f"assembly-{env}").glob("*.template.json"))
    assert len(templates) == len(STACKS)
    region = platform.config.environment(env).region
    for template in templates:
        assert lint_file(template, region) == [], template.name


def test_the_linter_can_fail():
    """A broken template is reported, so a green run means something."""
    broken = {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": "sometimes"}},
            "Alias": {"Type": "AWS::KMS::Alias", "Properties": {"TargetKeyId": {"Ref": "Nope"}}},
        }
    }
    matches = lint_all(json.dumps(broken))
    rules = {m.rule.id for m in matches}
    assert "E3012" in rules  # wrong type
    assert "E1020" in rules or "E3003" in rules  # bad Ref / missing AliasName


def test_repo_root_is_a_project_checkout():
    assert (REPO_ROOT / "cdk.json").is_file()

"""The test helpers themselves: cfn-lint through tests/helpers.py finds what cfn-lint finds,
with its rules loaded once per process."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint
from cfnlint.rules import Rules

from tests.helpers import lint_text

#: A template with errors and a warning: a wrong type, a bad Ref, a missing property,
#: a bucket name cfn-lint rejects, and an unused parameter.
BROKEN = json.dumps(
    {
        "Parameters": {"Unused": {"Type": "String"}},
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": "sometimes"}},
            "Alias": {"Type": "AWS::KMS::Alias", "Properties": {"TargetKeyId": {"Ref": "Nope"}}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "x"}},
        },
    }
)


@pytest.mark.parametrize(
    ("text", "region"),
    [
        (BROKEN, "eu-west-1"),
        (BROKEN, "us-east-1"),
        ("not: [valid", "eu-west-1"),
        ("{}", "eu-west-1"),
    ],
    ids=["broken", "broken-us-east-1", "not-yaml", "empty"],
)
def test_lint_text_finds_what_cfn_lint_finds(text: str, region: str) -> None:
    expected = [str(m) for m in lint(text, regions=[region])]
    assert expected, "the sample must have findings"
    assert lint_text(text, region) == expected


def test_the_rules_are_loaded_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    lint_text(BROKEN)  # loads them, unless an earlier test did
    loads: list[str] = []
    original = Rules.create_from_directory.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Rules], rulesdir: str) -> Rules:
        loads.append(rulesdir)
        return original(cls, rulesdir)

    monkeypatch.setattr(Rules, "create_from_directory", classmethod(counted))
    assert lint_text(BROKEN) and lint_text(BROKEN, "us-east-1")
    assert loads == []


def test_the_suite_runs_without_pytests_cache(tmp_path):
    # make bench runs pytest with -p no:cacheprovider (nothing of one run leaks into the
    # next); the module-time scheduling must then fall back, not crash.
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_layers.py"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

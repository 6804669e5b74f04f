"""The pull-request workflow runs what a developer runs, lints, and keeps the templates."""

from __future__ import annotations

import yaml

from tests.conftest import REPO_ROOT


def test_pull_request_workflow():
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/ci.yml").read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    (job,) = workflow["jobs"].values()
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs[:2] == ["make test", "make synth"]
    assert any(r.startswith(".venv/bin/cfn-lint --non-zero-exit-code warning") for r in runs)
    uses = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
    assert uses["actions/setup-python"]["with"]["cache"] == "pip"
    assert uses["actions/cache"]["with"]["path"] == ".cache/jsii"
    assert "cdk.out/**/*.template.json" in uses["actions/upload-artifact"]["with"]["path"]
    assert workflow["permissions"] == {"contents": "read"}

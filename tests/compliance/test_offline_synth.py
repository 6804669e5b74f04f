"""Synthesis is offline: the real CDK CLI synthesizes every environment with no AWS access."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import ENVIRONMENTS, NODE_BIN, REPO_ROOT, STACKS

# Loopback port 9 (discard): any AWS call or proxied request is refused at once, locally.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.mark.slow
def test_cli_synth_without_credentials_or_network(tmp_path):
    cdk = NODE_BIN / "cdk"
    assert cdk.exists(), "run `make setup` (npm ci) first: the pinned CDK CLI is missing"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_")) and key not in ("HTTP_PROXY", "HTTPS_PROXY")
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": UNREACHABLE,
            "HTTP_PROXY": UNREACHABLE,
            "HTTPS_PROXY": UNREACHABLE,
            "NO_PROXY": "",
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "PATH": f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    outdir = tmp_path / "cdk.out"
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "--no-notices", "--output", str(outdir), "**"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for line in result.stderr.splitlines():
        assert "credentials" not in line.lower(), line
        assert "!!" not in line, "a warning banner was printed: " + line
        # Clean output: no deprecation warnings of aws-cdk-lib, no SDK log lines.
        assert "WARNING" not in line and "INFO:" not in line, line
    templates = sorted(p.name for p in outdir.glob("assembly-*/*.template.json"))
    assert len(templates) == len(ENVIRONMENTS) * len(STACKS), templates
    for manifest in outdir.glob("**/manifest.json"):
        data = json.loads(manifest.read_text())
        assert "missing" not in data, f"{manifest} asks for a context lookup"

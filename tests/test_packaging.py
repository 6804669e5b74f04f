"""The construct library is pip-installable and ships the Lambda sources as package data."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_wheel_contains_constructs_and_lambda_sources(tmp_path):
    subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "--no-build-isolation", "--wheel-dir", str(tmp_path), str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("mlops_platform_constructs-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "mlops_constructs/__init__.py" in names
    assert "mlops_constructs/network/vpc.py" in names
    # Former module paths stay importable.
    assert "mlops_constructs/data_lake.py" in names
    for capability, handler in (
        ("macie", "macie_remediation"),
        ("serving", "model_deployer"),
        ("monitoring", "retraining_trigger"),
        ("monitoring", "metrics_publisher"),
        ("monitoring", "monitoring_launcher"),
    ):
        assert f"mlops_constructs/{capability}/runtime/{handler}/index.py" in names
    assert "mlops_constructs/core/runtime/handler_common/logs.py" in names
    assert "mlops_constructs/glue/runtime/feature_etl.py" in names
    assert "mlops_constructs/training/runtime/evaluate.py" in names
    # The app composition and tests are not part of the library.
    assert not any(n.startswith(("stacks/", "tests/")) for n in names)
    assert not any("__pycache__" in n for n in names)


def test_handler_path_resolves_inside_the_package():
    from mlops_constructs.core.sources import handler_path

    with pytest.raises(FileNotFoundError, match="no Lambda handler folder named 'nope'"):
        handler_path("nope")


def test_a_handler_asset_holds_its_folder_and_handler_common_only(tmp_path):
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from mlops_constructs.core.sources import handler_code

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Stack")
    lambda_.Function(
        stack,
        "Function",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="model_deployer.index.handler",
        code=handler_code("model_deployer"),
    )
    app.synth()
    (asset,) = [p for p in tmp_path.iterdir() if p.name.startswith("asset.")]
    files = sorted(str(f.relative_to(asset)) for f in asset.rglob("*") if f.is_file())
    assert files == [
        "handler_common/__init__.py",
        "handler_common/events.py",
        "handler_common/logs.py",
        "model_deployer/index.py",
    ]

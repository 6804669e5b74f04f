"""The SageMaker processing scripts run on the containers' Python, not on ours.

``prepare-features`` runs ``preprocess.py`` on the scikit-learn 1.2-1 image and
``evaluate-model`` runs ``evaluate.py`` on the XGBoost 1.7-1 image; both images install
Python 3.9 (``PYTHON_VERSION=3.9`` in ``docker/1.2-1/base/Dockerfile.cpu`` of
aws/sagemaker-scikit-learn-container and ``docker/1.7-1/base/Dockerfile.cpu`` of
aws/sagemaker-xgboost-container). A 3.10 feature (``zip(strict=True)``, ``match``) passes every
local test on 3.11 and fails the pipeline's first run.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_constructs.core.sources import sagemaker_script_path
from mlops_constructs.training.pipeline import SKLEARN_VERSION
from mlops_constructs.training.props import TuningSettings

#: The Python of each container image version the pipeline may run (see the module docstring).
CONTAINER_PYTHON = {("sklearn", "1.2-1"): "3.9", ("xgboost", "1.7-1"): "3.9"}
OLDEST = min(CONTAINER_PYTHON.values(), key=lambda v: tuple(map(int, v.split("."))))


def _scripts() -> list[Path]:
    folder = Path(sagemaker_script_path("evaluate.py")).parent
    return sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")


def _vermin(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "vermin"), "--no-tips", "--violations", f"-t={OLDEST}-",
         *map(str, paths)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_pipeline_uses_images_whose_python_is_known():
    assert ("sklearn", SKLEARN_VERSION) in CONTAINER_PYTHON
    assert (
        "xgboost",
        inspect.signature(TuningSettings).parameters["xgboost_version"].default,
    ) in CONTAINER_PYTHON


def test_every_processing_script_runs_on_the_containers_python():
    scripts = _scripts()
    assert {"evaluate.py", "preprocess.py"} <= {p.name for p in scripts}
    result = _vermin(*scripts)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "code",
    [
        "pairs = list(zip([1], [2], strict=True))\n",
        "def f(x):\n    match x:\n        case 1:\n            return 1\n",
    ],
)
def test_the_check_finds_newer_python(tmp_path, code):
    script = tmp_path / "newer.py"
    script.write_text(code)
    assert _vermin(script).returncode != 0

"""Where the runtime sources constructs deploy are: in a checkout or an installed package.

``lambda_src/`` (Lambda handler folders) and ``glue_src/`` (Glue job scripts) ship inside
the distribution as ``mlops_constructs.lambda_src`` and ``mlops_constructs.glue_src``, so a
stack in another repository that uses a construct deploys the code shipped with it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def handler_path(name: str) -> str:
    """The folder of Lambda handler ``name``, for ``lambda_.Code.from_asset``."""
    root = resources.files("mlops_constructs.lambda_src")
    path = Path(str(root.joinpath(name)))
    if not path.is_dir():
        raise FileNotFoundError(f"no Lambda handler folder named {name!r} in {root}")
    return str(path)


def glue_script_path(name: str) -> str:
    """The file of Glue job script ``name`` (e.g. ``feature_etl.py``), for an S3 asset."""
    root = resources.files("mlops_constructs.glue_src")
    path = Path(str(root.joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"no Glue script named {name!r} in {root}")
    return str(path)


def sagemaker_script_path(name: str) -> str:
    """The file of SageMaker processing script ``name`` (e.g. ``evaluate.py``)."""
    root = resources.files("mlops_constructs.sagemaker_src")
    path = Path(str(root.joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"no SageMaker script named {name!r} in {root}")
    return str(path)

"""Where the runtime sources constructs deploy are: in a checkout or an installed package.

``lambda_src/`` (Lambda handler folders), ``glue_src/`` (Glue job scripts) and
``sagemaker_src/`` (SageMaker processing scripts) ship inside the distribution as
``mlops_constructs.lambda_src``, ``mlops_constructs.glue_src`` and
``mlops_constructs.sagemaker_src``, so a stack in another repository that uses a construct
deploys the code shipped with it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aws_cdk import aws_lambda as lambda_


def handler_path(name: str) -> str:
    """The folder of Lambda handler ``name``, for ``lambda_.Code.from_asset``."""
    return _packaged("lambda_src", name, "Lambda handler folder", folder=True)


#: The folder of ``lambda_src`` every handler's package also gets (JSON logging and such).
HANDLER_COMMON = "handler_common"


def handler_code(name: str) -> lambda_.Code:
    """The Lambda code of handler ``name``: its folder plus ``handler_common``, nothing else.

    The function's handler is then ``<name>.index.handler``. Only those two folders count
    towards the asset hash, so changing one handler redeploys only its function.
    """
    folder = Path(handler_path(name))
    return lambda_.Code.from_asset(
        str(folder.parent),
        exclude=[
            "*",
            f"!{name}",
            f"!{name}/**",
            f"!{HANDLER_COMMON}",
            f"!{HANDLER_COMMON}/**",
            "**/__pycache__",
            "**/*.pyc",
        ],
    )


def glue_script_path(name: str) -> str:
    """The file of Glue job script ``name`` (e.g. ``feature_etl.py``), for an S3 asset."""
    return _packaged("glue_src", name, "Glue script", folder=False)


def sagemaker_script_path(name: str) -> str:
    """The file of SageMaker processing script ``name`` (e.g. ``evaluate.py``)."""
    return _packaged("sagemaker_src", name, "SageMaker script", folder=False)


def _packaged(package: str, name: str, kind: str, *, folder: bool) -> str:
    root = resources.files(f"mlops_constructs.{package}")
    path = Path(str(root.joinpath(name)))
    if not (path.is_dir() if folder else path.is_file()):
        raise FileNotFoundError(f"no {kind} named {name!r} in {root}")
    return str(path)

"""Where the runtime code a construct deploys lives: ``<capability>/runtime/`` beside it.

Each capability package keeps the code it deploys in its ``runtime/`` folder, shipped inside
the distribution, so a stack in another repository that uses a construct deploys the code
shipped with it:

* Lambda handlers: ``serving/runtime/model_deployer``, ``macie/runtime/macie_remediation``,
  ``monitoring/runtime/retraining_trigger``, ``monitoring/runtime/metrics_publisher``,
  ``monitoring/runtime/monitoring_launcher``, each a folder with ``index.py``; every function
  also gets ``core/runtime/handler_common`` (JSON logging, event checks).
* The Glue job script: ``glue/runtime/feature_etl.py``.
* The SageMaker processing scripts: ``training/runtime/preprocess.py``, ``evaluate.py`` and
  ``baseline.py``; ``monitoring/runtime/monitor.py``.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

#: The capability package whose ``runtime/`` holds each Lambda handler folder.
HANDLERS = {
    "model_deployer": "serving",
    "macie_remediation": "macie",
    "retraining_trigger": "monitoring",
    "metrics_publisher": "monitoring",
    "monitoring_launcher": "monitoring",
}

#: The folder every handler's package also gets (JSON logging and such), in ``core/runtime``.
HANDLER_COMMON = "handler_common"

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def handler_path(name: str) -> str:
    """The folder of Lambda handler ``name`` (or of ``handler_common``)."""
    package = "core" if name == HANDLER_COMMON else HANDLERS.get(name)
    if package is None:
        known = sorted(HANDLERS)
        raise FileNotFoundError(f"no Lambda handler folder named {name!r}; known: {known}")
    return _packaged(package, name, "Lambda handler folder", folder=True)


@jsii.implements(ILocalBundling)
class _CopyFolders:
    """Bundles by copying folders into the asset: no Docker, no network."""

    def __init__(self, folders: list[Path]) -> None:
        self._folders = folders

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        for folder in self._folders:
            shutil.copytree(folder, Path(output_dir) / folder.name, ignore=_IGNORED)
        return True


def handler_code(name: str) -> lambda_.Code:
    """The Lambda code of handler ``name``: its folder plus ``handler_common``, nothing else.

    The function's handler is then ``<name>.index.handler``. The two folders live in
    different capability packages, so they are copied into one asset locally (the Docker
    image named for the bundling options is never pulled: the local copy always succeeds).
    The asset hash is that of the copied files, so changing one handler redeploys only its
    function, and changing ``handler_common`` redeploys them all.
    """
    folders = [Path(handler_path(name)), Path(handler_path(HANDLER_COMMON))]
    return lambda_.Code.from_asset(
        str(folders[0]),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("local-copy-only"),
            local=_CopyFolders(folders),
        ),
    )


def glue_script_path(name: str) -> str:
    """The file of Glue job script ``name`` (e.g. ``feature_etl.py``), for an S3 asset."""
    return _packaged("glue", name, "Glue script", folder=False)


def sagemaker_script_path(name: str) -> str:
    """The file of SageMaker processing script ``name`` (e.g. ``evaluate.py``)."""
    return _packaged("training", name, "SageMaker script", folder=False)


def monitoring_script_path(name: str) -> str:
    """The file of monitoring job script ``name`` (``monitor.py``), for an S3 asset."""
    return _packaged("monitoring", name, "monitoring script", folder=False)


def _packaged(package: str, name: str, kind: str, *, folder: bool) -> str:
    root = resources.files(f"mlops_constructs.{package}").joinpath("runtime")
    path = Path(str(root.joinpath(name)))
    if not (path.is_dir() if folder else path.is_file()):
        raise FileNotFoundError(f"no {kind} named {name!r} in {root}")
    return str(path)

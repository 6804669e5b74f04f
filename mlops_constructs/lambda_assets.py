"""Where the Lambda handler folders are, in a checkout or in an installed distribution."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def handler_path(name: str) -> str:
    """The folder of handler ``name`` under ``lambda_src``, for ``lambda_.Code.from_asset``.

    Resolved relative to the installed package, so a stack in another repository that uses a
    construct deploys the handler shipped with this library.
    """
    root = resources.files("mlops_constructs.lambda_src")
    path = Path(str(root.joinpath(name)))
    if not path.is_dir():
        raise FileNotFoundError(f"no Lambda handler folder named {name!r} in {root}")
    return str(path)

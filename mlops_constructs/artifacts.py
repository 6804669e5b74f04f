"""Former import path, kept working: the code lives in :mod:`mlops_constructs.lake.artifacts`."""

from mlops_constructs.lake.artifacts import ArtifactStore

__all__ = [
    "ArtifactStore",
]

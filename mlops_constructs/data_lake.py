"""Former import path, kept working: the code lives in :mod:`mlops_constructs.lake.data_lake`."""

from mlops_constructs.lake.data_lake import DEFAULT_ZONES, SENSITIVE_TAG_KEY, DataLake

__all__ = [
    "DEFAULT_ZONES",
    "SENSITIVE_TAG_KEY",
    "DataLake",
]

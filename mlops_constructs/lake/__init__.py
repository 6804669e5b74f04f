"""Storage: the S3 data lake (zones, KMS, access logs, lifecycle) and the model artifact store."""

from mlops_constructs.lake.artifacts import ArtifactStore
from mlops_constructs.lake.data_lake import DEFAULT_ZONES, SENSITIVE_TAG_KEY, DataLake
from mlops_constructs.lake.interfaces import IArtifactStore, IDataLake

__all__ = [
    "DEFAULT_ZONES",
    "SENSITIVE_TAG_KEY",
    "ArtifactStore",
    "DataLake",
    "IArtifactStore",
    "IDataLake",
]

"""Which (content type, input mode) pairs the built-in SageMaker XGBoost container accepts.

Standard library only: the config validation and the offline run rehearsal both import it,
so the two agree on one table.

Source: aws/sagemaker-xgboost-container, branches ``1.5-1``, ``1.7-1`` and tag ``v3.0-5``:
``src/sagemaker_xgboost_container/algorithm_mode/channel_validation.py`` registers, for the
``train`` and ``validation`` channels, every type of ``data_utils.VALID_CONTENT_TYPES`` with
``File`` mode and every type of ``data_utils.VALID_PIPED_CONTENT_TYPES`` with ``Pipe`` mode
(both with ``FullyReplicated`` and ``ShardedByS3Key``), and
``src/sagemaker_algorithm_toolkit/channel_validation.py`` rejects any channel whose exact
``(ContentType, TrainingInputMode, S3DistributionType)`` is not registered ("Channel
configuration for 'train' channel is not supported"). So ``FastFile`` fails every channel,
the content type is compared as written (``text/csv; label_size=1`` is not registered), and
``text/libsvm`` cannot stream. Documentation: "Input/Output interface for the XGBoost
algorithm", https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-how-to-use.html.
"""

from __future__ import annotations

#: The documentation page that states the supported formats and modes.
DOC_URL = "https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-how-to-use.html"

#: Data channels of the algorithm (``code`` is for script mode, not used here).
DATA_CHANNELS = ("train", "validation")

#: Input modes SageMaker itself offers (``TrainingInputMode``); XGBoost accepts fewer.
INPUT_MODES = ("File", "Pipe", "FastFile")

#: S3 data distribution types the container registers for its data channels.
DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")

_FILE_CONTENT_TYPES = frozenset(
    {
        "csv",
        "libsvm",
        "parquet",
        "recordio-protobuf",
        "text/csv",
        "text/libsvm",
        "text/x-libsvm",
        "application/x-parquet",
        "application/x-recordio-protobuf",
    }
)
_PIPE_CONTENT_TYPES = frozenset(
    {
        "csv",
        "parquet",
        "recordio-protobuf",
        "text/csv",
        "application/x-parquet",
        "application/x-recordio-protobuf",
    }
)
_SAME_TABLE = {"File": _FILE_CONTENT_TYPES, "Pipe": _PIPE_CONTENT_TYPES}

#: version -> input mode -> content types accepted on the train and validation channels.
#: Only versions whose source was read are listed; any other version is "not supported".
SUPPORTED: dict[str, dict[str, frozenset[str]]] = {
    "1.5-1": _SAME_TABLE,
    "1.7-1": _SAME_TABLE,
    "3.0-5": _SAME_TABLE,
}


def supported(version: str, content_type: str, input_mode: str) -> bool:
    """Whether built-in XGBoost ``version`` accepts a data channel of ``content_type``
    (compared exactly, as the container does) in ``input_mode`` (``File``, ``Pipe``...)."""
    return content_type in SUPPORTED.get(version, {}).get(input_mode, frozenset())


def supported_input_modes(version: str, content_type: str) -> list[str]:
    """The input modes built-in XGBoost ``version`` accepts for ``content_type``."""
    return [m for m in INPUT_MODES if supported(version, content_type, m)]


def problem(version: str, content_type: str, input_mode: str) -> str | None:
    """``None`` when the pair is supported, else a message naming the documentation page."""
    if supported(version, content_type, input_mode):
        return None
    if version not in SUPPORTED:
        return (
            f"built-in XGBoost {version}: channel support not recorded (known versions "
            f"{sorted(SUPPORTED)}); see {DOC_URL}"
        )
    modes = supported_input_modes(version, content_type)
    return (
        f"built-in XGBoost {version} does not accept {content_type} channels in "
        f"{input_mode} mode (accepted for {content_type}: {modes or 'none'}); see {DOC_URL}"
    )

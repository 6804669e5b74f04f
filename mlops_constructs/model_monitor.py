"""Former import path, kept working: the code lives in :mod:`mlops_constructs.monitoring`."""

from mlops_constructs.monitoring import (
    BIAS_METRICS,
    DATA_QUALITY,
    DEFAULT_QUALITY_METRIC,
    MODEL_BIAS,
    MODEL_EXPLAINABILITY,
    MODEL_QUALITY,
    MONITORING_TYPES,
    QUALITY_METRICS,
    BiasSettings,
    ModelMonitor,
    MonitorSchedules,
    MonitorThresholds,
    RetrainingTrigger,
    is_monitor_cron,
    pascal_case,
)

__all__ = [
    "BIAS_METRICS",
    "DATA_QUALITY",
    "DEFAULT_QUALITY_METRIC",
    "MODEL_BIAS",
    "MODEL_EXPLAINABILITY",
    "MODEL_QUALITY",
    "MONITORING_TYPES",
    "QUALITY_METRICS",
    "BiasSettings",
    "ModelMonitor",
    "MonitorSchedules",
    "MonitorThresholds",
    "RetrainingTrigger",
    "is_monitor_cron",
    "pascal_case",
]

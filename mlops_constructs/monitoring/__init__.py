"""Monitoring of served models (the monitoring engine, whose job is ``runtime/monitor.py``, or
Model Monitor), with alarms that can start retraining (its Lambda handler is
``runtime/retraining_trigger``) and the publisher of the monitoring engine's metrics
(``runtime/metrics_publisher``) and the launcher of its runs (``runtime/monitoring_launcher``)."""

from mlops_constructs.monitoring.alarm_queries import alarm_selects, insights_query
from mlops_constructs.monitoring.engine import DEFAULT_SCHEDULE as ENGINE_SCHEDULE
from mlops_constructs.monitoring.engine import QUALITY_METRICS as ENGINE_QUALITY_METRICS
from mlops_constructs.monitoring.engine import MonitoringEngine
from mlops_constructs.monitoring.launcher import MonitoringLauncher
from mlops_constructs.monitoring.model_monitor import ModelMonitor, pascal_case
from mlops_constructs.monitoring.props import (
    BIAS_METRICS,
    DATA_QUALITY,
    DEFAULT_QUALITY_METRIC,
    MODEL_BIAS,
    MODEL_EXPLAINABILITY,
    MODEL_QUALITY,
    MONITORING_TYPES,
    QUALITY_METRICS,
    BiasSettings,
    MonitorSchedules,
    MonitorThresholds,
    is_monitor_cron,
)
from mlops_constructs.monitoring.publisher import MonitoringMetricsPublisher
from mlops_constructs.monitoring.retraining import RetrainingTrigger

__all__ = [
    "BIAS_METRICS",
    "DATA_QUALITY",
    "DEFAULT_QUALITY_METRIC",
    "ENGINE_QUALITY_METRICS",
    "ENGINE_SCHEDULE",
    "MODEL_BIAS",
    "MODEL_EXPLAINABILITY",
    "MODEL_QUALITY",
    "MONITORING_TYPES",
    "QUALITY_METRICS",
    "BiasSettings",
    "ModelMonitor",
    "MonitorSchedules",
    "MonitorThresholds",
    "MonitoringEngine",
    "MonitoringLauncher",
    "MonitoringMetricsPublisher",
    "RetrainingTrigger",
    "alarm_selects",
    "insights_query",
    "is_monitor_cron",
    "pascal_case",
]

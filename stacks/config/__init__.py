"""Per-environment configuration: the typed models of the platform's settings.

The settings live in the layered files of ``config/`` (``base.yaml``, one ``<env>.yaml`` per
environment, ``delivery.yaml``; merged as :mod:`stacks.config_files` describes), or, for
tests, in the context keys ``mlops:environments`` and ``mlops:delivery``. :func:`load_config`
turns them into :class:`PlatformConfig` and fails with a single :class:`ConfigError` that
lists *every* problem found in *every* environment, each naming the file(s) the value came
from, the environment, the field, the value received and what is expected.

Only ``app.py`` and ``stacks/`` read configuration; constructs receive typed props. A
setting a construct also takes is the construct's own settings type (its capability's
``props.py``: type, default, bounds, docstring), embedded here as it is; a section adds only
what the app decides (which model, which tier rules). Unknown keys are rejected so that a
typo never silently falls back to a default.

One module per concern: :mod:`._common` (error, tier, base model), :mod:`.platform` (tags,
network, keys, logs, secrets), :mod:`.data`, :mod:`.macie`, :mod:`.training`,
:mod:`.serving` (serving and monitoring), :mod:`.environment` (an environment, delivery, the
platform) and :mod:`.loading` (:func:`load_config`); every public name is importable from
``stacks.config``.
"""

from __future__ import annotations

# The one-hot column names, as the Glue feature job makes them (config tests use it).
from mlops_constructs.glue.props import sanitize_category
from stacks.config._common import (
    DELIVERY_CONTEXT_KEY,
    ENVIRONMENTS_CONTEXT_KEY,
    SELECT_CONTEXT_KEY,
    ConfigError,
    Tier,
    known_regions,
)
from stacks.config.data import (
    ColumnRef,
    DataBrewConfig,
    DataConfig,
    DatasetConfig,
    DedupConfig,
    FeaturesConfig,
    FillMissingConfig,
    FindMatchesConfig,
    GlueConfig,
    LakeConfig,
    OneHotConfig,
    QualityConfig,
    RangeRuleConfig,
    SplitConfig,
    data_problems,
)
from stacks.config.environment import DeliveryConfig, EnvironmentConfig, PlatformConfig
from stacks.config.loading import load_config
from stacks.config.macie import MacieConfig, macie_problems
from stacks.config.platform import (
    INTERFACE_ENDPOINTS,
    LOG_RETENTION_DAYS,
    ExistingVpcConfig,
    ExternalCredentialConfig,
    KeysConfig,
    LogsConfig,
    NetworkConfig,
    SecretsConfig,
    TagsConfig,
)
from stacks.config.serving import (
    DEDICATED_ENDPOINT,
    INFERENCE_COMPONENTS_HOSTING,
    MODEL_MONITOR_ENGINE,
    MULTI_MODEL_HOSTING,
    PLATFORM_ENGINE,
    SERVING_ENDPOINT,
    BiasMonitorConfig,
    EndpointSettings,
    MonitoringConfig,
    ServingConfig,
    serving_problems,
)
from stacks.config.training import (
    ALGORITHM_METRICS,
    HyperparameterRangeConfig,
    TrainingConfig,
    training_problems,
)

__all__ = [
    "ALGORITHM_METRICS",
    "DEDICATED_ENDPOINT",
    "DELIVERY_CONTEXT_KEY",
    "ENVIRONMENTS_CONTEXT_KEY",
    "INFERENCE_COMPONENTS_HOSTING",
    "INTERFACE_ENDPOINTS",
    "LOG_RETENTION_DAYS",
    "MODEL_MONITOR_ENGINE",
    "MULTI_MODEL_HOSTING",
    "PLATFORM_ENGINE",
    "SELECT_CONTEXT_KEY",
    "SERVING_ENDPOINT",
    "BiasMonitorConfig",
    "ColumnRef",
    "ConfigError",
    "DataBrewConfig",
    "DataConfig",
    "DatasetConfig",
    "DedupConfig",
    "DeliveryConfig",
    "EndpointSettings",
    "EnvironmentConfig",
    "ExistingVpcConfig",
    "ExternalCredentialConfig",
    "FeaturesConfig",
    "FillMissingConfig",
    "FindMatchesConfig",
    "GlueConfig",
    "HyperparameterRangeConfig",
    "KeysConfig",
    "LakeConfig",
    "LogsConfig",
    "MacieConfig",
    "MonitoringConfig",
    "NetworkConfig",
    "OneHotConfig",
    "PlatformConfig",
    "QualityConfig",
    "RangeRuleConfig",
    "SecretsConfig",
    "ServingConfig",
    "SplitConfig",
    "TagsConfig",
    "Tier",
    "TrainingConfig",
    "data_problems",
    "known_regions",
    "load_config",
    "macie_problems",
    "sanitize_category",
    "serving_problems",
    "training_problems",
]

"""The serving and monitoring sections: the endpoints (their settings are the serving
constructs' own types), Model Monitor; and their cross-field checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final, Literal

from pydantic import Field
from pydantic_core import PydanticUndefined

from mlops_constructs.core.props import InstanceType, Problem, settings_field
from mlops_constructs.monitoring import ENGINE_QUALITY_METRICS, ENGINE_SCHEDULE
from mlops_constructs.monitoring.props import (
    BiasSettings,
    MonitorSchedules,
    MonitorThresholds,
    bias_problems,
    quality_problems,
)
from mlops_constructs.serving.component_props import (
    ComponentSettings,
    InstanceScaling,
    components_problems,
)
from mlops_constructs.serving.props import (
    ABTest,
    EndpointAlarmThresholds,
    EndpointAutoScaling,
    Rollout,
    ShadowVariant,
    ab_test_problems,
    autoscaling_problems,
    has_instance_storage,
    rollout_problems,
    smallest_fleet,
)
from stacks.config._common import Tier, _Strict

if TYPE_CHECKING:
    from stacks.config.environment import EnvironmentConfig


class EndpointSettings(_Strict):
    """Instances, data capture, rollout, autoscaling and alarms of one endpoint."""

    instance_type: InstanceType = "ml.m5.large"
    instance_count: int = Field(default=1, ge=1)
    capture_percentage: int = Field(default=20, ge=0, le=100)
    autoscaling: EndpointAutoScaling | None = None
    rollout: Rollout = Field(default_factory=Rollout)
    shadow: ShadowVariant | None = None
    #: An A/B test: challenger production variants beside the champion, with weights.
    ab_test: ABTest | None = None
    alarms: EndpointAlarmThresholds = Field(default_factory=EndpointAlarmThresholds)


#: How the environment's endpoint hosts its models: one multi-model endpoint (many small
#: models of one framework, loaded on demand, one fleet) or inference components (one
#: component per model, each with its own copies and autoscaling, on managed instances).
MULTI_MODEL_HOSTING: Final = "multi-model"
INFERENCE_COMPONENTS_HOSTING: Final = "inference-components"
#: The endpoint settings the inference-component endpoint does not take (its instances are
#: managed by ``scaling``; components are rolled out by the approved-model deployer).
_MULTI_MODEL_ONLY = ("instance_count", "autoscaling", "rollout", "shadow", "ab_test")


class ServingConfig(EndpointSettings):
    """The environment's endpoint and the training ``models`` whose approved versions it
    gets: ``hosting`` ``multi-model`` (default) or ``inference-components`` (then
    ``components`` per model, ``component_defaults`` for the others, and the instances'
    ``scaling``, :class:`InstanceScaling`, whose ``scale_to_zero`` idles at no instance)."""

    #: The training models it serves; every one by default, so that a new training entry
    #: is served with no other edit.
    models: list[str] = Field(default_factory=list)
    #: Deploy each approved model version one delivery at a time, with a lock object (an S3
    #: conditional write); no Lambda concurrency is reserved, so new accounts work too.
    serialize_deployments: bool = True
    hosting: Literal["multi-model", "inference-components"] = MULTI_MODEL_HOSTING
    #: Per served model, its component's copies and resources (inference components only)...
    components: dict[str, ComponentSettings] = Field(default_factory=dict)
    #: ... and for every served model without an entry (so a new training model is served
    #: with no other edit).
    component_defaults: ComponentSettings = Field(default_factory=ComponentSettings)
    #: The managed instance scaling of an inference-component endpoint.
    scaling: InstanceScaling = Field(default_factory=InstanceScaling)

    def component_settings(self) -> dict[str, ComponentSettings]:
        """Every served model's component settings, ``component_defaults`` where none is
        given."""
        return {m: self.components.get(m, self.component_defaults) for m in self.models}


class BiasMonitorConfig(_Strict):
    """The bias monitor's positive outcome, facet value, group variable and thresholds: the
    monitoring construct's :class:`BiasSettings` but the facet, which is the model's
    training ``bias_facet``."""

    label_threshold: float | None = settings_field(BiasSettings, "label_threshold")
    label_values: Sequence[float] = settings_field(BiasSettings, "label_values")
    facet_value: int | float = settings_field(BiasSettings, "facet_value")
    group_variable: str | None = settings_field(BiasSettings, "group_variable")
    thresholds: Mapping[str, float] = settings_field(BiasSettings, "thresholds")

    def settings(self, facet: str) -> BiasSettings:
        """These settings for the model's ``facet``, as the construct takes them."""
        return BiasSettings(facet=facet, **self.model_dump())


#: The monitoring engines: ``platform`` (:class:`MonitoringEngine`, runs in any account and
#: watches the multi-model endpoint) and ``model-monitor`` (SageMaker Model Monitor, closed to
#: new customers: page "Amazon SageMaker Model Monitor availability change").
PLATFORM_ENGINE: Final = "platform"
MODEL_MONITOR_ENGINE: Final = "model-monitor"
#: Where a monitored model is served: the environment's multi-model endpoint (``serving``) or
#: a single-model endpoint of its own serving one pinned version (``dedicated``).
SERVING_ENDPOINT: Final = "serving"
DEDICATED_ENDPOINT: Final = "dedicated"
_DEDICATED_ONLY = tuple(EndpointSettings.model_fields)
_MODEL_MONITOR_ONLY = ("schedules", "bias")


class MonitoringConfig(EndpointSettings):
    """How one trained ``model`` is monitored, and retraining when drift or quality alarms
    fire.

    ``engine``: ``platform`` (default; the monitoring engine, an hourly processing job any
    account can run) or ``model-monitor`` (SageMaker Model Monitor, for accounts that still
    have it). ``endpoint``: ``serving`` (default; the versions people call on the
    environment's multi-model endpoint) or ``dedicated`` (a single-model endpoint of its own
    serving ``model_package_version``; the endpoint settings of this entry are its).
    Model Monitor watches only single-model endpoints, so ``model-monitor`` needs
    ``dedicated``. ``model_package_version`` pins the watched version; by default the
    ``platform`` engine follows the newest approved version and waits, running nothing, until
    there is one (so a fresh account deploys)."""

    model: str
    engine: Literal["platform", "model-monitor"] = PLATFORM_ENGINE
    endpoint: Literal["serving", "dedicated"] = SERVING_ENDPOINT
    model_package_version: int | None = Field(default=None, ge=1)
    #: The platform engine's EventBridge Scheduler expression (UTC); ten past every hour by
    #: default, after the hour's capture files have landed.
    schedule: str = Field(default=ENGINE_SCHEDULE, pattern=r"^(cron|rate)\(.+\)$")
    #: Model Monitor's schedules (``model-monitor`` only).
    schedules: MonitorSchedules = Field(default_factory=MonitorSchedules)
    # The construct's MonitorThresholds, flat (as base.yaml has always written them); the
    # quality threshold has no default here: the author chooses it per model.
    feature_drift_threshold: float | None = Field(default=None, gt=0, le=1)
    """Drift alarm threshold per feature: the Jensen-Shannon distance for ``platform`` (0.1
    by default, with a p-value below 0.01), Model Monitor's distance for ``model-monitor``
    (0.2 by default)."""
    quality_metric: str | None = settings_field(MonitorThresholds, "quality_metric")
    quality_threshold: float = settings_field(
        MonitorThresholds, "quality_threshold", default=PydanticUndefined
    )
    #: Model Monitor's bias monitor (``model-monitor`` only; the platform engine computes bias
    #: for binary classification on the training ``bias_facet``).
    bias: BiasMonitorConfig = Field(default_factory=BiasMonitorConfig)
    #: The monitoring jobs' instance type; by default ml.m5.large for ``platform`` and
    #: ml.m5.xlarge for ``model-monitor``.
    job_instance_type: InstanceType | None = None
    retraining: bool = True
    retraining_cooldown_minutes: int = Field(default=360, ge=1, le=43200)

    @property
    def thresholds(self) -> MonitorThresholds:
        """The Model Monitor alarm thresholds, as the construct takes them."""
        drift = self.feature_drift_threshold
        return MonitorThresholds(
            quality_metric=self.quality_metric,
            quality_threshold=self.quality_threshold,
            **({} if drift is None else {"feature_drift": drift}),
        )


def _monitoring_problems(env: EnvironmentConfig, at: str, m: MonitoringConfig) -> list[Problem]:
    """The engine and endpoint choice of one monitoring entry against the environment."""
    problems: list[Problem] = []
    given = m.model_fields_set
    if m.engine == MODEL_MONITOR_ENGINE and m.endpoint == SERVING_ENDPOINT:
        problems.append(
            (
                f"{at}.engine",
                m.engine,
                "expected 'platform' on the serving endpoint: Model Monitor watches only "
                "endpoints that host a single model and does not monitor multi-model endpoints "
                "(SageMaker Developer Guide, 'Data and model quality monitoring with Amazon "
                "SageMaker Model Monitor', Notes), and the serving endpoint hosts every served "
                "model (multi-model or inference components); or set endpoint: dedicated with "
                "a model_package_version",
            )
        )
    if m.endpoint == DEDICATED_ENDPOINT and m.model_package_version is None:
        problems.append(
            (
                f"{at}.model_package_version",
                None,
                "expected the approved version the dedicated endpoint serves (a single-model "
                "endpoint serves one pinned version)",
            )
        )
    if m.endpoint == SERVING_ENDPOINT:
        serving = env.serving
        if serving is None or m.model not in serving.models:
            served = [] if serving is None else serving.models
            problems.append(
                (
                    f"{at}.endpoint",
                    m.endpoint,
                    f"expected 'dedicated', or the model among serving.models {served}: "
                    f"{m.model!r} is not served on the multi-model endpoint",
                )
            )
        elif serving.capture_percentage == 0:
            problems.append(
                (
                    "serving.capture_percentage",
                    0,
                    f"expected data capture on (1-100): {at} watches the captured traffic",
                )
            )
        for field in _DEDICATED_ONLY:
            if field in given:
                problems.append(
                    (
                        f"{at}.{field}",
                        getattr(m, field),
                        "expected no endpoint setting with endpoint: serving (they configure "
                        "a dedicated endpoint; the multi-model endpoint's are under serving)",
                    )
                )
    if m.engine == PLATFORM_ENGINE:
        if m.job_instance_type is not None and has_instance_storage(m.job_instance_type):
            problems.append(
                (
                    f"{at}.job_instance_type",
                    m.job_instance_type,
                    "expected an instance type without local NVMe storage: the engine encrypts "
                    "the job's volume with the artifacts key, which SageMaker refuses there "
                    "(API reference, ProcessingClusterConfig.VolumeKmsKeyId)",
                )
            )
        for field in _MODEL_MONITOR_ONLY:
            if field in given:
                problems.append(
                    (
                        f"{at}.{field}",
                        getattr(m, field),
                        "expected it only with engine: model-monitor (the platform engine "
                        "runs on `schedule` and computes bias on the training bias_facet)",
                    )
                )
    elif "schedule" in given:
        problems.append(
            (
                f"{at}.schedule",
                m.schedule,
                "expected it only with engine: platform (Model Monitor uses `schedules`)",
            )
        )
    return problems


def _endpoint_problems(
    env: EnvironmentConfig, at: str, e: EndpointSettings, *, multi_model: bool
) -> list[Problem]:
    """Checks shared by the multi-model and the monitored endpoints."""
    problems: list[Problem] = [
        (f"{at}.{f}", v, x)
        for f, v, x in autoscaling_problems(e.instance_type, e.instance_count, e.autoscaling)
    ]
    problems += [
        (f"{at}.{f}", v, x)
        for f, v, x in ab_test_problems(
            e.ab_test, instance_type=e.instance_type, shadow=e.shadow, multi_model=multi_model
        )
    ]
    a = e.autoscaling
    # The documented canary/linear limits against the smallest fleet of any variant
    # (serving.py names the SageMaker documentation pages).
    fleet = smallest_fleet(e.instance_count, a, e.ab_test)
    if env.tier == Tier.PROD:
        # Prod must keep 2 instances (checked below); one problem for a fleet that is too small.
        fleet = max(fleet, 2)
    problems += [(f"{at}.{f}", v, x) for f, v, x in rollout_problems(e.rollout, fleet)]
    if env.tier == Tier.PROD:
        variants = [("", e.instance_count, a)]
        if e.ab_test is not None:
            variants += [
                (f".ab_test.challengers.{i}", c.instance_count, c.autoscaling)
                for i, c in enumerate(e.ab_test.challengers)
            ]
        for where, count, scaling in variants:
            lowest = min(count, scaling.min_capacity if scaling else count)
            if scaling is not None and scaling.off_hours is not None:
                lowest = min(lowest, scaling.off_hours.min_capacity)
            if lowest < 2:
                problems.append(
                    (
                        f"{at}{where}.instance_count",
                        lowest,
                        "expected at least 2 instances at all times in prod (also as "
                        "autoscaling and off-hours minimum), so that one Availability Zone "
                        "can fail",
                    )
                )
    return problems


def _components_problems(serving: ServingConfig) -> list[Problem]:
    """An inference-component endpoint: the construct's rules (documented limits, in
    component_props.py) and the settings it does not take."""
    problems: list[Problem] = [
        (f"serving.{f}", v, x)
        for f, v, x in components_problems(
            serving.instance_type, serving.scaling, serving.component_settings()
        )
    ]
    given = serving.model_fields_set
    problems += [
        (
            f"serving.{field}",
            getattr(serving, field),
            "expected no such setting with hosting: inference-components (instances follow "
            "`scaling`, each model's copies its `components` entry, and the deployer rolls "
            "out each new version with rollback on the component's alarms)",
        )
        for field in _MULTI_MODEL_ONLY
        if field in given
    ]
    problems += [
        (f"serving.components.{m}", m, f"expected a served model {serving.models}")
        for m in serving.components
        if m not in serving.models
    ]
    return problems


def serving_problems(env: EnvironmentConfig) -> list[Problem]:
    """Cross-field checks of the serving and monitoring sections."""
    problems: list[Problem] = []
    trained = {t.model_name: t for t in env.training}
    serving = env.serving
    if serving is not None:
        if serving.hosting == INFERENCE_COMPONENTS_HOSTING:
            problems += _components_problems(serving)
        else:
            problems += _endpoint_problems(env, "serving", serving, multi_model=True)
            problems += [
                (f"serving.{field}", getattr(serving, field), "expected it only with hosting: "
                 "inference-components")
                for field in ("components", "component_defaults", "scaling")
                if field in serving.model_fields_set
            ]  # fmt: skip
        if not serving.models:
            problems.append(("serving.models", [], "expected a training model to serve"))
        for model in serving.models:
            if model not in trained:
                problems.append(
                    ("serving.models", model, f"expected a training model {sorted(trained)}")
                )
        images = {
            (trained[m].algorithm, trained[m].algorithm_version)
            for m in serving.models
            if m in trained
        }
        if len(images) > 1:
            problems.append(
                (
                    "serving.models",
                    serving.models,
                    f"expected models of one algorithm and version (one container), got "
                    f"{sorted(images)}",
                )
            )
    seen: set[str] = set()
    for i, m in enumerate(env.monitoring):
        at = f"monitoring.{i}"
        problems += _monitoring_problems(env, at, m)
        if m.endpoint == DEDICATED_ENDPOINT:
            problems += _endpoint_problems(env, at, m, multi_model=False)
            if m.capture_percentage == 0:
                problems.append(
                    (
                        f"{at}.capture_percentage",
                        0,
                        "expected data capture on (1-100): every monitor reads the captured "
                        "traffic",
                    )
                )
        if m.model in seen:
            problems.append((f"{at}.model", m.model, "expected each model monitored once"))
        seen.add(m.model)
        t = trained.get(m.model)
        if t is None:
            problems.append(
                (f"{at}.model", m.model, f"expected a training model {sorted(trained)}")
            )
            continue
        if m.engine == PLATFORM_ENGINE:
            metrics = ENGINE_QUALITY_METRICS.get(t.problem_type, ())
            metric = m.quality_metric or (metrics[0] if metrics else None)
            if metric not in metrics:
                problems.append(
                    (
                        f"{at}.quality_metric",
                        metric,
                        f"expected one of {list(metrics)} (what the platform engine "
                        f"computes for {t.problem_type})",
                    )
                )
            continue
        # The construct's own rules (monitoring/props.py), in the config's field names.
        flat = {"feature_drift": "feature_drift_threshold"}
        problems += [
            (f"{at}.{flat.get(f, f)}", v, x)
            for f, v, x in quality_problems(t.problem_type, m.thresholds)
        ]
        problems += [
            (f"{at}.bias.{f}", v, x)
            for f, v, x in bias_problems(
                t.problem_type, t.feature_columns, m.bias.settings(t.bias_facet)
            )
        ]
    return problems

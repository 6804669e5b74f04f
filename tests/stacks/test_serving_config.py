"""The serving and monitoring sections of the config: each bad setting gives the clear error,
all of them in one error, and nothing is synthesized."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.config import ENVIRONMENTS_CONTEXT_KEY, ConfigError, load_config
from tests.helpers import config_problems as problems


def edit(base_context, env: str, section: str, **changes: Any) -> dict[str, Any]:
    ctx = copy.deepcopy(base_context)
    settings = ctx[ENVIRONMENTS_CONTEXT_KEY][env]
    if section == "serving":
        settings["serving"].update(changes)
    else:
        settings["monitoring"][0].update(changes)
    return ctx


#: A monitoring entry on Model Monitor: a dedicated endpoint serving a pinned version.
MODEL_MONITOR = {"engine": "model-monitor", "endpoint": "dedicated", "model_package_version": 1}
#: Model Monitor's bias settings for the regression model `spend`.
REGRESSION_BIAS = {"label_threshold": 8.5}


def model_monitor(base_context, env: str, **changes: Any) -> dict[str, Any]:
    """The first monitoring entry of ``env`` on Model Monitor, with ``changes``."""
    given = {"bias": REGRESSION_BIAS, **changes}
    return edit(base_context, env, "monitoring", **MODEL_MONITOR, **given)


def test_cdk_json_serves_and_monitors_in_every_environment(base_context):
    config = load_config(base_context)
    for env in config.environments:
        assert env.serving is not None and env.serving.models == ["spend"]
        (monitoring,) = env.monitoring
        # Fresh-account defaults: the platform engine on the served versions, no pinned
        # version (it waits for the first approval), capture on where it watches.
        assert monitoring.model == "spend" and monitoring.engine == "platform"
        assert monitoring.endpoint == "serving" and monitoring.model_package_version is None
        assert env.serving.capture_percentage > 0
    prod = config.environment("prod")
    assert prod.serving.instance_count >= 2 and prod.serving.autoscaling.min_capacity >= 2
    # Each hosting mode in one environment: dev on inference components scaled to zero,
    # staging on the multi-model endpoint with an A/B test, prod on it with two instances.
    dev = config.environment("dev")
    assert dev.serving.hosting == "inference-components"
    assert dev.serving.scaling.scale_to_zero and dev.serving.scaling.min_instances == 0
    assert dev.serving.component_settings()["spend"].min_copies == 0
    assert dev.serving.component_settings()["spend"] == dev.serving.component_defaults
    staging = config.environment("staging")
    assert staging.serving.hosting == "multi-model"
    assert [c.name for c in staging.serving.ab_test.challengers] == ["xlarge"]


def test_min_above_max(base_context):
    ctx = edit(
        base_context, "staging", "serving", autoscaling={"min_capacity": 3, "max_capacity": 2}
    )
    (problem,) = problems(ctx)
    assert problem == (
        "environment 'staging', field 'serving.autoscaling.min_capacity': got 3; "
        "expected at most max_capacity (2)"
    )


def test_burstable_instances_cannot_autoscale(base_context):
    ctx = edit(base_context, "staging", "serving", instance_type="ml.t2.medium")
    (problem,) = problems(ctx)
    assert "environment 'staging', field 'serving.instance_type': got 'ml.t2.medium'" in problem
    assert "SageMaker cannot scale ml.t* instances" in problem


@pytest.mark.parametrize("value", [-1, 101])
def test_capture_sampling_outside_0_to_100(base_context, value):
    ctx = edit(base_context, "dev", "serving", capture_percentage=value)
    (problem,) = problems(ctx)
    assert f"field 'serving.capture_percentage': got {value};" in problem


def test_prod_needs_two_instances_at_all_times(base_context):
    ctx = edit(
        base_context,
        "prod",
        "serving",
        instance_count=1,
        autoscaling={"min_capacity": 1, "max_capacity": 4},
    )
    (problem,) = problems(ctx)
    assert problem.startswith("environment 'prod', field 'serving.instance_count': got 1;")
    assert "at least 2 instances" in problem
    # The same rule for a dedicated monitored endpoint, including the off-hours floor.
    ctx = model_monitor(
        base_context,
        "prod",
        instance_count=2,
        autoscaling={
            "min_capacity": 2,
            "max_capacity": 4,
            "off_hours": {"min_capacity": 1, "max_capacity": 2},
        },
    )
    (problem,) = problems(ctx)
    assert "field 'monitoring.0.instance_count': got 1;" in problem


def test_served_models_must_be_trained(base_context):
    ctx = edit(base_context, "dev", "serving", models=["spend", "churn"])
    (problem,) = problems(ctx)
    assert problem == (
        "environment 'dev', field 'serving.models': got 'churn'; "
        "expected a training model ['spend']"
    )


def test_monitor_cron_must_be_one_model_monitor_accepts(base_context):
    ctx = model_monitor(
        base_context,
        "dev",
        schedules={"data_quality": "cron(30 2 ? * MON *)", "model_bias": "rate(1 hour)"},
    )
    found = problems(ctx)
    assert len(found) == 2
    assert "field 'monitoring.0.schedules.data_quality': got 'cron(30 2 ? * MON *)'" in found[0]
    assert "expected a Model Monitor schedule" in found[0]
    assert "monitoring.0.schedules.model_bias" in found[1]


def test_quality_metric_must_fit_the_problem_type(base_context):
    ctx = model_monitor(base_context, "dev", quality_metric="auc")
    (problem,) = problems(ctx)
    assert problem == (
        "environment 'dev', field 'monitoring.0.quality_metric': got 'auc'; "
        "expected one of ['mae', 'mse', 'r2', 'rmse'] for regression"
    )
    # The platform engine computes no mse.
    ctx = edit(base_context, "dev", "monitoring", quality_metric="mse")
    (problem,) = problems(ctx)
    assert problem == (
        "environment 'dev', field 'monitoring.0.quality_metric': got 'mse'; "
        "expected one of ['rmse', 'mae', 'r2'] (what the platform engine computes for "
        "regression)"
    )
    load_config(edit(base_context, "dev", "monitoring", quality_metric="mae"))  # accepted


def test_thresholds_outside_their_metric_range(base_context):
    ctx = model_monitor(
        base_context,
        "staging",
        quality_metric="r2",
        quality_threshold=1.5,
        bias={"label_threshold": 8.5, "thresholds": {"TVD": 1.2, "DPL": -0.1, "XYZ": 0.1}},
    )
    found = problems(ctx)
    text = "\n".join(found)
    assert "field 'monitoring.0.quality_threshold': got 1.5; expected r2 within [-inf, 1]" in text
    assert "field 'monitoring.0.bias.thresholds.TVD': got 1.2; expected above 0 and below 1" in text
    assert "field 'monitoring.0.bias.thresholds.DPL': got -0.1" in text
    assert "field 'monitoring.0.bias.thresholds': got 'XYZ'" in text
    assert len(found) == 4
    ctx = edit(base_context, "staging", "monitoring", feature_drift_threshold=2)
    (problem,) = problems(ctx)
    assert "field 'monitoring.0.feature_drift_threshold': got 2;" in problem


def test_regression_bias_needs_a_label_threshold_and_cddl_a_group(base_context):
    ctx = model_monitor(base_context, "dev", bias={"thresholds": {"CDDL": 0.2}})
    found = problems(ctx)
    assert any(
        "field 'monitoring.0.bias.thresholds.CDDL': got 0.2; expected a bias.group_variable" in p
        for p in found
    )
    assert any("field 'monitoring.0.bias.label_threshold': got None" in p for p in found)


def test_monitoring_needs_data_capture(base_context):
    ctx = model_monitor(base_context, "dev", capture_percentage=0)
    (problem,) = problems(ctx)
    assert "field 'monitoring.0.capture_percentage': got 0; expected data capture on" in problem
    # On the multi-model endpoint, its capture is the one watched.
    ctx = edit(base_context, "dev", "serving", capture_percentage=0)
    (problem,) = problems(ctx)
    assert problem == (
        "environment 'dev', field 'serving.capture_percentage': got 0; expected data capture "
        "on (1-100): monitoring.0 watches the captured traffic"
    )


def test_model_monitor_is_refused_on_the_multi_model_endpoint(base_context):
    ctx = edit(base_context, "prod", "monitoring", engine="model-monitor", bias=REGRESSION_BIAS)
    found = problems(ctx)
    assert found[0].startswith(
        "environment 'prod', field 'monitoring.0.engine': got 'model-monitor'; expected "
        "'platform' on the serving endpoint: Model Monitor watches only endpoints that host a "
        "single model and does not monitor multi-model endpoints"
    )
    assert len(found) == 1, found
    # Control: the same engine on a dedicated endpoint serving a pinned version is accepted.
    load_config(model_monitor(base_context, "prod", instance_count=2))  # accepted


def test_a_dedicated_endpoint_needs_a_pinned_version(base_context):
    ctx = edit(base_context, "dev", "monitoring", endpoint="dedicated")
    (problem,) = problems(ctx)
    assert problem.startswith(
        "environment 'dev', field 'monitoring.0.model_package_version': got None; expected "
        "the approved version the dedicated endpoint serves"
    )
    load_config(edit(ctx, "dev", "monitoring", model_package_version=3))  # accepted


def test_settings_of_another_choice_are_refused(base_context):
    # Endpoint settings configure a dedicated endpoint; Model Monitor's schedules and bias
    # are its own; the platform engine's schedule is the platform engine's.
    ctx = edit(
        base_context,
        "staging",
        "monitoring",
        instance_type="ml.m5.xlarge",
        schedules={"data_quality": "cron(0 * ? * * *)"},
    )
    found = problems(ctx)
    assert len(found) == 2, found
    assert (
        "field 'monitoring.0.instance_type': got 'ml.m5.xlarge'; expected no endpoint "
        in (found[0])
    )
    assert "field 'monitoring.0.schedules'" in found[1]
    assert "expected it only with engine: model-monitor" in found[1]
    ctx = model_monitor(base_context, "staging", schedule="cron(10 * * * ? *)")
    (problem,) = problems(ctx)
    assert "field 'monitoring.0.schedule': got 'cron(10 * * * ? *)'" in problem


def test_the_watched_model_must_be_served(base_context):
    ctx = copy.deepcopy(base_context)
    ctx[ENVIRONMENTS_CONTEXT_KEY]["dev"]["serving"] = None
    (problem,) = problems(ctx)
    assert problem.startswith(
        "environment 'dev', field 'monitoring.0.endpoint': got 'serving'; expected "
        "'dedicated', or the model among serving.models []"
    )


def test_every_problem_of_every_environment_in_one_error(base_context):
    ctx = edit(base_context, "dev", "serving", capture_percentage=150)
    ctx = edit(ctx, "dev", "monitoring", quality_threshold="high")
    ctx = edit(ctx, "prod", "serving", instance_count=1, autoscaling=None)
    ctx = edit(ctx, "staging", "monitoring", model_package_version=0)
    found = problems(ctx)
    assert len(found) == 4, found
    assert {p.split("'")[1] for p in found} == {"dev", "prod", "staging"}


def test_a_bad_config_writes_nothing(base_context, tmp_path):
    from stacks.app_factory import create_app

    ctx = edit(base_context, "dev", "serving", capture_percentage=101)
    with pytest.raises(ConfigError):
        create_app(ctx, outdir=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_function_log_retention_must_be_a_cloudwatch_period(base_context):
    ctx = copy.deepcopy(base_context)
    ctx[ENVIRONMENTS_CONTEXT_KEY]["dev"]["logs"] = {"function_retention_days": 45}
    (problem,) = problems(ctx)
    assert problem.startswith(
        "environment 'dev', field 'logs.function_retention_days': got 45; expected one of"
    )


def test_the_engine_job_needs_an_instance_type_without_local_storage(base_context):
    ctx = edit(base_context, "dev", "monitoring", job_instance_type="ml.m5d.xlarge")
    (problem,) = problems(ctx)
    assert problem.startswith(
        "environment 'dev', field 'monitoring.0.job_instance_type': got 'ml.m5d.xlarge'; "
        "expected an instance type without local NVMe storage"
    )
    load_config(edit(base_context, "dev", "monitoring", job_instance_type="ml.m5.xlarge"))


def test_inference_components_take_their_own_settings_only(base_context):
    # The multi-model settings are refused on inference components, and the other way round.
    ctx = edit(base_context, "dev", "serving", instance_count=2, rollout={"traffic": "LINEAR"})
    found = problems(ctx)
    assert [p.split("'")[3] for p in found] == ["serving.instance_count", "serving.rollout"]
    assert "expected no such setting with hosting: inference-components" in found[0]
    ctx = edit(base_context, "staging", "serving", scaling={"min_instances": 0})
    (problem,) = problems(ctx)
    assert problem.startswith(
        "environment 'staging', field 'serving.scaling': got InstanceScaling(min_instances=0"
    )
    assert problem.endswith("expected it only with hosting: inference-components")


def test_components_must_fit_and_scale_to_zero_by_the_rules(base_context):
    # Copies that cannot fit, and a kept copy on an endpoint that scales to zero (the
    # construct's rules, component_props.py, reported as config errors).
    ctx = edit(
        base_context,
        "dev",
        "serving",
        components={"spend": {"cpu_cores": 4, "min_copies": 1, "max_copies": 1}},
    )
    found = problems(ctx)
    fields = sorted(p.split("'")[3] for p in found)
    assert fields == [
        "serving.components",
        "serving.components.spend",
        "serving.components.spend.min_copies",
    ]
    assert any("expected one copy to fit one ml.m5.large (2 vCPUs, 8192 MiB)" in p for p in found)
    ctx = edit(base_context, "dev", "serving", components={"churn": {}})
    (problem,) = problems(ctx)
    assert "field 'serving.components.churn': got 'churn'; expected a served model" in problem


def test_a_b_test_rules_reach_the_config(base_context):
    # A/B beside a shadow variant is refused (SageMaker: one production variant with a
    # shadow); and in prod every challenger keeps two instances too.
    ctx = edit(base_context, "staging", "serving", shadow={"instance_type": "ml.m5.large"})
    found = problems(ctx)
    assert any("serving.ab_test" in p and "shadow" in p for p in found), found
    ctx = edit(
        base_context,
        "prod",
        "serving",
        ab_test={"challengers": [{"name": "c5", "weight": 1, "instance_count": 1}]},
    )
    found = problems(ctx)
    assert any(
        "field 'serving.ab_test.challengers.0.instance_count': got 1; expected at least 2" in p
        for p in found
    ), found

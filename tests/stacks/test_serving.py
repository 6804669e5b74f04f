"""The Serving and Monitoring stacks of each environment, as config/ configures them."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ENVIRONMENTS
from tests.helpers import functions_with_handler
from tests.stacks.test_app import resources_of_type
from tests.stacks.test_training import _text


def _one(template, type_name):
    (resource,) = resources_of_type(template, type_name).values()
    return resource["Properties"]


@pytest.mark.parametrize(
    ("env", "instance", "count", "bounds", "policies"),
    [
        ("staging", "ml.m5.large", 1, (1, 3), {"invocations-per-instance"}),
        ("prod", "ml.m5.xlarge", 2, (2, 6), {"invocations-per-instance", "cpu-utilization"}),
    ],
)
def test_multi_model_endpoint_per_environment(platform, env, instance, count, bounds, policies):
    template = platform.template(env, "Serving")
    models = resources_of_type(template, "AWS::SageMaker::Model").values()
    for model in models:  # the champion's, and a challenger's only with its own image
        assert model["Properties"]["PrimaryContainer"]["Mode"] == "MultiModel"
        assert model["Properties"]["PrimaryContainer"]["Image"].endswith(
            ".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
        )
    variants = _one(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    champion = variants[0]
    assert champion["VariantName"] == "AllTraffic"
    assert (champion["InstanceType"], champion["InitialInstanceCount"]) == (instance, count)
    targets = resources_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    (target,) = [
        t["Properties"] for t in targets.values() if "AllTraffic" in json.dumps(t["Properties"])
    ]
    assert (target["MinCapacity"], target["MaxCapacity"]) == bounds
    names = {
        p["Properties"]["PolicyName"]
        for p in resources_of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert names == policies
    assert "ScheduledActions" not in target


def test_staging_runs_an_a_b_test_whose_shifted_weights_survive_deploys(platform):
    template = platform.template("staging", "Serving")
    variants = _one(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert [(v["VariantName"], v["InitialVariantWeight"], v["InstanceType"]) for v in variants] == [
        ("AllTraffic", 4, "ml.m5.large"),
        ("xlarge", 1, "ml.m5.xlarge"),
    ]
    endpoint = _one(template, "AWS::SageMaker::Endpoint")
    # Weights shifted at run time (UpdateEndpointWeightsAndCapacities) are kept by updates.
    assert endpoint["RetainAllVariantProperties"] is True
    excluded = {
        e["VariantPropertyType"] for e in endpoint.get("ExcludeRetainedVariantProperties", [])
    }
    assert "DesiredWeight" not in excluded


def test_dev_serves_from_inference_components_scaled_to_zero(platform):
    template = platform.template("dev", "Serving")
    (variant,) = _one(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert "ModelName" not in variant  # components are created by the deployer
    assert variant["ManagedInstanceScaling"]["MinInstanceCount"] == 0
    assert not resources_of_type(template, "AWS::SageMaker::Model")
    (variables,) = _handler_variables(template, "model_deployer.index.handler")
    assert variables["HOSTING"] == "inference-components"
    components = json.loads(_text(variables["COMPONENTS"]))
    (spend,) = components.values()
    assert spend["min_copies"] == 0 and spend["scale_to_zero"] is True


def test_approved_versions_of_the_served_models_flow_into_the_endpoint(platform):
    for env in ENVIRONMENTS:
        template = platform.template(env, "Serving")
        group = platform.stack(env, "Training").registries["spend"].group_name
        (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
        assert rule["Properties"]["EventPattern"]["detail"] == {
            "ModelPackageGroupName": [group],
            "ModelApprovalStatus": ["Approved", "Rejected"],
        }


def _handler_variables(template, handler):
    return [f["Environment"]["Variables"] for f in functions_with_handler(template, handler)]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_engine_watches_the_served_versions_without_a_pinned_one(platform, env):
    """The shipped config: the platform engine on the multi-model endpoint people call, the
    newest approved version (nothing pinned, so a fresh account deploys), no endpoint or
    Model Monitor schedule of its own."""
    template = platform.template(env, "Monitoring")
    group = platform.stack(env, "Training").registries["spend"].group_name
    endpoint = platform.stack(env, "Serving").endpoint
    for absent in (
        "AWS::SageMaker::Endpoint",
        "AWS::SageMaker::Model",
        "AWS::SageMaker::MonitoringSchedule",
    ):
        assert not resources_of_type(template, absent), absent
    capture = platform.config.environment(env).serving.capture_percentage
    serving = _one(platform.template(env, "Serving"), "AWS::SageMaker::EndpointConfig")
    assert serving["DataCaptureConfig"]["InitialSamplingPercentage"] == capture > 0
    (launcher,) = _handler_variables(template, "monitoring_launcher.index.handler")
    assert launcher["MODEL_GROUP"] == group and launcher["PINNED_VERSION"] == ""
    assert launcher["CAPTURE_PREFIX"].startswith(f"endpoints/{endpoint.endpoint_name}/capture/")
    (pipeline,) = resources_of_type(template, "AWS::SageMaker::Pipeline").values()
    body = json.loads(_text(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]))
    (step,) = body["Steps"]
    arguments = step["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--endpoint") + 1] == endpoint.endpoint_name
    assert arguments[arguments.index("--model-group") + 1] == group
    (schedule,) = resources_of_type(template, "AWS::Scheduler::Schedule").values()
    assert schedule["Properties"]["ScheduleExpression"] == "cron(10 * * * ? *)"
    (variables,) = _handler_variables(template, "retraining_trigger.index.handler")
    assert variables["PIPELINE_NAME"] == group


def test_model_monitor_watches_a_dedicated_endpoint_of_the_pinned_version(model_monitor_app):
    """``engine: model-monitor``: a single-model endpoint serving the pinned version, Model
    Monitor's three jobs on their schedules (no explainability: it would call the endpoint),
    the version's baselines read from the registry at deploy time."""
    env = "staging"
    template = model_monitor_app.template(env, "Monitoring")
    group = model_monitor_app.stack(env, "Training").registries["spend"].group_name
    package = _one(template, "AWS::SageMaker::Model")["PrimaryContainer"]["ModelPackageName"]
    account = model_monitor_app.config.environment(env).account
    assert package == f"arn:aws:sagemaker:eu-west-1:{account}:model-package/{group}/1"
    config = _one(template, "AWS::SageMaker::EndpointConfig")
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    schedules = resources_of_type(template, "AWS::SageMaker::MonitoringSchedule")
    crons = {
        s["Properties"]["MonitoringScheduleConfig"]["MonitoringType"]: s["Properties"][
            "MonitoringScheduleConfig"
        ]["ScheduleConfig"]["ScheduleExpression"]
        for s in schedules.values()
    }
    assert crons == {
        "DataQuality": "cron(0 * ? * * *)",
        "ModelQuality": "cron(0 4 ? * * *)",
        "ModelBias": "cron(0 5 ? * * *)",
    }
    assert not resources_of_type(template, "AWS::SageMaker::Pipeline")  # no engine
    (variables,) = _handler_variables(template, "retraining_trigger.index.handler")
    assert variables["PIPELINE_NAME"] == group
    assert "DescribeModelPackage" in json.dumps(template)


@pytest.mark.parametrize(("env", "days"), [("dev", 30), ("staging", 365), ("prod", 731)])
def test_function_logs_are_kept_as_configured(platform, env, days):
    assert platform.config.environment(env).logs.function_retention_days == days
    for stack in ("Serving", "Monitoring", "Protection"):
        groups = resources_of_type(platform.template(env, stack), "AWS::Logs::LogGroup")
        functions = [g for k, g in groups.items() if not k.startswith("AWS679f53fac")]
        assert functions, stack
        assert {g["Properties"]["RetentionInDays"] for g in functions} == {days}, stack

"""The Serving and Monitoring stacks of each environment, as config/ configures them."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ENVIRONMENTS
from tests.stacks.test_app import resources_of_type


def _one(template, type_name):
    (resource,) = resources_of_type(template, type_name).values()
    return resource["Properties"]


@pytest.mark.parametrize(
    ("env", "instance", "count", "bounds", "policies"),
    [
        ("dev", "ml.m5.large", 1, (1, 2), {"invocations-per-instance"}),
        ("staging", "ml.m5.large", 1, (1, 3), {"invocations-per-instance"}),
        ("prod", "ml.m5.xlarge", 2, (2, 6), {"invocations-per-instance", "cpu-utilization"}),
    ],
)
def test_multi_model_endpoint_per_environment(platform, env, instance, count, bounds, policies):
    template = platform.template(env, "Serving")
    model = _one(template, "AWS::SageMaker::Model")
    assert model["PrimaryContainer"]["Mode"] == "MultiModel"
    assert model["PrimaryContainer"]["Image"].endswith(
        ".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    )
    (variant,) = _one(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == (instance, count)
    target = _one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == bounds
    names = {
        p["Properties"]["PolicyName"]
        for p in resources_of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert names == policies
    # Off-hours capacity only where configured (dev).
    assert ("ScheduledActions" in target) is (env == "dev")


def test_approved_versions_of_the_served_models_flow_into_the_endpoint(platform):
    for env in ENVIRONMENTS:
        template = platform.template(env, "Serving")
        group = platform.stack(env, "Training").registries["spend"].group_name
        (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
        assert rule["Properties"]["EventPattern"]["detail"] == {
            "ModelPackageGroupName": [group],
            "ModelApprovalStatus": ["Approved"],
        }


@pytest.mark.parametrize(("env", "capture"), [("dev", 100), ("staging", 50), ("prod", 20)])
def test_monitored_endpoint_pins_a_version_and_is_watched(platform, env, capture):
    template = platform.template(env, "Monitoring")
    group = platform.stack(env, "Training").registries["spend"].group_name
    package = _one(template, "AWS::SageMaker::Model")["PrimaryContainer"]["ModelPackageName"]
    account = platform.config.environment(env).account
    assert package == f"arn:aws:sagemaker:eu-west-1:{account}:model-package/{group}/1"
    config = _one(template, "AWS::SageMaker::EndpointConfig")
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == capture
    schedules = resources_of_type(template, "AWS::SageMaker::MonitoringSchedule")
    types = sorted(
        s["Properties"]["MonitoringScheduleConfig"]["MonitoringType"] for s in schedules.values()
    )
    assert types == ["DataQuality", "ModelBias", "ModelExplainability", "ModelQuality"]
    retraining = [
        f["Properties"]["Environment"]["Variables"]
        for f in resources_of_type(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "retraining_trigger.index.handler"
    ]
    (variables,) = retraining
    assert variables["PIPELINE_NAME"] == group
    baselines = json.dumps(_one(template, "AWS::SageMaker::DataQualityJobDefinition"))
    assert f"/pipelines/{group}/baselines/data-quality/constraints.json" in baselines


def test_dev_monitors_data_quality_less_often_than_hourly(platform):
    crons = {
        s["Properties"]["MonitoringScheduleConfig"]["MonitoringType"]: s["Properties"][
            "MonitoringScheduleConfig"
        ]["ScheduleConfig"]["ScheduleExpression"]
        for s in resources_of_type(
            platform.template("dev", "Monitoring"), "AWS::SageMaker::MonitoringSchedule"
        ).values()
    }
    assert crons["DataQuality"] == "cron(0 0/6 ? * * *)"
    prod = resources_of_type(
        platform.template("prod", "Monitoring"), "AWS::SageMaker::MonitoringSchedule"
    )
    assert "cron(0 * ? * * *)" in json.dumps(prod)


@pytest.mark.parametrize(("env", "days"), [("dev", 30), ("staging", 365), ("prod", 731)])
def test_function_logs_are_kept_as_configured(platform, env, days):
    assert platform.config.environment(env).logs.function_retention_days == days
    for stack in ("Serving", "Monitoring", "Protection"):
        groups = resources_of_type(platform.template(env, stack), "AWS::Logs::LogGroup")
        functions = [g for k, g in groups.items() if not k.startswith("AWS679f53fac")]
        assert functions, stack
        assert {g["Properties"]["RetentionInDays"] for g in functions} == {days}, stack

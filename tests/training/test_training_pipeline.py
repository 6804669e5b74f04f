"""TrainingPipeline used directly, as a library user would: what it needs is said up front."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from mlops_constructs import (
    DataLake,
    ModelRegistry,
    PropsError,
    TrainingPipeline,
    TuningSettings,
)
from mlops_constructs.training._definition import DATA_QUALITY_DATASET_FORMAT
from tests.helpers import ACCOUNT, REGION, endpoint_base, hide_sagemaker_sdk

FEATURES = ["segment_consumer", "annual_spend_log"]


def _pipeline(stack: cdk.Stack, **props: Any) -> TrainingPipeline:
    key, common = endpoint_base(stack)
    return TrainingPipeline(
        stack,
        "Pipeline",
        pipeline_name="team-spend",
        lake=DataLake(stack, "InputLake", encryption_key=key),
        input_zone="curated",
        input_prefix="features/",
        artifacts=common["artifacts"],
        registry=ModelRegistry(stack, "Registry", group_name="team-spend"),
        vpc=common["vpc"],
        subnets=common["subnets"],
        security_group=common["security_group"],
        label="churned",
        features=FEATURES,
        key_column="customer_id",
        bias_facet="segment_consumer",
        tuning=TuningSettings(
            problem_type="binary_classification",
            objective_metric="validation:auc",
            objective_type="Maximize",
            ranges=[{"name": "eta", "type": "continuous", "min": 0.1, "max": 0.5}],
        ),
        evaluation_threshold=0.7,
        **props,
    )


def _stack(**env: Any) -> cdk.Stack:
    return cdk.Stack(cdk.App(), "UserStack", **env)


def test_builds_in_a_stack_with_an_explicit_region():
    pipeline = _pipeline(_stack(env=cdk.Environment(account=ACCOUNT, region=REGION)))
    assert pipeline.features == FEATURES


def test_without_the_sdk_the_error_names_the_extra(monkeypatch):
    hide_sagemaker_sdk(monkeypatch)
    stack = _stack(env=cdk.Environment(account=ACCOUNT, region=REGION))
    with pytest.raises(PropsError) as caught:
        _pipeline(stack)
    message = str(caught.value)
    assert "TrainingPipeline" in message
    assert "SageMaker Python SDK" in message
    assert 'pip install "mlops-platform-constructs[pipelines]"' in message


def test_an_environment_agnostic_stack_is_refused_with_what_to_do():
    with pytest.raises(PropsError) as caught:
        _pipeline(_stack())
    message = str(caught.value)
    assert "TrainingPipeline" in message
    assert "region" in message
    assert "env=" in message
    assert "Token" not in message


def _steps(pipeline: TrainingPipeline) -> dict[str, str]:
    """Step name -> type, condition branches included."""
    found = {}
    for step in json.loads(pipeline.definition_body)["Steps"]:
        found[step["Name"]] = step["Type"]
        for key in ("IfSteps", "ElseSteps"):
            for nested in step.get("Arguments", {}).get(key, []):
                found[nested["Name"]] = nested["Type"]
    return found


def test_by_default_no_step_needs_model_monitor_or_clarify():
    """Both are closed to new customers: a library user gets the monitoring baseline step,
    and no check step or Clarify file upload, unless they ask for Model Monitor's."""
    stack = _stack(env=cdk.Environment(account=ACCOUNT, region=REGION))
    pipeline = _pipeline(stack)
    assert pipeline.model_monitor_baselines is False
    steps = _steps(pipeline)
    assert steps["MonitoringBaseline"] == "Processing"
    assert not {"QualityCheck", "ClarifyCheck"} & set(steps.values())
    template = Template.from_stack(stack).to_json()
    assert not [r for r in template["Resources"].values() if r["Type"] == "Custom::AWS"]
    assert pipeline.upload_keys == {}


def test_model_monitor_baselines_keeps_the_check_steps():
    stack = _stack(env=cdk.Environment(account=ACCOUNT, region=REGION))
    pipeline = _pipeline(stack, model_monitor_baselines=True)
    assert pipeline.model_monitor_baselines is True
    steps = _steps(pipeline)
    assert steps["DataQualityBaseline"] == "QualityCheck"
    assert steps["DataBiasBaseline"] == "ClarifyCheck"
    assert steps["MonitoringBaseline"] == "Processing"
    # Clarify's analysis config and the bias monitoring config (keyed by its content, so a
    # version registered earlier keeps its own), written by the stack.
    names = sorted(k.rsplit("/", 1)[-1] for k in pipeline.upload_keys.values())
    assert names[0] == "analysis_config.json"
    assert re.fullmatch(r"bias-monitoring-configuration-[0-9a-f]{16}\.json", names[1]), names

    # Each run writes its baselines under its execution, and the version it registers names
    # those: a later run, approved or not, never overwrites a registered version's baselines.
    steps = {s["Name"]: s for s in _all_steps(pipeline)}
    under_execution = {
        "Std:Join": {
            "On": "/",
            "Values": [
                steps["DataQualityBaseline"]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0][
                    "S3Output"
                ]["S3Uri"]["Std:Join"]["Values"][0],
                "executions",
                {"Get": "Execution.PipelineExecutionId"},
                "baselines",
            ],
        }
    }
    for name, output in (
        ("DataQualityBaseline", "data-quality"),
        ("DataBiasBaseline", "data-bias"),
    ):
        (written,) = steps[name]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
        expected = copy.deepcopy(under_execution)
        expected["Std:Join"]["Values"].append(output)
        assert written["S3Output"]["S3Uri"] == expected, name
    assert pipeline.executions_prefix == "pipelines/team-spend/executions/"
    assert under_execution["Std:Join"]["Values"][0].endswith("/pipelines/team-spend")
    drift = steps["RegisterModel"]["Arguments"]["DriftCheckBaselines"]
    assert drift["ModelDataQuality"] == {
        "Statistics": {
            "ContentType": "application/json",
            "S3Uri": {"Get": "Steps.DataQualityBaseline.BaselineUsedForDriftCheckStatistics"},
        },
        "Constraints": {
            "ContentType": "application/json",
            "S3Uri": {"Get": "Steps.DataQualityBaseline.BaselineUsedForDriftCheckConstraints"},
        },
    }
    # The format ModelMonitor derives its drift metric names from (header-less, label first).
    environment = steps["DataQualityBaseline"]["Arguments"]["Environment"]
    assert json.loads(environment["dataset_format"]) == {"csv": DATA_QUALITY_DATASET_FORMAT}
    assert DATA_QUALITY_DATASET_FORMAT == {"header": False, "output_columns_position": "START"}


def _all_steps(pipeline: TrainingPipeline) -> list[dict[str, Any]]:
    """Every step's JSON, condition branches included."""
    found = []
    for step in json.loads(pipeline.definition_body)["Steps"]:
        found.append(step)
        for key in ("IfSteps", "ElseSteps"):
            found.extend(step.get("Arguments", {}).get(key, []))
    return found

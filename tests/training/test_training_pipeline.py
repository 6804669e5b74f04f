"""TrainingPipeline used directly, as a library user would: what it needs is said up front."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from mlops_constructs import (
    DataLake,
    ModelRegistry,
    PropsError,
    TrainingPipeline,
    TuningSettings,
)
from tests.helpers import ACCOUNT, REGION, endpoint_base, hide_sagemaker_sdk

FEATURES = ["segment_consumer", "annual_spend_log"]


def _pipeline(stack: cdk.Stack) -> TrainingPipeline:
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

"""Every event-driven function gets Powertools from the layer AWS publishes, resolved at deploy."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from mlops_constructs.core.event_function import (
    POWERTOOLS_VERSION,
    event_function,
    powertools_layer_parameter,
)
from tests.helpers import synth_construct

ROOT = Path(__file__).resolve().parents[2]


def _two_functions(stack):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    made = []
    for id, handler in (("Deployer", "model_deployer"), ("Trigger", "retraining_trigger")):
        made.append(
            event_function(
                Construct(stack, id),
                handler=handler,
                description=handler,
                logs_key=key,
                environment={},
                timeout=Duration.minutes(1),
            )
        )
    return made


def test_the_layer_arn_is_a_deploy_time_ssm_parameter_of_the_pinned_release():
    template, _, _ = synth_construct(_two_functions)
    name = f"/aws/service/powertools/python/x86_64/python3.14/{POWERTOOLS_VERSION}"
    parameters = {
        id: p
        for id, p in template.to_json().get("Parameters", {}).items()
        if p.get("Default") == name
    }
    # One parameter per stack, however many functions use it; CloudFormation reads it at
    # deploy time (nothing is looked up at synth, nothing lands in cdk.context.json).
    assert len(parameters) == 1
    ((parameter_id, parameter),) = parameters.items()
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    functions = template.find_resources("AWS::Lambda::Function")
    assert len(functions) == 2
    for function in functions.values():
        assert function["Properties"]["Layers"] == [{"Ref": parameter_id}]
        assert function["Properties"]["Runtime"] == "python3.14"


def test_the_parameter_follows_runtime_and_architecture():
    assert (
        powertools_layer_parameter(lambda_.Runtime.PYTHON_3_13, lambda_.Architecture.ARM_64)
        == f"/aws/service/powertools/python/arm64/python3.13/{POWERTOOLS_VERSION}"
    )


def test_tests_install_the_release_the_functions_run():
    pins = re.findall(
        r"^aws-lambda-powertools==(\S+)$",
        (ROOT / "requirements-dev.txt").read_text(),
        flags=re.MULTILINE,
    )
    assert pins == [POWERTOOLS_VERSION]


def test_powertools_is_no_dependency_of_the_construct_library():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        declared += extra
    assert not [d for d in declared if "powertools" in d.lower()]
    assert "powertools" not in (ROOT / "requirements.txt").read_text().lower()

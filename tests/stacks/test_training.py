"""The training pipeline as synthesized: its definition, jobs, registration and triggers."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, resources_of_type

DEPLOY_TIME = "resolved-at-deploy"


def _text(node: Any) -> str:
    """A CloudFormation string value with every intrinsic replaced by a fixed marker."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and "Fn::Join" in node:
        delimiter, parts = node["Fn::Join"]
        return delimiter.join(_text(p) for p in parts)
    return DEPLOY_TIME


def definition(platform, env: str) -> dict[str, Any]:
    (pipeline,) = resources_of_type(
        platform.template(env, "Training"), "AWS::SageMaker::Pipeline"
    ).values()
    return json.loads(_text(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]))


def steps(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for step in doc["Steps"]:
        found[step["Name"]] = step
        for key in ("IfSteps", "ElseSteps"):
            for nested in step.get("Arguments", {}).get(key, []):
                found[nested["Name"]] = nested
    return found


@pytest.fixture(scope="module")
def staging(platform):
    return definition(platform, "staging")


def test_step_graph(staging):
    assert [s["Name"] for s in staging["Steps"]] == [
        "PrepareFeatures",
        "TuneModel",
        "DataQualityBaseline",
        "DataBiasBaseline",
        "EvaluateModel",
        "CheckMetric",
    ]
    by_name = steps(staging)
    assert by_name["PrepareFeatures"]["Type"] == "Processing"
    assert by_name["TuneModel"]["Type"] == "Tuning"
    assert by_name["DataQualityBaseline"]["Type"] == "QualityCheck"
    assert by_name["DataBiasBaseline"]["Type"] == "ClarifyCheck"
    check = by_name["CheckMetric"]
    assert [s["Name"] for s in check["Arguments"]["IfSteps"]] == ["RegisterModel"]
    assert [s["Type"] for s in check["Arguments"]["ElseSteps"]] == ["Fail"]
    # Data flows: tuning reads PrepareFeatures' splits; evaluation reads the best model.
    tuning = json.dumps(by_name["TuneModel"]["Arguments"])
    assert "Steps.PrepareFeatures.ProcessingOutputConfig.Outputs['train']" in tuning
    assert "Steps.TuneModel.TrainingJobSummaries[0].TrainingJobName" in json.dumps(
        by_name["EvaluateModel"]
    )
    condition = check["Arguments"]["Conditions"][0]
    assert condition["Type"] == "LessThanOrEqualTo"  # RMSE: lower is better
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "regression_metrics.rmse.value"
    assert condition["RightValue"] == {"Get": "Parameters.MetricThreshold"}


def test_tuning_strategy_ranges_and_spot(staging):
    arguments = steps(staging)["TuneModel"]["Arguments"]
    tuning = arguments["HyperParameterTuningJobConfig"]
    assert tuning["Strategy"] == "Bayesian"
    assert tuning["TrainingJobEarlyStoppingType"] == "Auto"
    assert tuning["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2}
    assert tuning["HyperParameterTuningJobObjective"] == {
        "MetricName": "validation:rmse",
        "Type": "Minimize",
    }
    ranges = tuning["ParameterRanges"]
    assert [r["Name"] for r in ranges["IntegerParameterRanges"]] == ["max_depth"]
    eta = next(r for r in ranges["ContinuousParameterRanges"] if r["Name"] == "eta")
    assert (eta["MinValue"], eta["MaxValue"], eta["ScalingType"]) == ("0.05", "0.3", "Logarithmic")
    job = arguments["TrainingJobDefinition"]
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert job["CheckpointConfig"]["S3Uri"].endswith("/checkpoints")
    assert job["AlgorithmSpecification"]["TrainingInputMode"] == "FastFile"
    assert job["StaticHyperParameters"]["objective"] == "reg:squarederror"


def _jobs(doc):
    by_name = steps(doc)
    for name in ("PrepareFeatures", "EvaluateModel", "DataQualityBaseline", "DataBiasBaseline"):
        yield name, by_name[name]["Arguments"]
    yield "TuneModel", by_name["TuneModel"]["Arguments"]["TrainingJobDefinition"]


def test_every_job_is_in_the_vpc_isolated_and_encrypted(staging):
    for name, job in _jobs(staging):
        if name == "TuneModel":
            network, vpc = job, job["VpcConfig"]
            volume = job["ResourceConfig"]["VolumeKmsKeyId"]
            output = job["OutputDataConfig"]["KmsKeyId"]
        else:
            network = job["NetworkConfig"]
            vpc = network["VpcConfig"]
            volume = job["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"]
            output = job["ProcessingOutputConfig"]["KmsKeyId"]
        assert network["EnableNetworkIsolation"] is True, name
        assert network["EnableInterContainerTrafficEncryption"] is True, name
        assert len(vpc["Subnets"]) == 2 and len(vpc["SecurityGroupIds"]) == 1, name
        assert volume == output == DEPLOY_TIME, name  # the artifacts key (a reference)


def test_images_are_for_the_region(staging):
    images = json.dumps(staging)
    assert ".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1" in images
    assert ".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1" in images


@pytest.mark.parametrize(
    ("env", "status", "jobs"),
    [
        ("dev", "Approved", 4),
        ("staging", "PendingManualApproval", 10),
        ("prod", "PendingManualApproval", 20),
    ],
)
def test_registration_and_size_per_environment(platform, env, status, jobs):
    doc = definition(platform, env)
    parameters = {p["Name"]: p for p in doc["Parameters"]}
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == status
    register = steps(doc)["RegisterModel"]["Arguments"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert register["ModelPackageGroupName"] == f"mlops-platform-{env}-spend"
    assert "ModelQuality" in register["ModelMetrics"] and "DriftCheckBaselines" in register
    limits = steps(doc)["TuneModel"]["Arguments"]["HyperParameterTuningJobConfig"]["ResourceLimits"]
    assert limits["MaxNumberOfTrainingJobs"] == jobs


def test_triggers_start_the_pipeline_with_a_reason(platform):
    rules = resources_of_type(platform.template("staging", "Training"), "AWS::Events::Rule")
    assert len(rules) == 2
    schedule = next(r for r in rules.values() if "ScheduleExpression" in r["Properties"])
    assert schedule["Properties"]["ScheduleExpression"] == "cron(0 3 ? * SUN *)"
    data = next(r for r in rules.values() if "EventPattern" in r["Properties"])
    pattern = data["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "customers/"}]
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        parameters = target["SageMakerPipelineParameters"]["PipelineParameterList"]
        assert parameters[0]["Name"] == "TriggerReason"


def test_model_group_is_readable_by_the_other_environments(platform):
    (group,) = resources_of_type(
        platform.template("dev", "Training"), "AWS::SageMaker::ModelPackageGroup"
    ).values()
    principals = json.dumps(group["Properties"]["ModelPackageGroupPolicy"])
    assert "593027461185" in principals and "730461925847" in principals
    assert group["DeletionPolicy"] == "Delete"  # dev may destroy


def test_the_sdk_is_imported_only_where_definitions_are_built():
    code = (
        "import sys, stacks.config, stacks.stage, mlops_constructs; "
        "print('sagemaker' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


def _spec(**changes: Any) -> Any:
    from mlops_constructs._sagemaker_definition import PipelineSpec

    spec = PipelineSpec(
        name="p", region="eu-west-1", role_arn="${Token[TOKEN.1]}", bucket="${Token[TOKEN.2]}",
        prefix="pipelines/p", kms_key_id="${Token[TOKEN.3]}", subnets=["subnet-1", "subnet-2"],
        security_group_ids=["sg-1"], model_package_group_name="g",
        prepare_script_uri="s3://${Token[TOKEN.4]}/a.py",
        evaluate_script_uri="s3://${Token[TOKEN.4]}/b.py",
        input_uri="s3://${Token[TOKEN.5]}/customers/", label="y", key_column="id",
        headers=["y", "x1", "x2"], problem_type="binary_classification",
        objective_metric="validation:auc", objective_type="Maximize",
        xgboost_version="1.7-1", sklearn_version="1.2-1",
        hyperparameter_ranges=[{"name": "max_depth", "type": "integer", "min": 3, "max": 6}],
        static_hyperparameters={"objective": "binary:logistic"}, max_jobs=2, max_parallel_jobs=1,
        use_spot=True, max_runtime_seconds=600, max_wait_seconds=1200,
        training_instance_type="ml.m5.xlarge", processing_instance_type="ml.m5.large",
        evaluation_threshold=0.7, approval_status="PendingManualApproval", bias_facet="x1",
    )  # fmt: skip
    return dataclasses.replace(spec, **changes)


def test_definition_is_deterministic_and_offline(monkeypatch):
    """Built twice from one spec, with every socket blocked: the same bytes, no AWS call."""
    import socket

    from mlops_constructs import _sagemaker_definition as definitions

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access while building the definition: {args}")

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv(definitions.CACHE_ENV, raising=False)
    spec = _spec()
    monkeypatch.setattr(definitions, "_MEMORY", {})
    first = definitions.build_definition(spec)
    monkeypatch.setattr(definitions, "_MEMORY", {})  # a second real build, not a cache hit
    second = definitions.build_definition(spec)
    assert first.body == second.body and first.uploads == second.uploads
    # Tokens survive the SDK untouched, so CloudFormation resolves them.
    for token in ("${Token[TOKEN.1]}", "${Token[TOKEN.2]}", "${Token[TOKEN.3]}"):
        assert token in first.body
    assert "cdktoken" not in first.body
    assert "binary_classification_metrics.auc.value" in first.body


def test_definition_cache_on_disk(monkeypatch, tmp_path):
    """A cached definition is reused (the SDK is not run again), with this synth's tokens;
    a changed spec or a damaged cache file builds anew."""
    from mlops_constructs import _sagemaker_definition as definitions

    monkeypatch.setenv(definitions.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(definitions, "_MEMORY", {})
    built = definitions.build_definition(_spec())
    (cached,) = tmp_path.glob("*.json")
    assert "${Token[" not in cached.read_text()  # stored masked

    builds = []
    real_build = definitions._build
    monkeypatch.setattr(definitions, "_build", lambda spec: builds.append(spec) or real_build(spec))
    monkeypatch.setattr(definitions, "_MEMORY", {})
    # Another synth: the same settings, other token values.
    again = definitions.build_definition(
        _spec(role_arn="${Token[TOKEN.91]}", bucket="${Token[TOKEN.92]}")
    )
    assert builds == []
    assert again.body == built.body.replace("TOKEN.1]", "TOKEN.91]").replace(
        "TOKEN.2]", "TOKEN.92]"
    )

    monkeypatch.setattr(definitions, "_MEMORY", {})
    definitions.build_definition(_spec(max_jobs=3))
    assert len(builds) == 1 and len(list(tmp_path.glob("*.json"))) == 2

    cached.write_text("{not json")
    monkeypatch.setattr(definitions, "_MEMORY", {})
    assert definitions.build_definition(_spec()).body == built.body
    assert len(builds) == 2


def test_pipeline_takes_the_retraining_trigger_parameters(platform):
    doc = definition(platform, "dev")
    parameters = {p["Name"]: p for p in doc["Parameters"]}
    # What lambda_src/retraining_trigger passes; SageMaker rejects undeclared parameters.
    for name, default in (
        ("TriggerReason", "schedule"),
        ("TriggerAlarm", ""),
        ("TriggerDetail", ""),
    ):
        assert parameters[name]["Type"] == "String"
        assert parameters[name].get("DefaultValue", "") == default

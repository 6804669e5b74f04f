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
def staging(model_monitor_app):
    """Staging's pipeline with every step: its model watched by Model Monitor, so the pipeline
    keeps the Model Monitor and Clarify check steps (``model_monitor_app``)."""
    return definition(model_monitor_app, "staging")


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_pipelines_have_no_model_monitor_or_clarify_step(platform, env):
    """The shipped config watches spend with the platform engine: the pipeline builds and
    registers only the engine's baseline (Model Monitor and Clarify are closed to new
    accounts)."""
    doc = definition(platform, env)
    assert [s["Name"] for s in doc["Steps"]] == [
        "PrepareFeatures",
        "TuneModel",
        "EvaluateModel",
        "MonitoringBaseline",
        "CheckMetric",
    ]
    register = steps(doc)["RegisterModel"]["Arguments"]
    assert "DriftCheckBaselines" not in register


def test_step_graph(staging):
    assert [s["Name"] for s in staging["Steps"]] == [
        "PrepareFeatures",
        "TuneModel",
        "DataQualityBaseline",
        "DataBiasBaseline",
        "EvaluateModel",
        "MonitoringBaseline",
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
    # No checkpoints: one URI would be shared by every job of the tuning job and every run.
    assert "CheckpointConfig" not in job
    assert job["StaticHyperParameters"]["objective"] == "reg:squarederror"


def _jobs(doc):
    by_name = steps(doc)
    for name in (
        "PrepareFeatures",
        "EvaluateModel",
        "MonitoringBaseline",
        "DataQualityBaseline",
        "DataBiasBaseline",
    ):
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
    assert set(register["ModelMetrics"]) == {"ModelQuality", "ModelDataQuality"}
    limits = steps(doc)["TuneModel"]["Arguments"]["HyperParameterTuningJobConfig"]["ResourceLimits"]
    assert limits["MaxNumberOfTrainingJobs"] == jobs


def test_triggers_start_the_pipeline_with_a_reason(platform):
    rules = resources_of_type(platform.template("staging", "Training"), "AWS::Events::Rule")
    assert len(rules) == 2
    schedule = next(r for r in rules.values() if "ScheduleExpression" in r["Properties"])
    assert schedule["Properties"]["ScheduleExpression"] == "cron(0 3 ? * SUN *)"
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


def test_registry_readers_may_read_the_model_archives_they_may_list(platform):
    """Reading a package in another account needs its archive too: the artifacts bucket
    shares exactly the tuning jobs' model archives, and the key decrypts them through S3."""
    readers = {"593027461185", "730461925847"}
    policies = resources_of_type(platform.template("dev", "Lake"), "AWS::S3::BucketPolicy")
    shared = [
        s
        for p in policies.values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid", "").startswith("ModelRegistryReaders")
    ]
    assert len(shared) == 1, shared
    (statement,) = shared
    assert statement["Action"] == "s3:GetObject"
    assert all(account in json.dumps(statement["Principal"]) for account in readers)
    assert "/tuning/*/output/model.tar.gz" in json.dumps(statement["Resource"])
    (key,) = [
        k
        for k in resources_of_type(platform.template("dev", "Security"), "AWS::KMS::Key").values()
        if any(
            s.get("Sid", "").startswith("ModelRegistryReaders")
            for s in k["Properties"]["KeyPolicy"]["Statement"]
        )
    ]
    (decrypt,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid", "").startswith("ModelRegistryReaders")
    ]
    assert decrypt["Action"] == "kms:Decrypt"
    assert "kms:ViaService" in decrypt["Condition"]["StringEquals"]


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
    from mlops_constructs.training._definition import PipelineSpec

    spec = PipelineSpec(
        name="p", region="eu-west-1", role_arn="${Token[TOKEN.1]}", bucket="${Token[TOKEN.2]}",
        prefix="pipelines/p", kms_key_id="${Token[TOKEN.3]}", subnets=["subnet-1", "subnet-2"],
        security_group_ids=["sg-1"], model_package_group_name="g",
        prepare_script_uri="s3://${Token[TOKEN.4]}/a.py",
        evaluate_script_uri="s3://${Token[TOKEN.4]}/b.py",
        baseline_script_uri="s3://${Token[TOKEN.4]}/c.py",
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

    from mlops_constructs.training import _definition as definitions

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access while building the definition: {args}")

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv(definitions.CACHE_ENV, raising=False)
    spec = _spec(model_monitor_baselines=True)  # with the SDK's uploads
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
    from mlops_constructs.training import _definition as definitions

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
    # What monitoring/runtime/retraining_trigger passes; SageMaker rejects undeclared parameters.
    for name, default in (
        ("TriggerReason", "schedule"),
        ("TriggerAlarm", ""),
        ("TriggerDetail", ""),
    ):
        assert parameters[name]["Type"] == "String"
        assert parameters[name].get("DefaultValue", "") == default


def _exported_as(platform, env: str, stack: str, reference: Any) -> Any:
    """The value a cross-stack reference (Fn::ImportValue or Fn::GetStackOutput) to
    ``stack`` of ``env`` resolves to."""
    outputs = platform.template(env, stack).get("Outputs", {})
    if "Fn::GetStackOutput" in reference:
        return outputs[reference["Fn::GetStackOutput"]["OutputName"]]["Value"]
    for output in outputs.values():
        if output.get("Export", {}).get("Name") == reference["Fn::ImportValue"]:
            return output["Value"]
    raise AssertionError(f"{reference} is not an output of {env}/{stack}")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_new_data_starts_one_execution_per_etl_run(platform, env):
    """Issue 12, defect 6: not one execution per S3 object (N part files, N pipelines),
    but one per successful run of the dataset's feature ETL job."""
    rules = resources_of_type(platform.template(env, "Training"), "AWS::Events::Rule")
    (data,) = [r for r in rules.values() if "EventPattern" in r["Properties"]]
    pattern = data["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.glue"]
    assert pattern["detail-type"] == ["Glue Job State Change"]
    assert pattern["detail"]["state"] == ["SUCCEEDED"]
    (job_name,) = pattern["detail"]["jobName"]
    (job_id,) = resources_of_type(platform.template(env, "Data"), "AWS::Glue::Job")
    assert _exported_as(platform, env, "Data", job_name) == {"Ref": job_id}
    (target,) = data["Properties"]["Targets"]
    parameters = target["SageMakerPipelineParameters"]["PipelineParameterList"]
    assert parameters == [{"Name": "TriggerReason", "Value": "new-data"}]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_prepare_features_passes_the_configured_features_in_order(platform, env):
    """Issue 12, defect 1: the script uses exactly --features; it must be the config's."""
    (training,) = platform.config.environment(env).training
    arguments = steps(definition(platform, env))["PrepareFeatures"]["Arguments"]
    container = arguments["AppSpecification"]["ContainerArguments"]
    assert container[container.index("--features") + 1] == ",".join(training.feature_columns)
    assert container[container.index("--label") + 1] == training.label_column


def test_tuning_channels_use_an_input_mode_xgboost_accepts(staging, platform):
    """Issue 12, defect 2: the XGBoost container rejects FastFile channels."""
    from mlops_constructs.training import xgboost_channels

    job = steps(staging)["TuneModel"]["Arguments"]["TrainingJobDefinition"]
    version = platform.config.environment("staging").training[0].algorithm_version
    assert job["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert set(channels) == {"train", "validation"}
    for channel in channels.values():
        mode = channel.get("InputMode", job["AlgorithmSpecification"]["TrainingInputMode"])
        assert xgboost_channels.supported(version, channel["ContentType"], mode), channel


def test_pipe_mode_reaches_the_jobs_and_channels():
    from mlops_constructs.training import _definition as definitions

    doc = json.loads(definitions.build_definition(_spec(input_mode="Pipe")).body)
    job = steps(doc)["TuneModel"]["Arguments"]["TrainingJobDefinition"]
    assert job["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"
    assert {c["InputMode"] for c in job["InputDataConfig"]} == {"Pipe"}


def _statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    found = []
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_pipeline_role_may_list_the_prefix_of_each_assets_input(model_monitor_app):
    """Issue 12, defect 3: processing inputs are S3Prefix inputs, so the job lists the
    bucket with the object key as prefix; GetObject alone fails the job."""
    template = model_monitor_app.template("staging", "Training")
    (role_id,) = [
        i for i, r in resources_of_type(template, "AWS::IAM::Role").items() if "ExecutionRole" in i
    ]
    statements = _statements(template, role_id)
    inputs = [
        i["S3Input"]
        for name in (
            "PrepareFeatures",
            "EvaluateModel",
            "MonitoringBaseline",
            "DataBiasBaseline",
            "DataQualityBaseline",
        )
        for i in steps(definition(model_monitor_app, "staging"))[name]["Arguments"][
            "ProcessingInputs"
        ]
        if isinstance(i["S3Input"]["S3Uri"], str) and "-assets-" in i["S3Input"]["S3Uri"]
    ]
    assert {i["LocalPath"] for i in inputs} >= {"/opt/ml/processing/input/code"}
    # The three scripts: preprocess, evaluate and baseline.
    assert len({i["S3Uri"] for i in inputs if i["LocalPath"].endswith("/code")}) == 3
    for s3_input in inputs:
        assert s3_input["S3DataType"] == "S3Prefix"
        bucket, key = s3_input["S3Uri"][len("s3://") :].split("/", 1)
        listing = [
            s
            for s in statements
            if s["Effect"] == "Allow"
            and "s3:ListBucket" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
            and _text(s["Resource"]).endswith(f":s3:::{bucket}")
        ]
        assert listing, f"no s3:ListBucket on {bucket}"
        prefixes = [p for s in listing for p in s["Condition"]["StringEquals"]["s3:prefix"]]
        assert key in prefixes


def _uploads(platform, env: str) -> dict[str, dict[str, Any]]:
    """The SDK's files as the stack writes them: S3 key -> putObject parameters."""
    found = {}
    template = platform.template(env, "Training")
    for resource in resources_of_type(template, "Custom::AWS").values():
        call = json.loads(_text(resource["Properties"]["Create"]))
        if (call["service"], call["action"]) == ("S3", "putObject"):
            found[call["parameters"]["Key"]] = call["parameters"]
    return found


def test_clarify_finds_its_analysis_config_under_its_name(model_monitor_app):
    """Issue 12, defect 4: Clarify reads analysis_config.json in its config input folder;
    every SDK upload the definition names exists at exactly that key, written by the stack."""
    doc = definition(model_monitor_app, "staging")
    uploads = _uploads(model_monitor_app, "staging")
    bias = steps(doc)["DataBiasBaseline"]["Arguments"]
    (config,) = [i for i in bias["ProcessingInputs"] if i["InputName"] == "analysis_config"]
    uri = config["S3Input"]["S3Uri"]
    # An S3Prefix input of one object: the job downloads it under its own name.
    assert config["S3Input"]["LocalPath"] == "/opt/ml/processing/input/config"
    assert uri.endswith("/analysis_config.json")
    bucket, key = uri[len("s3://") :].split("/", 1)
    assert bucket == DEPLOY_TIME  # the artifacts bucket
    assert key in uploads
    assert json.loads(uploads[key]["Body"])["label"] == "annual_spend_log"
    # The registered bias config file too.
    registered = steps(doc)["RegisterModel"]["Arguments"]["DriftCheckBaselines"]
    config_file = registered["Bias"]["ConfigFile"]["S3Uri"]
    assert config_file.split("/", 3)[3] in uploads
    for parameters in uploads.values():
        assert parameters["Key"].startswith("pipelines/mlops-platform-staging-spend/")


def test_bias_baseline_uses_the_configured_positive_outcome_and_group(model_monitor_app):
    """Issue 12, defect 7: not a hard-coded [1] label and facet value."""
    (config,) = [
        json.loads(p["Body"])
        for k, p in _uploads(model_monitor_app, "staging").items()
        if k.endswith("/analysis_config.json")
    ]
    assert config["label_values_or_threshold"] == [8.5]  # config/: log spend above 8.5
    (facet,) = config["facet"]
    # The default: Clarify reads the float one-hot column as continuous, so the members
    # (1.0) are the rows above the threshold 0.5; [1.0] would be an empty group.
    assert facet == {"name_or_index": "segment_consumer", "value_or_threshold": [0.5]}
    # Every metric but CDDL, which needs a group variable the baseline does not have.
    methods = config["methods"]["pre_training_bias"]["methods"]
    assert sorted(methods) == ["CI", "DPL", "JS", "KL", "KS", "LP", "TVD"]
    assert "group_variable" not in config


def test_default_bias_settings_give_clarify_every_metric_on_float_splits():
    """The definition's defaults, analysed by Clarify's own library on splits written as
    preprocess.py writes them (0.0/1.0 floats): no empty group, no metric in error."""
    import pandas as pd

    from mlops_constructs.training import _definition as definitions
    from tests.rehearsal.pipeline_runner import clarify_pre_training_problems, read_clarify_csv

    built = definitions.build_definition(_spec(model_monitor_baselines=True))
    (analysis,) = [
        json.loads(body)
        for uri, body in built.uploads.items()
        if uri.endswith("analysis_config.json")
    ]
    assert analysis["label_values_or_threshold"] == [0.5]
    assert analysis["facet"] == [{"name_or_index": "x1", "value_or_threshold": [0.5]}]
    rows = [(float(i % 3 == 0), float(i % 2 == 0), float(i % 2 == 1)) for i in range(60)]
    csv_text = "".join(",".join(repr(v) for v in row) + "\n" for row in rows)
    frame = read_clarify_csv([csv_text], analysis["headers"])
    assert isinstance(frame, pd.DataFrame) and frame["x1"].dtype == float
    assert clarify_pre_training_problems(analysis, frame) == []
    # The control: the old default [1] is Clarify's empty group on the same data.
    broken = {**analysis, "facet": [{"name_or_index": "x1", "value_or_threshold": [1.0]}]}
    assert any("Facet set is empty" in p for p in clarify_pre_training_problems(broken, frame))


def test_bias_settings_reach_the_analysis_config():
    from mlops_constructs.training import _definition as definitions

    built = definitions.build_definition(
        _spec(
            problem_type="regression",
            model_monitor_baselines=True,
            bias_label_values_or_threshold=[7.25],
            bias_facet_values_or_threshold=[0.0],
        )
    )
    (analysis,) = [
        json.loads(body)
        for uri, body in built.uploads.items()
        if uri.endswith("analysis_config.json")
    ]
    assert analysis["label_values_or_threshold"] == [7.25]
    assert analysis["facet"][0]["value_or_threshold"] == [0.0]


@pytest.mark.parametrize(
    ("env", "inference", "transform"),
    [
        # dev: the multi-model endpoint on ml.m5.large (monitoring watches that one).
        ("dev", ["ml.m5.large"], ["ml.m5.large"]),
        ("prod", ["ml.m5.xlarge"], ["ml.m5.xlarge"]),
    ],
)
def test_model_package_lists_the_instance_types_it_is_served_on(
    platform, env, inference, transform
):
    """Issue 12, defect 15: derived from the environment's endpoints, not fixed."""
    register = steps(definition(platform, env))["RegisterModel"]["Arguments"]
    specification = register["InferenceSpecification"]
    assert specification["SupportedRealtimeInferenceInstanceTypes"] == inference
    assert specification["SupportedTransformInstanceTypes"] == transform


def test_served_instance_types_follow_the_serving_config(base_context):
    from stacks.config import ENVIRONMENTS_CONTEXT_KEY, load_config
    from stacks.training_stack import served_instance_types

    context = json.loads(json.dumps(base_context))
    settings = context[ENVIRONMENTS_CONTEXT_KEY]["staging"]
    settings["serving"]["instance_type"] = "ml.c5.large"
    settings["serving"].pop("autoscaling", None)
    settings["serving"].pop("ab_test", None)
    settings["monitoring"] = []
    config = load_config(context).environment("staging")
    assert served_instance_types(config, "spend") == (["ml.c5.large"], ["ml.m5.xlarge"])
    assert served_instance_types(config, "other") == (["ml.m5.large"], ["ml.m5.xlarge"])

    from mlops_constructs.training import _definition as definitions

    doc = json.loads(
        definitions.build_definition(
            _spec(inference_instances=["ml.c5.large"], transform_instances=["ml.c5.xlarge"])
        ).body
    )
    specification = steps(doc)["RegisterModel"]["Arguments"]["InferenceSpecification"]
    assert specification["SupportedRealtimeInferenceInstanceTypes"] == ["ml.c5.large"]
    assert specification["SupportedTransformInstanceTypes"] == ["ml.c5.xlarge"]


def test_tuning_jobs_share_no_checkpoints(staging):
    """Issue 12, defect 5: built-in XGBoost resumes from the newest checkpoint under the
    URI, and a tuning job gives all its training jobs one URI: none is configured."""
    job = steps(staging)["TuneModel"]["Arguments"]["TrainingJobDefinition"]
    assert "CheckpointConfig" not in job
    assert job["EnableManagedSpotTraining"] is True
    assert "checkpoints" not in json.dumps(staging)


def test_monitoring_baseline_step_reads_the_train_split_and_the_best_model(staging):
    """runtime/baseline.py on the XGBoost image (numpy, xgboost), isolated and encrypted
    like every job (test_every_job_is_in_the_vpc_isolated_and_encrypted), after tuning."""
    by_name = steps(staging)
    job = by_name["MonitoringBaseline"]["Arguments"]
    app = job["AppSpecification"]
    assert app["ImageUri"].endswith(".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1")
    assert app["ContainerEntrypoint"][0] == "python3"
    assert app["ContainerEntrypoint"][1].startswith("/opt/ml/processing/input/code/")
    assert app["ContainerEntrypoint"][1].endswith(".py")
    prepare = by_name["PrepareFeatures"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    features = prepare[prepare.index("--features") + 1]
    assert app["ContainerArguments"] == ["--features", features]
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert set(inputs) == {"train", "model", "code"}
    assert inputs["train"]["S3Uri"] == {
        "Get": "Steps.PrepareFeatures.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    assert inputs["train"]["LocalPath"] == "/opt/ml/processing/train"
    # The best model's archive, as EvaluateModel and the registered package read it.
    evaluate = {
        i["InputName"]: i["S3Input"]
        for i in by_name["EvaluateModel"]["Arguments"]["ProcessingInputs"]
    }
    assert inputs["model"]["S3Uri"] == evaluate["model"]["S3Uri"]
    assert "Steps.TuneModel.TrainingJobSummaries[0].TrainingJobName" in json.dumps(inputs["model"])
    register = by_name["RegisterModel"]["Arguments"]
    (container,) = register["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == inputs["model"]["S3Uri"]
    assert inputs["model"]["LocalPath"] == "/opt/ml/processing/model"
    for s3_input in inputs.values():
        assert (s3_input["S3DataType"], s3_input["S3InputMode"]) == ("S3Prefix", "File")
    (output,) = job["ProcessingOutputConfig"]["Outputs"]
    assert output["OutputName"] == "baseline"
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/baseline"
    # Under this execution, never a fixed prefix another run overwrites.
    assert output["S3Output"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                f"s3://{DEPLOY_TIME}/pipelines/mlops-platform-staging-spend",
                "executions",
                {"Get": "Execution.PipelineExecutionId"},
                "baseline",
            ],
        }
    }


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_version_is_registered_with_its_monitoring_baseline(platform, env):
    register = steps(definition(platform, env))["RegisterModel"]["Arguments"]
    statistics = register["ModelMetrics"]["ModelDataQuality"]["Statistics"]
    assert statistics == {
        "ContentType": "application/json",
        "S3Uri": {
            "Std:Join": {
                "On": "/",
                "Values": [
                    {
                        "Get": "Steps.MonitoringBaseline.ProcessingOutputConfig"
                        ".Outputs['baseline'].S3Output.S3Uri"
                    },
                    "baseline.json",
                ],
            }
        },
    }


def test_model_monitor_statistics_are_the_drift_check_baselines(staging):
    register = steps(staging)["RegisterModel"]["Arguments"]
    drift = register["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
    assert drift == {"Get": "Steps.DataQualityBaseline.BaselineUsedForDriftCheckStatistics"}
    # The engine's baseline is registered all the same.
    assert "Steps.MonitoringBaseline." in json.dumps(register["ModelMetrics"]["ModelDataQuality"])


def _step_types(doc: dict[str, Any]) -> dict[str, str]:
    return {name: step["Type"] for name, step in steps(doc).items()}


def test_without_model_monitor_baselines_nothing_needs_model_monitor_or_clarify():
    """The default: no QualityCheckStep, no ClarifyCheckStep, no Clarify files to upload,
    no drift check baselines; the monitoring baseline is built and registered all the same."""
    from mlops_constructs.training import _definition as definitions

    built = definitions.build_definition(_spec())
    doc = json.loads(built.body)
    types = _step_types(doc)
    assert [s["Name"] for s in doc["Steps"]] == [
        "PrepareFeatures",
        "TuneModel",
        "EvaluateModel",
        "MonitoringBaseline",
        "CheckMetric",
    ]
    assert not {"QualityCheck", "ClarifyCheck"} & set(types.values())
    assert built.uploads == {}
    text = json.dumps(doc)
    for absent in ("sagemaker-model-monitor-analyzer", "sagemaker-clarify-processing",
                   "DataQualityBaseline", "DataBiasBaseline", "/baselines/"):  # fmt: skip
        assert absent not in text, absent
    register = steps(doc)["RegisterModel"]["Arguments"]
    assert "DriftCheckBaselines" not in register
    assert set(register["ModelMetrics"]) == {"ModelQuality", "ModelDataQuality"}
    assert "Steps.MonitoringBaseline." in json.dumps(register["ModelMetrics"]["ModelDataQuality"])

    # The control: with the prop, both check steps and their registration come back.
    with_monitor = json.loads(
        definitions.build_definition(_spec(model_monitor_baselines=True)).body
    )
    types = _step_types(with_monitor)
    assert types["DataQualityBaseline"] == "QualityCheck"
    assert types["DataBiasBaseline"] == "ClarifyCheck"
    assert types["MonitoringBaseline"] == "Processing"
    assert "DriftCheckBaselines" in steps(with_monitor)["RegisterModel"]["Arguments"]


def test_model_monitor_baselines_only_where_a_monitoring_entry_reads_them(base_context):
    from stacks.config import ENVIRONMENTS_CONTEXT_KEY, load_config
    from stacks.training_stack import uses_model_monitor_baselines
    from tests.conftest import MODEL_MONITOR_ENTRY

    context = json.loads(json.dumps(base_context))
    shipped = load_config(context)
    for env in ("dev", "staging", "prod"):
        # Every shipped environment monitors spend with the platform engine.
        assert not uses_model_monitor_baselines(shipped.environment(env), "spend"), env
    context[ENVIRONMENTS_CONTEXT_KEY]["staging"]["monitoring"][0].update(MODEL_MONITOR_ENTRY)
    staging = load_config(context).environment("staging")
    assert uses_model_monitor_baselines(staging, "spend")
    assert not uses_model_monitor_baselines(staging, "other")


def test_a_model_monitor_entry_keeps_the_check_steps_it_reads(staging):
    types = _step_types(staging)
    assert types["DataQualityBaseline"] == "QualityCheck"
    assert types["DataBiasBaseline"] == "ClarifyCheck"
    assert types["MonitoringBaseline"] == "Processing"

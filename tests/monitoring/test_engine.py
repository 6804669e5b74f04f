"""MonitoringEngine: the pipeline's step, the schedule, the publisher and the alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_cloudwatch as cloudwatch

from mlops_constructs import MonitoringEngine, PropsError
from mlops_constructs.monitoring.runtime import monitor
from mlops_constructs.serving.endpoint import ModelPackageEndpoint, MultiModelEndpoint
from tests.helpers import (
    ACCOUNT,
    REGION,
    endpoint_base,
    hide_sagemaker_sdk,
    lint_problems,
    synth_construct,
)

pytest.importorskip("sagemaker")

GROUP = "mlops-dev-churn"
VERSION = 3
FEATURES = ["tenure", "spend", "segment_consumer"]
BASELINE = "s3://artifacts/pipelines/mlops-dev-churn/executions/abc/baseline/baseline.json"
PACKAGE = "arn:aws:sagemaker:eu-west-1:284751930618:model-package/mlops-dev-churn/3"
XGBOOST_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"


class Made:
    """What the builder made, for assertions."""


def _props(**overrides: Any) -> dict[str, Any]:
    return {
        "model_group": GROUP,
        "model_version": VERSION,
        "baseline_uri": BASELINE,
        "features": FEATURES,
        "problem_type": "binary_classification",
        "quality_threshold": 0.75,
        "facet": "segment_consumer",
        **overrides,
    }


def _build(stack: Any, *, multi_model: bool = True, capture: int = 100, **overrides: Any) -> Made:
    m = Made()
    m.key, common = endpoint_base(stack)
    m.common = common
    if multi_model:
        m.endpoint = MultiModelEndpoint(
            stack, "Endpoint", image_uri="example/image:1", capture_percentage=capture, **common
        )
    else:
        m.endpoint = ModelPackageEndpoint(
            stack, "Endpoint", model_package_arn=PACKAGE, capture_percentage=capture, **common
        )
    m.engine = MonitoringEngine(
        stack,
        "Engine",
        endpoint=m.endpoint,
        vpc=common["vpc"],
        subnets=common["subnets"],
        security_group=common["security_group"],
        alarm_topic=common["alarm_topic"],
        logs_key=m.key,
        **_props(**overrides),
    )
    return m


@pytest.fixture(scope="module")
def made():
    return synth_construct(_build)  # cdk-nag AwsSolutions: an unacknowledged finding fails


def _step(m: Made) -> dict[str, Any]:
    definition = json.loads(m.engine.definition_body)
    (step,) = definition["Steps"]
    assert step["Name"] == "MonitorModel" and step["Type"] == "Processing"
    return step


def _bucket(m: Made) -> str:
    return m.endpoint.artifacts.bucket.bucket_name


def test_the_step_runs_monitor_py_isolated_on_the_xgboost_image_with_kms(made):
    _, m, _ = made
    arguments = _step(m)["Arguments"]
    assert arguments["AppSpecification"]["ImageUri"] == XGBOOST_IMAGE
    assert arguments["AppSpecification"]["ContainerEntrypoint"][0] == "python3"
    assert arguments["AppSpecification"]["ContainerEntrypoint"][1].startswith(
        "/opt/ml/processing/input/code/"
    )
    key = m.endpoint.artifacts.encryption_key.key_arn
    assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == key
    network = arguments["NetworkConfig"]
    assert network["EnableNetworkIsolation"] is True
    assert network["EnableInterContainerTrafficEncryption"] is True
    assert network["VpcConfig"]["SecurityGroupIds"] == [
        m.common["security_group"].security_group_id
    ]
    assert len(network["VpcConfig"]["Subnets"]) == 2
    assert arguments["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
    assert arguments["RoleArn"] == m.engine.role.role_arn
    # The custom job prefix, which the publisher's rule matches.
    assert arguments["ProcessingJobName"] == m.engine.job_name_prefix == f"monitor-{GROUP}"


def test_the_step_mounts_capture_ground_truth_baseline_and_model(made):
    _, m, _ = made
    bucket = _bucket(m)
    name = m.endpoint.endpoint_name
    inputs = {i["InputName"]: i["S3Input"] for i in _step(m)["Arguments"]["ProcessingInputs"]}
    assert {k: v["LocalPath"] for k, v in inputs.items() if k != "code"} == {
        "capture": "/opt/ml/processing/capture",
        "ground-truth": "/opt/ml/processing/ground-truth",
        "baseline": "/opt/ml/processing/baseline",
        "model": "/opt/ml/processing/model",
    }
    # The variant's whole capture prefix (the job picks its hour by inferenceTime).
    assert (
        inputs["capture"]["S3Uri"] == f"s3://{bucket}/endpoints/{name}/capture/{name}/AllTraffic/"
    )
    assert inputs["ground-truth"]["S3Uri"] == f"s3://{bucket}/endpoints/{name}/ground-truth/"
    assert inputs["baseline"]["S3Uri"] == {"Get": "Parameters.BaselineUri"}
    assert inputs["model"]["S3Uri"] == {"Get": "Parameters.ModelUri"}
    assert all(v["S3DataType"] == "S3Prefix" for v in inputs.values())
    (output,) = _step(m)["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert output["OutputName"] == "output"
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output"
    assert output["S3Output"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                f"s3://{bucket}/monitoring/{GROUP}",
                {"Get": "Execution.PipelineExecutionId"},
            ],
        }
    }
    assert m.engine.output_prefix == f"monitoring/{GROUP}/"


def test_the_parameters_default_to_the_watched_version(made):
    _, m, _ = made
    definition = json.loads(m.engine.definition_body)
    name = m.endpoint.endpoint_name
    assert {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]} == {
        "ModelVersion": "3",
        "BaselineUri": BASELINE,
        # Derived on a multi-model endpoint: where the deployer copies the version.
        "ModelUri": f"s3://{_bucket(m)}/endpoints/{name}/models/{GROUP}/v3.tar.gz",
    }


def test_the_arguments_name_the_features_and_parse_as_monitor_py_does(made):
    _, m, _ = made
    arguments = _step(m)["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[-2:] == ["--model-version", {"Get": "Parameters.ModelVersion"}]
    args = monitor.parser().parse_args([*arguments[:-1], "3"])
    assert monitor.parse_features(args.features) == FEATURES
    assert args.endpoint == m.endpoint.endpoint_name
    assert args.model_group == GROUP
    assert args.problem_type == "binary_classification"
    assert args.quality_metric == "auc"
    assert args.facet == "segment_consumer"
    assert args.inference_id_prefix_filter == "version"
    assert args.namespace == monitor.DEFAULT_NAMESPACE == m.engine.publisher.namespace
    assert (args.drift_threshold, args.drift_p_value, args.shap_rows) == (0.1, 0.01, 500)


def test_the_schedule_starts_the_pipeline_ten_past_each_hour(made):
    template, m, stack = made
    (schedule,) = template.find_resources("AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "cron(10 * * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "UTC"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = props["Target"]
    assert target["Arn"] == stack.resolve(m.engine.pipeline_arn)
    assert target["Arn"]["Fn::Join"][1][-1].endswith(f":{ACCOUNT}:pipeline/{GROUP}-monitor")
    assert target["RoleArn"] == stack.resolve(m.engine.schedule_role.role_arn)
    parameters = target["SageMakerPipelineParameters"]["PipelineParameterList"]
    assert {p["Name"]: p["Value"] for p in parameters} == {
        "ModelVersion": "3",
        "BaselineUri": BASELINE,
        "ModelUri": stack.resolve(m.engine.model_uri),
    }
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 1800}


def test_the_schedule_role_is_for_this_account_and_this_pipeline_only(made):
    template, m, stack = made
    role = template.to_json()["Resources"][
        stack.get_logical_id(m.engine.schedule_role.node.default_child)
    ]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    policy = m.engine.schedule_role.node.find_child("DefaultPolicy").node.default_child
    statements = stack.resolve(policy.policy_document)["Statement"]
    assert statements == [
        {
            "Action": "sagemaker:StartPipelineExecution",
            "Effect": "Allow",
            "Resource": stack.resolve(m.engine.pipeline_arn),
        }
    ]


def test_the_pipeline_role_runs_only_the_engines_jobs(made):
    _, m, stack = made
    policy = m.engine.role.node.find_child("DefaultPolicy").node.default_child
    statements = stack.resolve(policy.policy_document)["Statement"]
    (run,) = [s for s in statements if s.get("Sid") == "RunMonitoringJobs"]
    assert run["Resource"]["Fn::Join"][1][-1].endswith(f":processing-job/monitor-{GROUP}*")
    (passing,) = [s for s in statements if s.get("Sid") == "PassOwnRole"]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_the_publisher_watches_the_engines_jobs_and_output(made):
    template, m, _ = made
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Processing Job State Change"],
                "detail": {
                    "ProcessingJobName": [{"prefix": m.engine.job_name_prefix}],
                    "ProcessingJobStatus": ["Completed", "Failed", "Stopped"],
                },
            }
        },
    )
    variables = [
        f["Properties"]["Environment"]["Variables"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if "OUTPUT_PREFIX" in json.dumps(f["Properties"].get("Environment", {}))
    ]
    assert [v["OUTPUT_PREFIX"] for v in variables] == [f"monitoring/{GROUP}/"]


def _results() -> dict[str, Any]:
    """results.json of a run of the same endpoint, model and version with every feature
    drifted and quality measured, as monitor.py writes it."""
    return {
        "endpoint": None,  # set per test
        "model_group": GROUP,
        "model_version": str(VERSION),
        "capture": {"records_kept": 10, "records_skipped": {"unreadable": 0}},
        "rows": 10,
        "drifted_features": list(FEATURES),
        "features": {
            f: {
                "js_distance": 0.3,
                "drifted": True,
                "ks_p_value": 0.001,
                "chi2_p_value": None,
                "wasserstein_norm": 0.5,
                "missing_share": 0.0,
            }
            for f in FEATURES
        },
        "ground_truth": {"joined_rows": 10},
        "quality": {"metrics": {"auc": 0.7, "accuracy": 0.8}, "headline": "auc"},
        "bias": None,
        "explainability": None,
    }


def _published(m: Made, name: str, **dimension: str) -> list[dict[str, str]]:
    results = _results()
    results["endpoint"] = m.endpoint.endpoint_name
    (datum,) = [
        d
        for d in monitor.metric_data(results, "2026-01-01T06:00:00Z")
        if d["MetricName"] == name
        and all({"Name": k, "Value": v} in d["Dimensions"] for k, v in dimension.items())
    ]
    return sorted(datum["Dimensions"], key=lambda d: d["Name"])


def _alarm_props(template: Any, stack: Any, alarm: cloudwatch.Alarm) -> dict[str, Any]:
    return template.to_json()["Resources"][stack.get_logical_id(alarm.node.default_child)][
        "Properties"
    ]


def test_drift_alarms_query_exactly_what_monitor_py_publishes(made):
    template, m, stack = made
    assert list(m.engine.drift_alarms) == FEATURES
    for feature, alarm in m.engine.drift_alarms.items():
        props = _alarm_props(template, stack, alarm)
        assert props["Namespace"] == monitor.DEFAULT_NAMESPACE
        assert props["MetricName"] == "FeatureDrifted"
        dimensions = sorted(props["Dimensions"], key=lambda d: d["Name"])
        assert dimensions == _published(m, "FeatureDrifted", Feature=feature)
        assert props["Statistic"] == "Maximum"
        assert props["Period"] == 3600
        assert props["Threshold"] == 1
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["EvaluationPeriods"] == 1
        assert props["TreatMissingData"] == "notBreaching"
        assert props["AlarmActions"] == [stack.resolve(m.common["alarm_topic"].topic_arn)]


def test_the_quality_alarm_queries_the_published_headline_metric(made):
    template, m, stack = made
    props = _alarm_props(template, stack, m.engine.quality_alarm)
    assert props["MetricName"] == "ModelQuality"
    assert sorted(props["Dimensions"], key=lambda d: d["Name"]) == _published(
        m, "ModelQuality", Metric="auc"
    )
    assert props["Statistic"] == "Average"
    assert props["Threshold"] == 0.75
    assert props["ComparisonOperator"] == "LessThanThreshold"  # AUC: higher is better
    assert props["TreatMissingData"] == "notBreaching"


def test_the_job_failed_alarm_matches_the_publishers_datum(made):
    template, m, stack = made
    from tests.helpers import load_handler

    publisher = load_handler("metrics_publisher")
    props = _alarm_props(template, stack, m.engine.job_failed_alarm)
    assert props["MetricName"] == publisher.FAILED_METRIC
    # report_failure() publishes by Endpoint and Model, from the job's arguments.
    assert sorted(props["Dimensions"], key=lambda d: d["Name"]) == [
        {"Name": "Endpoint", "Value": m.endpoint.endpoint_name},
        {"Name": "Model", "Value": GROUP},
    ]
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert m.engine.alarms == [
        *m.engine.drift_alarms.values(),
        m.engine.quality_alarm,
        m.engine.job_failed_alarm,
    ]
    assert all(isinstance(a, cloudwatch.Alarm) for a in m.engine.alarms)


def test_rmse_alarms_above_the_threshold():
    template, m, stack = synth_construct(
        lambda s: _build(s, problem_type="regression", quality_threshold=0.4, facet=None),
        nag=False,
    )
    props = _alarm_props(template, stack, m.engine.quality_alarm)
    assert {"Name": "Metric", "Value": "rmse"} in props["Dimensions"]
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    arguments = _step(m)["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert "--facet" not in arguments


def test_cfn_lint_is_clean(made):
    template, *_ = made
    assert lint_problems(template) == []


def test_a_single_model_endpoint_needs_the_model_uri():
    with pytest.raises(PropsError, match="model_uri"):
        synth_construct(lambda s: _build(s, multi_model=False), nag=False)
    model = "s3://artifacts/pipelines/mlops-dev-churn/tuning/job-1/output/model.tar.gz"
    _, m, _ = synth_construct(lambda s: _build(s, multi_model=False, model_uri=model), nag=False)
    assert m.engine.model_uri == model


def test_props_are_checked_together():
    with pytest.raises(PropsError) as caught:
        synth_construct(
            lambda s: _build(
                s,
                capture=0,
                model_version=0,
                baseline_uri="baseline.json",
                features=["a", "a,b"],
                quality_metric="rmse",
                schedule="hourly",
                job_name_prefix="-bad",
                drift_threshold=2,
                facet="nope",
                max_runtime_seconds=3600,
            ),
            nag=False,
        )
    message = str(caught.value)
    for prop in (
        "endpoint.capture_percentage",
        "model_version",
        "baseline_uri",
        "features",
        "quality_metric",
        "schedule",
        "job_name_prefix",
        "drift_threshold",
        "facet",
        "max_runtime_seconds",
    ):
        assert f"  - {prop}: " in message, prop


def test_without_the_sdk_it_says_what_to_install(monkeypatch):
    hide_sagemaker_sdk(monkeypatch)
    with pytest.raises(PropsError, match="pipelines"):
        synth_construct(_build, nag=False)


def test_the_region_is_the_stacks(made):
    _, m, _ = made
    assert f".{REGION}." in _step(m)["Arguments"]["AppSpecification"]["ImageUri"]


def test_the_pipeline_role_reads_its_inputs_and_writes_only_its_output(made):
    template, m, stack = made
    resources = template.to_json()["Resources"]
    role = resources[stack.get_logical_id(m.engine.role.node.default_child)]
    granted = sorted(
        resources[arn["Ref"]]["Properties"]["Description"]
        for arn in role["Properties"]["ManagedPolicyArns"]
    )
    name = m.endpoint.endpoint_name
    assert granted == sorted(
        [
            f"Read artifacts under 'endpoints/{name}/capture/{name}/AllTraffic/'",
            f"Read artifacts under 'endpoints/{name}/ground-truth/'",
            f"Read artifacts under 'endpoints/{name}/models/{GROUP}/'",
            "Read artifacts under 'pipelines/'",
            f"ReadWrite artifacts under 'monitoring/{GROUP}/'",
        ]
    )


def test_retraining_trigger_takes_the_alarms():
    from mlops_constructs import RetrainingTrigger

    def build(stack: Any) -> Made:
        m = _build(stack)
        m.trigger = RetrainingTrigger(
            stack,
            "Retraining",
            alarms=m.engine.alarms,
            pipeline_name="mlops-dev-churn",
            pipeline_arn="arn:aws:sagemaker:eu-west-1:284751930618:pipeline/mlops-dev-churn",
            logs_key=m.key,
        )
        return m

    template, m, stack = synth_construct(build)
    (rule,) = [
        r
        for r in template.find_resources("AWS::Events::Rule").values()
        if "CloudWatch Alarm State Change" in json.dumps(r["Properties"].get("EventPattern"))
    ]
    assert rule["Properties"]["EventPattern"]["resources"] == [
        stack.resolve(a.alarm_arn) for a in m.engine.alarms
    ]

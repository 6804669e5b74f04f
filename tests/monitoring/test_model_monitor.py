"""ModelMonitor and RetrainingTrigger: job definitions, schedules, alarms and the rule."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest

from mlops_constructs import PropsError
from mlops_constructs.monitoring.model_monitor import ModelMonitor
from mlops_constructs.monitoring.props import (
    BiasSettings,
    MonitorSchedules,
    MonitorThresholds,
    is_monitor_cron,
)
from mlops_constructs.monitoring.retraining import RetrainingTrigger
from mlops_constructs.serving.endpoint import ModelPackageEndpoint, MultiModelEndpoint
from tests.helpers import (
    endpoint_base,
    hide_sagemaker_sdk,
    lint_problems,
    synth_construct,
)

PACKAGE = "arn:aws:sagemaker:eu-west-1:284751930618:model-package/mlops-dev-spend/3"
FEATURES = ["segment_consumer", "segment_corporate", "segment_home_office"]
JOB_TYPES = {
    "AWS::SageMaker::DataQualityJobDefinition": "DataQuality",
    "AWS::SageMaker::ModelQualityJobDefinition": "ModelQuality",
    "AWS::SageMaker::ModelBiasJobDefinition": "ModelBias",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "ModelExplainability",
}


class Made:
    """What the builder made, for assertions."""


def _build(stack, *, multi_model: bool = False, capture: int = 100, **monitor: Any) -> Made:
    m = Made()
    key, common = endpoint_base(stack)
    m.artifacts = common["artifacts"]
    if multi_model:
        m.endpoint = MultiModelEndpoint(
            stack, "Endpoint", image_uri="example/image:1", capture_percentage=capture, **common
        )
    else:
        m.endpoint = ModelPackageEndpoint(
            stack, "Endpoint", model_package_arn=PACKAGE, capture_percentage=capture, **common
        )
    props: dict[str, Any] = {
        "problem_type": "regression",
        "features": FEATURES,
        "label": "annual_spend_log",
        "baselines_prefix": "pipelines/mlops-dev-spend/baselines/",
        "bias": BiasSettings(
            facet="segment_consumer",
            label_threshold=8.5,
            group_variable="segment_corporate",
            thresholds={"DPL": 0.3, "KL": 0.4, "TVD": 0.2, "CDDL": 0.25},
        ),
        "thresholds": MonitorThresholds(
            feature_drift=0.15, quality_metric="rmse", quality_threshold=0.9
        ),
        "schedules": MonitorSchedules(data_quality="cron(0 0/6 ? * * *)"),
        **monitor,
    }
    m.monitor = ModelMonitor(stack, "Monitor", endpoint=m.endpoint, **props, **common)
    m.trigger = RetrainingTrigger(
        stack,
        "Retraining",
        alarms=m.monitor.drift_alarms,
        pipeline_name="mlops-dev-spend",
        pipeline_arn="arn:aws:sagemaker:eu-west-1:284751930618:pipeline/mlops-dev-spend",
        logs_key=key,
        cooldown_minutes=720,
    )
    return m


@pytest.fixture(scope="module")
def made():
    template, m, stack = synth_construct(_build)
    return template, m, stack


def _definitions(template) -> dict[str, dict[str, Any]]:
    found = {}
    for type_, kind in JOB_TYPES.items():
        (props,) = [r["Properties"] for r in template.find_resources(type_).values()]
        found[kind] = props
    return found


def _section(props: dict[str, Any], suffix: str) -> Any:
    (value,) = [v for k, v in props.items() if k.endswith(suffix)]
    return value


def test_every_job_encrypts_runs_in_the_vpc_and_is_isolated_but_explainability(made):
    template, m, stack = made
    for kind, props in _definitions(template).items():
        assert props["EndpointName"] == m.endpoint.endpoint_name
        assert "JobDefinitionName" not in props
        cluster = props["JobResources"]["ClusterConfig"]
        assert cluster["InstanceType"] == "ml.m5.xlarge"
        assert cluster["VolumeKmsKeyId"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}
        output = _section(props, "JobOutputConfig")
        assert output["KmsKeyId"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}
        (location,) = output["MonitoringOutputs"]
        assert location["S3Output"]["S3Uri"]["Fn::Join"][1][-1].startswith(
            f"/{m.endpoint.prefix}monitoring/"
        )
        network = props["NetworkConfig"]
        assert network["EnableInterContainerTrafficEncryption"] is True
        assert len(network["VpcConfig"]["Subnets"]) == 2
        assert len(network["VpcConfig"]["SecurityGroupIds"]) == 1
        # Clarify must invoke the endpoint for SHAP values; every other job is isolated.
        assert network["EnableNetworkIsolation"] is (kind != "ModelExplainability"), kind
        assert props["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
        role = m.monitor.role.node.default_child.logical_id
        assert props["RoleArn"] == {"Fn::GetAtt": [stack.resolve(role), "Arn"]}


def test_images_come_from_the_sdk_for_the_region(made):
    template, m, _ = made
    jobs = _definitions(template)
    monitor_image = jobs["DataQuality"]["DataQualityAppSpecification"]["ImageUri"]
    assert monitor_image == m.monitor.monitor_image
    assert monitor_image.endswith(
        ".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    )
    assert jobs["ModelQuality"]["ModelQualityAppSpecification"]["ImageUri"] == monitor_image
    for kind in ("ModelBias", "ModelExplainability"):
        image = _section(jobs[kind], "AppSpecification")["ImageUri"]
        assert "sagemaker-clarify-processing" in image and ".eu-west-1." in image


def test_baselines_ground_truth_and_problem_type(made):
    template, m, _ = made
    jobs = _definitions(template)
    baseline = jobs["DataQuality"]["DataQualityBaselineConfig"]
    suffix = "/pipelines/mlops-dev-spend/baselines/data-quality/"
    assert baseline["ConstraintsResource"]["S3Uri"]["Fn::Join"][1][-1] == (
        f"{suffix}constraints.json"
    )
    assert baseline["StatisticsResource"]["S3Uri"]["Fn::Join"][1][-1] == (
        f"{suffix}statistics.json"
    )
    quality = jobs["ModelQuality"]
    assert quality["ModelQualityAppSpecification"]["ProblemType"] == "Regression"
    quality_input = quality["ModelQualityJobInput"]
    assert quality_input["GroundTruthS3Input"]["S3Uri"]["Fn::Join"][1][-1] == (
        f"/{m.endpoint.prefix}ground-truth"
    )
    assert quality_input["EndpointInput"]["InferenceAttribute"] == "0"
    assert quality_input["EndpointInput"]["StartTimeOffset"] == "-P2D"
    assert quality_input["EndpointInput"]["EndTimeOffset"] == "-P1D"
    assert "GroundTruthS3Input" in jobs["ModelBias"]["ModelBiasJobInput"]


def test_clarify_analysis_configs_are_shipped_json_files(made):
    template, m, _ = made
    jobs = _definitions(template)
    for kind in ("ModelBias", "ModelExplainability"):
        uri = _section(jobs[kind], "AppSpecification")["ConfigUri"]
        assert uri.startswith("s3://cdk-") and uri.endswith(".json"), uri
    bias = m.monitor.analysis_configs["bias"]
    assert bias["label"] == "annual_spend_log"
    assert bias["label_values_or_threshold"] == [8.5]
    assert bias["facet"] == [{"name_or_index": "segment_consumer", "value_or_threshold": [1]}]
    assert bias["group_variable"] == "segment_corporate"
    assert bias["headers"] == ["annual_spend_log", *FEATURES]
    assert bias["methods"]["pre_training_bias"]["methods"] == ["DPL", "KL", "TVD", "CDDL"]
    shap = m.monitor.analysis_configs["explainability"]
    assert shap["methods"]["shap"]["baseline"] == [[0.0, 0.0, 0.0]]
    assert shap["predictor"]["endpoint_name"] == m.endpoint.endpoint_name
    assert shap["headers"] == FEATURES


def test_one_schedule_per_job_with_its_cron(made):
    template, m, stack = made
    schedules = {
        r["Properties"]["MonitoringScheduleConfig"]["MonitoringType"]: r["Properties"]
        for r in template.find_resources("AWS::SageMaker::MonitoringSchedule").values()
    }
    assert {k: v["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"]
            for k, v in schedules.items()} == {
        "DataQuality": "cron(0 0/6 ? * * *)",
        "ModelQuality": "cron(0 4 ? * * *)",
        "ModelBias": "cron(0 5 ? * * *)",
        "ModelExplainability": "cron(0 6 ? * * *)",
    }  # fmt: skip
    for kind, props in schedules.items():
        assert props["EndpointName"] == m.endpoint.endpoint_name
        definition = m.monitor.job_definitions[kind]
        name = props["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"]
        assert name == {
            "Fn::Select": [
                1,
                {"Fn::Split": ["/", {"Fn::GetAtt": [stack.resolve(definition.logical_id),
                                                    "JobDefinitionArn"]}]},
            ]
        }  # fmt: skip
        assert len(props["MonitoringScheduleName"]) <= 63


def test_alarms_metric_names_and_thresholds(made):
    template, m, _ = made
    alarms = {
        r["Properties"]["AlarmDescription"]: r["Properties"]
        for r in template.find_resources("AWS::CloudWatch::Alarm").values()
        if "Metrics" in r["Properties"]
    }
    by_metric = {}
    for props in alarms.values():
        (query,) = props["Metrics"]
        expression = "".join(
            part if isinstance(part, str) else "<name>"
            for part in (
                query["Expression"]["Fn::Join"][1]
                if isinstance(query["Expression"], dict)
                else [query["Expression"]]
            )
        )
        metric = expression.split('"')[1]
        by_metric[metric] = (expression, props["Threshold"], props["ComparisonOperator"])
        assert props["AlarmActions"] == [{"Ref": "TopicBFC7AF6E"}]
        assert query["Period"] == 3600
    assert {k: v[1:] for k, v in by_metric.items()} == {
        "feature_baseline_drift_segment_consumer": (0.15, "GreaterThanThreshold"),
        "feature_baseline_drift_segment_corporate": (0.15, "GreaterThanThreshold"),
        "feature_baseline_drift_segment_home_office": (0.15, "GreaterThanThreshold"),
        "rmse": (0.9, "GreaterThanThreshold"),
        "bias_metric_DPL": (0.3, "GreaterThanThreshold"),
        "bias_metric_KL": (0.4, "GreaterThanThreshold"),
        "bias_metric_TVD": (0.2, "GreaterThanThreshold"),
        "bias_metric_CDDL": (0.25, "GreaterThanThreshold"),
    }
    schedules = {k: s.monitoring_schedule_name for k, s in m.monitor.schedules.items()}
    drift = by_metric["feature_baseline_drift_segment_consumer"][0]
    assert 'FROM "aws/sagemaker/Endpoints/data-metrics"' in drift
    assert f"MonitoringSchedule = '{schedules['DataQuality']}'" in drift
    assert 'FROM "aws/sagemaker/Endpoints/model-metrics"' in by_metric["rmse"][0]
    assert 'FROM "aws/sagemaker/Endpoints/bias-metrics"' in by_metric["bias_metric_KL"][0]
    # Only drift and quality alarms retrain; bias alarms call for people.
    assert len(m.monitor.drift_alarms) == 4


def test_quality_alarm_fires_below_for_higher_is_better_metrics():
    template, _, _ = synth_construct(
        lambda s: _build(
            s,
            problem_type="binary_classification",
            thresholds=MonitorThresholds(quality_metric="auc", quality_threshold=0.75),
            bias=BiasSettings(facet="segment_consumer", thresholds={"DPL": 0.2}),
        ),
        nag=False,
    )
    (auc,) = [
        r["Properties"]
        for r in template.find_resources("AWS::CloudWatch::Alarm").values()
        if "auc" in json.dumps(r["Properties"].get("Metrics", ""))
    ]
    assert (auc["Threshold"], auc["ComparisonOperator"]) == (0.75, "LessThanThreshold")
    (quality,) = template.find_resources("AWS::SageMaker::ModelQualityJobDefinition").values()
    props = quality["Properties"]
    assert props["ModelQualityAppSpecification"]["ProblemType"] == "BinaryClassification"
    endpoint_input = props["ModelQualityJobInput"]["EndpointInput"]
    assert endpoint_input["ProbabilityAttribute"] == "0"
    assert endpoint_input["ProbabilityThresholdAttribute"] == 0.5


def test_failed_executions_are_sent_to_the_topic(made):
    template, _, _ = made
    rules = [
        r["Properties"]
        for r in template.find_resources("AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["source"] == ["aws.sagemaker"]
    ]
    (rule,) = rules
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["SageMaker Processing Job State Change"]
    assert pattern["detail"]["ProcessingJobStatus"] == ["Failed"]
    assert len(pattern["detail"]["MonitoringScheduleArn"]) == 4
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "TopicBFC7AF6E"}


def test_retraining_rule_matches_drift_alarms_into_alarm(made):
    template, m, stack = made
    (rule,) = [
        r["Properties"]
        for r in template.find_resources("AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["source"] == ["aws.cloudwatch"]
    ]
    alarms = [stack.resolve(a.logical_id) for a in m.monitor.drift_alarms]
    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [{"Fn::GetAtt": [a, "Arn"]} for a in alarms],
        "detail": {"state": {"value": ["ALARM"]}},
    }
    (function,) = [
        f["Properties"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "retraining_trigger.index.handler"
    ]
    env = function["Environment"]["Variables"]
    assert env["PIPELINE_NAME"] == "mlops-dev-spend"
    assert env["COOLDOWN_MINUTES"] == "720"
    assert env["ALARM_NAMES"] == {"Fn::Join": [",", [{"Ref": a} for a in alarms]]}
    policies = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert '"sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"' in policies


def test_role_scope(made):
    template, m, stack = made
    role = template.to_json()["Resources"][
        stack.resolve(m.monitor.role.node.default_child.logical_id)
    ]
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    grants = {}
    for ref in role["Properties"]["ManagedPolicyArns"]:
        statements = policies[ref["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
        objects = next(s for s in statements if s["Sid"] == "ReadObjects")
        grants[objects["Resource"]["Fn::Join"][1][-1]] = any(
            s["Sid"] == "WriteObjects" for s in statements
        )
    prefix = m.endpoint.prefix
    assert grants == {
        f"/{prefix}capture/*": False,
        f"/{prefix}ground-truth/*": False,
        "/pipelines/mlops-dev-spend/baselines/*": False,
        f"/{prefix}monitoring/*": True,
    }


def test_cron_forms():
    for good in ("cron(0 * ? * * *)", "cron(0 4 ? * * *)", "cron(0 0/6 ? * * *)",
                 "cron(0 12/12 ? * * *)"):  # fmt: skip
        assert is_monitor_cron(good), good
    for bad in ("cron(30 * ? * * *)", "cron(0 4 * * ? *)", "cron(0 25 ? * * *)",
                "cron(0 0/0 ? * * *)", "rate(1 hour)", "cron(0 4 ? * MON *)"):  # fmt: skip
        assert not is_monitor_cron(bad), bad


def test_multi_model_endpoints_and_bad_props_are_refused():
    with pytest.raises(PropsError) as raised:
        synth_construct(
            lambda s: _build(
                s,
                multi_model=True,
                capture=0,
                problem_type="ranking",
                bias=BiasSettings(facet="nope", thresholds={"KL": -1, "CDDL": 0.2}),
                shap_baseline=[0.0],
            ),
            nag=False,
        )
    message = str(raised.value)
    for expected in (
        "expected a single-model endpoint: Model Monitor does not monitor multi-model",
        "endpoint.capture_percentage: got 0",
        "problem_type: got 'ranking'",
        "bias.facet: got 'nope'",
        "bias.thresholds.KL: got -1",
        "bias.thresholds.CDDL: got 0.2; expected a bias.group_variable",
        "shap_baseline: got [0.0]; expected one value per feature (3)",
    ):
        assert expected in message, message


def test_the_default_bias_settings_are_valid_on_their_own():
    # No group variable: the defaults must not ask for CDDL, which is conditioned on one.
    synth_construct(
        lambda s: _build(s, bias=BiasSettings(facet="segment_consumer", label_threshold=8.5)),
        nag=False,
    )


def test_an_environment_agnostic_stack_is_refused_with_what_to_do():
    with pytest.raises(PropsError) as raised:
        _build(cdk.Stack(cdk.App(), "UserStack"))
    message = str(raised.value)
    assert "ModelMonitor" in message
    assert "region" in message
    assert "env=" in message
    assert "Token" not in message


def test_without_the_sdk_the_error_names_the_extra(monkeypatch):
    hide_sagemaker_sdk(monkeypatch)
    with pytest.raises(PropsError) as raised:
        synth_construct(_build, nag=False)
    message = str(raised.value)
    assert "ModelMonitor" in message
    assert 'pip install "mlops-platform-constructs[pipelines]"' in message


def test_template_lints_clean(made):
    template, _, _ = made
    assert lint_problems(template) == []

"""ModelMonitor and RetrainingTrigger: job definitions, schedules, alarms and the rule."""

from __future__ import annotations

import copy
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
from mlops_constructs.training._definition import DATA_QUALITY_DATASET_FORMAT
from tests.helpers import (
    endpoint_base,
    functions_with_handler,
    hide_sagemaker_sdk,
    lint_problems,
    synth_construct,
)

PACKAGE = "arn:aws:sagemaker:eu-west-1:284751930618:model-package/mlops-dev-spend/3"
EXECUTIONS = "pipelines/mlops-dev-spend/executions/"
FEATURES = ["segment_consumer", "segment_corporate", "segment_home_office"]
JOB_TYPES = {
    "AWS::SageMaker::DataQualityJobDefinition": "DataQuality",
    "AWS::SageMaker::ModelQualityJobDefinition": "ModelQuality",
    "AWS::SageMaker::ModelBiasJobDefinition": "ModelBias",
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
        "model_package_arn": PACKAGE,
        "executions_prefix": EXECUTIONS,
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


def test_every_job_encrypts_runs_isolated_in_the_vpc_and_publishes_metrics(made):
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
        assert network["EnableNetworkIsolation"] is True, kind
        # Hourly model-quality and bias schedules allow at most 1800 s.
        assert props["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
        # Without it the containers publish no metric, and no alarm ever sees data.
        app = _section(props, "AppSpecification")
        assert app["Environment"] == {"publish_cloudwatch_metrics": "Enabled"}, kind
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
    image = _section(jobs["ModelBias"], "AppSpecification")["ImageUri"]
    assert "sagemaker-clarify-processing" in image and ".eu-west-1." in image


def test_the_pinned_versions_registered_baselines_are_read_at_deploy_time(made):
    template, m, stack = made
    jobs = _definitions(template)
    resource_of = m.monitor.baselines_lookup.node.default_child  # a CustomResource
    lookup = stack.resolve(resource_of.node.default_child.logical_id)
    (resource,) = [r for k, r in template.find_resources("Custom::AWS").items() if k == lookup]
    for event in ("Create", "Update"):
        call = json.loads(resource["Properties"][event])
        assert call["service"] == "SageMaker"
        assert call["action"] == "describeModelPackage"
        assert call["parameters"] == {"ModelPackageName": PACKAGE}
        assert call["physicalResourceId"] == {"id": PACKAGE}
        assert sorted(call["outputPaths"]) == [
            "DriftCheckBaselines.ModelDataQuality.Constraints.S3Uri",
            "DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri",
        ]
    assert "Delete" not in resource["Properties"]
    baseline = jobs["DataQuality"]["DataQualityBaselineConfig"]
    assert baseline["ConstraintsResource"]["S3Uri"] == {
        "Fn::GetAtt": [lookup, "DriftCheckBaselines.ModelDataQuality.Constraints.S3Uri"]
    }
    assert baseline["StatisticsResource"]["S3Uri"] == {
        "Fn::GetAtt": [lookup, "DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri"]
    }
    # Its function may describe that one version and nothing else.
    statements = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:DescribeModelPackage" in json.dumps(s["Action"])
    ]
    assert statements == [
        {"Action": "sagemaker:DescribeModelPackage", "Effect": "Allow", "Resource": PACKAGE}
    ]
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


def test_the_clarify_analysis_config_is_a_shipped_json_file(made):
    template, m, _ = made
    jobs = _definitions(template)
    uri = _section(jobs["ModelBias"], "AppSpecification")["ConfigUri"]
    assert uri.startswith("s3://cdk-") and uri.endswith(".json"), uri
    bias = m.monitor.analysis_configs["bias"]
    assert bias["label"] == "annual_spend_log"
    assert bias["label_values_or_threshold"] == [8.5]
    assert bias["facet"] == [{"name_or_index": "segment_consumer", "value_or_threshold": [1]}]
    assert bias["group_variable"] == "segment_corporate"
    assert bias["headers"] == ["annual_spend_log", *FEATURES]
    assert bias["methods"]["pre_training_bias"]["methods"] == ["DPL", "KL", "TVD", "CDDL"]
    assert set(m.monitor.analysis_configs) == {"bias"}


def endpoint_callers(template: dict[str, Any]) -> list[str]:
    """What in ``template`` could send a request to an endpoint: an explainability job (Clarify
    SHAP calls the endpoint), a job without network isolation, an analysis config with a
    ``predictor``, a policy allowing an invoke action."""
    found = []
    for logical_id, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::SageMaker::ModelExplainabilityJobDefinition":
            found.append(f"{logical_id}: explainability job")
        isolated = props.get("NetworkConfig", {}).get("EnableNetworkIsolation") is True
        if kind.startswith("AWS::SageMaker::") and kind.endswith("JobDefinition") and not isolated:
            found.append(f"{logical_id}: job without network isolation")
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in props["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                for action in [actions] if isinstance(actions, str) else actions:
                    if action.lower() in ("*", "sagemaker:*") or action.lower().startswith(
                        "sagemaker:invoke"
                    ):
                        found.append(f"{logical_id}: {action}")
    return found


def test_no_monitoring_request_reaches_the_endpoint(made):
    template, m, _ = made
    assert endpoint_callers(template.to_json()) == []
    for name, config in m.monitor.analysis_configs.items():
        assert "predictor" not in config, name
    # Negative controls: each way of calling the endpoint is found.
    for doctor in (_add_explainability_job, _open_network, _grant_invoke):
        doctored = copy.deepcopy(template.to_json())
        doctor(doctored)
        assert endpoint_callers(doctored), doctor.__name__


def _add_explainability_job(t: dict[str, Any]) -> None:
    t["Resources"]["Shap"] = {
        "Type": "AWS::SageMaker::ModelExplainabilityJobDefinition",
        "Properties": {"NetworkConfig": {"EnableNetworkIsolation": True}},
    }


def _open_network(t: dict[str, Any]) -> None:
    for resource in t["Resources"].values():
        if resource["Type"] == "AWS::SageMaker::ModelBiasJobDefinition":
            resource["Properties"]["NetworkConfig"]["EnableNetworkIsolation"] = False


def _grant_invoke(t: dict[str, Any]) -> None:
    policy = next(r for r in t["Resources"].values() if r["Type"] == "AWS::IAM::Policy")
    policy["Properties"]["PolicyDocument"]["Statement"].append(
        {"Action": ["sagemaker:InvokeEndpoint"], "Effect": "Allow", "Resource": "*"}
    )


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


def test_schedules_and_job_definitions_wait_for_the_endpoint(made):
    """SageMaker checks that the endpoint exists when a schedule is created."""
    template, m, stack = made
    endpoint = stack.resolve(m.endpoint.endpoint.logical_id)
    resources = template.to_json()["Resources"]
    watched = [
        k
        for k, r in resources.items()
        if r["Type"] in (*JOB_TYPES, "AWS::SageMaker::MonitoringSchedule")
    ]
    assert len(watched) == 6
    for logical_id in watched:
        assert endpoint in resources[logical_id].get("DependsOn", []), logical_id


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
    # What the analyzer publishes for this configuration: the baseline is header-less CSV
    # with the label first, so columns are named by position (Spark's _c<i>), and a captured
    # record is analysed as the response (one score) followed by the request's features.
    assert DATA_QUALITY_DATASET_FORMAT == {"header": False, "output_columns_position": "START"}
    captured_row = ["<score>", *FEATURES]
    published = {
        column: f"feature_baseline_drift__c{position}"
        for position, column in enumerate(captured_row)
    }
    drift = {published[f]: (0.15, "GreaterThanThreshold") for f in FEATURES}
    assert set(drift) == {f"feature_baseline_drift__c{i}" for i in (1, 2, 3)}
    # Negative control: the names the alarms used to query, which nothing publishes.
    assert not {f"feature_baseline_drift_{f}" for f in FEATURES} & set(by_metric)
    assert {k: v[1:] for k, v in by_metric.items()} == {
        **drift,
        "rmse": (0.9, "GreaterThanThreshold"),
        "bias_metric_DPL": (0.3, "GreaterThanThreshold"),
        "bias_metric_KL": (0.4, "GreaterThanThreshold"),
        "bias_metric_TVD": (0.2, "GreaterThanThreshold"),
        "bias_metric_CDDL": (0.25, "GreaterThanThreshold"),
    }
    schedules = {k: s.monitoring_schedule_name for k, s in m.monitor.schedules.items()}
    query = by_metric[published["segment_consumer"]][0]
    assert 'FROM "aws/sagemaker/Endpoints/data-metrics"' in query
    assert f"MonitoringSchedule = '{schedules['DataQuality']}'" in query
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
    assert len(pattern["detail"]["MonitoringScheduleArn"]) == 3
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
    (function,) = functions_with_handler(template, "retraining_trigger.index.handler")
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
        f"/{EXECUTIONS}*": False,
        f"/{prefix}monitoring/*": True,
    }


def test_cron_forms():
    for good in ("cron(0 * ? * * *)", "cron(0 4 ? * * *)", "cron(0 0/6 ? * * *)",
                 "cron(0 12/12 ? * * *)"):  # fmt: skip
        assert is_monitor_cron(good), good
    for bad in ("cron(30 * ? * * *)", "cron(0 4 * * ? *)", "cron(0 25 ? * * *)",
                "cron(0 0/0 ? * * *)", "rate(1 hour)", "cron(0 4 ? * MON *)"):  # fmt: skip
        assert not is_monitor_cron(bad), bad


def test_an_inference_component_endpoint_is_refused():
    """It hosts a component per model: not the single-model endpoint Model Monitor watches."""
    from mlops_constructs.serving import ComponentSettings, InferenceComponentEndpoint

    def build(stack: Any) -> None:
        _, common = endpoint_base(stack)
        endpoint = InferenceComponentEndpoint(
            stack, "Endpoint", components={"mlops-dev-spend": ComponentSettings()}, **common
        )
        ModelMonitor(
            stack,
            "Monitor",
            endpoint=endpoint,
            problem_type="regression",
            features=FEATURES,
            label="annual_spend_log",
            model_package_arn=PACKAGE,
            executions_prefix=EXECUTIONS,
            bias=BiasSettings(facet="segment_consumer", label_threshold=8.5),
            **common,
        )

    with pytest.raises(PropsError, match="expected a single-model endpoint"):
        synth_construct(build, nag=False)


def test_multi_model_endpoints_and_bad_props_are_refused():
    with pytest.raises(PropsError) as raised:
        synth_construct(
            lambda s: _build(
                s,
                multi_model=True,
                capture=0,
                problem_type="ranking",
                bias=BiasSettings(facet="nope", thresholds={"KL": -1, "CDDL": 0.2}),
                model_package_arn="arn:aws:sagemaker:eu-west-1:284751930618:model-package/x",
                executions_prefix="pipelines/x/executions",
                schedules=MonitorSchedules(model_quality="cron(0 * ? * * *)"),
                max_runtime_seconds=2400,
            ),
            nag=False,
        )
    message = str(raised.value)
    for expected in (
        "expected a single-model endpoint: Model Monitor does not monitor multi-model",
        "model-monitor.html",
        "endpoint.capture_percentage: got 0",
        "problem_type: got 'ranking'",
        "bias.facet: got 'nope'",
        "bias.thresholds.KL: got -1",
        "bias.thresholds.CDDL: got 0.2; expected a bias.group_variable",
        "model_package_arn: got 'arn:aws:sagemaker:eu-west-1:284751930618:model-package/x'",
        "executions_prefix: got 'pipelines/x/executions'",
        "max_runtime_seconds: got 2400; expected at most 1800 seconds for the ModelQuality "
        "schedule 'cron(0 * ? * * *)'",
        "MonitoringStoppingCondition",
    ):
        assert expected in message, message
    # Negative control: the hourly data-quality schedule allows 3600 s, the other two are daily.
    assert "DataQuality schedule" not in message and "ModelBias schedule" not in message


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

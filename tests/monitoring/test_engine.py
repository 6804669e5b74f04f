"""MonitoringEngine: the pipeline's step, the schedule, the publisher and the alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_cloudwatch as cloudwatch

from mlops_constructs import MonitoringEngine, PropsError
from mlops_constructs.monitoring.alarm_queries import MAX_ALARM_WINDOW_SECONDS, alarm_selects
from mlops_constructs.monitoring.runtime import monitor
from mlops_constructs.serving import (
    ABTest,
    Challenger,
    ComponentSettings,
    InferenceComponentEndpoint,
    InstanceScaling,
    ShadowVariant,
)
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
    # No version, baseline or archive: the default (the newest approved version per run).
    return {
        "model_group": GROUP,
        "features": FEATURES,
        "problem_type": "binary_classification",
        "quality_threshold": 0.75,
        "facet": "segment_consumer",
        **overrides,
    }


def _build(
    stack: Any,
    *,
    multi_model: bool = True,
    capture: int = 100,
    components: bool = False,
    endpoint_props: dict[str, Any] | None = None,
    **overrides: Any,
) -> Made:
    m = Made()
    m.key, common = endpoint_base(stack)
    m.common = common
    if components:
        m.endpoint = InferenceComponentEndpoint(
            stack,
            "Endpoint",
            components={GROUP: ComponentSettings(min_copies=0)},
            scaling=InstanceScaling(min_instances=0, max_instances=2, scale_to_zero=True),
            capture_percentage=capture,
            **common,
        )
    elif multi_model:
        m.endpoint = MultiModelEndpoint(
            stack,
            "Endpoint",
            image_uri="example/image:1",
            capture_percentage=capture,
            **common,
            **(endpoint_props or {}),
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
    assert arguments["ProcessingJobName"] == m.engine.job_name_prefix
    assert m.engine.job_name_prefix.startswith(f"monitor-{GROUP}-")


def test_the_step_reads_manifests_of_capture_and_ground_truth_and_the_versions_files(made):
    _, m, _ = made
    bucket = _bucket(m)
    inputs = {i["InputName"]: i["S3Input"] for i in _step(m)["Arguments"]["ProcessingInputs"]}
    assert {k: v["LocalPath"] for k, v in inputs.items() if k != "code"} == {
        "capture": "/opt/ml/processing/capture",
        "ground-truth": "/opt/ml/processing/ground-truth",
        "baseline": "/opt/ml/processing/baseline",
        "model": "/opt/ml/processing/model",
    }
    # The window's keys, listed by the launcher: not the variant's whole capture prefix.
    assert inputs["capture"]["S3Uri"] == {"Get": "Parameters.CaptureManifestUri"}
    assert inputs["ground-truth"]["S3Uri"] == {"Get": "Parameters.GroundTruthManifestUri"}
    assert (
        inputs["capture"]["S3DataType"] == inputs["ground-truth"]["S3DataType"] == ("ManifestFile")
    )
    assert inputs["baseline"]["S3Uri"] == {"Get": "Parameters.BaselineUri"}
    assert inputs["model"]["S3Uri"] == {"Get": "Parameters.ModelUri"}
    assert inputs["baseline"]["S3DataType"] == inputs["model"]["S3DataType"] == "S3Prefix"
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
    assert m.engine.runs_prefix.startswith(m.engine.output_prefix)


def test_every_parameter_is_required_and_the_launcher_gives_exactly_them(made):
    _, m, _ = made
    from tests.helpers import load_handler

    launcher = load_handler("monitoring_launcher")
    definition = json.loads(m.engine.definition_body)
    assert [p["Name"] for p in definition["Parameters"]] == list(launcher.PARAMETERS)
    # No defaults: a start without one fails instead of watching the wrong version.
    assert all("DefaultValue" not in p for p in definition["Parameters"])


def test_the_arguments_name_the_features_and_parse_as_monitor_py_does(made):
    _, m, _ = made
    arguments = _step(m)["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[-4:] == [
        "--model-version",
        {"Get": "Parameters.ModelVersion"},
        "--window-end",
        {"Get": "Parameters.WindowEnd"},
    ]
    args = monitor.parser().parse_args([*arguments[:-4], "--model-version", "3",
                                        "--window-end", "2026-01-01T06:00:00Z"])  # fmt: skip
    assert monitor.parse_features(args.features) == FEATURES
    assert args.endpoint == m.endpoint.endpoint_name
    assert args.model_group == GROUP
    assert args.problem_type == "binary_classification"
    assert args.quality_metric == "auc"
    assert args.facet == "segment_consumer"
    assert args.inference_id_prefix_filter == "version"
    assert args.window_hours == 1
    assert args.namespace == monitor.DEFAULT_NAMESPACE == m.engine.publisher.namespace
    assert (args.drift_threshold, args.drift_p_value, args.shap_rows) == (0.1, 0.01, 500)
    start, end = monitor.window(args)
    assert (monitor.format_utc(start), monitor.format_utc(end)) == (
        "2026-01-01T05:00:00Z",
        "2026-01-01T06:00:00Z",
    )


def test_the_schedule_invokes_the_launcher_with_the_scheduled_time(made):
    template, m, stack = made
    (schedule,) = template.find_resources("AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "cron(10 * * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "UTC"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = props["Target"]
    assert target["Arn"] == stack.resolve(m.engine.launcher.function.function_arn)
    assert target["RoleArn"] == stack.resolve(m.engine.schedule_role.role_arn)
    assert "SageMakerPipelineParameters" not in target
    assert json.loads(target["Input"]) == {
        "source": "mlops.monitoring-schedule",
        "scheduledTime": "<aws.scheduler.scheduled-time>",
    }
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 1800}


def test_the_schedule_role_may_invoke_the_launcher_and_dead_letter_only(made):
    template, m, stack = made
    role = template.to_json()["Resources"][
        stack.get_logical_id(m.engine.schedule_role.node.default_child)
    ]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    policy = m.engine.schedule_role.node.find_child("DefaultPolicy").node.default_child
    statements = stack.resolve(policy.policy_document)["Statement"]
    queue = m.engine.launcher.dead_letter_queue
    assert queue.encryption_master_key is not None
    assert statements == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": stack.resolve(m.engine.launcher.function.function_arn),
        },
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": stack.resolve(queue.queue_arn),
        },
        {
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Effect": "Allow",
            "Resource": stack.resolve(queue.encryption_master_key.key_arn),
        },
    ]


def test_the_launcher_is_configured_for_this_engine(made):
    template, m, stack = made
    fn = template.to_json()["Resources"][
        stack.get_logical_id(m.engine.launcher.function.node.default_child)
    ]["Properties"]
    assert fn["Handler"] == "monitoring_launcher.index.handler"
    variables = fn["Environment"]["Variables"]
    name = m.endpoint.endpoint_name
    assert variables["PIPELINE_NAME"] == f"{GROUP}-monitor"
    assert variables["MODEL_GROUP"] == GROUP
    assert (variables["PINNED_VERSION"], variables["BASELINE_URI"], variables["MODEL_URI"]) == (
        "",
        "",
        "",
    )
    assert variables["MODELS_PREFIX"] == f"endpoints/{name}/models/{GROUP}/"
    assert variables["CAPTURE_PREFIX"] == f"endpoints/{name}/capture/{name}/"
    assert variables["CAPTURE_VARIANTS"] == "AllTraffic"
    assert variables["GROUND_TRUTH_PREFIX"] == f"endpoints/{name}/ground-truth/"
    assert variables["RUNS_PREFIX"] == f"monitoring/{GROUP}/runs/"
    assert variables["READ_PREFIXES"] == f"pipelines/,endpoints/{name}/models/{GROUP}/"
    assert variables["WINDOW_HOURS"] == "1"
    assert "DEAD_LETTER_QUEUE_URL" in variables
    assert fn["Environment"]["Variables"]["PACKAGE_ARN_PREFIX"]["Fn::Join"][1][-1].endswith(
        f":{ACCOUNT}:model-package/{GROUP}/"
    )


def test_the_launcher_role_has_exactly_what_it_needs(made):
    template, m, stack = made
    statements = stack.resolve(m.engine.launcher.policy.document)["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {
        "FindApprovedVersions",
        "DescribeGroupVersions",
        "ListWindowKeys",
        "StartMonitoringPipeline",
    }
    assert by_sid["FindApprovedVersions"]["Action"] == "sagemaker:ListModelPackages"
    assert by_sid["FindApprovedVersions"]["Resource"] == "*"
    described = by_sid["DescribeGroupVersions"]
    assert described["Action"] == "sagemaker:DescribeModelPackage"
    assert described["Resource"]["Fn::Join"][1][-1].endswith(f":model-package/{GROUP}/*")
    listing = by_sid["ListWindowKeys"]
    assert listing["Action"] == "s3:ListBucket"
    name = m.endpoint.endpoint_name
    assert listing["Condition"] == {
        "StringLike": {
            "s3:prefix": [
                f"endpoints/{name}/capture/{name}/AllTraffic/*",
                f"endpoints/{name}/ground-truth/*",
                "pipelines/*",
                f"endpoints/{name}/models/{GROUP}/*",
            ]
        }
    }
    start = by_sid["StartMonitoringPipeline"]
    assert start["Action"] == "sagemaker:StartPipelineExecution"
    assert start["Resource"] == stack.resolve(m.engine.pipeline_arn)
    resources = template.to_json()["Resources"]
    role = resources[stack.get_logical_id(m.engine.launcher.role.node.default_child)]
    granted = sorted(
        resources[arn["Ref"]]["Properties"]["Description"]
        for arn in role["Properties"]["ManagedPolicyArns"]
        if isinstance(arn, dict) and "Ref" in arn
    )
    assert granted == [f"ReadWrite artifacts under 'monitoring/{GROUP}/runs/'"]


def test_the_pipeline_role_runs_only_the_engines_jobs(made):
    _, m, stack = made
    policy = m.engine.role.node.find_child("DefaultPolicy").node.default_child
    statements = stack.resolve(policy.policy_document)["Statement"]
    (run,) = [s for s in statements if s.get("Sid") == "RunMonitoringJobs"]
    prefix = m.engine.job_name_prefix
    assert run["Resource"]["Fn::Join"][1][-1].endswith(f":processing-job/{prefix}*")
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


def _data(m: Made, version: str = str(VERSION), endpoint: str | None = None) -> list[Any]:
    """What monitor.py publishes for a run of ``version`` (on ``endpoint``)."""
    results = _results()
    results["endpoint"] = endpoint or m.endpoint.endpoint_name
    results["model_version"] = version
    return monitor.metric_data(results, "2026-01-01T06:00:00Z")


def _selected(props: dict[str, Any], data: list[Any]) -> list[tuple[str, dict[str, str]]]:
    return [
        (d["MetricName"], {x["Name"]: x["Value"] for x in d["Dimensions"]})
        for d in data
        if alarm_selects(props, monitor.DEFAULT_NAMESPACE, d)
    ]


def _alarm_props(template: Any, stack: Any, alarm: cloudwatch.Alarm) -> dict[str, Any]:
    return template.to_json()["Resources"][stack.get_logical_id(alarm.node.default_child)][
        "Properties"
    ]


def test_drift_alarms_select_their_features_datum_of_every_version_and_nothing_else(made):
    template, m, stack = made
    assert list(m.engine.drift_alarms) == FEATURES
    name = m.endpoint.endpoint_name
    for feature, alarm in m.engine.drift_alarms.items():
        props = _alarm_props(template, stack, alarm)
        (query,) = props["Metrics"]
        assert query["Expression"] == (
            'SELECT MAX("FeatureDrifted") FROM SCHEMA("MLOps/ModelMonitoring", "Endpoint", '
            f'"Feature", "Model", "ModelVersion") WHERE "Endpoint" = \'{name}\' AND "Model" = '
            f"'{GROUP}' AND \"Feature\" = '{feature}'"
        )
        # "Metrics Insights quotas": an alarm queries three hours at most.
        assert query["Period"] * props["EvaluationPeriods"] <= MAX_ALARM_WINDOW_SECONDS
        assert (query["Period"], props["EvaluationPeriods"]) == (3600, 1)
        assert props["Threshold"] == 1
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["TreatMissingData"] == "notBreaching"
        assert props["AlarmActions"] == [stack.resolve(m.common["alarm_topic"].topic_arn)]
        expected = {"Endpoint": name, "Model": GROUP, "Feature": feature}
        # Versions 3 and 4 alike: the alarm does not go deaf when a version is approved.
        for version in ("3", "4"):
            assert _selected(props, _data(m, version)) == [
                ("FeatureDrifted", {**expected, "ModelVersion": version})
            ]
        # Negative controls: another endpoint's data, another feature's, another metric.
        assert _selected(props, _data(m, endpoint="other-endpoint")) == []
        renamed = [{**d, "MetricName": "FeatureDrift"} for d in _data(m)]
        assert not any(alarm_selects(props, monitor.DEFAULT_NAMESPACE, d) for d in renamed)
        assert not any(alarm_selects(props, "Other/Namespace", d) for d in _data(m))


def test_the_quality_alarm_selects_the_headline_metric_of_every_version(made):
    template, m, stack = made
    props = _alarm_props(template, stack, m.engine.quality_alarm)
    (query,) = props["Metrics"]
    assert query["Expression"].startswith('SELECT AVG("ModelQuality") FROM SCHEMA(')
    assert props["Threshold"] == 0.75
    assert props["ComparisonOperator"] == "LessThanThreshold"  # AUC: higher is better
    assert props["TreatMissingData"] == "notBreaching"
    for version in ("3", "7"):
        ((metric, dimensions),) = _selected(props, _data(m, version))
        assert metric == "ModelQuality"
        assert dimensions["Metric"] == "auc" and dimensions["ModelVersion"] == version
    assert _selected(props, _data(m, endpoint="other-endpoint")) == []


def test_the_job_failed_alarm_matches_the_publishers_datum(made):
    template, m, stack = made
    from tests.helpers import load_handler

    publisher = load_handler("metrics_publisher")
    props = _alarm_props(template, stack, m.engine.job_failed_alarm)
    datum = {
        "MetricName": publisher.FAILED_METRIC,
        "Dimensions": [
            {"Name": "Endpoint", "Value": m.endpoint.endpoint_name},
            {"Name": "Model", "Value": GROUP},
        ],
    }
    assert alarm_selects(props, monitor.DEFAULT_NAMESPACE, datum)
    other = {**datum, "Dimensions": [*datum["Dimensions"][:1], {"Name": "Model", "Value": "x"}]}
    assert not alarm_selects(props, monitor.DEFAULT_NAMESPACE, other)
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
    assert "\"Metric\" = 'rmse'" in props["Metrics"][0]["Expression"]
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    arguments = _step(m)["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert "--facet" not in arguments


def test_cfn_lint_is_clean(made):
    template, *_ = made
    assert lint_problems(template) == []


def test_a_pinned_single_model_engine_passes_its_overrides_to_the_launcher():
    model = "s3://artifacts/pipelines/mlops-dev-churn/tuning/job-1/output/model.tar.gz"
    template, m, stack = synth_construct(
        lambda s: _build(
            s, multi_model=False, model_version=VERSION, baseline_uri=BASELINE, model_uri=model
        ),
        nag=False,
    )
    variables = template.to_json()["Resources"][
        stack.get_logical_id(m.engine.launcher.function.node.default_child)
    ]["Properties"]["Environment"]["Variables"]
    assert (variables["PINNED_VERSION"], variables["BASELINE_URI"], variables["MODEL_URI"]) == (
        "3",
        BASELINE,
        model,
    )
    # A single-model endpoint: the archive is the package's ModelDataUrl (no models prefix).
    assert variables["MODELS_PREFIX"] == ""
    assert variables["READ_PREFIXES"] == "pipelines/"
    assert m.engine.model_version == VERSION


def test_props_are_checked_together():
    with pytest.raises(PropsError) as caught:
        synth_construct(
            lambda s: _build(
                s,
                capture=0,
                model_version=0,
                baseline_uri="baseline.json",
                features=["a", "a,b", "it's"],
                window_hours=0,
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
        "window_hours",
        "quality_metric",
        "schedule",
        "job_name_prefix",
        "drift_threshold",
        "facet",
        "max_runtime_seconds",
    ):
        assert f"  - {prop}: " in message, prop


def test_no_engines_job_prefix_starts_another_engines():
    """The publisher's rule and the job role match job names by prefix: 'spend' must not
    catch the jobs of 'spend-eu', nor two long names cut to the same 40 characters."""
    from mlops_constructs.monitoring.engine import default_job_name_prefix

    long = "mlops-platform-production-customer-lifetime-value"
    names = ["spend", "spend-eu", "spend-e", f"{long}-a", f"{long}-b", "s" * 63]
    prefixes = [default_job_name_prefix(n) for n in names]
    for prefix in prefixes:
        assert 1 <= len(prefix) <= 40 and not prefix.endswith("-"), prefix
    for a, pa in zip(names, prefixes, strict=True):
        for b, pb in zip(names, prefixes, strict=True):
            assert a == b or not pb.startswith(pa), (a, b)
    # Control: the former rule (the group cut to 40) let 'spend' catch 'spend-eu'.
    assert f"monitor-{names[1]}".startswith(f"monitor-{names[0]}")


def test_the_jobs_are_named_with_the_prefix_the_publisher_matches():
    """The SDK cuts a custom job prefix to 39 characters (63, less its 23-character timestamp
    and a hyphen: sagemaker.core.common_utils.name_from_base), so a longer prefix would name
    jobs the publisher's rule and the job role do not match."""
    template, m, _ = synth_construct(lambda s: _build(s, model_group="g" * 63), nag=False)
    prefix = m.engine.job_name_prefix
    assert len(prefix) <= 39
    assert _step(m)["Arguments"]["ProcessingJobName"] == prefix
    rules = [
        r["Properties"]["EventPattern"]["detail"]["ProcessingJobName"]
        for r in template.find_resources("AWS::Events::Rule").values()
        if "ProcessingJobName" in json.dumps(r["Properties"]["EventPattern"])
    ]
    assert rules == [[{"prefix": prefix}]]
    # A given prefix longer than the SDK keeps is refused.
    with pytest.raises(PropsError, match="job_name_prefix"):
        synth_construct(lambda s: _build(s, job_name_prefix="j" * 40), nag=False)


def test_a_job_instance_type_with_local_storage_is_refused():
    # SageMaker rejects a volume KMS key on instance types with local NVMe storage, and the
    # engine always encrypts the volume with the artifacts key.
    with pytest.raises(PropsError) as caught:
        synth_construct(lambda s: _build(s, instance_type="ml.m5d.large"), nag=False)
    assert "  - instance_type: got 'ml.m5d.large'" in str(caught.value)


def test_a_missed_schedule_goes_to_the_launchers_dead_letter_queue(made):
    template, m, stack = made
    (schedule,) = template.find_resources("AWS::Scheduler::Schedule").values()
    queue = m.engine.launcher.dead_letter_queue
    assert schedule["Properties"]["Target"]["DeadLetterConfig"] == {
        "Arn": stack.resolve(queue.queue_arn)
    }
    # The schedule's role may send there: see the schedule role's test.


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


# --- variants and hostings ----------------------------------------------------------------

AB = ABTest(challengers=(Challenger(name="Challenger", weight=1),), champion_weight=4)


@pytest.fixture(scope="module")
def ab_made():
    # cdk-nag AwsSolutions checks this synthesis too.
    return synth_construct(lambda s: _build(s, endpoint_props={"ab_test": AB}))


def _launcher_variables(template: Any, m: Made, stack: Any) -> dict[str, Any]:
    fn = template.to_json()["Resources"][
        stack.get_logical_id(m.engine.launcher.function.node.default_child)
    ]["Properties"]
    return dict(fn["Environment"]["Variables"])


def test_an_ab_test_is_watched_on_every_production_variant(ab_made):
    template, m, stack = ab_made
    name = m.endpoint.endpoint_name
    capture = f"endpoints/{name}/capture/{name}/"
    assert m.engine.variant_names == ["AllTraffic", "Challenger"]
    variables = _launcher_variables(template, m, stack)
    assert variables["CAPTURE_PREFIX"] == capture
    assert variables["CAPTURE_VARIANTS"] == "AllTraffic,Challenger"
    # Listing and reading: each variant's folder, never the endpoint's whole capture.
    statements = stack.resolve(m.engine.launcher.policy.document)["Statement"]
    (listing,) = [s for s in statements if s["Sid"] == "ListWindowKeys"]
    listed = listing["Condition"]["StringLike"]["s3:prefix"]
    assert [p for p in listed if p.startswith(capture)] == [
        f"{capture}AllTraffic/*",
        f"{capture}Challenger/*",
    ]
    resources = template.to_json()["Resources"]
    role = resources[stack.get_logical_id(m.engine.role.node.default_child)]
    read = sorted(
        resources[arn["Ref"]]["Properties"]["Description"]
        for arn in role["Properties"]["ManagedPolicyArns"]
    )
    assert [r for r in read if "/capture/" in r] == [
        f"Read artifacts under '{capture}AllTraffic/'",
        f"Read artifacts under '{capture}Challenger/'",
    ]


def test_an_ab_tests_variants_are_those_the_endpoint_configures(ab_made):
    """The variants watched are the endpoint configuration's production variants."""
    template, m, _ = ab_made
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    configured = [v["VariantName"] for v in config["Properties"]["ProductionVariants"]]
    assert configured == m.engine.variant_names
    assert "ShadowProductionVariants" not in config["Properties"]


def test_a_shadow_variant_is_not_watched():
    shadow = ShadowVariant(instance_type="ml.c5.large", traffic_percent=25)
    template, m, _ = synth_construct(
        lambda s: _build(s, endpoint_props={"shadow": shadow}), nag=False
    )
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    shadows = [v["VariantName"] for v in config["Properties"]["ShadowProductionVariants"]]
    assert shadows == ["Shadow"]  # not vacuous: the endpoint has one
    assert m.engine.variant_names == ["AllTraffic"]
    assert not any("Shadow" in p for p in m.engine.launcher.list_prefixes)
    # Naming it is refused.
    with pytest.raises(PropsError, match=r"variant_names.*count them twice"):
        synth_construct(
            lambda s: _build(
                s, endpoint_props={"shadow": shadow}, variant_names=["AllTraffic", "Shadow"]
            ),
            nag=False,
        )


@pytest.mark.parametrize("names", [[], ["AllTraffic", "AllTraffic"], ["All_Traffic"]])
def test_variant_names_are_checked(names):
    with pytest.raises(PropsError, match="variant_names"):
        synth_construct(lambda s: _build(s, variant_names=names), nag=False)


def test_an_inference_component_endpoint_is_watched_as_a_single_model_one():
    """Its one variant's capture; the archive is the package's ModelDataUrl (no models
    prefix), as on a single-model endpoint."""
    template, m, stack = synth_construct(lambda s: _build(s, components=True))
    name = m.endpoint.endpoint_name
    variables = _launcher_variables(template, m, stack)
    assert variables["CAPTURE_PREFIX"] == f"endpoints/{name}/capture/{name}/"
    assert variables["CAPTURE_VARIANTS"] == m.endpoint.variant_name == "AllTraffic"
    assert variables["MODELS_PREFIX"] == ""
    assert variables["READ_PREFIXES"] == "pipelines/"
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    capture = config["Properties"]["DataCaptureConfig"]["DestinationS3Uri"]
    assert stack.resolve(capture)["Fn::Join"][1][-1].endswith(f"/endpoints/{name}/capture")

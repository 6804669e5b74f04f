"""The monitoring engine, rehearsed end to end on the dev environment's synthesized templates.

The rehearsed training run's registered model serves the held-out rows of the rehearsal
dataset through ``examples/invoke_model.py`` for one hour, captured as the endpoint's data
capture writes them, with the labels written as ground truth; a second hour sends the same
rows with one feature shifted (most rows flagged with one category). In moto: the version is
registered Approved with the baseline the rehearsed ``MonitoringBaseline`` step wrote, its
archive is where the endpoint serves it from (dev serves from inference components: the
package's registered archive, which the deployer's model points at; on a multi-model
endpoint the deployer's copy), its requests name what dev's endpoint serves (the model's
component, the version read from it as the example client reads it), and the capture and
ground truth are in the artifacts bucket. For each hour the launcher is invoked with the
schedule's input as Scheduler fills it ten past the next hour; the parameters it passes to
``StartPipelineExecution`` run the synthesized ``MonitorModel`` step (its script asset, its
arguments, its inputs downloaded as SageMaker does). Then: the unchanged hour drifts nowhere
and crosses no alarm; the shifted hour drifts exactly in the shifted feature, whose alarm
(a Metrics Insights query) selects the datum and is crossed, and whose ``CloudWatch Alarm
State Change`` starts one retraining through the synthesized retraining trigger.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlops_constructs.monitoring.alarm_queries import alarm_selects
from tests.helpers import lambda_context, load_handler
from tests.rehearsal.assembly import Assembly
from tests.rehearsal.conftest import RUN_ENV, RehearsedRun
from tests.rehearsal.monitoring import (
    CapturingEndpoint,
    DeployedComponent,
    Engine,
    MonitorRun,
    Traffic,
    alarm_state_change,
    bucket_objects,
    capture_objects,
    crosses,
    datum,
    fake_account,
    find_engine,
    run_monitor,
    s3_key,
    send,
    shifted,
)
from tests.rehearsal.pipeline_runner import ServedModel, load_pipelines

EVENTS = Path(__file__).parent.parent / "events"
#: The version the rehearsal registers (moto numbers a group's first package 1).
VERSION = 1
#: The two hours of traffic (UTC), far enough apart that neither run lists the other's files.
UNCHANGED_HOUR = datetime(2026, 11, 20, 20, tzinfo=UTC)
SHIFTED_HOUR = datetime(2026, 11, 21, 8, tzinfo=UTC)
#: The feature whose one-hot column the shifted hour sets in most rows.
SHIFTED_FEATURE = "segment_corporate"


@dataclass
class Scenario:
    traffic: Traffic
    launched: dict[str, Any]
    run: MonitorRun
    metrics: dict[str, Any]
    results: dict[str, Any]


@dataclass
class World:
    engine: Engine
    s3: Any
    sagemaker: Any
    baseline_uri: str
    #: The version's registered archive, and where the endpoint serves it from.
    registered_uri: str
    archive_uri: str
    unchanged: Scenario
    shifted: Scenario
    monkeypatch: pytest.MonkeyPatch


def held_out(rehearsed: RehearsedRun) -> tuple[list[list[float]], list[float]]:
    """The test split the rehearsed run wrote (label first, then the features, no header)."""
    run = rehearsed.run
    outputs = run.properties["PrepareFeatures"]["ProcessingOutputConfig"]["Outputs"]
    (uri,) = [o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == "test"]
    (path,) = sorted(run.s3.path(uri).rglob("*.csv"))
    lines = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return [[float(v) for v in line[1:]] for line in lines], [float(line[0]) for line in lines]


def scheduled_event(engine: Engine, at: datetime) -> Any:
    """The schedule's target input as Scheduler fills ``<aws.scheduler.scheduled-time>``."""
    text = engine.schedule["Target"]["Input"]
    assert "<aws.scheduler.scheduled-time>" in text
    return json.loads(text.replace("<aws.scheduler.scheduled-time>", f"{at:%Y-%m-%dT%H:%M:%SZ}"))


def invoke(monkeypatch: pytest.MonkeyPatch, name: str, env: dict[str, str], event: Any) -> Any:
    """Run handler ``name`` with the environment its synthesized function has (without its
    dead-letter queue: no flow here sends to it)."""
    index = load_handler(name)
    with monkeypatch.context() as patch:
        for key, value in env.items():
            if key != "DEAD_LETTER_QUEUE_URL":
                patch.setenv(key, value)
        patch.delenv("DEAD_LETTER_QUEUE_URL", raising=False)
        return index.handler(event, lambda_context(name.replace("_", "-")))


@pytest.fixture(scope="module")
def world(
    dev_rehearsal: RehearsedRun,
    cloud_assembly: Path,
    boto3_session: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    dev_rehearsal.run.raise_for_problems()
    (registration,) = dev_rehearsal.run.registrations
    assembly = Assembly.load(cloud_assembly / f"assembly-{RUN_ENV}", cloud_assembly / "tree.json")
    engine = find_engine(assembly, load_pipelines(cloud_assembly, RUN_ENV))
    workdir = tmp_path_factory.mktemp("monitoring")
    (model_url,) = registration.model_data_urls
    archive = dev_rehearsal.run.download(model_url, workdir / "registered" / "model.tar.gz")
    served_uri = engine.served_archive_uri(VERSION, model_url)
    assert served_uri.startswith(f"s3://{engine.bucket}/"), served_uri
    served = ServedModel.from_archive(archive, workdir / "served")
    baseline_uri = registration.monitoring_baseline_uri
    assert baseline_uri, "the rehearsed version has no monitoring baseline"
    rows, labels = held_out(dev_rehearsal)
    column = engine.features.index(SHIFTED_FEATURE)
    hours = {
        "unchanged": (UNCHANGED_HOUR, rows),
        "shifted": (SHIFTED_HOUR, shifted(rows, column)),
    }
    monkeypatch = pytest.MonkeyPatch()
    bucket = engine.bucket
    with fake_account(monkeypatch, boto3_session, assembly.region, bucket) as (s3, sagemaker):
        # What the training pipeline and the deployer left in the account.
        s3.put_object(
            Bucket=bucket,
            Key=s3_key(baseline_uri),
            Body=dev_rehearsal.run.s3.path(baseline_uri).read_bytes(),
        )
        s3.put_object(Bucket=bucket, Key=s3_key(served_uri), Body=archive.read_bytes())
        request = registration.request
        sagemaker.create_model_package_group(ModelPackageGroupName=request["ModelPackageGroupName"])
        sagemaker.create_model_package(
            ModelPackageGroupName=request["ModelPackageGroupName"],
            ModelApprovalStatus="Approved",
            InferenceSpecification=request["InferenceSpecification"],
            ModelMetrics=request["ModelMetrics"],
        )
        for name, definition in (
            (engine.pipeline_name, engine.pipeline.definition),
            (engine.retraining_env["PIPELINE_NAME"], dev_rehearsal.pipeline.definition),
        ):
            sagemaker.create_pipeline(
                PipelineName=name,
                PipelineDefinition=json.dumps(definition),
                RoleArn=f"arn:aws:iam::{assembly.account}:role/rehearsal",
            )
        scenarios = {}
        for name, (hour, hour_rows) in hours.items():
            traffic = send(served, engine, hour_rows, labels, version=VERSION, hour=hour)
            for uri, body in capture_objects(traffic, engine.capture_prefix_uri()).items():
                s3.put_object(Bucket=bucket, Key=s3_key(uri), Body=body)
            from examples import invoke_model

            # Labels arrive after the predictions: written in the next hour's folder.
            invoke_model.put_ground_truth(
                s3,
                bucket,
                engine.launcher_env["GROUND_TRUTH_PREFIX"].rstrip("/"),
                dict(traffic.labels),
                when=hour + timedelta(hours=1, minutes=5),
            )
            launched = invoke(
                monkeypatch,
                "monitoring_launcher",
                engine.launcher_env,
                scheduled_event(engine, hour + timedelta(hours=1, minutes=10)),
            )
            assert launched["status"] == "started", launched
            execution = launched["execution"].rsplit("/", 1)[-1]
            run = run_monitor(
                engine,
                launched["parameters"],
                bucket_objects(s3, bucket),
                workdir / name,
                execution,
            )
            scenarios[name] = Scenario(
                traffic,
                launched,
                run,
                run.output("metrics.json"),
                run.output("results.json"),
            )
        yield World(
            engine,
            s3,
            sagemaker,
            baseline_uri,
            model_url,
            served_uri,
            scenarios["unchanged"],
            scenarios["shifted"],
            monkeypatch,
        )
    monkeypatch.undo()


# --------------------------------------------------------------------------------------
# The capture and the launcher
# --------------------------------------------------------------------------------------


def test_the_capture_is_read_back_as_what_was_served(world: World) -> None:
    """Every captured request is kept (the version's ids, in the window) and read as the rows
    sent and the scores the model gave."""
    for scenario in (world.unchanged, world.shifted):
        capture = scenario.results["capture"]
        assert capture["records_kept"] == len(scenario.traffic.records) > 50
        assert scenario.results["rows"] == len(scenario.traffic.rows)
        assert not any(capture["records_skipped"].values()), capture
        assert scenario.results["ground_truth"]["joined_rows"] == len(scenario.traffic.rows)


def test_the_launcher_runs_the_approved_version_on_its_hour(world: World) -> None:
    engine = world.engine
    for scenario in (world.unchanged, world.shifted):
        parameters = scenario.launched["parameters"]
        hour = scenario.traffic.hour
        assert parameters["ModelVersion"] == str(VERSION)
        assert parameters["BaselineUri"] == world.baseline_uri
        assert parameters["WindowEnd"] == f"{hour + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"
        assert scenario.results["window"]["end"] == parameters["WindowEnd"]
        # Every declared pipeline parameter is given, and nothing else.
        declared = {p["Name"] for p in engine.pipeline.definition["Parameters"]}
        assert set(parameters) == declared


def test_dev_is_rehearsed_on_the_component_it_serves(world: World) -> None:
    """Dev serves from inference components: the requests name the model's component (no
    TargetModel) and carry the version the component serves."""
    engine = world.engine
    assert engine.hosting == "inference-components" and engine.component
    assert engine.variant == "AllTraffic"
    assert engine.launcher_env["CAPTURE_VARIANTS"] == "AllTraffic"
    for scenario in (world.unchanged, world.shifted):
        assert scenario.traffic.requests
        for request in scenario.traffic.requests:
            assert request["InferenceComponentName"] == engine.component
            assert "TargetModel" not in request
            assert request["InferenceId"].startswith(f"v{VERSION}.")


def test_controls_the_stand_ins_refuse_what_dev_does_not_serve(world: World) -> None:
    """The stand-in endpoint refuses a request naming a version (TargetModel) or another
    component, and a component whose model the deployer did not name has no version."""
    from examples import invoke_model

    engine = world.engine
    assert engine.component is not None
    runtime = CapturingEndpoint(
        None,  # type: ignore[arg-type]  # refused before scoring
        engine.endpoint,
        engine.capture_config,
        lambda: UNCHANGED_HOUR,
        iter(["e"]),
        group=engine.group,
        component=engine.component,
    )
    for target in (
        {"target_model": invoke_model.target_model(engine.group, VERSION)},
        {"inference_component": f"{engine.component[:-1]}x"},
    ):
        with pytest.raises(AssertionError, match="inference-component endpoint got"):
            invoke_model.invoke(runtime, engine.endpoint, [[0.0]], **target)
    assert runtime.records == []
    foreign = DeployedComponent(engine.component, VERSION)
    foreign.model = "a-model-of-its-own"
    with pytest.raises(ValueError, match="give --model-version"):
        invoke_model.component_version(foreign, engine.component)


def test_the_launcher_passes_the_archive_the_endpoint_serves(world: World) -> None:
    """The job's model input is the approved version's archive, where the endpoint serves it
    from (the registered one on a component endpoint), so the run computes SHAP values."""
    engine = world.engine
    # On dev's component endpoint that is the package's registered ModelDataUrl.
    assert world.archive_uri == world.registered_uri
    for scenario in (world.unchanged, world.shifted):
        assert scenario.launched["parameters"]["ModelUri"] == world.archive_uri
        assert scenario.results["explainability"], "no SHAP values: the model was not mounted"
    # Control: not the multi-model endpoint's copy, which no one wrote on dev.
    assert world.archive_uri != engine.model_archive_uri(VERSION)


# --------------------------------------------------------------------------------------
# Drift and alarms
# --------------------------------------------------------------------------------------


def _drift_alarms(world: World) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each feature's drift alarm: the alarm selecting that feature's FeatureDrifted datum of
    the shifted run."""
    namespace = world.shifted.metrics["Namespace"]
    found = {}
    for feature in world.engine.features:
        point = datum(world.shifted.metrics, "FeatureDrifted", Feature=feature)
        selecting = [
            (name, props)
            for name, props in world.engine.alarms.items()
            if alarm_selects(props, namespace, point)
        ]
        assert len(selecting) == 1, f"{feature}: {len(selecting)} alarms select its datum"
        found[feature] = selecting[0]
    return found


def test_unchanged_traffic_drifts_nowhere_and_crosses_no_alarm(world: World) -> None:
    results = world.unchanged.results
    assert results["status"] == "ok"
    assert results["drifted_features"] == []
    metrics = world.unchanged.metrics
    namespace = metrics["Namespace"]
    breached = [
        (name, point["MetricName"], point["Value"])
        for point in metrics["MetricData"]
        for name, props in world.engine.alarms.items()
        if alarm_selects(props, namespace, point) and crosses(props, point["Value"])
    ]
    assert breached == []
    # Not vacuous: the alarms do select this run's data points.
    assert sum(
        1
        for point in metrics["MetricData"]
        for props in world.engine.alarms.values()
        if alarm_selects(props, namespace, point)
    ) >= len(world.engine.features)


def test_the_shifted_feature_drifts_and_only_it(world: World) -> None:
    results = world.shifted.results
    assert results["drifted_features"] == [SHIFTED_FEATURE]
    threshold = float(world.engine.argument("--drift-threshold"))
    drift = results["features"][SHIFTED_FEATURE]
    assert drift["js_distance"] > threshold
    assert drift["chi2_p_value"] < float(world.engine.argument("--drift-p-value"))
    for feature in world.engine.features:
        point = datum(world.shifted.metrics, "FeatureDrifted", Feature=feature)
        assert point["Value"] == (1.0 if feature == SHIFTED_FEATURE else 0.0), feature


def test_the_shifted_features_alarm_selects_its_datum_and_is_crossed(world: World) -> None:
    alarms = _drift_alarms(world)
    name, props = alarms[SHIFTED_FEATURE]
    point = datum(world.shifted.metrics, "FeatureDrifted", Feature=SHIFTED_FEATURE)
    assert crosses(props, point["Value"])
    # Controls: every other feature's alarm is another alarm, does not select this datum,
    # and is not crossed by its own feature's datum.
    namespace = world.shifted.metrics["Namespace"]
    for feature, (other, other_props) in alarms.items():
        if feature == SHIFTED_FEATURE:
            continue
        assert other != name
        assert not alarm_selects(other_props, namespace, point)
        own = datum(world.shifted.metrics, "FeatureDrifted", Feature=feature)
        assert not crosses(other_props, own["Value"])


def test_control_another_version_or_endpoint_is_not_selected(world: World) -> None:
    """The alarm's query follows every version of the model, on its endpoint only."""
    _, props = _drift_alarms(world)[SHIFTED_FEATURE]
    namespace = world.shifted.metrics["Namespace"]
    point = datum(world.shifted.metrics, "FeatureDrifted", Feature=SHIFTED_FEATURE)

    def with_dimension(name: str, value: str) -> dict[str, Any]:
        changed = json.loads(json.dumps(point))
        for dimension in changed["Dimensions"]:
            if dimension["Name"] == name:
                dimension["Value"] = value
        return changed

    assert alarm_selects(props, namespace, with_dimension("ModelVersion", str(VERSION + 1)))
    assert not alarm_selects(props, namespace, with_dimension("Endpoint", "another-endpoint"))
    assert not alarm_selects(props, "Another/Namespace", point)


# --------------------------------------------------------------------------------------
# Retraining
# --------------------------------------------------------------------------------------


def _arn(world: World, alarm: str) -> str:
    engine = world.engine
    region, account = engine.assembly.region, engine.assembly.account
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm}"


def _retrain(world: World, event: Any) -> tuple[Any, list[dict[str, Any]]]:
    pipeline = world.engine.retraining_env["PIPELINE_NAME"]
    result = invoke(world.monkeypatch, "retraining_trigger", world.engine.retraining_env, event)
    executions = world.sagemaker.list_pipeline_executions(PipelineName=pipeline)
    return result, executions["PipelineExecutionSummaries"]


SAMPLE = json.loads((EVENTS / "cloudwatch_alarm_state_change_metric.json").read_text())


def _event(world: World, feature: str, **kwargs: Any) -> dict[str, Any]:
    name, props = _drift_alarms(world)[feature]
    point = datum(world.shifted.metrics, "FeatureDrifted", Feature=feature)
    when = SHIFTED_HOUR + timedelta(hours=1, minutes=20)
    return alarm_state_change(
        SAMPLE, name, props, _arn(world, name), value=point["Value"], when=when, **kwargs
    )


def test_controls_an_ok_or_unrelated_alarm_starts_no_retraining(world: World) -> None:
    ok = _event(world, SHIFTED_FEATURE, state="OK", previous="OK")
    result, executions = _retrain(world, ok)
    assert result["status"] == "ignored" and executions == []
    (failed,) = [
        (name, props)
        for name, props in world.engine.alarms.items()
        if props.get("MetricName") == "MonitoringJobFailed"
    ]
    unrelated = alarm_state_change(
        SAMPLE, failed[0], failed[1], _arn(world, failed[0]), value=1.0, when=SHIFTED_HOUR
    )
    result, executions = _retrain(world, unrelated)
    assert result["status"] == "ignored" and executions == []


def test_the_drift_alarm_starts_one_retraining(world: World) -> None:
    test_controls_an_ok_or_unrelated_alarm_starts_no_retraining(world)  # nothing before
    event = _event(world, SHIFTED_FEATURE)
    result, executions = _retrain(world, event)
    assert result["status"] == "started", result
    assert len(executions) == 1
    assert result["execution"] == executions[0]["PipelineExecutionArn"]
    # The parameters it passed are the training pipeline's own.
    described = world.sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=result["execution"]
    )["PipelineParameters"]
    declared = {
        p["Name"]
        for p in json.loads(
            world.sagemaker.describe_pipeline(
                PipelineName=world.engine.retraining_env["PIPELINE_NAME"]
            )["PipelineDefinition"]
        )["Parameters"]
    }
    assert {p["Name"] for p in described} <= declared
    assert {"Name": "TriggerReason", "Value": "alarm"} in described


# --------------------------------------------------------------------------------------
# Staging's A/B test: the challenger's traffic is watched too
# --------------------------------------------------------------------------------------


def test_stagings_engine_reads_the_capture_of_every_ab_variant(
    cloud_assembly: Path, boto3_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staging's endpoint runs an A/B test: its launcher (its synthesized environment) lists
    the champion's and the challenger's capture into the run's manifest, and no other
    folder; an hour with traffic on the challenger only starts a run."""
    assembly = Assembly.load(cloud_assembly / "assembly-staging", cloud_assembly / "tree.json")
    engine = find_engine(assembly, load_pipelines(cloud_assembly, "staging"))
    assert engine.hosting == "multi-model"
    (config,) = [
        c
        for s, _, r in assembly.resources("AWS::SageMaker::EndpointConfig")
        if (c := assembly.props(s, r)).get("DataCaptureConfig") == engine.capture_config
    ]
    variants = [v["VariantName"] for v in config["ProductionVariants"]]
    assert len(variants) == 2 and variants[0] == "AllTraffic"  # the champion and "xlarge"
    assert engine.launcher_env["CAPTURE_VARIANTS"].split(",") == variants
    destination = engine.capture_config["DestinationS3Uri"].rstrip("/")
    hour = datetime(2026, 11, 22, 9, tzinfo=UTC)
    bucket = engine.bucket
    with fake_account(monkeypatch, boto3_session, assembly.region, bucket) as (s3, sagemaker):
        baseline = f"pipelines/{engine.group}/executions/e1/baseline/baseline.json"
        s3.put_object(Bucket=bucket, Key=baseline, Body=b"{}")
        sagemaker.create_model_package_group(ModelPackageGroupName=engine.group)
        sagemaker.create_model_package(
            ModelPackageGroupName=engine.group,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": "xgboost", "ModelDataUrl": f"s3://{bucket}/m.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelMetrics={
                "ModelDataQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{bucket}/{baseline}",
                    }
                }
            },
        )
        sagemaker.create_pipeline(
            PipelineName=engine.pipeline_name,
            PipelineDefinition=json.dumps(engine.pipeline.definition),
            RoleArn=f"arn:aws:iam::{assembly.account}:role/rehearsal",
        )

        def put_capture(folder: str, when: datetime) -> str:
            uri = f"{destination}/{engine.endpoint}/{folder}/{when:%Y/%m/%d/%H}/00-a.jsonl"
            s3.put_object(Bucket=bucket, Key=s3_key(uri), Body=b"{}\n")
            return uri

        written = [put_capture(v, hour) for v in variants]
        put_capture("Shadow", hour)  # not a variant of staging's endpoint: not read
        launched = invoke(
            monkeypatch,
            "monitoring_launcher",
            engine.launcher_env,
            scheduled_event(engine, hour + timedelta(hours=1, minutes=10)),
        )
        assert launched["status"] == "started", launched
        assert launched["captureFilesByVariant"] == dict.fromkeys(variants, 1)
        manifest_uri = launched["parameters"]["CaptureManifestUri"]
        listed = json.loads(s3.get_object(Bucket=bucket, Key=s3_key(manifest_uri))["Body"].read())
        prefix = listed[0]["prefix"]
        assert sorted(prefix + key for key in listed[1:]) == sorted(written)
        # Traffic on the challenger only is an hour with traffic.
        later = hour + timedelta(hours=3)
        put_capture(variants[1], later)
        put_capture("Shadow", later)
        challenger_only = invoke(
            monkeypatch,
            "monitoring_launcher",
            engine.launcher_env,
            scheduled_event(engine, later + timedelta(hours=1, minutes=10)),
        )
        assert challenger_only["captureFilesByVariant"] == {variants[0]: 0, variants[1]: 1}
        # Control: the shadow folder's traffic alone starts nothing.
        shadow_only = hour + timedelta(hours=6)
        put_capture("Shadow", shadow_only)
        skipped = invoke(
            monkeypatch,
            "monitoring_launcher",
            engine.launcher_env,
            scheduled_event(engine, shadow_only + timedelta(hours=1, minutes=10)),
        )
        assert skipped["status"] == "skipped", skipped

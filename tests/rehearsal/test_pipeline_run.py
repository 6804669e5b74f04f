"""Run rehearsal of the training pipeline: the synthesized definition, executed offline.

The dev pipeline runs end to end on a dataset with a known signal (``data.py``); every
environment's definition passes the checks that need no data. The controls run deliberately
broken copies and assert the rehearsal fails on each, for the named reason.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ENVIRONMENTS
from tests.rehearsal.conftest import RehearsedRun
from tests.rehearsal.data import NOISE_SD
from tests.rehearsal.pipeline_runner import (
    XGBOOST_MODEL_FILE,
    PipelineRun,
    RehearsalError,
    SynthesizedPipeline,
    clarify_pre_training_problems,
    load_pipelines,
    read_clarify_csv,
    rehearse,
    static_problems,
)


def _steps_of_type(pipeline: SynthesizedPipeline, kind: str) -> list[dict[str, Any]]:
    return [s for s in pipeline.definition["Steps"] if s["Type"] == kind]


def _prepare_step(pipeline: SynthesizedPipeline) -> dict[str, Any]:
    """The processing step whose script writes the splits (it reads ``--features``)."""
    return next(
        s
        for s in _steps_of_type(pipeline, "Processing")
        if "--features" in s["Arguments"]["AppSpecification"].get("ContainerArguments", [])
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_pipeline_passes_the_static_checks(cloud_assembly: Path, env: str) -> None:
    pipelines = load_pipelines(cloud_assembly, env)
    assert pipelines, f"{env} has no training pipeline"
    problems = [p for pipeline in pipelines for p in static_problems(pipeline)]
    if problems:
        raise RehearsalError(problems)


def test_the_dev_pipeline_runs_to_registration(dev_rehearsal: RehearsedRun) -> None:
    run = dev_rehearsal.run
    run.raise_for_problems()
    failed = {name: status for name, status in run.status.items() if status != "Succeeded"}
    assert not failed, (failed, run.log)
    every_step = {s["Name"] for s in run.pipeline.definition["Steps"]}
    assert every_step <= set(run.status), run.log
    (registration,) = run.registrations
    assert registration.request["ModelApprovalStatus"] == run.pipeline.parameter_default(
        "ModelApprovalStatus"
    )


def test_the_test_metric_is_the_noise_of_the_dataset(dev_rehearsal: RehearsedRun) -> None:
    run = dev_rehearsal.run
    run.raise_for_problems()
    reports = [files for files in run.property_files.values() if files]
    assert len(reports) == 1
    (report,) = reports[0].values()
    rmse = report["regression_metrics"]["rmse"]["value"]
    low, high = dev_rehearsal.data.rmse_bounds
    assert low <= rmse <= high, f"test RMSE {rmse} for label noise {NOISE_SD}"


def test_the_splits_are_label_first_with_exactly_the_features(
    dev_rehearsal: RehearsedRun,
) -> None:
    run = dev_rehearsal.run
    run.raise_for_problems()
    prepare = _prepare_step(run.pipeline)
    outputs = run.properties[prepare["Name"]]["ProcessingOutputConfig"]["Outputs"]
    features = dev_rehearsal.training_config["feature_columns"]
    means = sorted(dev_rehearsal.data.category_means.values())
    for output in outputs:
        uri = output["S3Output"]["S3Uri"]
        keys = run.s3.keys(uri)
        assert keys, f"{output['OutputName']}: nothing under {uri}"
        bucket = uri.removeprefix("s3://").split("/", 1)[0]
        text = "".join((run.s3.root / bucket / k).read_text() for k in keys)
        rows = [[float(v) for v in r] for r in csv.reader(io.StringIO(text)) if r]
        assert {len(r) for r in rows} == {1 + len(features)}, output["OutputName"]
        for row in rows:
            label, one_hot = row[0], row[1:]
            assert sorted(one_hot) == [0.0] * (len(features) - 1) + [1.0]
            assert means[0] - 6 * NOISE_SD < label < means[-1] + 6 * NOISE_SD


def _clarify_inputs(run: PipelineRun) -> tuple[dict[str, Any], Any, str]:
    """The bias baseline's delivered analysis configuration, its dataset as Clarify reads it,
    and the configuration's S3 URI."""
    (clarify,) = _steps_of_type(run.pipeline, "ClarifyCheck")
    inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"]
        for i in run.value(clarify["Arguments"])["ProcessingInputs"]
    }
    config = json.loads(run.s3.path(inputs["analysis_config"]).read_text())
    bucket = inputs["dataset"].removeprefix("s3://").split("/", 1)[0]
    texts = [(run.s3.root / bucket / k).read_text() for k in run.s3.keys(inputs["dataset"])]
    return config, read_clarify_csv(texts, config["headers"]), inputs["analysis_config"]


def test_the_bias_baseline_has_a_sensitive_group_and_a_positive_outcome(
    clarify_rehearsal: RehearsedRun,
) -> None:
    """Clarify's own pre-training analysis of the train split computes every metric asked
    for: the facet's sensitive group and the positive label are neither empty nor all."""
    run = clarify_rehearsal.run
    run.raise_for_problems()
    config, frame, _ = _clarify_inputs(run)
    assert clarify_pre_training_problems(config, frame) == []
    (facet,) = config["facet"]
    from smclarify.bias.report import FacetColumn, LabelColumn, StageType, bias_report

    (report,) = bias_report(
        frame,
        FacetColumn(facet["name_or_index"], facet["value_or_threshold"]),
        LabelColumn(config["label"], frame[config["label"]], config["label_values_or_threshold"]),
        StageType.PRE_TRAINING,
        metrics=["CI"],
    )
    (ci,) = report["metrics"]
    # CI = (n_other - n_group) / n: strictly inside (-1, 1) only if both groups have rows.
    assert -1 < ci["value"] < 1, report
    members = (frame[facet["name_or_index"]] == 1.0).sum()
    assert ci["value"] == pytest.approx((len(frame) - 2 * members) / len(frame)), report


def test_the_registered_package_points_at_what_the_run_wrote(dev_rehearsal: RehearsedRun) -> None:
    run = dev_rehearsal.run
    run.raise_for_problems()
    (registration,) = run.registrations
    (model_url,) = registration.model_data_urls
    assert model_url in registration.checked_artifacts
    with tarfile.open(run.s3.path(model_url)) as archive:
        assert archive.getnames() == [XGBOOST_MODEL_FILE]
    # Only the check steps' baselines are not produced offline (their containers do not run).
    check_steps = {
        s["Name"] for s in run.pipeline.definition["Steps"] if s["Type"].endswith("Check")
    }
    assert {n.step for n in registration.not_produced} <= check_steps
    # The serving image is the training image (the same XGBoost version reads the model).
    (tuning,) = _steps_of_type(run.pipeline, "Tuning")
    training_image = tuning["Arguments"]["TrainingJobDefinition"]["AlgorithmSpecification"][
        "TrainingImage"
    ]
    containers = registration.request["InferenceSpecification"]["Containers"]
    assert [c["Image"] for c in containers] == [training_image]


def _baseline_step(pipeline: SynthesizedPipeline) -> dict[str, Any]:
    return pipeline.step("MonitoringBaseline")


def test_the_registered_package_carries_this_versions_monitoring_baseline(
    dev_rehearsal: RehearsedRun,
) -> None:
    """baseline.py ran on the train split and the registered model's archive: the package
    refers to its baseline.json, under this execution, with every feature and the SHAP
    means of that model."""
    run = dev_rehearsal.run
    run.raise_for_problems()
    (registration,) = run.registrations
    uri = registration.monitoring_baseline_uri
    assert uri in registration.checked_artifacts, registration.request.get("ModelMetrics")
    assert uri.endswith(f"/executions/{run.execution_id}/baseline/baseline.json")
    statistics = registration.request["ModelMetrics"]["ModelDataQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    document = json.loads(run.s3.path(uri).read_text())
    features = dev_rehearsal.training_config["feature_columns"]
    assert document["features"] == features
    assert sorted(document["feature_statistics"]) == sorted(features)
    # Every training row, no feature missing (the splits have no empty cells).
    train_uri = run.properties[_prepare_step(run.pipeline)["Name"]]["ProcessingOutputConfig"][
        "Outputs"
    ]
    (train,) = [o["S3Output"]["S3Uri"] for o in train_uri if o["OutputName"] == "train"]
    bucket = train.removeprefix("s3://").split("/", 1)[0]
    rows = sum(
        len([line for line in (run.s3.root / bucket / k).read_text().splitlines() if line])
        for k in run.s3.keys(train)
    )
    assert document["rows"] == rows > 0
    for name in features:
        stats = document["feature_statistics"][name]
        assert (stats["count"], stats["missing"]) == (rows, 0), name
        assert stats["type"] == "categorical", name  # the rehearsal's features are one-hot
    # The SHAP means come from the registered model's archive, one per feature.
    assert sorted(document["shap"]["mean_abs"]) == sorted(features)
    assert any(v > 0 for v in document["shap"]["mean_abs"].values())
    inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"]
        for i in run.properties["MonitoringBaseline"]["ProcessingInputs"]
    }
    assert [inputs["model"]] == registration.model_data_urls
    assert inputs["train"] == train


# -------------------------------------------------------------------------------------------
# Negative controls: deliberately broken copies must fail the rehearsal, for the named reason
# -------------------------------------------------------------------------------------------


def test_control_a_leaked_label_is_an_impossible_metric(
    clarify_rehearsal: RehearsedRun, tmp_path: Path
) -> None:
    leaky = clarify_rehearsal.pipeline.copy()
    arguments = _prepare_step(leaky)["Arguments"]["AppSpecification"]["ContainerArguments"]
    index = arguments.index("--features") + 1
    arguments[index] = f"{arguments[index]},{clarify_rehearsal.data.leak_column}"
    run, _ = rehearse(
        leaky,
        tmp_path,
        dataset=clarify_rehearsal.dataset_config,
        training=clarify_rehearsal.training_config,
    )
    with pytest.raises(RehearsalError) as raised:
        run.raise_for_problems()
    problems = raised.value.problems
    assert any(
        "impossible metric" in p and "below the dataset's noise floor" in p for p in problems
    ), problems
    # Clarify would read one column more than its configuration names.
    assert any("columns but the analysis configuration names" in p for p in problems), problems
    assert not run.registrations


def _with_fast_file(pipeline: SynthesizedPipeline) -> SynthesizedPipeline:
    broken = pipeline.copy()
    (tuning,) = _steps_of_type(broken, "Tuning")
    channels = tuning["Arguments"]["TrainingJobDefinition"]["InputDataConfig"]
    next(c for c in channels if c["ChannelName"] == "train")["InputMode"] = "FastFile"
    return broken


FAST_FILE_REJECTED = "Channel configuration for 'train' channel is not supported"


def test_control_a_fast_file_channel_fails_the_static_checks(
    dev_rehearsal: RehearsedRun,
) -> None:
    problems = static_problems(_with_fast_file(dev_rehearsal.pipeline))
    assert any(FAST_FILE_REJECTED in p and "FastFile" in p for p in problems), problems


def test_control_a_fast_file_channel_fails_the_run(
    dev_rehearsal: RehearsedRun, tmp_path: Path
) -> None:
    run, _ = rehearse(
        _with_fast_file(dev_rehearsal.pipeline),
        tmp_path,
        dataset=dev_rehearsal.dataset_config,
        training=dev_rehearsal.training_config,
    )
    with pytest.raises(RehearsalError) as raised:
        run.raise_for_problems()
    (tuning,) = _steps_of_type(run.pipeline, "Tuning")
    assert any(
        p.startswith(f"{tuning['Name']}: {FAST_FILE_REJECTED}") and "FastFile" in p
        for p in raised.value.problems
    ), raised.value.problems
    assert not run.registrations


def test_control_a_clarify_config_under_another_name_is_not_found(
    clarify_rehearsal: RehearsedRun,
) -> None:
    broken = clarify_rehearsal.pipeline.copy()
    (clarify,) = _steps_of_type(broken, "ClarifyCheck")
    inputs = clarify["Arguments"]["ProcessingInputs"]
    config = next(i for i in inputs if i["InputName"] == "analysis_config")
    # An object that exists, under another name (as the content-hash asset name was).
    config["S3Input"]["S3Uri"] = next(
        u for u in sorted(broken.deploy_time_uris) if not u.endswith("/analysis_config.json")
    )
    problems = static_problems(broken)
    assert any(
        p.startswith(f"{clarify['Name']}: the container reads ")
        and p.split(", but")[0].endswith("/analysis_config.json")
        for p in problems
    ), problems


def test_control_a_one_hot_facet_threshold_of_1_is_an_empty_sensitive_group(
    clarify_rehearsal: RehearsedRun, tmp_path: Path
) -> None:
    """Clarify reads the float CSV's one-hot column as continuous: threshold [1.0] is the
    empty interval set from_breaks([1.0]), so every pre-training metric errors."""
    broken = clarify_rehearsal.pipeline.copy()
    _, _, config_uri = _clarify_inputs(clarify_rehearsal.run)
    config = json.loads(broken.deployed[config_uri])
    config["facet"][0]["value_or_threshold"] = [1.0]
    broken.deployed[config_uri] = json.dumps(config).encode()
    run, _ = rehearse(
        broken,
        tmp_path,
        dataset=clarify_rehearsal.dataset_config,
        training=clarify_rehearsal.training_config,
    )
    with pytest.raises(RehearsalError) as raised:
        run.raise_for_problems()
    (clarify,) = _steps_of_type(run.pipeline, "ClarifyCheck")
    problems = [p for p in raised.value.problems if p.startswith(f"{clarify['Name']}: ")]
    assert problems and "DPL: Facet set is empty." in problems[0], raised.value.problems
    assert "CI: facet set is empty" in problems[0], problems
    assert run.status[clarify["Name"]] != "Succeeded"
    assert not run.registrations


@pytest.mark.parametrize("side", ["above the maximum", "below the minimum"])
def test_control_a_label_threshold_outside_the_labels_selects_none_or_all(
    clarify_rehearsal: RehearsedRun, side: str
) -> None:
    config, frame, _ = _clarify_inputs(clarify_rehearsal.run)
    labels = frame[config["label"]]
    threshold = labels.max() + 1 if side == "above the maximum" else labels.min() - 1
    broken = {**config, "label_values_or_threshold": [float(threshold)]}
    expected = "selects 0 of" if side == "above the maximum" else f"selects {len(frame)} of"
    problems = clarify_pre_training_problems(broken, frame)
    assert any(p.startswith(f"label {config['label']!r}") and expected in p for p in problems), (
        problems
    )


def test_control_a_baseline_of_other_features_fails_and_nothing_is_registered(
    dev_rehearsal: RehearsedRun, tmp_path: Path
) -> None:
    """baseline.py refuses a split whose width does not match --features: a version is
    never registered with a baseline of other columns."""
    broken = dev_rehearsal.pipeline.copy()
    arguments = _baseline_step(broken)["Arguments"]["AppSpecification"]["ContainerArguments"]
    index = arguments.index("--features") + 1
    arguments[index] = arguments[index].rsplit(",", 1)[0]  # the last feature dropped
    run, _ = rehearse(
        broken,
        tmp_path,
        dataset=dev_rehearsal.dataset_config,
        training=dev_rehearsal.training_config,
    )
    with pytest.raises(RehearsalError) as raised:
        run.raise_for_problems()
    assert any(
        p.startswith("MonitoringBaseline: ") and "(the label and --features)" in p
        for p in raised.value.problems
    ), raised.value.problems
    assert run.status["MonitoringBaseline"] == "Failed"
    assert not run.registrations

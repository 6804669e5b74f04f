"""The monitoring job on data with a known answer: capture files in the documented capture
format, built from rows drawn from the baseline's distribution (no drift) or with one feature
shifted (that feature, and only it, drifts), ground truth with a known AUC, and a tiny XGBoost
model whose SHAP values are known. Each check has a control that would make it fail."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("scipy")

from mlops_constructs.monitoring.runtime import monitor  # noqa: E402
from mlops_constructs.training.runtime import baseline as baseline_step  # noqa: E402
from mlops_constructs.training.runtime.evaluate import roc_auc  # noqa: E402

FEATURES = ["tenure", "spend", "region_eu"]
VERSION = "3"


def draw(n: int, seed: int, *, tenure_shift: float = 0.0):
    """Label first, then FEATURES: tenure ~ N(10, 2) (+ shift), spend ~ exp(N(5, 0.5)),
    region_eu ~ Bernoulli(0.3); label 1 when tenure + noise > 10."""
    rng = np.random.default_rng(seed)
    tenure = rng.normal(10, 2, n)
    spend = np.exp(rng.normal(5, 0.5, n))
    region = (rng.random(n) < 0.3).astype(float)
    label = (tenure + rng.normal(0, 1, n) > 10).astype(float)
    return np.column_stack([label, tenure + tenure_shift, spend, region])


def csv_line(row) -> str:
    return ",".join(repr(float(v)) for v in row)


def capture_record(
    rows,
    scores,
    inference_id: str | None,
    encoding: str = "CSV",
    inference_time: object = "2026-01-01T10:00:00Z",
) -> dict:
    """A captured record as the "Capture data" page shows it; CSV data ends with a newline.
    The default time is in the window :func:`run` gives the job (10:00 to 11:00)."""
    text = "".join(csv_line(r) + "\n" for r in rows)
    if encoding == "CSV":
        data, content_type = text, "text/csv"
    elif encoding == "BASE64":
        data, content_type = base64.b64encode(text.encode()).decode(), "text/csv"
    else:
        data = json.dumps({"instances": [{"features": [float(v) for v in r]} for r in rows]})
        content_type = "application/json"
    metadata: dict[str, object] = {"eventId": str(uuid.uuid4())}
    if inference_time is not None:
        metadata["inferenceTime"] = inference_time
    if inference_id:
        metadata["inferenceId"] = inference_id
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": data,
                "encoding": encoding,
            },
            "endpointOutput": {
                "observedContentType": "text/csv; charset=utf-8",
                "mode": "OUTPUT",
                "data": "\n".join(repr(float(s)) for s in scores),
                "encoding": "CSV",
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }


def write_jsonl(path, records) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def scores_of(rows):
    """A stand-in model: a logistic score of tenure (what the label depends on)."""
    return 1 / (1 + np.exp(-(rows[:, 0] - 10)))  # rows of FEATURES: tenure first


def write_captures(root, rows, *, version: str = VERSION, batch: int = 5, hour: str = "10"):
    """Captured records of ``rows`` (features only) under an endpoint/variant/yyyy/mm/dd/hh
    layout: mostly single-row CSV, every 7th a CSV batch, every 11th BASE64, every 13th JSON.
    Returns the inference ids with the rows of each record."""
    records: list[dict] = []
    ids: list[tuple[str, int, int]] = []
    i = 0
    while i < len(rows):
        size = batch if len(records) % 7 == 6 else 1
        chunk = rows[i : i + size]
        encoding = "BASE64" if len(records) % 11 == 10 else "CSV"
        encoding = "JSON" if len(records) % 13 == 12 else encoding
        inference_id = f"v{version}.{uuid.uuid4().hex}"
        records.append(capture_record(chunk, scores_of(chunk), inference_id, encoding))
        ids.append((inference_id, i, i + len(chunk)))
        i += size
    write_jsonl(
        root / "capture" / "ep" / "AllTraffic" / "2026" / "01" / "01" / hour / "a.jsonl", records
    )
    return ids


@pytest.fixture(scope="module")
def baseline_doc():
    return baseline_step.build_baseline(draw(5000, seed=1), FEATURES, sample_size=1000, seed=0)


def make_root(tmp_path, baseline_doc):
    (tmp_path / "baseline").mkdir(parents=True)
    (tmp_path / "baseline" / "baseline.json").write_text(baseline_step.dumps(baseline_doc))
    return tmp_path


def run(root, monkeypatch, *extra: str) -> tuple[int, dict]:
    monkeypatch.setenv("MLOPS_PROCESSING_ROOT", str(root))
    argv = [
        "--features", ",".join(FEATURES), "--endpoint", "ep", "--model-group", "customers",
        "--model-version", VERSION, "--problem-type", "binary_classification",
        "--window-end", "2026-01-01T11:00:00Z", *extra,
    ]  # fmt: skip
    code = monitor.main(argv)
    results_file = root / "output" / "results.json"
    return code, json.loads(results_file.read_text()) if results_file.exists() else {}


def test_unchanged_data_does_not_drift_and_a_shifted_feature_does(
    tmp_path, monkeypatch, baseline_doc
):
    same = make_root(tmp_path / "same", baseline_doc)
    write_captures(same, draw(2000, seed=2)[:, 1:])
    code, results = unchanged = run(same, monkeypatch)
    assert code == 0 and results["status"] == "ok"
    assert results["rows"] == 2000
    assert results["drifted_features"] == []
    for name in FEATURES:
        assert results["features"][name]["js_distance"] < 0.1, name

    shifted = make_root(tmp_path / "shifted", baseline_doc)
    # Tenure moves by half a standard deviation; spend and region are drawn as before.
    write_captures(shifted, draw(2000, seed=2, tenure_shift=1.0)[:, 1:])
    code, results = run(shifted, monkeypatch)
    assert code == 0
    assert results["drifted_features"] == ["tenure"]
    tenure = results["features"]["tenure"]
    assert tenure["js_distance"] > 0.1 and tenure["ks_p_value"] < 1e-6
    assert tenure["wasserstein_norm"] == pytest.approx(0.5, abs=0.1)  # 1.0 / std 2
    # The same draws otherwise: spend and region are exactly as in the unchanged run.
    for name in ("spend", "region_eu"):
        assert results["features"][name] == unchanged[1]["features"][name]
    # The report shows the drifted feature's histogram, and only that one.
    report = (shifted / "output" / "report.md").read_text()
    assert "| `tenure` | numeric | 2000 |" in report
    assert [p.name for p in (shifted / "output" / "plots").iterdir()] == ["00-tenure.png"]
    assert (shifted / "output" / "plots" / "00-tenure.png").read_bytes()[:4] == b"\x89PNG"
    assert "![tenure: baseline and current shares](plots/00-tenure.png)" in report


def test_a_shifted_category_drifts(tmp_path, monkeypatch, baseline_doc):
    rows = draw(2000, seed=2)[:, 1:]
    rows[:, 2] = (np.random.default_rng(5).random(2000) < 0.6).astype(float)  # 30% -> 60%
    root = make_root(tmp_path, baseline_doc)
    write_captures(root, rows)
    _, results = run(root, monkeypatch)
    assert results["drifted_features"] == ["region_eu"]
    region = results["features"]["region_eu"]
    assert region["categories"] == ["0", "1", "other"]
    assert region["current_shares"][1] == pytest.approx(0.6, abs=0.03)
    assert region["chi2_p_value"] < 1e-6 and region["ks_p_value"] is None


def test_small_samples_do_not_raise_false_alarms(tmp_path, monkeypatch, baseline_doc):
    # 60 unchanged rows: the JS distance is noisy (it can exceed 0.1) but the KS test is not
    # significant, so nothing is flagged.
    root = make_root(tmp_path, baseline_doc)
    write_captures(root, draw(60, seed=3)[:, 1:])
    _, results = run(root, monkeypatch)
    assert results["drifted_features"] == []


def test_every_encoding_is_read_and_other_versions_are_filtered(
    tmp_path, monkeypatch, baseline_doc
):
    rows = draw(9, seed=4)[:, 1:]
    records = [
        capture_record(rows[0:1], scores_of(rows[0:1]), f"v{VERSION}.aa", "CSV"),
        capture_record(rows[1:3], scores_of(rows[1:3]), f"v{VERSION}.bb", "BASE64"),
        capture_record(rows[3:5], scores_of(rows[3:5]), f"v{VERSION}.cc", "JSON"),
        # Another version (v30. must not match v3.), no id at all, and a broken line.
        capture_record(rows[5:6], scores_of(rows[5:6]), "v4.dd", "CSV"),
        capture_record(rows[6:7], scores_of(rows[6:7]), f"v{VERSION}0.ee", "CSV"),
        capture_record(rows[7:8], scores_of(rows[7:8]), None, "CSV"),
    ]
    root = make_root(tmp_path, baseline_doc)
    write_jsonl(root / "capture" / "x" / "one.jsonl", records[:3])
    write_jsonl(root / "capture" / "y" / "z" / "two.jsonl", records[3:])
    with (root / "capture" / "y" / "z" / "two.jsonl").open("a") as f:
        f.write("{not json\n")
    _, results = run(root, monkeypatch)
    assert results["capture"]["records_read"] == 7
    assert results["capture"]["records_kept"] == 3
    assert results["capture"]["records_skipped"] == {
        "other-version": 2,
        "no-inference-id": 1,
        "outside-window": 0,
        "unreadable": 1,
    }
    assert results["rows"] == 5  # 1 + 2 + 2: the batch records' rows are all read
    assert results["features"]["tenure"]["count"] == 5

    # The same records parsed one by one give back the rows that went in.
    for index, chunk in enumerate((rows[0:1], rows[1:3], rows[3:5])):
        parsed = monitor.parse_capture(records[index], 3)
        # repr() of a float round-trips: the values come back exactly.
        assert parsed["rows"] == chunk.tolist()
        assert parsed["scores"] == scores_of(chunk).tolist()

    # With the filter off (a single-model endpoint) every readable record counts.
    _, results = run(root, monkeypatch, "--inference-id-prefix-filter", "off")
    assert results["capture"]["records_kept"] == 6 and results["rows"] == 8


def test_missing_cells_and_unreadable_rows():
    record = capture_record([[1.0, 2.0, 0.0]], [0.5], "v3.x")
    record["captureData"]["endpointInput"]["data"] = "1.0,,0\n2.0,3.0,1\n"
    record["captureData"]["endpointOutput"]["data"] = "0.1,0.2"  # comma-separated scores
    parsed = monitor.parse_capture(record, 3)
    assert np.isnan(parsed["rows"][0][1]) and parsed["scores"] == [0.1, 0.2]
    record["captureData"]["endpointInput"]["data"] = "1.0,2.0\n"
    with pytest.raises(ValueError, match="2 values, expected 3"):
        monitor.parse_capture(record, 3)


def test_ground_truth_joins_on_the_inference_id_with_a_known_auc(
    tmp_path, monkeypatch, baseline_doc
):
    data = draw(400, seed=6)
    root = make_root(tmp_path, baseline_doc)
    ids = write_captures(root, data[:, 1:])
    scores = scores_of(data[:, 1:])
    # Labels for every record except the first ten, written in a later hour's folder, one
    # label per row of a batch record; plus one label of an id that was never captured.
    truth = [
        {
            "groundTruthData": {
                "data": ",".join(str(int(v)) for v in data[a:b, 0]),
                "encoding": "CSV",
            },
            "eventMetadata": {"eventId": inference_id},
            "eventVersion": "0",
        }
        for inference_id, a, b in ids[10:]
    ]
    truth.append(
        {
            "groundTruthData": {"data": "1", "encoding": "CSV"},
            "eventMetadata": {"eventId": "v3.gone"},
            "eventVersion": "0",
        }
    )
    write_jsonl(root / "ground-truth" / "2026" / "01" / "02" / "08" / "labels.jsonl", truth)
    _, results = run(root, monkeypatch, "--quality-metric", "auc")
    joined = slice(ids[10][1], len(data))
    assert results["ground_truth"]["joined_records"] == len(ids) - 10
    assert results["ground_truth"]["joined_rows"] == len(data) - ids[10][1]
    expected_auc = roc_auc(data[joined, 0].astype(int).tolist(), scores[joined].tolist())
    assert results["quality"]["metrics"]["auc"] == pytest.approx(expected_auc)
    assert 0.7 < expected_auc < 1.0  # the stand-in model is informative, not perfect
    accuracy = ((scores[joined] > 0.5) == (data[joined, 0] > 0.5)).mean()
    assert results["quality"]["metrics"]["accuracy"] == pytest.approx(accuracy)
    assert "| **auc** |" in (root / "output" / "report.md").read_text()


def test_regression_quality():
    metrics = monitor.quality("regression", [3, -0.5, 2, 7], [2.5, 0.0, 2, 8], 0.5)
    # Errors -0.5, 0.5, 0, 1 (as in the evaluation step's test): MAE 0.5, RMSE sqrt(0.375).
    assert metrics["mae"] == 0.5
    assert metrics["rmse"] == pytest.approx(0.375**0.5)


def test_bias_metrics_by_hand():
    # Facet d = facet > 0.5: rows 2, 3, 4 (n_d = 3), facet a: rows 0, 1 (n_a = 2).
    # Labels a: [1, 0] -> q_a = 1/2; d: [1, 0, 0] -> q_d = 1/3: DPL = 1/6, CI = (2 - 3) / 5.
    # Predictions a: [.9, .8] -> 1, 1 -> q^_a = 1; d: [.7, .2, .1] -> q^_d = 1/3:
    # DPPL = 2/3, DI = 1/3.
    facet = [0, 0, 1, 1, 1]
    result = monitor.bias(
        facet,
        facet_threshold=0.5,
        label_threshold=0.5,
        labels=[1, 0, 1, 0, 0],
        scores=[0.9, 0.8, 0.7, 0.2, 0.1],
    )
    assert result["n_a"] == 2 and result["n_d"] == 3
    assert result["CI"] == pytest.approx(-0.2)
    assert result["DPL"] == pytest.approx(1 / 6)
    assert result["DPPL"] == pytest.approx(2 / 3)
    assert result["DI"] == pytest.approx(1 / 3)


def test_bias_section_of_a_run(tmp_path, monkeypatch, baseline_doc):
    root = make_root(tmp_path, baseline_doc)
    write_captures(root, draw(300, seed=7)[:, 1:])
    _, results = run(root, monkeypatch, "--facet", "region_eu")
    post = results["bias"]["post_training"]
    assert post["n_a"] + post["n_d"] == 300
    assert results["bias"]["pre_training"] is None  # no ground truth: no label metrics
    # Scores depend on tenure only, which is independent of region: a small DPPL.
    assert abs(post["DPPL"]) < 0.2


def test_shap_means_match_the_model(tmp_path, monkeypatch, baseline_doc):
    xgboost = pytest.importorskip("xgboost")
    train = draw(500, seed=8)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 2},
        xgboost.DMatrix(train[:, 1:], label=train[:, 0]),
        num_boost_round=5,
    )
    booster.save_model(str(tmp_path / "xgboost-model"))
    root = make_root(tmp_path / "job", baseline_doc)
    (root / "model").mkdir()
    with tarfile.open(root / "model" / "model.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "xgboost-model", arcname="xgboost-model")
    current = draw(200, seed=9)[:, 1:]
    write_captures(root, current)
    _, results = run(root, monkeypatch)
    contributions = booster.predict(xgboost.DMatrix(current), pred_contribs=True)
    expected = np.abs(contributions[:, :-1]).mean(axis=0)  # the last column is the bias
    shap = results["explainability"]["mean_abs_shap"]
    assert [shap[f] for f in FEATURES] == pytest.approx(expected.tolist(), rel=1e-5)
    assert shap["tenure"] > shap["spend"]
    assert results["explainability"]["attribution_shift"] is None  # baseline has no SHAP
    # A bounded sample: 50 rows of the 200 give other means.
    _, sampled = run(root, monkeypatch, "--shap-rows", "50")
    assert sampled["explainability"]["rows"] == 50
    assert sampled["explainability"]["mean_abs_shap"]["tenure"] != pytest.approx(shap["tenure"])


def test_the_archive_is_model_tar_gz_or_the_only_tar_gz(tmp_path):
    folder = tmp_path / "model"
    assert monitor.model_archive(folder) is None  # no folder: no SHAP
    folder.mkdir()
    (folder / "v3.tar.gz").write_bytes(b"")  # a multi-model endpoint's archive name
    assert monitor.model_archive(folder) == folder / "v3.tar.gz"
    (folder / "v4.tar.gz").write_bytes(b"")
    assert monitor.model_archive(folder) is None  # which one? neither
    (folder / "model.tar.gz").write_bytes(b"")
    assert monitor.model_archive(folder) == folder / "model.tar.gz"


def test_attribution_shift():
    assert monitor.attribution_shift({"a": 1, "b": 1}, {"a": 2, "b": 2}) == 0
    assert monitor.attribution_shift({"a": 1, "b": 0}, {"a": 0, "b": 1}) == 1
    assert monitor.attribution_shift({"a": 3, "b": 1}, {"a": 1, "b": 1}) == pytest.approx(0.25)


def put_metric_data_shape():
    botocore_session = pytest.importorskip("botocore.session")
    model = botocore_session.get_session().get_service_model("cloudwatch")
    return model.operation_model("PutMetricData").input_shape


def test_metrics_json_is_put_metric_data_input(tmp_path, monkeypatch, baseline_doc):
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    root = make_root(tmp_path, baseline_doc)
    data = draw(300, seed=10)
    ids = write_captures(root, data[:, 1:], batch=1)
    truth = [
        {
            "groundTruthData": {"data": str(int(data[a, 0])), "encoding": "CSV"},
            "eventMetadata": {"eventId": i},
            "eventVersion": "0",
        }
        for i, a, _ in ids
    ]
    write_jsonl(root / "ground-truth" / "l.jsonl", truth)
    _, results = run(root, monkeypatch, "--facet", "region_eu")
    metrics = json.loads((root / "output" / "metrics.json").read_text())
    shape = put_metric_data_shape()
    validate_parameters(metrics, shape)  # raises ParamValidationError on any mismatch
    assert metrics["Namespace"] == "MLOps/ModelMonitoring"
    assert len(metrics["MetricData"]) <= 1000
    for entry in metrics["MetricData"]:
        assert len(entry["Dimensions"]) <= 30
        names = [d["Name"] for d in entry["Dimensions"]]
        assert names[:3] == ["Endpoint", "Model", "ModelVersion"]
        assert entry["Value"] == entry["Value"] and abs(entry["Value"]) < 2**360  # finite
    by_feature = {
        (e["MetricName"], e["Dimensions"][3]["Value"]): e["Value"]
        for e in metrics["MetricData"]
        if len(e["Dimensions"]) == 4 and e["Dimensions"][3]["Name"] == "Feature"
    }
    # Feature names are the dimension values (the alarms use the same names).
    assert by_feature[("FeatureDrift", "tenure")] == results["features"]["tenure"]["js_distance"]
    assert {f for _, f in by_feature} == set(FEATURES)
    # A categorical feature has no KS p-value: that entry is left out, not sent as null.
    assert ("FeatureKsPValue", "region_eu") not in by_feature
    assert ("FeatureChi2PValue", "region_eu") in by_feature
    quality = {
        e["Dimensions"][3]["Value"]
        for e in metrics["MetricData"]
        if e["MetricName"] == "ModelQuality"
    }
    assert {"auc", "accuracy"} <= quality
    # Control: the validator does reject a malformed entry.
    broken = {
        **metrics,
        "MetricData": [{**metrics["MetricData"][0], "Dimensions": [{"name": "x"}]}],
    }
    with pytest.raises(ParamValidationError):
        validate_parameters(broken, shape)


def test_non_finite_values_are_not_published():
    results = {
        "endpoint": "ep", "model_group": "g", "model_version": "1",
        "capture": {"records_kept": 1, "records_skipped": {"unreadable": 0}},
        "rows": 1, "drifted_features": [], "quality": None, "bias": None, "explainability": None,
        "features": {"f": {"js_distance": float("nan"), "drifted": False,
                           "ks_p_value": float("inf"), "chi2_p_value": None,
                           "wasserstein_norm": 0.5, "missing_share": 0.0}},
    }  # fmt: skip
    names = [e["MetricName"] for e in monitor.metric_data(results, "2026-01-01T00:00:00Z")]
    assert "FeatureDrift" not in names and "FeatureKsPValue" not in names
    assert "FeatureWassersteinNorm" in names and "FeatureDrifted" in names


def test_an_hour_without_traffic_is_no_data_not_a_failure(tmp_path, monkeypatch, baseline_doc):
    root = make_root(tmp_path, baseline_doc)
    write_captures(root, draw(20, seed=11)[:, 1:], version="4")  # only another version's
    code, results = run(root, monkeypatch)
    assert code == 0
    assert results["status"] == "no-data"
    assert results["capture"]["records_skipped"]["other-version"] > 0
    metrics = json.loads((root / "output" / "metrics.json").read_text())
    captured = [e for e in metrics["MetricData"] if e["MetricName"] == "RecordsCaptured"]
    assert captured[0]["Value"] == 0  # an hour of no traffic is visible in CloudWatch
    assert "Status **no-data**" in (root / "output" / "report.md").read_text()


def test_unusable_input_fails(tmp_path, monkeypatch, baseline_doc, capsys):
    root = make_root(tmp_path, baseline_doc)
    record = capture_record([[1.0, 2.0, 0.0]], [0.5], f"v{VERSION}.x")
    record["captureData"]["endpointInput"]["encoding"] = "PROTOBUF"
    write_jsonl(root / "capture" / "a.jsonl", [record])
    code, results = run(root, monkeypatch)
    assert code == 1 and results["status"] == "unusable-input"
    assert "encoding 'PROTOBUF'" in capsys.readouterr().err


def test_no_baseline_or_other_features_fail_before_writing(tmp_path, monkeypatch, baseline_doc):
    code, results = run(tmp_path / "empty", monkeypatch)
    assert code == 2 and results == {}
    root = make_root(tmp_path / "job", baseline_doc)
    monkeypatch.setenv("MLOPS_PROCESSING_ROOT", str(root))
    code = monitor.main(
        ["--features", "tenure,spend", "--endpoint", "e", "--model-group", "g",
         "--model-version", "3", "--problem-type", "regression"]
    )  # fmt: skip
    assert code == 2 and not (root / "output").exists()


def test_the_script_runs_as_the_job_runs_it(tmp_path, baseline_doc):
    """As a processing job runs it: ``python3 monitor.py ...`` with the container's
    /opt/ml/processing at MLOPS_PROCESSING_ROOT, on 5,000 captured rows."""
    root = make_root(tmp_path, baseline_doc)
    write_captures(root, draw(5000, seed=12, tenure_shift=1.0)[:, 1:])
    started = time.monotonic()
    run_ = subprocess.run(
        [sys.executable, monitor.__file__, "--features", ",".join(FEATURES), "--endpoint", "ep",
         "--model-group", "customers", "--model-version", VERSION,
         "--problem-type", "binary_classification", "--window-end", "2026-01-01T11:00:00Z"],
        env={**os.environ, "MLOPS_PROCESSING_ROOT": str(root)}, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.monotonic() - started
    assert run_.returncode == 0, run_.stderr
    assert "1 of 3 features drifted" in run_.stderr
    results = json.loads((root / "output" / "results.json").read_text())
    assert results["drifted_features"] == ["tenure"]
    print(f"monitor.py on 5,000 rows: {seconds:.1f} s")


def job_argv(*extra: str, version: str = VERSION) -> list[str]:
    return [
        "--features", ",".join(FEATURES), "--endpoint", "ep", "--model-group", "customers",
        "--model-version", version, "--problem-type", "binary_classification", *extra,
    ]  # fmt: skip


def refuse_reading(monkeypatch) -> None:
    """Make any read of the inputs fail the test: argument errors come first."""

    def read(*_args, **_kwargs):
        raise AssertionError("the job read its inputs before checking its arguments")

    monkeypatch.setattr(monitor, "load_baseline", read)
    monkeypatch.setattr(monitor, "jsonl_records", read)


@pytest.mark.parametrize("version", ["03", "0", "00", "-1", "+3", "v3", "3.0", "", " 3", "3 ", "٣"])
def test_the_model_version_is_a_positive_integer_without_leading_zeros(
    tmp_path, monkeypatch, baseline_doc, capsys, version
):
    # "03" would keep nothing (the client's ids say "v3."), silently: an hour without data.
    root = make_root(tmp_path, baseline_doc)
    write_captures(root, draw(20, seed=13)[:, 1:])
    monkeypatch.setenv("MLOPS_PROCESSING_ROOT", str(root))
    refuse_reading(monkeypatch)
    code = monitor.main(job_argv("--window-end", "2026-01-01T11:00:00Z", version=version))
    assert code == 2
    assert f"--model-version {version!r}" in capsys.readouterr().err
    assert not (root / "output").exists()


def test_a_valid_model_version_is_accepted(tmp_path, monkeypatch, baseline_doc):
    # Control for the test above: the same run with "3" keeps the records.
    root = make_root(tmp_path, baseline_doc)
    write_captures(root, draw(20, seed=13)[:, 1:])
    code, results = run(root, monkeypatch)
    assert code == 0 and results["rows"] == 20


def test_only_records_inside_the_window_count(tmp_path, monkeypatch, baseline_doc):
    rows = draw(12, seed=14)[:, 1:]
    times = {
        "before the start": "2026-01-01T09:59:59Z",
        "at the start": "2026-01-01T10:00:00Z",  # inclusive
        "inside, fractional": "2026-01-01T10:30:00.250Z",
        "last millisecond": "2026-01-01T10:59:59.999Z",
        "at the end": "2026-01-01T11:00:00Z",  # exclusive
        "an offset, 10:15 UTC": "2026-01-01T11:15:00+01:00",
        "an offset, 11:15 UTC": "2026-01-01T12:15:00+01:00",
        "a day later": "2026-01-02T10:30:00Z",
        "without a zone": "2026-01-01T10:30:00",
        "not a time": "yesterday",
        "not a string": 1767261600,
        "missing": None,
    }
    records = [
        capture_record(rows[i : i + 1], scores_of(rows[i : i + 1]), f"v{VERSION}.{i}", "CSV", t)
        for i, t in enumerate(times.values())
    ]
    # Another version's record without a time is another version's, not an unreadable one.
    records.append(capture_record(rows[:1], scores_of(rows[:1]), "v4.x", "CSV", None))
    root = make_root(tmp_path, baseline_doc)
    write_jsonl(
        root / "capture" / "ep" / "AllTraffic" / "2026" / "01" / "01" / "10" / "a.jsonl", records
    )
    code, results = run(root, monkeypatch)
    assert code == 0
    capture = results["capture"]
    assert capture["records_read"] == 13
    assert capture["records_kept"] == 4  # at the start, fractional, last millisecond, 10:15
    assert results["features"]["tenure"]["count"] == 4
    assert results["rows"] == 4
    assert capture["records_skipped"] == {
        "other-version": 1,
        "no-inference-id": 0,
        "outside-window": 4,  # before, at the end, 11:15 UTC, a day later
        "unreadable": 4,  # without a zone, not a time, not a string, missing
    }
    assert (
        sum(n for reason, n in capture["unreadable_reasons"].items() if "inferenceTime" in reason)
        == 4
    )
    assert results["window"] == {
        "start": "2026-01-01T10:00:00Z",
        "end": "2026-01-01T11:00:00Z",
        "hours": 1,
    }
    metrics = json.loads((root / "output" / "metrics.json").read_text())
    assert {e["Timestamp"] for e in metrics["MetricData"]} == {"2026-01-01T11:00:00Z"}
    report = (root / "output" / "report.md").read_text()
    assert "2026-01-01T10:00:00Z" in report and "2026-01-01T11:00:00Z" in report

    # Two hours back from the same end: 09:59:59 counts too.
    _, results = run(root, monkeypatch, "--window-hours", "2")
    assert results["capture"]["records_kept"] == 5
    assert results["window"]["start"] == "2026-01-01T09:00:00Z"
    # A window that holds none of them: the records without a time make it a failure...
    code, results = run(root, monkeypatch, "--window-end", "2025-12-31T00:00:00Z")
    assert code == 1 and results["status"] == "unusable-input"
    assert results["capture"]["records_skipped"]["outside-window"] == 8
    # ...and without them, no data, not a failure.
    write_jsonl(next((root / "capture").rglob("*.jsonl")), records[:8])
    code, results = run(root, monkeypatch, "--window-end", "2025-12-31T00:00:00Z")
    assert code == 0 and results["status"] == "no-data"
    assert results["capture"]["records_skipped"]["outside-window"] == 8


def test_kept_rows_are_exactly_those_in_the_window(tmp_path, monkeypatch, baseline_doc):
    # Rows outside the window differ wildly (tenure 1000): had one been kept, the mean shifts.
    inside = draw(300, seed=15)[:, 1:]
    outside = inside[:50].copy()
    outside[:, 0] = 1000.0
    records = [
        capture_record(inside[i : i + 1], scores_of(inside[i : i + 1]), f"v{VERSION}.i{i}")
        for i in range(len(inside))
    ] + [
        capture_record(
            outside[i : i + 1],
            scores_of(outside[i : i + 1]),
            f"v{VERSION}.o{i}",
            "CSV",
            "2026-01-01T11:00:00Z" if i % 2 else "2026-01-01T09:59:59.999999Z",
        )
        for i in range(len(outside))
    ]
    root = make_root(tmp_path, baseline_doc)
    write_jsonl(root / "capture" / "a.jsonl", records)
    _, results = run(root, monkeypatch)
    assert results["rows"] == 300
    assert results["capture"]["records_skipped"]["outside-window"] == 50
    assert results["drifted_features"] == []


def test_ground_truth_is_not_windowed(tmp_path, monkeypatch, baseline_doc):
    # Labels arrive later: a label written a day after the window joins its record.
    rows = draw(2, seed=16)[:, 1:]
    records = [
        capture_record(rows[:1], [0.9], f"v{VERSION}.in"),
        capture_record(rows[1:], [0.1], f"v{VERSION}.out", "CSV", "2026-01-01T08:00:00Z"),
    ]
    truth = [
        {
            "groundTruthData": {"data": label, "encoding": "CSV"},
            "eventMetadata": {"eventId": event_id},
            "eventVersion": "0",
        }
        for event_id, label in ((f"v{VERSION}.in", "1"), (f"v{VERSION}.out", "0"))
    ]
    root = make_root(tmp_path, baseline_doc)
    write_jsonl(root / "capture" / "a.jsonl", records)
    write_jsonl(root / "ground-truth" / "2026" / "01" / "02" / "10" / "l.jsonl", truth)
    _, results = run(root, monkeypatch)
    assert results["ground_truth"]["records"] == 2  # both read, whatever their hour
    assert results["ground_truth"]["joined_records"] == 1  # the record in the window
    assert results["quality"]["metrics"]["accuracy"] == 1.0


def test_the_default_window_is_the_previous_full_hour(tmp_path, monkeypatch, baseline_doc):
    root = make_root(tmp_path, baseline_doc)
    rows = draw(3, seed=17)[:, 1:]
    write_jsonl(
        root / "capture" / "a.jsonl",
        [
            capture_record(rows[i : i + 1], [0.5], f"v{VERSION}.{i}", "CSV", t)
            for i, t in enumerate(
                ["2026-03-04T04:59:59Z", "2026-03-04T05:00:00Z", "2026-03-04T06:00:00Z"]
            )
        ],
    )
    monkeypatch.setenv("MLOPS_PROCESSING_ROOT", str(root))
    # The job starts at 06:17:42.5 UTC (given in another zone): the window is 05:00 to 06:00.
    clock = datetime(2026, 3, 4, 7, 17, 42, 500000, tzinfo=timezone(timedelta(hours=1)))
    assert monitor.main(job_argv(), now=lambda: clock) == 0
    results = json.loads((root / "output" / "results.json").read_text())
    assert results["window"] == {
        "start": "2026-03-04T05:00:00Z",
        "end": "2026-03-04T06:00:00Z",
        "hours": 1,
    }
    assert results["capture"]["records_kept"] == 1
    metrics = json.loads((root / "output" / "metrics.json").read_text())
    assert {e["Timestamp"] for e in metrics["MetricData"]} == {"2026-03-04T06:00:00Z"}
    # Exactly on the hour, the hour that just ended; three hours back with --window-hours.
    on_the_hour = datetime(2026, 3, 4, 6, tzinfo=UTC)
    assert monitor.main(job_argv("--window-hours", "3"), now=lambda: on_the_hour) == 0
    results = json.loads((root / "output" / "results.json").read_text())
    assert results["window"]["start"] == "2026-03-04T03:00:00Z"
    assert results["capture"]["records_kept"] == 2


def test_the_default_clock_is_now_in_utc():
    before = datetime.now(UTC)
    start, end = monitor.window(monitor.parser().parse_args(job_argv()))
    after = datetime.now(UTC)
    assert end.tzinfo is not None and end.minute == end.second == end.microsecond == 0
    assert before - timedelta(hours=1) < end <= after and end - start == timedelta(hours=1)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--window-end", "2026-01-01T11:00:00"], "--window-end"),  # no zone: ambiguous
        (["--window-end", "11:00"], "--window-end"),
        (["--window-end", "2026-02-30T11:00:00Z"], "--window-end"),
        (["--window-hours", "0"], "--window-hours"),
        (["--window-hours", "-2"], "--window-hours"),
    ],
)
def test_a_bad_window_fails_before_reading(tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.setenv("MLOPS_PROCESSING_ROOT", str(tmp_path))
    refuse_reading(monkeypatch)
    assert monitor.main(job_argv(*extra)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "output").exists()


def test_parse_utc():
    utc = UTC
    assert monitor.parse_utc("2026-01-01T10:00:00Z") == datetime(2026, 1, 1, 10, tzinfo=utc)
    assert monitor.parse_utc("2026-01-01T10:00Z") == datetime(2026, 1, 1, 10, tzinfo=utc)
    assert monitor.parse_utc("2026-01-01T10:00:00.1234567+00:00") == datetime(
        2026, 1, 1, 10, 0, 0, 123456, tzinfo=utc
    )
    assert monitor.parse_utc("2026-01-01T00:30:00-01:30") == datetime(2026, 1, 1, 2, tzinfo=utc)
    for bad in ("2026-01-01T10:00:00", "2026-01-01", "2026-01-01T25:00:00Z", "x", ""):
        with pytest.raises(ValueError):
            monitor.parse_utc(bad)

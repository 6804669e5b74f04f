"""The baseline step: statistics a model version is monitored against, on data with a known
distribution (run as the pipeline runs it, and through its functions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import pytest

np = pytest.importorskip("numpy")

from mlops_constructs.core.sources import sagemaker_script_path  # noqa: E402
from mlops_constructs.training.runtime import baseline  # noqa: E402

FEATURES = ["tenure", "spend", "region_eu"]


def training_rows(n: int = 4000, seed: int = 1):
    """Label first: tenure ~ N(10, 2), spend ~ exp(N(5, 0.5)), region_eu ~ Bernoulli(0.3);
    label 1 when tenure + noise > 10."""
    rng = np.random.default_rng(seed)
    tenure = rng.normal(10, 2, n)
    spend = np.exp(rng.normal(5, 0.5, n))
    region = (rng.random(n) < 0.3).astype(float)
    label = (tenure + rng.normal(0, 1, n) > 10).astype(float)
    return np.column_stack([label, tenure, spend, region])


def write_csv(path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows))


def test_statistics_of_a_known_distribution():
    rows = training_rows()
    doc = baseline.build_baseline(rows, FEATURES, bins=10, sample_size=500, seed=0)
    tenure = doc["feature_statistics"]["tenure"]
    assert tenure["type"] == "numeric"
    assert tenure["count"] == 4000 and tenure["missing"] == 0
    assert tenure["mean"] == pytest.approx(10, abs=0.1)
    assert tenure["std"] == pytest.approx(2, abs=0.1)
    # Deciles: 9 inner edges, 10 bins of a tenth each (ties aside), the middle edge near 10.
    assert len(tenure["bin_edges"]) == 9
    assert tenure["bin_proportions"] == pytest.approx([0.1] * 10, abs=0.002)
    assert tenure["bin_edges"][4] == pytest.approx(10, abs=0.15)
    region = doc["feature_statistics"]["region_eu"]
    assert region["type"] == "categorical"
    assert region["categories"] == ["0", "1"]
    assert region["category_proportions"][1] == pytest.approx(0.3, abs=0.03)
    assert doc["label"]["type"] == "categorical"
    assert doc["schema_version"] == baseline.SCHEMA_VERSION
    # The sample is bounded, drawn from the data, and the same for the same seed.
    assert len(tenure["sample"]) == 500
    assert set(tenure["sample"]) <= set(rows[:, 1].tolist())
    again = baseline.build_baseline(rows, FEATURES, bins=10, sample_size=500, seed=0)
    assert baseline.dumps(again) == baseline.dumps(doc)
    other = baseline.build_baseline(rows, FEATURES, bins=10, sample_size=500, seed=1)
    assert other["feature_statistics"]["tenure"]["sample"] != tenure["sample"]


def test_bins_are_open_ended_and_edges_unique():
    # Values 0..4 with many ties: quantile edges repeat and are kept once; a value below the
    # first edge or above the last still has a bin.
    edges = baseline.bin_edges(np.array([0, 0, 0, 0, 1, 2, 3, 4, 4, 4], dtype=float), 10)
    assert edges == sorted(set(edges))
    assert baseline.bin_counts(np.array([-100.0, 100.0]), edges) == [1] + [0] * (len(edges) - 1) + [
        1
    ]
    # A constant column: one edge, everything in the bin at or above it.
    constant = baseline.summarize(np.full(20, 7.0), bins=10, sample_size=5, seed=0)
    assert constant["bin_edges"] == [7.0]
    assert constant["bin_proportions"] == [0.0, 1.0]


def test_missing_cells_are_counted_not_binned(tmp_path):
    write_csv(tmp_path / "train" / "a.csv", [[1, 2.0, 3.0, 1.0]])
    (tmp_path / "train" / "b.csv").write_text("0,,5.0,0\n\n1,4.0,6.0,1\n")
    rows = baseline.read_rows(tmp_path / "train", 4)
    tenure = baseline.summarize(rows[:, 1], bins=4, sample_size=10, seed=0)
    assert tenure["count"] == 2 and tenure["missing"] == 1
    assert sum(tenure["bin_proportions"]) == pytest.approx(1)


def test_script_writes_the_baseline_with_shap_means(tmp_path):
    xgboost = pytest.importorskip("xgboost")
    rows = training_rows(600)
    write_csv(tmp_path / "train" / "train.csv", rows)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 2},
        xgboost.DMatrix(rows[:, 1:], label=rows[:, 0]),
        num_boost_round=5,
    )
    booster.save_model(str(tmp_path / "xgboost-model"))
    (tmp_path / "model").mkdir()
    with tarfile.open(tmp_path / "model" / "model.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "xgboost-model", arcname="xgboost-model")
    env = {**os.environ, "MLOPS_PROCESSING_ROOT": str(tmp_path)}
    command = [
        sys.executable,
        sagemaker_script_path("baseline.py"),
        "--features",
        ",".join(FEATURES),
    ]
    subprocess.run([*command, "--model-version", "3"], env=env, check=True)
    written = (tmp_path / "baseline" / "baseline.json").read_text()
    doc = json.loads(written)
    assert doc["model_version"] == "3" and doc["rows"] == 600
    # 600 rows <= the default sample of 1,000: the SHAP means are over every row.
    contributions = booster.predict(xgboost.DMatrix(rows[:, 1:]), pred_contribs=True)
    expected = np.abs(contributions[:, :-1]).mean(axis=0)
    assert [doc["shap"]["mean_abs"][f] for f in FEATURES] == pytest.approx(expected.tolist())
    # The label decides on tenure alone: it carries the attribution.
    assert doc["shap"]["mean_abs"]["tenure"] > doc["shap"]["mean_abs"]["region_eu"]
    subprocess.run([*command, "--model-version", "3"], env=env, check=True)
    assert (tmp_path / "baseline" / "baseline.json").read_text() == written  # same bytes


def test_a_row_of_another_width_fails_clearly(tmp_path):
    write_csv(tmp_path / "train" / "train.csv", [[1, 2, 3]])
    env = {**os.environ, "MLOPS_PROCESSING_ROOT": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, sagemaker_script_path("baseline.py"), "--features", ",".join(FEATURES)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "3 values, expected 4" in run.stderr
    assert not (tmp_path / "baseline").exists()

"""Evaluation metrics against numbers worked out by hand (shown in each test)."""

from __future__ import annotations

import math

import pytest

from mlops_constructs.training.runtime.evaluate import (
    _read_test,
    classification_metrics,
    model_quality_report,
    regression_metrics,
    roc_auc,
)


def test_classification_metrics_by_hand():
    # Scores >= 0.5 predict 1: predictions [0, 0, 0, 1] against labels [0, 0, 1, 1]:
    # TP = 1, FP = 0, FN = 1, TN = 2 -> precision 1/1, recall 1/2, F1 2*(1*.5)/(1.5) = 2/3,
    # accuracy 3/4. AUC: positive scores .35 and .8 against negatives .1 and .4; of the
    # four pairs, .35 loses to .4 only -> 3/4.
    metrics = classification_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert metrics["precision"] == 1.0
    assert metrics["recall"] == 0.5
    assert metrics["f1"] == pytest.approx(2 / 3)
    assert metrics["accuracy"] == 0.75
    assert metrics["auc"] == pytest.approx(0.75)


def test_auc_counts_ties_as_half():
    # Pairs (positive, negative): (.5, .5) tie -> 1/2, (.5, .2) win, (.9, .5) win, (.9, .2) win:
    # (0.5 + 3) / 4 = 0.875.
    assert roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.2]) == pytest.approx(0.875)
    assert roc_auc([0, 1], [0.9, 0.1]) == 0.0
    with pytest.raises(ValueError, match="one positive and one negative"):
        roc_auc([1, 1], [0.2, 0.3])


def test_regression_metrics_by_hand():
    # Errors: -0.5, 0.5, 0, 1 -> MAE 2/4 = 0.5; RMSE sqrt((.25 + .25 + 0 + 1) / 4) = sqrt(.375).
    metrics = regression_metrics([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    assert metrics["mae"] == 0.5
    assert metrics["rmse"] == pytest.approx(math.sqrt(0.375))
    with pytest.raises(ValueError, match="one length"):
        regression_metrics([1, 2], [1])


def test_report_shape_is_what_the_registry_reads():
    report = model_quality_report("regression", {"mae": 0.5, "rmse": 0.25})
    assert report == {
        "regression_metrics": {
            "mae": {"value": 0.5, "standard_deviation": "NaN"},
            "rmse": {"value": 0.25, "standard_deviation": "NaN"},
        }
    }
    with pytest.raises(ValueError, match="problem_type"):
        model_quality_report("clustering", {})


def test_reads_the_test_split_label_first(tmp_path):
    (tmp_path / "part-0.csv").write_text("1,0.5,2\n0,0.1,3\n")
    (tmp_path / "part-1.csv").write_text("\n1,0.9,1\n")
    labels, rows = _read_test(tmp_path)
    assert labels == [1.0, 0.0, 1.0]
    assert rows == [[0.5, 2.0], [0.1, 3.0], [0.9, 1.0]]


def test_script_runs_on_the_processing_root(tmp_path):
    """As the pipeline runs it (``python3 evaluate.py --problem-type ...``), with the
    container's /opt/ml/processing at MLOPS_PROCESSING_ROOT."""
    import json
    import os
    import subprocess
    import sys
    import tarfile

    xgboost = pytest.importorskip("xgboost")
    from mlops_constructs.core.sources import sagemaker_script_path

    rows = [[float(i % 2), float(i % 2), float(i)] for i in range(40)]
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 2},
        xgboost.DMatrix([r[1:] for r in rows], label=[r[0] for r in rows]),
        num_boost_round=5,
    )
    (tmp_path / "model").mkdir()
    booster.save_model(str(tmp_path / "xgboost-model"))
    with tarfile.open(tmp_path / "model" / "model.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "xgboost-model", arcname="xgboost-model")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test.csv").write_text("".join(",".join(map(str, r)) + "\n" for r in rows))
    subprocess.run(
        [sys.executable, sagemaker_script_path("evaluate.py"),
         "--problem-type", "binary_classification"],
        env={**os.environ, "MLOPS_PROCESSING_ROOT": str(tmp_path)}, check=True,
    )  # fmt: skip
    report = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    # The label is the first feature: a perfect separation.
    assert report["binary_classification_metrics"]["auc"]["value"] == 1.0

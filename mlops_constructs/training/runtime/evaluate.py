"""Evaluation step of the training pipeline: score the tuned model on the test split.

Runs in a SageMaker processing job with the built-in XGBoost container, which provides
``xgboost``. Inputs: the best model's ``model.tar.gz`` under /opt/ml/processing/model and
the test split (CSV, label first, no header) under /opt/ml/processing/test. Output:
/opt/ml/processing/evaluation/evaluation.json in the SageMaker model-quality format, which
the pipeline's condition step reads and the model registry stores as model metrics.

Every ``/opt/ml/processing`` path is taken relative to the environment variable
``MLOPS_PROCESSING_ROOT`` (``/opt/ml/processing`` by default, the container's layout), so
the offline run rehearsal can run this script on temporary folders.

The metric functions are pure Python so they can be tested anywhere.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

#: Environment variable naming the folder that stands for ``/opt/ml/processing``.
ROOT_ENV = "MLOPS_PROCESSING_ROOT"
DEFAULT_ROOT = "/opt/ml/processing"


def processing_root() -> Path:
    """``$MLOPS_PROCESSING_ROOT``, ``/opt/ml/processing`` by default (the container's)."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def classification_metrics(
    labels: Sequence[float], scores: Sequence[float], threshold: float = 0.5
) -> dict[str, float]:
    """Precision, recall, F1 and accuracy at ``threshold``, and ROC AUC of the scores."""
    _same_length(labels, scores)
    predicted = [1 if s >= threshold else 0 for s in scores]
    actual = [1 if y >= 0.5 else 0 for y in labels]
    tp = sum(1 for p, a in zip(predicted, actual) if p == 1 and a == 1)
    fp = sum(1 for p, a in zip(predicted, actual) if p == 1 and a == 0)
    fn = sum(1 for p, a in zip(predicted, actual) if p == 0 and a == 1)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(1 for p, a in zip(predicted, actual) if p == a) / len(actual)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": accuracy,
        "auc": roc_auc(actual, scores),
    }


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve: the probability that a random positive outscores a random
    negative (ties count half), computed from average ranks (Mann-Whitney U)."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("ROC AUC needs at least one positive and one negative label")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average = (i + j) / 2 + 1  # ranks are 1-based
        for k in range(i, j + 1):
            ranks[order[k]] = average
        i = j + 1
    positive_ranks = sum(r for r, y in zip(ranks, labels) if y == 1)
    return (positive_ranks - positives * (positives + 1) / 2) / (positives * negatives)


def regression_metrics(labels: Sequence[float], predictions: Sequence[float]) -> dict[str, float]:
    """Mean absolute error and root mean squared error."""
    _same_length(labels, predictions)
    errors = [p - y for p, y in zip(predictions, labels)]
    return {
        "mae": sum(abs(e) for e in errors) / len(errors),
        "rmse": math.sqrt(sum(e * e for e in errors) / len(errors)),
    }


def model_quality_report(problem_type: str, metrics: dict[str, float]) -> dict[str, object]:
    """The metrics in SageMaker's model-quality JSON shape (what the registry displays)."""
    section = {
        "binary_classification": "binary_classification_metrics",
        "regression": "regression_metrics",
    }.get(problem_type)
    if section is None:
        raise ValueError(
            f"problem_type {problem_type!r}: expected binary_classification or regression"
        )
    return {
        section: {
            name: {"value": value, "standard_deviation": "NaN"} for name, value in metrics.items()
        }
    }


def _same_length(a: Sequence[float], b: Sequence[float]) -> None:
    if len(a) != len(b) or not a:
        raise ValueError(
            f"expected two non-empty sequences of one length, got {len(a)} and {len(b)}"
        )


def _read_test(path: Path) -> tuple[list[float], list[list[float]]]:
    labels, rows = [], []
    for file in sorted(path.glob("*.csv")):
        for line in file.read_text().splitlines():
            if line.strip():
                values = [float(v) for v in line.split(",")]
                labels.append(values[0])
                rows.append(values[1:])
    return labels, rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problem-type", required=True)
    args = parser.parse_args(argv)
    import xgboost  # provided by the built-in XGBoost container

    root = processing_root()
    # Only the model file is read, straight from the archive: nothing is extracted, and
    # tarfile's extraction filters are not in every Python 3.9 (3.9.17+).
    with tarfile.open(root / "model" / "model.tar.gz") as archive:
        member = archive.extractfile("xgboost-model")
        if member is None:
            raise SystemExit("model.tar.gz holds no xgboost-model file")
        model = bytearray(member.read())
    booster = xgboost.Booster()
    booster.load_model(model)
    labels, rows = _read_test(root / "test")
    predictions = booster.predict(xgboost.DMatrix(rows)).tolist()
    metrics = (
        classification_metrics(labels, predictions)
        if args.problem_type == "binary_classification"
        else regression_metrics(labels, predictions)
    )
    out = root / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(
        json.dumps(model_quality_report(args.problem_type, metrics))
    )


if __name__ == "__main__":
    main()

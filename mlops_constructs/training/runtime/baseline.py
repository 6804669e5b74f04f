"""Baseline step of the training pipeline: the statistics a model version is monitored against.

Runs in a SageMaker processing job on the built-in XGBoost 1.7-1 container (Python 3.9, numpy,
xgboost; nothing else is needed), with network isolation. Inputs:

* ``/opt/ml/processing/train``: the training split the preprocess step writes (CSV files, no
  header, the label first, then the features in ``--features`` order);
* ``/opt/ml/processing/model/model.tar.gz`` (optional): the version's model; when present, the
  baseline also holds its mean absolute SHAP value per feature on the sampled rows.

Output: ``/opt/ml/processing/baseline/baseline.json``, written with sorted keys so the same
input gives the same bytes. It is stored with the model version, and the monitoring job
(``mlops_constructs/monitoring/runtime/monitor.py``) reads it. Per feature it holds:

* ``type``: ``categorical`` when every present value is 0 or 1 (a one-hot column), else
  ``numeric``;
* ``count`` (present values), ``missing`` (empty or non-finite cells), ``mean``, ``std``
  (population), ``min``, ``max``;
* numeric: ``bin_edges``, the unique baseline quantiles at 1/bins .. (bins-1)/bins. The bins
  are open-ended: bin 0 is ``x < edges[0]``, bin i is ``edges[i-1] <= x < edges[i]``, the last
  is ``x >= edges[-1]``, so ``len(edges) + 1`` bins; ``bin_proportions``, the share of the
  baseline's present values in each bin;
* categorical: ``categories`` (the values as strings, sorted) and ``category_proportions``;
* ``sample``: up to ``--sample-size`` present values drawn without replacement with
  ``--seed`` (in row order), for the monitor's Kolmogorov-Smirnov and Wasserstein tests.

The label gets the same summary under ``label``. ``schema_version`` changes when the layout
does. Every ``/opt/ml/processing`` path is taken relative to the environment variable
``MLOPS_PROCESSING_ROOT`` (``/opt/ml/processing`` by default), as in preprocess.py, so the
offline rehearsal can run this script on temporary folders.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Environment variable naming the folder that stands for ``/opt/ml/processing``.
ROOT_ENV = "MLOPS_PROCESSING_ROOT"
DEFAULT_ROOT = "/opt/ml/processing"

#: Version of the baseline.json layout; the monitor refuses a version it does not know.
SCHEMA_VERSION = 1

#: The file the built-in XGBoost algorithm writes into model.tar.gz.
MODEL_FILE = "xgboost-model"


def processing_root() -> Path:
    """``$MLOPS_PROCESSING_ROOT``, ``/opt/ml/processing`` by default (the container's)."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def parse_features(value: str) -> list[str]:
    """The ``--features`` argument (comma-separated) as a list; empty or repeated names fail."""
    features = [f.strip() for f in value.split(",")]
    if not value.strip() or any(not f for f in features):
        raise ValueError(f"--features {value!r}: expected comma-separated column names")
    repeated = sorted({f for f in features if features.count(f) > 1})
    if repeated:
        raise ValueError(f"--features {value!r} repeats {repeated}")
    return features


def read_rows(folder: Path, width: int) -> Any:
    """Every ``*.csv`` under ``folder`` (sorted by path) as a float matrix of ``width`` columns.

    An empty cell becomes NaN (counted as missing); a line of another width fails, because it
    means the features argument does not match the data.
    """
    import numpy as np

    rows = []
    for file in sorted(folder.rglob("*.csv")):
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            cells = line.split(",")
            if len(cells) != width:
                raise ValueError(
                    f"{file.name} line {number}: {len(cells)} values, expected {width} "
                    "(the label and --features)"
                )
            rows.append([float(c) if c.strip() else math.nan for c in cells])
    return np.array(rows, dtype=float).reshape(len(rows), width)


def bin_edges(values: Any, bins: int) -> list[float]:
    """The unique quantiles of ``values`` at 1/bins .. (bins-1)/bins (the inner bin edges)."""
    import numpy as np

    if len(values) == 0:
        return []
    quantiles = np.quantile(values, [i / bins for i in range(1, bins)])
    return sorted({float(q) for q in quantiles})


def bin_counts(values: Any, edges: Sequence[float]) -> list[int]:
    """How many ``values`` fall in each open-ended bin of ``edges`` (``len(edges) + 1`` bins)."""
    import numpy as np

    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return [int(c) for c in np.bincount(index, minlength=len(edges) + 1)]


def is_categorical(values: Any) -> bool:
    """One-hot (0/1) columns are categorical; a column with no present value is numeric."""
    import numpy as np

    return len(values) > 0 and bool(np.isin(values, [0.0, 1.0]).all())


def summarize(column: Any, *, bins: int, sample_size: int, seed: int) -> dict[str, Any]:
    """The statistics of one column (NaN = missing) described in the module docstring."""
    import numpy as np

    present = column[np.isfinite(column)]
    summary: dict[str, Any] = {
        "count": len(present),
        "missing": len(column) - len(present),
        "mean": float(present.mean()) if len(present) else None,
        "std": float(present.std()) if len(present) else None,
        "min": float(present.min()) if len(present) else None,
        "max": float(present.max()) if len(present) else None,
    }
    if is_categorical(present):
        values, counts = np.unique(present, return_counts=True)
        summary["type"] = "categorical"
        summary["categories"] = [_category(v) for v in values]
        summary["category_proportions"] = [float(c) / len(present) for c in counts]
    else:
        edges = bin_edges(present, bins)
        in_bins = bin_counts(present, edges)
        summary["type"] = "numeric"
        summary["bin_edges"] = edges
        summary["bin_proportions"] = [c / len(present) if len(present) else 0.0 for c in in_bins]
    if len(present) > sample_size:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(len(present), size=sample_size, replace=False))
        summary["sample"] = [float(v) for v in present[chosen]]
    else:
        summary["sample"] = [float(v) for v in present]
    return summary


def _category(value: float) -> str:
    """A category value as the monitor prints it: ``0``/``1`` for one-hot columns."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def load_booster(archive: Path) -> Any:
    """The XGBoost booster in ``model.tar.gz``, read from the archive without extracting it
    (nothing is written to disk, so a crafted member path cannot escape the folder)."""
    import xgboost  # provided by the built-in XGBoost container

    with tarfile.open(archive) as tar:
        member = next((m for m in tar.getmembers() if Path(m.name).name == MODEL_FILE), None)
        if member is None or not member.isfile():
            raise ValueError(f"{archive.name} holds no {MODEL_FILE}")
        data = tar.extractfile(member).read()  # type: ignore[union-attr]
    booster = xgboost.Booster()
    booster.load_model(bytearray(data))
    return booster


def mean_abs_shap(booster: Any, rows: Any, features: Sequence[str]) -> dict[str, float]:
    """Mean |SHAP| per feature: exact TreeSHAP from ``pred_contribs`` (the last column, the
    bias term, is not a feature and is dropped). NaN cells are XGBoost's missing values."""
    import numpy as np
    import xgboost

    contributions = booster.predict(xgboost.DMatrix(rows), pred_contribs=True)
    means = np.abs(contributions[:, :-1]).mean(axis=0)
    return {name: float(means[i]) for i, name in enumerate(features)}


def build_baseline(
    rows: Any,
    features: Sequence[str],
    *,
    bins: int = 10,
    sample_size: int = 1000,
    seed: int = 0,
    booster: Any = None,
    model_version: str = "",
) -> dict[str, Any]:
    """The baseline document of ``rows`` (label first, then ``features``)."""
    import numpy as np

    if bins < 2:
        raise ValueError("--bins must be at least 2")
    if rows.shape[1] != len(features) + 1:
        raise ValueError(f"rows have {rows.shape[1]} columns, expected {len(features) + 1}")
    if len(rows) == 0:
        raise ValueError("no training rows: cannot build a baseline")
    statistics = {
        name: summarize(rows[:, i + 1], bins=bins, sample_size=sample_size, seed=seed + i)
        for i, name in enumerate(features)
    }
    baseline: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "features": list(features),
        "feature_statistics": statistics,
        "label": summarize(
            rows[:, 0], bins=bins, sample_size=sample_size, seed=seed + len(features)
        ),
        "rows": len(rows),
        "bins": bins,
        "sample_size": sample_size,
        "seed": seed,
        "model_version": model_version,
    }
    if booster is not None:
        # The same bounded, seeded rows for every feature, so the cost does not grow with data.
        rng = np.random.default_rng(seed)
        chosen = rows
        if len(rows) > sample_size:
            chosen = rows[np.sort(rng.choice(len(rows), size=sample_size, replace=False))]
        baseline["shap"] = {
            "mean_abs": mean_abs_shap(booster, chosen[:, 1:], features),
            "rows": len(chosen),
        }
    return baseline


def dumps(document: Any) -> str:
    """JSON with sorted keys and no NaN (which JSON does not have)."""
    return json.dumps(document, sort_keys=True, indent=1, allow_nan=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--features", required=True, help="comma-separated, in CSV order")
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--sample-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-version", default="", help="recorded in the baseline")
    args = parser.parse_args(argv)

    root = processing_root()
    try:
        features = parse_features(args.features)
        if not (root / "train").is_dir():
            raise ValueError(f"no training split at {root / 'train'}")
        rows = read_rows(root / "train", len(features) + 1)
        archive = root / "model" / "model.tar.gz"
        booster = load_booster(archive) if archive.is_file() else None
        baseline = build_baseline(
            rows,
            features,
            bins=args.bins,
            sample_size=args.sample_size,
            seed=args.seed,
            booster=booster,
            model_version=args.model_version,
        )
    except ValueError as error:
        print(f"baseline: {error}", file=sys.stderr)
        return 2
    out = root / "baseline"
    out.mkdir(parents=True, exist_ok=True)
    (out / "baseline.json").write_text(dumps(baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())

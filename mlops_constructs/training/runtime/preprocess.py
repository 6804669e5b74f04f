"""Feature preparation step of the training pipeline: curated features -> train/validation/test.

Runs in a SageMaker processing job with the scikit-learn container (pandas and pyarrow
available). Reads the curated dataset (Parquet written by the Glue feature job) under
/opt/ml/processing/input/features, keeps the label and exactly the ``--features`` columns, in that
order (any other column, even a numeric one such as the label's source, never becomes a
feature), and writes CSV files without a header, label first (what the built-in XGBoost
algorithm reads), to /opt/ml/processing/{train,validation,test}.

Every ``/opt/ml/processing`` path is taken relative to the environment variable
``MLOPS_PROCESSING_ROOT`` (``/opt/ml/processing`` by default, the container's layout), so
the offline run rehearsal can run this script on temporary folders.

Rows are assigned to a split by a hash of their key column, so a row always lands in the same
split, whatever the order of the input files or the run (no leakage between retrainings).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

SPLITS = ("train", "validation", "test")

#: Environment variable naming the folder that stands for ``/opt/ml/processing``.
ROOT_ENV = "MLOPS_PROCESSING_ROOT"
DEFAULT_ROOT = "/opt/ml/processing"


def processing_root() -> Path:
    """``$MLOPS_PROCESSING_ROOT``, ``/opt/ml/processing`` by default (the container's)."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def split_of(key: str, validation_fraction: float, test_fraction: float) -> str:
    """The split of the row with ``key``: a fixed point in [0, 1) from its SHA-256."""
    if not 0 <= validation_fraction < 1 or not 0 <= test_fraction < 1:
        raise ValueError("fractions must be in [0, 1)")
    if validation_fraction + test_fraction >= 1:
        raise ValueError("validation and test fractions must leave rows for training")
    point = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2**64
    if point < test_fraction:
        return "test"
    if point < test_fraction + validation_fraction:
        return "validation"
    return "train"


def to_rows(
    records: Iterable[Mapping[str, object]], label: str, features: Sequence[str]
) -> list[list[float]]:
    """Label first, then the features, as floats; a row missing any value (or NaN) is dropped."""
    rows = []
    for record in records:
        values = [record.get(label), *(record.get(f) for f in features)]
        if any(v is None or v == "" for v in values):
            continue
        try:
            row = [float(v) for v in values]  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if all(math.isfinite(v) for v in row):  # pandas reads a missing number as NaN
            rows.append(row)
    return rows


def parse_features(value: str) -> list[str]:
    """The ``--features`` argument (comma-separated) as a list; empty or repeated names fail."""
    features = [f.strip() for f in value.split(",")]
    if not value.strip() or any(not f for f in features):
        raise ValueError(f"--features {value!r}: expected comma-separated column names")
    repeated = sorted({f for f in features if features.count(f) > 1})
    if repeated:
        raise ValueError(f"--features repeats {repeated}")
    return features


def prepare(
    records: Iterable[Mapping[str, object]],
    *,
    columns: Sequence[str],
    label: str,
    key: str,
    features: Sequence[str],
    validation_fraction: float,
    test_fraction: float,
) -> dict[str, list[list[float]]]:
    """The rows of each split: the label, then exactly ``features`` in their order.

    ``columns`` are the input's columns: a configured column missing from them fails here
    (a renamed column must not silently shrink the feature vector), and a column not in
    ``features`` is never used, however numeric it is.
    """
    missing = [c for c in (label, key, *features) if c not in columns]
    if missing:
        raise ValueError(f"input has no column(s) {missing}; it has {list(columns)}")
    if label in features or key in features:
        raise ValueError("--features must not contain the label or the key column")
    splits: dict[str, list[Mapping[str, object]]] = {name: [] for name in SPLITS}
    for record in records:
        splits[split_of(str(record[key]), validation_fraction, test_fraction)].append(record)
    return {name: to_rows(rows, label, features) for name, rows in splits.items()}


def to_csv(rows: Iterable[Sequence[float]]) -> str:
    """CSV without a header, one row a line (``repr`` of floats round-trips exactly)."""
    return "".join(",".join(map(repr, row)) + "\n" for row in rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--features", required=True, help="comma-separated, in CSV order")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    args = parser.parse_args(argv)
    import pandas as pd  # provided by the scikit-learn processing container

    root = processing_root()
    frame = pd.read_parquet(root / "input" / "features")
    splits = prepare(
        frame.to_dict("records"),
        columns=list(frame.columns),
        label=args.label,
        key=args.key,
        features=parse_features(args.features),
        validation_fraction=args.validation_fraction,
        test_fraction=args.test_fraction,
    )
    for name, rows in splits.items():
        out = root / name
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.csv").write_text(to_csv(rows))


if __name__ == "__main__":
    main()

"""Feature preparation step of the training pipeline: curated features -> train/validation/test.

Runs in a SageMaker processing job with the scikit-learn container (pandas and pyarrow
available). Reads the curated dataset (Parquet written by the Glue feature job) under
/opt/ml/processing/input, keeps the label and the configured feature columns, and writes CSV
files without a header, label first (what the built-in XGBoost algorithm reads), to
/opt/ml/processing/{train,validation,test}.

Rows are assigned to a split by a hash of their key column, so a row always lands in the same
split, whatever the order of the input files or the run (no leakage between retrainings).
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

SPLITS = ("train", "validation", "test")


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
    """Label first, then the features, as floats; a row missing any value is dropped."""
    rows = []
    for record in records:
        values = [record.get(label), *(record.get(f) for f in features)]
        if any(v is None or v == "" for v in values):
            continue
        try:
            rows.append([float(v) for v in values])  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return rows


def main() -> None:  # pragma: no cover - runs inside the SageMaker container
    import pandas as pd

    parser = argparse.ArgumentParser()
    parser.add_argument("--label", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--features", required=True, help="comma-separated, in CSV order")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    args = parser.parse_args()
    frame = pd.read_parquet("/opt/ml/processing/input")
    features = [c for c in frame.select_dtypes("number").columns if c not in (args.label, args.key)]
    split = (
        frame[args.key]
        .astype(str)
        .map(lambda k: split_of(k, args.validation_fraction, args.test_fraction))
    )
    for name in SPLITS:
        rows = to_rows(frame[split == name].to_dict("records"), args.label, features)
        out = Path(f"/opt/ml/processing/{name}")
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.csv").write_text("".join(",".join(map(str, r)) + "\n" for r in rows))


if __name__ == "__main__":
    main()

"""Feature preparation: deterministic splits and XGBoost rows."""

from __future__ import annotations

import pytest

from mlops_constructs.training.runtime.preprocess import split_of, to_rows


def test_split_is_stable_and_near_the_fractions():
    keys = [f"customer-{i}" for i in range(20_000)]
    first = [split_of(k, 0.15, 0.15) for k in keys]
    assert first == [split_of(k, 0.15, 0.15) for k in keys]  # same key, same split
    counts = {s: first.count(s) for s in ("train", "validation", "test")}
    # 20,000 draws: each share within 1.5 points of its fraction (about 5 standard deviations).
    assert abs(counts["test"] / 20_000 - 0.15) < 0.015
    assert abs(counts["validation"] / 20_000 - 0.15) < 0.015
    assert abs(counts["train"] / 20_000 - 0.70) < 0.015


def test_known_assignment():
    # sha256("customer-1")[:8] / 2**64 ~= 0.9072 (worked out separately): above 0.1 -> train;
    # below 0.91 + 0.05 but above 0.85 -> validation; below 0.91 -> test.
    assert split_of("customer-1", 0.05, 0.05) == "train"
    assert split_of("customer-1", 0.1, 0.85) == "validation"
    assert split_of("customer-1", 0.05, 0.91) == "test"


def test_fractions_are_checked():
    with pytest.raises(ValueError, match="leave rows for training"):
        split_of("k", 0.5, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        split_of("k", -0.1, 0.1)


def test_rows_put_the_label_first_and_drop_incomplete_ones():
    records = [
        {"label": 1, "a": 0.5, "b": "2"},
        {"label": 0, "a": None, "b": 3},
        {"label": 1, "a": "x", "b": 1},
        {"label": 0, "a": 1.5, "b": 4, "ignored": "z"},
    ]
    assert to_rows(records, "label", ["a", "b"]) == [[1.0, 0.5, 2.0], [0.0, 1.5, 4.0]]


CURATED = [
    # annual_spend is the label's source (high_value = annual_spend > 1000): numeric, and
    # exactly the column that must never become a feature.
    {"customer_id": f"c-{i}", "high_value": float(i % 2), "annual_spend": 500.0 + 1000 * (i % 2),
     "tenure": float(i), "region_eu": 1.0, "region_us": 0.0}
    for i in range(40)
]  # fmt: skip
COLUMNS = list(CURATED[0])


def test_prepare_uses_exactly_the_features_in_order():
    from mlops_constructs.training.runtime.preprocess import prepare

    splits = prepare(
        CURATED, columns=COLUMNS, label="high_value", key="customer_id",
        features=["region_us", "tenure", "region_eu"], validation_fraction=0.2,
        test_fraction=0.2,
    )  # fmt: skip
    rows = [row for name in ("train", "validation", "test") for row in splits[name]]
    assert len(rows) == len(CURATED)
    by_tenure = {row[2]: row for row in rows}
    for record in CURATED:
        # Label first, then region_us, tenure, region_eu: 4 columns, no annual_spend.
        assert by_tenure[record["tenure"]] == [record["high_value"], 0.0, record["tenure"], 1.0]


def test_prepare_rejects_a_feature_the_input_lacks():
    from mlops_constructs.training.runtime.preprocess import prepare

    with pytest.raises(ValueError, match=r"no column\(s\) \['tenure_days'\]"):
        prepare(
            CURATED, columns=COLUMNS, label="high_value", key="customer_id",
            features=["tenure_days"], validation_fraction=0.2, test_fraction=0.2,
        )  # fmt: skip
    with pytest.raises(ValueError, match="must not contain the label"):
        prepare(
            CURATED, columns=COLUMNS, label="high_value", key="customer_id",
            features=["tenure", "high_value"], validation_fraction=0.2, test_fraction=0.2,
        )  # fmt: skip


def test_script_writes_label_first_csv_of_the_features_only(tmp_path):
    """The script as the pipeline runs it, on a Parquet input with the label's source in it;
    the container's /opt/ml/processing is MLOPS_PROCESSING_ROOT."""
    import os
    import subprocess
    import sys

    import pandas as pd

    from mlops_constructs.core.sources import sagemaker_script_path

    (tmp_path / "input" / "features").mkdir(parents=True)
    pd.DataFrame(CURATED).to_parquet(tmp_path / "input" / "features" / "part-0.parquet")
    # The SDK's code input sits beside the features (input/code); it is not data.
    (tmp_path / "input" / "code").mkdir()
    (tmp_path / "input" / "code" / "preprocess.py").write_text("print('not data')\n")
    subprocess.run(
        [sys.executable, sagemaker_script_path("preprocess.py"),
         "--label", "high_value", "--key", "customer_id", "--features", "tenure,region_eu"],
        env={**os.environ, "MLOPS_PROCESSING_ROOT": str(tmp_path)}, check=True,
    )  # fmt: skip
    lines = []
    for split in ("train", "validation", "test"):
        lines += (tmp_path / split / f"{split}.csv").read_text().splitlines()
    assert len(lines) == len(CURATED)
    assert {len(line.split(",")) for line in lines} == {3}  # label + 2 features
    assert all(float(line.split(",")[0]) in (0.0, 1.0) for line in lines)
    assert not any("1500" in line or "500.0" in line for line in lines)  # no annual_spend


def test_rows_drop_nan():
    assert to_rows([{"y": 1, "a": float("nan")}, {"y": 0, "a": 2}], "y", ["a"]) == [[0.0, 2.0]]

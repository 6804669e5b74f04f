"""Feature preparation: deterministic splits and XGBoost rows."""

from __future__ import annotations

import pytest

from sagemaker_src.preprocess import split_of, to_rows


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

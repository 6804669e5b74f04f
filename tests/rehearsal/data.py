"""A small curated dataset with a known signal, shaped as the Glue feature ETL writes it.

The ETL (``glue/runtime/feature_etl.py``) writes Parquet partitioned by ``partition_by``: the raw
columns, minus the one-hot source (replaced by ``<column>_<category>`` 0/1 columns) and the
split source if any (replaced by its ``into`` columns), plus ``<column>_log`` = ln(1 + column),
minus ``drop_columns``. This module writes that layout for the configured dataset, with
values drawn from a fixed seed:

* each row belongs to one category of the one-hot column, and the label
  ``<log column>_log`` is the category's mean plus Gaussian noise of :data:`NOISE_SD`;
* the log transform's source column (``annual_spend``) is ``expm1`` of the label, exactly as
  the ETL derives the label from it: used as a feature, it leaks the label.

So the best any model can do on the test split is the noise itself (RMSE about
:data:`NOISE_SD`), and a model that learned nothing scores about the spread of the category
means. A test RMSE clearly below the noise is impossible without a leak; clearly above it,
the features did not reach the model in the right order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_constructs.glue.runtime.feature_etl import log_column, one_hot_column

SEED = 20261202
ROWS = 1200
#: Standard deviation of the label's noise around its category mean (log1p of spend).
NOISE_SD = 0.25
#: Mean label per category of the one-hot column, far apart compared to the noise.
CATEGORY_MEANS = (6.0, 8.0, 7.0, 6.5, 7.5)
#: A test RMSE outside [LOW, HIGH] x NOISE_SD is impossible for an honest model on this data
#: (the test split has about 180 rows: the noise's sample RMS stays within a few percent).
RMSE_LOW, RMSE_HIGH = 0.8, 1.3
COUNTRIES = ("IE", "DE", "FR")


@dataclass(frozen=True)
class Dataset:
    """What was written, and what the signal makes possible."""

    folder: Path
    label: str
    leak_column: str
    features: tuple[str, ...]
    category_means: Mapping[str, float]
    rows: int

    @property
    def rmse_bounds(self) -> tuple[float, float]:
        return RMSE_LOW * NOISE_SD, RMSE_HIGH * NOISE_SD

    def rmse_problems(self, report: Mapping[str, Any]) -> list[str]:
        """Problems of an evaluation report (SageMaker model-quality JSON) on this data."""
        rmse = float(report["regression_metrics"]["rmse"]["value"])
        low, high = self.rmse_bounds
        if rmse < low:
            return [
                f"impossible metric: test RMSE {rmse:.4f} is below the dataset's noise floor "
                f"({NOISE_SD} x {RMSE_LOW} = {low:.3f}): a feature leaks the label "
                f"(such as {self.leak_column!r})"
            ]
        if rmse > high:
            return [
                f"impossible metric: test RMSE {rmse:.4f} is above {high:.3f} although the "
                f"features {list(self.features)} determine the label up to noise {NOISE_SD}: "
                "the model did not get the features in the right order"
            ]
        return []

    def expected_score(self, row: Sequence[float]) -> float | None:
        """The label mean of a one-hot row in training feature order (None if not one-hot)."""
        if sorted(row) != [0.0] * (len(row) - 1) + [1.0]:
            return None
        return self.category_means[self.features[list(row).index(1.0)]]


def write_curated(folder: Path, dataset: Mapping[str, Any], training: Mapping[str, Any]) -> Dataset:
    """Write the curated Parquet of ``dataset`` (its config, as dicts) for ``training``."""
    import pandas as pd

    if training["problem_type"] != "regression":
        raise ValueError("the rehearsal dataset models a regression label")
    features = dataset["features"]
    one_hot, log_source = features["one_hot"], features["log_transform"]["column"]
    label = log_column(log_source)
    if training["label_column"] != label:
        raise ValueError(
            f"the dataset's signal is in {label}, training uses {training['label_column']}"
        )
    categories = list(one_hot["categories"])
    if len(categories) > len(CATEGORY_MEANS):
        raise ValueError(f"at most {len(CATEGORY_MEANS)} categories are modelled")
    one_hot_columns = [one_hot_column(one_hot["column"], c) for c in categories]
    means = dict(zip(one_hot_columns, CATEGORY_MEANS, strict=False))
    missing = [f for f in training["feature_columns"] if f not in one_hot_columns]
    if missing:
        raise ValueError(f"features {missing} are not modelled by the rehearsal dataset")
    split, partitions = features.get("split"), list(features["partition_by"])
    # The one-hot and split sources are replaced by their outputs; drop_columns go last.
    dropped = {one_hot["column"], *([split["column"]] if split else [])}
    removed = set(features.get("drop_columns") or [])
    generator = random.Random(SEED)
    records = []
    for i in range(ROWS):
        category = generator.randrange(len(categories))
        value = CATEGORY_MEANS[category] + generator.gauss(0.0, NOISE_SD)
        record: dict[str, Any] = {}
        for column in dataset["columns"]:
            name, kind = column["name"], column["type"]
            if name in dropped:
                continue
            if name == log_source:
                record[name] = math.expm1(value)
            elif name in partitions:
                record[name] = COUNTRIES[i % len(COUNTRIES)]
            elif kind in ("double", "float"):
                record[name] = generator.random()
            elif kind in ("int", "bigint"):
                record[name] = generator.randrange(100)
            else:
                record[name] = f"{name}-{i:05d}"
        for part in split["into"] if split else []:
            record[part] = f"{part}-{i:05d}"
        for index, column in enumerate(one_hot_columns):
            record[column] = int(index == category)
        record[label] = value
        records.append({k: v for k, v in record.items() if k not in removed})
    frame = pd.DataFrame.from_records(records)
    folder.mkdir(parents=True, exist_ok=True)
    # Hive-style partitions, as the ETL's partitionBy writes them.
    frame.to_parquet(folder, partition_cols=partitions, index=False)
    return Dataset(
        folder=folder,
        label=label,
        leak_column=log_source,
        features=tuple(training["feature_columns"]),
        category_means={f: means[f] for f in training["feature_columns"]},
        rows=ROWS,
    )


def model_configs(
    platform_config: Any, env: str, model: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dataset and training settings (dicts) of ``model`` (the first by default) of
    environment ``env`` in the validated platform configuration."""
    environment = next(e for e in platform_config.environments if e.name == env)
    training = next(t for t in environment.training if model in (None, t.model_name))
    dataset = next(d for d in environment.data.datasets if d.name == training.dataset)
    return dataset.model_dump(), training.model_dump()

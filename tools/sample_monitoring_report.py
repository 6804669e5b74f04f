"""Regenerate the sample monitoring report in docs/monitoring/ (run from the repository root).

    python tools/sample_monitoring_report.py            # docs/monitoring/sample/ and the PNG
    python tools/sample_monitoring_report.py --out DIR  # somewhere else

It runs the scripts the platform deploys, offline, on small synthetic data shaped like the
shipped ``spend`` model (config/base.yaml ``training``: a regression of ``annual_spend_log``
on the one-hot columns of ``segment``):

1. a tiny XGBoost model trained on the "training split" (seeded), packed as ``model.tar.gz``
   with the ``xgboost-model`` file the built-in algorithm writes;
2. ``mlops_constructs/training/runtime/baseline.py``: the version's ``baseline.json``;
3. capture files in the documented data-capture layout and format (page "Capture data",
   ``model-monitor-data-capture``) for one hour, in which the segment mix has moved (more
   home-office, fewer consumer customers), scored by the model, with ``InferenceId``
   ``v<version>.<hex>`` as ``examples/invoke_model.py`` sends it; also records of another
   version, records without an id and records of the previous hour, which the job skips;
   ground truth for most requests, in the format ``examples/invoke_model.py`` writes;
4. ``mlops_constructs/monitoring/runtime/monitor.py`` with the engine's default arguments:
   ``report.md``, ``results.json``, ``metrics.json`` and ``plots/*.png``;
5. ``sample-report.png``: one picture of what a reader sees (the drift plots of the drifted
   features and the headline numbers).

Everything is seeded, so a run gives the same report.md, results.json and metrics.json (up
to the last bits of floating point across library versions); tests/monitoring/
test_sample_report.py compares the committed files with a fresh run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from mlops_constructs.monitoring.runtime import monitor  # noqa: E402
from mlops_constructs.training.runtime import baseline as baseline_step  # noqa: E402

DOCS = REPO / "docs" / "monitoring"

#: The shipped ``spend`` model's features (config/base.yaml: the curated one-hot columns of
#: ``segment``), its problem type and the registry group name the dev environment gives it.
FEATURES = ("segment_consumer", "segment_corporate", "segment_home_office")
PROBLEM_TYPE = "regression"
MODEL_GROUP = "mlops-platform-dev-spend"
MODEL_VERSION = "3"
#: An example endpoint name (CloudFormation generates the real one).
ENDPOINT = "dev-Serving-Endpoint-1A2B3C4D"
VARIANT = "AllTraffic"
#: The hour the job analyses: [09:00, 10:00) UTC on this day.
WINDOW_END = "2026-12-01T10:00:00Z"

SEED = 20261201
TRAINING_ROWS = 1500
CAPTURED_ROWS = 600
#: Segment shares (consumer, corporate, home office) in training and in the captured hour.
TRAINING_MIX = (0.5, 0.3, 0.2)
CAPTURED_MIX = (0.3, 0.3, 0.4)
#: annual_spend_log by segment, and the noise around it (as the rehearsal's dataset).
SEGMENT_MEANS = (6.0, 8.0, 7.0)
NOISE_SD = 0.25


def draw(rng: Any, n: int, mix: Sequence[float]) -> Any:
    """``n`` rows: the label (annual_spend_log), then the one-hot segment columns."""
    import numpy as np

    segment = rng.choice(len(mix), size=n, p=list(mix))
    label = np.asarray(SEGMENT_MEANS)[segment] + rng.normal(0.0, NOISE_SD, n)
    return np.column_stack([label, np.eye(len(FEATURES))[segment]])


def train(rows: Any) -> Any:
    """A small, deterministic XGBoost regression of the label on the features."""
    import xgboost

    params = {
        "objective": "reg:squarederror",
        "max_depth": 3,
        "eta": 0.3,
        "tree_method": "exact",
        "nthread": 1,
        "seed": 0,
    }
    return xgboost.train(params, xgboost.DMatrix(rows[:, 1:], label=rows[:, 0]), 20)


def model_archive(booster: Any, path: Path) -> None:
    """``model.tar.gz`` holding ``xgboost-model``, as the built-in algorithm writes it."""
    data = bytes(booster.save_raw())
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        member = tarfile.TarInfo(baseline_step.MODEL_FILE)
        member.size, member.mtime = len(data), 0
        tar.addfile(member, io.BytesIO(data))


def capture_record(
    row: Any, score: float, event_id: str, inference_id: str | None, time: str
) -> dict[str, Any]:
    """One captured request and response, as the "Capture data" page shows them (CSV)."""
    metadata: dict[str, Any] = {"eventId": event_id, "inferenceTime": time}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": ",".join(f"{v:g}" for v in row) + "\n",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv; charset=utf-8",
                "mode": "OUTPUT",
                "data": f"{score:.6f}",
                "encoding": "CSV",
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }


def write_inputs(root: Path) -> None:
    """The processing inputs of both jobs under ``root`` (``$MLOPS_PROCESSING_ROOT``)."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    training = draw(rng, TRAINING_ROWS, TRAINING_MIX)
    (root / "train").mkdir(parents=True)
    (root / "train" / "train.csv").write_text(
        "".join(",".join(repr(float(v)) for v in row) + "\n" for row in training)
    )
    booster = train(training)
    model_archive(booster, root / "model" / "model.tar.gz")

    import xgboost

    hour = draw(rng, CAPTURED_ROWS, CAPTURED_MIX)
    scores = booster.predict(xgboost.DMatrix(hour[:, 1:]))
    # 32 hex digits, as uuid4().hex in examples/invoke_model.py, but seeded.
    hex_ids = iter(rng.bytes(16).hex() for _ in range(4 * CAPTURED_ROWS))
    records, truth = [], []
    for i, (row, score) in enumerate(zip(hour, scores, strict=True)):
        inference_id = f"v{MODEL_VERSION}.{next(hex_ids)}"
        time = f"2026-12-01T09:{i * 60 // CAPTURED_ROWS:02d}:{i % 60:02d}Z"
        records.append(capture_record(row[1:], float(score), next(hex_ids), inference_id, time))
        if i % 5:  # labels for four requests in five
            truth.append(
                {
                    "groundTruthData": {"data": f"{row[0]:.6f}", "encoding": "CSV"},
                    "eventMetadata": {"eventId": inference_id},
                    "eventVersion": "0",
                }
            )
    # What the job skips: another version, a caller that sent no id, the hour before.
    others = draw(rng, 30, TRAINING_MIX)
    for i, row in enumerate(others):
        other_id = f"v2.{next(hex_ids)}" if i < 20 else None
        records.append(
            capture_record(row[1:], 7.0, next(hex_ids), other_id, f"2026-12-01T09:30:{i:02d}Z")
        )
    earlier = [
        capture_record(row[1:], 7.0, next(hex_ids), f"v{MODEL_VERSION}.{next(hex_ids)}", t)
        for row, t in zip(draw(rng, 10, TRAINING_MIX), ["2026-12-01T08:59:59Z"] * 10, strict=True)
    ]
    capture = root / "capture" / ENDPOINT / VARIANT / "2026" / "12" / "01"
    jsonl(capture / "08" / "capture-08.jsonl", earlier)
    jsonl(capture / "09" / "capture-09.jsonl", records)
    # Labels written in the next hour, which the launcher lists with this window.
    jsonl(root / "ground-truth" / "2026" / "12" / "01" / "10" / "labels.jsonl", truth)


def jsonl(path: Path, records: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def monitor_arguments() -> list[str]:
    """The job's arguments as MonitoringEngine passes them (its defaults), for one hour."""
    return [
        "--features", ",".join(FEATURES), "--endpoint", ENDPOINT,
        "--model-group", MODEL_GROUP, "--model-version", MODEL_VERSION,
        "--problem-type", PROBLEM_TYPE, "--quality-metric", "rmse",
        "--drift-threshold", "0.1", "--drift-p-value", "0.01",
        "--shap-rows", "500", "--window-end", WINDOW_END, "--window-hours", "1",
    ]  # fmt: skip


@contextmanager
def processing_root(root: Path) -> Iterator[None]:
    """``$MLOPS_PROCESSING_ROOT`` set to ``root`` while the block runs."""
    previous = os.environ.get(monitor.ROOT_ENV)
    os.environ[monitor.ROOT_ENV] = str(root)
    try:
        yield
    finally:
        if previous is None:
            del os.environ[monitor.ROOT_ENV]
        else:
            os.environ[monitor.ROOT_ENV] = previous


def run_jobs(root: Path) -> Path:
    """Write the inputs under ``root``, run baseline.py then monitor.py there; the monitor's
    output folder. Raises RuntimeError when either script exits with an error."""
    write_inputs(root)
    with processing_root(root):
        # baseline.py writes baseline/baseline.json, where monitor.py reads it.
        code = baseline_step.main(
            ["--features", ",".join(FEATURES), "--model-version", MODEL_VERSION]
        )
        if code:
            raise RuntimeError(f"baseline.py exited with {code}")
        code = monitor.main(monitor_arguments())
        if code:
            raise RuntimeError(f"monitor.py exited with {code}")
    return root / "output"


def generate(out: Path, *, image: Path | None = None) -> Path:
    """Run the jobs in a temporary folder, copy their outputs to ``out`` (replacing what is
    there) and, with ``image``, draw the summary picture there. Returns ``out``."""
    with tempfile.TemporaryDirectory(prefix="sample-monitoring-") as temp:
        output = run_jobs(Path(temp))
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(output, out)
        results = json.loads((out / "results.json").read_text())
        if image is not None:
            draw_summary(results, image)
    return out


def draw_summary(results: dict[str, Any], path: Path) -> None:
    """One PNG: the baseline and current shares of each drifted feature, a table of the
    headline numbers and the attributions, at a size that keeps the file small."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drifted = results["drifted_features"]
    figure = plt.figure(figsize=(10, 6.4), dpi=72)
    grid = figure.add_gridspec(2, max(2, len(drifted)), height_ratios=[1.15, 1], hspace=0.55)
    for index, name in enumerate(drifted):
        drift = results["features"][name]
        axes = figure.add_subplot(grid[0, index])
        positions = range(len(drift["categories"]))
        width = 0.4
        axes.bar([p - width / 2 for p in positions], drift["baseline_shares"], width,
                 label="baseline (training)", color="#7f7f7f")  # fmt: skip
        axes.bar([p + width / 2 for p in positions], drift["current_shares"], width,
                 label="current hour", color="#d62728")  # fmt: skip
        axes.set_xticks(list(positions))
        axes.set_xticklabels(drift["categories"])
        axes.set_ylim(0, 1)
        axes.set_ylabel("share of rows")
        axes.set_title(
            f"{name}\nJS distance {drift['js_distance']:.3f}, "
            f"chi² p {drift['chi2_p_value']:.1e}: drifted",
            fontsize=10,
        )
        axes.legend(fontsize=8)
    table = figure.add_subplot(grid[1, 0])
    table.axis("off")
    quality = results["quality"]["metrics"]
    explain = results["explainability"]
    skipped = results["capture"]["records_skipped"]
    start, end = (results["window"][k][11:16] for k in ("start", "end"))
    cells = [
        ["window (UTC)", f"{start} to {end}"],
        ["records analysed", f"{results['capture']['records_kept']} ({results['rows']} rows)"],
        ["skipped", f"{skipped['other-version']} other version, "
                    f"{skipped['no-inference-id']} no id, {skipped['outside-window']} earlier"],
        ["drifted features", f"{len(drifted)} of {len(results['features'])}"],
        ["labels joined", str(results["ground_truth"]["joined_rows"])],
        ["rmse (headline)", f"{quality['rmse']:.3f}"],
        ["mae / r2", f"{quality['mae']:.3f} / {quality['r2']:.3f}"],
        ["attribution shift", f"{explain['attribution_shift']:.3f}"],
    ]  # fmt: skip
    drawn = table.table(cellText=cells, colWidths=[0.42, 0.58], loc="center", cellLoc="left")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(9)
    drawn.scale(1, 1.3)
    table.set_title(
        f"{results['model_group']} v{results['model_version']}: status {results['status']}",
        fontsize=10,
    )
    bars = figure.add_subplot(grid[1, 1:])
    names = list(results["features"])
    short = [n.replace("segment_", "") for n in names]
    positions = range(len(names))
    width = 0.4
    bars.barh([p + width / 2 for p in positions],
              [explain["baseline_mean_abs_shap"][n] for n in names], width,
              label="baseline", color="#7f7f7f")  # fmt: skip
    bars.barh([p - width / 2 for p in positions], [explain["mean_abs_shap"][n] for n in names],
              width, label="current hour", color="#1f77b4")  # fmt: skip
    bars.set_yticks(list(positions))
    bars.set_yticklabels(short)
    bars.set_xlabel("mean |SHAP| (log spend)")
    bars.set_title("attributions, per segment column", fontsize=10)
    bars.legend(fontsize=8)
    figure.suptitle("Monitoring report (sample): one hour of captured traffic", fontsize=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=72, metadata={"Software": None}, bbox_inches="tight")
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DOCS / "sample", help="the job's outputs")
    parser.add_argument("--image", type=Path, default=DOCS / "sample-report.png")
    args = parser.parse_args(argv)
    generate(args.out, image=args.image)
    print(f"wrote {args.out} and {args.image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

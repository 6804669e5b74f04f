"""The sample monitoring report in docs/monitoring/ is what the deployed scripts write today.

The committed report.md, results.json and metrics.json must equal a fresh run of
tools/sample_monitoring_report.py (which runs baseline.py and monitor.py offline): a change to
either script's output fails here until the sample is regenerated. PNG bytes are not compared
(they depend on matplotlib's version); their presence and size are."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("scipy")
pytest.importorskip("xgboost")
pytest.importorskip("matplotlib")

from tools import sample_monitoring_report as sample

COMMITTED = sample.DOCS / "sample"
REGENERATE = "run `python tools/sample_monitoring_report.py` and commit docs/monitoring/"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample.generate(tmp_path_factory.mktemp("sample") / "sample")


def close(a: Any, b: Any) -> bool:
    """Equal JSON documents, floats to 1e-9 relative (the last bits of a library's float
    arithmetic may differ between versions; a changed statistic differs by far more)."""
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_close_tells_a_changed_statistic_from_float_noise():
    # Negative controls for the comparison itself.
    assert close({"x": [0.1984, 1]}, {"x": [0.1984 * (1 + 1e-12), 1]})
    assert not close({"x": 0.1984}, {"x": 0.1985})
    assert not close({"x": 1}, {"x": 1, "y": None})
    assert not close(["a"], ["b"])


def test_the_committed_report_is_a_fresh_runs(fresh: Path):
    assert (COMMITTED / "report.md").read_text() == (fresh / "report.md").read_text(), (
        f"monitor.py's report changed: {REGENERATE}"
    )
    for name in ("results.json", "metrics.json"):
        committed = json.loads((COMMITTED / name).read_text())
        assert close(committed, json.loads((fresh / name).read_text())), (
            f"monitor.py's {name} changed: {REGENERATE}"
        )
    assert sorted(p.name for p in (COMMITTED / "plots").iterdir()) == sorted(
        p.name for p in (fresh / "plots").iterdir()
    ), f"the drifted features' plots changed: {REGENERATE}"


def test_the_sample_shows_what_the_docs_say(fresh: Path):
    """docs/monitoring.md walks through these numbers: the segment mix moved (two one-hot
    columns drift, corporate does not), the skipped records, the joined labels."""
    results = json.loads((fresh / "results.json").read_text())
    assert results["status"] == "ok"
    assert results["drifted_features"] == ["segment_consumer", "segment_home_office"]
    assert results["capture"]["records_kept"] == sample.CAPTURED_ROWS
    assert results["capture"]["records_skipped"] == {
        "other-version": 20,
        "no-inference-id": 10,
        "outside-window": 10,
        "unreadable": 0,
    }
    assert results["ground_truth"]["joined_rows"] == sample.CAPTURED_ROWS * 4 // 5
    assert results["quality"]["metrics"]["rmse"] < 1.0  # below the shipped quality threshold
    report = (fresh / "report.md").read_text()
    for plot in (fresh / "plots").iterdir():
        assert f"(plots/{plot.name})" in report


def test_the_sample_picture_is_committed_and_small():
    image = sample.DOCS / "sample-report.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", REGENERATE
    assert image.stat().st_size < 150_000, "keep the picture under 150 KB (lower its dpi)"
    for plot in (COMMITTED / "plots").iterdir():
        assert plot.read_bytes()[:4] == b"\x89PNG"


def test_a_change_in_the_jobs_output_is_caught(tmp_path, monkeypatch):
    # Negative control: the job run with another drift threshold (as a changed monitor.py
    # would) gives a report the committed one does not equal.
    arguments = sample.monitor_arguments()
    arguments[arguments.index("--drift-threshold") + 1] = "0.2"
    monkeypatch.setattr(sample, "monitor_arguments", lambda: arguments)
    changed = sample.generate(tmp_path / "sample")
    assert (COMMITTED / "report.md").read_text() != (changed / "report.md").read_text()
    committed = json.loads((COMMITTED / "results.json").read_text())
    assert not close(committed, json.loads((changed / "results.json").read_text()))


def documented_metrics() -> set[str]:
    """The metric names in the first column of docs/monitoring.md's metrics table."""
    text = (sample.REPO / "docs" / "monitoring.md").read_text()
    table = text.split("| metric | extra dimension |", 1)[1].split("\n\n", 1)[0]
    return {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}


def test_the_docs_list_exactly_the_metrics_monitor_py_publishes():
    from mlops_constructs.monitoring.engine import FAILED_METRIC  # the publisher's, on failure

    source = Path(sample.monitor.__file__).read_text()
    published = set(re.findall(r'\badd\("(\w+)"', source)) | {FAILED_METRIC}
    assert len(published) > 10  # the pattern still finds monitor.py's add("...") calls
    assert documented_metrics() == published, "update the metrics table of docs/monitoring.md"

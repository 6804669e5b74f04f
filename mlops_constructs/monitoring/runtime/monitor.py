"""Monitoring job: drift, model quality, bias and attributions of one model version.

Runs in a SageMaker processing job on the built-in XGBoost 1.7-1 container (Python 3.9, numpy,
scipy 1.8, scikit-learn 0.24, matplotlib 3.4, xgboost 1.7: nothing is installed, no Docker
build) with network isolation, so it calls no AWS API: it writes its results to its output,
and a separate function publishes ``metrics.json`` to CloudWatch. Model Monitor and Clarify
are closed to new customers; this job needs neither and never calls an endpoint.

Inputs, under ``/opt/ml/processing`` (``$MLOPS_PROCESSING_ROOT``, as in the training scripts):

* ``baseline/baseline.json`` (required): written for this version by the training pipeline's
  baseline step (``training/runtime/baseline.py``);
* ``capture/``: the endpoint's data capture, every ``*.jsonl`` file below it (the S3 layout
  ``<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`` is not relied on: the window below
  selects the records, so what is mounted may hold more hours than it). One JSON record a
  line: ``captureData.endpointInput`` / ``endpointOutput`` with ``data`` and ``encoding``
  (``CSV``: the text; ``JSON``: the JSON text; ``BASE64``: bytes read as the
  ``observedContentType`` says, CSV or JSON). A CSV request may hold several rows (a batch),
  one a line, and may end with a newline; the XGBoost output (``text/csv; charset=utf-8``)
  holds one score per row, separated by newlines or commas;
* ``ground-truth/`` (optional): records ``{"groundTruthData": {"data": "<label>",
  "encoding": "CSV"}, "eventMetadata": {"eventId": "<inference id>"}, "eventVersion": "0"}``,
  every ``*.jsonl`` below it. Labels arrive later than predictions, so the job joins all it is
  given on the id, whatever hour the label was written in;
* ``model/model.tar.gz`` (optional; or the only ``*.tar.gz`` in ``model/``, such as a
  multi-model endpoint's ``v<version>.tar.gz``): the version's model, for SHAP values
  computed offline (``pred_contribs``) on a bounded sample of the captured rows.

The window: only captured records whose ``eventMetadata.inferenceTime`` falls in ``[start,
end)`` count (start inclusive, end exclusive). ``end`` is ``--window-end`` (ISO 8601 with a
zone, ``Z`` or an offset) and ``start`` is ``--window-hours`` (default 1) before it. Without
``--window-end``, ``end`` is the start of the current hour (UTC) when the job runs, so a job
started at 06:17 analyses 05:00 to 06:00: the scheduler (EventBridge) cannot put the time into
the job's parameters, so the job works it out. Records before or after the window are counted
(``outside-window``) and skipped; a record of the version without a readable
``inferenceTime`` (missing, not a string, no zone) is ``unreadable``, not dropped silently.
Ground truth is not windowed (above).

A captured record of a multi-model endpoint does not say which model served it (no field in
the documented format, one variant in the S3 path). So the client puts the version into the
``InferenceId`` it sends, as ``v<version>.<hex>`` (at most 64 printable characters, the API's
limit), and with ``--inference-id-prefix-filter version`` (the default) the job keeps only
records whose ``eventMetadata.inferenceId`` starts with ``v<--model-version>.``; records of
other versions, and records without an id, are counted and skipped. ``off`` keeps every
record (an endpoint serving a single model). ``--model-version`` is the registry's version,
``1``, ``2``, ...: a positive integer without leading zeros, as the client writes it; any
other value (``03``, ``3.0``, ``v3``) would match no record, so it is refused (status 2).
Ground truth joins on ``inferenceId``, or on ``eventId`` for a record without one (as Model
Monitor does).

Per feature (the names of ``--features``, the column order of the CSV payload):

* numeric: the Jensen-Shannon distance (``scipy.spatial.distance.jensenshannon``, base 2, so
  in [0, 1]) between the baseline's and the current shares in the baseline's quantile bins;
  the two-sample Kolmogorov-Smirnov statistic and p-value against the baseline sample
  (``scipy.stats.ks_2samp``); the Wasserstein distance to it (``scipy.stats
  .wasserstein_distance``) divided by the baseline's standard deviation (none when that is 0);
* categorical (one-hot 0/1 columns): the Jensen-Shannon distance between the category
  frequencies (a value the baseline never had counts as one more category) and the chi-square
  test of the current counts against the baseline shares (``scipy.stats.chisquare``; a half
  count is added to each baseline category so an unseen one does not divide by zero);
* the share of missing values (an empty cell).

A feature has *drifted* when its Jensen-Shannon distance exceeds ``--drift-threshold`` (default
0.1) **and** its test's p-value (KS, or chi-square) is below ``--drift-p-value`` (default
0.01). Both are needed: at low traffic the distance of an unchanged feature is noise (about
``sqrt((bins - 1) / (8 n ln 2))``: 0.09 for 200 rows and 10 bins), and at high traffic a tiny
shift is significant without mattering.

Model quality (with ground truth): binary classification, the scores against labels
(``auc``, ``accuracy``, ``f1``, ``precision``, ``recall`` at ``--label-threshold``);
regression, ``rmse``, ``mae``, ``r2``; from ``sklearn.metrics`` (APIs present in 0.24).
``--quality-metric`` names the headline metric of the report.

Bias (with ``--facet``, a feature, and ``--facet-threshold``: rows whose facet value is above
it form facet *d*, the others facet *a*, as Clarify's threshold form does), by the formulas of
the Clarify metric pages (AWS's Clarify closure page says to compute them with pandas or
numpy): pre-training, on labelled rows, "Class Imbalance (CI)" ``(n_a - n_d) / (n_a + n_d)``
and "Difference in Proportions of Labels (DPL)" ``q_a - q_d``; post-training, on every captured
row, "Difference in Positive Proportions in Predicted Labels (DPPL)" ``q^_a - q^_d`` and
"Disparate Impact (DI)" ``q^_d / q^_a``. A label or score above ``--label-threshold`` is
positive.

Attributions (with the model): mean |SHAP| per feature on up to ``--shap-rows`` captured rows
(seeded sample), and, when the baseline holds the same, the attribution shift: half the L1
distance between the two normalised attribution vectors (0 = same shares, 1 = disjoint).

Outputs in ``output/``: ``results.json`` (everything, sorted keys), ``metrics.json``
(``{"Namespace": ..., "MetricData": [...]}``, the arguments of CloudWatch ``PutMetricData``;
non-finite values are left out; dimensions ``Endpoint``, ``Model`` (the registry group),
``ModelVersion`` and, per feature, ``Feature``; every ``Timestamp`` is the window's end),
``report.md`` and ``plots/*.png`` (per drifted feature, baseline against current shares over
the baseline bins). ``results.json`` and ``report.md`` state the window (``window``: ``start``,
``end``, ``hours``); ``metrics.json`` carries it only as the ``Timestamp``, since the publisher
and ``PutMetricData`` take no other key.

Exit status: 0 after a run, also when there was no captured record of the version (an hour
without traffic is not a failure: ``status`` is ``no-data``); 1 when records of the version
were found but none could be read (``status`` ``unusable-input``, with the reasons); 2 without
a usable baseline, with arguments the baseline does not fit, or with a bad
``--model-version``, ``--window-end`` or ``--window-hours`` (nothing is written; the
arguments are checked before any input is read).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import sys
import tarfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

#: Environment variable naming the folder that stands for ``/opt/ml/processing``.
ROOT_ENV = "MLOPS_PROCESSING_ROOT"
DEFAULT_ROOT = "/opt/ml/processing"

#: The baseline.json layouts this job reads.
SCHEMA_VERSIONS = (1,)

#: The file the built-in XGBoost algorithm writes into model.tar.gz.
MODEL_FILE = "xgboost-model"

DEFAULT_NAMESPACE = "MLOps/ModelMonitoring"

QUALITY_METRICS = {
    "binary_classification": ("auc", "accuracy", "f1", "precision", "recall"),
    "regression": ("rmse", "mae", "r2"),
}

#: Why a captured record was left out, as counted in results.json.
SKIP_REASONS = ("other-version", "no-inference-id", "outside-window", "unreadable")

#: A model package version as the client writes it into ``InferenceId`` (``v<N>.``): a
#: positive integer in ASCII digits without a leading zero.
_MODEL_VERSION = re.compile(r"[1-9][0-9]*")

#: An ISO 8601 date and time with its zone (``Z`` or an offset); seconds and fractions optional.
_ISO_UTC = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))",
    re.ASCII,  # \d is 0-9 only
)


class UsageError(Exception):
    """Input the job cannot work with at all (exit status 2)."""


def processing_root() -> Path:
    """``$MLOPS_PROCESSING_ROOT``, ``/opt/ml/processing`` by default (the container's)."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def parse_features(value: str) -> list[str]:
    """The ``--features`` argument (comma-separated) as a list; empty or repeated names fail."""
    features = [f.strip() for f in value.split(",")]
    if not value.strip() or any(not f for f in features):
        raise UsageError(f"--features {value!r}: expected comma-separated column names")
    repeated = sorted({f for f in features if features.count(f) > 1})
    if repeated:
        raise UsageError(f"--features {value!r} repeats {repeated}")
    return features


def check_model_version(value: str) -> str:
    """``value`` when it is a model version (``1``, ``2``, ...: the ``<N>`` of the client's
    ``v<N>.`` ids), else UsageError: ``03`` or ``3.0`` would match no record, silently."""
    if not _MODEL_VERSION.fullmatch(value):
        raise UsageError(
            f"--model-version {value!r}: expected the model package version, a positive "
            "integer without leading zeros (the client's inference ids are v<version>.<hex>)"
        )
    return value


def parse_utc(value: str) -> datetime:
    """An ISO 8601 time with a zone (``2026-01-01T10:00:00Z``, ``...+01:00``), as an aware
    datetime in UTC; ValueError without a zone or when it is not a time. Written out, not
    ``datetime.fromisoformat``, which reads no ``Z`` before Python 3.11."""
    match = _ISO_UTC.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not an ISO 8601 time with a zone (Z or +hh:mm)")
    year, month, day, hour, minute, second, fraction, _z, sign, off_h, off_m = match.groups()
    micro = int((fraction or "").ljust(6, "0")[:6])
    y, mo, d, h, mi, sec = (int(f) for f in (year, month, day, hour, minute, second or "0"))
    try:
        parsed = datetime(y, mo, d, h, mi, sec, micro, tzinfo=timezone.utc)
    except ValueError as error:  # 2026-02-30, 25:00
        raise ValueError(f"{value!r} is not a valid time: {error}") from None
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        parsed -= offset if sign == "+" else -offset
    return parsed


def format_utc(value: datetime) -> str:
    """``value`` as ``YYYY-MM-DDThh:mm:ss[.ffffff]Z`` in UTC."""
    value = value.astimezone(timezone.utc)
    fraction = f".{value.microsecond:06d}" if value.microsecond else ""
    return value.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def window(
    args: argparse.Namespace, now: Callable[[], datetime] | None = None
) -> tuple[datetime, datetime]:
    """``(start, end)`` of the hours to analyse: ``--window-end`` (default the start of the
    current hour by ``now``, UTC) and ``--window-hours`` back from it. UsageError when bad."""
    if args.window_hours < 1:
        raise UsageError(f"--window-hours {args.window_hours}: expected a whole number >= 1")
    if args.window_end:
        try:
            end = parse_utc(args.window_end)
        except ValueError as error:
            raise UsageError(f"--window-end: {error}") from error
    else:
        clock = (now or (lambda: datetime.now(timezone.utc)))().astimezone(timezone.utc)
        end = clock.replace(minute=0, second=0, microsecond=0)
    return end - timedelta(hours=args.window_hours), end


def inference_time(record: dict[str, Any]) -> datetime:
    """The record's ``eventMetadata.inferenceTime``; ValueError when it is missing or not
    a time with a zone."""
    value = (record.get("eventMetadata") or {}).get("inferenceTime")
    if not isinstance(value, str):
        what = "missing" if value is None else f"a JSON {type(value).__name__}, not a string"
        raise ValueError(f"eventMetadata.inferenceTime is {what}")
    try:
        return parse_utc(value)
    except ValueError as error:
        raise ValueError(f"eventMetadata.inferenceTime {error}") from None


# --- reading captured records -------------------------------------------------------------


def jsonl_records(folder: Path) -> Iterator[tuple[str, Any]]:
    """``(where, record)`` for each line of every ``*.jsonl`` below ``folder``, files in path
    order; a line that is not JSON gives ``(where, None)`` so it is counted, not fatal."""
    if not folder.is_dir():
        return
    for file in sorted(folder.rglob("*.jsonl")):
        with file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                where = f"{file.relative_to(folder)}:{number}"
                try:
                    yield where, json.loads(line)
                except ValueError:
                    yield where, None


def decode_payload(part: dict[str, Any]) -> tuple[str, Any]:
    """``("csv", text)`` or ``("json", value)`` from a captured ``endpointInput`` or
    ``endpointOutput``: its ``encoding`` says how ``data`` is stored, and for BASE64 the
    ``observedContentType`` says what the bytes are."""
    data = part.get("data")
    encoding = str(part.get("encoding", "")).upper()
    content_type = str(part.get("observedContentType", "")).lower()
    if encoding == "CSV":
        return "csv", str(data)
    if encoding == "JSON":
        return "json", json.loads(data) if isinstance(data, str) else data
    if encoding == "BASE64":
        text = base64.b64decode(str(data)).decode("utf-8")
        if "json" in content_type:
            return "json", json.loads(text)
        if "csv" in content_type or "text/plain" in content_type:
            return "csv", text
        raise ValueError(f"BASE64 payload of content type {content_type!r}: not CSV or JSON")
    raise ValueError(f"encoding {encoding!r}: expected CSV, JSON or BASE64")


def csv_rows(text: str, width: int) -> list[list[float]]:
    """The rows of a CSV request, one a line (empty cell = NaN, missing)."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != width:
            raise ValueError(f"a row has {len(cells)} values, expected {width} (--features)")
        rows.append([float(c) if c.strip() else math.nan for c in cells])
    return rows


def json_rows(value: Any, width: int) -> list[list[float]]:
    """The rows of a JSON request: ``{"instances": [{"features": [...]}, ...]}`` (SageMaker's
    JSON format), ``{"instances": [[...], ...]}``, ``{"features": [...]}``, a list of rows or
    one row. ``null`` is a missing value."""
    if isinstance(value, dict):
        value = value.get("instances", [value])
    if not isinstance(value, list) or not value:
        raise ValueError("JSON request: expected instances, a row or a list of rows")
    if not isinstance(value[0], (list, dict)):
        value = [value]
    rows = []
    for row in value:
        cells = row.get("features") if isinstance(row, dict) else row
        if not isinstance(cells, list) or len(cells) != width:
            raise ValueError(f"a JSON row is not a list of {width} values (--features)")
        rows.append([math.nan if c is None or c == "" else float(c) for c in cells])
    return rows


def output_scores(kind: str, value: Any) -> list[float]:
    """The scores of a captured response: CSV numbers split on newlines and commas, or JSON
    ``{"predictions": [{"score": s}, ...]}``, a list of numbers or a number."""
    if kind == "csv":
        return [float(c) for c in re.split(r"[,\n]", value) if c.strip()]
    if isinstance(value, dict):
        value = value.get("predictions", value.get("score"))
    if not isinstance(value, list):
        value = [value]
    return [float(v["score"] if isinstance(v, dict) else v) for v in value]


def parse_capture(record: Any, width: int) -> dict[str, Any]:
    """One captured record as ``{"id", "inference_id", "rows", "scores"}``; ``scores`` is empty
    when the response is missing or does not have one score per row. Raises ValueError when
    the request cannot be read."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    capture = record.get("captureData") or {}
    metadata = record.get("eventMetadata") or {}
    if "endpointInput" not in capture:
        raise ValueError("no captureData.endpointInput")
    kind, value = decode_payload(capture["endpointInput"])
    rows = csv_rows(value, width) if kind == "csv" else json_rows(value, width)
    if not rows:
        raise ValueError("empty request")
    scores: list[float] = []
    if "endpointOutput" in capture:
        try:
            scores = output_scores(*decode_payload(capture["endpointOutput"]))
        except (ValueError, KeyError, TypeError):
            scores = []
        if len(scores) != len(rows):
            scores = []
    inference_id = metadata.get("inferenceId")
    return {
        "id": inference_id or metadata.get("eventId"),
        "inference_id": inference_id,
        "rows": rows,
        "scores": scores,
    }


def version_prefix(model_version: str) -> str:
    """The inference-id prefix of a version: ``v<version>.``."""
    return f"v{model_version}."


def read_captures(
    folder: Path,
    width: int,
    prefix: str | None,
    window: tuple[datetime, datetime] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The parsed records to analyse and the counts of what was read and skipped.

    ``prefix``: keep only records whose inference id starts with it (None keeps all).
    ``window``: ``(start, end)``, keep only records whose ``inferenceTime`` is in
    ``[start, end)``; a record of the version without a readable time is unreadable."""
    kept: list[dict[str, Any]] = []
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    errors: dict[str, int] = {}
    examples: list[str] = []
    read = 0
    for where, record in jsonl_records(folder):
        read += 1
        if prefix is not None and isinstance(record, dict):
            inference_id = (record.get("eventMetadata") or {}).get("inferenceId")
            if not inference_id:
                skipped["no-inference-id"] += 1
                continue
            if not str(inference_id).startswith(prefix):
                skipped["other-version"] += 1
                continue
        try:
            if window is not None:
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                if not window[0] <= inference_time(record) < window[1]:
                    skipped["outside-window"] += 1
                    continue
            kept.append(parse_capture(record, width))
        except (ValueError, KeyError, TypeError) as error:
            skipped["unreadable"] += 1
            reason = str(error) or type(error).__name__
            errors[reason] = errors.get(reason, 0) + 1
            if len(examples) < 5:
                examples.append(f"{where}: {reason}")
    counts = {
        "records_read": read,
        "records_kept": len(kept),
        "records_skipped": skipped,
        "unreadable_reasons": dict(sorted(errors.items())),
        "unreadable_examples": examples,
    }
    return kept, counts


def read_ground_truth(folder: Path) -> tuple[dict[str, list[float]], int]:
    """Labels by inference id (the last record of an id wins) and the number of unreadable
    ground-truth records. ``data`` holds one label, or one per row of a batch request."""
    labels: dict[str, list[float]] = {}
    unreadable = 0
    for _where, record in jsonl_records(folder):
        try:
            truth = record["groundTruthData"]
            event_id = str(record["eventMetadata"]["eventId"])
            kind, value = decode_payload(truth)
            values = output_scores(kind, value)  # same shapes as a response
            if not values:
                raise ValueError("no label")
            labels[event_id] = values
        except (ValueError, KeyError, TypeError):
            unreadable += 1
    return labels, unreadable


# --- statistics ---------------------------------------------------------------------------


def bin_counts(values: Any, edges: Sequence[float]) -> list[int]:
    """How many ``values`` fall in each open-ended bin of ``edges`` (``len(edges) + 1`` bins):
    bin 0 is ``x < edges[0]``, bin i ``edges[i-1] <= x < edges[i]`` (as baseline.py bins)."""
    import numpy as np

    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return [int(c) for c in np.bincount(index, minlength=len(edges) + 1)]


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def category_name(value: float) -> str:
    """A category value as baseline.py writes it: ``0``/``1`` for one-hot columns."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def feature_drift(
    stats: dict[str, Any], column: Any, *, threshold: float, p_value: float
) -> dict[str, Any]:
    """The drift statistics of one feature's current ``column`` (NaN = missing) against its
    baseline ``stats``, as described in the module docstring."""
    import numpy as np
    from scipy import stats as scipy_stats
    from scipy.spatial import distance

    present = column[np.isfinite(column)]
    baseline_total = stats["count"] + stats["missing"]
    result: dict[str, Any] = {
        "type": stats["type"],
        "rows": len(column),
        "count": len(present),
        "missing_share": finite(1 - len(present) / len(column)) if len(column) else None,
        "baseline_missing_share": finite(stats["missing"] / baseline_total)
        if baseline_total
        else None,
        "js_distance": None,
        "ks_statistic": None,
        "ks_p_value": None,
        "wasserstein": None,
        "wasserstein_norm": None,
        "chi2_statistic": None,
        "chi2_p_value": None,
        "drifted": False,
    }
    if not len(present) or not stats["count"]:
        return result
    if stats["type"] == "categorical":
        categories = list(stats["categories"])
        names = [category_name(v) for v in present]
        counts = [names.count(c) for c in categories]
        counts.append(len(names) - sum(counts))  # values the baseline never had
        expected = [*stats["category_proportions"], 0.0]
        current = [c / len(names) for c in counts]
        # A half count per category (Laplace-style smoothing), so an unseen value has a
        # non-zero expectation; then scaled to the current total, as chisquare requires.
        smoothed = [p * stats["count"] + 0.5 for p in expected]
        f_exp = [s / sum(smoothed) * len(names) for s in smoothed]
        chi2 = scipy_stats.chisquare(f_obs=counts, f_exp=f_exp)
        result["categories"] = [*categories, "other"]
        result["baseline_shares"] = expected
        result["current_shares"] = current
        result["js_distance"] = finite(distance.jensenshannon(expected, current, base=2))
        result["chi2_statistic"] = finite(chi2.statistic)
        result["chi2_p_value"] = finite(chi2.pvalue)
        test_p = result["chi2_p_value"]
    else:
        edges = stats["bin_edges"]
        counts = bin_counts(present, edges)
        current = [c / len(present) for c in counts]
        sample = np.asarray(stats["sample"], dtype=float)
        ks = scipy_stats.ks_2samp(sample, present)
        wasserstein = scipy_stats.wasserstein_distance(sample, present)
        result["bin_edges"] = list(edges)
        result["baseline_shares"] = list(stats["bin_proportions"])
        result["current_shares"] = current
        result["js_distance"] = finite(
            distance.jensenshannon(stats["bin_proportions"], current, base=2)
        )
        result["ks_statistic"] = finite(ks.statistic)
        result["ks_p_value"] = finite(ks.pvalue)
        result["wasserstein"] = finite(wasserstein)
        if stats["std"]:
            result["wasserstein_norm"] = finite(wasserstein / stats["std"])
        test_p = result["ks_p_value"]
    distance_value = result["js_distance"]
    result["drifted"] = bool(
        distance_value is not None
        and distance_value > threshold
        and test_p is not None
        and test_p < p_value
    )
    return result


def quality(
    problem_type: str, labels: Sequence[float], scores: Sequence[float], threshold: float
) -> dict[str, Any]:
    """Model-quality metrics of the joined rows (see the module docstring); a metric that
    cannot be computed (AUC with one class) is left out."""
    import numpy as np
    from sklearn import metrics  # scikit-learn 0.24 in the container: no squared=False

    y = np.asarray(labels, dtype=float)
    s = np.asarray(scores, dtype=float)
    if problem_type == "regression":
        return {
            "rmse": math.sqrt(metrics.mean_squared_error(y, s)),
            "mae": float(metrics.mean_absolute_error(y, s)),
            "r2": float(metrics.r2_score(y, s)) if len(y) > 1 else None,
        }
    actual = (y > threshold).astype(int)
    predicted = (s > threshold).astype(int)
    result: dict[str, Any] = {
        "accuracy": float(metrics.accuracy_score(actual, predicted)),
        "f1": float(metrics.f1_score(actual, predicted, zero_division=0)),
        "precision": float(metrics.precision_score(actual, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(actual, predicted, zero_division=0)),
        "auc": None,
    }
    if len(set(actual.tolist())) == 2:
        result["auc"] = float(metrics.roc_auc_score(actual, s))
    return result


def bias(
    facet: Any,
    *,
    facet_threshold: float,
    label_threshold: float,
    labels: Any = None,
    scores: Any = None,
) -> dict[str, Any]:
    """CI and DPL of ``labels``, DPPL and DI of ``scores`` between facet d (facet value above
    ``facet_threshold``) and facet a (the others): the Clarify pages' formulas (module
    docstring). A metric whose denominator is empty is None."""
    import numpy as np

    facet = np.asarray(facet, dtype=float)
    in_d = facet > facet_threshold
    result: dict[str, Any] = {"n_a": int((~in_d).sum()), "n_d": int(in_d.sum())}

    def positive_share(values: Any, mask: Any) -> float | None:
        chosen = np.asarray(values, dtype=float)[mask]
        return float((chosen > label_threshold).mean()) if len(chosen) else None

    if labels is not None:
        n_a, n_d = result["n_a"], result["n_d"]
        # "Class Imbalance (CI)": (n_a - n_d) / (n_a + n_d).
        result["CI"] = (n_a - n_d) / (n_a + n_d) if n_a + n_d else None
        # "Difference in Proportions of Labels (DPL)": q_a - q_d.
        q_a, q_d = positive_share(labels, ~in_d), positive_share(labels, in_d)
        result["DPL"] = q_a - q_d if q_a is not None and q_d is not None else None
    if scores is not None:
        # "Difference in Positive Proportions in Predicted Labels (DPPL)": q^_a - q^_d;
        # "Disparate Impact (DI)": q^_d / q^_a.
        p_a, p_d = positive_share(scores, ~in_d), positive_share(scores, in_d)
        both = p_a is not None and p_d is not None
        result["DPPL"] = p_a - p_d if both else None  # type: ignore[operator]
        result["DI"] = p_d / p_a if both and p_a else None  # type: ignore[operator]
    return result


def load_booster(archive: Path) -> Any:
    """The XGBoost booster in ``model.tar.gz``, read from the archive without extracting it
    (nothing is written to disk, so a crafted member path cannot escape the folder)."""
    import xgboost  # provided by the built-in XGBoost container

    with tarfile.open(archive) as tar:
        member = next((m for m in tar.getmembers() if Path(m.name).name == MODEL_FILE), None)
        if member is None or not member.isfile():
            raise UsageError(f"{archive.name} holds no {MODEL_FILE}")
        data = tar.extractfile(member).read()  # type: ignore[union-attr]
    booster = xgboost.Booster()
    booster.load_model(bytearray(data))
    return booster


def mean_abs_shap(booster: Any, rows: Any, features: Sequence[str]) -> dict[str, float]:
    """Mean |SHAP| per feature from ``pred_contribs`` (exact TreeSHAP; the last column is the
    bias term, not a feature, and is dropped)."""
    import numpy as np
    import xgboost

    contributions = booster.predict(xgboost.DMatrix(rows), pred_contribs=True)
    means = np.abs(contributions[:, :-1]).mean(axis=0)
    return {name: float(means[i]) for i, name in enumerate(features)}


def attribution_shift(current: dict[str, float], baseline: dict[str, float]) -> float | None:
    """Half the L1 distance between the normalised attribution vectors, in [0, 1]."""
    names = sorted(set(current) | set(baseline))
    a = [current.get(n, 0.0) for n in names]
    b = [baseline.get(n, 0.0) for n in names]
    if not sum(a) or not sum(b):
        return None
    return sum(abs(x / sum(a) - y / sum(b)) for x, y in zip(a, b)) / 2


# --- the run ------------------------------------------------------------------------------


def model_archive(folder: Path) -> Path | None:
    """The version's archive in ``folder``: ``model.tar.gz`` (the training pipeline's name),
    else the only ``*.tar.gz`` there (a multi-model endpoint's ``v<version>.tar.gz``, as the
    monitoring pipeline mounts its ``ModelUri``); None without one or with several."""
    named = folder / "model.tar.gz"
    if named.is_file():
        return named
    found = sorted(p for p in folder.glob("*.tar.gz") if p.is_file()) if folder.is_dir() else []
    return found[0] if len(found) == 1 else None


def load_baseline(path: Path, features: Sequence[str]) -> dict[str, Any]:
    """The baseline at ``path``, checked against ``--features``."""
    if not path.is_file():
        raise UsageError(f"no baseline at {path}: the version's baseline step must run first")
    try:
        baseline = json.loads(path.read_text())
    except ValueError as error:
        raise UsageError(f"{path} is not JSON: {error}") from error
    if baseline.get("schema_version") not in SCHEMA_VERSIONS:
        raise UsageError(
            f"{path}: schema_version {baseline.get('schema_version')!r}, "
            f"this job reads {list(SCHEMA_VERSIONS)}"
        )
    if list(baseline.get("features", [])) != list(features):
        raise UsageError(
            f"--features {list(features)} differ from the baseline's {baseline.get('features')}"
        )
    return baseline


def analyse(
    args: argparse.Namespace, root: Path, span: tuple[datetime, datetime]
) -> dict[str, Any]:
    """Everything the job computes, as written to results.json (see the module docstring),
    from the captured records whose time is in ``span`` (``[start, end)``)."""
    import numpy as np

    features = parse_features(args.features)
    if args.problem_type not in QUALITY_METRICS:
        raise UsageError(f"--problem-type {args.problem_type!r}: expected {list(QUALITY_METRICS)}")
    if args.quality_metric and args.quality_metric not in QUALITY_METRICS[args.problem_type]:
        raise UsageError(
            f"--quality-metric {args.quality_metric!r}: expected one of "
            f"{list(QUALITY_METRICS[args.problem_type])} for {args.problem_type}"
        )
    if args.facet and args.facet not in features:
        raise UsageError(f"--facet {args.facet!r} is not one of --features")
    baseline = load_baseline(root / "baseline" / "baseline.json", features)
    prefix = (
        None if args.inference_id_prefix_filter == "off" else version_prefix(args.model_version)
    )
    records, counts = read_captures(root / "capture", len(features), prefix, span)

    results: dict[str, Any] = {
        "endpoint": args.endpoint,
        "model_group": args.model_group,
        "model_version": args.model_version,
        "problem_type": args.problem_type,
        "inference_id_prefix": prefix,
        "window": {
            "start": format_utc(span[0]),
            "end": format_utc(span[1]),
            "hours": args.window_hours,
        },
        "drift_threshold": args.drift_threshold,
        "drift_p_value": args.drift_p_value,
        "capture": counts,
        "rows": 0,
        "features": {},
        "drifted_features": [],
        "quality": None,
        "bias": None,
        "explainability": None,
    }
    if not records:
        unreadable = counts["records_skipped"]["unreadable"]
        results["status"] = "unusable-input" if unreadable else "no-data"
        results["message"] = (
            f"{unreadable} captured record(s) of the version, none readable"
            if unreadable
            else "no captured record of this version in the window: nothing to analyse "
            "(not a failure)"
        )
        return results

    rows = np.array([r for record in records for r in record["rows"]], dtype=float)
    results["rows"] = len(rows)
    for i, name in enumerate(features):
        results["features"][name] = feature_drift(
            baseline["feature_statistics"][name],
            rows[:, i],
            threshold=args.drift_threshold,
            p_value=args.drift_p_value,
        )
    results["drifted_features"] = [n for n in features if results["features"][n]["drifted"]]

    # Scores per row (records whose response had one score per row) and labels joined by id.
    truth, truth_unreadable = read_ground_truth(root / "ground-truth")
    scored_rows, scores, labelled_rows, labels, label_scores = [], [], [], [], []
    joined_records = 0
    shape_mismatch = 0
    for record in records:
        if record["scores"]:
            scored_rows.extend(record["rows"])
            scores.extend(record["scores"])
        record_labels = truth.get(str(record["id"])) if record["id"] else None
        if record_labels is None:
            continue
        if len(record_labels) != len(record["rows"]) or not record["scores"]:
            shape_mismatch += 1
            continue
        joined_records += 1
        labelled_rows.extend(record["rows"])
        labels.extend(record_labels)
        label_scores.extend(record["scores"])
    results["ground_truth"] = {
        "records": len(truth),
        "unreadable": truth_unreadable,
        "joined_records": joined_records,
        "joined_rows": len(labels),
        "not_joinable": shape_mismatch,
    }
    if labels:
        metrics = quality(args.problem_type, labels, label_scores, args.label_threshold)
        results["quality"] = {
            "metrics": {k: finite(v) for k, v in sorted(metrics.items())},
            "headline": args.quality_metric or QUALITY_METRICS[args.problem_type][0],
        }

    if args.facet and args.problem_type == "binary_classification":
        column = features.index(args.facet)
        post = bias(
            np.asarray(scored_rows, dtype=float).reshape(-1, len(features))[:, column],
            facet_threshold=args.facet_threshold,
            label_threshold=args.label_threshold,
            scores=scores,
        )
        pre = (
            bias(
                np.asarray(labelled_rows, dtype=float)[:, column],
                facet_threshold=args.facet_threshold,
                label_threshold=args.label_threshold,
                labels=labels,
            )
            if labels
            else None
        )
        results["bias"] = {
            "facet": args.facet,
            "facet_threshold": args.facet_threshold,
            "label_threshold": args.label_threshold,
            "post_training": {k: finite(v) for k, v in sorted(post.items())},
            "pre_training": {k: finite(v) for k, v in sorted(pre.items())} if pre else None,
        }

    archive = model_archive(root / "model")
    if archive is not None:
        rng = np.random.default_rng(args.seed)
        sample = rows
        if len(rows) > args.shap_rows:
            sample = rows[np.sort(rng.choice(len(rows), size=args.shap_rows, replace=False))]
        current = mean_abs_shap(load_booster(archive), sample, features)
        reference = (baseline.get("shap") or {}).get("mean_abs")
        results["explainability"] = {
            "rows": len(sample),
            "mean_abs_shap": current,
            "baseline_mean_abs_shap": reference,
            "attribution_shift": attribution_shift(current, reference) if reference else None,
        }
    results["status"] = "ok"
    results["message"] = f"{len(results['drifted_features'])} of {len(features)} features drifted"
    return results


# --- outputs ------------------------------------------------------------------------------


def metric_data(results: dict[str, Any], timestamp: str) -> list[dict[str, Any]]:
    """The ``MetricData`` entries of CloudWatch ``PutMetricData`` for ``results``; entries
    whose value is missing or not finite are left out (CloudWatch rejects NaN and infinity)."""
    base = [
        {"Name": "Endpoint", "Value": results["endpoint"]},
        {"Name": "Model", "Value": results["model_group"]},
        {"Name": "ModelVersion", "Value": str(results["model_version"])},
    ]
    entries: list[dict[str, Any]] = []

    def add(name: str, value: Any, unit: str = "None", **extra: str) -> None:
        number = finite(value) if not isinstance(value, bool) else float(value)
        if number is None:
            return
        dimensions = base + [{"Name": k, "Value": v} for k, v in extra.items()]
        entries.append(
            {
                "MetricName": name,
                "Dimensions": dimensions,
                "Timestamp": timestamp,
                "Value": number,
                "Unit": unit,
            }
        )

    capture = results["capture"]
    add("RecordsCaptured", capture["records_kept"], "Count")
    add("RecordsUnreadable", capture["records_skipped"]["unreadable"], "Count")
    add("RowsAnalysed", results["rows"], "Count")
    add("DriftedFeatures", len(results["drifted_features"]), "Count")
    for name, drift in results["features"].items():
        add("FeatureDrift", drift["js_distance"], Feature=name)
        add("FeatureDrifted", drift["drifted"], Feature=name)
        add("FeatureKsPValue", drift["ks_p_value"], Feature=name)
        add("FeatureChi2PValue", drift["chi2_p_value"], Feature=name)
        add("FeatureWassersteinNorm", drift["wasserstein_norm"], Feature=name)
        add("FeatureMissingShare", drift["missing_share"], Feature=name)
    if results.get("ground_truth"):
        add("GroundTruthJoined", results["ground_truth"]["joined_rows"], "Count")
    if results["quality"]:
        for metric, value in results["quality"]["metrics"].items():
            add("ModelQuality", value, Metric=metric)
    if results["bias"]:
        for stage in ("pre_training", "post_training"):
            for metric, value in (results["bias"][stage] or {}).items():
                if metric not in ("n_a", "n_d"):
                    add("Bias", value, Metric=metric)
    if results["explainability"]:
        for name, value in results["explainability"]["mean_abs_shap"].items():
            add("FeatureAttribution", value, Feature=name)
        add("AttributionShift", results["explainability"]["attribution_shift"])
    return entries


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "**yes**" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def plot_feature(name: str, drift: dict[str, Any], path: Path) -> None:
    """Baseline against current shares over the baseline's bins (or categories)."""
    import matplotlib

    matplotlib.use("Agg")  # no display in a processing job
    import matplotlib.pyplot as plt

    if drift["type"] == "categorical":
        labels = list(drift["categories"])
    else:
        edges = drift["bin_edges"]
        bounds = ["-inf", *[f"{e:.3g}" for e in edges], "inf"]
        labels = [f"[{bounds[i]}, {bounds[i + 1]})" for i in range(len(edges) + 1)]
    positions = list(range(len(labels)))
    figure, axes = plt.subplots(figsize=(max(6.0, 0.7 * len(labels)), 3.6))
    width = 0.4
    axes.bar([p - width / 2 for p in positions], drift["baseline_shares"], width, label="baseline")
    axes.bar([p + width / 2 for p in positions], drift["current_shares"], width, label="current")
    axes.set_xticks(positions)
    axes.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    axes.set_ylabel("share of rows")
    axes.set_title(f"{name}: JS distance {_number(drift['js_distance'], 3)}")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(figure)


def plot_name(index: int, feature: str) -> str:
    """A file name for a feature's plot: its position and a safe form of its name."""
    return f"{index:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', feature)}.png"


def write_report(results: dict[str, Any], features: Sequence[str], out: Path) -> str:
    """report.md (and the plots of drifted features under ``out/plots``)."""
    lines = [
        f"# Monitoring report: {results['model_group']} version {results['model_version']}",
        "",
        f"Endpoint `{results['endpoint']}`. Status **{results['status']}**: {results['message']}.",
        "",
        f"Window: captured records with an inference time from {results['window']['start']} "
        f"(inclusive) to {results['window']['end']} (exclusive).",
        "",
        f"Captured records read {results['capture']['records_read']}, analysed "
        f"{results['capture']['records_kept']} ({results['rows']} rows); skipped: "
        + ", ".join(f"{k} {v}" for k, v in results["capture"]["records_skipped"].items())
        + ".",
        "",
    ]
    if results["features"]:
        lines += [
            "## Drift",
            "",
            f"Drifted: Jensen-Shannon distance > {results['drift_threshold']} and test "
            f"p-value < {results['drift_p_value']} (KS for numeric, chi-square for categorical "
            "features).",
            "",
            "| feature | type | values | missing | JS distance | KS stat | KS p | "
            "Wasserstein/std | chi² p | drifted |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for name in features:
            d = results["features"][name]
            cells = [
                d["type"],
                d["count"],
                d["missing_share"],
                d["js_distance"],
                d["ks_statistic"],
                d["ks_p_value"],
                d["wasserstein_norm"],
                d["chi2_p_value"],
                d["drifted"],
            ]
            lines.append(f"| `{name}` | " + " | ".join(_number(c) for c in cells) + " |")
        lines.append("")
        plots = out / "plots"
        for index, name in enumerate(features):
            if results["features"][name]["drifted"]:
                plots.mkdir(parents=True, exist_ok=True)
                file = plot_name(index, name)
                plot_feature(name, results["features"][name], plots / file)
                lines += [f"![{name}: baseline and current shares](plots/{file})", ""]
    if results.get("ground_truth"):
        truth = results["ground_truth"]
        lines += [
            "## Model quality",
            "",
            f"Ground-truth records {truth['records']}, joined {truth['joined_records']} "
            f"records ({truth['joined_rows']} rows), not joinable {truth['not_joinable']}.",
            "",
        ]
        if results["quality"]:
            headline = results["quality"]["headline"]
            lines += ["| metric | value |", "| --- | ---: |"]
            for metric, value in results["quality"]["metrics"].items():
                shown = f"**{metric}**" if metric == headline else metric
                lines.append(f"| {shown} | {_number(value)} |")
            lines.append("")
    if results["bias"]:
        b = results["bias"]
        lines += [
            "## Bias",
            "",
            f"Facet d: `{b['facet']}` > {b['facet_threshold']}; positive: > "
            f"{b['label_threshold']}.",
            "",
            "| stage | metric | value |",
            "| --- | --- | ---: |",
        ]
        for stage in ("pre_training", "post_training"):
            for metric, value in (b[stage] or {}).items():
                lines.append(f"| {stage.replace('_', '-')} | {metric} | {_number(value)} |")
        lines.append("")
    if results["explainability"]:
        e = results["explainability"]
        reference = e["baseline_mean_abs_shap"] or {}
        lines += [
            "## Attributions (mean |SHAP|)",
            "",
            f"{e['rows']} rows; attribution shift {_number(e['attribution_shift'])}.",
            "",
            "| feature | current | baseline |",
            "| --- | ---: | ---: |",
        ]
        for name in features:
            lines.append(
                f"| `{name}` | {_number(e['mean_abs_shap'][name])} | "
                f"{_number(reference.get(name))} |"
            )
        lines.append("")
    text = "\n".join(lines)
    (out / "report.md").write_text(text)
    return text


def dumps(document: Any) -> str:
    """JSON with sorted keys and no NaN (which JSON does not have)."""
    return json.dumps(document, sort_keys=True, indent=1, allow_nan=False) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--features", required=True, help="comma-separated, in CSV payload order")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--model-group", required=True, help="model package group")
    p.add_argument("--model-version", required=True, help="1, 2, ... (the v<N>. of the ids)")
    p.add_argument("--problem-type", required=True, choices=sorted(QUALITY_METRICS))
    p.add_argument("--drift-threshold", type=float, default=0.1, help="JS distance, in [0, 1]")
    p.add_argument("--drift-p-value", type=float, default=0.01)
    p.add_argument("--quality-metric", default="", help="headline metric (auc, rmse, ...)")
    p.add_argument("--inference-id-prefix-filter", choices=("version", "off"), default="version")
    p.add_argument("--facet", default="", help="feature defining facet d (bias metrics)")
    p.add_argument("--facet-threshold", type=float, default=0.5)
    p.add_argument("--label-threshold", type=float, default=0.5)
    p.add_argument("--shap-rows", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    p.add_argument(
        "--window-end",
        default="",
        help="ISO 8601 with a zone, exclusive; default the start of the current hour (UTC)",
    )
    p.add_argument("--window-hours", type=int, default=1, help="the window's length")
    return p


def main(argv: Sequence[str] | None = None, *, now: Callable[[], datetime] | None = None) -> int:
    """The job; ``now`` (an aware datetime, default the system clock) sets the default window."""
    args = parser().parse_args(argv)
    root = processing_root()
    started = time.monotonic()
    try:
        check_model_version(args.model_version)
        if not 0 <= args.drift_threshold <= 1:
            raise UsageError("--drift-threshold is a Jensen-Shannon distance: between 0 and 1")
        span = window(args, now)
        results = analyse(args, root, span)
    except UsageError as error:
        print(f"monitor: {error}", file=sys.stderr)
        return 2
    out = root / "output"
    out.mkdir(parents=True, exist_ok=True)
    # The data points are the window's: stamped with its end.
    metrics = {"Namespace": args.namespace, "MetricData": metric_data(results, format_utc(span[1]))}
    (out / "results.json").write_text(dumps(results))
    (out / "metrics.json").write_text(dumps(metrics))
    write_report(results, parse_features(args.features), out)
    seconds = time.monotonic() - started
    print(f"monitor: {results['status']} in {seconds:.1f} s: {results['message']}", file=sys.stderr)
    if results["status"] == "unusable-input":
        for example in results["capture"]["unreadable_examples"]:
            print(f"monitor: {example}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

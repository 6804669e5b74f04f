#!/usr/bin/env python3
"""Synth and test-suite timing: ``make bench``.

Measures, in one run on this machine:

* the wall time of synthesizing every environment of config/ in a fresh Python process
  (interpreter start, imports, jsii start-up, construction, cdk-nag, writing cdk.out), as
  ``app.py`` does under the CDK CLI;
* the same for an empty app (one stack, no resources, the same App settings), so the two
  can be compared on whatever machine runs this;
* peak memory (Python and the jsii Node.js process) of the full synth;
* the CPU time (user and system) of the same processes, which other work on a shared
  machine disturbs less than wall time;
* the same for one environment (dev), so that the cost of each added resource shows apart
  from the fixed start-up cost (module loading in Python and Node.js, cdk-nag's rules);
* the resource count, and milliseconds per resource: overall, above the empty app, and
  per resource added from one environment to all;
* every environment again with the SageMaker SDK's results cached on disk (warm), as
  ``app.py`` keeps them between synths under ``.cache/pipeline-definitions``; the other
  figures are cold (no cache), as in a fresh clone;
* optionally the run rehearsal (``tests/rehearsal``, as ``make rehearse`` runs it) and the
  whole test suite (``--with-tests``, on by default from make).

Each synth is repeated ``--runs`` times (5 by default) and the median reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Runs in a child process: build and synthesize, then report peak memory of both processes.
_CHILD = r"""
import json, sys, time
start = time.perf_counter()
mode, outdir = sys.argv[1], sys.argv[2]
import aws_cdk as cdk
if mode != "empty":
    from stacks.app_factory import cdk_json_context, create_app
    context = cdk_json_context()
    if mode != "platform":
        context["mlops:select"] = mode
    app, _ = create_app(context, outdir=outdir)
else:
    app = cdk.App(outdir=outdir, builtin_cloud_formation_validation=False)
    cdk.Stack(app, "Empty", env=cdk.Environment(account="284751930618", region="eu-west-1"))
app.synth()
elapsed = time.perf_counter() - start

def hwm_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

import jsii
node_pid = jsii.kernel.provider._process._process.pid
peaks = {"python_kib": hwm_kib("self"), "node_kib": hwm_kib(node_pid)}
print(json.dumps({"elapsed": elapsed, **peaks}))
"""


#: The disk cache the warm synths share (filled by the warm-up).
_WARM_CACHE = tempfile.mkdtemp(prefix="bench-sdk-cache-")


def _env(mode: str = "") -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MLOPS_PIPELINE_DEFINITION_CACHE", None)
    if mode == "platform-warm":
        env["MLOPS_PIPELINE_DEFINITION_CACHE"] = _WARM_CACHE
    node_bin = REPO_ROOT / "node_modules" / ".bin"
    env["PATH"] = f"{node_bin}{os.pathsep}{env.get('PATH', '')}"
    return env


def _children_cpu() -> float:
    """CPU seconds (user and system) of the finished child processes and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def synth_once(mode: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as outdir:
        cpu = _children_cpu()
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, mode.removesuffix("-warm"), outdir],
            cwd=REPO_ROOT,
            env=_env(mode),
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        cpu = _children_cpu() - cpu
        if result.returncode != 0:
            sys.exit(f"{mode} synth failed:\n{result.stderr}")
        data = json.loads(result.stdout.strip().splitlines()[-1])
        data["wall"], data["cpu"] = wall, cpu
        if mode != "empty":
            data["resources"] = sum(
                len(json.loads(t.read_text()).get("Resources", {}))
                for t in Path(outdir).glob("assembly-*/*.template.json")
            )
        return data


def time_tests(*paths: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths],
        cwd=REPO_ROOT,
        env=_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--single", default="dev", help="the one-environment comparison")
    parser.add_argument("--with-tests", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    # One warm-up of each, so the jsii package cache is populated as on any later run.
    modes = ("empty", args.single, "platform", "platform-warm")
    for mode in modes:
        synth_once(mode)
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    for _ in range(args.runs):  # interleaved, so all see the same machine load
        for mode in modes:
            runs[mode].append(synth_once(mode))

    def median(mode: str, figure: str = "wall") -> float:
        return statistics.median(r[figure] for r in runs[mode])

    empty_s, single_s, full_s = median("empty"), median(args.single), median("platform")
    full = runs["platform"]
    resources = full[0]["resources"]
    single_resources = runs[args.single][0]["resources"]
    peak_mib = max(r["python_kib"] + r["node_kib"] for r in full) / 1024
    figures = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "runs": args.runs,
        "empty_app_s": round(empty_s, 3),
        f"one_environment_s ({args.single})": round(single_s, 3),
        "all_environments_s": round(full_s, 3),
        "ratio_all_to_empty": round(full_s / empty_s, 2),
        "all_environments_warm_s": round(median("platform-warm"), 3),
        "ratio_warm_to_empty": round(median("platform-warm") / empty_s, 2),
        # CPU time (Python and Node.js) is steadier than wall time on a shared machine.
        "empty_app_cpu_s": round(median("empty", "cpu"), 3),
        "all_environments_cpu_s": round(median("platform", "cpu"), 3),
        "all_environments_warm_cpu_s": round(median("platform-warm", "cpu"), 3),
        "resources": resources,
        f"resources ({args.single})": single_resources,
        "ms_per_resource": round(1000 * full_s / resources, 1),
        "ms_per_resource_above_empty": round(1000 * (full_s - empty_s) / resources, 1),
        "ms_per_added_resource": round(
            1000 * (full_s - single_s) / max(1, resources - single_resources), 1
        ),
        "peak_memory_mib": round(peak_mib),
    }
    if args.with_tests:
        # The run rehearsal alone, as `make rehearse` runs it (its own synth included), and
        # the whole suite as `make test` runs it (with its workers, PYTEST_PARALLEL).
        figures["rehearsal_s"] = round(time_tests("tests/rehearsal"), 1)
        cpu = _children_cpu()
        figures["test_suite_s"] = round(
            time_tests(*os.environ.get("PYTEST_PARALLEL", "").split()), 1
        )
        figures["test_suite_cpu_s"] = round(_children_cpu() - cpu, 1)

    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

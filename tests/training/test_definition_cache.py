"""The SageMaker SDK results cache on disk, shared by processes that synthesize at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from mlops_constructs.training._definition import CACHE_ENV
from tests.conftest import REPO_ROOT

# Records each computation in a log file and takes a second, so that two processes started
# together would both compute if nothing made one wait for the other.
_SYNTH = textwrap.dedent(
    """
    import pathlib, sys, time
    from mlops_constructs.training import _definition

    def compute():
        with pathlib.Path(sys.argv[1]).open("a") as log:
            log.write("computed\\n")
        time.sleep(1)
        return {"value": 1}

    print(_definition.sdk_cached("test", ["same inputs"], compute))
    """
)


def test_concurrent_processes_compute_a_result_once(tmp_path):
    log = tmp_path / "log"
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _SYNTH, str(log)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in processes]
    assert outputs == ["{'value': 1}", "{'value': 1}"]
    assert log.read_text().splitlines() == ["computed"]

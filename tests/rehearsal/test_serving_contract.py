"""Serving contract: what our docs and examples send is what the registered model scores.

The archive the rehearsed pipeline registered is loaded the way the built-in XGBoost serving
container loads it, and every payload of ``README.md`` (the ``Body=`` of its examples) and of
``examples/invoke_model.py`` (its documented command lines, sent through the module itself
with a stand-in runtime client) is scored: each row must have the model's feature count, and
a one-hot row must score the mean the rehearsal dataset gives that category (so a payload in
another column order than training scores visibly wrong).
"""

from __future__ import annotations

import ast
import io
import re
import shlex
from collections.abc import Sequence
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.rehearsal.conftest import RehearsedRun
from tests.rehearsal.data import Dataset
from tests.rehearsal.pipeline_runner import PayloadError, Registration, ServedModel

#: Off by more than this from the category mean, a score is not that category's: the means
#: are 0.5 or more apart, and the model's estimate of each is within a few hundredths.
SCORE_TOLERANCE = 0.15


@pytest.fixture(scope="module")
def registration(dev_rehearsal: RehearsedRun) -> Registration:
    dev_rehearsal.run.raise_for_problems()
    (registration,) = dev_rehearsal.run.registrations
    return registration


@pytest.fixture(scope="module")
def served(
    dev_rehearsal: RehearsedRun,
    registration: Registration,
    tmp_path_factory: pytest.TempPathFactory,
) -> ServedModel:
    (model_url,) = registration.model_data_urls
    folder = tmp_path_factory.mktemp("served-model")
    archive = dev_rehearsal.run.download(model_url, folder / "download" / "model.tar.gz")
    return ServedModel.from_archive(archive, folder / "model")


def readme_payloads() -> list[bytes]:
    """The ``Body=b"..."`` literals of the README's code examples."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return [ast.literal_eval(m.group(1)) for m in re.finditer(r"Body=(b\"[^\"]*\")", text)]


def example_command_lines() -> list[list[str]]:
    """The arguments of each ``python -m examples.invoke_model`` line of its docstring."""
    from examples import invoke_model

    doc = (invoke_model.__doc__ or "").replace("\\\n", " ")
    lines = [m.group(1) for m in re.finditer(r"python -m examples\.invoke_model (.*)", doc)]
    # A placeholder such as <EndpointName output> stands for one value.
    return [shlex.split(re.sub(r"<[^>]*>", "placeholder", line)) for line in lines]


def _check_scores(
    rows: Sequence[Sequence[float]], scores: Sequence[float], data: Dataset, where: str
) -> None:
    assert len(scores) == len(rows), where
    for row, score in zip(rows, scores, strict=True):
        expected = data.expected_score(row)
        if expected is not None:
            assert abs(score - expected) < SCORE_TOLERANCE, (
                f"{where}: row {list(row)} scores {score:.3f}, but the category its columns "
                f"name in training order has mean {expected}: the payload's column order is "
                "not the model's"
            )


def test_the_docs_and_examples_send_payloads() -> None:
    assert readme_payloads(), "README.md has no Body= payload"
    assert example_command_lines(), "examples/invoke_model.py documents no command line"


def test_the_docs_and_examples_call_each_hosting_mode() -> None:
    """Multi-model (TargetModel), inference components (InferenceComponentName) and an A/B
    test's variant (TargetVariant), in the README and in the example's command lines."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for argument in ("TargetModel=", "InferenceComponentName=", "TargetVariant="):
        assert argument in text, argument
    options = {o for argv in example_command_lines() for o in argv if o.startswith("--")}
    assert {"--target-model", "--inference-component", "--target-variant"} <= options


def test_the_registration_accepts_what_clients_send(registration: Registration) -> None:
    specification = registration.request["InferenceSpecification"]
    # examples.invoke_model and the README send and accept text/csv.
    assert "text/csv" in specification["SupportedContentTypes"]
    assert "text/csv" in specification["SupportedResponseMIMETypes"]


@pytest.mark.parametrize("payload", readme_payloads())
def test_every_readme_payload_scores(
    payload: bytes, served: ServedModel, dev_rehearsal: RehearsedRun
) -> None:
    scores = served.score(payload)
    rows = [[float(v) for v in line.split(",")] for line in payload.decode().splitlines()]
    _check_scores(rows, scores, dev_rehearsal.data, f"README payload {payload!r}")


def test_the_readme_target_model_names_the_registered_group(
    registration: Registration, dev_rehearsal: RehearsedRun
) -> None:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r'TargetModel="([^"]+)"', text)
    assert targets
    for target in targets:
        group, _, version = target.rpartition("/")
        assert re.fullmatch(r"v\d+\.tar\.gz", version), target
        # The README's example is the dev environment's model.
        assert group == registration.request["ModelPackageGroupName"], target


class _Runtime:
    """Stands in for the sagemaker-runtime client (the container's scoring of the body) and,
    for a component's version, the sagemaker client (the deployer's model name, version 1)."""

    def __init__(self, served: ServedModel, group: str) -> None:
        self.served = served
        self.group = group
        self.requests: list[dict[str, Any]] = []
        self.described: list[str] = []

    def describe_inference_component(self, InferenceComponentName: str) -> dict[str, Any]:
        self.described.append(InferenceComponentName)
        return {"Specification": {"ModelName": f"{InferenceComponentName}-v1"}}

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        target = request.get("TargetModel")
        if target is not None and not re.fullmatch(
            rf"{re.escape(self.group)}/v\d+\.tar\.gz", target
        ):
            raise AssertionError(f"TargetModel {target!r} is not a version of {self.group}")
        if "InferenceComponentName" in request:
            # The version read from the component is the one the request carries.
            assert request["InferenceComponentName"] in self.described, request
            assert request["InferenceId"].startswith("v1."), request
        scores = self.served.score(request["Body"], request["ContentType"])
        # The container answers text/csv as one comma-separated line.
        return {"Body": io.BytesIO(",".join(map(str, scores)).encode())}


@pytest.mark.parametrize("argv", example_command_lines(), ids=" ".join)
def test_every_example_command_line_scores(
    argv: list[str],
    served: ServedModel,
    registration: Registration,
    dev_rehearsal: RehearsedRun,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from examples import invoke_model

    runtime = _Runtime(served, registration.request["ModelPackageGroupName"])
    monkeypatch.setattr(invoke_model.boto3, "client", lambda service, **_: runtime)
    invoke_model.main(argv)
    capsys.readouterr()
    assert runtime.requests
    # Each mode's command line names what that mode takes, and only that.
    (request,) = runtime.requests
    named = {k for k in ("TargetModel", "InferenceComponentName") if k in request}
    assert named == {"InferenceComponentName" if "--inference-component" in argv else "TargetModel"}
    if "--target-variant" in argv:
        assert request["TargetVariant"] == argv[argv.index("--target-variant") + 1]
    for request in runtime.requests:
        rows = [
            [float(v) for v in line.split(",")] for line in request["Body"].decode().split("\n")
        ]
        scores = served.score(request["Body"])
        _check_scores(rows, scores, dev_rehearsal.data, f"examples.invoke_model {argv}")


# -------------------------------------------------------------------------------------------
# Negative controls
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width_change", [-1, +1])
def test_control_a_payload_of_another_width_is_refused(
    served: ServedModel, width_change: int
) -> None:
    width = served.num_features + width_change
    payload = ",".join(["1"] + ["0"] * (width - 1)).encode()
    with pytest.raises(PayloadError, match=rf"has {width} features; the model was trained on"):
        served.score(payload)


def test_control_a_payload_in_another_column_order_scores_wrong(
    served: ServedModel, dev_rehearsal: RehearsedRun
) -> None:
    width = served.num_features
    row = [1.0] + [0.0] * (width - 1)
    shifted = row[-1:] + row[:-1]  # the first category's 1 moved to the next column
    (score,) = served.score(",".join(map(str, shifted)).encode())
    with pytest.raises(AssertionError, match="column order is not the model's"):
        _check_scores([row], [score], dev_rehearsal.data, "shifted payload")

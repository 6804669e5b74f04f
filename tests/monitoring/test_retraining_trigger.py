"""The retraining trigger handler, against a fake SageMaker behind a real botocore client.

Events are built from tests/events/: cloudwatch_alarm_state_change_metric.json and
cloudwatch_alarm_state_change_composite.json (EventBridge "CloudWatch Alarm State Change"
events) and cloudwatch_alarm_lambda_action.json (the payload of an alarm's Lambda action),
in the shapes the CloudWatch User Guide publishes; accounts, names and values are synthetic.

Why a fake: moto 5.2.5's SageMaker has CreatePipeline, StartPipelineExecution and
ListPipelineExecutions, but its listing ignores CreatedAfter, SortBy, SortOrder and
MaxResults, its start ignores ClientRequestToken (every call makes a new execution), and it
stamps executions with the wall clock rather than the test's. The cooldown and the token are
therefore tested against ``FakeSageMaker``: a real boto3 SageMaker client whose requests are
answered in the process. botocore validates every call against SageMaker's API model first,
as it does in Lambda (unknown or missing parameters, types, minimum lengths: a wrong
parameter name fails); the fake then checks the model's maximum lengths and patterns, which
botocore leaves to the service, and answers from its state: executions created at the test
clock's time, CreatedAfter filtering, newest first, one execution per ClientRequestToken.
One test also runs the handler against moto's SageMaker.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws

from tests.helpers import lambda_context, load_handler

REGION = "eu-west-1"
ACCOUNT = "284751930618"
PIPELINE = "mlops-dev-churn-training"
EVENTS = Path(__file__).parent.parent / "events"
METRIC = json.loads((EVENTS / "cloudwatch_alarm_state_change_metric.json").read_text())
COMPOSITE = json.loads((EVENTS / "cloudwatch_alarm_state_change_composite.json").read_text())
ACTION = json.loads((EVENTS / "cloudwatch_alarm_lambda_action.json").read_text())
DRIFT_ALARM = METRIC["detail"]["alarmName"]
COMPOSITE_ALARM = COMPOSITE["detail"]["alarmName"]
QUALITY_ALARM = ACTION["alarmData"]["alarmName"]
COOLDOWN_MINUTES = 60
# 21:05:12 UTC: five minutes into a one-hour window (60-minute windows start on the hour).
T0 = datetime(2026, 11, 20, 21, 5, 12, tzinfo=UTC)


index = load_handler("retraining_trigger")


CONTEXT = lambda_context("retraining")


class Clock:
    """The handler's ``_now``; tests move it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeSageMaker:
    """SageMaker pipeline executions, answered inside a real botocore client.

    ``calls`` records (operation, parameters) of every call that reached the service.
    ``errors`` maps an operation name to the error code the next call of it gets.
    ``list_sees_nothing`` makes ListPipelineExecutions return nothing, as it does for an
    invocation that lists before a racing one's execution exists.
    """

    def __init__(self, clock: Clock, pipelines: tuple[str, ...] = (PIPELINE,)) -> None:
        self.clock = clock
        self.executions: dict[str, list[dict[str, Any]]] = {p: [] for p in pipelines}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: dict[str, str] = {}
        self.list_sees_nothing = False
        self.client = boto3.client(
            "sagemaker",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        events = self.client.meta.events
        # The parameters as the caller gave them, kept for the answer: botocore validates
        # them against the model between these two events.
        events.register("before-parameter-build.sagemaker.*", self._keep_params)
        events.register("before-call.sagemaker.*", self._answer)

    def started(self) -> list[dict[str, Any]]:
        return [p for op, p in self.calls if op == "StartPipelineExecution"]

    def add_execution(self, *, created: datetime, status: str = "Succeeded") -> str:
        executions = self.executions[PIPELINE]
        arn = (
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PIPELINE}/execution/"
            f"exec{len(executions) + 1:08d}"
        )
        executions.append({"arn": arn, "created": created, "status": status, "token": None})
        return arn

    # -- botocore event handlers --------------------------------------------------------
    def _keep_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["fake_sagemaker_params"] = params

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[Any, dict]:
        params = copy.deepcopy(context["fake_sagemaker_params"])
        problems = model_constraint_problems(model.input_shape, params, model.name)
        if problems:
            return _error("ValidationException", "; ".join(problems))
        self.calls.append((model.name, params))
        if model.name in self.errors:
            return _error(self.errors.pop(model.name), "injected by the test")
        pipeline = params.get("PipelineName")
        if pipeline not in self.executions:
            return _error("ResourceNotFound", f"Pipeline '{pipeline}' does not exist.")
        if model.name == "StartPipelineExecution":
            return _ok(self._start(pipeline, params))
        if model.name == "ListPipelineExecutions":
            return _ok(self._list(pipeline, params))
        raise AssertionError(f"the handler called {model.name}")

    def _start(self, pipeline: str, params: dict[str, Any]) -> dict[str, Any]:
        executions = self.executions[pipeline]
        for execution in executions:
            if execution["token"] == params["ClientRequestToken"]:
                return {"PipelineExecutionArn": execution["arn"]}
        arn = self.add_execution(created=self.clock.now, status="Executing")
        executions[-1].update(token=params["ClientRequestToken"], params=params)
        return {"PipelineExecutionArn": arn}

    def _list(self, pipeline: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.list_sees_nothing:
            return {"PipelineExecutionSummaries": []}
        after = params.get("CreatedAfter")
        assert after is None or isinstance(after, datetime), after
        found = [e for e in self.executions[pipeline] if after is None or e["created"] > after]
        found.sort(key=lambda e: e["created"], reverse=params.get("SortOrder") != "Ascending")
        return {
            "PipelineExecutionSummaries": [
                {
                    "PipelineExecutionArn": e["arn"],
                    "StartTime": e["created"],
                    "PipelineExecutionStatus": e["status"],
                }
                for e in found[: params.get("MaxResults", 50)]
            ]
        }


def model_constraint_problems(shape: Any, value: Any, path: str) -> list[str]:
    """What SageMaker's model allows that botocore does not check: maxima and patterns."""
    limits = shape.metadata
    problems: list[str] = []
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                problems += model_constraint_problems(member, value[name], f"{path}.{name}")
    elif shape.type_name == "list":
        if "max" in limits and len(value) > limits["max"]:
            problems.append(f"{path} has {len(value)} items, more than {limits['max']}")
        for i, item in enumerate(value):
            problems += model_constraint_problems(shape.member, item, f"{path}[{i}]")
    elif shape.type_name == "string":
        if "max" in limits and len(value) > limits["max"]:
            problems.append(f"{path} is {len(value)} characters, more than {limits['max']}")
        if "pattern" in limits and not re.fullmatch(limits["pattern"], value):
            problems.append(f"{path}={value!r} does not match {limits['pattern']}")
    elif shape.type_name in ("integer", "long") and "max" in limits and value > limits["max"]:
        problems.append(f"{path}={value} is more than {limits['max']}")
    return problems


def _ok(body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse(None, 200, {}, None), {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}


def _error(code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse(None, 400, {}, None), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }


@pytest.fixture
def environment(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("PIPELINE_NAME", PIPELINE)
    monkeypatch.setenv("ALARM_NAMES", f"{DRIFT_ALARM}, {COMPOSITE_ALARM},{QUALITY_ALARM}")
    monkeypatch.setenv("COOLDOWN_MINUTES", str(COOLDOWN_MINUTES))


@pytest.fixture
def clock(monkeypatch):
    now = Clock(T0)
    monkeypatch.setattr(index, "_now", now)
    return now


@pytest.fixture
def sagemaker(monkeypatch, environment, clock):
    fake = FakeSageMaker(clock)
    monkeypatch.setattr(index, "_sagemaker_client", lambda: fake.client)
    return fake


@pytest.fixture
def logs():
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    collect = Collect()
    index.logger.addHandler(collect)
    yield records
    index.logger.removeHandler(collect)


def event(template: dict[str, Any], **state: Any) -> dict[str, Any]:
    """A copy of ``template`` with its alarm state's fields replaced (None deletes one)."""
    made = copy.deepcopy(template)
    target = made["detail"] if "detail" in made else made["alarmData"]
    for key, value in state.items():
        if value is None:
            target["state"].pop(key, None)
        else:
            target["state"][key] = value
    return made


def with_alarm_name(template: dict[str, Any], name: str) -> dict[str, Any]:
    made = copy.deepcopy(template)
    (made["detail"] if "detail" in made else made["alarmData"])["alarmName"] = name
    return made


def parameters(start: dict[str, Any]) -> dict[str, str]:
    return {p["Name"]: p["Value"] for p in start["PipelineParameters"]}


def expected_token(now: datetime, minutes: int = COOLDOWN_MINUTES) -> str:
    seconds = minutes * 60
    window = int(now.timestamp()) // seconds
    digest = hashlib.sha256(f"{PIPELINE}\n{seconds}\n{window}".encode()).hexdigest()
    return f"retrain-{window}-{digest}"


# -- starting --------------------------------------------------------------------------
def test_metric_alarm_starts_one_retraining_with_the_alarm_as_parameters(sagemaker, logs):
    result = index.handler(METRIC, CONTEXT)
    (start,) = sagemaker.started()
    assert result == {
        "status": "started",
        "execution": sagemaker.executions[PIPELINE][0]["arn"],
        "alarm": DRIFT_ALARM,
    }
    assert start["PipelineName"] == PIPELINE
    assert start["PipelineParameters"] == [
        {"Name": "TriggerReason", "Value": "alarm"},
        {"Name": "TriggerAlarm", "Value": DRIFT_ALARM},
        {"Name": "TriggerDetail", "Value": METRIC["detail"]["state"]["reason"]},
    ]
    assert start["ClientRequestToken"] == expected_token(T0)
    assert 32 <= len(start["ClientRequestToken"]) <= 128
    assert start["PipelineExecutionDisplayName"] == (
        "alarm-dev-Monitoring-ChurnFeatureDriftAlarm6C1B0E4A-1R7VQ2ZK8M3XJ"
    )
    assert DRIFT_ALARM in start["PipelineExecutionDescription"]
    # The cooldown check came first, over exactly the cooldown before now.
    (listing,) = [p for op, p in sagemaker.calls if op == "ListPipelineExecutions"]
    assert [op for op, _ in sagemaker.calls] == [
        "ListPipelineExecutions",
        "StartPipelineExecution",
    ]
    assert listing["PipelineName"] == PIPELINE
    assert listing["CreatedAfter"] == T0 - timedelta(minutes=COOLDOWN_MINUTES)
    assert (listing["SortBy"], listing["SortOrder"]) == ("CreationTime", "Descending")
    assert listing["MaxResults"] >= 1
    (line,) = [r for r in logs if r.getMessage() == "started retraining"]
    assert line.alarm == DRIFT_ALARM and line.previousState == "OK"
    assert line.threshold == 0.1 and line.recentDatapoints == [0.2317]


# The composite sample with its suppression removed: the composite alarm's actions run.
UNSUPPRESSED_COMPOSITE = event(COMPOSITE, actionsSuppressedBy=None, actionsSuppressedReason=None)


@pytest.mark.parametrize(
    ("template", "alarm", "reason"),
    [
        (UNSUPPRESSED_COMPOSITE, COMPOSITE_ALARM, COMPOSITE["detail"]["state"]["reason"]),
        (ACTION, QUALITY_ALARM, ACTION["alarmData"]["state"]["reason"]),
    ],
    ids=["composite-eventbridge", "lambda-alarm-action"],
)
def test_composite_alarms_and_alarm_action_payloads_start_too(sagemaker, template, alarm, reason):
    result = index.handler(copy.deepcopy(template), CONTEXT)
    assert result["status"] == "started" and result["alarm"] == alarm
    (start,) = sagemaker.started()
    assert parameters(start) == {
        "TriggerReason": "alarm",
        "TriggerAlarm": alarm,
        "TriggerDetail": reason,
    }
    assert start["ClientRequestToken"] == expected_token(T0)
    assert len(sagemaker.executions[PIPELINE]) == 1


def test_composite_alarm_names_its_triggering_alarms_in_the_log(sagemaker, logs):
    index.handler(UNSUPPRESSED_COMPOSITE, CONTEXT)
    (line,) = [r for r in logs if r.getMessage() == "started retraining"]
    assert line.actionsSuppressedBy is None
    assert line.triggeringAlarms == [
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:"
        "dev-Monitoring-ChurnBiasDriftAlarm4A9E6C2D-3HZ8W1KQ7V5N"
    ]


@pytest.mark.parametrize(
    ("suppressed_by", "reason"),
    [
        ("WaitPeriod", "Actions suppressed by WaitPeriod"),  # the published sample as it is
        ("Alarm", "Alarm dev-Monitoring-ChurnMaintenanceWindowAlarm in ALARM"),
        ("ExtensionPeriod", "Actions suppressed by ExtensionPeriod"),
    ],
)
def test_a_suppressed_composite_alarm_starts_nothing(sagemaker, logs, suppressed_by, reason):
    # CloudWatch suppresses the composite alarm's actions during a maintenance window (its
    # suppressor in ALARM) and its wait and extension periods; the EventBridge event still
    # comes, carrying actionsSuppressedBy. Retraining is an action: it must not start.
    made = event(COMPOSITE, actionsSuppressedBy=suppressed_by, actionsSuppressedReason=reason)
    result = index.handler(made, CONTEXT)
    assert result["status"] == "ignored"
    assert f"actionsSuppressedBy={suppressed_by!r}" in result["reason"]
    assert reason in result["reason"]
    assert sagemaker.calls == []
    (warning,) = [r for r in logs if r.levelname == "WARNING"]
    assert warning.reason == result["reason"]


def test_an_alarm_action_runs_whatever_it_carries(sagemaker):
    # CloudWatch invokes its alarm actions only when they are not (or no longer) suppressed:
    # a delayed action after a wait period must start the retraining.
    made = event(ACTION, actionsSuppressedBy="WaitPeriod")
    assert index.handler(made, CONTEXT)["status"] == "started"


def test_alarm_to_alarm_still_starts(sagemaker):
    made = copy.deepcopy(ACTION)
    made["alarmData"]["previousState"]["value"] = "ALARM"
    assert index.handler(made, CONTEXT)["status"] == "started"


# -- cooldown --------------------------------------------------------------------------
def test_second_alarm_within_the_cooldown_starts_nothing(sagemaker, clock):
    first = index.handler(METRIC, CONTEXT)
    clock.advance(minutes=COOLDOWN_MINUTES - 1)  # into the next fixed window, still cooling
    second = index.handler(ACTION, CONTEXT)
    assert second == {"status": "cooldown", "execution": first["execution"]}
    assert len(sagemaker.started()) == 1
    assert len(sagemaker.executions[PIPELINE]) == 1


def test_alarm_after_the_cooldown_starts_again(sagemaker, clock):
    first = index.handler(METRIC, CONTEXT)
    clock.advance(minutes=COOLDOWN_MINUTES, seconds=1)
    second = index.handler(METRIC, CONTEXT)
    assert second["status"] == "started"
    assert second["execution"] != first["execution"]
    tokens = [s["ClientRequestToken"] for s in sagemaker.started()]
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    assert tokens[1] == expected_token(clock.now)


@pytest.mark.parametrize("status", ["Failed", "Stopped", "Executing", "Succeeded"])
def test_any_execution_in_the_window_cools_down_whatever_its_status(sagemaker, status):
    # E.g. a retraining that failed ten minutes ago, or one the weekly schedule started.
    recent = sagemaker.add_execution(created=T0 - timedelta(minutes=10), status=status)
    assert index.handler(METRIC, CONTEXT) == {"status": "cooldown", "execution": recent}
    assert sagemaker.started() == []


def test_only_executions_inside_the_window_count(sagemaker):
    sagemaker.add_execution(created=T0 - timedelta(minutes=COOLDOWN_MINUTES, seconds=1))
    assert index.handler(METRIC, CONTEXT)["status"] == "started"


def test_cooldown_reports_the_newest_execution(sagemaker):
    sagemaker.add_execution(created=T0 - timedelta(minutes=50), status="Failed")
    newest = sagemaker.add_execution(created=T0 - timedelta(minutes=5), status="Executing")
    assert index.handler(METRIC, CONTEXT) == {"status": "cooldown", "execution": newest}


def test_racing_invocations_in_one_window_send_the_same_token(sagemaker, clock):
    sagemaker.list_sees_nothing = True  # neither sees the other's execution
    first = index.handler(METRIC, CONTEXT)
    clock.advance(minutes=20)  # 21:25:12, same 21:00-22:00 window
    second = index.handler(ACTION, CONTEXT)
    first_start, second_start = sagemaker.started()
    assert first_start["ClientRequestToken"] == second_start["ClientRequestToken"]
    assert first["execution"] == second["execution"]
    assert len(sagemaker.executions[PIPELINE]) == 1


def test_tokens_follow_fixed_windows():
    cooldown = timedelta(minutes=COOLDOWN_MINUTES)
    start = datetime(2026, 11, 20, 21, 0, 0, tzinfo=UTC)
    token = index.client_request_token(PIPELINE, cooldown, start)
    assert re.fullmatch(r"retrain-\d+-[0-9a-f]{64}", token)
    assert 32 <= len(token) <= 128
    assert token == index.client_request_token(PIPELINE, cooldown, start + cooldown / 2)
    assert token == index.client_request_token(
        PIPELINE, cooldown, start + cooldown - timedelta(seconds=1)
    )
    assert token != index.client_request_token(PIPELINE, cooldown, start - timedelta(seconds=1))
    assert token != index.client_request_token(PIPELINE, cooldown, start + cooldown)
    assert token != index.client_request_token("other-pipeline", cooldown, start)
    assert token != index.client_request_token(PIPELINE, timedelta(minutes=30), start)
    # A one-minute window gives the longest index: still within the API's limits.
    assert len(index.client_request_token(PIPELINE, timedelta(minutes=1), start)) <= 128


# -- ignored ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "template", [METRIC, COMPOSITE, ACTION], ids=["metric", "composite", "action"]
)
@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_ok_and_insufficient_data_are_ignored_without_calls(sagemaker, logs, template, state):
    result = index.handler(event(template, value=state), CONTEXT)
    assert result["status"] == "ignored"
    assert state in result["reason"] and "not ALARM" in result["reason"]
    assert sagemaker.calls == []
    (warning,) = [r for r in logs if r.levelname == "WARNING"]
    assert warning.reason == result["reason"]


def test_an_alarm_outside_alarm_names_is_ignored_without_calls(sagemaker):
    result = index.handler(with_alarm_name(METRIC, "dev-Serving-LatencyAlarm1A2B3C4D"), CONTEXT)
    assert result["status"] == "ignored"
    assert "not one of the retraining alarms" in result["reason"]
    assert sagemaker.calls == []


def _without(template: dict[str, Any], *path: str) -> dict[str, Any]:
    made = copy.deepcopy(template)
    target = made
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return made


def _replaced(template: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    made = copy.deepcopy(template)
    target = made
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return made


@pytest.mark.parametrize(
    ("make_event", "reason"),
    [
        (lambda: None, "NoneType, not an object"),
        (lambda: ["not", "an", "object"], "list, not an object"),
        (lambda: {}, "not a CloudWatch event"),
        (lambda: _replaced(METRIC, "aws.sagemaker", "source"), "not a CloudWatch event"),
        (
            lambda: _replaced(METRIC, "CloudWatch Alarm Configuration Change", "detail-type"),
            "not an alarm state change",
        ),
        (lambda: _without(METRIC, "detail"), "no detail object"),
        (lambda: _replaced(METRIC, "oops", "detail"), "no detail object"),
        (lambda: _without(ACTION, "alarmData"), "neither an EventBridge"),
        (lambda: _replaced(ACTION, ["x"], "alarmData"), "no alarmData object"),
        (lambda: _without(METRIC, "detail", "alarmName"), "names no alarm"),
        (lambda: _replaced(ACTION, "", "alarmData", "alarmName"), "names no alarm"),
        (lambda: _without(METRIC, "detail", "state"), "no state object"),
        (lambda: _replaced(METRIC, "ALARM", "detail", "state"), "no state object"),
        (lambda: _without(ACTION, "alarmData", "state"), "no state object"),
        (lambda: _without(METRIC, "detail", "state", "value"), "None, not ALARM"),
    ],
    ids=[
        "none",
        "list",
        "empty-object",
        "other-source",
        "other-detail-type",
        "missing-detail",
        "detail-not-object",
        "missing-alarm-data",
        "alarm-data-not-object",
        "missing-alarm-name",
        "empty-alarm-name",
        "missing-state",
        "state-not-object",
        "action-missing-state",
        "missing-state-value",
    ],
)
def test_malformed_events_are_ignored_without_calls(sagemaker, logs, make_event, reason):
    result = index.handler(make_event(), CONTEXT)
    assert result["status"] == "ignored"
    assert reason in result["reason"]
    assert sagemaker.calls == []
    assert [r.levelname for r in logs] == ["WARNING"]


# -- reasonData is informational ---------------------------------------------------------
@pytest.mark.parametrize(
    ("reason_data", "logged"),
    [
        ("{not json", {"reasonDataError": "not valid JSON"}),
        ('["a", "list"]', {"reasonDataError": "a JSON list, not an object"}),
        (None, {"reasonData": "absent"}),
    ],
    ids=["invalid-json", "not-an-object", "absent"],
)
def test_unreadable_or_missing_reason_data_does_not_block(sagemaker, logs, reason_data, logged):
    made = event(METRIC, reasonData=reason_data)
    assert index.handler(made, CONTEXT)["status"] == "started"
    (line,) = [r for r in logs if r.getMessage() == "started retraining"]
    for key, text in logged.items():
        assert text in getattr(line, key)


# -- errors ----------------------------------------------------------------------------
def test_sagemaker_error_on_start_is_raised(sagemaker):
    sagemaker.errors["StartPipelineExecution"] = "ThrottlingException"
    with pytest.raises(ClientError) as raised:
        index.handler(METRIC, CONTEXT)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert sagemaker.executions[PIPELINE] == []


def test_a_missing_pipeline_is_raised(sagemaker, monkeypatch):
    monkeypatch.setenv("PIPELINE_NAME", "mlops-dev-no-such-pipeline")
    with pytest.raises(ClientError) as raised:
        index.handler(METRIC, CONTEXT)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"
    assert sagemaker.started() == []


@pytest.mark.parametrize("value", [None, "", "0", "-5", "1.5", "an hour"])
def test_a_bad_cooldown_setting_raises_before_anything(sagemaker, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("COOLDOWN_MINUTES")
    else:
        monkeypatch.setenv("COOLDOWN_MINUTES", value)
    with pytest.raises(ValueError, match="COOLDOWN_MINUTES"):
        index.handler(METRIC, CONTEXT)
    # Raised at the start, even for an event that would be ignored.
    with pytest.raises(ValueError, match="COOLDOWN_MINUTES"):
        index.handler(event(METRIC, value="OK"), CONTEXT)
    assert sagemaker.calls == []


@pytest.mark.parametrize("variable", ["PIPELINE_NAME", "ALARM_NAMES"])
def test_missing_pipeline_or_alarm_names_raise(sagemaker, monkeypatch, variable):
    monkeypatch.setenv(variable, " , ")
    with pytest.raises(ValueError, match=variable):
        index.handler(METRIC, CONTEXT)
    monkeypatch.delenv(variable)
    with pytest.raises(ValueError, match=variable):
        index.handler(METRIC, CONTEXT)
    assert sagemaker.calls == []


# -- API limits ------------------------------------------------------------------------
def test_long_reasons_are_cut_to_the_parameter_limit(sagemaker):
    reason = "Threshold Crossed: " + "0.5 (20/11/26 21:00:00), " * 300
    assert len(reason) > 1024
    assert index.handler(event(METRIC, reason=reason), CONTEXT)["status"] == "started"
    (start,) = sagemaker.started()
    detail = parameters(start)["TriggerDetail"]
    assert len(detail) == 1024
    assert detail[:-1] == reason[:1023] and detail.endswith("\u2026")


def test_display_name_fits_the_api_pattern_whatever_the_alarm_name(sagemaker, monkeypatch):
    odd = "Churn model: drift (prod) / tenure_months >= 0.1 " + "x" * 200
    monkeypatch.setenv("ALARM_NAMES", odd)
    assert index.handler(with_alarm_name(METRIC, odd), CONTEXT)["status"] == "started"
    (start,) = sagemaker.started()
    name = start["PipelineExecutionDisplayName"]
    assert len(name) <= 82
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}", name)
    assert name.startswith("alarm-Churn-model-drift-prod-tenure-months-0-1-x")
    assert parameters(start)["TriggerAlarm"] == odd
    assert index.display_name("!!!") == "alarm"


def test_the_fake_rejects_what_sagemaker_would(sagemaker):
    """The fake is only useful if a wrong call fails as it would in AWS."""
    with pytest.raises(ParamValidationError, match="Parameters"):
        sagemaker.client.start_pipeline_execution(
            PipelineName=PIPELINE, Parameters=[], ClientRequestToken="x" * 32
        )
    with pytest.raises(ParamValidationError, match="ClientRequestToken"):
        sagemaker.client.start_pipeline_execution(PipelineName=PIPELINE, ClientRequestToken="x")
    with pytest.raises(ClientError, match="PipelineExecutionDisplayName"):
        sagemaker.client.start_pipeline_execution(
            PipelineName=PIPELINE,
            PipelineExecutionDisplayName="has spaces",
            ClientRequestToken="x" * 32,
        )
    with pytest.raises(ClientError, match="Value is 1025 characters"):
        sagemaker.client.start_pipeline_execution(
            PipelineName=PIPELINE,
            PipelineParameters=[{"Name": "TriggerDetail", "Value": "x" * 1025}],
            ClientRequestToken="x" * 32,
        )
    assert sagemaker.started() == []


# -- moto ------------------------------------------------------------------------------
def test_against_motos_sagemaker(environment, clock, monkeypatch):
    """What moto does model: the start, its parameters, and the listing of it afterwards."""
    with mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        client.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline",
        )
        monkeypatch.setattr(index, "_sagemaker_client", lambda: client)
        first = index.handler(METRIC, CONTEXT)
        assert first["status"] == "started"
        given = client.list_pipeline_parameters_for_execution(
            PipelineExecutionArn=first["execution"]
        )["PipelineParameters"]
        assert {p["Name"]: p["Value"] for p in given} == {
            "TriggerReason": "alarm",
            "TriggerAlarm": DRIFT_ALARM,
            "TriggerDetail": METRIC["detail"]["state"]["reason"],
        }
        clock.advance(minutes=5)
        assert index.handler(ACTION, CONTEXT) == {
            "status": "cooldown",
            "execution": first["execution"],
        }

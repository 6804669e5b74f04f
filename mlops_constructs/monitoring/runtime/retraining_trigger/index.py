"""Starts the SageMaker training pipeline when a Model Monitor alarm goes into ALARM.

Invoked asynchronously by an EventBridge rule for ``aws.cloudwatch`` / ``CloudWatch Alarm
State Change`` events of the Model Monitor alarms (feature drift, model quality, bias). The
payload CloudWatch sends when an alarm invokes a function directly as an alarm action
(``alarmArn`` and ``alarmData``, no ``detail-type``) is accepted too. Metric and composite
alarms are handled alike.

Environment: ``PIPELINE_NAME`` (the name of the pipeline to start), ``ALARM_NAMES`` (comma-separated
names of the alarms acted on), ``COOLDOWN_MINUTES`` (a whole number above 0), ``LOG_LEVEL``.
A missing or invalid setting raises at the start of every invocation, whatever the event:
that is a deployment bug, and it should reach the dead-letter queue rather than be ignored.

What is acted on: a state change into ``ALARM`` of an alarm named in ``ALARM_NAMES``,
whatever the previous state. ``OK`` and ``INSUFFICIENT_DATA``, other alarms, other sources,
and malformed events (not an object, no alarm name, no state object) are logged at WARNING
with the reason and ignored: nothing is started. ``reasonData`` (a JSON string) is
informational: when it parses, the log line carries the threshold, recent datapoints or
triggering alarms; when it is missing or not valid JSON, the log line says so and the
retraining still starts.

Composite alarm suppression: CloudWatch suppresses a composite alarm's *actions*, not its
EventBridge events, so an EventBridge state change whose ``state.actionsSuppressedBy`` is set
(``Alarm``, ``WaitPeriod`` or ``ExtensionPeriod``) is logged and ignored here, as the alarm's
own actions would be: a maintenance window must not start a retraining. When a wait or
extension period ends without the suppressor in ALARM, CloudWatch runs the alarm's actions
but sends no new event; a composite alarm that should then retrain must therefore name this
function among its own alarm actions (the alarm action payload below), where CloudWatch
applies suppression itself. An alarm action payload is acted on whatever it carries: that
CloudWatch invoked the function means the actions were not suppressed.

Cooldown, at most one retraining per ``COOLDOWN_MINUTES``, with no table of our own:

1. ``ListPipelineExecutions`` of the pipeline created in the last ``COOLDOWN_MINUTES``. Any
   execution, whatever its status or what started it (the weekly schedule, new data, another
   alarm), means a retraining already ran or runs: the function returns ``cooldown`` with that
   execution's ARN and starts nothing. A failed retraining therefore does not loop.
2. Otherwise ``StartPipelineExecution`` with a ``ClientRequestToken`` derived from the pipeline
   name and the cooldown window (``floor(epoch seconds / window seconds)``). Two invocations
   racing in one window (neither sees the other's execution in step 1) send the same token,
   and SageMaker starts one execution for both. If SageMaker rejects the second because its
   other parameters differ (another alarm's name), the error is raised, the retry sees the
   first execution in step 1 and returns ``cooldown``.

Remaining race: two alarms straddling a window boundary (one just before, one just after),
both passing step 1 before either execution exists, get different tokens and start two
executions. That needs two alarms within the time a start takes, exactly at a boundary.

Pipeline parameters: ``TriggerReason`` = ``alarm``, ``TriggerAlarm`` = the alarm name,
``TriggerDetail`` = the alarm's state reason, each cut to the API's 1024 characters; the
execution's display name and description name the alarm.

Returns ``{"status": "started", "execution": arn, "alarm": name}``, ``{"status": "cooldown",
"execution": arn}`` or ``{"status": "ignored", "reason": ...}``. SageMaker errors (throttling,
a missing pipeline, access denied) are raised, so the asynchronous invocation is retried
twice and the event then lands in the dead-letter queue.

Only the standard library, the runtime's boto3 and Powertools for AWS Lambda (its
layer) are used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from handler_common.events import Ignored, unless_ignored
from handler_common.logs import json_logger

STATE_CHANGE = "CloudWatch Alarm State Change"
ALARM = "ALARM"
TRIGGER_REASON = "alarm"
# StartPipelineExecution limits, as SageMaker's API model gives them.
PARAMETER_VALUE_MAX = 1024  # Parameter.Value
DISPLAY_NAME_MAX = 82  # PipelineExecutionDisplayName: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}
DESCRIPTION_MAX = 3072  # PipelineExecutionDescription
# PipelineName, as the API model allows a name (an ARN is not expected here).
_PIPELINE_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}")
# Only the newest execution in the window matters.
_LIST_MAX_RESULTS = 1
_LOGGED_DATAPOINTS = 10


logger = json_logger("retraining_trigger")


def _now() -> datetime:
    """The current time; tests replace it."""
    return datetime.now(UTC)


def _sagemaker_client() -> Any:
    return boto3.client("sagemaker")


@dataclass(frozen=True)
class AlarmChange:
    """What the handler needs from an alarm state change."""

    name: str
    state: str
    reason: str
    timestamp: str | None = None
    previous_state: str | None = None
    actions_suppressed_by: str | None = None
    #: What ``reasonData`` says, in short, or why it could not be read.
    reason_data: dict[str, Any] = field(default_factory=dict)


def parse_alarm_change(event: Any) -> AlarmChange:
    """Extract the state change, or raise :class:`Ignored` naming what is missing or unrelated."""
    if not isinstance(event, Mapping):
        raise Ignored(f"event is a {type(event).__name__}, not an object")
    if event.get("source") != "aws.cloudwatch":
        raise Ignored(f"not a CloudWatch event (source={event.get('source')!r})")
    if "detail-type" in event:
        if event["detail-type"] != STATE_CHANGE:
            raise Ignored(f"not an alarm state change (detail-type={event['detail-type']!r})")
        body = event.get("detail")
        if not isinstance(body, Mapping):
            raise Ignored("event has no detail object")
    elif "alarmData" in event:
        body = event["alarmData"]
        if not isinstance(body, Mapping):
            raise Ignored("alarm action payload has no alarmData object")
    else:
        raise Ignored("event is neither an EventBridge alarm state change nor an alarm action")
    name = body.get("alarmName")
    if not isinstance(name, str) or not name:
        raise Ignored("event names no alarm")
    state = body.get("state")
    if not isinstance(state, Mapping):
        raise Ignored(f"alarm {name!r}: event has no state object")
    value = state.get("value")
    if value != ALARM:
        raise Ignored(f"alarm {name!r} went to {value!r}, not {ALARM}")
    previous = body.get("previousState")
    reason = state.get("reason")
    timestamp = state.get("timestamp")
    suppressed_by = _str_or_none(state.get("actionsSuppressedBy"))
    if suppressed_by is not None and "detail-type" in event:
        raise Ignored(
            f"alarm {name!r}: its actions are suppressed (actionsSuppressedBy={suppressed_by!r}, "
            f"{_str_or_none(state.get('actionsSuppressedReason')) or 'no reason given'}); "
            "CloudWatch runs its own actions if the suppression ends without the suppressor "
            "in ALARM"
        )
    return AlarmChange(
        name=name,
        state=value,
        reason=reason if isinstance(reason, str) else "",
        timestamp=timestamp if isinstance(timestamp, str) else None,
        previous_state=_str_or_none(previous.get("value"))
        if isinstance(previous, Mapping)
        else None,
        actions_suppressed_by=suppressed_by,
        reason_data=summarize_reason_data(state.get("reasonData")),
    )


def summarize_reason_data(raw: Any) -> dict[str, Any]:
    """The parts of ``reasonData`` worth a log line; never raises, never required."""
    if raw is None:
        return {"reasonData": "absent"}
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as error:
        return {"reasonDataError": f"not valid JSON: {error}"}
    if not isinstance(data, Mapping):
        return {"reasonDataError": f"a JSON {type(data).__name__}, not an object"}
    summary = {
        key: data[key]
        for key in ("statistic", "period", "threshold", "startDate", "queryDate")
        if key in data
    }
    datapoints = data.get("recentDatapoints")
    if isinstance(datapoints, list):
        summary["recentDatapoints"] = datapoints[-_LOGGED_DATAPOINTS:]
    triggering = data.get("triggeringAlarms")
    if isinstance(triggering, list):
        summary["triggeringAlarms"] = [
            t.get("arn") for t in triggering if isinstance(t, Mapping) and t.get("arn")
        ]
    return summary


def client_request_token(pipeline_name: str, cooldown: timedelta, now: datetime) -> str:
    """The same token for every start of ``pipeline_name`` in one cooldown window.

    ``retrain-<window index>-<sha256 of pipeline name, window length and index>``: 74 to 81
    characters for any window of a minute or more until the 22nd century, inside the API's
    32 to 128. The window length is hashed too, so changing ``COOLDOWN_MINUTES`` never
    reuses a token of the old windows.
    """
    seconds = int(cooldown.total_seconds())
    window = int(now.timestamp()) // seconds
    digest = hashlib.sha256(f"{pipeline_name}\n{seconds}\n{window}".encode()).hexdigest()
    return f"retrain-{window}-{digest}"


def display_name(alarm_name: str) -> str:
    """``alarm-<alarm name>`` reduced to letters, digits and single hyphens, 82 at most."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", alarm_name).strip("-")
    return f"alarm-{slug}"[:DISPLAY_NAME_MAX].rstrip("-") if slug else "alarm"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when something is cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _one_line(text: str) -> str:
    return re.sub(r"[\r\n\t]+", " ", text)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Settings:
    pipeline_name: str
    alarm_names: frozenset[str]
    cooldown: timedelta


def settings_from_environment() -> Settings:
    """Read and check the settings; a bad one raises :class:`ValueError` naming it."""
    pipeline_name = os.environ.get("PIPELINE_NAME", "").strip()
    if not pipeline_name:
        raise ValueError("PIPELINE_NAME is not set: the function does not know what to start")
    if not _PIPELINE_NAME.fullmatch(pipeline_name):
        raise ValueError(f"PIPELINE_NAME {pipeline_name!r} is not a SageMaker pipeline name")
    alarm_names = frozenset(
        n.strip() for n in os.environ.get("ALARM_NAMES", "").split(",") if n.strip()
    )
    if not alarm_names:
        raise ValueError("ALARM_NAMES is not set: the function would ignore every alarm")
    raw = os.environ.get("COOLDOWN_MINUTES")
    if raw is None or not raw.strip():
        raise ValueError("COOLDOWN_MINUTES is not set: it must be a whole number of minutes > 0")
    try:
        minutes = int(raw.strip())
    except ValueError:
        raise ValueError(
            f"COOLDOWN_MINUTES must be a whole number of minutes > 0, not {raw!r}"
        ) from None
    if minutes <= 0:
        raise ValueError(f"COOLDOWN_MINUTES must be a whole number of minutes > 0, not {raw!r}")
    return Settings(pipeline_name, alarm_names, timedelta(minutes=minutes))


class RetrainingTrigger:
    """Starts one retraining per cooldown window for the configured alarms."""

    def __init__(
        self,
        *,
        sagemaker: Any,
        settings: Settings,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self.sagemaker = sagemaker
        self.settings = settings
        self.now = now

    def trigger(self, change: AlarmChange) -> dict[str, str]:
        settings = self.settings
        if change.name not in settings.alarm_names:
            raise Ignored(f"alarm {change.name!r} is not one of the retraining alarms")
        now = self.now()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        context = {
            "alarm": change.name,
            "pipeline": settings.pipeline_name,
            "previousState": change.previous_state,
            "stateTimestamp": change.timestamp,
            "actionsSuppressedBy": change.actions_suppressed_by,
            **change.reason_data,
        }
        recent = self._newest_execution_since(now - settings.cooldown)
        if recent is not None:
            arn = recent["PipelineExecutionArn"]
            logger.info(
                "retraining in cooldown",
                extra={
                    **context,
                    "execution": arn,
                    "executionStatus": recent.get("PipelineExecutionStatus"),
                    "executionStart": recent.get("StartTime"),
                    "cooldownMinutes": settings.cooldown.total_seconds() / 60,
                },
            )
            return {"status": "cooldown", "execution": arn}
        token = client_request_token(settings.pipeline_name, settings.cooldown, now)
        response = self.sagemaker.start_pipeline_execution(
            PipelineName=settings.pipeline_name,
            PipelineExecutionDisplayName=display_name(change.name),
            PipelineExecutionDescription=truncate(
                _one_line(
                    f"Retraining started by CloudWatch alarm {change.name} entering ALARM"
                    + (f" at {change.timestamp}" if change.timestamp else "")
                ),
                DESCRIPTION_MAX,
            ),
            PipelineParameters=[
                {"Name": "TriggerReason", "Value": TRIGGER_REASON},
                {"Name": "TriggerAlarm", "Value": truncate(change.name, PARAMETER_VALUE_MAX)},
                {"Name": "TriggerDetail", "Value": truncate(change.reason, PARAMETER_VALUE_MAX)},
            ],
            ClientRequestToken=token,
        )
        arn = response["PipelineExecutionArn"]
        logger.info(
            "started retraining", extra={**context, "execution": arn, "clientRequestToken": token}
        )
        return {"status": "started", "execution": arn, "alarm": change.name}

    def _newest_execution_since(self, since: datetime) -> Mapping[str, Any] | None:
        listing = self.sagemaker.list_pipeline_executions(
            PipelineName=self.settings.pipeline_name,
            CreatedAfter=since,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=_LIST_MAX_RESULTS,
        )
        summaries = listing.get("PipelineExecutionSummaries") or []
        return summaries[0] if summaries else None


def trigger_from_environment() -> RetrainingTrigger:
    settings = settings_from_environment()
    return RetrainingTrigger(sagemaker=_sagemaker_client(), settings=settings, now=_now)


# The request id, function and cold start on every line (the event itself is not logged:
# it may name sensitive objects).
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: Any) -> dict[str, str]:
    trigger = trigger_from_environment()  # a configuration error raises, whatever the event
    return unless_ignored(
        event, logger, lambda: trigger.trigger(parse_alarm_change(event)), context
    )

"""How every handler treats events it does not act on, and failures a retry cannot change.

* :class:`Ignored`: the event is not one the function acts on. Log why, change nothing,
  succeed.
* :class:`NonRetryable`: the event is one the function acts on, but the failure is
  deterministic (an object with no room for more tags, an artifact that does not exist, a
  deployed name with other provenance): Lambda's asynchronous retries would fail the same way
  and only delay the alarm. The event goes straight to the function's dead-letter queue
  (``DEAD_LETTER_QUEUE_URL``) with the reason, in the shape of the record Lambda's own
  on-failure destination writes there, and the invocation succeeds so Lambda does not retry.
* Anything else is transient: it propagates, Lambda retries the asynchronous invocation
  (twice) and then its on-failure destination sends the event to the same queue.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger

DEAD_LETTER_QUEUE_URL = "DEAD_LETTER_QUEUE_URL"
#: ``requestContext.condition`` of a record the handler dead-letters itself (Lambda writes
#: ``RetriesExhausted`` or ``EventAgeExceeded``).
NON_RETRYABLE = "NonRetryable"


class Ignored(Exception):
    """The event is not one this function acts on; the message says why."""


class NonRetryable(Exception):
    """A failure no retry can change; the message says why (and what to do)."""


def unless_ignored(
    event: Any,
    logger: Logger,
    work: Callable[[], dict[str, Any]],
    context: Any = None,
) -> dict[str, Any]:
    """Run ``work``; an :class:`Ignored` event is logged and reported, a
    :class:`NonRetryable` failure is sent to the dead-letter queue and reported.

    Both are successes for Lambda: retrying could not change the answer. Every other error
    propagates, so the invocation is retried and then dead-lettered by Lambda.
    """
    try:
        return work()
    except Ignored as reason:
        logger.warning("ignored event", extra={"reason": str(reason), "eventId": event_id(event)})
        return {"status": "ignored", "reason": str(reason)}
    except NonRetryable as failure:
        dead_letter(event, failure, context, logger)
        return {"status": "dead-lettered", "reason": str(failure)}


def dead_letter(event: Any, failure: NonRetryable, context: Any, logger: Logger) -> None:
    """Send ``event`` and the reason to the dead-letter queue; without one, raise ``failure``.

    The record has the fields of Lambda's on-failure destination record, so whoever drains
    the queue reads one shape: ``requestContext.condition`` is ``NonRetryable`` and
    ``responsePayload`` holds the error type and message.
    """
    url = os.environ.get(DEAD_LETTER_QUEUE_URL)
    if not url:
        # Not wired (a test, another stack): Lambda's retries and destination still apply.
        raise failure
    record = {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "requestContext": {
            "requestId": getattr(context, "aws_request_id", None),
            "functionArn": getattr(context, "invoked_function_arn", None),
            "condition": NON_RETRYABLE,
            "approximateInvokeCount": 1,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"errorType": type(failure).__name__, "errorMessage": str(failure)},
    }
    # A failed send raises: the invocation is then retried like any transient failure.
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))
    logger.error(
        "not retryable: sent to the dead-letter queue",
        extra={
            "reason": str(failure),
            "errorType": type(failure).__name__,
            "eventId": event_id(event),
        },
    )


def event_detail(event: Any, source: str, detail_type: str, what: str) -> Mapping[str, Any]:
    """The ``detail`` of an EventBridge event from ``source`` with ``detail_type``, or
    :class:`Ignored` naming what is wrong (``what`` names the expected event in the reason)."""
    if not isinstance(event, Mapping):
        raise Ignored(f"event is a {type(event).__name__}, not an object")
    if event.get("source") != source or event.get("detail-type") != detail_type:
        raise Ignored(
            f"not a {what} event (source={event.get('source')!r}, "
            f"detail-type={event.get('detail-type')!r})"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise Ignored("event has no detail object")
    return detail


def event_id(event: Any) -> str | None:
    """The event's id (EventBridge), or the alarm's ARN (an alarm's Lambda action)."""
    if not isinstance(event, Mapping):
        return None
    return event.get("id") or event.get("alarmArn")

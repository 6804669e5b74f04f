"""How every handler treats events it does not act on: log why, change nothing, succeed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any


class Ignored(Exception):
    """The event is not one this function acts on; the message says why."""


def unless_ignored(
    event: Any, logger: logging.Logger, work: Callable[[], dict[str, str]]
) -> dict[str, str]:
    """Run ``work``; if it raises :class:`Ignored`, log the reason and report it.

    An ignored event is a success for Lambda: retrying it could not change the answer.
    Every other error propagates, so the invocation is retried and then dead-lettered.
    """
    try:
        return work()
    except Ignored as reason:
        logger.warning("ignored event", extra={"reason": str(reason), "eventId": event_id(event)})
        return {"status": "ignored", "reason": str(reason)}


def event_id(event: Any) -> str | None:
    """The event's id (EventBridge), or the alarm's ARN (an alarm's Lambda action)."""
    if not isinstance(event, Mapping):
        return None
    return event.get("id") or event.get("alarmArn")

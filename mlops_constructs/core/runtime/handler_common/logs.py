"""The handlers' logger: Powertools for AWS Lambda (Python), from the layer AWS publishes.

Every function gets the Powertools layer (``core/event_function.py`` adds it, its ARN resolved
at deploy time from the public SSM parameter of the pinned version); the tests install the
same version (``requirements-dev.txt``).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger


def json_logger(name: str) -> Logger:
    """A Powertools ``Logger`` with service ``name``: one JSON object per line on stdout.

    Each line has the level, message, timestamp, service and location, the ``extra`` fields
    given to the call, and, in a handler decorated with ``logger.inject_lambda_context``, the
    function's name, ARN, memory, request id and whether the start was cold. The level is
    ``LOG_LEVEL`` (INFO by default; ``POWERTOOLS_LOG_LEVEL``, or the function's own log
    level, wins when set).
    """
    return Logger(service=name)

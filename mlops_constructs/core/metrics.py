"""The ``cloudwatch.MetricOptions`` a construct's ``metric_*`` methods accept.

The methods spell the options out as keyword-only parameters, as aws-cdk's own Python
methods do (type checkers and editors see them), and hand ``locals()`` to
:func:`metric_options`, which keeps the ones given, so each option is not written out twice
per method.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

#: The ``cloudwatch.MetricOptions`` fields, the keyword-only parameters of every metric method.
METRIC_OPTIONS = (
    "account",
    "color",
    "dimensions_map",
    "id",
    "label",
    "period",
    "region",
    "stack_account",
    "stack_region",
    "statistic",
    "unit",
    "visible",
)


def metric_options(given: Mapping[str, Any], **defaults: Any) -> dict[str, Any]:
    """The options in ``given`` (a method's ``locals()``) that are not None, over
    ``defaults``. ``dimensions_map`` is merged over the default dimensions, so a caller adds
    a dimension without losing the ones that name the resource."""
    options = dict(defaults)
    for name in METRIC_OPTIONS:
        value = given.get(name)
        if value is None:
            continue
        if name == "dimensions_map":
            value = {**options.get("dimensions_map", {}), **value}
        options[name] = value
    return options


class EventFunctionMetrics:
    """``metric_*`` methods of a construct around an event-driven function: its
    ``function`` (``lambda_.Function``) and ``dead_letter_queue`` (``sqs.Queue``)."""

    function: lambda_.Function
    dead_letter_queue: sqs.IQueue

    def metric_errors(
        self,
        *,
        account: str | None = None,
        color: str | None = None,
        dimensions_map: dict[str, str] | None = None,
        label: str | None = None,
        period: Duration | None = None,
        region: str | None = None,
        statistic: str | None = None,
        unit: cloudwatch.Unit | None = None,
        id: str | None = None,
        stack_account: str | None = None,
        stack_region: str | None = None,
        visible: bool | None = None,
    ) -> cloudwatch.Metric:
        """Invocations of the function that failed (each retry counts): ``Sum`` over
        5 minutes by default, as aws-cdk's ``Function.metric_errors``."""
        return self.function.metric_errors(**metric_options(locals()))

    def metric_invocations(
        self,
        *,
        account: str | None = None,
        color: str | None = None,
        dimensions_map: dict[str, str] | None = None,
        label: str | None = None,
        period: Duration | None = None,
        region: str | None = None,
        statistic: str | None = None,
        unit: cloudwatch.Unit | None = None,
        id: str | None = None,
        stack_account: str | None = None,
        stack_region: str | None = None,
        visible: bool | None = None,
    ) -> cloudwatch.Metric:
        """Invocations of the function: ``Sum`` over 5 minutes by default."""
        return self.function.metric_invocations(**metric_options(locals()))

    def metric_dead_letter_queue_depth(
        self,
        *,
        account: str | None = None,
        color: str | None = None,
        dimensions_map: dict[str, str] | None = None,
        label: str | None = None,
        period: Duration | None = None,
        region: str | None = None,
        statistic: str | None = None,
        unit: cloudwatch.Unit | None = None,
        id: str | None = None,
        stack_account: str | None = None,
        stack_region: str | None = None,
        visible: bool | None = None,
    ) -> cloudwatch.Metric:
        """Events that failed for good, waiting in the dead-letter queue
        (``ApproximateNumberOfMessagesVisible``): ``Maximum`` over 5 minutes by default, so
        one message shows."""
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible(
            **metric_options(locals(), statistic="Maximum")
        )

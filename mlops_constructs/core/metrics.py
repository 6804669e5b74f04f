"""The ``cloudwatch.MetricOptions`` a construct's ``metric_*`` methods accept.

Every method takes them as typed keyword arguments, ``**options: Unpack[MetricOptionsArgs]``
(PEP 692): type checkers and editors see each option's name and type, as with aws-cdk's
own methods, without the twelve parameters being written out again in every method.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs


class MetricOptionsArgs(TypedDict, total=False):
    """The fields of ``cloudwatch.MetricOptions``, as keyword arguments of a metric method;
    each is the construct's default for that metric when not given."""

    account: str
    color: str
    dimensions_map: Mapping[str, str]
    id: str
    label: str
    period: Duration
    region: str
    stack_account: str
    stack_region: str
    statistic: str
    unit: cloudwatch.Unit
    visible: bool


#: The option names (the keys of :class:`MetricOptionsArgs`).
METRIC_OPTIONS = tuple(MetricOptionsArgs.__annotations__)


def metric_options(given: Mapping[str, Any], **defaults: Any) -> dict[str, Any]:
    """The options in ``given`` (a method's ``**options``) that are not None, over
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
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Invocations of the function that failed (each retry counts): ``Sum`` over
        5 minutes by default, as aws-cdk's ``Function.metric_errors``."""
        return self.function.metric_errors(**metric_options(options))

    def metric_invocations(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Invocations of the function: ``Sum`` over 5 minutes by default."""
        return self.function.metric_invocations(**metric_options(options))

    def metric_dead_letter_queue_depth(
        self,
        **options: Unpack[MetricOptionsArgs],
    ) -> cloudwatch.Metric:
        """Events that failed for good, waiting in the dead-letter queue
        (``ApproximateNumberOfMessagesVisible``): ``Maximum`` over 5 minutes by default, so
        one message shows."""
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible(
            **metric_options(options, statistic="Maximum")
        )

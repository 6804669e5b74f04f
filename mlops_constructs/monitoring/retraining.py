"""Retraining when a monitoring alarm fires."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Fn, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_constructs.core.event_function import event_function
from mlops_constructs.core.metrics import EventFunctionMetrics
from mlops_constructs.core.validation import PropsCheck


class RetrainingTrigger(EventFunctionMetrics, Construct):
    """Starts a training pipeline when one of ``alarms`` goes into ALARM.

    * An EventBridge rule: ``aws.cloudwatch`` / ``CloudWatch Alarm State Change`` into
      ``ALARM`` for exactly these alarms.
    * A Lambda function (``monitoring/runtime/retraining_trigger``) that starts ``pipeline_name``
      with ``TriggerReason`` ``alarm`` and the alarm's name and reason as ``TriggerAlarm`` and
      ``TriggerDetail``, at most once per ``cooldown_minutes`` (360) whatever started the
      last run, ignores other transitions and alarms, ignores state changes whose actions
      CloudWatch suppressed (``actionsSuppressedBy``: a composite alarm's suppressor or its
      wait or extension period), and logs and ignores malformed events.
      Failed invocations are retried twice, then go to a KMS-encrypted dead-letter queue.
      Its role may list and start executions of that one pipeline only.

    ``alarms`` are ``cloudwatch.IAlarm`` (an ``Alarm``, ``CompositeAlarm`` or one imported
    with ``Alarm.from_alarm_arn``) or ``CfnAlarm`` (as :class:`ModelMonitor` makes).
    Defaults: ``cooldown_minutes`` 360, ``log_retention`` one year, ``removal_policy``
    RETAIN. ``metric_errors``, ``metric_invocations`` and
    ``metric_dead_letter_queue_depth`` take the ``cloudwatch.MetricOptions`` as keyword-only
    options.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        alarms: Sequence[cloudwatch.IAlarm | cloudwatch.CfnAlarm],
        pipeline_name: str,
        pipeline_arn: str,
        logs_key: kms.IKey,
        cooldown_minutes: int = 360,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        check = PropsCheck("RetrainingTrigger")
        check.require(bool(alarms), "alarms", [], "expected at least one alarm")
        check.require(
            1 <= cooldown_minutes <= 43200,
            "cooldown_minutes",
            cooldown_minutes,
            "expected 1 to 43200 (30 days)",
        )
        check.raise_if_any()
        handler = event_function(
            self,
            handler="retraining_trigger",
            description=f"Starts the {pipeline_name} pipeline when a drift alarm fires",
            logs_key=logs_key,
            environment={
                "PIPELINE_NAME": pipeline_name,
                "ALARM_NAMES": Fn.join(",", [_alarm_name(a) for a in alarms]),
                "COOLDOWN_MINUTES": str(cooldown_minutes),
            },
            timeout=Duration.minutes(1),
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.function = handler.function
        self.dead_letter_queue = handler.dead_letter_queue
        handler.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="StartRetraining",
                actions=[
                    "sagemaker:ListPipelineExecutions",
                    "sagemaker:StartPipelineExecution",
                ],
                resources=[pipeline_arn],
            )
        )
        self.rule = handler.add_rule(
            self,
            "AlarmStateChange",
            description=f"Drift alarms -> retrain {pipeline_name}",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                resources=[_alarm_arn(a) for a in alarms],
                detail={"state": {"value": ["ALARM"]}},
            ),
        )


def _alarm_name(alarm: cloudwatch.IAlarm | cloudwatch.CfnAlarm) -> str:
    # An AWS::CloudWatch::Alarm's Ref is its name.
    return alarm.ref if isinstance(alarm, cloudwatch.CfnAlarm) else alarm.alarm_name


def _alarm_arn(alarm: cloudwatch.IAlarm | cloudwatch.CfnAlarm) -> str:
    return alarm.attr_arn if isinstance(alarm, cloudwatch.CfnAlarm) else alarm.alarm_arn

"""The shape every event-driven platform Lambda shares: bounded retries, a dead-letter queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs.core.cfn_fixes import ignore_cfn_lint
from mlops_constructs.core.nag import acknowledge_basic_execution_policy, acknowledge_wildcards
from mlops_constructs.core.sources import handler_code

#: The Powertools for AWS Lambda (Python) release the functions run, from the layer AWS
#: publishes; ``requirements-dev.txt`` pins the same release for the handlers' tests.
POWERTOOLS_VERSION = "3.37.0"


def powertools_layer_parameter(
    runtime: lambda_.Runtime, architecture: lambda_.Architecture, version: str = POWERTOOLS_VERSION
) -> str:
    """The public SSM parameter holding the ARN of AWS's Powertools layer for ``runtime``,
    ``architecture`` and ``version``: ``/aws/service/powertools/python/<architecture>/
    <runtime>/<version>``, e.g. ``.../x86_64/python3.14/3.37.0`` (Powertools for AWS Lambda
    (Python), "Installation", "Lambda Layer": "Using SSM Parameter Store"; AWS writes one
    parameter per release, and ``latest``, in every region it publishes the layer to).
    """
    return f"/aws/service/powertools/python/{architecture.name}/{runtime.name}/{version}"


@dataclass
class EventFunction:
    """A Lambda handler of a capability's ``runtime/`` wired for EventBridge, made by
    :func:`event_function`."""

    function: lambda_.Function
    role: iam.IRole
    dead_letter_queue: sqs.Queue

    def add_rule(
        self,
        scope: Construct,
        id: str,
        *,
        description: str,
        event_pattern: events.EventPattern,
    ) -> events.Rule:
        """An EventBridge rule for ``event_pattern`` that invokes the function; events
        EventBridge cannot deliver after 4 retries (or 6 hours) go to the dead-letter queue."""
        return events.Rule(
            scope,
            id,
            description=description,
            event_pattern=event_pattern,
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=4,
                    max_event_age=Duration.hours(6),
                )
            ],
        )


def event_function(
    scope: Construct,
    *,
    handler: str,
    description: str,
    logs_key: kms.IKey,
    environment: Mapping[str, str],
    timeout: Duration,
    memory_size: int = 256,
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    reserved_concurrency: int | None = None,
) -> EventFunction:
    """Make ``DeadLetterQueue``, ``LogGroup`` and ``Function`` in ``scope`` for ``handler``.

    * The function: Python 3.14, code ``<capability>/runtime/<handler>`` plus ``handler_common``,
      ``LOG_LEVEL`` INFO, JSON logs in its own log group encrypted with ``logs_key`` and
      kept ``log_retention``. Asynchronous invocations are retried twice and dropped after
      6 hours; either way a failed event lands in the dead-letter queue. A failure no retry
      can change is sent there by the handler itself, at once (``DEAD_LETTER_QUEUE_URL``,
      see ``handler_common.events.NonRetryable``). With
      ``reserved_concurrency``, at most that many invocations run at once (the account must
      keep 10 unreserved: new accounts with a concurrency quota of 10 cannot reserve any).
    * Powertools for AWS Lambda (Python) :data:`POWERTOOLS_VERSION`, as the layer AWS
      publishes: its ARN is read at deploy time from the public SSM parameter of that release
      (:func:`powertools_layer_parameter`, a template parameter of type
      ``AWS::SSM::Parameter::Value<String>``), so synthesis looks nothing up and the code
      asset stays the handler's folder plus ``handler_common``.
    * The dead-letter queue: SQS, encrypted with ``logs_key``, TLS only, 14 days.
    """
    dead_letter_queue = sqs.Queue(
        scope,
        "DeadLetterQueue",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=logs_key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    Validations.of(dead_letter_queue).acknowledge(
        Acknowledgment(
            id="AwsSolutions::AwsSolutions-SQS3",
            reason=f"This queue is the dead-letter queue of the {handler} function and rule.",
        )
    )
    log_group = logs.LogGroup(
        scope,
        "LogGroup",
        encryption_key=logs_key,
        retention=log_retention,
        removal_policy=removal_policy,
    )
    function = lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler=f"{handler}.index.handler",
        code=handler_code(handler),
        timeout=timeout,
        memory_size=memory_size,
        log_group=log_group,
        # The handler dead-letters a deterministic failure itself (no retry can change it);
        # the on-failure destination below grants the send.
        environment={
            **environment,
            "LOG_LEVEL": "INFO",
            "DEAD_LETTER_QUEUE_URL": dead_letter_queue.queue_url,
        },
        retry_attempts=2,
        max_event_age=Duration.hours(6),
        on_failure=destinations.SqsDestination(dead_letter_queue),
        reserved_concurrent_executions=reserved_concurrency,
    )
    # A public AWS layer: reading it needs no permission of the function's role.
    function.add_layers(
        lambda_.LayerVersion.from_layer_version_arn(
            scope,
            "PowertoolsLayer",
            ssm.StringParameter.value_for_string_parameter(
                scope, powertools_layer_parameter(function.runtime, function.architecture)
            ),
        )
    )
    role = function.role
    assert role is not None
    acknowledge_wildcards(
        role,
        "aws-cdk-lib's SQS on-failure destination grants these KMS actions for the "
        "dead-letter queue's key only (the statement names that one key).",
        actions=["kms:GenerateDataKey*", "kms:ReEncrypt*"],
    )
    acknowledge_basic_execution_policy(
        role,
        "The AWS managed basic execution policy lets the function write its own CloudWatch "
        "logs; everything else it may do is in its scoped inline policy.",
    )
    function_resource = function.node.default_child
    assert isinstance(function_resource, lambda_.CfnFunction)
    ignore_cfn_lint(
        function_resource,
        "W3005",
        "aws-cdk-lib's Function depends on its role and its role's policy; the policy "
        "dependency matters (permissions before the first invocation), the role one is "
        "redundant with the GetAtt, and the construct offers no way to drop only it.",
    )
    return EventFunction(function=function, role=role, dead_letter_queue=dead_letter_queue)

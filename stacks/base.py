"""The base class of the platform's stacks."""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Aspects, Fn, IAspect, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from stacks.config import EnvironmentConfig


class PlatformStack(Stack):
    """A stack of one environment that never looks up its availability zones.

    A stack with an explicit account and region normally asks AWS for its zone names (the
    ``availability-zones`` context lookup). Platform stacks answer from config instead: the
    zones the config pins, or ``Fn::GetAZs`` selections that CloudFormation resolves at
    deploy time, so synthesis stays offline and no zone name is hard-coded.

    The CloudFormation stack name is ``<environment>-<id>`` (e.g. ``prod-Lake``) wherever the
    stage sits, so a stage deployed by hand and the same stage deployed by the delivery
    pipeline are the same stacks.
    """

    def __init__(
        self, scope: Construct, id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        self._zones = config.pinned_availability_zones or [
            Fn.select(i, Fn.get_azs()) for i in range(config.network.max_azs)
        ]
        kwargs.setdefault("stack_name", f"{config.name}-{id}")
        super().__init__(scope, id, **kwargs)
        self.config = config

    @property
    def availability_zones(self) -> list[str]:
        return list(self._zones)

    def notifications_topic(self, logs_key: kms.IKey, what: str) -> sns.Topic:
        """The stack's ``Notifications`` topic for alarms, summaries and failures: SNS,
        encrypted with ``logs_key`` (whose key policy lets CloudWatch and EventBridge encrypt),
        TLS only.

        Its policy lets ``cloudwatch.amazonaws.com`` publish on behalf of exactly the alarms of
        this stack whose actions name the topic, and ``events.amazonaws.com`` on behalf of
        exactly the rules of this stack that target it; both are found when the template is
        written, so alarms and rules added later to the stack are covered.
        """
        topic = sns.Topic(
            self,
            "Notifications",
            display_name=f"ML platform {self.config.name}: {what}",
            master_key=logs_key,
            enforce_ssl=True,
        )
        policy = topic.node.find_child("Policy").node.default_child
        assert isinstance(policy, sns.CfnTopicPolicy)
        # enforce_ssl writes a topic policy, and a topic policy replaces SNS's default one:
        # without these statements no alarm notification is ever delivered. The SNS target of
        # an EventBridge rule adds an unconditioned events.amazonaws.com grant, replaced here by
        # one scoped to the rules. See "Amazon SNS access policy use cases" and "EventBridge
        # resource-based policies: Amazon SNS permissions".
        Aspects.of(policy).add(_AllowPublishers(self, topic))
        return topic


@jsii.implements(IAspect)
class _AllowPublishers:
    """Completes the topic's policy with the stack's publishing alarms and rules once the
    stack is built (aspects run before the template is written)."""

    def __init__(self, stack: Stack, topic: sns.Topic) -> None:
        self._stack, self._topic = stack, topic

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, sns.CfnTopicPolicy):
            node.add_property_override("PolicyDocument.Statement", self._statements(node))

    def _statements(self, policy: sns.CfnTopicPolicy) -> list[dict[str, Any]]:
        stack, topic = self._stack, self._topic
        arn = stack.resolve(topic.topic_arn)

        def names_topic(*actions: Any) -> bool:
            return any(arn in (stack.resolve(a) or []) for a in actions)

        alarms = [
            stack.resolve(c.attr_arn)
            for c in stack.node.find_all()
            if isinstance(c, cloudwatch.CfnAlarm | cloudwatch.CfnCompositeAlarm)
            and names_topic(c.alarm_actions, c.ok_actions, c.insufficient_data_actions)
        ]
        rules = [
            stack.resolve(c.attr_arn)
            for c in stack.node.find_all()
            if isinstance(c, events.CfnRule)
            and any(arn in (t.get("arn"), t.get("Arn")) for t in stack.resolve(c.targets) or [])
        ]
        service = {"Service": "events.amazonaws.com"}
        # Everything CDK put in the policy (the TLS deny, grants to other principals) stays,
        # but the unconditioned EventBridge grant.
        kept = [
            s
            for s in stack.resolve(policy.policy_document)["Statement"]
            if not (s.get("Principal") == service and "Condition" not in s)
        ]
        publish = {"Effect": "Allow", "Action": "sns:Publish", "Resource": arn}
        if alarms:
            kept.append(
                publish
                | {
                    "Sid": "AllowAlarmsOfThisStack",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {"aws:SourceArn": alarms},
                    },
                }
            )
        if rules:
            kept.append(
                publish
                | {
                    "Sid": "AllowRulesOfThisStack",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Condition": {"ArnEquals": {"aws:SourceArn": rules}},
                }
            )
        return kept

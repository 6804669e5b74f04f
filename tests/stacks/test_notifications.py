"""The Notifications topics: CloudWatch alarms and EventBridge rules that publish to a topic are
allowed to by its policy, only on behalf of this account's own alarms and rules, over TLS, and
the topics' KMS key lets those services encrypt."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import resources_of_type

ENVS = ("dev", "staging", "prod")
STACKS = ("Serving", "Monitoring", "Protection")


def _topic(template: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    (topic_id,) = resources_of_type(template, "AWS::SNS::Topic")
    (policy,) = resources_of_type(template, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    return topic_id, policy["Properties"]["PolicyDocument"]["Statement"]


def _publishers(template: dict[str, Any], topic_id: str) -> tuple[list[str], list[str]]:
    """The alarms and rules of the template whose actions or targets are the topic."""
    ref = {"Ref": topic_id}
    alarms = [
        lid
        for lid, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items()
        if ref in alarm["Properties"].get("AlarmActions", [])
        or ref in alarm["Properties"].get("OKActions", [])
    ]
    rules = [
        lid
        for lid, rule in resources_of_type(template, "AWS::Events::Rule").items()
        if any(t["Arn"] == ref for t in rule["Properties"].get("Targets", []))
    ]
    return alarms, rules


def _service_statements(statements: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    return [
        s
        for s in statements
        if s["Effect"] == "Allow" and s.get("Principal") == {"Service": service}
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("stack", STACKS)
def test_each_alarm_publishing_to_the_topic_is_allowed_by_its_policy(platform, env, stack):
    template = platform.template(env, stack)
    topic_id, statements = _topic(template)
    alarms, _ = _publishers(template, topic_id)
    allowed = _service_statements(statements, "cloudwatch.amazonaws.com")
    if not alarms:
        assert allowed == []  # nothing to allow: no alarm publishes here
        return
    (statement,) = allowed
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == {"Ref": topic_id}
    account = platform.config.environment(env).account
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    sources = _as_list(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert sorted(s["Fn::GetAtt"][0] for s in sources) == sorted(alarms)
    assert all(s["Fn::GetAtt"][1] == "Arn" for s in sources)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("stack", STACKS)
def test_each_rule_targeting_the_topic_is_allowed_and_no_other(platform, env, stack):
    _check_rule_statements(platform.template(env, stack))


def test_model_monitor_failures_reach_the_topic_through_an_allowed_rule(model_monitor_app):
    # Model Monitor's failed executions go to the topic through a rule (the engine reports
    # failures with an alarm instead): the rule branch of the topic policy, exercised.
    template = model_monitor_app.template("staging", "Monitoring")
    assert _publishers(template, _topic(template)[0])[1]
    _check_rule_statements(template)


def _check_rule_statements(template: dict[str, Any]) -> None:
    topic_id, statements = _topic(template)
    _, rules = _publishers(template, topic_id)
    allowed = _service_statements(statements, "events.amazonaws.com")
    if not rules:
        assert allowed == []
        return
    # One statement, scoped to the exact rules: no rule of another account or stack may
    # publish through EventBridge (the unconditioned grant of the SNS target is replaced).
    (statement,) = allowed
    assert statement["Action"] == "sns:Publish"
    sources = _as_list(statement["Condition"]["ArnEquals"]["aws:SourceArn"])
    assert sorted(s["Fn::GetAtt"][0] for s in sources) == sorted(rules)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("stack", STACKS)
def test_topic_policy_keeps_tls_only_and_grants_nothing_unconditioned(platform, env, stack):
    _, statements = _topic(platform.template(env, stack))
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for statement in statements:
        if statement["Effect"] == "Allow":
            assert statement.get("Condition"), statement


def test_serving_and_monitoring_alarms_do_publish_somewhere(platform):
    # The publishers found above are real: the serving and monitoring stacks have alarms.
    for stack in ("Serving", "Monitoring"):
        template = platform.template("prod", stack)
        topic_id, _ = _topic(template)
        alarms, _ = _publishers(template, topic_id)
        assert alarms, stack


@pytest.mark.parametrize("env", ENVS)
def test_topic_key_lets_cloudwatch_and_eventbridge_encrypt(platform, env):
    template = platform.template(env, "Security")
    needed = {"kms:Decrypt", "kms:GenerateDataKey*"}
    found = {}
    for key in resources_of_type(template, "AWS::KMS::Key").values():
        for s in key["Properties"]["KeyPolicy"]["Statement"]:
            services = _as_list((s.get("Principal") or {}).get("Service", []))
            for service in services:
                if s["Effect"] == "Allow" and needed <= set(_as_list(s["Action"])):
                    found.setdefault(service, 0)
                    found[service] += 1
    assert found.get("cloudwatch.amazonaws.com") and found.get("events.amazonaws.com"), found

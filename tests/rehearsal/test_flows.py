"""The run-time data flows of every environment, evaluated against the synthesized policies.

Each flow (see ``flows.py``) must be allowed by the identity, resource and KMS key policies
of the synthesized templates. The negative controls break a copy of the policies the way a
real defect would (no ``s3:ListBucket`` for a prefix input, no CloudWatch allow in a topic
policy, no key policy statement for a service, an explicit deny, a handler's dead-letter
send without its grant of the queue's key) and check that the same evaluation then reports
the flow denied, for that reason. Every evaluation of the module, controls included, runs in
one Node.js process.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.conftest import ENVIRONMENTS
from tests.rehearsal.flows import (
    FINDING_ID,
    FLAGGED_TAG_KEY,
    Assembly,
    Evaluation,
    Flow,
    FlowResult,
    ForeignRole,
    Policies,
    Request,
    Role,
    all_flows,
    evaluate,
    report,
)

#: Every kind of flow each environment of config/ must have (an empty kind would pass
#: vacuously).
KINDS = (
    "pipeline-input",
    "pipeline-output",
    "endpoint",
    "deployer",
    "remediation",
    "retraining",
    "monitoring",
    "macie",
    "alarm",
    "event",
    "dead-letter",
)
#: Kinds only some environments have (registry readers: where the config names them).
OPTIONAL_KINDS = ("registry-reader",)
#: The environment the negative controls break copies of.
CONTROL_ENV = "dev"


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def without_actions(policies: Policies, role_arn: str, pattern: str) -> None:
    """Remove every action matching ``pattern`` (and wildcards covering it) from the Allow
    statements of ``role_arn``'s identity policies."""
    for attached in policies.identity[role_arn]:
        kept = []
        for statement in _statements(attached["policy"]):
            if statement.get("Effect") == "Allow":
                actions = [
                    a
                    for a in _as_list(statement.get("Action", []))
                    if not fnmatch.fnmatchcase(pattern.lower(), a.lower())
                ]
                if not actions:
                    continue
                statement["Action"] = actions
            kept.append(statement)
        attached["policy"]["Statement"] = kept


def _names_service(statement: dict[str, Any], service: str) -> bool:
    principal = statement.get("Principal", {})
    return isinstance(principal, dict) and service in _as_list(principal.get("Service", []))


def without_service(document: dict[str, Any], service: str) -> None:
    """Drop the statements of a resource or key policy that name ``service``."""
    document["Statement"] = [s for s in _statements(document) if not _names_service(s, service)]


def topics_notified_by_alarms(flows: list[Flow]) -> set[str]:
    return {
        request.resource
        for flow in flows
        if flow.kind == "alarm"
        for request in flow.requests
        if request.action == "sns:Publish"
    }


def allow_cloudwatch(policies: Policies, topic: str) -> None:
    """The topic policy statement the notifications fix is expected to add."""
    policy = policies.resource.setdefault(topic, {"Version": "2012-10-17", "Statement": []})
    account, region = policies.assembly.account, policies.assembly.region
    policy["Statement"].append(
        {
            "Sid": "RehearsalAllowCloudWatchAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:*"},
            },
        }
    )


def _pipeline_role(policies: Policies) -> str:
    a = policies.assembly
    (stack, _, pipeline), *_ = list(a.resources("AWS::SageMaker::Pipeline"))
    return str(a.props(stack, pipeline)["RoleArn"])


def _endpoint_reader(flows: list[Flow]) -> tuple[str, str]:
    """The execution role and the bucket of the endpoint's model reads (a multi-model
    endpoint's, or an inference-component endpoint's, whichever the environment has)."""
    for flow in flows:
        for request in flow.requests:
            if flow.kind == "endpoint" and request.action == "s3:GetObject":
                assert isinstance(request.principal, Role)
                bucket = request.resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
                return request.principal.arn, bucket
    raise AssertionError("no endpoint flow reads a model in the assembly")


Control = Callable[[Policies, list[Flow]], "list[Flow] | None"]


def _control_no_list_bucket(policies: Policies, flows: list[Flow]) -> None:
    without_actions(policies, _pipeline_role(policies), "s3:ListBucket")


def _control_topic_without_cloudwatch(policies: Policies, flows: list[Flow]) -> None:
    for topic in topics_notified_by_alarms(flows):
        without_service(policies.resource[topic], "cloudwatch.amazonaws.com")


def _control_topic_with_cloudwatch(policies: Policies, flows: list[Flow]) -> None:
    for topic in topics_notified_by_alarms(flows):
        allow_cloudwatch(policies, topic)


def _control_key_without_cloudwatch(policies: Policies, flows: list[Flow]) -> None:
    _control_topic_with_cloudwatch(policies, flows)
    for topic in topics_notified_by_alarms(flows):
        key = policies.key_arn(policies.encryption_keys[topic])
        assert key is not None, f"{topic} is not encrypted"
        without_service(policies.resource[key], "cloudwatch.amazonaws.com")


def _control_explicit_deny(policies: Policies, flows: list[Flow]) -> None:
    role, bucket = _endpoint_reader(flows)
    policies.resource[f"arn:aws:s3:::{bucket}"]["Statement"].append(
        {
            "Sid": "RehearsalDenyEndpointRole",
            "Effect": "Deny",
            "Principal": {"AWS": role},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )


def _control_key_without_root(policies: Policies, flows: list[Flow]) -> None:
    """The keys stop delegating to IAM: the statement for the account root goes."""
    root = f"arn:aws:iam::{policies.assembly.account}:root"
    for arn, document in policies.resource.items():
        if arn.startswith("arn:aws:kms:"):
            document["Statement"] = [
                s
                for s in _statements(document)
                if root not in _as_list(s.get("Principal", {}).get("AWS", []))
            ]


def handler_dead_letters(flows: list[Flow]) -> list[Flow]:
    """The flows in which a handler sends a non-retryable failure to its dead-letter queue
    itself (``handler_common.events.dead_letter``), with the function's role."""
    return [
        flow
        for flow in flows
        if flow.kind in ("deployer", "remediation")
        and any(r.action == "sqs:SendMessage" for r in flow.requests)
    ]


def without_key_grants(policies: Policies, role_arn: str, key_arn: str) -> None:
    """Drop ``key_arn`` from the Allow statements of ``role_arn``'s identity policies (a
    statement naming only that key goes)."""
    for attached in policies.identity[role_arn]:
        kept = []
        for statement in _statements(attached["policy"]):
            resources = _as_list(statement.get("Resource", []))
            if statement.get("Effect") == "Allow" and key_arn in resources:
                resources = [r for r in resources if r != key_arn]
                if not resources:
                    continue
                statement["Resource"] = resources
            kept.append(statement)
        attached["policy"]["Statement"] = kept


def _control_dead_letter_without_queue_key(policies: Policies, flows: list[Flow]) -> None:
    """The roles that dead-letter failures themselves lose their grant of the queue's key
    (the queue grant, ``sqs:SendMessage``, stays)."""
    for flow in handler_dead_letters(flows):
        send = next(r for r in flow.requests if r.action == "sqs:SendMessage")
        key = policies.key_arn(policies.encryption_keys[send.resource])
        assert key is not None, f"{send.resource} is not encrypted"
        assert isinstance(send.principal, Role)
        without_key_grants(policies, send.principal.arn, key)


def _reader_flows(flows: list[Flow]) -> list[Flow]:
    readers = [f for f in flows if f.kind == "registry-reader"]
    assert readers, "the control environment has no registry readers"
    return readers


def _control_reader_shared(policies: Policies, flows: list[Flow]) -> list[Flow]:
    """The bucket and key policies name the reader accounts (what sharing must add)."""
    readers = _reader_flows(flows)
    for flow in readers:
        account = flow.requests[0].principal.account
        for request in flow.requests[1:]:
            service = request.action.split(":", 1)[0]
            if service == "s3":
                target = (
                    "arn:aws:s3:::" + request.resource.removeprefix("arn:aws:s3:::").split("/")[0]
                )
            else:
                target = request.resource
            policies.resource[target]["Statement"].append(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": request.action,
                    "Resource": request.resource if service == "s3" else "*",
                }
            )
    return readers


def _control_reader_shared_without_identity(policies: Policies, flows: list[Flow]) -> list[Flow]:
    """As above, but the reader's account grants its role nothing: cross-account, the
    resource policies alone do not suffice."""
    readers = _control_reader_shared(policies, flows)
    stripped = []
    for flow in readers:
        requests = [
            replace(
                r,
                principal=replace(r.principal, policy='{"Version": "2012-10-17", "Statement": []}'),
            )
            if isinstance(r.principal, ForeignRole)
            else r
            for r in flow.requests
        ]
        stripped.append(replace(flow, requests=requests))
    return stripped


def _flagged_requests(flow: Flow) -> list[Request]:
    """The requests of ``flow`` on an object version a finding has flagged."""
    return [r for r in flow.requests if FLAGGED_TAG_KEY in r.context]


def _control_remediation_heads_flagged(policies: Policies, flows: list[Flow]) -> list[Flow]:
    """The remediation's flows on a flagged version, with each read of its tags made a
    HeadObject (authorised as ``s3:GetObject``) instead, as the handler once found the
    scanned version: the policies stay those of the real templates."""
    headed = []
    for flow in flows:
        if flow.kind == "remediation" and _flagged_requests(flow):
            requests = [
                replace(r, action="s3:GetObject", context={FLAGGED_TAG_KEY: FINDING_ID})
                if FLAGGED_TAG_KEY in r.context
                else r
                for r in flow.requests
            ]
            headed.append(replace(flow, requests=requests))
    assert headed, "no remediation flow acts on a flagged version"
    return headed


def _control_publisher_other_namespace(policies: Policies, flows: list[Flow]) -> list[Flow]:
    """The metrics publisher's flows with the metrics put into another namespace than its
    own: the policies stay those of the real templates."""
    moved = []
    for flow in flows:
        if any(r.action == "cloudwatch:PutMetricData" for r in flow.requests):
            requests = [
                replace(r, context={"cloudwatch:namespace": "Another/Namespace"})
                if r.action == "cloudwatch:PutMetricData"
                else r
                for r in flow.requests
            ]
            moved.append(replace(flow, requests=requests))
    assert moved, "no flow puts metrics"
    return moved


def _schedule_roles(flows: list[Flow]) -> set[str]:
    roles = set()
    for flow in flows:
        for request in flow.requests:
            principal = request.principal
            if (
                flow.kind == "monitoring"
                and request.action == "lambda:InvokeFunction"
                and isinstance(principal, Role)
            ):
                roles.add(principal.arn)
    return roles


def _control_schedule_without_invoke(policies: Policies, flows: list[Flow]) -> None:
    """The schedule's role loses lambda:InvokeFunction."""
    roles = _schedule_roles(flows)
    assert roles, "no schedule invokes a launcher"
    for role in roles:
        without_actions(policies, role, "lambda:InvokeFunction")


def _component_deployer_roles(flows: list[Flow]) -> set[str]:
    return {
        r.principal.arn
        for f in flows
        if f.kind == "deployer"
        for r in f.requests
        if r.action == "iam:PassRole" and isinstance(r.principal, Role)
    }


def _control_deployer_without_pass_role(policies: Policies, flows: list[Flow]) -> None:
    """The inference-component deployer's role loses iam:PassRole of the execution role."""
    roles = _component_deployer_roles(flows)
    assert roles, "no deployer passes the endpoint's execution role"
    for role in roles:
        without_actions(policies, role, "iam:PassRole")


def _control_capture_of_another_variant(policies: Policies, flows: list[Flow]) -> list[Flow]:
    """The monitoring flows with the capture of a variant the engine does not watch (a
    shadow's folder instead of the champion's): the policies stay those of the real
    templates."""
    moved = []
    for flow in flows:
        if flow.kind != "monitoring":
            continue
        requests = [
            replace(
                r,
                resource=r.resource.replace("/AllTraffic/", "/Shadow/"),
                context={
                    k: v.replace("/AllTraffic/", "/Shadow/") if isinstance(v, str) else v
                    for k, v in r.context.items()
                },
            )
            for r in flow.requests
        ]
        if requests != flow.requests:
            moved.append(replace(flow, requests=requests))
    assert moved, "no monitoring flow reads the champion's capture"
    return moved


#: name -> how a copy of the control environment's policies is broken (or fixed); a control
#: may also replace the flows evaluated against the copy.
CONTROLS: dict[str, Control] = {
    "no-list-bucket": _control_no_list_bucket,
    "topic-without-cloudwatch": _control_topic_without_cloudwatch,
    "topic-with-cloudwatch": _control_topic_with_cloudwatch,
    "key-without-cloudwatch": _control_key_without_cloudwatch,
    "explicit-deny": _control_explicit_deny,
    "key-without-root": _control_key_without_root,
    "dead-letter-without-queue-key": _control_dead_letter_without_queue_key,
    "reader-shared": _control_reader_shared,
    "reader-shared-without-identity": _control_reader_shared_without_identity,
    "remediation-heads-flagged": _control_remediation_heads_flagged,
    "publisher-other-namespace": _control_publisher_other_namespace,
    "schedule-without-invoke": _control_schedule_without_invoke,
    "deployer-without-pass-role": _control_deployer_without_pass_role,
    "capture-of-another-variant": _control_capture_of_another_variant,
}


class Rehearsal:
    def __init__(self, evaluations: dict[str, Evaluation], seconds: float, config: Any) -> None:
        self.evaluations = evaluations
        self.seconds = seconds
        self.config = config

    def results(self, label: str) -> list[FlowResult]:
        return self.evaluations[label].results


@pytest.fixture(scope="module")
def rehearsal(platform: Any) -> Rehearsal:
    started = time.perf_counter()
    batches: dict[str, tuple[Policies, list[Any]]] = {}
    for env in ENVIRONMENTS:
        assembly = Assembly.load(platform.outdir / f"assembly-{env}", platform.outdir / "tree.json")
        policies = Policies(assembly)
        batches[env] = (policies, all_flows(policies))
    base_policies, base_flows = batches[CONTROL_ENV]
    for name, control in CONTROLS.items():
        broken = copy.deepcopy(base_policies)
        # Unless the control says otherwise, the flows stay those of the real templates.
        flows = control(broken, base_flows)
        batches[f"control:{name}"] = (broken, base_flows if flows is None else flows)
    evaluations = evaluate(batches)
    return Rehearsal(evaluations, time.perf_counter() - started, platform.config)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_kind_of_flow_is_present(rehearsal: Rehearsal, env: str) -> None:
    results = rehearsal.results(env)
    counts = {kind: sum(r.flow.kind == kind for r in results) for kind in KINDS}
    assert all(counts.values()), (
        f"{env}: no flows of kinds {[k for k, n in counts.items() if not n]}"
    )
    assert all(r.flow.requests for r in results)
    names = [r.flow.name for r in results]
    assert len(names) == len(set(names)), "a flow is listed twice"
    inputs = " ".join(r.flow.name for r in results if r.flow.kind == "pipeline-input")
    # The lake input prefix and the CDK file assets (code, configs) are both read.
    assert "reads input features" in inputs and "cdk-hnb659fds-assets-" in inputs


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_registry_reader_account_has_a_flow(rehearsal: Rehearsal, env: str) -> None:
    config = next(e for e in rehearsal.config.selected_environments() if e.name == env)
    expected = {
        account
        for model in config.training
        for account in model.registry_reader_accounts
        if account != config.account
    }
    found = {
        request.principal.account
        for result in rehearsal.results(env)
        if result.flow.kind == "registry-reader"
        for request in result.flow.requests
    }
    assert found == expected


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_request_is_valid_for_the_simulator(rehearsal: Rehearsal, env: str) -> None:
    """A malformed policy, an unknown action or a resource of the wrong type is a failure
    of its own, not a denial."""
    errors = [
        d.describe() for r in rehearsal.results(env) for d in r.decisions if d.result == "Error"
    ]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("kind", KINDS + OPTIONAL_KINDS)
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_flows_are_allowed(rehearsal: Rehearsal, env: str, kind: str) -> None:
    results = [r for r in rehearsal.results(env) if r.flow.kind == kind]
    denied = [r for r in results if not r.allowed]
    if denied:
        pytest.fail(
            f"{env}: {len(denied)} of {len(results)} {kind} flows denied:\n{report(denied)}"
        )


def _denied_requests(results: list[FlowResult], kind: str, action: str) -> list[Any]:
    return [
        d for r in results if r.flow.kind == kind for d in r.denied if d.request.action == action
    ]


def test_control_without_list_bucket_the_prefix_inputs_are_denied(rehearsal: Rehearsal) -> None:
    results = rehearsal.results("control:no-list-bucket")
    # The role broken: the lake input's reader (the training pipeline's role; the monitoring
    # pipeline's role keeps its grants).
    (role,) = {
        q.principal
        for r in results
        if "reads input features" in r.flow.name
        for q in r.flow.requests
    }

    def by_role(result: FlowResult) -> bool:
        return any(q.principal == role for q in result.flow.requests)

    inputs = [
        r
        for r in results
        if r.flow.kind == "pipeline-input"
        and by_role(r)
        and any(q.action.startswith("s3:") for q in r.flow.requests)
    ]
    # Every S3Prefix input and channel lists its prefix, the lake input included.
    assert inputs and all(not r.allowed for r in inputs), report(inputs)
    lake_input = next(r for r in inputs if "reads input features" in r.flow.name)
    assert [(d.request.action, d.result) for d in lake_input.denied] == [
        ("s3:ListBucket", "ImplicitlyDenied")
    ]
    # The pipeline's flows that list nothing, and every other role's, are decided as in the
    # real templates.
    real = {r.flow.name: r.allowed for r in rehearsal.results(CONTROL_ENV)}
    for result in results:
        lists = any(q.action == "s3:ListBucket" for q in result.flow.requests)
        if lists and result.flow.kind.startswith("pipeline-") and by_role(result):
            assert "s3:ListBucket" in {d.request.action for d in result.denied}
        else:
            assert result.allowed == real[result.flow.name], result.flow.name


def test_control_topic_policy_without_cloudwatch_denies_alarm_notifications(
    rehearsal: Rehearsal,
) -> None:
    alarms = [
        r for r in rehearsal.results("control:topic-without-cloudwatch") if r.flow.kind == "alarm"
    ]
    assert alarms and all(not r.allowed for r in alarms)
    denied = _denied_requests(alarms, "alarm", "sns:Publish")
    assert len(denied) == len(alarms)
    assert all(d.result == "ImplicitlyDenied" for d in denied)


def test_control_topic_policy_with_cloudwatch_allows_alarm_notifications(
    rehearsal: Rehearsal,
) -> None:
    """The counterpart of the control above: with a CloudWatch allow (scoped to the
    account's alarms) the same evaluation lets the alarms publish, key policy included."""
    alarms = [
        r for r in rehearsal.results("control:topic-with-cloudwatch") if r.flow.kind == "alarm"
    ]
    assert alarms and all(r.allowed for r in alarms), report(alarms)


def test_control_key_policy_without_cloudwatch_denies_alarm_notifications(
    rehearsal: Rehearsal,
) -> None:
    alarms = [
        r for r in rehearsal.results("control:key-without-cloudwatch") if r.flow.kind == "alarm"
    ]
    assert alarms and all(not r.allowed for r in alarms)
    for result in alarms:
        assert {d.request.action for d in result.denied} == {"kms:GenerateDataKey", "kms:Decrypt"}


def test_control_an_explicit_deny_wins_over_the_allows(rehearsal: Rehearsal) -> None:
    real = [r for r in rehearsal.results(CONTROL_ENV) if r.flow.kind == "endpoint"]
    broken = [r for r in rehearsal.results("control:explicit-deny") if r.flow.kind == "endpoint"]
    multi_model = [
        i
        for i, r in enumerate(real)
        if r.allowed and any(q.action == "s3:GetObject" for q in r.flow.requests)
    ]
    assert multi_model, "no endpoint reads a model to begin with"
    for i in multi_model:
        denied = broken[i].denied
        assert [(d.request.action, d.result) for d in denied] == [
            ("s3:GetObject", "ExplicitlyDenied")
        ], report([broken[i]])


def test_control_a_key_policy_that_does_not_delegate_to_iam_denies_the_roles(
    rehearsal: Rehearsal,
) -> None:
    """Same account, an identity policy suffices for S3, never for KMS: without the key
    policy's root statement the pipeline's role may no longer decrypt the lake input."""
    results = rehearsal.results("control:key-without-root")
    lake_input = next(r for r in results if "reads input features" in r.flow.name)
    assert [(d.request.action, d.result) for d in lake_input.denied] == [
        ("kms:Decrypt", "ImplicitlyDenied")
    ]
    real = next(r for r in rehearsal.results(CONTROL_ENV) if r.flow.name == lake_input.flow.name)
    assert real.allowed


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_handler_that_dead_letters_has_a_flow_to_its_queue(
    rehearsal: Rehearsal, env: str
) -> None:
    """The deployer and the remediation function in tag mode (quarantine raises nothing
    non-retryable) send non-retryable failures to their dead-letter queue themselves: each
    has a flow sending to the queue of its DEAD_LETTER_QUEUE_URL, with the queue key's data
    key."""
    results = rehearsal.results(env)
    flows = handler_dead_letters([r.flow for r in results])
    tag_mode = any(r.flow.kind == "remediation" and "(tag)" in r.flow.name for r in results)
    assert {f.kind for f in flows} == {"deployer", *(["remediation"] if tag_mode else [])}
    for flow in flows:
        actions = [r.action for r in flow.requests if r.action.split(":")[0] in ("sqs", "kms")]
        assert actions[-3:] == ["sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"], flow.name


def test_control_a_dead_letter_send_without_the_queue_key_is_denied(rehearsal: Rehearsal) -> None:
    """Without its grant of the queue's key, a handler may still call SendMessage, but SQS
    cannot encrypt the message: the send fails on the key alone, and flows that do not use
    that key are decided as in the real templates."""
    real = {r.flow.name: r for r in rehearsal.results(CONTROL_ENV)}
    results = rehearsal.results("control:dead-letter-without-queue-key")
    sends = {f.name for f in handler_dead_letters([r.flow for r in results])}
    assert sends
    queue_keys = {
        q.resource
        for r in results
        if r.flow.name in sends
        for q in r.flow.requests[-2:]
        if q.action.startswith("kms:")
    }
    assert len(queue_keys) == 1, queue_keys
    for result in results:
        if result.flow.name in sends:
            assert real[result.flow.name].allowed, result.flow.name
            denied = {(d.request.action, d.request.resource, d.result) for d in result.denied}
            assert denied == {
                (action, *queue_keys, "ImplicitlyDenied")
                for action in ("kms:GenerateDataKey", "kms:Decrypt")
            }, report([result])
        elif not any(q.resource in queue_keys for q in result.flow.requests):
            assert result.allowed == real[result.flow.name].allowed, result.flow.name


def test_control_cross_account_readers_need_the_resource_policies(rehearsal: Rehearsal) -> None:
    """With the bucket and key policies naming the reader accounts, readers may fetch the
    model; without their own account's grant they may not, whatever those policies say."""
    shared = rehearsal.results("control:reader-shared")
    assert shared and all(r.allowed for r in shared), report(shared)
    alone = rehearsal.results("control:reader-shared-without-identity")
    assert alone and all(not r.allowed for r in alone)
    for result in alone:
        assert {d.request.action for d in result.denied} == {
            "sagemaker:DescribeModelPackage",
            "s3:GetObject",
            "kms:Decrypt",
        }
        assert all(d.result == "ImplicitlyDenied" for d in result.denied)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_remediation_never_reads_a_flagged_version(rehearsal: Rehearsal, env: str) -> None:
    """A redelivered finding, or a second one, is about a version the lake already denies
    everyone reads of: each bucket's flow on such a version only lists and reads tags."""
    results = [r for r in rehearsal.results(env) if r.flow.kind == "remediation"]
    flagged = [r for r in results if _flagged_requests(r.flow)]
    functions = {r.flow.name.split(" ", 1)[0] for r in results if " (" in r.flow.name}
    assert len(flagged) >= len(functions) >= 1, report(results)
    for result in flagged:
        actions = {q.action for q in _flagged_requests(result.flow)}
        assert actions == {"s3:GetObjectVersionTagging"}, result.flow.name
        assert result.allowed, report([result])


def test_control_a_head_of_a_flagged_version_is_explicitly_denied(rehearsal: Rehearsal) -> None:
    """The counterpart of the test above: the same flows with a HeadObject of the flagged
    version (what the handler once did to find the scanned version) are refused by the
    lake's deny, and by nothing else."""
    results = rehearsal.results("control:remediation-heads-flagged")
    assert results and all(not r.allowed for r in results)
    for result in results:
        assert [(d.request.action, d.result) for d in result.denied] == [
            ("s3:GetObject", "ExplicitlyDenied")
        ], report([result])
        assert "DenyReadsOfObjectsFlaggedAsSensitive" in json.dumps(result.denied[0].detail)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_monitoring_run_has_its_flows(rehearsal: Rehearsal, env: str) -> None:
    """Each engine: the schedule invoking its launcher, the launcher starting a run, the job
    reading what the run names, the publisher putting metrics (and Lambda assuming the two
    functions' roles)."""
    names = [r.flow.name for r in rehearsal.results(env) if r.flow.kind == "monitoring"]
    launchers = [n for n in names if " starts a run of " in n]
    assert launchers
    for pattern in (" invokes ", "/MonitorModel reads ", " publishes s3://"):
        assert len([n for n in names if pattern in n]) == len(launchers), (pattern, names)


def test_control_metrics_into_another_namespace_are_denied(rehearsal: Rehearsal) -> None:
    """The publisher may put metrics only into its own namespace: the same flows with
    another namespace are denied on PutMetricData alone."""
    results = rehearsal.results("control:publisher-other-namespace")
    assert results and all(not r.allowed for r in results)
    for result in results:
        assert [(d.request.action, d.result) for d in result.denied] == [
            ("cloudwatch:PutMetricData", "ImplicitlyDenied")
        ], report([result])


def test_control_a_schedule_role_without_invoke_cannot_start_the_launcher(
    rehearsal: Rehearsal,
) -> None:
    real = {r.flow.name: r.allowed for r in rehearsal.results(CONTROL_ENV)}
    results = rehearsal.results("control:schedule-without-invoke")
    schedules = [r for r in results if r.flow.kind == "monitoring" and " invokes " in r.flow.name]
    assert schedules
    for result in schedules:
        assert real[result.flow.name]
        assert [(d.request.action, d.result) for d in result.denied] == [
            ("lambda:InvokeFunction", "ImplicitlyDenied")
        ], report([result])


def test_the_rehearsal_is_fast(rehearsal: Rehearsal) -> None:
    """Every environment and every control in one simulator run, in a few seconds."""
    node_seconds = next(iter(rehearsal.evaluations.values())).seconds
    requests = next(iter(rehearsal.evaluations.values())).requests
    print(f"\n{requests} requests: {node_seconds:.2f} s in Node, {rehearsal.seconds:.2f} s in all")
    assert rehearsal.seconds < 20


#: What each hosting's deployer does at run time (``serving/runtime/model_deployer``).
DEPLOYER_FLOWS = {
    "multi-model": (" copies ", " already deployed", " retires Rejected ", " already retired"),
    "inference-components": (
        " creates component ",
        " updates component ",
        " rolls ",
        " withdraws ",
        " already served by ",
    ),
}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_deployer_has_the_flows_of_its_hosting(rehearsal: Rehearsal, env: str) -> None:
    """dev deploys to inference components, staging and prod to a multi-model endpoint: each
    deployer's flows are those of its hosting (an environment of the other would pass the
    other's checks vacuously)."""
    config = next(e for e in rehearsal.config.selected_environments() if e.name == env)
    names = [r.flow.name for r in rehearsal.results(env) if r.flow.kind == "deployer"]
    for hosting, patterns in DEPLOYER_FLOWS.items():
        for pattern in patterns:
            found = [n for n in names if pattern in n]
            assert bool(found) == (config.serving.hosting == hosting), (env, pattern, names)


def test_every_variant_and_component_model_loads_its_models(rehearsal: Rehearsal) -> None:
    """staging's A/B test: every production variant (champion and challenger) loads the
    models through its model; dev's component models, as the endpoint's execution role,
    read the registered archives under ``pipelines/``."""
    staging = [r for r in rehearsal.results("staging") if r.flow.kind == "endpoint"]
    variants = [r for r in staging if " variant " in r.flow.name]
    config = next(e for e in rehearsal.config.selected_environments() if e.name == "staging")
    assert config.serving.ab_test is not None
    assert len(variants) == 1 + len(config.serving.ab_test.challengers), report(variants)
    assert all(r.allowed for r in variants), report(variants)
    dev = [r for r in rehearsal.results("dev") if r.flow.kind == "endpoint"]
    components = [r for r in dev if "a component model of" in r.flow.name]
    assert components and all(r.allowed for r in components), report(dev)
    for result in components:
        (read,) = [q for q in result.flow.requests if q.action == "s3:GetObject"]
        assert "/pipelines/" in read.resource


def test_control_a_deployer_that_may_not_pass_the_role_cannot_make_models(
    rehearsal: Rehearsal,
) -> None:
    """The component models run as the endpoint's execution role, which the deployer
    passes to SageMaker: without iam:PassRole the flows that make a model are denied on it
    alone, and the others are decided as in the real templates."""
    real = {r.flow.name: r.allowed for r in rehearsal.results(CONTROL_ENV)}
    results = [
        r
        for r in rehearsal.results("control:deployer-without-pass-role")
        if r.flow.kind == "deployer"
    ]
    making = [r for r in results if any(q.action == "iam:PassRole" for q in r.flow.requests)]
    assert making
    for result in results:
        if result in making:
            assert real[result.flow.name]
            assert [(d.request.action, d.result) for d in result.denied] == [
                ("iam:PassRole", "ImplicitlyDenied")
            ], report([result])
        else:
            assert result.allowed == real[result.flow.name], result.flow.name


def test_monitoring_reads_the_capture_of_every_production_variant(rehearsal: Rehearsal) -> None:
    """staging's A/B test: the launcher lists, and the job reads, the capture of the
    champion and of every challenger (data capture writes each under ``<variant>/``)."""
    config = next(e for e in rehearsal.config.selected_environments() if e.name == "staging")
    assert config.serving.ab_test is not None
    names = config.serving.ab_test.variant_names()
    results = [r for r in rehearsal.results("staging") if r.flow.kind == "monitoring"]
    for pattern, action in (
        (" starts a run of ", "s3:ListBucket"),
        ("/MonitorModel reads ", "s3:GetObject"),
    ):
        (result,) = [r for r in results if pattern in r.flow.name]
        touched = " ".join(
            f"{q.resource} {q.context.get('s3:prefix', '')}"
            for q in result.flow.requests
            if q.action == action
        )
        for name in names:
            assert f"/{name}/2026/" in touched, (name, result.flow.name)
        assert result.allowed, report([result])


def test_control_the_capture_of_an_unwatched_variant_is_denied(rehearsal: Rehearsal) -> None:
    """The counterpart: a shadow's capture (not a watched variant) may be neither listed
    by the launcher nor read by the job; the engine's grants name each variant's folder."""
    results = rehearsal.results("control:capture-of-another-variant")
    assert results and all(not r.allowed for r in results), report(results)
    for result in results:
        denied = {(d.request.action, d.result) for d in result.denied}
        assert denied <= {
            ("s3:ListBucket", "ImplicitlyDenied"),
            ("s3:GetObject", "ImplicitlyDenied"),
        }, report([result])
        assert all("/Shadow/" in d.request.describe() for d in result.denied), report([result])

"""Helpers for tests: a small app with cdk-nag synthesized on demand; Lambda handler loading."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
from aws_cdk import Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from mlops_constructs.core.sources import HANDLER_COMMON, handler_path

ACCOUNT = "284751930618"
REGION = "eu-west-1"


def synth_construct(
    build: Callable[[cdk.Stack], Any], *, nag: bool = True, outdir: str | None = None
) -> tuple[Template, Any, cdk.Stack]:
    """Build a construct in a fresh env-specific stack and return its template.

    cdk-nag's AwsSolutions pack checks the stack, as it would in a user's app: a construct's
    defaults must be free of unacknowledged findings on their own.
    """
    app = cdk.App(outdir=outdir, builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "TestStack", env=cdk.Environment(account=ACCOUNT, region=REGION))
    made = build(stack)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return Template.from_stack(stack), made, stack


def acknowledged_rules(construct: Any) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) of every acknowledgement at or below ``construct``."""
    found: list[tuple[str, str, str]] = []
    for node in construct.node.find_all():
        for entry in node.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule_id, reason in dict(entry.data).items():
                    found.append((node.node.path, rule_id, reason))
    return found


def load_handler(name: str) -> ModuleType:
    """Import ``<name>.index`` as Lambda would.

    In Lambda the function's code root (``<name>/`` and ``handler_common/``) is on the
    import path; here the two runtime folders holding them play that part.
    """
    for folder in (name, HANDLER_COMMON):
        root = str(Path(handler_path(folder)).parent)
        if root not in sys.path:
            sys.path.insert(0, root)
    return importlib.import_module(f"{name}.index")


def endpoint_base(stack: cdk.Stack) -> tuple[Any, dict[str, Any]]:
    """What an endpoint construct needs, made in ``stack``: the KMS key, and the props
    ``artifacts`` (an ArtifactStore logging to a lake's log bucket), ``vpc``, ``subnets``,
    ``security_group`` (of a Network) and ``alarm_topic`` (KMS-encrypted)."""
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sns as sns

    from mlops_constructs import DataLake, Network
    from mlops_constructs.lake.artifacts import ArtifactStore

    key = kms.Key(stack, "Key", enable_key_rotation=True)
    network = Network(stack, "Net", flow_logs_key=key, interface_endpoints=[])
    lake = DataLake(stack, "Lake", encryption_key=key)
    return key, {
        "artifacts": ArtifactStore(
            stack, "Artifacts", encryption_key=key, access_log_bucket=lake.access_log_bucket
        ),
        "vpc": network.vpc,
        "subnets": network.subnet_selection,
        "security_group": network.workload_security_group,
        "alarm_topic": sns.Topic(stack, "Topic", master_key=key, enforce_ssl=True),
    }


def hide_sagemaker_sdk(monkeypatch: Any) -> None:
    """Make the SageMaker SDK look not installed: its distribution cannot be found."""
    import importlib.metadata

    real_version = importlib.metadata.version

    def version(name: str) -> str:
        if name == "sagemaker":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)


@functools.cache
def _cfn_lint_rules() -> Any:
    """cfn-lint's default rules, as its runner loads them, once per test process.

    Loading them (importing every rule module, instantiating each rule and reading the
    schemas they need) takes about 0.5 s, about as long as linting a template; cfn-lint
    itself reuses one rule set for every template given on one command line.
    """
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(regions=[REGION])).rules


def lint_text(text: str, region: str = REGION) -> list[str]:
    """cfn-lint's findings (errors, warnings) on a template given as JSON or YAML text,
    checked for ``region`` with the default rules.

    This is ``cfnlint.api.lint`` with the rules loaded once: ``lint`` reuses the rules it is
    given only when they are a ``RulesCollection`` (cfn-lint 0.x's class), and loads the
    default rules again for every call when given the ``Rules`` its own runner uses.
    """
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    template, errors = decode_str(text)
    if errors:
        return [str(m) for m in errors]
    if template is None:
        return []
    matches = run_template_by_data(template, ConfigMixIn(regions=[region]), _cfn_lint_rules())
    return [str(m) for m in matches]


def lint_file(path: Path, region: str = REGION) -> list[str]:
    """cfn-lint's findings on a template file (see :func:`lint_text`), each naming the file."""
    return [f"{path.name}: {m}" for m in lint_text(path.read_text(encoding="utf-8"), region)]


def lint_problems(template: Template) -> list[str]:
    """cfn-lint's findings on a synthesized template, in the project's region."""
    import json

    return lint_text(json.dumps(template.to_json()))


def config_problems(context: dict[str, Any]) -> list[str]:
    """The problems of the one ConfigError that loading ``context`` must raise."""
    import pytest

    from stacks.config import ConfigError, load_config

    with pytest.raises(ConfigError) as caught:
        load_config(context)
    return caught.value.problems


def functions_with_handler(
    template: Template | dict[str, Any], handler: str
) -> list[dict[str, Any]]:
    """The ``Properties`` of every ``AWS::Lambda::Function`` of ``template`` (a synthesized
    template's dict or an assertions ``Template``) whose ``Handler`` is ``handler``."""
    document = template.to_json() if isinstance(template, Template) else template
    return [
        r["Properties"]
        for r in document.get("Resources", {}).values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler
    ]


def lambda_context(function_name: str) -> Any:
    """A Lambda context as the runtime passes one to ``function_name`` (Powertools'
    ``inject_lambda_context`` reads these fields); it has no ``get_remaining_time_in_millis``,
    so the time left is unknown to the handler."""
    from types import SimpleNamespace

    return SimpleNamespace(
        function_name=function_name,
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:eu-west-1:284751930618:function:{function_name}",
        aws_request_id="6a1d2c3b-0e4f-4a5b-8c7d-9e0f1a2b3c4d",
    )

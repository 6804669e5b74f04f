"""No monitoring or explainability request reaches the production endpoint.

Model Monitor's explainability job sent Clarify's synthetic SHAP requests (about 100 per
record) to the endpoint it watched, where they were captured and analysed as real traffic
(issue 14, defect 3). The engine computes SHAP values offline from the model archive instead.
Two halves prove the claim, each with a negative control:

* the scripts (a): ``baseline.py`` and ``monitor.py`` run end to end, SHAP values included,
  with every Python-level network call refused, and import no network or AWS client module;
* the deployment (b): in every environment's synthesized templates, no role of the
  Monitoring stack, nor any role a monitoring job or pipeline runs as, may call
  ``sagemaker:InvokeEndpoint*`` (directly, by wildcard or by ``NotAction``); every
  processing job of a monitoring pipeline and every Model Monitor job definition runs with
  network isolation (no network at all); no Model Monitor explainability job exists.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ENVIRONMENTS
from tests.rehearsal.assembly import Assembly
from tests.rehearsal.flows import Policies

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = (
    REPO_ROOT / "mlops_constructs" / "monitoring" / "runtime" / "monitor.py",
    REPO_ROOT / "mlops_constructs" / "training" / "runtime" / "baseline.py",
)

#: The SageMaker Runtime actions that send a request to an endpoint ("Actions, resources and
#: condition keys for Amazon SageMaker AI", Service Authorization Reference).
INVOKE_ACTIONS = (
    "sagemaker:InvokeEndpoint",
    "sagemaker:InvokeEndpointAsync",
    "sagemaker:InvokeEndpointWithResponseStream",
)
#: Modules through which a script could reach a network service.
NETWORK_MODULES = (
    "socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx", "aiohttp", "ftplib",
    "smtplib", "xmlrpc", "boto3", "botocore", "sagemaker", "s3fs", "smclarify",
)  # fmt: skip
#: AWS managed policies a role of the Monitoring stack may have: CloudWatch Logs only.
LOGS_ONLY_MANAGED = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
)
#: Model Monitor job definitions (each a processing job).
JOB_DEFINITIONS = (
    "AWS::SageMaker::DataQualityJobDefinition",
    "AWS::SageMaker::ModelQualityJobDefinition",
    "AWS::SageMaker::ModelBiasJobDefinition",
    "AWS::SageMaker::ModelExplainabilityJobDefinition",
)


# --- (a) the scripts --------------------------------------------------------------------


class NetworkRefused(RuntimeError):
    """Raised by every socket call while :func:`no_network` is active."""


@contextmanager
def no_network() -> Iterator[list[str]]:
    """Refuse connections, datagrams and name lookups made through Python's ``socket``
    module (what urllib3, botocore and every pure-Python client use) while the block runs;
    yields the list of attempts, so a swallowed refusal is still seen. Native code that
    opens sockets itself is not covered: network isolation (part b) covers the job."""
    attempts: list[str] = []

    def refuse(name: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{name}{args[1:] if name.startswith('socket.') else args}")
            raise NetworkRefused(f"{name} called: no network here")

        return refused

    with pytest.MonkeyPatch.context() as patch:
        for method in ("connect", "connect_ex", "sendto", "sendmsg"):
            patch.setattr(socket.socket, method, refuse(f"socket.{method}"))
        for function in ("create_connection", "getaddrinfo", "gethostbyname"):
            patch.setattr(socket, function, refuse(function))
        yield attempts


def test_the_blocker_refuses_a_connection_and_an_endpoint_call(monkeypatch):
    # Negative control: a real connection attempt, and a real SageMaker Runtime call through
    # boto3, are refused and recorded.
    boto3 = pytest.importorskip("boto3")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    with no_network() as attempts:
        with pytest.raises(NetworkRefused):
            socket.create_connection(("192.0.2.1", 443), timeout=1)
        with pytest.raises(NetworkRefused):
            socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("192.0.2.1", 443))
        with pytest.raises(Exception) as raised:
            runtime.invoke_endpoint(EndpointName="prod", Body=b"1,0,0", ContentType="text/csv")
    assert isinstance(raised.value, NetworkRefused) or "no network here" in str(raised.value)
    assert len(attempts) >= 3
    # Outside the block, the socket module is itself again.
    assert socket.create_connection.__module__ == "socket"


def test_baseline_and_monitor_run_with_no_network(tmp_path):
    pytest.importorskip("scipy")
    pytest.importorskip("xgboost")
    pytest.importorskip("matplotlib")
    from tools import sample_monitoring_report as sample

    with no_network() as attempts:
        output = sample.run_jobs(tmp_path)  # baseline.py, then monitor.py, with the model
    assert attempts == []
    baseline = json.loads((tmp_path / "baseline" / "baseline.json").read_text())
    assert set(baseline["shap"]["mean_abs"]) == set(sample.FEATURES)
    results = json.loads((output / "results.json").read_text())
    assert results["status"] == "ok"
    # SHAP values computed from the archive, offline: the part Clarify sent to the endpoint.
    assert results["explainability"]["rows"] > 0
    assert set(results["explainability"]["mean_abs_shap"]) == set(sample.FEATURES)
    assert json.loads((output / "metrics.json").read_text())["MetricData"]
    assert (output / "report.md").is_file() and list((output / "plots").glob("*.png"))


def imported_modules(path: Path) -> set[str]:
    """The top-level names of every module ``path`` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_the_scripts_import_no_network_client(script):
    assert imported_modules(script) & set(NETWORK_MODULES) == set()


def test_the_import_check_finds_a_client(tmp_path):
    # Negative control: an import nested in a function is found.
    script = tmp_path / "script.py"
    script.write_text("import json\n\ndef call():\n    from botocore.session import Session\n")
    assert imported_modules(script) & set(NETWORK_MODULES) == {"botocore"}


# --- (b) the deployment -----------------------------------------------------------------


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allows_invoke(statement: dict[str, Any]) -> bool:
    """Whether an identity-policy statement allows any of :data:`INVOKE_ACTIONS` (on any
    resource: no endpoint is a fair target). Action names are case-insensitive in IAM."""
    if statement.get("Effect") != "Allow":
        return False

    def matches(patterns: Any, action: str) -> bool:
        return any(fnmatch.fnmatchcase(action.lower(), str(p).lower()) for p in listed(patterns))

    if "NotAction" in statement:
        return any(not matches(statement["NotAction"], a) for a in INVOKE_ACTIONS)
    return any(matches(statement.get("Action", []), a) for a in INVOKE_ACTIONS)


def invoke_grants(documents: list[dict[str, Any]]) -> list[str]:
    """The statements of ``[{"name", "policy"}]`` that allow an endpoint call."""
    return [
        f"{d['name']}: {json.dumps(s, sort_keys=True)}"
        for d in documents
        for s in listed(d["policy"].get("Statement", []))
        if allows_invoke(s)
    ]


def monitoring_stacks(assembly: Assembly) -> list[str]:
    names = [s.stack_name for s in assembly.stacks.values() if s.stack_name.endswith("-Monitoring")]
    assert names, "no Monitoring stack in the assembly"
    return names


def pipeline_definition(assembly: Assembly, stack: str, resource: dict[str, Any]) -> Any:
    body = assembly.resolve(stack, resource["Properties"]["PipelineDefinition"])
    text = body["PipelineDefinitionBody"]
    return json.loads(text) if isinstance(text, str) else text


def pipeline_steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every step, including those inside condition steps."""
    for step in steps:
        yield step
        for key in ("IfSteps", "ElseSteps"):
            yield from pipeline_steps(step.get("Arguments", {}).get(key, []))


def job_roles(assembly: Assembly) -> dict[str, str]:
    """Role ARN -> what runs as it: monitoring pipelines and their steps, Model Monitor job
    definitions (in any stack)."""
    roles: dict[str, str] = {}
    for stack in monitoring_stacks(assembly):
        for logical_id, resource in assembly.stacks[stack].template["Resources"].items():
            if resource["Type"] == "AWS::SageMaker::Pipeline":
                props = assembly.props(stack, resource)
                roles[props["RoleArn"]] = f"{stack}/{logical_id}"
                for step in pipeline_steps(pipeline_definition(assembly, stack, resource)["Steps"]):
                    role = step.get("Arguments", {}).get("RoleArn")
                    if isinstance(role, str):
                        roles[role] = f"{stack}/{logical_id} step {step['Name']}"
    for type_name in JOB_DEFINITIONS:
        for stack, logical_id, resource in assembly.resources(type_name):
            roles[assembly.props(stack, resource)["RoleArn"]] = f"{stack}/{logical_id}"
    return roles


def endpoint_call_problems(assembly: Assembly) -> list[str]:
    """Every way a monitoring role or policy could call an endpoint (empty: none)."""
    policies = Policies(assembly)
    problems: list[str] = []
    roles = dict(job_roles(assembly))
    for stack in monitoring_stacks(assembly):
        resources = assembly.stacks[stack].template["Resources"]
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::IAM::Role":
                roles.setdefault(policies.role_arns[(stack, logical_id)], f"{stack}/{logical_id}")
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                document = assembly.props(stack, resource)["PolicyDocument"]
                for grant in invoke_grants([{"name": logical_id, "policy": document}]):
                    problems.append(f"{stack}/{logical_id} allows an endpoint call: {grant}")
    for arn, user in sorted(roles.items()):
        if arn not in policies.identity:
            problems.append(f"{user} runs as {arn}, a role the assembly does not define")
            continue
        for grant in invoke_grants(policies.identity[arn]):
            problems.append(f"{user} runs as {arn}, which allows an endpoint call: {grant}")
        for managed in policies.unknown_managed.get(arn, []):
            if str(managed).replace(":aws-cn:", ":aws:") not in LOGS_ONLY_MANAGED:
                problems.append(f"{user} runs as {arn} with AWS managed policy {managed}")
    return problems


def isolation_problems(assembly: Assembly) -> list[str]:
    """Monitoring processing jobs that could use the network, and explainability jobs."""
    problems: list[str] = []
    for stack in monitoring_stacks(assembly):
        for logical_id, resource in assembly.stacks[stack].template["Resources"].items():
            if resource["Type"] != "AWS::SageMaker::Pipeline":
                continue
            for step in pipeline_steps(pipeline_definition(assembly, stack, resource)["Steps"]):
                arguments = step.get("Arguments", {})
                if "ProcessingResources" not in arguments and step.get("Type") != "Processing":
                    continue
                if arguments.get("NetworkConfig", {}).get("EnableNetworkIsolation") is not True:
                    problems.append(f"{stack}/{logical_id} step {step['Name']}: no isolation")
    for type_name in JOB_DEFINITIONS:
        for stack, logical_id, resource in assembly.resources(type_name):
            if type_name == "AWS::SageMaker::ModelExplainabilityJobDefinition":
                problems.append(f"{stack}/{logical_id}: a Model Monitor explainability job")
            network = assembly.props(stack, resource).get("NetworkConfig", {})
            if network.get("EnableNetworkIsolation") is not True:
                problems.append(f"{stack}/{logical_id}: no network isolation")
    for stack, logical_id, resource in assembly.resources("AWS::SageMaker::MonitoringSchedule"):
        config = resource["Properties"]["MonitoringScheduleConfig"]
        if config.get("MonitoringType") == "ModelExplainability":
            problems.append(f"{stack}/{logical_id}: an explainability monitoring schedule")
    return problems


@pytest.fixture(scope="module")
def assemblies(platform: Any) -> dict[str, Assembly]:
    return {env: Assembly.load(Path(platform.outdir) / f"assembly-{env}") for env in ENVIRONMENTS}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_monitoring_role_may_call_an_endpoint(assemblies, env):
    problems = endpoint_call_problems(assemblies[env])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_monitoring_jobs_are_isolated_and_none_explains_through_the_endpoint(assemblies, env):
    problems = isolation_problems(assemblies[env])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_platform_engine_is_deployed(assemblies, platform, env):
    """Each model watched by the default engine has a monitoring pipeline, so the checks
    above look at something (the Model Monitor engine has job definitions instead)."""
    environment = next(e for e in platform.config.environments if e.name == env)
    engines = [getattr(m, "engine", "platform") for m in environment.monitoring]
    pipelines = [
        logical_id
        for stack in monitoring_stacks(assemblies[env])
        for logical_id, resource in assemblies[env].stacks[stack].template["Resources"].items()
        if resource["Type"] == "AWS::SageMaker::Pipeline"
    ]
    assert len(pipelines) >= engines.count("platform"), (
        f"{env}: engines {engines} but monitoring pipelines {pipelines}"
    )


# Negative controls: each check finds the problem it is for, on a broken copy.

GRANTS = [
    {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": "*"},
    {"Effect": "Allow", "Action": ["s3:GetObject", "SageMaker:invokeendpointasync"]},
    {"Effect": "Allow", "Action": "sagemaker:Invoke*", "Resource": "*"},
    {"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"},
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
]


@pytest.mark.parametrize("statement", GRANTS, ids=lambda s: str(s.get("Action", "NotAction")))
def test_an_added_invoke_statement_is_found(assemblies, statement):
    broken = assemblies["dev"].copy()
    (stack,) = monitoring_stacks(broken)
    resources = broken.stacks[stack].template["Resources"]
    policy = next(r for r in resources.values() if r["Type"] == "AWS::IAM::Policy")
    policy["Properties"]["PolicyDocument"]["Statement"].append(copy.deepcopy(statement))
    # New problems, not those the unbroken assembly may have.
    added = set(endpoint_call_problems(broken)) - set(endpoint_call_problems(assemblies["dev"]))
    assert any(json.dumps(statement, sort_keys=True) in p for p in added)


def test_statements_that_do_not_allow_a_call_pass():
    assert not allows_invoke({"Effect": "Deny", "Action": "sagemaker:InvokeEndpoint"})
    assert not allows_invoke({"Effect": "Allow", "Action": "sagemaker:InvokeEndpointConfig*"})
    assert not allows_invoke({"Effect": "Allow", "NotAction": ["sagemaker:Invoke*"]})
    assert not allows_invoke({"Effect": "Allow", "Action": ["sagemaker:CreateProcessingJob"]})


def test_a_job_role_with_an_invoke_grant_is_found(assemblies):
    # A role a job runs as, granted the call by an inline policy of its own.
    broken = assemblies["dev"].copy()
    (stack,) = monitoring_stacks(broken)
    resources = broken.stacks[stack].template["Resources"]
    role = next(r for r in resources.values() if r["Type"] == "AWS::IAM::Role")
    role["Properties"].setdefault("Policies", []).append(
        {"PolicyName": "AddedInline", "PolicyDocument": {"Statement": [GRANTS[0]]}}
    )
    assert any("AddedInline" in p for p in endpoint_call_problems(broken))
    # An AWS managed policy that is not logs-only cannot be verified offline: refused.
    role["Properties"]["Policies"].pop()
    role["Properties"].setdefault("ManagedPolicyArns", []).append(
        "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
    )
    assert any("AmazonSageMakerFullAccess" in p for p in endpoint_call_problems(broken))


def test_an_explainability_job_or_an_open_network_is_found(assemblies):
    broken = assemblies["dev"].copy()
    (stack,) = monitoring_stacks(broken)
    resources = broken.stacks[stack].template["Resources"]
    resources["AddedExplainability"] = {
        "Type": "AWS::SageMaker::ModelExplainabilityJobDefinition",
        "Properties": {
            "RoleArn": "arn:aws:iam::111111111111:role/x",
            "NetworkConfig": {"EnableNetworkIsolation": False},
        },
    }
    problems = isolation_problems(broken)
    assert any("AddedExplainability: a Model Monitor explainability job" in p for p in problems)
    assert any("AddedExplainability: no network isolation" in p for p in problems)


def test_a_monitoring_processing_step_without_isolation_is_found(assemblies):
    broken = assemblies["dev"].copy()
    (stack,) = monitoring_stacks(broken)
    step: dict[str, Any] = {
        "Name": "MonitorModel",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large"}},
            "NetworkConfig": {"EnableNetworkIsolation": True},
        },
    }
    definition = {"Version": "2020-12-01", "Steps": [step]}
    body: dict[str, str] = {"PipelineDefinitionBody": json.dumps(definition)}
    broken.stacks[stack].template["Resources"]["AddedPipeline"] = {
        "Type": "AWS::SageMaker::Pipeline",
        "Properties": {
            "PipelineName": "added",
            "RoleArn": "arn:aws:iam::111111111111:role/x",
            "PipelineDefinition": body,
        },
    }
    assert not any("AddedPipeline step" in p for p in isolation_problems(broken))
    step["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] = False
    nested = {"Name": "Check", "Type": "Condition", "Arguments": {"IfSteps": [step]}}
    body["PipelineDefinitionBody"] = json.dumps({"Version": "2020-12-01", "Steps": [nested]})
    problems = isolation_problems(broken)
    assert any("AddedPipeline step MonitorModel: no isolation" in p for p in problems)
    # Its role is a monitoring job's role, which the assembly does not define: refused.
    assert any("role the assembly does not define" in p for p in endpoint_call_problems(broken))

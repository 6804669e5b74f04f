"""Serving, rehearsed on the synthesized templates: what the deployed serving does with new,
rejected and reweighted versions (issue 15).

* dev (inference components scaled to zero): the deployer function, with the environment its
  template gives it, receives the published model package state change events for two
  versions of the rehearsed training run's registered model, then the rejection of the newer
  one. The component is created on v1, rolled to v2 with the rollback alarms the Serving
  template makes for it, registered with Application Auto Scaling at the configured copies;
  the rejection puts v1 back and deletes nothing. Late, repeated and premature events change
  nothing.
* staging (an A/B test, weights 4:1): the synthesized endpoint configuration is created, the
  weights are shifted with ``tools/endpoint_weights.py``, and the next deploy of the same
  template updates the endpoint as CloudFormation does (a new endpoint configuration, then
  ``UpdateEndpoint`` with the template's retention settings): the shifted weights stay. A copy
  of the template without retention resets them to 4:1.
* prod (multi-model): approving v1 and v2 copies both archives to the endpoint's model prefix;
  rejecting v2 moves its archive to the retired prefix (verified) and leaves v1 served.

moto lacks inference components and ``UpdateEndpoint``: see ``serving_modes.py`` for the
stand-ins and what they model. Each scenario runs once per module in its own moto, and
keeps what the tests look at before moto ends (no moto outlives its fixture).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.rehearsal.assembly import Assembly
from tests.rehearsal.conftest import RehearsedRun
from tests.rehearsal.monitoring import s3_key
from tests.rehearsal.serving_modes import (
    DEAD_LETTER_QUEUE_URL,
    Account,
    DeployerFunction,
    EndpointUpdates,
    component_alarm_names,
    dead_letters,
    deployer_function,
    moto_account,
    package_event,
    register_version,
    reject_version,
    run_deployer,
    serving_endpoint,
)

# The deployer tests' stand-in for the inference component and Application Auto Scaling calls
# moto lacks; reused so that the rehearsal and the unit tests answer those calls alike.
from tests.serving.test_model_deployer_components import FakeComponents
from tools.endpoint_weights import current_weights, shift_weights

EVENTS = Path(__file__).parent.parent / "events"
APPROVED = json.loads((EVENTS / "sagemaker_model_package_state_change.json").read_text())
REJECTED = json.loads((EVENTS / "sagemaker_model_package_state_change_rejected.json").read_text())
COMPONENTS_ENV = "dev"
AB_ENV = "staging"
MULTI_MODEL_ENV = "prod"


def _assembly(cloud_assembly: Path, env: str) -> Assembly:
    return Assembly.load(cloud_assembly / f"assembly-{env}", cloud_assembly / "tree.json")


def _archive(rehearsed: RehearsedRun) -> tuple[dict[str, Any], bytes]:
    """The rehearsed RegisterModel request and the model archive it registers."""
    rehearsed.run.raise_for_problems()
    (registration,) = rehearsed.run.registrations
    (url,) = registration.model_data_urls
    return registration.request, rehearsed.run.s3.path(url).read_bytes()


def _event(account: Account, package: dict[str, Any], status: str = "Approved") -> dict[str, Any]:
    published = APPROVED if status == "Approved" else REJECTED
    return package_event(published, package, account.assembly.account, account.assembly.region)


# --------------------------------------------------------------------------------------
# dev: inference components
# --------------------------------------------------------------------------------------


@dataclass
class Step:
    """One delivery of an event to the deployer and what it left."""

    result: dict[str, Any]
    writes: list[str]
    calls: list[tuple[str, dict[str, Any]]]
    component: dict[str, Any] | None
    targets: dict[str, Any]
    policies: dict[tuple[str, str], Any]


@dataclass
class Components:
    function: DeployerFunction
    group: str
    #: The component's settings in the function's environment (``COMPONENTS``).
    settings: dict[str, Any]
    #: What the environment's config file asks for: its component settings, and whether the
    #: endpoint scales to zero.
    configured: Any
    scale_to_zero: bool
    endpoint: dict[str, Any]
    config: dict[str, Any]
    alarm_names: list[str]
    packages: list[dict[str, Any]]
    steps: dict[str, Step] = field(default_factory=dict)
    #: Model name -> its description, after the last step.
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Version -> its deployment record, after the last step.
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    wake_up_alarms: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[Any] = field(default_factory=list)

    def params(self, step: str, operation: str) -> list[dict[str, Any]]:
        return [p for op, p in self.steps[step].calls if op == operation]

    def served(self, step: str) -> str | None:
        component = self.steps[step].component
        return None if component is None else component["Specification"]["ModelName"]

    def model(self, version: int) -> str:
        return f"{self.settings['name']}-v{version}"


@pytest.fixture(scope="module")
def components(
    dev_rehearsal: RehearsedRun, cloud_assembly: Path, platform: Any, boto3_session: Any
) -> Components:
    assembly = _assembly(cloud_assembly, COMPONENTS_ENV)
    function = deployer_function(assembly)
    assert function.environment["HOSTING"] == "inference-components"
    (group,) = function.groups
    settings = function.components[group]
    serving = platform.config.environment(COMPONENTS_ENV).serving
    (configured,) = serving.component_settings().values()
    stack, _, endpoint, _, config = serving_endpoint(assembly)
    request, archive = _archive(dev_rehearsal)
    assert request["ModelPackageGroupName"] == group
    env = function.environment
    source_bucket = request["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    buckets = [env["MODEL_BUCKET"], source_bucket.removeprefix("s3://").split("/", 1)[0]]
    with moto_account(assembly, boto3_session, buckets, env[DEAD_LETTER_QUEUE_URL]) as account:
        fake = FakeComponents()
        world = Components(
            function,
            group,
            settings,
            configured,
            serving.scaling.scale_to_zero,
            endpoint,
            config,
            component_alarm_names(assembly, stack, settings["name"]),
            [],
        )

        def deliver(name: str, package: dict[str, Any], status: str = "Approved") -> None:
            fake.calls.clear()
            result = run_deployer(account, function, _event(account, package, status), fake)
            world.steps[name] = Step(
                result,
                fake.writes(),
                copy.deepcopy(fake.calls),
                copy.deepcopy(fake.components.get(settings["name"])),
                copy.deepcopy(fake.targets),
                copy.deepcopy(fake.policies),
            )

        v1 = register_version(account, request, archive, run=1)
        deliver("approve v1", v1)
        v2 = register_version(account, request, archive, run=2)
        deliver("approve v2", v2)
        # Negative controls: an older approval arriving late; a Rejected event for a version
        # the registry still has Approved (the registry decides).
        deliver("late approval of v1", v1)
        deliver("premature rejection of v1", v1, "Rejected")
        # Negative control: a version registered after v2 and rejected before it was served.
        v3 = register_version(account, request, archive, run=3)
        reject_version(account, v3)
        deliver("rejection of v3, never served", v3, "Rejected")
        reject_version(account, v2)
        deliver("reject v2", v2, "Rejected")
        # Negative control: the rejection delivered again, v2 no longer served.
        deliver("reject v2 again", v2, "Rejected")
        world.packages = [v1, v2]
        for version in (1, 2):
            name = world.model(version)
            world.models[name] = account.sagemaker.describe_model(ModelName=name)
            key = f"{env['RECORD_PREFIX']}{group}/v{version}.json"
            body = account.s3.get_object(Bucket=env["MODEL_BUCKET"], Key=key)["Body"].read()
            world.records[version] = json.loads(body)
        world.wake_up_alarms = account.cloudwatch.describe_alarms(AlarmNamePrefix=settings["name"])[
            "MetricAlarms"
        ]
        world.dead_letters = dead_letters(account, env[DEAD_LETTER_QUEUE_URL])
    return world


def test_v1_creates_the_component_on_the_synthesized_endpoint(components: Components) -> None:
    world = components
    step = world.steps["approve v1"]
    assert step.result == {
        "status": "deployed",
        "component": world.settings["name"],
        "model": world.model(1),
    }
    (created,) = world.params("approve v1", "CreateInferenceComponent")
    # The component goes on the endpoint and variant the Serving template creates.
    assert created["EndpointName"] == world.endpoint["EndpointName"]
    assert created["VariantName"] in [v["VariantName"] for v in world.config["ProductionVariants"]]
    assert created["Specification"] == {
        "ModelName": world.model(1),
        "ComputeResourceRequirements": {
            "NumberOfCpuCoresRequired": world.configured.cpu_cores,
            "MinMemoryRequiredInMb": world.configured.memory_mib,
        },
    }
    # Scaled to zero, a newly approved model still gets a copy.
    assert created["RuntimeConfig"] == {"CopyCount": max(1, world.configured.min_copies)}
    (model,) = world.params("approve v1", "CreateModel")
    # The model runs as the endpoint's execution role, in its VPC, isolated.
    assert model == {
        "ModelName": world.model(1),
        "Containers": [{"ModelPackageName": world.packages[0]["arn"]}],
        "ExecutionRoleArn": world.config["ExecutionRoleArn"],
        "VpcConfig": world.config["VpcConfig"],
        "EnableNetworkIsolation": True,
    }
    assert world.served("approve v1") == world.model(1)


def test_v2_rolls_the_component_with_the_templates_rollback_alarms(
    components: Components,
) -> None:
    world = components
    assert world.steps["approve v2"].result["status"] == "deployed"
    assert world.params("approve v2", "CreateInferenceComponent") == []
    (updated,) = world.params("approve v2", "UpdateInferenceComponent")
    assert updated["Specification"]["ModelName"] == world.model(2)
    assert "RuntimeConfig" not in updated  # the copy count autoscaling set is kept
    # The alarms the Serving template creates on this component's metrics, and only those.
    assert len(world.alarm_names) == 2
    assert updated["DeploymentConfig"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": name} for name in world.alarm_names]
    }
    assert world.served("approve v2") == world.model(2)
    (model,) = world.params("approve v2", "CreateModel")
    assert model["Containers"] == [{"ModelPackageName": world.packages[1]["arn"]}]


def test_one_scalable_target_per_component_with_the_configured_copies(
    components: Components,
) -> None:
    """The copies the config file asks for (not only what the function was given)."""
    world = components
    name = world.settings["name"]
    configured = world.configured
    resource = f"inference-component/{name}"
    targets = world.steps["approve v2"].targets
    assert list(targets) == [resource]
    minimum = 0 if world.scale_to_zero else configured.min_copies
    assert (targets[resource]["MinCapacity"], targets[resource]["MaxCapacity"]) == (
        minimum,
        configured.max_copies,
    )
    assert targets[resource]["ScalableDimension"] == (
        "sagemaker:inference-component:DesiredCopyCount"
    )
    # Registered once, on v1: v2's deployment found it as configured.
    assert len(world.params("approve v1", "RegisterScalableTarget")) == 1
    assert world.params("approve v2", "RegisterScalableTarget") == []
    tracking = world.steps["approve v2"].policies[(resource, f"{name}-invocations-per-copy")]
    assert tracking["PolicyType"] == "TargetTrackingScaling"
    configuration = tracking["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["TargetValue"] == configured.invocations_per_copy
    assert configuration["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"
    }
    # Scaled to zero: the wake-up alarm on requests that found no copy.
    assert world.scale_to_zero
    (alarm,) = world.wake_up_alarms
    assert alarm["MetricName"] == "NoCapacityInvocationFailures"
    assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": name}]


def test_rejecting_v2_serves_v1_again_and_deletes_nothing(components: Components) -> None:
    world = components
    step = world.steps["reject v2"]
    assert step.result == {
        "status": "rolled-back",
        "component": world.settings["name"],
        "model": world.model(1),
    }
    assert world.served("reject v2") == world.model(1)
    # The only change is the rolling update back to v1, guarded by the same alarms.
    assert step.writes == ["UpdateInferenceComponent"]
    (updated,) = world.params("reject v2", "UpdateInferenceComponent")
    assert updated["DeploymentConfig"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": name} for name in world.alarm_names]
    }
    # Both models and both records are still there; the autoscaling stays.
    assert set(world.models) == {world.model(1), world.model(2)}
    assert world.records[1]["status"] == "deployed"
    assert world.records[2]["status"] == "rejected"
    assert world.records[2]["servedInstead"] == 1
    assert [h["status"] for h in world.records[2]["history"]] == ["deployed"]
    assert step.targets == world.steps["approve v2"].targets
    assert step.policies == world.steps["approve v2"].policies
    assert world.dead_letters == []


@pytest.mark.parametrize(
    ("step", "status"),
    [
        ("late approval of v1", "ignored"),
        ("premature rejection of v1", "ignored"),
        ("rejection of v3, never served", "already-rejected"),
        ("reject v2 again", "already-rejected"),
    ],
)
def test_late_premature_and_repeated_events_change_nothing(
    components: Components, step: str, status: str
) -> None:
    world = components
    assert world.steps[step].result["status"] == status
    assert world.steps[step].writes == []
    # Not vacuous: the steps around them did change the component.
    assert world.steps["approve v2"].writes and world.steps["reject v2"].writes
    served = world.model(1) if step == "reject v2 again" else world.model(2)
    assert world.served(step) == served


# --------------------------------------------------------------------------------------
# staging: A/B weights across an update
# --------------------------------------------------------------------------------------


@dataclass
class WeightsRun:
    initial: dict[str, float]
    shifted: dict[str, float]
    after_update: dict[str, float]
    update: dict[str, Any]


#: The shift the rehearsal makes: the challenger gets as much traffic as the champion.
SHIFT = {"AllTraffic": 1.0, "xlarge": 1.0}


@pytest.fixture(scope="module")
def ab_endpoint(cloud_assembly: Path, boto3_session: Any) -> dict[str, WeightsRun]:
    """The staging endpoint deployed, reweighted and updated by the next deploy, as the
    template says (``retained``), and as copies of the template say: without retention
    (``not retained``), and retaining all but the weights (``weights excluded``)."""
    assembly = _assembly(cloud_assembly, AB_ENV)
    function = deployer_function(assembly)
    stack, _, endpoint, _, config = serving_endpoint(assembly)
    variants = {
        "retained": endpoint,
        "not retained": {**endpoint, "RetainAllVariantProperties": False},
        "weights excluded": {
            **endpoint,
            "ExcludeRetainedVariantProperties": [
                *endpoint.get("ExcludeRetainedVariantProperties", []),
                {"VariantPropertyType": "DesiredWeight"},
            ],
        },
    }
    runs = {}
    with moto_account(assembly, boto3_session, [], function.environment[DEAD_LETTER_QUEUE_URL]) as (
        account
    ):
        client = account.sagemaker
        updates = EndpointUpdates(client, assembly.account, assembly.region)
        for logical_id, model in [
            (lid, m) for s, lid, m in assembly.resources("AWS::SageMaker::Model") if s == stack
        ]:
            client.create_model(
                ModelName=assembly.get_att(stack, logical_id, "ModelName"),
                **assembly.props(stack, model),
            )
        name = endpoint["EndpointName"]
        for case, props in variants.items():
            # CloudFormation's create: the configuration, then the endpoint.
            client.create_endpoint_config(EndpointConfigName=f"{case}-1", **config)
            client.create_endpoint(
                EndpointName=name,
                EndpointConfigName=f"{case}-1",
                DeploymentConfig=props["DeploymentConfig"],
                Tags=props["Tags"],
            )
            initial = current_weights(client, name)
            shifted = shift_weights(client, name, SHIFT)
            # The next deploy that changes the configuration: a new one under a new name (API
            # Reference, "UpdateEndpoint": an update needs a new EndpointConfig), then the
            # endpoint updated to it with the endpoint resource's properties.
            client.create_endpoint_config(EndpointConfigName=f"{case}-2", **config)
            client.update_endpoint(
                EndpointName=name,
                EndpointConfigName=f"{case}-2",
                RetainAllVariantProperties=props["RetainAllVariantProperties"],
                ExcludeRetainedVariantProperties=props["ExcludeRetainedVariantProperties"],
                DeploymentConfig=props["DeploymentConfig"],
            )
            runs[case] = WeightsRun(
                initial, shifted, current_weights(client, name), updates.calls[-1]
            )
            client.delete_endpoint(EndpointName=name)
    return runs


def test_the_ab_endpoint_starts_at_the_configured_weights(
    ab_endpoint: dict[str, WeightsRun],
) -> None:
    run = ab_endpoint["retained"]
    assert run.initial == {"AllTraffic": 4.0, "xlarge": 1.0}
    assert run.shifted == SHIFT
    assert run.update["RetainAllVariantProperties"] is True


def test_shifted_weights_survive_the_next_deploy(ab_endpoint: dict[str, WeightsRun]) -> None:
    assert ab_endpoint["retained"].after_update == SHIFT


@pytest.mark.parametrize("case", ["not retained", "weights excluded"])
def test_without_retained_weights_the_next_deploy_resets_them(
    ab_endpoint: dict[str, WeightsRun], case: str
) -> None:
    run = ab_endpoint[case]
    assert run.shifted == SHIFT
    assert run.after_update == ab_endpoint["retained"].initial


# --------------------------------------------------------------------------------------
# prod: multi-model rejection
# --------------------------------------------------------------------------------------


@dataclass
class MultiModel:
    function: DeployerFunction
    group: str
    model_data_url: str
    results: dict[str, dict[str, Any]]
    #: Key -> head (None: no such object) of the served and retired archives.
    heads: dict[str, dict[str, Any] | None]
    records: dict[int, dict[str, Any]]
    versions_of_v2: list[dict[str, Any]]
    archive: bytes
    dead_letters: list[Any]

    def served_key(self, version: int) -> str:
        return f"{self.function.environment['MODEL_PREFIX']}{self.group}/v{version}.tar.gz"

    def retired_key(self, version: int) -> str:
        return f"{self.function.environment['RETIRED_PREFIX']}{self.group}/v{version}.tar.gz"


def _head(account: Account, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return dict(account.s3.head_object(Bucket=bucket, Key=key))
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return None
        raise


@pytest.fixture(scope="module")
def multi_model(
    dev_rehearsal: RehearsedRun, cloud_assembly: Path, boto3_session: Any
) -> MultiModel:
    assembly = _assembly(cloud_assembly, MULTI_MODEL_ENV)
    function = deployer_function(assembly)
    env = function.environment
    assert env["HOSTING"] == "multi-model"
    (group,) = function.groups
    bucket = env["MODEL_BUCKET"]
    (model_data_url,) = [
        assembly.props(s, m)["PrimaryContainer"]["ModelDataUrl"]
        for s, _, m in assembly.resources("AWS::SageMaker::Model")
        if s.endswith("-Serving")
    ]
    dev_request, archive = _archive(dev_rehearsal)
    # The same registration as prod's own training pipeline makes it: its group, and its
    # artifact in prod's artifacts bucket.
    request = copy.deepcopy(dev_request)
    request["ModelPackageGroupName"] = group
    container = request["InferenceSpecification"]["Containers"][0]
    container["ModelDataUrl"] = f"s3://{bucket}/{s3_key(container['ModelDataUrl'])}"
    with moto_account(assembly, boto3_session, [bucket], env[DEAD_LETTER_QUEUE_URL]) as account:
        results = {}
        v1 = register_version(account, request, archive, run=1)
        results["approve v1"] = run_deployer(account, function, _event(account, v1))
        v2 = register_version(account, request, archive, run=2)
        results["approve v2"] = run_deployer(account, function, _event(account, v2))
        reject_version(account, v2)
        results["reject v2"] = run_deployer(account, function, _event(account, v2, "Rejected"))
        # Negative controls: the rejection again; v2's approval arriving late.
        results["reject v2 again"] = run_deployer(
            account, function, _event(account, v2, "Rejected")
        )
        results["late approval of v2"] = run_deployer(account, function, _event(account, v2))
        v3 = register_version(account, request, archive, run=3)
        reject_version(account, v3)
        results["rejection of v3, never deployed"] = run_deployer(
            account, function, _event(account, v3, "Rejected")
        )
        world = MultiModel(function, group, model_data_url, results, {}, {}, [], archive, [])
        for version in (1, 2, 3):
            for key in (world.served_key(version), world.retired_key(version)):
                world.heads[key] = _head(account, bucket, key)
        for version in (1, 2):
            record = f"{env['RECORD_PREFIX']}{group}/v{version}.json"
            body = account.s3.get_object(Bucket=bucket, Key=record)["Body"].read()
            world.records[version] = json.loads(body)
        world.versions_of_v2 = account.s3.list_object_versions(
            Bucket=bucket, Prefix=world.served_key(2)
        ).get("Versions", [])
        world.dead_letters = dead_letters(account, env[DEAD_LETTER_QUEUE_URL])
    return world


def test_both_versions_are_served_from_the_endpoints_model_prefix(
    multi_model: MultiModel,
) -> None:
    world = multi_model
    env = world.function.environment
    # The prefix the synthesized multi-model endpoint loads its models from.
    assert world.model_data_url == f"s3://{env['MODEL_BUCKET']}/{env['MODEL_PREFIX']}"
    for version in (1, 2):
        result = world.results[f"approve v{version}"]
        assert result == {
            "status": "deployed",
            "targetModel": f"{world.group}/v{version}.tar.gz",
            "key": world.served_key(version),
        }


def test_rejecting_v2_retires_its_archive_and_keeps_v1_served(multi_model: MultiModel) -> None:
    world = multi_model
    env = world.function.environment
    assert world.results["reject v2"]["status"] == "retired"
    retired = world.heads[world.retired_key(2)]
    assert retired is not None and retired["ContentLength"] == len(world.archive)
    assert retired["ServerSideEncryption"] == "aws:kms"
    assert retired["SSEKMSKeyId"] == env["MODEL_KEY_ARN"]
    assert retired["Metadata"]["model-package-version"] == "2"
    # The served copy is gone, version and all: nothing can load v2 any more.
    assert world.heads[world.served_key(2)] is None
    assert world.versions_of_v2 == []
    # v1 untouched and served; nothing of v1 retired.
    assert world.heads[world.served_key(1)] is not None
    assert world.heads[world.retired_key(1)] is None
    record = world.records[2]
    assert record["status"] == "retired"
    assert record["retiredKey"] == world.retired_key(2)
    assert record["previousApproved"]["modelPackageVersion"] == 1
    assert record["previousApproved"]["deployed"] is True
    assert [h["status"] for h in record["history"]] == ["deployed"]
    assert world.records[1]["status"] == "deployed"
    assert world.dead_letters == []


def test_a_repeated_rejection_or_late_approval_leaves_v2_retired(multi_model: MultiModel) -> None:
    world = multi_model
    assert world.results["reject v2 again"]["status"] == "already-retired"
    late = world.results["late approval of v2"]
    assert late["status"] == "ignored" and "now 'Rejected'" in late["reason"]
    assert world.heads[world.served_key(2)] is None
    # One retirement in the record's history: the repeated event did not write it again.
    assert len(world.records[2]["history"]) == 1


def test_a_rejected_version_never_deployed_is_left_alone(multi_model: MultiModel) -> None:
    world = multi_model
    result = world.results["rejection of v3, never deployed"]
    assert result["status"] == "ignored" and "not deployed here" in result["reason"]
    assert world.heads[world.served_key(3)] is None
    assert world.heads[world.retired_key(3)] is None
    # v1 is still the one served.
    assert world.heads[world.served_key(1)] is not None

"""The composed app: one stage per environment, and what differs between them."""

from __future__ import annotations

import copy
import json

import pytest

from stacks.app_factory import create_app
from stacks.config import SELECT_CONTEXT_KEY
from tests.conftest import ENVIRONMENTS as ENVS
from tests.conftest import EXISTING_VPC, STACKS, resources_of_type


def test_one_stage_per_environment_with_its_account_and_region(platform):
    manifest = json.loads((platform.outdir / "manifest.json").read_text())
    stages = {
        name: artifact
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "cdk:cloud-assembly"
    }
    assert sorted(stages) == ["assembly-dev", "assembly-prod", "assembly-staging"]
    for env in ENVS:
        config = platform.config.environment(env)
        sub = json.loads((platform.outdir / f"assembly-{env}" / "manifest.json").read_text())
        stacks = {
            a["displayName"]: a
            for a in sub["artifacts"].values()
            if a["type"] == "aws:cloudformation:stack"
        }
        assert sorted(stacks) == sorted(f"{env}/{s}" for s in STACKS)
        for artifact in stacks.values():
            assert artifact["environment"] == f"aws://{config.account}/{config.region}"
            assert artifact["properties"]["stackName"].startswith(f"{env}-")


def test_no_context_lookups_are_left_for_the_cli(platform):
    for manifest in platform.outdir.glob("**/manifest.json"):
        assert "missing" not in json.loads(manifest.read_text()), manifest


@pytest.mark.parametrize("env", ENVS)
def test_every_taggable_resource_carries_the_environment_tags(platform, env):
    config = platform.config.environment(env)
    expected = {
        "project": config.tags.project,
        "environment": env,
        "cost-center": config.tags.cost_center,
        "owner": config.tags.owner,
    }
    checked = 0
    for stack in STACKS:
        for logical_id, resource in platform.template(env, stack)["Resources"].items():
            tags = resource.get("Properties", {}).get("Tags")
            if not isinstance(tags, list):
                continue  # not a taggable resource
            found = {t["Key"]: t["Value"] for t in tags}
            assert expected.items() <= found.items(), logical_id
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("stack", ["Security", "Lake"])
def test_termination_protection_only_on_prod_stateful_stacks(platform, stack):
    assert platform.stack("prod", stack).termination_protection is True
    assert platform.stack("staging", stack).termination_protection is False
    assert platform.stack("dev", stack).termination_protection is False
    assert platform.stack("prod", "Network").termination_protection is False
    assert platform.stack("prod", "Data").termination_protection is False


@pytest.mark.parametrize(
    ("env", "policy", "pending_window"),
    [("dev", "Delete", 7), ("staging", "Retain", 30), ("prod", "Retain", 30)],
)
def test_keys_and_secrets_are_retained_outside_dev(platform, env, policy, pending_window):
    template = platform.template(env, "Security")
    keys = resources_of_type(template, "AWS::KMS::Key")
    assert len(keys) == 4
    for key in keys.values():
        assert key["DeletionPolicy"] == policy
        assert key["Properties"]["PendingWindowInDays"] == pending_window
    for secret in resources_of_type(template, "AWS::SecretsManager::Secret").values():
        assert secret["DeletionPolicy"] == policy


@pytest.mark.parametrize(
    ("env", "zones", "retention", "policy"),
    [("dev", 2, 30, "Delete"), ("staging", 2, 365, "Retain"), ("prod", 3, 731, "Retain")],
)
def test_network_differs_per_environment(platform, env, zones, retention, policy):
    template = platform.template(env, "Network")
    assert len(resources_of_type(template, "AWS::EC2::Subnet")) == zones
    (group,) = resources_of_type(template, "AWS::Logs::LogGroup").values()
    assert group["Properties"]["RetentionInDays"] == retention
    assert group["DeletionPolicy"] == policy
    (vpc,) = resources_of_type(template, "AWS::EC2::VPC").values()
    assert vpc["Properties"]["CidrBlock"] == str(platform.config.environment(env).network.cidr)


def test_flow_logs_use_the_logs_key_of_the_same_environment(platform):
    group = next(
        iter(
            resources_of_type(platform.template("prod", "Network"), "AWS::Logs::LogGroup").values()
        )
    )
    # A cross-stack reference to the logs key of the same environment's Security stack.
    reference = group["Properties"]["KmsKeyId"]["Fn::GetStackOutput"]
    assert reference["StackName"] == "prod-Security"
    assert "KeysLogsKey" in reference["OutputName"]


def test_aliases_are_per_project_and_environment(platform):
    aliases = sorted(
        a["Properties"]["AliasName"]
        for a in resources_of_type(
            platform.template("staging", "Security"), "AWS::KMS::Alias"
        ).values()
    )
    assert aliases == [
        "alias/mlops-platform/staging/data-lake",
        "alias/mlops-platform/staging/logs-monitoring",
        "alias/mlops-platform/staging/ml-artifacts",
        "alias/mlops-platform/staging/secrets",
    ]


def test_selecting_one_environment_builds_only_its_stage(base_context, tmp_path):
    ctx = copy.deepcopy(base_context)
    ctx[SELECT_CONTEXT_KEY] = "staging"
    app, config = create_app(ctx, outdir=str(tmp_path))
    assert [child.node.id for child in app.node.children] == ["staging"]
    assert config.selected == ("staging",)


def test_existing_vpc_environment_adopts_it(base_context, tmp_path):
    ctx = copy.deepcopy(base_context)
    ctx[SELECT_CONTEXT_KEY] = "staging"
    ctx["mlops:environments"]["staging"]["network"] = {"existing_vpc": copy.deepcopy(EXISTING_VPC)}
    app, _ = create_app(ctx, outdir=str(tmp_path))
    app.synth()
    (template_path,) = tmp_path.glob("assembly-staging/stagingNetwork*.template.json")
    template = json.loads(template_path.read_text())
    assert resources_of_type(template, "AWS::EC2::VPC") == {}
    assert resources_of_type(template, "AWS::EC2::VPCEndpoint") == {}
    groups = resources_of_type(template, "AWS::EC2::SecurityGroup")
    assert {g["Properties"]["VpcId"] for g in groups.values()} == {"vpc-0a1b2c3d4e5f67890"}


@pytest.mark.parametrize(
    ("env", "policy", "auto_delete", "noncurrent_days", "tiering"),
    [
        ("dev", "Delete", 5, 7, False),
        ("staging", "Retain", 0, 30, True),
        ("prod", "Retain", 0, 90, True),
    ],
)
def test_lake_buckets_per_environment(platform, env, policy, auto_delete, noncurrent_days, tiering):
    template = platform.template(env, "Lake")
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    assert len(buckets) == 5  # three zones, access logs, artifacts
    for bucket in buckets.values():
        assert bucket["DeletionPolicy"] == policy
    assert len(resources_of_type(template, "Custom::S3AutoDeleteObjects")) == auto_delete
    raw = next(b for k, b in buckets.items() if k.startswith("DataLakeRawBucket"))
    (rule,) = raw["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": noncurrent_days}
    assert ("Transitions" in rule) is tiering


@pytest.mark.parametrize(
    ("env", "workers", "worker_type"), [("dev", 2, "G.1X"), ("prod", 10, "G.2X")]
)
def test_glue_job_size_per_environment(platform, env, workers, worker_type):
    (job,) = resources_of_type(platform.template(env, "Data"), "AWS::Glue::Job").values()
    assert job["Properties"]["NumberOfWorkers"] == workers
    assert job["Properties"]["WorkerType"] == worker_type


def test_data_stack_makes_what_the_example_dataset_asks_for(platform):
    template = platform.template("staging", "Data")
    counts = {
        t: len(resources_of_type(template, t))
        for t in (
            "AWS::Glue::Database",
            "AWS::Glue::Table",
            "AWS::Glue::Crawler",
            "AWS::Glue::Job",
            "AWS::Glue::Workflow",
            "AWS::Glue::MLTransform",
            "AWS::DataBrew::Dataset",
            "AWS::DataBrew::Recipe",
            "AWS::DataBrew::Job",
            "AWS::DataBrew::Ruleset",
            "AWS::DataBrew::Schedule",
        )
    }
    assert counts == {
        "AWS::Glue::Database": 3,
        "AWS::Glue::Table": 1,
        "AWS::Glue::Crawler": 3,  # raw table, curated output, analytics zone
        "AWS::Glue::Job": 1,
        "AWS::Glue::Workflow": 1,
        "AWS::Glue::MLTransform": 0,  # FindMatches: only on end-of-life Glue 2.0
        "AWS::DataBrew::Dataset": 1,
        "AWS::DataBrew::Recipe": 1,
        "AWS::DataBrew::Job": 2,
        "AWS::DataBrew::Schedule": 1,
        "AWS::DataBrew::Ruleset": 1,
    }
    names = sorted(
        d["Properties"]["DatabaseInput"]["Name"]
        for d in resources_of_type(template, "AWS::Glue::Database").values()
    )
    assert names == [
        "mlops_platform_staging_analytics",
        "mlops_platform_staging_curated",
        "mlops_platform_staging_raw",
    ]


@pytest.mark.parametrize("env", ENVS)
def test_etl_job_spec_is_accepted_by_the_job_script(platform, env):
    """The config model and the Glue script agree on the feature spec (no drift)."""
    from mlops_constructs.glue.runtime.feature_etl import parse_spec

    (job,) = resources_of_type(platform.template(env, "Data"), "AWS::Glue::Job").values()
    spec = parse_spec(job["Properties"]["DefaultArguments"]["--feature_spec"])
    features = platform.config.environment(env).data.datasets[0].features
    assert spec.partition_by == tuple(features.partition_by)
    assert spec.split is None and features.split is None
    assert spec.drop_columns == tuple(features.drop_columns) == ("full_name",)


@pytest.mark.parametrize(
    ("env", "session", "mode"),
    [("dev", 1, "tag"), ("staging", 1, "quarantine"), ("prod", 0, "quarantine")],
)
def test_protection_per_environment(platform, env, session, mode):
    template = platform.template(env, "Protection")
    assert len(resources_of_type(template, "AWS::Macie::Session")) == session
    (function,) = [
        f for f in resources_of_type(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "macie_remediation.index.handler"
        and "MODE" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]  # fmt: skip
    assert function["Properties"]["Environment"]["Variables"]["MODE"] == mode
    quarantine = [
        k
        for k in resources_of_type(template, "AWS::S3::Bucket")
        if k.startswith("RemediationQuarantineBucket")
    ]
    assert len(quarantine) == (1 if mode == "quarantine" else 0)
    (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
    score = platform.config.environment(env).macie.min_severity_score
    assert rule["Properties"]["EventPattern"]["detail"]["severity"] == {
        "score": [{"numeric": [">=", score]}]
    }


def test_prod_protection_is_termination_protected(platform):
    assert platform.stack("prod", "Protection").termination_protection is True
    assert platform.stack("dev", "Protection").termination_protection is False

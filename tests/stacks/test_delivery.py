"""The delivery pipeline (CDK Pipelines): source, build commands, stages and approval."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from stacks.app_factory import add_nag_gate, create_app
from stacks.config import DELIVERY_CONTEXT_KEY, ConfigError, load_config
from stacks.delivery_stack import SYNTH_COMMANDS, DeliveryStack
from tests.helpers import lint_file
from tests.stacks.test_app import resources_of_type

DELIVERY: dict[str, Any] = {
    "enabled": True,
    "account": "111122223333",
    "region": "eu-west-1",
    "repository": "example-org/mlops-platform",
    "branch": "main",
    "connection_arn": (
        "arn:aws:codeconnections:eu-west-1:111122223333:connection/"
        "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    ),
    "environments": ["dev", "prod"],
}


def with_delivery(base_context, **changes: Any) -> dict[str, Any]:
    ctx = copy.deepcopy(base_context)
    ctx[DELIVERY_CONTEXT_KEY] = {**DELIVERY, **changes}
    return ctx


@pytest.fixture(scope="module")
def delivery(tmp_path_factory):
    """The pipeline stack alone (its stages inside it), synthesized once with cdk-nag."""
    from stacks.app_factory import default_context

    config = load_config(with_delivery(default_context()))
    outdir = tmp_path_factory.mktemp("delivery")
    app = App(outdir=str(outdir), builtin_cloud_formation_validation=False)
    assert config.delivery is not None
    stack = DeliveryStack(app, "Delivery", platform=config, delivery=config.delivery)
    add_nag_gate(app)
    app.synth()  # cdk-nag runs here: an unacknowledged finding fails it
    template = json.loads((outdir / "Delivery.template.json").read_text())
    return stack, template, outdir


def _pipeline(template) -> dict[str, Any]:
    (pipeline,) = resources_of_type(template, "AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]


def test_stages_in_order_with_approval_before_prod(delivery):
    _, template, _ = delivery
    stages = {s["Name"]: s["Actions"] for s in _pipeline(template)["Stages"]}
    assert list(stages) == ["Source", "Build", "UpdatePipeline", "Assets", "dev", "prod"]
    first_prod = min(stages["prod"], key=lambda a: a["RunOrder"])
    assert first_prod["ActionTypeId"]["Category"] == "Approval"
    assert first_prod["Name"] == "Promote-to-prod"
    assert all(a["ActionTypeId"]["Category"] == "Deploy" for a in stages["dev"])
    deployed = {a["Name"].split(".")[0] for a in stages["dev"]}
    assert deployed == {
        "Security", "Network", "Lake", "Data", "Training", "Serving", "Monitoring", "Protection"
    }  # fmt: skip


def test_source_and_the_same_make_commands_as_a_developer(delivery):
    _, template, _ = delivery
    (source,) = _pipeline(template)["Stages"][0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["FullRepositoryId"] == "example-org/mlops-platform"
    assert source["Configuration"]["BranchName"] == "main"
    assert source["Configuration"]["ConnectionArn"] == DELIVERY["connection_arn"]
    synth = next(
        p["Properties"]
        for k, p in resources_of_type(template, "AWS::CodeBuild::Project").items()
        if "Synth" in k
    )
    spec = json.loads(synth["Source"]["BuildSpec"])
    assert (
        spec["phases"]["build"]["commands"] == list(SYNTH_COMMANDS) == ["make test", "make synth"]
    )
    assert spec["artifacts"]["base-directory"] == "cdk.out"
    assert synth["Environment"]["PrivilegedMode"] is False


def test_cross_account_artifacts_are_kms_encrypted_and_retained(delivery):
    _, template, _ = delivery
    (key,) = resources_of_type(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    store = _pipeline(template)["ArtifactStore"]
    assert store["Type"] == "S3"
    assert store["EncryptionKey"]["Type"] == "KMS"
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    artifacts = buckets[store["Location"]["Ref"]]
    rule = artifacts["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "LoggingConfiguration" in artifacts["Properties"]
    assert artifacts["DeletionPolicy"] == "Retain"


def test_pipeline_stacks_are_the_hand_deployed_stacks(delivery):
    stack, _, outdir = delivery
    names = set()
    for manifest in outdir.glob("assembly-Delivery-*/manifest.json"):
        artifacts = json.loads(manifest.read_text())["artifacts"].values()
        names |= {
            a["properties"]["stackName"]
            for a in artifacts
            if a["type"] == "aws:cloudformation:stack"
        }
    assert "dev-Security" in names and "prod-Monitoring" in names
    assert stack.stages["prod"].security.stack_name == "prod-Security"


def test_pipeline_template_lints_clean(delivery):
    _, _, outdir = delivery
    assert lint_file(Path(outdir / "Delivery.template.json"), "eu-west-1") == []


def test_delivery_is_off_by_default_and_for_a_single_environment(base_context, tmp_path):
    app, config = create_app(base_context, outdir=str(tmp_path / "a"))
    assert config.delivery is None and app.node.try_find_child("Delivery") is None
    ctx = with_delivery(base_context)
    ctx["mlops:select"] = "dev"
    app, config = create_app(ctx, outdir=str(tmp_path / "b"))
    assert config.delivery is not None and app.node.try_find_child("Delivery") is None


def test_invalid_delivery_settings_are_reported_together(base_context):
    ctx = with_delivery(
        base_context,
        account="1234",
        connection_arn="arn:aws:iam::111122223333:role/x",
        approval_before=["production"],
    )
    with pytest.raises(ConfigError) as caught:
        load_config(ctx)
    found = caught.value.problems
    assert len(found) == 2, found  # field errors first; cross-checks need a valid section
    assert any("field 'account': got '1234'" in p for p in found)
    assert any("field 'connection_arn'" in p for p in found)
    ctx = with_delivery(base_context, approval_before=["production"], environments=["qa"])
    with pytest.raises(ConfigError) as caught:
        load_config(ctx)
    assert caught.value.problems == [
        "context key 'mlops:delivery', field 'environments': got ['qa']; "
        "expected environments of ['dev', 'staging', 'prod']",
        "context key 'mlops:delivery', field 'approval_before': got ['production']; "
        "expected environments of ['dev', 'staging', 'prod']",
    ]

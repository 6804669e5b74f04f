"""The template resolver both parts of the run rehearsal share (``assembly.py``).

A small hand-written cloud assembly (two stacks, an assets manifest, a construct tree) keeps
these checks independent of the platform's synthesis: names written in different places must
resolve to the same value, and anything the resolver does not know must raise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.rehearsal.assembly import Assembly, UnresolvableError

ACCOUNT, REGION = "111122223333", "eu-west-1"
#: How CDK's default synthesizer names the file-asset bucket, in an assets manifest and in a
#: template alike.
ASSET_BUCKET = "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"

LAKE: dict[str, Any] = {
    "Resources": {
        "Data": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
    },
    "Outputs": {"DataRef": {"Value": {"Ref": "Data"}}},
}
TRAINING: dict[str, Any] = {
    "Conditions": {"IsDev": {"Fn::Equals": ["dev", "dev"]}},
    "Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Uses": {
            "Type": "Custom::Uses",
            "Properties": {
                "Data": {"Fn::GetStackOutput": {"StackName": "t-Lake", "OutputName": "DataRef"}},
                "Script": {"Fn::Sub": f"s3://{ASSET_BUCKET}/abc.py"},
                "Literal": {"Fn::Sub": "${!NotAReference}"},
                "Optional": [
                    "kept",
                    {"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, "prod-only"]},
                ],
                "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            },
        },
    },
}


def _write_assembly(folder: Path, *, training_env: str = f"aws://{ACCOUNT}/{REGION}") -> Path:
    """A stage's cloud assembly in ``folder``/assembly-t with its app's ``tree.json``."""
    stage = folder / "assembly-t"
    stage.mkdir(parents=True)
    artifacts: dict[str, Any] = {}
    for artifact_id, name, template, env in (
        ("tLake", "t-Lake", LAKE, f"aws://{ACCOUNT}/{REGION}"),
        ("tTraining", "t-Training", TRAINING, training_env),
    ):
        (stage / f"{artifact_id}.template.json").write_text(json.dumps(template))
        artifacts[artifact_id] = {
            "type": "aws:cloudformation:stack",
            "environment": env,
            "displayName": f"t/{name.removeprefix('t-')}",
            "properties": {"templateFile": f"{artifact_id}.template.json", "stackName": name},
        }
    (stage / "asset.abc.py").write_text("print('script')\n")
    (stage / "tTraining.assets.json").write_text(
        json.dumps(
            {
                "files": {
                    "abc": {
                        "source": {"path": "asset.abc.py", "packaging": "file"},
                        "destinations": {
                            "current": {"bucketName": ASSET_BUCKET, "objectKey": "abc.py"}
                        },
                    }
                }
            }
        )
    )
    artifacts["tTraining.assets"] = {
        "type": "cdk:asset-manifest",
        "properties": {"file": "tTraining.assets.json"},
    }
    (stage / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    tree = {
        "tree": {
            "path": "",
            "children": {
                "t": {
                    "path": "t",
                    "children": {
                        "Lake": {
                            "path": "t/Lake",
                            "children": {
                                "Data": {
                                    "path": "t/Lake/Data/Resource",
                                    "attributes": {"aws:cdk:cloudformation:logicalId": "Data"},
                                }
                            },
                        }
                    },
                }
            },
        }
    }
    (folder / "tree.json").write_text(json.dumps(tree))
    return stage


@pytest.fixture
def assembly(tmp_path: Path) -> Assembly:
    return Assembly.load(_write_assembly(tmp_path), tmp_path / "tree.json")


def _uses(assembly: Assembly) -> dict[str, Any]:
    return assembly.props("t-Training", TRAINING["Resources"]["Uses"])


def test_a_file_asset_is_where_the_template_says_it_is(assembly: Assembly) -> None:
    (uri,) = assembly.file_assets("t-Training")
    assert (
        uri == _uses(assembly)["Script"] == f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/abc.py"
    )
    assert assembly.file_assets("t-Lake") == {}


def test_a_cross_stack_reference_names_the_producers_resource(assembly: Assembly) -> None:
    bucket = assembly.ref("t-Lake", "Data")
    assert _uses(assembly)["Data"] == bucket
    assert assembly.get_att("t-Lake", "Data", "Arn") == f"arn:aws:s3:::{bucket}"
    # S3 bucket names are lower case, at most 63 characters.
    assert bucket == bucket.lower() and len(bucket) <= 63
    assert assembly.by_path("Lake/Data/*") == [("t-Lake", "Data", LAKE["Resources"]["Data"])]


def test_literals_no_values_and_conditions_resolve_as_cloudformation_does(
    assembly: Assembly,
) -> None:
    uses = _uses(assembly)
    assert uses["Literal"] == "${NotAReference}"
    assert uses["Optional"] == ["kept"]
    assert uses["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/t-Training-Role"


@pytest.mark.parametrize(
    "node",
    [
        {"Ref": "Missing"},
        {"Ref": "AWS::NotificationARNs"},
        {"Fn::GetAtt": ["Missing", "Arn"]},
        {"Fn::Base64": "text"},
        {"Fn::If": ["NoSuchCondition", "a", "b"]},
        {"Fn::ImportValue": "no-such-export"},
        {"Fn::GetStackOutput": {"StackName": "t-Lake", "OutputName": "Missing"}},
        {"Fn::GetStackOutput": {"StackName": "t-Other", "OutputName": "DataRef"}},
        {
            "Fn::GetStackOutput": {
                "StackName": "t-Lake",
                "OutputName": "DataRef",
                "Region": "us-east-1",
            }
        },
    ],
)
def test_what_the_resolver_does_not_know_raises(assembly: Assembly, node: Any) -> None:
    with pytest.raises(UnresolvableError):
        assembly.resolve("t-Training", node)


def test_an_assembly_in_two_environments_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnresolvableError, match="not one environment"):
        Assembly.load(_write_assembly(tmp_path, training_env=f"aws://{ACCOUNT}/us-east-1"))


def test_construct_paths_need_the_tree(tmp_path: Path) -> None:
    with pytest.raises(UnresolvableError, match="no construct tree"):
        Assembly.load(_write_assembly(tmp_path)).by_path("*")

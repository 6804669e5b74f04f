"""No IAM statement in any template grants S3 or KMS broadly."""

from __future__ import annotations

import json

from tests.conftest import resources_of_type

POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def _statements(template):
    for type_name in POLICY_TYPES:
        for logical_id, resource in resources_of_type(template, type_name).items():
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                yield logical_id, statement
    for logical_id, role in resources_of_type(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield logical_id, statement


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_no_s3_or_kms_action_on_every_resource(platform):
    checked = 0
    for path in platform.templates():
        template = json.loads(path.read_text())
        for logical_id, statement in _statements(template):
            if statement["Effect"] != "Allow":
                continue
            checked += 1
            actions = _as_list(statement["Action"])
            resources = _as_list(statement.get("Resource", []))
            assert "*" not in actions and "s3:*" not in actions and "kms:*" not in actions, (
                path.name,
                logical_id,
            )
            if any(a.startswith(("s3:", "kms:")) for a in actions):
                assert "*" not in resources, (path.name, logical_id, statement)
    assert checked > 50

"""The environment config: the shipped config loads; each kind of bad input gives one error."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from stacks.config import (
    ENVIRONMENTS_CONTEXT_KEY,
    SELECT_CONTEXT_KEY,
    ConfigError,
    Tier,
    load_config,
)
from tests.conftest import EXISTING_VPC, REPO_ROOT
from tests.helpers import config_problems as problems_of


def envs(context: dict[str, Any]) -> dict[str, Any]:
    return context[ENVIRONMENTS_CONTEXT_KEY]


def test_cdk_json_config_is_valid(base_context):
    config = load_config(base_context)
    assert [e.name for e in config.environments] == ["dev", "staging", "prod"]
    assert [e.name for e in config.selected_environments()] == ["dev", "staging", "prod"]
    assert config.environment("dev").tier is Tier.DEV
    assert config.environment("dev").allows_destroy
    assert not config.environment("staging").allows_destroy
    assert not config.environment("prod").allows_destroy
    assert config.environment("prod").network.max_azs >= 2


def test_defaults_fill_optional_sections(base_context):
    ctx = copy.deepcopy(base_context)
    minimal = {
        "tier": "staging",
        "account": "593027461185",
        "region": "us-east-2",
        "tags": {"project": "p", "cost_center": "c", "owner": "o"},
    }
    ctx[ENVIRONMENTS_CONTEXT_KEY] = {"qa": minimal}
    env = load_config(ctx).environment("qa")
    assert env.removal == "retain"
    assert env.network.max_azs == 2
    assert str(env.network.cidr) == "10.0.0.0/16"
    assert env.network.interface_endpoints is None
    assert env.network.flow_log_retention_days == 365
    assert env.keys.pending_window_days == 30
    assert env.pinned_availability_zones is None


def test_account_must_be_twelve_digits(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["prod"]["account"] = "12345"
    (problem,) = problems_of(ctx)
    assert "environment 'prod'" in problem
    assert "field 'account'" in problem
    assert "'12345'" in problem
    assert "12-digit" in problem


def test_account_given_as_number_is_rejected(base_context):
    # JSON numbers lose leading zeros, so an account id must be a string.
    ctx = copy.deepcopy(base_context)
    envs(ctx)["dev"]["account"] = 284751930618
    (problem,) = problems_of(ctx)
    assert "field 'account'" in problem and "as a string" in problem


def test_unknown_region_suggests_the_closest(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["staging"]["region"] = "eu-west-9"
    (problem,) = problems_of(ctx)
    assert "environment 'staging'" in problem
    assert "field 'region'" in problem
    assert "'eu-west-9'" in problem
    assert "known AWS region" in problem
    assert "did you mean 'eu-west-" in problem


def test_unknown_environment_selected(base_context):
    ctx = copy.deepcopy(base_context)
    ctx[SELECT_CONTEXT_KEY] = "dev,qa"
    (problem,) = problems_of(ctx)
    assert SELECT_CONTEXT_KEY in problem
    assert "['qa']" in problem
    assert "['dev', 'staging', 'prod']" in problem


def test_selection_keeps_config_order(base_context):
    ctx = copy.deepcopy(base_context)
    ctx[SELECT_CONTEXT_KEY] = "prod, dev"
    assert load_config(ctx).selected == ("dev", "prod")


@pytest.mark.parametrize("tier", ["prod", "staging"])
def test_only_dev_tier_may_destroy_data(base_context, tier):
    ctx = copy.deepcopy(base_context)
    envs(ctx)[tier]["removal"] = "destroy"
    (problem,) = problems_of(ctx)
    assert f"environment '{tier}'" in problem
    assert "field 'removal'" in problem
    assert "'destroy'" in problem
    assert "must retain its data" in problem


def test_unknown_key_is_rejected_with_a_suggestion(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["dev"]["regoin"] = "eu-west-1"
    envs(ctx)["dev"]["network"]["max_az"] = 3
    found = problems_of(ctx)
    assert len(found) == 2
    top = next(p for p in found if "'regoin'" in p)
    assert "unknown key" in top and "did you mean 'region'?" in top
    nested = next(p for p in found if "'network.max_az'" in p)
    assert "did you mean 'max_azs'?" in nested
    assert "flow_log_retention_days" in nested  # lists what is accepted there


def test_missing_required_fields(base_context):
    ctx = copy.deepcopy(base_context)
    del envs(ctx)["staging"]["tier"]
    del envs(ctx)["staging"]["tags"]["owner"]
    found = problems_of(ctx)
    assert "environment 'staging', field 'tier': missing; this field is required" in found
    assert "environment 'staging', field 'tags.owner': missing; this field is required" in found


def test_every_problem_of_every_environment_in_one_error(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["dev"]["account"] = "not-an-account"
    envs(ctx)["staging"]["region"] = "mars-north-1"
    envs(ctx)["prod"]["removal"] = "destroy"
    envs(ctx)["prod"]["network"]["cidr"] = "8.8.0.0/16"
    envs(ctx)["prod"]["keys"]["pending_window_days"] = 3
    ctx[SELECT_CONTEXT_KEY] = "qa"
    with pytest.raises(ConfigError) as caught:
        load_config(ctx)
    error = caught.value
    assert len(error.problems) == 6
    message = str(error)
    assert message.startswith(
        "Invalid platform configuration (6 problems); nothing was synthesized"
    )
    for fragment in (
        "environment 'dev', field 'account'",
        "environment 'staging', field 'region'",
        "environment 'prod', field 'removal'",
        "environment 'prod', field 'network.cidr'",
        "environment 'prod', field 'keys.pending_window_days'",
        SELECT_CONTEXT_KEY,
    ):
        assert fragment in message


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ({"cidr": "10.0.0.0/8"}, "network.cidr", "/16 to /24"),
        ({"max_azs": 7}, "network.max_azs", "less than or equal to 6"),
        (
            {"interface_endpoints": ["sagemaker.api", "s3"]},
            "network.interface_endpoints",
            "unknown",
        ),
        ({"flow_log_retention_days": 10}, "network.flow_log_retention_days", "retention periods"),
        (
            {"availability_zones": ["eu-west-1a"]},
            "network",
            "exactly max_azs",
        ),
    ],
)
def test_network_settings_are_checked(base_context, change, field, expected):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["staging"]["network"].update(change)
    (problem,) = problems_of(ctx)
    assert f"field '{field}'" in problem
    assert expected in problem


def test_prod_needs_two_zones(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["prod"]["network"]["max_azs"] = 1
    (problem,) = problems_of(ctx)
    assert "environment 'prod'" in problem and "at least 2 in prod" in problem


def test_pinned_zones_must_be_in_the_region(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["dev"]["network"]["availability_zones"] = ["us-east-1a", "eu-west-1b"]
    (problem,) = problems_of(ctx)
    assert "['us-east-1a']" in problem and "not in region eu-west-1" in problem


def test_existing_vpc_is_described_without_lookups(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["staging"]["network"] = {"existing_vpc": copy.deepcopy(EXISTING_VPC)}
    env = load_config(ctx).environment("staging")
    assert env.pinned_availability_zones == ["eu-west-1a", "eu-west-1b"]

    envs(ctx)["staging"]["network"]["existing_vpc"]["isolated_subnet_ids"] = ["subnet-xyz"]
    found = problems_of(ctx)
    assert any("existing_vpc.isolated_subnet_ids" in p and "subnet-xyz" in p for p in found)


def test_existing_vpc_needs_a_subnet_per_zone(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["staging"]["network"] = {
        "existing_vpc": {
            "vpc_id": "vpc-0a1b2c3d",
            "vpc_cidr_block": "10.50.0.0/16",
            "availability_zones": ["eu-west-1a", "eu-west-1b"],
            "isolated_subnet_ids": ["subnet-0a1b2c3d"],
            "isolated_subnet_route_table_ids": ["rtb-0a1b2c3d"],
        }
    }
    (problem,) = problems_of(ctx)
    assert "network.existing_vpc" in problem and "one isolated subnet" in problem


def test_duplicate_credential_names(base_context):
    ctx = copy.deepcopy(base_context)
    cred = {"name": "Db", "username": "reader"}
    envs(ctx)["dev"]["secrets"] = {"external_credentials": [cred, cred]}
    (problem,) = problems_of(ctx)
    assert "secrets.external_credentials" in problem and "['Db'] repeat" in problem


def test_empty_environments_section():
    (problem,) = problems_of({ENVIRONMENTS_CONTEXT_KEY: {}})
    assert ENVIRONMENTS_CONTEXT_KEY in problem and "expected an object" in problem


def test_environment_names_are_checked(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["Prod EU"] = envs(ctx).pop("prod")
    (problem,) = problems_of(ctx)
    assert "environment 'Prod EU', field 'name'" in problem


def _run_app(context: dict[str, Any], outdir: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env["CDK_CONTEXT_JSON"] = json.dumps(context)
    env["CDK_OUTDIR"] = outdir
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_app_with_bad_config_exits_with_one_message_and_writes_nothing(base_context, tmp_path):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["prod"]["account"] = "12345"
    envs(ctx)["dev"]["regoin"] = "eu-west-1"
    outdir = tmp_path / "cdk.out"
    result = _run_app(ctx, str(outdir))
    assert result.returncode == 1
    assert "Invalid platform configuration (2 problems)" in result.stderr
    assert "environment 'prod', field 'account': got '12345'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not outdir.exists()


def dataset(ctx: dict[str, Any], env: str = "staging") -> dict[str, Any]:
    return envs(ctx)[env]["data"]["datasets"][0]


def test_example_data_config_is_complete(base_context):
    env = load_config(base_context).environment("prod")
    (ds,) = env.data.datasets
    assert ds.name == "customers" and ds.source_zone == "raw" and ds.target_zone == "curated"
    # FindMatches runs only on end-of-life Glue 2.0: refused by the config, not shipped.
    assert ds.find_matches is None and ds.databrew is not None
    assert env.data.glue.number_of_workers == 10
    assert env.data.lake.zones == ["raw", "curated", "analytics"]


def test_unknown_zone_referenced(base_context):
    ctx = copy.deepcopy(base_context)
    dataset(ctx)["target_zone"] = "gold"
    (problem,) = problems_of(ctx)
    assert "environment 'staging', field 'data.datasets.0.target_zone': got 'gold'" in problem
    assert "lake zones ['raw', 'curated', 'analytics']" in problem


def test_empty_column_list(base_context):
    ctx = copy.deepcopy(base_context)
    dataset(ctx)["columns"] = []
    (problem,) = problems_of(ctx)
    assert "field 'data.datasets.0.columns': got []" in problem
    assert "at least 1 item" in problem


def test_columns_referenced_by_features_must_exist(base_context):
    ctx = copy.deepcopy(base_context)
    # Its columns derive from the features; without training, nothing to serve or monitor.
    for section in ("training", "serving", "monitoring"):
        envs(ctx)["staging"].pop(section)
    dataset(ctx)["features"]["one_hot"]["column"] = "segmnt"
    dataset(ctx)["databrew"]["quality"]["complete_columns"] = ["customer_id", "zip"]
    found = problems_of(ctx)
    assert len(found) == 2
    assert any("features.one_hot.column': got 'segmnt'" in p for p in found)
    assert any("databrew.quality.complete_columns': got 'zip'" in p for p in found)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 2 * * ? *", "such as 'cron(0 2 * * ? *)'"),
        ("cron(0 2 * * *)", "expected 6 cron fields"),
        ("cron(0 25 * * ? *)", "invalid cron field(s) ['hours']"),
        ("cron(0 2 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("rate(1 day)", "such as 'cron(0 2 * * ? *)'"),
    ],
)
def test_bad_schedule_expressions(base_context, expression, expected):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["staging"]["data"]["glue"]["workflow_schedule"] = expression
    (problem,) = problems_of(ctx)
    assert "field 'data.glue.workflow_schedule'" in problem
    assert f"got {expression!r}" in problem
    assert expected in problem


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 2 * * ? *)",
        "cron(15 6 ? * MON-FRI *)",
        "cron(0/30 8-18 ? * 2-6 *)",
        "cron(0 3 1 * ? *)",
    ],
)
def test_good_schedule_expressions(base_context, expression):
    ctx = copy.deepcopy(base_context)
    dataset(ctx)["databrew"]["schedule"] = expression
    assert load_config(ctx).environment("staging").data.datasets[0].databrew.schedule == expression


def test_databrew_and_find_matches_settings_are_checked(base_context):
    ctx = copy.deepcopy(base_context)
    dataset(ctx)["find_matches"] = {"primary_key": "customer_id", "precision_recall_tradeoff": 1.5}
    dataset(ctx)["databrew"]["fill_missing"] = [{"column": "segment", "strategy": "custom"}]
    dataset(ctx)["databrew"]["quality"]["ranges"] = [{"column": "annual_spend", "min": 5, "max": 1}]
    found = problems_of(ctx)
    assert len(found) == 3
    assert any("find_matches.precision_recall_tradeoff': got 1.5" in p for p in found)
    assert any("give 'value' exactly when strategy is 'custom'" in p for p in found)
    assert any("min (5.0) is greater than max (1.0)" in p for p in found)


def test_lake_zones_and_partitioning_are_checked(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["dev"]["data"]["lake"]["zones"] = ["raw", "Curated", "raw"]
    dataset(ctx, "staging")["features"]["partition_by"] = ["segment"]
    found = problems_of(ctx)
    assert any("data.lake.zones" in p and "['Curated']" in p for p in found)
    assert any(
        "features.partition_by.0': got 'segment'; expected a column that still exists; "
        "one_hot drops it" in p
        for p in found
    )


def test_macie_config_is_checked(base_context):
    ctx = copy.deepcopy(base_context)
    macie = envs(ctx)["staging"]["macie"]
    macie["zones"] = ["raw", "gold"]
    macie["remediation"] = "delete"
    macie["security_admin_role_arn"] = "SecurityAdmin"
    macie["custom_data_identifiers"].append(dict(macie["custom_data_identifiers"][0]))
    macie["allow_lists"][0]["regex"] = ""
    found = problems_of(ctx)
    assert any("macie.remediation': got 'delete'" in p for p in found)
    assert any("macie.security_admin_role_arn': got 'SecurityAdmin'" in p for p in found)
    assert any("macie.allow_lists.0.regex" in p for p in found)
    # Cross-field checks run once the fields themselves are valid.
    macie["remediation"] = "tag"
    macie["security_admin_role_arn"] = None
    macie["allow_lists"][0]["regex"] = "TEST-[0-9]{4}"
    found = problems_of(ctx)
    assert any("macie.zones': got 'gold'" in p for p in found)
    assert any(
        "macie.custom_data_identifiers': got 'employee_id'; expected unique names" in p
        for p in found
    )


def test_macie_custom_identifier_regex_must_compile(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["dev"]["macie"]["custom_data_identifiers"][0]["regex"] = "EMP-([0-9"
    (problem,) = problems_of(ctx)
    assert "custom_data_identifiers.0.regex" in problem and "valid regular expression" in problem


def test_review_gaps_are_caught(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["dev"]["data"]["glue"]["worker_type"] = "G.025X"
    envs(ctx)["staging"]["macie"]["custom_data_identifiers"][0]["keywords"] = ["id"]
    envs(ctx)["prod"]["network"]["max_azs"] = 4
    found = problems_of(ctx)
    assert len(found) == 3
    assert any("data.glue.worker_type': got 'G.025X'" in p for p in found)
    assert any("keywords" in p and "3 to 90 characters" in p for p in found)
    assert any("network.max_azs is 4" in p for p in found)


def test_project_tag_bounds_derived_names(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["dev"]["tags"]["project"] = "machine learning platform of the analytics team"
    (problem,) = problems_of(ctx)
    assert "expected at most 24" in problem


def test_one_macie_session_per_account_and_region(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["staging"]["account"] = envs(ctx)["dev"]["account"]
    (problem,) = problems_of(ctx)
    assert "environment 'staging', field 'macie.manage_macie_session'" in problem
    assert "'dev' already manages the Macie session" in problem


def test_quarantine_outside_dev_needs_a_security_admin(base_context):
    ctx = copy.deepcopy(base_context)
    envs(ctx)["staging"]["macie"]["security_admin_role_arn"] = None
    (problem,) = problems_of(ctx)
    assert "field 'macie.security_admin_role_arn': got None" in problem

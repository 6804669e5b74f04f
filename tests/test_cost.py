"""``make cost`` (tools/cost.py): the standing monthly cost from the synthesized templates.

Small hand-made cloud assemblies with known answers, then the real synthesized app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import cost

REPO_ROOT = Path(__file__).resolve().parent.parent
HOURS = 730.0
M5_LARGE = 0.128  # tools/prices/eu-west-1.yaml
AZ_HOUR = 0.01


def write_assembly(root: Path, resources: dict[str, Any], region: str = "eu-west-1") -> Path:
    """A cloud assembly as ``make synth`` writes it: one stage (``test``), one stack."""
    nested = root / "assembly-test"
    nested.mkdir(parents=True)
    (root / "manifest.json").write_text(
        json.dumps(
            {
                "version": "55.0.0",
                "artifacts": {
                    "assembly-test": {
                        "type": "cdk:cloud-assembly",
                        "properties": {"directoryName": "assembly-test", "displayName": "test"},
                    }
                },
            }
        )
    )
    (nested / "manifest.json").write_text(
        json.dumps(
            {
                "version": "55.0.0",
                "artifacts": {
                    "testServing": {
                        "type": "aws:cloudformation:stack",
                        "environment": f"aws://111122223333/{region}",
                        "properties": {"templateFile": "testServing.template.json"},
                        "displayName": "test/Serving",
                    }
                },
            }
        )
    )
    (nested / "testServing.template.json").write_text(json.dumps({"Resources": resources}))
    return root


def endpoint(
    name: str, variants: list[dict[str, Any]], config_id: str = "Config"
) -> dict[str, Any]:
    return {
        config_id: {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {"ProductionVariants": variants},
        },
        f"{name}Endpoint": {
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {
                "EndpointName": name,
                "EndpointConfigName": {"Fn::GetAtt": [config_id, "EndpointConfigName"]},
            },
        },
    }


def variant(instance_type: str = "ml.m5.large", count: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "VariantName": "AllTraffic",
        "InstanceType": instance_type,
        "InitialInstanceCount": count,
        **extra,
    }


def run(tmp_path: Path, resources: dict[str, Any]) -> cost.Report:
    root = write_assembly(tmp_path / "cdk.out", resources)
    (env,) = cost.read_assembly(root)
    return cost.report(env, cost.load_prices(env.region))


# ------------------------------------------------------------------------------------------
# Schedules


def test_weekday_cron_fires_once_each_weekday_at_its_minute() -> None:
    minutes = cost.weekly_minutes("cron(0 19 ? * MON-FRI *)")
    assert minutes == [day * 1440 + 19 * 60 for day in range(5)]
    # AWS numbers days from Sunday = 1: 2-6 is Monday to Friday.
    assert cost.weekly_minutes("cron(0 19 ? * 2-6 *)") == minutes
    assert cost.weekly_minutes("cron(30 7 ? * SAT,SUN *)") == [5 * 1440 + 450, 6 * 1440 + 450]


@pytest.mark.parametrize(
    "expression",
    ["rate(1 hour)", "cron(0 7 1 * ? *)", "cron(0 7 ? * MON#1 *)", "cron(0 7 ? * MON 2027)"],
)
def test_non_weekly_schedule_is_refused(expression: str) -> None:
    with pytest.raises(cost.UnsupportedSchedule):
        cost.weekly_minutes(expression)


def test_off_hours_weighting_over_the_week() -> None:
    # Off hours from 19:00 to 07:00 on weekdays, and the whole weekend (no action fires on
    # Saturday or Sunday): 4 x 12 h + 60 h (Friday 19:00 to Monday 07:00) = 108 of 168 hours.
    average, lowest = cost.weighted_minimum(
        2, [("cron(0 19 ? * MON-FRI *)", 1), ("cron(0 7 ? * MON-FRI *)", 2)]
    )
    assert lowest == 1
    assert average == pytest.approx((108 * 1 + 60 * 2) / 168)
    # Negative control: without the schedule the minimum holds all week.
    assert cost.weighted_minimum(2, []) == (2, 2)


# ------------------------------------------------------------------------------------------
# Hand-made templates with known answers


def test_endpoint_with_off_hours_bounds(tmp_path: Path) -> None:
    resources = endpoint("ep", [variant(count=2)])
    resources["Target"] = {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {
            "ResourceId": {
                "Fn::Join": ["", ["endpoint/", {"Ref": "epEndpoint"}, "/variant/AllTraffic"]]
            },
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": 2,
            "MaxCapacity": 4,
            "ScheduledActions": [
                {
                    "Schedule": "cron(0 19 ? * MON-FRI *)",
                    "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 1},
                },
                {
                    "Schedule": "cron(0 7 ? * MON-FRI *)",
                    "ScalableTargetAction": {"MinCapacity": 2, "MaxCapacity": 4},
                },
            ],
            "ServiceNamespace": "sagemaker",
        },
    }
    result = run(tmp_path, resources)
    (item,) = result.items
    average = (108 * 1 + 60 * 2) / 168
    assert item.monthly == pytest.approx(average * HOURS * M5_LARGE)
    always_on, saved = result.savings
    assert always_on == pytest.approx(2 * HOURS * M5_LARGE)
    assert saved == pytest.approx(108 / 168 * HOURS * M5_LARGE)
    assert result.total == pytest.approx(item.monthly)
    text = cost.format_report(result)
    assert f"save ${saved:,.2f} a month" in text
    assert "lower bound" not in text


def test_endpoint_without_autoscaling_bills_the_configured_count(tmp_path: Path) -> None:
    result = run(tmp_path, endpoint("ep", [variant(count=3)]))
    assert result.total == pytest.approx(3 * HOURS * M5_LARGE)
    assert result.savings == (pytest.approx(3 * HOURS * M5_LARGE), pytest.approx(0))


def test_interface_endpoint_is_billed_per_zone_and_gateway_is_free(tmp_path: Path) -> None:
    subnets = [{"Ref": f"Subnet{i}"} for i in range(3)]
    resources = {
        "Kms": {
            "Type": "AWS::EC2::VPCEndpoint",
            "Properties": {
                "ServiceName": {
                    "Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".kms"]]
                },
                "SubnetIds": subnets,
                "VpcEndpointType": "Interface",
                "VpcId": {"Ref": "Vpc"},
            },
        },
        "S3": {
            "Type": "AWS::EC2::VPCEndpoint",
            "Properties": {
                "ServiceName": "com.amazonaws.eu-west-1.s3",
                "VpcEndpointType": "Gateway",
                "VpcId": "v",
            },
        },
    }
    result = run(tmp_path, resources)
    (item,) = result.items
    assert item.resource.endswith("(kms)")
    assert item.monthly == pytest.approx(3 * HOURS * AZ_HOUR)
    assert any("gateway VPC endpoint" in note for note in result.notes)


def inference_component_endpoint(min_instances: int, min_copies: int) -> dict[str, Any]:
    managed = {"Status": "ENABLED", "MinInstanceCount": min_instances, "MaxInstanceCount": 2}
    resources = endpoint("ic", [variant(count=1, ManagedInstanceScaling=managed)])
    resources["Component"] = {
        "Type": "AWS::SageMaker::InferenceComponent",
        "Properties": {
            "EndpointName": {"Fn::GetAtt": ["icEndpoint", "EndpointName"]},
            "InferenceComponentName": "spend-ic",
            "RuntimeConfig": {"CopyCount": 1},
            "Specification": {},
            "VariantName": "AllTraffic",
        },
    }
    resources["CopyTarget"] = {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {
            "ResourceId": {"Fn::Join": ["", ["inference-component/", {"Ref": "Component"}]]},
            "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
            "MinCapacity": min_copies,
            "MaxCapacity": 4,
            "ServiceNamespace": "sagemaker",
        },
    }
    return resources


def test_inference_components_scaled_to_zero_cost_nothing_idle(tmp_path: Path) -> None:
    result = run(tmp_path, inference_component_endpoint(min_instances=0, min_copies=0))
    (item,) = result.items
    assert item.monthly == 0
    assert result.savings == (pytest.approx(HOURS * M5_LARGE), pytest.approx(HOURS * M5_LARGE))


def test_components_made_at_run_time_leave_the_instance_minimum(tmp_path: Path) -> None:
    resources = inference_component_endpoint(min_instances=1, min_copies=0)
    del resources["Component"], resources["CopyTarget"]
    result = run(tmp_path, resources)
    assert result.total == pytest.approx(HOURS * M5_LARGE)
    assert any("at run time" in note for note in result.notes)
    resources = inference_component_endpoint(min_instances=0, min_copies=0)
    del resources["Component"], resources["CopyTarget"]
    assert run(tmp_path / "zero", resources).total == 0


def test_a_kept_copy_keeps_an_instance(tmp_path: Path) -> None:
    # Negative control of the above: MinInstanceCount 0 but one copy kept: one instance.
    result = run(tmp_path, inference_component_endpoint(min_instances=0, min_copies=1))
    assert result.total == pytest.approx(HOURS * M5_LARGE)


def test_missing_price_is_reported_not_zero(tmp_path: Path) -> None:
    resources = endpoint("known", [variant(count=1)])
    resources |= endpoint("unknown", [variant("ml.t2.medium", count=1)], config_id="Config2")
    result = run(tmp_path, resources)
    unknown = [i for i in result.items if "ml.t2.medium" in i.detail]
    assert [i.monthly for i in unknown] == [None]
    assert result.missing == unknown
    assert result.total == pytest.approx(HOURS * M5_LARGE)
    text = cost.format_report(result)
    assert "(lower bound)" in text
    assert "Missing prices" in text and "unknownEndpoint" in text.split("Missing prices")[1]
    # An instance type the table does not list at all is missing too.
    other = run(tmp_path / "other", endpoint("x", [variant("ml.zz.huge", count=1)]))
    assert other.missing and other.total == 0


def test_alarms_keys_secrets_and_dashboards(tmp_path: Path) -> None:
    resources = {
        "Standard": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {"Period": 60, "MetricName": "m"},
        },
        "HighRes": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {"Period": 10, "MetricName": "m"},
        },
        "Insights": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Metrics": [{"Id": "q", "Expression": 'SELECT MAX("x") FROM "ns"', "Period": 300}]
            },
        },
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}},
        "Secret": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {"ReplicaRegions": [{"Region": "eu-central-1"}]},
        },
        "Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": "{}"}},
    }
    result = run(tmp_path, resources)
    assert result.total == pytest.approx(0.10 + 0.30 + 1.0 + 2 * 0.40 + 3.0)
    assert [i.detail for i in result.missing] == [
        "1 Metrics Insights query alarms, metrics matched unknown"
    ]


def test_missing_cloud_assembly_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cost.main(["--cdk-out", str(tmp_path / "cdk.out")]) == 2
    assert "run `make synth` first" in capsys.readouterr().err


def test_region_without_a_price_table_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_assembly(tmp_path / "cdk.out", endpoint("ep", [variant()]), region="ap-south-2")
    assert cost.main(["--cdk-out", str(root)]) == 2
    assert "no price table for region ap-south-2" in capsys.readouterr().err


def test_every_price_names_its_source() -> None:
    for path in sorted((REPO_ROOT / "tools" / "prices").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        assert data["as_of"] and data["region"] == path.stem
        for key, entry in data.items():
            if not isinstance(entry, dict):
                continue
            leaves = entry.values() if "price" not in entry else [entry]
            for leaf in leaves:
                assert leaf["source"], f"{path.name} {key}: no source"


# ------------------------------------------------------------------------------------------
# The synthesized app


@pytest.fixture(scope="module")
def reports(platform: Any) -> dict[str, cost.Report]:
    return {
        env.name: cost.report(env, cost.load_prices(env.region))
        for env in cost.read_assembly(platform.outdir)
    }


def test_every_environment_is_reported(platform: Any, reports: dict[str, cost.Report]) -> None:
    assert sorted(reports) == ["dev", "prod", "staging"]
    for name, result in reports.items():
        assert result.total > 0, name
        # Every endpoint instance of the shipped config has a price.
        assert not [i for i in result.missing if i.unit == "instance-hours"], name


def test_interface_endpoints_are_counted_in_each_zone(reports: dict[str, cost.Report]) -> None:
    for name, result in reports.items():
        max_azs = yaml.safe_load((REPO_ROOT / "config" / f"{name}.yaml").read_text())["network"][
            "max_azs"
        ]
        endpoints = [i for i in result.items if i.unit == "AZ-hours"]
        assert endpoints, name
        assert {i.quantity for i in endpoints} == {max_azs * HOURS}, name


def test_output_is_deterministic(platform: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main(["--cdk-out", str(platform.outdir)]) == 0
    first = capsys.readouterr().out
    assert cost.main(["--cdk-out", str(platform.outdir)]) == 0
    assert capsys.readouterr().out == first
    for name in ("dev", "staging", "prod"):
        assert f"## {name} (" in first
    assert "not counted: scheduled and on-demand work" in first


def test_env_selects_environments(platform: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main(["--cdk-out", str(platform.outdir), "--env", "dev,prod"]) == 0
    out = capsys.readouterr().out
    assert "## dev (" in out and "## prod (" in out
    assert "## staging (" not in out
    # Negative control: a name no environment has is an error, not an empty report.
    assert cost.main(["--cdk-out", str(platform.outdir), "--env", "qa"]) == 2

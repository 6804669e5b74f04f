"""InferenceComponentEndpoint and its settings: the endpoint made for components the deployer
creates, the component names, alarms, and every limit reported at once."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import botocore
import pytest

from mlops_constructs.core.validation import PropsError
from mlops_constructs.serving import (
    COMPONENT_NAME_MAX,
    INSTANCE_RESOURCES,
    ComponentSettings,
    IInferenceComponentEndpoint,
    IMultiModelEndpoint,
    InferenceComponentEndpoint,
    InstanceScaling,
    IServingEndpoint,
    component_name,
    components_problems,
)
from tests.helpers import endpoint_base, lint_problems, synth_construct

GROUPS = ("mlops-dev-spend", "mlops-dev-churn")


def _build(stack: Any, **props: Any) -> InferenceComponentEndpoint:
    _, base = endpoint_base(stack)
    return InferenceComponentEndpoint(
        stack,
        "Endpoint",
        **base,
        components={g: ComponentSettings(min_copies=0) for g in GROUPS},
        scaling=InstanceScaling(min_instances=0, max_instances=3, scale_to_zero=True),
        **props,
    )


@pytest.fixture(scope="module")
def made() -> tuple[Any, InferenceComponentEndpoint, Any]:
    # cdk-nag runs on this synthesis: a finding fails it.
    template, endpoint, stack = synth_construct(_build)
    return template, endpoint, stack


def _config(template: Any) -> dict[str, Any]:
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    return config


def test_the_variant_has_no_model_and_managed_instance_scaling(made):
    template, endpoint, stack = made
    config = _config(template)
    props = config["Properties"]
    (variant,) = props["ProductionVariants"]
    assert "ModelName" not in variant
    assert variant["VariantName"] == "AllTraffic"
    assert variant["InstanceType"] == "ml.m5.large"
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 0,
        "MaxInstanceCount": 3,
    }
    # InitialInstanceCount is at least 1 (ProductionVariant); scaling goes down from there.
    assert variant["InitialInstanceCount"] == 1
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    role_id = stack.get_logical_id(endpoint.role.node.default_child)
    assert props["ExecutionRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert props["EnableNetworkIsolation"] is True
    assert len(props["VpcConfig"]["Subnets"]) == 2
    # The configuration is created only once its role may do what SageMaker checks.
    assert any("ExecutionRoleDefaultPolicy" in d for d in config["DependsOn"])
    # No model and no component is made by CloudFormation: the deployer makes them.
    assert not template.find_resources("AWS::SageMaker::Model")
    assert not template.find_resources("AWS::SageMaker::InferenceComponent")


def test_volumes_and_capture_are_encrypted_and_capture_goes_under_the_endpoint(made):
    template, endpoint, _ = made
    props = _config(template)["Properties"]
    assert "KmsKeyId" in props  # ml.m5.large has no instance storage
    capture = props["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 20
    assert "KmsKeyId" in capture
    assert json.dumps(capture["DestinationS3Uri"]).endswith(
        f'/endpoints/{endpoint.endpoint_name}/capture"]]}}'
    )


def test_capture_percentage_zero_leaves_capture_out():
    template, _, _ = synth_construct(lambda s: _build(s, capture_percentage=0), nag=False)
    assert "DataCaptureConfig" not in _config(template)["Properties"]


def test_a_token_is_not_compared():
    from typing import cast

    from aws_cdk import Token

    # A token stands for a number known only at deploy time (a CloudFormation parameter).
    copies = cast(int, Token.as_number({"Ref": "Copies"}))
    settings = ComponentSettings(min_copies=copies, max_copies=copies)
    # Compared, the token's stand-in value would not be 0 with scale to zero.
    zero = InstanceScaling(min_instances=0, scale_to_zero=True)
    assert components_problems("ml.m5.large", zero, {"g": settings}) == []


def test_the_endpoint_keeps_what_managed_scaling_set_but_applies_capture_changes(made):
    template, endpoint, _ = made
    (resource,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    props = resource["Properties"]
    assert props["EndpointName"] == endpoint.endpoint_name
    assert props["RetainAllVariantProperties"] is True
    assert props["ExcludeRetainedVariantProperties"] == [
        {"VariantPropertyType": "DataCaptureConfig"}
    ]


def test_each_component_has_rollback_alarms_on_its_own_metrics(made):
    template, endpoint, _ = made
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 2 * len(GROUPS)
    for group in GROUPS:
        name = endpoint.component_names[group]
        mine = [
            a["Properties"]
            for a in alarms.values()
            if a["Properties"]["Dimensions"][0]["Value"] == name
        ]
        by_metric = {a["MetricName"]: a for a in mine}
        assert set(by_metric) == {"Invocation5XXErrors", "ModelLatency"}
        for alarm in mine:
            assert alarm["Namespace"] == "AWS/SageMaker"
            assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": name}]
            assert alarm["TreatMissingData"] == "notBreaching"
            assert alarm["AlarmActions"] and alarm["OKActions"]
        assert by_metric["ModelLatency"]["ExtendedStatistic"] == "p99"
        assert by_metric["ModelLatency"]["Threshold"] == 1000 * 1000
        assert by_metric["Invocation5XXErrors"]["Statistic"] == "Sum"
        assert len(endpoint.rollback_alarms(group)) == 2


def test_the_dashboard_graphs_each_component(made):
    template, endpoint, _ = made
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for group in GROUPS:
        assert endpoint.component_names[group] in body
    assert "/aws/sagemaker/InferenceComponents" in body
    assert "CPUUtilizationNormalized" in body


def test_the_components_setting_holds_the_contract(made):
    _, endpoint, stack = made
    described = json.loads(_render(stack.resolve(endpoint.components_environment())))
    assert set(described) == set(GROUPS)
    for group, c in described.items():
        assert set(c) == {
            "name",
            "cpu_cores",
            "memory_mib",
            "min_copies",
            "max_copies",
            "invocations_per_copy",
            "rollback_alarms",
            "scale_to_zero",
        }
        assert c["name"] == endpoint.component_names[group]
        assert (c["cpu_cores"], c["memory_mib"], c["min_copies"], c["max_copies"]) == (
            1.0,
            1024,
            0,
            2,
        )
        assert c["scale_to_zero"] is True
        assert len(c["rollback_alarms"]) == 2
        assert all(a.startswith("<Ref:") for a in c["rollback_alarms"])


def test_it_is_a_serving_endpoint_with_components_not_a_multi_model_one(made):
    _, endpoint, _ = made
    assert isinstance(endpoint, IServingEndpoint)
    assert isinstance(endpoint, IInferenceComponentEndpoint)
    assert endpoint.inference_components is True
    assert endpoint.multi_model is False


def test_a_multi_model_endpoint_is_no_component_endpoint():
    # Negative control of the protocol check above.
    from mlops_constructs.serving import MultiModelEndpoint

    _, endpoint, _ = synth_construct(
        lambda s: MultiModelEndpoint(s, "Endpoint", **endpoint_base(s)[1], image_uri="img"),
        nag=False,
    )
    assert isinstance(endpoint, IMultiModelEndpoint)
    assert not isinstance(endpoint, IInferenceComponentEndpoint)


def test_cfn_lint_is_clean(made):
    template, _, _ = made
    assert lint_problems(template) == []


# -- names ------------------------------------------------------------------------------------
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LONG = "a" * 62 + "b"


@pytest.mark.parametrize(
    ("endpoint", "group"),
    [
        ("TestStack-Endpoint-03B36749", "mlops-dev-spend"),
        (_LONG, _LONG),
        ("e", "g"),
        ("ab--cd", "x-" * 31 + "y"),
        (_LONG, "g"),
        ("e", _LONG),
    ],
)
def test_component_names_fit_every_name_they_are_part_of(endpoint, group):
    name = component_name(endpoint, group)
    assert len(name) <= COMPONENT_NAME_MAX
    assert _NAME.match(name)
    assert name == component_name(endpoint, group)
    # The deployer's model versions and wake-up alarm names derive from it.
    assert len(f"{name}-v999999999") <= 63


def test_component_names_are_unique_per_endpoint_and_group():
    # Groups that share their first 40 characters, and endpoints alike, still differ.
    groups = [_LONG[:-1] + c for c in "bcd"] + ["spend", "Spend"]
    endpoints = [_LONG[:-1] + c for c in "bc"] + ["e"]
    names = {component_name(e, g) for e in endpoints for g in groups}
    assert len(names) == len(groups) * len(endpoints)


# -- limits -----------------------------------------------------------------------------------
def test_valid_settings_have_no_problem():
    # Negative control for the problem tests below.
    assert components_problems("ml.m5.large", InstanceScaling(), {"g": ComponentSettings()}) == []
    assert (
        components_problems(
            "ml.c5.xlarge",
            InstanceScaling(min_instances=0, scale_to_zero=True),
            {"g": ComponentSettings(min_copies=0, max_copies=4)},
        )
        == []
    )


def test_every_problem_is_reported_at_once():
    problems = components_problems(
        "ml.t2.medium",
        InstanceScaling(min_instances=3, max_instances=2, scale_to_zero=True),
        {"a": ComponentSettings(min_copies=3, max_copies=2)},
    )
    fields = [p[0] for p in problems]
    assert fields == [
        "instance_type",
        "scaling.min_instances",
        "scaling.min_instances",
        "components.a.min_copies",
        "components.a.min_copies",
    ]
    assert "endpoint-auto-scaling-zero-instances.html" in problems[2][2]


def test_zero_without_scale_to_zero_is_refused():
    problems = components_problems(
        "ml.m5.large",
        InstanceScaling(min_instances=0),
        {"a": ComponentSettings(min_copies=0)},
    )
    assert [p[0] for p in problems] == ["scaling.min_instances", "components.a.min_copies"]


def test_copies_must_fit_the_instances():
    # ml.m5.large: 2 vCPUs, 8 GiB. One copy of 3 cores fits no instance; 2 x 2 copies of
    # 1.5 cores need 6 vCPUs, more than 2 instances have.
    problems = components_problems(
        "ml.m5.large",
        InstanceScaling(max_instances=2),
        {
            "big": ComponentSettings(cpu_cores=3, max_copies=1),
            "many": ComponentSettings(cpu_cores=1.5, max_copies=2),
        },
    )
    assert [p[0] for p in problems] == ["components.big", "components"]
    assert problems[1][1] == {"cpu_cores": 6.0, "memory_mib": 3 * 1024}
    memory = components_problems(
        "ml.c5.large", InstanceScaling(max_instances=1), {"m": ComponentSettings(memory_mib=4097)}
    )
    assert [p[0] for p in memory] == ["components.m", "components"]
    # Exactly full is allowed.
    assert (
        components_problems(
            "ml.m5.large",
            InstanceScaling(max_instances=2),
            {"g": ComponentSettings(cpu_cores=2, memory_mib=8192, max_copies=2)},
        )
        == []
    )


def test_no_component_is_refused():
    assert [p[0] for p in components_problems("ml.m5.large", InstanceScaling(), {})] == [
        "components"
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpu_cores", 0.2),  # NumberOfCpuCores minimum 0.25
        ("memory_mib", 127),  # MemoryInMb minimum 128
        ("min_copies", -1),
        ("max_copies", 0),
        ("invocations_per_copy", 0),
    ],
)
def test_component_bounds(field, value):
    with pytest.raises(ValueError, match=field):
        ComponentSettings(**{field: value})


def test_instance_scaling_bounds():
    with pytest.raises(ValueError, match="max_instances"):
        InstanceScaling(max_instances=0)  # MaxInstanceCount minimum 1
    with pytest.raises(ValueError, match="min_instances"):
        InstanceScaling(min_instances=-1)


def test_the_instance_table_names_real_endpoint_instance_types():
    # Every type the table allows is one SageMaker accepts for a production variant
    # (botocore's model of the SageMaker API, ProductionVariantInstanceType).
    data = Path(botocore.__file__).parent / "data" / "sagemaker"
    with gzip.open(sorted(data.glob("*/service-2.json.gz"))[-1]) as f:
        model = json.load(f)
    allowed = set(model["shapes"]["ProductionVariantInstanceType"]["enum"])
    assert set(INSTANCE_RESOURCES) <= allowed
    assert not any(t.startswith("ml.t") for t in INSTANCE_RESOURCES)


def test_the_construct_reports_every_problem_at_once():
    def build(stack: Any) -> None:
        _, base = endpoint_base(stack)
        InferenceComponentEndpoint(
            stack,
            "Endpoint",
            **base,
            components={"bad_group": ComponentSettings(min_copies=0)},
            instance_type="ml.t2.medium",
            capture_percentage=101,
        )

    with pytest.raises(PropsError) as raised:
        synth_construct(build, nag=False)
    message = str(raised.value)
    for part in ("components", "bad_group", "capture_percentage", "instance_type", "min_copies"):
        assert part in message


def _render(value: Any) -> str:
    """A resolved string with its references written ``<Ref:LogicalId>``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(_render(p) for p in parts)
    if "Ref" in value:
        return f"<Ref:{value['Ref']}>"
    raise AssertionError(value)

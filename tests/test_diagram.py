"""The architecture diagram's graph (tools/diagram.py), built from synthesized templates.

Only the pure part is tested here: which resources become nodes, in which stack's cluster,
and which wiring becomes edges. Rendering needs Graphviz and is left to ``make diagram``.
"""

from __future__ import annotations

import importlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MODEL_MONITOR_ENV, STACKS, resources_of_type
from tools.diagram import (
    KINDS,
    ArchitectureGraph,
    Node,
    Relation,
    StackTemplate,
    build_graph,
    default_out,
    load_assembly,
)

#: Plumbing that must never be drawn.
NOISE_TYPES = (
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::Logs::LogGroup",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::KMS::Alias",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::EC2::Subnet",
    "AWS::EC2::RouteTable",
    "AWS::Glue::Trigger",
    "Custom::S3AutoDeleteObjects",
    "Custom::VpcRestrictDefaultSG",
)


@pytest.fixture(scope="module")
def dev_stacks(platform) -> list[StackTemplate]:
    return load_assembly(platform.outdir, "dev")


@pytest.fixture(scope="module")
def dev(dev_stacks) -> ArchitectureGraph:
    return build_graph(dev_stacks, "dev")


@pytest.fixture(scope="module")
def staging(platform) -> ArchitectureGraph:
    """staging's graph: its Serving endpoint is multi-model, with an A/B test."""
    return build_graph(load_assembly(platform.outdir, "staging"), "staging")


def only(nodes: list[Node]) -> Node:
    assert len(nodes) == 1, [n.id for n in nodes]
    return nodes[0]


def in_stack(graph: ArchitectureGraph, stack: str, kind: str) -> list[Node]:
    return [n for n in graph.nodes_of(kind) if n.stack == stack]


def labelled(nodes: list[Node], text: str) -> Node:
    return only([n for n in nodes if text in n.label.replace("\n", " ")])


def test_one_cluster_per_stack_in_dependency_order(dev, dev_stacks):
    assert [c.name for c in dev.clusters] == list(STACKS)
    data = dev.cluster("Data")
    assert set(data.dependencies) == {"Security", "Network", "Lake"}
    assert data.display_name == "dev/Data"
    for cluster in dev.clusters:
        assert cluster.node_ids, cluster.name
        assert {dev.nodes[n].stack for n in cluster.node_ids} == {cluster.name}
    assert sorted(dev.nodes) == sorted(n for c in dev.clusters for n in c.node_ids)


def test_significant_resources_are_drawn_with_their_kind(dev, dev_stacks):
    security = next(s for s in dev_stacks if s.name == "Security")
    assert len(in_stack(dev, "Security", "kms-key")) == len(
        resources_of_type(dict(security.template), "AWS::KMS::Key")
    )
    assert in_stack(dev, "Security", "secret")
    assert only(in_stack(dev, "Network", "vpc"))
    assert len(in_stack(dev, "Lake", "s3-bucket")) >= 4
    for kind in ("glue-job", "glue-crawler", "glue-workflow", "databrew-job"):
        assert in_stack(dev, "Data", kind), kind
    assert only(in_stack(dev, "Training", "sagemaker-pipeline"))
    assert only(in_stack(dev, "Training", "model-package-group"))
    # The shipped config monitors with the platform's engine: its pipeline and schedule,
    # no Model Monitor schedule and no endpoint of the Monitoring stack's own.
    assert only(in_stack(dev, "Monitoring", "sagemaker-pipeline"))
    assert only(in_stack(dev, "Monitoring", "schedule"))
    assert not in_stack(dev, "Monitoring", "monitoring-schedule")
    assert not in_stack(dev, "Monitoring", "sagemaker-endpoint")
    assert only(in_stack(dev, "Protection", "macie"))
    assert only(in_stack(dev, "Protection", "macie-job"))


def test_noise_is_left_out(dev):
    drawn_types = {t for node in dev.nodes.values() for t in node.types}
    assert not drawn_types & set(NOISE_TYPES)
    assert drawn_types <= set(KINDS) | {"Custom::AWS"}
    # Custom-resource providers (auto-delete, restrict default SG, AwsCustomResource) are
    # Lambda functions too, but deployment machinery: none of them is drawn.
    for stack in ("Network", "Lake", "Data"):
        assert not in_stack(dev, stack, "lambda"), stack
    # Monitoring: the engine's launcher and publisher and the retraining trigger, no more.
    monitoring = sorted(n.label.replace("\n", " ") for n in in_stack(dev, "Monitoring", "lambda"))
    assert len(monitoring) == 3, monitoring
    for text in ("Launcher", "Publisher", "retraining"):
        assert any(text in label for label in monitoring), text


def test_alarms_are_one_node_with_a_count(dev, dev_stacks):
    monitoring = next(s for s in dev_stacks if s.name == "Monitoring")
    count = len(resources_of_type(dict(monitoring.template), "AWS::CloudWatch::Alarm"))
    alarms = only(in_stack(dev, "Monitoring", "cloudwatch-alarm"))
    assert alarms.label == f"{count} CloudWatch alarms"
    assert len(alarms.logical_ids) == count
    topic = only(in_stack(dev, "Monitoring", "sns-topic"))
    assert dev.edges_between(alarms.id, topic.id)[0].relation is Relation.ALERTS


def test_inference_component_endpoint_is_served_by_the_deployer(dev):
    """dev serves from inference components: the endpoint's variant names no model (the
    deployer makes the components and their models at run time), so no model is drawn;
    the deployer names the endpoint (ENDPOINT_NAME) and puts models into service on it."""
    endpoint = only(in_stack(dev, "Serving", "sagemaker-endpoint"))
    assert "inference components" in endpoint.label
    assert "multi-model" not in endpoint.label
    assert not in_stack(dev, "Serving", "sagemaker-model")
    deployer = only(in_stack(dev, "Serving", "lambda"))
    assert dev.edges_between(deployer.id, endpoint.id)[0].relation is Relation.SERVES
    # The monitoring pipeline watches this endpoint (its job's --endpoint argument).
    monitor = only(in_stack(dev, "Monitoring", "sagemaker-pipeline"))
    assert dev.edges_between(monitor.id, endpoint.id)[0].relation is Relation.SERVES


def test_multi_model_endpoint_serves_its_model_from_the_artifacts_bucket(staging):
    """staging's multi-model endpoint, with an A/B test: its model reads the artifacts
    bucket; its deployer writes there and names no endpoint."""
    endpoint = only(in_stack(staging, "Serving", "sagemaker-endpoint"))
    assert "multi-model" in endpoint.label
    assert "A/B, 2 variants" in endpoint.label
    # Both variants serve the one model (the challenger names no other image).
    model = only(in_stack(staging, "Serving", "sagemaker-model"))
    # Endpoint → (its endpoint config, looked through) → model.
    assert staging.edges_between(endpoint.id, model.id)[0].relation is Relation.SERVES
    artifacts = labelled(in_stack(staging, "Lake", "s3-bucket"), "Artifacts")
    assert staging.edges_between(model.id, artifacts.id)  # across stacks, via the stack output
    deployer = only(in_stack(staging, "Serving", "lambda"))
    assert staging.edges_between(deployer.id, artifacts.id)
    assert not staging.edges_between(deployer.id, endpoint.id)
    monitor = only(in_stack(staging, "Monitoring", "sagemaker-pipeline"))
    assert staging.edges_between(monitor.id, endpoint.id)[0].relation is Relation.SERVES
    # Only that pipeline: the training pipeline names no endpoint.
    training = only(in_stack(staging, "Training", "sagemaker-pipeline"))
    assert not staging.edges_between(training.id, endpoint.id)


def test_macie_remediation_function_is_started_by_its_rule(dev):
    function = only(in_stack(dev, "Protection", "lambda"))
    assert "Remediation" in function.label
    rule = labelled(in_stack(dev, "Protection", "eventbridge-rule"), "Findings")
    assert dev.edges_between(rule.id, function.id)[0].relation is Relation.TRIGGERS
    # The buckets named in the function's environment, and the events the rule matches.
    for bucket in in_stack(dev, "Lake", "s3-bucket"):
        if "AccessLogs" in bucket.label or "Artifacts" in bucket.label:
            continue
        assert dev.edges_between(function.id, bucket.id)[0].relation is Relation.DATA
        assert dev.edges_between(bucket.id, rule.id)[0].relation is Relation.EVENTS
    queue = only(in_stack(dev, "Protection", "sqs-queue"))
    # Named in its environment, but first its on-failure destination: a dead letter.
    assert dev.edges_between(function.id, queue.id)[0].relation is Relation.ALERTS
    assert dev.edges_between(rule.id, queue.id)  # the rule target's dead-letter queue


def test_buckets_point_at_the_key_that_encrypts_them(dev):
    keys = in_stack(dev, "Security", "kms-key")
    data_key = labelled(keys, "DataLakeKey")
    raw = labelled(in_stack(dev, "Lake", "s3-bucket"), "RawBucket")
    assert dev.edges_between(raw.id, data_key.id)[0].relation is Relation.ENCRYPTION
    artifacts = labelled(in_stack(dev, "Lake", "s3-bucket"), "Artifacts")
    assert dev.edges_between(artifacts.id, labelled(keys, "ArtifactsKey").id)


def test_names_and_arns_link_training_serving_and_monitoring(dev):
    pipeline = only(in_stack(dev, "Training", "sagemaker-pipeline"))
    registry = only(in_stack(dev, "Training", "model-package-group"))
    # Rules target the pipeline by ARN; the pipeline registers into the group by name.
    for rule in in_stack(dev, "Training", "eventbridge-rule"):
        assert dev.edges_between(rule.id, pipeline.id)[0].relation is Relation.TRIGGERS
    assert dev.edges_between(pipeline.id, registry.id)
    # Approvals in the registry start the Serving stack's deployer.
    approvals = labelled(in_stack(dev, "Serving", "eventbridge-rule"), "Approvals")
    assert dev.edges_between(registry.id, approvals.id)[0].relation is Relation.EVENTS
    # The retraining function names the pipeline it starts.
    retraining = labelled(in_stack(dev, "Monitoring", "lambda"), "retraining")
    assert dev.edges_between(retraining.id, pipeline.id)[0].relation is Relation.TRIGGERS


def test_monitoring_engine_from_its_schedule_to_its_alarms(dev):
    lambdas = in_stack(dev, "Monitoring", "lambda")
    launcher = labelled(lambdas, "Launcher")
    publisher = labelled(lambdas, "Publisher")
    monitor = only(in_stack(dev, "Monitoring", "sagemaker-pipeline"))
    schedule = only(in_stack(dev, "Monitoring", "schedule"))
    assert "cron(" in schedule.label  # when it runs, from its ScheduleExpression
    # EventBridge Scheduler invokes the launcher (Target.Arn), and sends a run it could not
    # deliver to the launcher's dead-letter queue (Target.DeadLetterConfig), nothing else.
    edges = [(e.target, e.relation) for e in dev.edges if e.source == schedule.id]
    assert (launcher.id, Relation.TRIGGERS) in edges and len(edges) == 2, edges
    (queue,) = [dev.nodes[target] for target, relation in edges if relation is Relation.ALERTS]
    assert queue in in_stack(dev, "Monitoring", "sqs-queue")
    assert dev.edges_between(launcher.id, queue.id)  # the launcher's own dead-letter queue
    # The launcher starts the monitoring pipeline named in its environment, and reads the
    # registry (the group's package ARN prefix) and the artifacts bucket.
    assert dev.edges_between(launcher.id, monitor.id)[0].relation is Relation.TRIGGERS
    registry = only(in_stack(dev, "Training", "model-package-group"))
    artifacts = labelled(in_stack(dev, "Lake", "s3-bucket"), "Artifacts")
    assert dev.edges_between(launcher.id, registry.id)[0].relation is Relation.DATA
    assert dev.edges_between(launcher.id, artifacts.id)[0].relation is Relation.DATA
    # The pipeline's job reads the artifacts bucket; its state changes (matched by the
    # job name's prefix) start the publisher through its rule.
    assert dev.edges_between(monitor.id, artifacts.id)[0].relation is Relation.DATA
    rule = labelled(in_stack(dev, "Monitoring", "eventbridge-rule"), "JobStateChange")
    assert dev.edges_between(monitor.id, rule.id)[0].relation is Relation.EVENTS
    assert dev.edges_between(rule.id, publisher.id)[0].relation is Relation.TRIGGERS
    assert dev.edges_between(publisher.id, artifacts.id)
    # The Training pipeline's jobs are not what that rule matches.
    training = only(in_stack(dev, "Training", "sagemaker-pipeline"))
    assert not dev.edges_between(training.id, rule.id)
    # The alarms start retraining through their rule.
    alarms = only(in_stack(dev, "Monitoring", "cloudwatch-alarm"))
    retraining_rule = labelled(in_stack(dev, "Monitoring", "eventbridge-rule"), "AlarmState")
    assert dev.edges_between(alarms.id, retraining_rule.id)[0].relation is Relation.EVENTS


def test_model_monitor_schedules_watch_their_dedicated_endpoint(model_monitor_app):
    stacks = load_assembly(model_monitor_app.outdir, MODEL_MONITOR_ENV)
    graph = build_graph(stacks, "mm")
    endpoint = only(in_stack(graph, "Monitoring", "sagemaker-endpoint"))
    assert "multi-model" not in endpoint.label  # a single-model endpoint of its own
    monitoring = next(s for s in stacks if s.name == "Monitoring")
    count = len(resources_of_type(dict(monitoring.template), "AWS::SageMaker::MonitoringSchedule"))
    schedules = in_stack(graph, "Monitoring", "monitoring-schedule")
    assert count >= 3 and len(schedules) == count  # data quality, model quality, bias, ...
    assert labelled(schedules, "DataQuality")
    for schedule in schedules:
        assert graph.edges_between(schedule.id, endpoint.id)[0].relation is Relation.SERVES
    # Model Monitor instead of the engine: no Scheduler schedule, no monitoring pipeline.
    assert not in_stack(graph, "Monitoring", "schedule")
    assert not in_stack(graph, "Monitoring", "sagemaker-pipeline")


def test_glue_workflow_steps_follow_the_triggers(dev):
    data = {n.label.replace("\n", " "): n.id for n in dev.nodes.values() if n.stack == "Data"}

    def step(text: str) -> str:
        return only([dev.nodes[i] for label, i in data.items() if text in label]).id

    chain = [step("Workflow"), step("SourceCrawler"), step("FeatureEtl"), step("TargetCrawler")]
    for source, target in itertools.pairwise(chain):
        assert dev.edges_between(source, target)[0].relation is Relation.TRIGGERS
    # The workflow starts only its first step.
    assert not dev.edges_between(chain[0], chain[2])


def test_every_edge_joins_drawn_nodes_once_and_building_is_repeatable(dev, dev_stacks):
    pairs = [(e.source, e.target) for e in dev.edges]
    assert len(pairs) == len(set(pairs))
    assert all(s in dev.nodes and t in dev.nodes and s != t for s, t in pairs)
    # Pure: the same templates give the same graph, and so the same picture.
    assert build_graph(dev_stacks, "dev") == dev


def test_every_environment_draws_every_stack(platform):
    for env in ("staging", "prod"):
        graph = build_graph(load_assembly(platform.outdir, env), env)
        assert [c.name for c in graph.clusters] == list(STACKS), env
        assert graph.edges


# --- hand-made templates: the reference forms this app does not use itself -------------


def stack(
    name: str,
    resources: dict[str, Any],
    outputs: dict[str, Any] | None = None,
    dependencies: tuple[str, ...] = (),
) -> StackTemplate:
    return StackTemplate(
        name=name,
        display_name=f"test/{name}",
        stack_name=f"test-{name}",
        template={"Resources": resources, "Outputs": outputs or {}},
        dependencies=dependencies,
        paths={logical_id: f"/test/{name}/{logical_id}/Resource" for logical_id in resources},
    )


ACCOUNT = "111122223333"
REGION = "eu-west-1"


def function(**environment: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Environment": {"Variables": environment},
        },
    }


def test_import_value_literal_arns_and_providers_in_hand_made_templates():
    store = stack(
        "Store",
        {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {
                                "ServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]},
                                }
                            }
                        ]
                    }
                },
            },
            "BucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {"Bucket": {"Ref": "Bucket"}},
            },
        },
        outputs={
            "BucketName": {"Value": {"Ref": "Bucket"}, "Export": {"Name": "test-Store:Bucket"}}
        },
    )
    app = stack(
        "App",
        {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Worker": function(BUCKET={"Fn::ImportValue": "test-Store:Bucket"}),
            "Named": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"FunctionName": "named-fn"},
            },
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "ScheduleExpression": "rate(1 hour)",
                    "Targets": [
                        {"Id": "a", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:named-fn"},
                        {"Id": "b", "Arn": {"Fn::Sub": "${Worker.Arn}"}},
                    ],
                },
            },
            "Provider": function(),
            "Custom": {
                "Type": "Custom::Thing",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]}},
            },
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
        },
        dependencies=("Store",),
    )
    graph = build_graph([app, store], "test")

    assert [c.name for c in graph.clusters] == ["Store", "App"]  # dependencies first
    assert sorted(graph.nodes) == [
        "App.Named",
        "App.Rule",
        "App.Worker",
        "Store.Bucket",
        "Store.Key",
    ]
    assert graph.nodes["App.Rule"].label == "Rule\n(schedule)"
    relations = {(e.source, e.target): e.relation for e in graph.edges}
    assert relations == {
        ("Store.Bucket", "Store.Key"): Relation.ENCRYPTION,
        ("App.Worker", "Store.Bucket"): Relation.DATA,  # Fn::ImportValue through the export
        ("App.Rule", "App.Named"): Relation.TRIGGERS,  # a literal ARN naming the function
        ("App.Rule", "App.Worker"): Relation.TRIGGERS,  # Fn::Sub ${Worker.Arn}
    }


def test_scheduler_job_name_prefixes_and_command_line_flags_in_hand_made_templates():
    definition = {
        "Steps": [
            {
                "Name": "Job",
                "Arguments": {
                    "ProcessingJobName": "monitor-a",
                    "AppSpecification": {
                        "ContainerArguments": ["--endpoint", "ep-watched", "--other", "ep-other"]
                    },
                },
            }
        ]
    }
    app = stack(
        "App",
        {
            "Watched": {
                "Type": "AWS::SageMaker::Endpoint",
                "Properties": {"EndpointName": "ep-watched"},
            },
            "Other": {
                "Type": "AWS::SageMaker::Endpoint",
                "Properties": {"EndpointName": "ep-other"},
            },
            "Pipeline": {
                "Type": "AWS::SageMaker::Pipeline",
                "Properties": {
                    "PipelineName": "monitor",
                    "PipelineDefinition": {
                        "PipelineDefinitionBody": {"Fn::Join": ["", [json.dumps(definition)]]}
                    },
                },
            },
            "Launcher": function(PIPELINE_NAME="monitor"),
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Schedule": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "ScheduleExpression": "rate(1 hour)",
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "Target": {
                        "Arn": {"Fn::GetAtt": ["Launcher", "Arn"]},
                        "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}},
                    },
                },
            },
            **{
                name: {
                    "Type": "AWS::Events::Rule",
                    "Properties": {
                        "EventPattern": {
                            "source": ["aws.sagemaker"],
                            "detail": {"ProcessingJobName": [{"prefix": prefix}]},
                        },
                    },
                }
                for name, prefix in (("Matches", "monitor-"), ("Unmatched", "train-"))
            },
        },
    )
    graph = build_graph([app], "test")
    assert {"App.Other", "App.Unmatched"} <= set(graph.nodes)  # drawn, but not linked
    assert graph.nodes["App.Schedule"].kind.key == "schedule"
    assert graph.nodes["App.Schedule"].label == "Schedule\n(rate(1 hour) UTC)"
    relations = {(e.source, e.target): e.relation for e in graph.edges}
    assert relations == {
        ("App.Schedule", "App.Launcher"): Relation.TRIGGERS,  # Target.Arn
        ("App.Schedule", "App.Queue"): Relation.ALERTS,  # Target.DeadLetterConfig
        ("App.Launcher", "App.Pipeline"): Relation.TRIGGERS,  # a pipeline it starts
        ("App.Pipeline", "App.Watched"): Relation.SERVES,  # "--endpoint", not "--other"
        ("App.Pipeline", "App.Matches"): Relation.EVENTS,  # its job name has the prefix
    }


def test_default_output_names():
    assert default_out("dev").parts[-2:] == ("docs", "architecture.png")
    assert default_out("prod").name == "architecture-prod.png"
    assert isinstance(default_out("dev"), Path)


def test_every_icon_exists_in_the_diagrams_package():
    pytest.importorskip("diagrams", reason="diagrams is installed by make diagram only")
    from tools.diagram import CUSTOM_CALL_KINDS

    for kind in [*KINDS.values(), *CUSTOM_CALL_KINDS.values()]:
        module, name = kind.icon.split(":")
        assert hasattr(importlib.import_module(module), name), kind.icon

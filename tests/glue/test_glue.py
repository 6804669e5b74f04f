"""Glue constructs: encrypted security configuration on every job and crawler, scoped roles."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Duration
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms

from mlops_constructs import DataLake, Network, PropsError
from mlops_constructs.glue.catalog import CsvTable, LakeCatalog, ZoneCrawler
from mlops_constructs.glue.find_matches import FindMatchesTransform
from mlops_constructs.glue.jobs import EtlWorkflow, FeatureEtlJob
from mlops_constructs.glue.props import Column
from mlops_constructs.glue.security import GlueNetworkConnection, GlueSecurityConfiguration
from tests.helpers import synth_construct

SPEC = {
    "one_hot": {"column": "segment", "categories": ["consumer", "corporate"]},
    "log_transform": {"column": "annual_spend"},
    "split": {"column": "full_name", "delimiter": " ", "into": ["first_name", "last_name"]},
    "dedup": {"keys": ["customer_id"], "latest_by": "updated_at"},
    "partition_by": ["country"],
}


class Made:
    """What the module fixture built, for assertions."""


def _build(stack) -> Made:
    m = Made()
    m.data_key = kms.Key(stack, "DataKey", enable_key_rotation=True)
    m.logs_key = kms.Key(stack, "LogsKey", enable_key_rotation=True)
    m.lake = DataLake(stack, "Lake", encryption_key=m.data_key)
    m.catalog = LakeCatalog(stack, "Catalog", lake=m.lake, database_prefix="mlops-test")
    m.security = GlueSecurityConfiguration(
        stack, "Security", data_key=m.data_key, logs_key=m.logs_key
    )
    network = Network(stack, "Net", flow_logs_key=m.logs_key, interface_endpoints=["glue"])
    m.connection = GlueNetworkConnection(
        stack,
        "Connection",
        vpc=network.vpc,
        subnets=network.subnet_selection,
        security_group=network.workload_security_group,
    )
    m.table = CsvTable(
        stack,
        "Table",
        catalog=m.catalog,
        zone="raw",
        table_name="customers",
        prefix="customers/",
        columns=[Column("customer_id"), Column("annual_spend", "double")],
    )
    m.source_crawler = ZoneCrawler(
        stack,
        "SourceCrawler",
        lake=m.lake,
        catalog=m.catalog,
        zone="raw",
        catalog_table=m.table,
        security_configuration=m.security,
    )
    m.target_crawler = ZoneCrawler(
        stack,
        "TargetCrawler",
        lake=m.lake,
        catalog=m.catalog,
        zone="curated",
        prefixes=["customers/"],
        security_configuration=m.security,
        schedule="cron(0 6 * * ? *)",
    )
    m.job = FeatureEtlJob(
        stack,
        "Job",
        lake=m.lake,
        catalog=m.catalog,
        source_table=m.table,
        target_zone="curated",
        target_prefix="customers/",
        feature_spec=SPEC,
        security_configuration=m.security,
        connection=m.connection,
    )
    m.workflow = EtlWorkflow(
        stack,
        "Workflow",
        source_crawler=m.source_crawler,
        job=m.job,
        target_crawler=m.target_crawler,
        schedule="cron(0 2 * * ? *)",
    )
    m.find_matches = FindMatchesTransform(
        stack,
        "FindMatches",
        lake=m.lake,
        catalog=m.catalog,
        table=m.table,
        primary_key="customer_id",
        security_configuration=m.security,
        precision_recall_tradeoff=0.7,
    )
    return m


@pytest.fixture(scope="module")
def glue_app():
    template, made, stack = synth_construct(_build)
    return template, made, stack, template.to_json()["Resources"]


def _logical(construct) -> str:
    # The logical id as written (``get_logical_id`` ignores an overridden one).
    return construct.stack.resolve(construct.logical_id)


def test_security_configuration_encrypts_s3_logs_and_bookmarks(glue_app):
    template, m, _, _ = glue_app
    data_key = _logical(m.data_key.node.default_child)
    logs_key = _logical(m.logs_key.node.default_child)
    template.has_resource_properties(
        "AWS::Glue::SecurityConfiguration",
        {
            "EncryptionConfiguration": {
                "S3Encryptions": [
                    {"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": {"Fn::GetAtt": [data_key, "Arn"]}}
                ],
                "CloudWatchEncryption": {
                    "CloudWatchEncryptionMode": "SSE-KMS",
                    "KmsKeyArn": {"Fn::GetAtt": [logs_key, "Arn"]},
                },
                "JobBookmarksEncryption": {
                    "JobBookmarksEncryptionMode": "CSE-KMS",
                    "KmsKeyArn": {"Fn::GetAtt": [data_key, "Arn"]},
                },
            }
        },
    )


def test_security_configuration_is_on_every_job_crawler_and_transform(glue_app):
    template, m, _, _resources = glue_app
    name = m.security.name
    jobs = template.find_resources("AWS::Glue::Job")
    crawlers = template.find_resources("AWS::Glue::Crawler")
    transforms = template.find_resources("AWS::Glue::MLTransform")
    assert len(jobs) == 1 and len(crawlers) == 2 and len(transforms) == 1
    for job in jobs.values():
        assert job["Properties"]["SecurityConfiguration"] == {"Ref": _logical(m.security.resource)}
    for crawler in crawlers.values():
        assert crawler["Properties"]["CrawlerSecurityConfiguration"] == name
    for transform in transforms.values():
        encryption = transform["Properties"]["TransformEncryption"]
        assert encryption["TaskRunSecurityConfigurationName"] == name
        assert encryption["MLUserDataEncryption"]["MLUserDataEncryptionMode"] == "SSE-KMS"


def test_one_database_per_zone(glue_app):
    template, _, _, _ = glue_app
    names = sorted(
        d["Properties"]["DatabaseInput"]["Name"]
        for d in template.find_resources("AWS::Glue::Database").values()
    )
    assert names == ["mlops_test_analytics", "mlops_test_curated", "mlops_test_raw"]


def test_csv_table_schema_and_location(glue_app):
    template, m, _, _ = glue_app
    raw = _logical(m.lake.bucket("raw").node.default_child)
    template.has_resource_properties(
        "AWS::Glue::Table",
        {
            "TableInput": {
                "Name": "customers",
                "Parameters": {
                    "classification": "csv",
                    "skip.header.line.count": "1",
                    "has_encrypted_data": "true",
                },
                "StorageDescriptor": {
                    "Columns": [
                        {"Name": "customer_id", "Type": "string"},
                        {"Name": "annual_spend", "Type": "double"},
                    ],
                    "Location": {"Fn::Join": ["", ["s3://", {"Ref": raw}, "/customers/"]]},
                    "SerdeInfo": {"Parameters": {"field.delim": ","}},
                },
            }
        },
    )


def test_etl_job_defaults(glue_app):
    _, m, _, resources = glue_app
    props = resources[_logical(m.job.resource)]["Properties"]
    assert props["GlueVersion"] == "5.0"
    assert props["WorkerType"] == "G.1X" and props["NumberOfWorkers"] == 2
    assert props["Timeout"] == 60 and props["MaxRetries"] == 1
    assert props["Command"]["Name"] == "glueetl"
    assert props["Connections"] == {"Connections": [{"Ref": _logical(m.connection.resource)}]}
    assert props["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    args = props["DefaultArguments"]
    assert args["--job-bookmark-option"] == "job-bookmark-enable"
    assert args["--enable-continuous-cloudwatch-log"] == "true"
    # The flag takes no value; aws-cdk-lib's job writes it empty.
    assert args["--enable-metrics"] == ""
    assert args["--enable-observability-metrics"] == "true"
    assert args["--job-language"] == "python"
    assert args["--source_table"] == "customers"
    assert json.loads(args["--feature_spec"]) == SPEC


def test_etl_job_waits_for_its_role_policy(glue_app):
    _, m, _, resources = glue_app
    job = resources[_logical(m.job.resource)]
    policy = _logical(m.job.role.node.find_child("DefaultPolicy").node.default_child)
    assert policy in job["DependsOn"]


def _role_statements(resources, role):
    policy = role.node.find_child("DefaultPolicy").node.default_child
    return resources[_logical(policy)]["Properties"]["PolicyDocument"]["Statement"]


def test_job_role_is_scoped(glue_app):
    _, m, _, resources = glue_app
    statements = _role_statements(resources, m.job.role)
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert "s3:*" not in actions and "glue:*" not in actions
    script = next(s for s in statements if s.get("Sid") == "ReadJobScript")
    assert script["Action"] == "s3:GetObject"
    assert "*" not in json.dumps(script["Resource"])  # the one script object
    catalog = next(s for s in statements if "glue:GetTable" in s["Action"])
    assert "glue:CreateTable" not in catalog["Action"]
    assert any(
        "table/" in json.dumps(r) and "customers" in json.dumps(r) for r in catalog["Resource"]
    )
    # aws-cdk-lib's job would grant read on the whole script bucket; it gets no statement.
    granted = json.dumps([s["Action"] for s in statements])
    assert "s3:GetBucket*" not in granted and "s3:List*" not in granted
    role = resources[_logical(m.job.role.node.default_child)]
    assert len(role["Properties"]["ManagedPolicyArns"]) == 2  # raw read, curated read-write
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "glue.amazonaws.com"
    }


def test_crawlers_targets_and_schema_policy(glue_app):
    _, m, _, resources = glue_app
    source = resources[_logical(m.source_crawler.crawler)]["Properties"]
    assert source["Targets"]["CatalogTargets"][0]["Tables"] == ["customers"]
    assert source["SchemaChangePolicy"] == {
        "UpdateBehavior": "UPDATE_IN_DATABASE",
        "DeleteBehavior": "LOG",
    }
    assert "Schedule" not in source
    target = resources[_logical(m.target_crawler.crawler)]["Properties"]
    assert target["Schedule"] == {"ScheduleExpression": "cron(0 6 * * ? *)"}
    assert target["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
    assert json.loads(target["Configuration"])["CrawlerOutput"]["Partitions"] == {
        "AddOrUpdateBehavior": "InheritFromTable"
    }


def test_workflow_chains_crawl_job_crawl(glue_app):
    template, m, _, _ = glue_app
    triggers = template.find_resources("AWS::Glue::Trigger")
    by_type = {}
    for trigger in triggers.values():
        by_type.setdefault(trigger["Properties"]["Type"], []).append(trigger["Properties"])
    (start,) = by_type["SCHEDULED"]
    assert start["Schedule"] == "cron(0 2 * * ? *)"
    assert start["Actions"] == [{"CrawlerName": {"Ref": _logical(m.source_crawler.crawler)}}]
    conditional = by_type["CONDITIONAL"]
    assert len(conditional) == 2
    after_crawl = next(t for t in conditional if "JobName" in t["Actions"][0])
    assert after_crawl["Predicate"]["Conditions"][0]["CrawlState"] == "SUCCEEDED"
    after_job = next(t for t in conditional if "CrawlerName" in t["Actions"][0])
    assert after_job["Predicate"]["Conditions"][0] == {
        "JobName": {"Ref": _logical(m.job.resource)},
        "LogicalOperator": "EQUALS",
        "State": "SUCCEEDED",
    }


def test_find_matches_parameters(glue_app):
    template, _, _, _ = glue_app
    template.has_resource_properties(
        "AWS::Glue::MLTransform",
        {
            "TransformParameters": {
                "TransformType": "FIND_MATCHES",
                "FindMatchesParameters": {
                    "PrimaryKeyColumnName": "customer_id",
                    "PrecisionRecallTradeoff": 0.7,
                    "AccuracyCostTradeoff": 0.5,
                    "EnforceProvidedLabels": False,
                },
            },
            "InputRecordTables": {
                "GlueTables": [{"TableName": "customers"}],
            },
        },
    )


# The logical ids the L1 resources had before the constructs moved to aws-cdk-lib's Glue L2
# constructs: a changed id replaces the resource (and a fixed name then collides).
KEPT_LOGICAL_IDS = {
    "AWS::Glue::Database": {
        "CatalogRawDatabaseCC29CEE7",
        "CatalogCuratedDatabaseBB03A401",
        "CatalogAnalyticsDatabaseAC5F19F3",
    },
    "AWS::Glue::SecurityConfiguration": {"Security2D46CA7F"},
    "AWS::Glue::Connection": {"Connection89AD5CF5"},
    "AWS::Glue::Job": {"JobB9D00F9F"},
    "AWS::Glue::Workflow": {"Workflow193EF7C1"},
    "AWS::Glue::Trigger": {
        "WorkflowStart9AE2EE62",
        "WorkflowAfterSourceCrawlD29491D2",
        "WorkflowAfterJob173923DA",
    },
}


@pytest.mark.parametrize("type_name", sorted(KEPT_LOGICAL_IDS))
def test_glue_resources_keep_their_logical_ids(glue_app, type_name):
    template, _, _, _ = glue_app
    assert set(template.find_resources(type_name)) == KEPT_LOGICAL_IDS[type_name]


@pytest.mark.parametrize(
    "path",
    [
        ["Top"],
        ["Top-Level_1"],
        ["Catalog", "RawDatabase"],
        ["Job", "Resource"],
        ["Outer", "Default", "Inner"],
        ["Lake", "LakeBucket", "Resource"],
        ["A" * 200, "B" * 100, "Resource"],
    ],
)
def test_kept_logical_id_is_the_one_aws_cdk_allocates(path):
    from aws_cdk import App, CfnResource, Stack
    from constructs import Construct

    from mlops_constructs.glue._common import _make_unique_id

    stack = Stack(App(), "S")
    scope: Construct = stack
    for component in path[:-1]:
        scope = Construct(scope, component)
    resource = CfnResource(scope, path[-1], type="AWS::SQS::Queue")
    assert _make_unique_id(path) == stack.get_logical_id(resource)


def test_database_and_security_configuration_are_deleted_with_the_stack(glue_app):
    # As before the L2 constructs (which retain by default): a retained one keeps its fixed
    # name, and the re-created stack could not create it again.
    template, _, _, _ = glue_app
    for type_name in ("AWS::Glue::Database", "AWS::Glue::SecurityConfiguration"):
        for resource in template.find_resources(type_name).values():
            assert resource.get("DeletionPolicy", "Delete") == "Delete"
            assert resource.get("UpdateReplacePolicy", "Delete") == "Delete"


def test_workflow_triggers_have_no_event_batching(glue_app):
    # An EVENT-trigger setting aws-cdk-lib's Workflow.add_*_trigger writes on every trigger.
    template, _, _, _ = glue_app
    for trigger in template.find_resources("AWS::Glue::Trigger").values():
        assert "EventBatchingCondition" not in trigger["Properties"]


def test_catalog_exposes_the_l2_databases(glue_app):
    _, m, stack, _ = glue_app
    database = m.catalog.database("raw")
    assert stack.resolve(database.database_name) == {"Ref": "CatalogRawDatabaseCC29CEE7"}
    with pytest.raises(KeyError, match="no database for zone 'gold'"):
        m.catalog.database("gold")


def test_job_metrics_take_metric_options(glue_app):
    _, m, stack, _ = glue_app
    failed = m.job.metric_failed_tasks(period=Duration.minutes(15), label="failed tasks")
    assert failed.namespace == "Glue"
    assert failed.metric_name == "glue.driver.aggregate.numFailedTasks"
    assert failed.statistic == "Sum" and failed.period.to_minutes() == 15
    assert failed.label == "failed tasks"
    assert stack.resolve(failed.dimensions) == {
        "JobName": {"Ref": "JobB9D00F9F"},
        "JobRunId": "ALL",
        "Type": "count",
    }
    heap = m.job.metric(
        "glue.driver.jvm.heap.usage",
        type=glue.MetricType.GAUGE,
        statistic="Maximum",
    )
    assert heap.statistic == "Maximum" and stack.resolve(heap.dimensions)["Type"] == "gauge"


def test_job_run_outcome_metrics_count_state_change_events():
    def build(stack):
        m = _build(stack)
        return (
            m.job.metric_failure(period=Duration.hours(1)),
            m.job.metric_success(),
            m.job.metric_timeout(statistic="Maximum"),
        )

    template, (failure, success, timeout), _ = synth_construct(build, nag=False)
    assert failure.namespace == "AWS/Events" and failure.metric_name == "TriggeredRules"
    assert failure.statistic == "Sum" and failure.period.to_minutes() == 60
    assert success.statistic == "Sum" and timeout.statistic == "Maximum"
    states = sorted(
        rule["Properties"]["EventPattern"]["detail"]["state"][0]
        for rule in template.find_resources("AWS::Events::Rule").values()
    )
    assert states == ["FAILED", "SUCCEEDED", "TIMEOUT"]


def test_network_connection_uses_an_isolated_subnet_and_workload_group(glue_app):
    template, _, _, _ = glue_app
    (connection,) = template.find_resources("AWS::Glue::Connection").values()
    requirements = connection["Properties"]["ConnectionInput"]["PhysicalConnectionRequirements"]
    assert connection["Properties"]["ConnectionInput"]["ConnectionType"] == "NETWORK"
    assert requirements["SubnetId"]["Ref"].startswith("NetVpcIsolatedSubnet1")
    assert requirements["SecurityGroupIdList"][0]["Fn::GetAtt"][0].startswith(
        "NetWorkloadSecurityGroup"
    )


def test_invalid_job_props_are_all_reported():
    def build(stack):
        m = _build(stack)
        FeatureEtlJob(
            stack,
            "Bad",
            lake=m.lake,
            catalog=m.catalog,
            source_table=m.table,
            target_zone="gold",
            target_prefix="/x",
            feature_spec=SPEC,
            security_configuration=m.security,
            glue_version="3.0",
            number_of_workers=1,
            timeout=Duration.minutes(0),
        )

    with pytest.raises(PropsError) as caught:
        synth_construct(build, nag=False)
    message = str(caught.value)
    for fragment in (
        "glue_version: got '3.0'",
        "number_of_workers: got 1",
        "timeout: got '0 minutes'",
        "target_prefix: got '/x'",
        "target_zone: got 'gold'",
    ):
        assert fragment in message


def test_crawler_needs_exactly_one_kind_of_target():
    def build(stack):
        m = _build(stack)
        ZoneCrawler(
            stack,
            "Both",
            lake=m.lake,
            catalog=m.catalog,
            zone="raw",
            prefixes=["x/"],
            catalog_table=m.table,
            security_configuration=m.security,
        )

    with pytest.raises(PropsError, match="either S3 prefixes or one catalog table"):
        synth_construct(build, nag=False)


def test_security_configuration_name_follows_its_keys():
    def name_with(logs_key_id):
        def build(stack):
            data_key = kms.Key(stack, "DataKey", enable_key_rotation=True)
            logs_key = kms.Key(stack, logs_key_id, enable_key_rotation=True)
            return GlueSecurityConfiguration(
                stack, "Security", data_key=data_key, logs_key=logs_key
            )

        _, security, _ = synth_construct(build, nag=False)
        return security.name

    # A replacement (another key) gets another name: the old configuration can be deleted
    # after the new one exists, instead of colliding with it.
    assert name_with("LogsKey") == name_with("LogsKey")
    assert name_with("LogsKey") != name_with("OtherLogsKey")


# --------------------------------------------------------------------------------------------
# FindMatches: the Glue version ML transforms accept, and a labelling path
# --------------------------------------------------------------------------------------------


def _managed_statements(resources, role) -> list[dict]:
    """The statements of the customer managed policies attached to ``role``."""
    arns = resources[_logical(role.node.default_child)]["Properties"]["ManagedPolicyArns"]
    out = []
    for arn in arns:
        if isinstance(arn, dict) and "Ref" in arn:
            out += resources[arn["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
    return out


def test_find_matches_runs_on_the_glue_version_ml_transforms_accept(glue_app):
    template, m, _, _ = glue_app
    (transform,) = template.find_resources("AWS::Glue::MLTransform").values()
    assert transform["Properties"]["GlueVersion"] == m.find_matches.glue_version == "2.0"
    assert m.find_matches.glue_version in FindMatchesTransform.GLUE_VERSIONS


@pytest.mark.parametrize("version", ["1.0", "3.0", "4.0", "5.0"])
def test_find_matches_refuses_versions_ml_transforms_do_not_accept(version):
    with pytest.raises(PropsError) as raised:
        synth_construct(
            lambda s: _find_matches_only(s, glue_version=version),
            nag=False,
        )
    assert f"glue_version: got '{version}'" in str(raised.value)


def _find_matches_only(stack, **props):
    data_key = kms.Key(stack, "DataKey", enable_key_rotation=True)
    logs_key = kms.Key(stack, "LogsKey", enable_key_rotation=True)
    lake = DataLake(stack, "Lake", encryption_key=data_key)
    catalog = LakeCatalog(stack, "Catalog", lake=lake, database_prefix="mlops-test")
    security = GlueSecurityConfiguration(stack, "Security", data_key=data_key, logs_key=logs_key)
    table = CsvTable(
        stack,
        "Table",
        catalog=catalog,
        zone="raw",
        table_name="customers",
        prefix="customers/",
        columns=[Column("customer_id")],
    )
    return FindMatchesTransform(
        stack,
        "FindMatches",
        lake=lake,
        catalog=catalog,
        table=table,
        primary_key="customer_id",
        security_configuration=security,
        **props,
    )


def test_find_matches_role_can_write_and_read_its_labelling_prefix(glue_app):
    _, m, _, resources = glue_app
    fm = m.find_matches
    assert fm.labeling_prefix == "find-matches/customers/"
    assert fm.labeling_uri.endswith("/find-matches/customers/")
    assert fm.labeling_set_uri == f"{fm.labeling_uri}labeling-set/"
    assert fm.labels_uri == f"{fm.labeling_uri}labels/"
    assert fm.exported_labels_uri == f"{fm.labeling_uri}exported-labels/"
    statements = _managed_statements(resources, fm.role)
    text = json.dumps(statements)

    def allowed(action: str, fragment: str) -> bool:
        for s in statements:
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            if s["Effect"] == "Allow" and action in actions and fragment in json.dumps(s):
                return True
        return False

    # StartMLLabelingSetGenerationTaskRun and StartExportLabelsTaskRun write; the import
    # reads the labels people upload.
    assert allowed("s3:PutObject", "find-matches/customers/*")
    assert allowed("s3:GetObject", "find-matches/customers/*")
    assert allowed("s3:GetObject", "customers/*")  # the table's own data
    assert "s3:PutObject" in text and "s3:DeleteBucket" not in text


def test_find_matches_labelling_commands_are_documented():
    from pathlib import Path

    doc = FindMatchesTransform.__doc__ or ""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for command in (
        "start-ml-labeling-set-generation-task-run",
        "start-import-labels-task-run",
        "start-export-labels-task-run",
    ):
        assert command in doc and command in readme, command


def test_find_matches_on_an_end_of_life_glue_version_warns_at_synth(glue_app):
    from aws_cdk.assertions import Annotations, Match

    _, _, stack, _ = glue_app
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("Glue 2.0 reached end of life on 2026-04-01")
    )


def test_the_catalog_crawler_and_job_work_on_a_lake_imported_by_attributes():
    # A lake made by another app: only its bucket names and key ARN are known here.
    import aws_cdk as cdk
    from aws_cdk.assertions import Match, Template

    stack = cdk.Stack(
        cdk.App(), "Consumer", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    lake = DataLake.from_lake_attributes(
        stack,
        "Lake",
        bucket_names={"raw": "their-raw", "curated": "their-curated"},
        encryption_key_arn="arn:aws:kms:eu-west-1:111111111111:key/k",
    )
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    catalog = LakeCatalog(stack, "Catalog", lake=lake, database_prefix="their")
    security = GlueSecurityConfiguration(stack, "Security", data_key=key, logs_key=key)
    table = CsvTable(
        stack, "Table", catalog=catalog, zone="raw", table_name="customers",
        prefix="customers/", columns=[Column("customer_id"), Column("annual_spend", "double")],
    )  # fmt: skip
    ZoneCrawler(
        stack, "Crawler", lake=lake, catalog=catalog, zone="raw", catalog_table=table,
        security_configuration=security,
    )  # fmt: skip
    FeatureEtlJob(
        stack, "Job", lake=lake, catalog=catalog, source_table=table, target_zone="curated",
        target_prefix="customers/", feature_spec=SPEC, security_configuration=security,
    )  # fmt: skip
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Glue::Database", 2)
    template.has_resource_properties(
        "AWS::Glue::Job",
        {"DefaultArguments": Match.object_like({"--target_path": "s3://their-curated/customers/"})},
    )

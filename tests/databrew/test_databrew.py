"""DataBrewPipeline: recipe steps, published version, KMS on every output, scoped role."""

from __future__ import annotations

import pytest
from aws_cdk import aws_kms as kms

from mlops_constructs import DataLake, PropsError
from mlops_constructs.databrew.pipeline import DataBrewPipeline
from mlops_constructs.databrew.props import QualityRule, RecipeStep
from tests.helpers import acknowledged_rules, synth_construct

STEPS = [
    RecipeStep.fill_missing("annual_spend", "median"),
    RecipeStep.fill_missing("segment", "custom", "consumer"),
    RecipeStep.split_column("full_name", " ", 2),
    RecipeStep.one_hot_encode("segment"),
    *RecipeStep.log1p("annual_spend", "annual_spend_log"),
    RecipeStep.delete_column("full_name_1"),
]
RULES = [
    QualityRule.completeness("customer_id"),
    QualityRule.value_range("annual_spend", 0, 1_000_000),
    QualityRule.has_rows(),
]


def _pipeline(stack, **props):
    key = kms.Key(stack, "LakeKey", enable_key_rotation=True)
    lake = DataLake(stack, "Lake", encryption_key=key)
    defaults = dict(
        lake=lake,
        name_prefix="mlops-test-customers",
        source_zone="raw",
        source_prefix="customers/",
        target_zone="curated",
        target_prefix="databrew/customers/",
        steps=STEPS,
        rules=RULES,
        schedule="cron(0 4 * * ? *)",
    )
    return DataBrewPipeline(stack, "Brew", **{**defaults, **props})


@pytest.fixture(scope="module")
def brew():
    template, pipeline, stack = synth_construct(_pipeline)
    return template, pipeline, stack, template.to_json()["Resources"]


def _props(resources, construct):
    return resources[construct.stack.get_logical_id(construct)]["Properties"]


def test_recipe_steps_are_real_databrew_actions_in_order(brew):
    _, pipeline, _, resources = brew
    steps = _props(resources, pipeline.recipe)["Steps"]
    assert [s["Action"] for s in steps] == [
        {"Operation": "FILL_WITH_MEDIAN", "Parameters": {"sourceColumn": "annual_spend"}},
        {
            "Operation": "FILL_WITH_CUSTOM",
            "Parameters": {
                "sourceColumn": "segment",
                "columnDataType": "string",
                "value": "consumer",
            },
        },
        {
            "Operation": "SPLIT_COLUMN_SINGLE_DELIMITER",
            "Parameters": {
                "sourceColumn": "full_name",
                "pattern": " ",
                "limit": "1",
                "includeInSplit": "false",
            },
        },
        {"Operation": "ONE_HOT_ENCODING", "Parameters": {"sourceColumn": "segment"}},
        {
            "Operation": "ADD",
            "Parameters": {
                "sourceColumn1": "annual_spend",
                "value1": "1",
                "targetColumn": "annual_spend_log_1p",
            },
        },
        {
            "Operation": "LN",
            "Parameters": {
                "sourceColumn": "annual_spend_log_1p",
                "targetColumn": "annual_spend_log",
            },
        },
        {"Operation": "DELETE", "Parameters": {"sourceColumn": "annual_spend_log_1p"}},
        {"Operation": "DELETE", "Parameters": {"sourceColumn": "full_name_1"}},
    ]


def test_dataset_reads_csv_with_header_under_the_prefix(brew):
    _, pipeline, _, resources = brew
    props = _props(resources, pipeline.dataset)
    assert props["Format"] == "CSV"
    assert props["FormatOptions"] == {"Csv": {"Delimiter": ",", "HeaderRow": True}}
    assert props["Input"]["S3InputDefinition"]["Key"] == "customers/"


def test_every_job_output_is_kms_encrypted_with_the_lake_key(brew):
    template, _, stack, _ = brew
    jobs = template.find_resources("AWS::DataBrew::Job")
    assert len(jobs) == 2
    key = stack.get_logical_id(stack.node.find_child("LakeKey").node.default_child)
    for job in jobs.values():
        assert job["Properties"]["EncryptionMode"] == "SSE-KMS"
        assert job["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": [key, "Arn"]}
        assert job["Properties"]["LogSubscription"] == "ENABLE"


def test_recipe_job_runs_the_published_version_into_the_target(brew):
    _, pipeline, _, resources = brew
    props = _props(resources, pipeline.recipe_job)
    assert props["Type"] == "RECIPE"
    version = props["Recipe"]["Version"]
    assert version["Fn::GetAtt"][1] == "RecipeVersion"
    (output,) = props["Outputs"]
    assert output["Format"] == "PARQUET" and output["CompressionFormat"] == "SNAPPY"
    assert output["Location"]["Key"] == "databrew/customers/"


def test_recipe_is_published_on_each_change_and_versions_cleaned_up(brew):
    template, _, _, _ = brew
    customs = template.find_resources("Custom::AWS")
    assert len(customs) == 2
    bodies = [str(c["Properties"]) for c in customs.values()]
    assert any("publishRecipe" in b for b in bodies)
    describe = next(c for c in customs.values() if "describeRecipe" in str(c["Properties"]))
    assert "deleteRecipeVersion" in str(describe["Properties"]["Delete"])
    assert len(describe["Properties"]["StepsDigest"]) == 16


def test_steps_digest_changes_with_the_steps():
    def digest(steps):
        template, _, _ = synth_construct(lambda stack: _pipeline(stack, steps=steps), nag=False)
        describe = next(
            c for c in template.find_resources("Custom::AWS").values()
            if "describeRecipe" in str(c["Properties"])
        )  # fmt: skip
        return describe["Properties"]["StepsDigest"]

    assert digest(STEPS) != digest(STEPS[:-1])


def test_profile_job_validates_the_ruleset_and_writes_reports(brew):
    _, pipeline, _, resources = brew
    props = _props(resources, pipeline.profile_job)
    assert props["Type"] == "PROFILE"
    assert props["OutputLocation"]["Key"] == "databrew-reports/customers/"
    (validation,) = props["ValidationConfigurations"]
    assert validation["ValidationMode"] == "CHECK_ALL"
    assert props["JobSample"] == {"Mode": "FULL_DATASET"}


def test_ruleset_rules(brew):
    _, pipeline, _, resources = brew
    rules = {r["Name"]: r for r in _props(resources, pipeline.ruleset)["Rules"]}
    assert (
        rules["customer_id-complete"]["CheckExpression"]
        == "AGG(MISSING_VALUES_PERCENTAGE) <= :val1"
    )
    assert rules["customer_id-complete"]["ColumnSelectors"] == [{"Name": "customer_id"}]
    assert rules["annual_spend-in-range"]["SubstitutionMap"] == [
        {"ValueReference": ":col1", "Value": "`annual_spend`"},
        {"ValueReference": ":val1", "Value": "0"},
        {"ValueReference": ":val2", "Value": "1000000"},
    ]
    assert rules["has-rows"]["CheckExpression"] == "AGG(ROWS_COUNT) > :val1"


def test_schedule_runs_both_jobs(brew):
    template, _, _, _ = brew
    (schedule,) = template.find_resources("AWS::DataBrew::Schedule").values()
    assert schedule["Properties"]["CronExpression"] == "cron(0 4 * * ? *)"
    assert len(schedule["Properties"]["JobNames"]) == 2


def test_role_reads_source_writes_target_and_reports_only(brew):
    template, pipeline, _, resources = brew
    role = _props(resources, pipeline.role.node.default_child)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "databrew.amazonaws.com"
    }
    descriptions = sorted(
        p["Properties"]["Description"]
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
    )
    assert descriptions == [
        "Read objects under 'customers/' of the raw zone of the data lake",
        "ReadWrite objects under 'databrew-reports/customers/' of the curated zone of the "
        "data lake",
        "ReadWrite objects under 'databrew/customers/' of the curated zone of the data lake",
    ]


def test_acknowledgements_are_exact(brew):
    _, _, stack, _ = brew
    rules = sorted(rule for _, rule, _ in acknowledged_rules(stack) if "Lake" not in rule)
    assert (
        "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
        in rules
    )
    assert any(r.endswith("log-group:/aws-glue-databrew/*]") for r in rules)


def test_invalid_props_are_all_reported():
    with pytest.raises(PropsError) as caught:
        synth_construct(
            lambda stack: _pipeline(
                stack,
                name_prefix="bad_name!",
                target_zone="gold",
                steps=[RecipeStep("one_hot", {"source_column": "x"})],
                rules=[],
                schedule="0 4 * * ? *",
                max_capacity=0,
            ),
            nag=False,
        )
    message = str(caught.value)
    for fragment in (
        "name_prefix: got 'bad_name!'",
        "target_zone: got 'gold'",
        "steps: got 'one_hot'",
        "steps: got ['source_column']",
        "rules: got []",
        "schedule: got '0 4 * * ? *'",
        "max_capacity: got 0",
    ):
        assert fragment in message


def test_step_factories_check_their_input():
    # The factories are the settings types' (test_props.py); a bad input never reaches a step.
    with pytest.raises(ValueError, match="most_frequent"):
        RecipeStep.fill_missing("x", "average")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="give 'value' exactly when strategy is 'custom'"):
        RecipeStep.fill_missing("x", "custom")

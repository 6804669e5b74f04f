"""The feature spec has one parser, the Glue job's own: the construct checks a spec with it at
synth, the config at load, and config, construct and job agree on the columns written."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest
from pyspark.sql import SparkSession

from mlops_constructs import PropsError
from mlops_constructs.glue.jobs import FeatureEtlJob
from mlops_constructs.glue.props import (
    FeatureSpec,
    FeatureSpecError,
    feature_columns,
    parse_feature_spec,
)
from mlops_constructs.glue.runtime.feature_etl import parse_spec, transform
from stacks.config import ENVIRONMENTS_CONTEXT_KEY, load_config
from tests.glue.test_feature_paths import RAW_COLUMNS, RAW_ROWS
from tests.glue.test_glue import SPEC, _build
from tests.helpers import config_problems, synth_construct

#: The one-hot column used as a partition: the one-hot step has dropped it by then.
BAD_SPEC = {**SPEC, "partition_by": ["segment"]}
PROBLEM = 'partition_by[0]: got "segment", expected a column that still exists; one_hot drops it'


def _job_argument(spec) -> dict:
    def build(stack):
        m = _build(stack)
        FeatureEtlJob(
            stack,
            "SpecJob",
            lake=m.lake,
            catalog=m.catalog,
            source_table=m.table,
            target_zone="curated",
            target_prefix="customers/",
            feature_spec=spec,
            security_configuration=m.security,
        )

    template, _, _ = synth_construct(build, nag=False)
    (job,) = [
        j
        for logical_id, j in template.find_resources("AWS::Glue::Job").items()
        if logical_id.startswith("SpecJob")
    ]
    return json.loads(job["Properties"]["DefaultArguments"]["--feature_spec"])


@pytest.mark.parametrize("spec", [BAD_SPEC, replace(parse_spec(SPEC), partition_by=("segment",))])
def test_a_bad_spec_fails_at_synth_naming_the_problem(spec):
    with pytest.raises(PropsError) as raised:
        _job_argument(spec)
    message = str(raised.value)
    assert "FeatureEtlJob received invalid props" in message
    assert f"feature_spec: invalid feature_spec (1 problem):\n  - {PROBLEM}" in message


def test_the_parser_reports_fields_values_and_expectations():
    with pytest.raises(FeatureSpecError) as raised:
        parse_feature_spec(BAD_SPEC)
    assert raised.value.problems == [
        ("partition_by[0]", "segment", "a column that still exists; one_hot drops it")
    ]


def test_a_bad_spec_fails_at_config_load(base_context):
    ctx = copy.deepcopy(base_context)
    features = ctx[ENVIRONMENTS_CONTEXT_KEY]["dev"]["data"]["datasets"][0]["features"]
    features["partition_by"] = ["segment"]
    (problem,) = config_problems(ctx)
    assert problem.endswith(
        "environment 'dev', field 'data.datasets.0.features.partition_by.0': got 'segment'; "
        "expected a column that still exists; one_hot drops it"
    )


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_config_construct_and_job_agree_on_the_columns(base_context, spark: SparkSession, env: str):
    dataset = load_config(base_context).environment(env).data.datasets[0]
    assert dataset.column_names == RAW_COLUMNS
    # The construct is given the config's typed spec and passes the job the same JSON.
    argument = _job_argument(dataset.features.spec)
    assert argument == dataset.features.model_dump(mode="json")
    job_spec = parse_spec(argument)
    assert isinstance(job_spec, FeatureSpec) and job_spec == dataset.features.spec
    written = transform(spark.createDataFrame(RAW_ROWS, RAW_COLUMNS), job_spec).columns
    assert written == dataset.curated_columns == feature_columns(RAW_COLUMNS, job_spec)

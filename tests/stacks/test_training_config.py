"""The training section of the environment config: each bad setting gives the clear error."""

from __future__ import annotations

import copy
from typing import Any

from stacks.config import ENVIRONMENTS_CONTEXT_KEY, load_config
from tests.helpers import config_problems as problems

TRAINING: dict[str, Any] = {
    "model_name": "churn",
    "dataset": "customers",
    "label_column": "segment_corporate",
    "feature_columns": ["annual_spend_log", "segment_consumer"],
    "key_column": "customer_id",
    "bias_facet": "segment_consumer",
    "problem_type": "binary_classification",
    "hyperparameter_ranges": [
        {"name": "max_depth", "type": "integer", "min": 3, "max": 10},
        {"name": "eta", "type": "continuous", "min": 0.01, "max": 0.3, "scaling": "Logarithmic"},
    ],
    "max_jobs": 10,
    "max_parallel_jobs": 2,
    "max_runtime_minutes": 60,
    "max_wait_minutes": 120,
}


def with_training(base_context, env: str = "staging", **changes: Any) -> dict[str, Any]:
    ctx = copy.deepcopy(base_context)
    settings = ctx[ENVIRONMENTS_CONTEXT_KEY][env]
    settings["training"] = [{**copy.deepcopy(TRAINING), **changes}]
    # The served and monitored model is config/'s; this one replaces it.
    settings.pop("serving", None)
    settings.pop("monitoring", None)
    return ctx


def test_valid_training_config_and_derived_objective(base_context):
    (training,) = load_config(with_training(base_context)).environment("staging").training
    assert training.objective == ("validation:auc", "Maximize")
    assert training.algorithm == "xgboost" and training.use_spot
    regression = (
        load_config(
            with_training(
                base_context,
                problem_type="regression",
                label_column="annual_spend",
                bias_label_values_or_threshold=[1000],
            )
        )
        .environment("staging")
        .training[0]
    )
    assert regression.objective == ("validation:rmse", "Minimize")


def test_unknown_algorithm(base_context):
    (problem,) = problems(with_training(base_context, algorithm="random_forest"))
    assert "field 'training.0.algorithm': got 'random_forest'" in problem
    assert "['xgboost']" in problem


def test_empty_hyperparameter_range(base_context):
    ranges = [{"name": "max_depth", "type": "integer", "min": 5, "max": 5}]
    (problem,) = problems(with_training(base_context, hyperparameter_ranges=ranges))
    assert "training.0.hyperparameter_ranges.0" in problem
    assert "expected min < max, got min=5.0 max=5.0" in problem
    (problem,) = problems(with_training(base_context, hyperparameter_ranges=[]))
    assert "training.0.hyperparameter_ranges': got []" in problem


def test_more_parallel_jobs_than_jobs(base_context):
    (problem,) = problems(with_training(base_context, max_jobs=2, max_parallel_jobs=4))
    assert "max_parallel_jobs (4) exceeds max_jobs (2)" in problem


def test_spot_wait_shorter_than_runtime(base_context):
    (problem,) = problems(with_training(base_context, max_runtime_minutes=90, max_wait_minutes=60))
    assert "spot max_wait_minutes (60) is shorter than max_runtime_minutes (90)" in problem
    # Without spot there is no wait to respect.
    load_config(
        with_training(base_context, use_spot=False, max_runtime_minutes=90, max_wait_minutes=60)
    )


def test_references_and_tier_rules(base_context):
    found = problems(
        with_training(
            base_context,
            dataset="orders",
            approval_status="Approved",
            objective_metric="validation:rmse",
        )
    )
    assert any(
        "training.0.objective_metric" in p or "objective_metric 'validation:rmse'" in p
        for p in found
    )
    # Once fields are valid, cross-field checks name the dataset and the tier rule.
    found = problems(with_training(base_context, dataset="orders", approval_status="Approved"))
    assert any("training.0.dataset': got 'orders'" in p for p in found)
    assert any(
        "training.0.approval_status': got 'Approved'; expected PendingManualApproval outside dev"
        in p
        for p in found
    )
    load_config(with_training(base_context, env="dev", approval_status="Approved"))


def test_columns_must_be_curated_columns(base_context):
    # "segment" is a raw column the feature job one-hot encodes away.
    found = problems(
        with_training(base_context, label_column="churned", feature_columns=["segment"])
    )
    assert any(
        "training.0.label_column': got 'churned'; expected a curated column" in p for p in found
    )
    assert any("training.0.feature_columns': got 'segment'" in p for p in found)
    assert any("training.0.bias_facet': got 'segment_consumer'" in p for p in found)


def test_curated_columns_follow_the_feature_job(base_context):
    from mlops_constructs.glue.runtime.feature_etl import sanitize_category

    dataset = load_config(base_context).environment("dev").data.datasets[0]
    assert dataset.curated_columns == [
        "customer_id",
        "annual_spend",
        "country",
        "updated_at",
        "segment_consumer",
        "segment_corporate",
        "segment_home_office",
        "annual_spend_log",
    ]
    for category in ("home office", "Home-Office!", " consumer "):
        from stacks.config import sanitize_category as config_sanitize

        assert config_sanitize(category) == sanitize_category(category)


def test_input_mode_is_what_built_in_xgboost_accepts_for_csv(base_context):
    """The XGBoost container validates each channel's (content type, input mode):
    text/csv in File or Pipe mode; FastFile fails every training job."""
    (training,) = load_config(with_training(base_context)).environment("staging").training
    assert training.input_mode == "File"
    piped = load_config(with_training(base_context, input_mode="Pipe"))
    assert piped.environment("staging").training[0].input_mode == "Pipe"
    (problem,) = problems(with_training(base_context, input_mode="FastFile"))
    assert "does not accept text/csv channels in FastFile mode" in problem
    assert "https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-how-to-use.html" in problem
    (problem,) = problems(with_training(base_context, algorithm_version="0.90-2"))
    assert "built-in XGBoost 0.90-2: channel support not recorded" in problem


def test_channel_table():
    from mlops_constructs.training import xgboost_channels as channels

    assert channels.supported("1.7-1", "text/csv", "File")
    assert channels.supported("1.7-1", "text/csv", "Pipe")
    assert not channels.supported("1.7-1", "text/csv", "FastFile")
    assert not channels.supported("1.7-1", "text/libsvm", "Pipe")
    assert channels.supported("1.7-1", "application/x-recordio-protobuf", "Pipe")
    assert not channels.supported("1.7-1", "text/csv; label_size=1", "File")  # exact match
    assert not channels.supported("9.9-9", "text/csv", "File")
    assert channels.problem("1.7-1", "text/csv", "File") is None


def test_bias_settings_default_by_problem_type(base_context):
    (classifier,) = load_config(with_training(base_context)).environment("staging").training
    # The positive class of a 0/1 label, the one-hot facet's group: thresholds, as Clarify
    # reads the float 0.0/1.0 columns of the splits as continuous (values above 0.5 are 1.0).
    assert classifier.bias_label_values_or_threshold == [0.5]
    assert classifier.bias_facet_values_or_threshold == [0.5]
    regression = {"problem_type": "regression", "label_column": "annual_spend"}
    (problem,) = problems(with_training(base_context, **regression))
    assert "bias_label_values_or_threshold" in problem
    assert "a regression label needs one threshold" in problem
    (problem,) = problems(
        with_training(base_context, **regression, bias_label_values_or_threshold=[1, 2])
    )
    assert "a regression label needs one threshold" in problem
    (problem,) = problems(with_training(base_context, bias_facet_values_or_threshold=[]))
    assert "bias_facet_values_or_threshold" in problem


ONE_HOT_FACET = "expected thresholds in [0, 1) for the one-hot column segment_consumer"


def test_a_one_hot_facet_threshold_must_select_its_members(base_context):
    """Clarify's sensitive group of a continuous facet is (threshold, max]: for a 0.0/1.0
    one-hot column a threshold of 1 or more is empty, one below 0 is every row."""
    for bad in ([1.0], [-0.5], [0.5, 1.0]):
        (problem,) = problems(with_training(base_context, bias_facet_values_or_threshold=bad))
        assert problem == (
            "environment 'staging', field 'training.0.bias_facet_values_or_threshold': "
            f"got {bad!r}; {ONE_HOT_FACET} (a threshold; Clarify's group is the rows above it)"
        )
    for good in ([0.0], [0.5], [0.99]):
        load_config(with_training(base_context, bias_facet_values_or_threshold=good))
    # A facet that is not one-hot may use any threshold.
    load_config(
        with_training(
            base_context, bias_facet="annual_spend_log", bias_facet_values_or_threshold=[7.0]
        )
    )


def test_a_binary_label_threshold_must_select_the_positive_class(base_context):
    (problem,) = problems(with_training(base_context, bias_label_values_or_threshold=[1.0]))
    assert problem == (
        "environment 'staging', field 'training.0.bias_label_values_or_threshold': got [1.0]; "
        "expected thresholds in [0, 1) for the 0/1 label of a binary classification model "
        "(a threshold; Clarify's positive outcome is the labels above it)"
    )
    # A regression label's range is the data's: any threshold is accepted.
    load_config(
        with_training(
            base_context,
            problem_type="regression",
            label_column="annual_spend",
            bias_label_values_or_threshold=[1000],
        )
    )


def test_bias_threshold_problems_are_reported_with_the_others(base_context):
    found = problems(
        with_training(
            base_context,
            bias_facet_values_or_threshold=[1.0],
            bias_label_values_or_threshold=[2.0],
            approval_status="Approved",
        )
    )
    assert len(found) == 3, found
    assert any("bias_facet_values_or_threshold': got [1.0]" in p for p in found)
    assert any("bias_label_values_or_threshold': got [2.0]" in p for p in found)
    assert any("approval_status': got 'Approved'" in p for p in found)

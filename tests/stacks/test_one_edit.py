"""Issue 13's acceptance: adding a feature column, a served model or a monitored metric is
one edit in one file of config/, and the change reaches everything it should.

Each test copies config/, synthesizes dev before and after ONE edit of base.yaml, and
checks that what the edit should add is absent before and present after.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from stacks.app_factory import default_context
from stacks.config import SELECT_CONTEXT_KEY, load_config
from tests.conftest import REPO_ROOT, SynthesizedApp, resources_of_type

ENV = "dev"


def _copy_config(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", folder)
    return folder


def _edit_base(folder: Path, before: str, inserted: str) -> None:
    """The one edit: ``inserted`` goes into base.yaml just before the (unique) ``before``."""
    path = folder / "base.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(before) == 1, before
    path.write_text(text.replace(before, inserted + before), encoding="utf-8")


def _synth(folder: Path, outdir: Path) -> SynthesizedApp:
    from stacks.app_factory import create_app

    context = {**default_context(folder), SELECT_CONTEXT_KEY: ENV}
    app, config = create_app(context, outdir=str(outdir))
    app.synth()
    return SynthesizedApp(app=app, config=config, outdir=outdir)


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    tmp = tmp_path_factory.mktemp("before")
    return _synth(_copy_config(tmp), tmp / "cdk.out")


def _text(template: dict[str, Any]) -> str:
    return json.dumps(template)


def _table_columns(platform: SynthesizedApp) -> list[str]:
    tables = resources_of_type(platform.template(ENV, "Data"), "AWS::Glue::Table").values()
    return [
        c["Name"]
        for t in tables
        for c in t["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    ]


def _alarm_descriptions(platform: SynthesizedApp) -> list[str]:
    alarms = resources_of_type(platform.template(ENV, "Monitoring"), "AWS::CloudWatch::Alarm")
    return [json.dumps(a["Properties"].get("AlarmDescription", "")) for a in alarms.values()]


def test_a_new_source_column_is_one_edit(before, tmp_path):
    folder = _copy_config(tmp_path)
    _edit_base(folder, "    features:\n", "    - name: tenure_years\n      type: double\n")
    config = load_config({}, config_dir=folder).environment(ENV)
    assert "tenure_years" not in before.config.environment(ENV).training[0].feature_columns
    assert "tenure_years" in config.training[0].feature_columns

    after = _synth(folder, tmp_path / "cdk.out")
    # The Glue table, the feature ETL job, the training pipeline and the drift alarms.
    assert "tenure_years" not in _table_columns(before)
    assert "tenure_years" in _table_columns(after)
    for stack in ("Data", "Training", "Monitoring"):
        assert "tenure_years" not in _text(before.template(ENV, stack)), stack
        assert "tenure_years" in _text(after.template(ENV, stack)), stack
    assert any("feature tenure_years drifted" in d for d in _alarm_descriptions(after))


NEW_MODEL = """\
- model_name: churn
  dataset: customers
  label_column: annual_spend_log
  exclude_columns:
  - annual_spend
  - updated_at
  key_column: customer_id
  bias_facet: segment_consumer
  problem_type: regression
  bias_label_values_or_threshold:
  - 8.5
  hyperparameter_ranges:
  - name: max_depth
    type: integer
    min: 3
    max: 8
  evaluation_threshold: 1.0
"""


def test_a_new_served_model_is_one_edit(before, tmp_path):
    # serving.models defaults to every training model: the training entry is the one edit.
    folder = _copy_config(tmp_path)
    _edit_base(folder, "monitoring:\n", NEW_MODEL)
    config = load_config({}, config_dir=folder).environment(ENV)
    assert config.serving is not None and config.serving.models == ["spend", "churn"]

    after = _synth(folder, tmp_path / "cdk.out")
    group = f"{config.resource_prefix}-{ENV}-churn"
    assert group not in _text(before.template(ENV, "Serving"))
    assert group in _text(after.template(ENV, "Serving"))
    pipelines = resources_of_type(after.template(ENV, "Training"), "AWS::SageMaker::Pipeline")
    assert len(pipelines) == 2


def test_a_new_monitored_metric_is_one_edit(before, tmp_path):
    folder = _copy_config(tmp_path)
    _edit_base(folder, "  quality_threshold: 1.0\n", "  quality_metric: mae\n")
    after = _synth(folder, tmp_path / "cdk.out")
    assert not any(": mae on joined ground truth" in d for d in _alarm_descriptions(before))
    assert any(": mae on joined ground truth" in d for d in _alarm_descriptions(after))
    assert not any(": rmse on joined ground truth" in d for d in _alarm_descriptions(after))

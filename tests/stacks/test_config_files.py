"""The layered config files of config/: the merge rule, problems naming their files, the
published JSON Schemas, and the shipped files themselves."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import ConfigError, load_config
from stacks.config_files import (
    BASE_FILE,
    DELIVERY_FILE,
    read_config_dir,
    schema_texts,
)
from tests.conftest import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "config"
ENV_FILES = ("dev.yaml", "staging.yaml", "prod.yaml")


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """A copy of the shipped config folder, named config/ as in the repository."""
    folder = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, folder)
    return folder


def edit(folder: Path, name: str, change: Any) -> None:
    """Load a YAML file of ``folder``, let ``change`` edit it, and write it back."""
    data = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
    change(data)
    (folder / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config({}, config_dir=folder)
    return caught.value.problems


def test_the_shipped_files_load_in_tier_order_and_select_works():
    config = load_config({})
    assert [e.name for e in config.environments] == ["dev", "staging", "prod"]
    assert config.selected == ("dev", "staging", "prod")
    assert load_config({"mlops:select": "staging"}).selected == ("staging",)
    assert config.delivery is None  # shipped disabled
    assert read_config_dir().delivery["enabled"] is False


def test_the_context_key_replaces_the_files(base_context, tmp_path):
    # A context with mlops:environments never reads the folder (an empty one would fail).
    config = load_config(base_context, config_dir=tmp_path)
    assert [e.name for e in config.environments] == ["dev", "staging", "prod"]


def test_base_holds_the_shared_settings_and_each_environment_names_its_place():
    base = yaml.safe_load((CONFIG_DIR / BASE_FILE).read_text(encoding="utf-8"))
    # Adding a feature column is one edit: the dataset's columns are written once.
    assert [c["name"] for c in base["data"]["datasets"][0]["columns"]][:2] == [
        "customer_id",
        "full_name",
    ]
    for name in ENV_FILES:
        env = yaml.safe_load((CONFIG_DIR / name).read_text(encoding="utf-8"))
        assert {"tier", "account", "region"} <= set(env), name
        assert "columns" not in env["data"]["datasets"][0], name


def test_merge_rule(tmp_path):
    folder = tmp_path / "config"
    write(
        folder,
        BASE_FILE,
        """
tags: {project: p, cost_center: shared, owner: o}
network: {max_azs: 2, cidr: 10.0.0.0/16, interface_endpoints: [logs, kms, sts]}
data:
  lake: {intelligent_tiering_after_days: 30}
  datasets:
    - {name: a, prefix: a/, columns: [{name: x, type: string}, {name: y, type: string}]}
    - {name: b, prefix: b/, columns: [{name: z, type: string}]}
""",
    )
    write(
        folder,
        "dev.yaml",
        """
tier: dev
account: '111122223333'
region: eu-west-1
tags: {cost_center: dev}
network: {interface_endpoints: [logs]}
data:
  lake: {intelligent_tiering_after_days: null}
  datasets:
    - {name: b, prefix: bb/}
    - {name: c, prefix: c/, columns: [{name: w, type: string}]}
""",
    )
    layered = read_config_dir(folder)
    assert layered.problems == []
    dev = layered.environments["dev"]
    # Mappings merge key by key.
    assert dev["tags"] == {"project": "p", "cost_center": "dev", "owner": "o"}
    # Other lists replace whole; null replaces too.
    assert dev["network"] == {"max_azs": 2, "cidr": "10.0.0.0/16", "interface_endpoints": ["logs"]}
    assert dev["data"]["lake"] == {"intelligent_tiering_after_days": None}
    # Named entries merge by name; a new name comes after the base's entries.
    assert [(d["name"], d["prefix"]) for d in dev["data"]["datasets"]] == [
        ("a", "a/"),
        ("b", "bb/"),
        ("c", "c/"),
    ]
    assert dev["data"]["datasets"][1]["columns"] == [{"name": "z", "type": "string"}]
    # Where each value came from.
    assert layered.files_of("dev", "tags.project") == ["config/base.yaml"]
    assert layered.files_of("dev", "tags.cost_center") == ["config/dev.yaml"]
    assert layered.files_of("dev", "tags") == ["config/base.yaml", "config/dev.yaml"]
    assert layered.files_of("dev", "data.datasets.1.columns.0.name") == ["config/base.yaml"]
    assert layered.files_of("dev", "data.datasets.2.prefix") == ["config/dev.yaml"]


def test_environments_do_not_share_objects(base_context):
    # deepcopy keeps objects shared within what it copies: edits to one environment's
    # inherited list would reach the others.
    context = copy.deepcopy(base_context)
    dev = context["mlops:environments"]["dev"]
    staging = context["mlops:environments"]["staging"]
    dev["data"]["datasets"][0]["columns"].append({"name": "new", "type": "string"})
    assert len(staging["data"]["datasets"][0]["columns"]) + 1 == len(
        dev["data"]["datasets"][0]["columns"]
    )


def test_problems_name_the_files_environment_and_field(shipped):
    # An unknown key in an environment file; an invalid shared value in base (every
    # environment inherits it); a value set in one file failing a rule with another's.
    edit(shipped, "dev.yaml", lambda d: d["network"].update(max_azz=2))
    edit(shipped, BASE_FILE, lambda d: d.setdefault("keys", {}).update(rotation_period_days=5))
    edit(shipped, "prod.yaml", lambda d: d.update(removal="destroy"))
    found = problems_of(shipped)
    assert (
        "config/dev.yaml: environment 'dev', field 'network.max_azz': unknown key; "
        "did you mean 'max_azs'?"
    ) in "\n".join(found)
    for env in ("dev", "staging", "prod"):
        assert any(
            p.startswith(
                f"config/base.yaml: environment '{env}', field 'keys.rotation_period_days'"
            )
            for p in found
        ), found
    assert any(
        p.startswith("config/prod.yaml: environment 'prod', field 'removal': got 'destroy'")
        for p in found
    ), found
    assert len(found) == 5, found


def test_a_missing_field_names_the_layers_that_should_hold_it(shipped):
    edit(shipped, BASE_FILE, lambda d: d["tags"].pop("owner"))
    found = problems_of(shipped)
    assert len(found) == 3
    assert found[0] == (
        "config/base.yaml + config/dev.yaml: environment 'dev', field 'tags.owner': "
        "missing; this field is required"
    )


def test_yaml_syntax_errors_name_the_file_and_line(shipped):
    text = (shipped / "staging.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text) if t.startswith("region:"))
    text[line] = "region: eu-west-1: oops"
    (shipped / "staging.yaml").write_text("\n".join(text) + "\n", encoding="utf-8")
    with (shipped / "prod.yaml").open("a", encoding="utf-8") as handle:
        handle.write("removal: retain\n")  # a key the file already has
    found = problems_of(shipped)
    prod_lines = len((shipped / "prod.yaml").read_text(encoding="utf-8").splitlines())
    # Every file's problem (in file-name order), each with its line and column.
    assert [p.split(": YAML syntax error: ")[0] for p in found] == [
        f"config/prod.yaml, line {prod_lines}, column 1",
        f"config/staging.yaml, line {line + 1}, column 18",
    ], found
    assert found[0].endswith("duplicate key 'removal'")
    assert found[1].endswith("mapping values are not allowed here")


def test_base_may_not_place_an_environment(shipped):
    edit(shipped, BASE_FILE, lambda d: d.update(account="111122223333"))
    found = problems_of(shipped)
    assert found == [
        "config/base.yaml, field 'account': got '111122223333'; each environment names its "
        "own 'account' in its file, so it may not be set in base.yaml"
    ]


def test_the_file_names_the_environment(shipped):
    edit(shipped, "staging.yaml", lambda d: d.update(name="qa"))
    assert problems_of(shipped) == [
        "config/staging.yaml, field 'name': got 'qa'; an environment is named by its file "
        "(config/<name>.yaml), not by a 'name' setting"
    ]


def test_file_shapes_and_an_empty_folder(shipped, tmp_path):
    (shipped / "dev.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    (found,) = problems_of(shipped)
    assert found.startswith("config/dev.yaml: got ['just', 'a list'] at the top of the file")
    empty = tmp_path / "empty"
    empty.mkdir()
    (found,) = problems_of(empty)
    assert found.startswith("empty/: no environment files")


def test_delivery_problems_name_their_file(shipped):
    edit(shipped, DELIVERY_FILE, lambda d: d.update(enabled=True, approval_before=["qa"]))
    (found,) = problems_of(shipped)
    assert found.startswith("config/delivery.yaml, field 'approval_before': got ['qa']")


def test_published_schemas_are_current():
    """Fails when the config models changed without `make schema`."""
    for name, text in schema_texts().items():
        path = CONFIG_DIR / name
        assert path.is_file() and path.read_text(encoding="utf-8") == text, (
            f"config/{name} is stale: run `make schema`"
        )


def test_yaml_files_name_their_schema_and_pass_it():
    jsonschema = pytest.importorskip("jsonschema")
    for name in (BASE_FILE, *ENV_FILES, DELIVERY_FILE):
        text = (CONFIG_DIR / name).read_text(encoding="utf-8")
        schema_name = "delivery.schema.json" if name == DELIVERY_FILE else "schema.json"
        assert text.startswith(f"# yaml-language-server: $schema={schema_name}\n"), name
        schema = json.loads((CONFIG_DIR / schema_name).read_text(encoding="utf-8"))
        jsonschema.validate(yaml.safe_load(text), schema)


def test_the_schema_catches_what_an_editor_should_flag():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((CONFIG_DIR / "schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    # A partial layer is fine; a typo, a wrong type, or a dataset entry without its name is not.
    assert not list(validator.iter_errors({"network": {"max_azs": 3}}))
    assert list(validator.iter_errors({"network": {"max_azz": 3}}))
    assert list(validator.iter_errors({"removal": 7}))
    assert list(validator.iter_errors({"data": {"datasets": [{"prefix": "x/"}]}}))
    assert not list(validator.iter_errors({"data": {"datasets": [{"name": "customers"}]}}))

"""The layered configuration files of the ``config/`` folder.

Layout:

* ``config/base.yaml``: the settings every environment shares.
* ``config/<env>.yaml``: one file per environment, named after it (``dev.yaml``,
  ``staging.yaml``, ``prod.yaml``, or any name :class:`~stacks.config.EnvironmentConfig`
  accepts). It names the environment's ``tier``, ``account`` and ``region`` (these three are
  refused in ``base.yaml``) and only what differs from ``base.yaml``.
* ``config/delivery.yaml``: the delivery pipeline's settings
  (:class:`~stacks.config.DeliveryConfig`).
* ``config/schema.json``, ``config/delivery.schema.json``: JSON Schemas generated from the
  config models (``make schema``), named at the top of each YAML file so that editors with the
  YAML language server complete and check it.

Merge rule, per environment: ``base.yaml``, then ``<env>.yaml`` over it.

* Mappings merge key by key, recursively.
* The lists of named entries merge entry by entry on their name, in :data:`KEYED_LISTS`:
  ``data.datasets`` (``name``), ``training`` (``model_name``) and ``monitoring`` (``model``).
  An entry whose name the base also has is merged into it as a mapping; a new name is added
  after the base's entries. (This is what lets a dataset, a training job or a monitored model
  be written once in ``base.yaml`` while an environment changes only its schedule or size.)
* Every other value (scalars, ``null`` and all other lists) replaces the base's value whole.

Environments are ordered by tier (dev, staging, prod), then by name. The merged result is
validated by :func:`stacks.config.load_config` exactly like the ``mlops:environments``
context it replaces, and every problem names the file(s) its value came from.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BASE_FILE = "base.yaml"
DELIVERY_FILE = "delivery.yaml"
SCHEMA_FILE = "schema.json"
DELIVERY_SCHEMA_FILE = "delivery.schema.json"
#: Settings each environment's own file must name; ``base.yaml`` may not hold them.
ENVIRONMENT_ONLY = ("tier", "account", "region")
#: Lists whose entries merge by name: the path (mapping keys) and the entry's name field.
KEYED_LISTS: dict[tuple[str, ...], str] = {
    ("data", "datasets"): "name",
    ("training",): "model_name",
    ("monitoring",): "model",
}
_TIER_ORDER = {"dev": 0, "staging": 1, "prod": 2}


def default_config_dir() -> Path:
    """The ``config/`` folder beside ``app.py``."""
    return Path(__file__).resolve().parent.parent / "config"


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# --- annotated values: each leaf remembers the file it came from -------------------------


@dataclass
class _Node:
    files: list[str]
    value: Any = None  # a leaf's value
    children: dict[Any, _Node] | None = None  # a mapping's entries
    items: list[_Node] | None = None  # a keyed list's entries

    def add_files(self, files: list[str]) -> None:
        self.files.extend(f for f in files if f not in self.files)


def _annotate(value: Any, source: str, path: tuple[str, ...]) -> _Node:
    if isinstance(value, Mapping):
        return _Node(
            files=[source],
            children={k: _annotate(v, source, (*path, str(k))) for k, v in value.items()},
        )
    if path in KEYED_LISTS and isinstance(value, list):
        return _Node(files=[source], items=[_annotate(v, source, path) for v in value])
    return _Node(files=[source], value=value)


def _entry_name(node: _Node, path: tuple[str, ...]) -> Any:
    if node.children is None:
        return None
    name = node.children.get(KEYED_LISTS[path])
    return None if name is None or name.children is not None else name.value


def _merge(base: _Node, over: _Node, path: tuple[str, ...]) -> _Node:
    if base.children is not None and over.children is not None:
        children = dict(base.children)
        for key, value in over.children.items():
            children[key] = (
                _merge(base.children[key], value, (*path, str(key)))
                if key in base.children
                else value
            )
        merged = _Node(files=list(base.files), children=children)
        merged.add_files(over.files)
        return merged
    if base.items is not None and over.items is not None:
        items = list(base.items)
        for entry in over.items:
            name = _entry_name(entry, path)
            index = next(
                (
                    i
                    for i, e in enumerate(items)
                    if name is not None and _entry_name(e, path) == name
                ),
                None,
            )
            if index is None:
                items.append(entry)
            else:
                items[index] = _merge(items[index], entry, path)
        merged = _Node(files=list(base.files), items=items)
        merged.add_files(over.files)
        return merged
    return over


def _plain(node: _Node, path: tuple[Any, ...], origins: dict[tuple[str, ...], list[str]]) -> Any:
    """The node's plain value; ``origins`` gets the files of every path (list entries by index)."""
    origins[tuple(str(p) for p in path)] = node.files
    if node.children is not None:
        return {k: _plain(v, (*path, k), origins) for k, v in node.children.items()}
    if node.items is not None:
        return [_plain(v, (*path, i), origins) for i, v in enumerate(node.items)]
    return copy.deepcopy(node.value)  # environments share no objects: one may be edited alone


# --- reading the folder ----------------------------------------------------------------


@dataclass
class LayeredConfig:
    """The merged environments and delivery settings, and where each value came from."""

    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    delivery: Any = None
    delivery_file: str | None = None
    #: Per environment: the files each path's value came from (paths as string tuples).
    origins: dict[str, dict[tuple[str, ...], list[str]]] = field(default_factory=dict)
    #: Problems found before validation: YAML syntax, file shapes, misplaced settings.
    problems: list[str] = field(default_factory=list)

    def files_of(self, env: str, field_path: str) -> list[str]:
        """The files ``field_path`` (dotted, as problems name fields) of ``env`` came from: its
        own, or those of its nearest enclosing setting (a missing field: the environment's)."""
        origins = self.origins.get(env, {})
        parts = tuple(p for p in field_path.split(".") if p) if field_path else ()
        for end in range(len(parts), -1, -1):
            if parts[:end] in origins:
                return origins[parts[:end]]
        return []


def _display(path: Path) -> str:
    """A file as problems name it: relative to the config folder's parent (``config/dev.yaml``)."""
    return f"{path.parent.name}/{path.name}"


def _read_yaml(path: Path, problems: list[str]) -> tuple[bool, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_UniqueKeyLoader)  # a SafeLoader: no objects
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        detail = f"{context}: {reason}" if context and "duplicate" not in str(reason) else reason
        problems.append(f"{_display(path)}{where}: YAML syntax error: {detail}")
        return False, None
    return True, data


def _read_mapping(path: Path, problems: list[str]) -> dict[str, Any] | None:
    ok, data = _read_yaml(path, problems)
    if not ok:
        return None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        problems.append(
            f"{_display(path)}: got {data!r} at the top of the file; expected a mapping of settings"
        )
        return None
    return dict(data)


def _name_problem(path: Path, value: Any) -> str:
    return (
        f"{_display(path)}, field 'name': got {value!r}; an environment is named by its "
        "file (config/<name>.yaml), not by a 'name' setting"
    )


def environment_files(config_dir: Path) -> list[Path]:
    """The environment files of ``config_dir``: every ``*.yaml`` but the base and delivery."""
    return sorted(p for p in config_dir.glob("*.yaml") if p.name not in (BASE_FILE, DELIVERY_FILE))


def read_config_dir(config_dir: Path | None = None) -> LayeredConfig:
    """Read and merge the folder's files; problems are collected, not raised."""
    config_dir = config_dir or default_config_dir()
    result = LayeredConfig()
    env_paths = environment_files(config_dir) if config_dir.is_dir() else []
    if not env_paths:
        result.problems.append(
            f"{config_dir.name}/: no environment files; expected {config_dir.name}/<env>.yaml "
            f"for each environment beside {config_dir.name}/{BASE_FILE} (see README.md)"
        )
        return result

    base_path = config_dir / BASE_FILE
    base_raw = _read_mapping(base_path, result.problems) if base_path.is_file() else {}
    base = None if base_raw is None else _annotate(base_raw, _display(base_path), ())
    for key in ENVIRONMENT_ONLY:
        if base_raw and key in base_raw:
            result.problems.append(
                f"{_display(base_path)}, field '{key}': got {base_raw[key]!r}; each environment "
                f"names its own '{key}' in its file, so it may not be set in {BASE_FILE}"
            )

    if base_raw and "name" in base_raw:
        result.problems.append(_name_problem(base_path, base_raw["name"]))

    merged: list[tuple[str, dict[str, Any], dict[tuple[str, ...], list[str]]]] = []
    for path in env_paths:
        raw = _read_mapping(path, result.problems)
        if raw and "name" in raw:
            result.problems.append(_name_problem(path, raw["name"]))
        if raw is None or base is None:
            continue  # its problem is reported; the other environments are still checked
        node = _merge(base, _annotate(raw, _display(path), ()), ())
        origins: dict[tuple[str, ...], list[str]] = {}
        merged.append((path.stem, _plain(node, (), origins), origins))

    def order(entry: tuple[str, dict[str, Any], Any]) -> tuple[int, str]:
        tier = entry[1].get("tier")
        return (_TIER_ORDER.get(tier, len(_TIER_ORDER)) if isinstance(tier, str) else 9, entry[0])

    for name, settings, origins in sorted(merged, key=order):
        result.environments[name] = settings
        result.origins[name] = origins

    delivery_path = config_dir / DELIVERY_FILE
    if delivery_path.is_file():
        result.delivery_file = _display(delivery_path)
        _, result.delivery = _read_yaml(delivery_path, result.problems)
    return result


# --- JSON Schemas for editors ------------------------------------------------------------


def _partial(
    schema: Any, defs: Mapping[str, Any], out: dict[str, Any], path: tuple[str, ...]
) -> Any:
    """``schema`` as one layer may write it: no field required along mappings (another layer
    may set it), and keyed-list entries requiring only their name."""
    if isinstance(schema, list):
        return [_partial(s, defs, out, path) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        partial_name = f"{name}Layer"
        if partial_name not in out:
            out[partial_name] = {}  # placeholder against recursion
            out[partial_name] = _partial(defs[name], defs, out, path)
        return {
            **{k: v for k, v in schema.items() if k != "$ref"},
            "$ref": f"#/$defs/{partial_name}",
        }
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "required":
            continue
        if key == "properties":
            result[key] = {p: _partial(s, defs, out, (*path, p)) for p, s in value.items()}
        elif key in ("anyOf", "oneOf", "allOf", "additionalProperties"):
            result[key] = _partial(value, defs, out, path)
        elif key == "items" and path in KEYED_LISTS:
            # Entries merge by name: an entry needs only its name in one layer.
            entry = _partial(value, defs, out, path)
            result[key] = {"allOf": [entry], "required": [KEYED_LISTS[path]]}
        else:
            result[key] = value
    return result


def environment_schema() -> dict[str, Any]:
    """The JSON Schema of ``base.yaml`` and ``<env>.yaml``: the environment settings as layers
    (no field required in a single file; the merged environment is validated by the app)."""
    from stacks.config import EnvironmentConfig

    full = EnvironmentConfig.model_json_schema()
    defs: dict[str, Any] = dict(full.get("$defs", {}))
    layer_defs: dict[str, Any] = {}
    root = _partial({k: v for k, v in full.items() if k != "$defs"}, defs, layer_defs, ())
    root["properties"].pop("name", None)  # the file name names the environment
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **{k: v for k, v in root.items() if k not in ("title", "description")},
        "title": "ML platform environment settings (config/base.yaml, config/<env>.yaml)",
        "description": (
            "One layer of an environment's settings: base.yaml, then <env>.yaml merged over "
            "it (mappings key by key, data.datasets/training/monitoring entries by name, "
            "everything else replaced). Generated from stacks/config/ by `make schema`."
        ),
        "$defs": {**defs, **layer_defs},
    }


def delivery_schema() -> dict[str, Any]:
    """The JSON Schema of ``delivery.yaml``."""
    from stacks.config import DeliveryConfig

    schema = DeliveryConfig.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "ML platform delivery pipeline settings (config/delivery.yaml)",
    }


def schema_texts() -> dict[str, str]:
    """The schema files' expected contents, by file name."""
    return {
        SCHEMA_FILE: json.dumps(environment_schema(), indent=2, sort_keys=False) + "\n",
        DELIVERY_SCHEMA_FILE: json.dumps(delivery_schema(), indent=2, sort_keys=False) + "\n",
    }


def write_schemas(config_dir: Path | None = None) -> list[Path]:
    """Write the schema files into the config folder; returns those that changed."""
    config_dir = config_dir or default_config_dir()
    changed = []
    for name, text in schema_texts().items():
        path = config_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    for written in write_schemas():
        print(f"wrote {_display(written)}")

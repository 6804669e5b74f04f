"""The layers of DESIGN.md: app and stacks use the constructs' public names only, and the
constructs never reach up into the app."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return found


def _private_uses(paths: list[Path]) -> list[str]:
    bad = []
    for path in paths:
        for module, names in _imports(path):
            if module.split(".")[0] != "mlops_constructs":
                continue
            private = [p for p in module.split(".") + names if p.startswith("_")]
            if private:
                bad.append(f"{path.name}: {module} {names}")
    return bad


def test_the_app_and_stacks_import_only_public_names():
    paths = [REPO_ROOT / "app.py", *sorted((REPO_ROOT / "stacks").rglob("*.py"))]
    assert len(paths) > 10
    assert _private_uses(paths) == []


def test_the_check_finds_a_private_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from mlops_constructs.training._definition import image_uri\n")
    assert _private_uses([probe]) == [
        "probe.py: mlops_constructs.training._definition ['image_uri']"
    ]


def test_the_constructs_never_import_the_app():
    for path in sorted((REPO_ROOT / "mlops_constructs").rglob("*.py")):
        for module, _ in _imports(path):
            assert module.split(".")[0] not in {"stacks", "app", "tests"}, path

"""Loading the configuration: every problem of every environment in one ConfigError."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from stacks.config._common import (
    DELIVERY_CONTEXT_KEY,
    ENVIRONMENTS_CONTEXT_KEY,
    SELECT_CONTEXT_KEY,
    ConfigError,
)
from stacks.config.data import data_problems
from stacks.config.environment import DeliveryConfig, EnvironmentConfig, PlatformConfig
from stacks.config.macie import macie_problems
from stacks.config.serving import serving_problems
from stacks.config.training import training_problems

if TYPE_CHECKING:
    from stacks.config_files import LayeredConfig


def _field_path(loc: Iterable[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _fields_of(model: Any) -> dict[str, Any]:
    """The fields of a config model or of a settings type (a pydantic dataclass)."""
    fields = getattr(model, "__pydantic_fields__", None)
    return dict(fields) if isinstance(model, type) and fields is not None else {}


def _allowed_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names a model accepts at ``loc`` (the parent of an unknown key)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = _fields_of(current).get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return list(_fields_of(current))


def _model_in(annotation: Any) -> type | None:
    if isinstance(annotation, type) and _fields_of(annotation):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _describe(env: str, error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    field = _field_path(loc) or "(environment)"
    received = error.get("input")
    # A settings type (a pydantic dataclass) reports an unknown key as an unexpected argument.
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        allowed = [f for f in _allowed_fields(EnvironmentConfig, loc[:-1]) if f != "name"]
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"environment '{env}', field '{field}': unknown key{hint} Expected one of {allowed}"
    if error["type"] == "missing":
        return f"environment '{env}', field '{field}': missing; this field is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if loc and isinstance(received, Mapping):
        # A model-level check: the input is the whole section, which says nothing useful.
        return f"environment '{env}', field '{field}': {message}"
    if not loc:
        return f"environment '{env}': {message}"
    return f"environment '{env}', field '{field}': got {received!r}; {message}"


def load_config(context: Mapping[str, Any], config_dir: Path | None = None) -> PlatformConfig:
    """Validate the app's configuration and return it typed, or raise one :class:`ConfigError`.

    The environments and the delivery settings come from the layered files of the ``config/``
    folder (``config_dir``, by default the one beside ``app.py``; see
    :mod:`stacks.config_files`), and every problem names the file(s) its value came from.
    A context key ``mlops:environments`` (with ``mlops:delivery``), where given, replaces
    the files entirely: tests use it to check variations.

    The selection ``mlops:select`` (context, e.g. ``-c mlops:select=dev``) is a
    comma-separated list of environment names; all environments are selected when it is
    absent or empty.
    """
    if ENVIRONMENTS_CONTEXT_KEY in context:
        return _validate(
            context.get(ENVIRONMENTS_CONTEXT_KEY),
            context.get(DELIVERY_CONTEXT_KEY),
            context.get(SELECT_CONTEXT_KEY),
            layered=None,
        )
    from stacks.config_files import read_config_dir

    layered = read_config_dir(config_dir)
    if not layered.environments:
        raise ConfigError(layered.problems)
    return _validate(
        layered.environments, layered.delivery, context.get(SELECT_CONTEXT_KEY), layered=layered
    )


_ENV_PROBLEM_RE = re.compile(r"^environment '([^']*)'(?:, field '([^']*)')?")


def _with_files(problem: str, layered: LayeredConfig) -> str:
    """``problem`` prefixed with the file(s) its environment's field came from."""
    match = _ENV_PROBLEM_RE.match(problem)
    if match is None:
        return problem
    files = layered.files_of(match.group(1), match.group(2) or "")
    return f"{' + '.join(files)}: {problem}" if files else problem


def _validate(
    raw_envs: Any, raw_delivery: Any, raw_select: Any, *, layered: LayeredConfig | None
) -> PlatformConfig:
    problems: list[str] = list(layered.problems) if layered is not None else []
    if not isinstance(raw_envs, Mapping) or not raw_envs:
        raise ConfigError(
            [
                f"context key '{ENVIRONMENTS_CONTEXT_KEY}': got {raw_envs!r}; expected an object "
                "mapping each environment name to its settings (see config/ and README.md)"
            ]
        )

    env_problems: list[str] = []
    environments: list[EnvironmentConfig] = []
    for name, raw in raw_envs.items():
        if not isinstance(raw, Mapping):
            env_problems.append(
                f"environment '{name}': got {raw!r}; expected an object of settings"
            )
            continue
        try:
            env = EnvironmentConfig.model_validate({**raw, "name": name})
        except ValidationError as exc:
            env_problems.extend(_describe(name, err) for err in exc.errors())
            continue
        env_problems.extend(
            f"environment '{name}', field '{field}': got {value!r}; {expected}"
            for field, value, expected in [
                *data_problems(env.data),
                *macie_problems(env),
                *training_problems(env),
                *serving_problems(env),
            ]
        )
        environments.append(env)

    env_problems.extend(_shared_account_problems(environments))
    if layered is not None:
        env_problems = [_with_files(p, layered) for p in env_problems]
    problems.extend(env_problems)
    selected = _parse_selection(raw_select, list(raw_envs), problems)
    where = (
        layered.delivery_file
        if layered is not None and layered.delivery_file
        else f"context key '{DELIVERY_CONTEXT_KEY}'"
    )
    delivery = _delivery(raw_delivery, list(raw_envs), problems, where)
    if problems:
        raise ConfigError(problems)
    return PlatformConfig(
        environments=tuple(environments), selected=tuple(selected), delivery=delivery
    )


def _delivery(raw: Any, names: list[str], problems: list[str], where: str) -> DeliveryConfig | None:
    """The delivery section, or None where it is absent or not enabled; ``where`` names its
    source in problems (the context key or the file)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: got {raw!r}; expected an object of settings")
        return None
    try:
        delivery = DeliveryConfig.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            field = _field_path(error["loc"])
            problems.append(
                f"{where}, field '{field}': got {error.get('input')!r}; "
                + str(error["msg"]).removeprefix("Value error, ")
            )
        return None
    if not delivery.enabled:
        return None  # an inert example until enabled: its fields are checked, nothing else
    for field, values in (
        ("environments", delivery.environments or []),
        ("approval_before", delivery.approval_before),
    ):
        unknown = [v for v in values if v not in names]
        if unknown:
            problems.append(
                f"{where}, field '{field}': got {unknown!r}; expected environments of {names}"
            )
    return delivery


def _shared_account_problems(environments: list[EnvironmentConfig]) -> list[str]:
    """Environments sharing an account and region must not both own its Macie session."""
    owners: dict[tuple[str, str], str] = {}
    problems = []
    for env in environments:
        if env.macie is None or not env.macie.manage_macie_session:
            continue
        other = owners.setdefault((env.account, env.region), env.name)
        if other != env.name:
            problems.append(
                f"environment '{env.name}', field 'macie.manage_macie_session': got True; "
                f"'{other}' already manages the Macie session of account {env.account} in "
                f"{env.region} (one session per account and region): set it to false here"
            )
    return problems


def _parse_selection(raw: Any, names: list[str], problems: list[str]) -> list[str]:
    if raw is None or raw == "":
        return names
    if isinstance(raw, str):
        wanted = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        wanted = list(raw)
    else:
        problems.append(
            f"context key '{SELECT_CONTEXT_KEY}': got {raw!r}; expected environment names "
            "separated by commas, such as 'dev' or 'dev,staging'"
        )
        return []
    unknown = [w for w in wanted if w not in names]
    if unknown:
        problems.append(
            f"context key '{SELECT_CONTEXT_KEY}': unknown environment(s) {unknown}; "
            f"expected any of {names}"
        )
    return [n for n in names if n in wanted]

"""What the settings types of every capability share: how they are declared, the problem
tuple of cross-field rules, and value types used by more than one capability.

A setting is declared once, in its capability's ``props.py``, as a field of a frozen
pydantic dataclass (:func:`settings`): its type, default, bounds and a docstring. The
constructs receive these types as props (keyword arguments, as before), and the app's
config (``stacks/config``) embeds the same types, so a bound or default cannot differ
between the two. A value out of bounds fails when the settings object is made, with
pydantic's ``ValidationError`` (a ``ValueError``) naming the field, the value and the bound;
rules that relate several values are functions returning :data:`Problem` tuples, which the
constructs feed to :class:`~mlops_constructs.core.validation.PropsCheck` and the config
reports with the environment and the file.
"""

from __future__ import annotations

import copy
import re
from typing import Annotated, Any, TypeVar, cast, dataclass_transform

from aws_cdk import Token
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic.dataclasses import dataclass as _pydantic_dataclass
from pydantic.fields import FieldInfo

#: A problem found by a cross-field rule: (field, value received, what is expected).
Problem = tuple[str, Any, str]

#: How every settings type validates: unknown fields are refused (a typo never falls back to
#: a default), strings are stripped, and each field's docstring is its description (in the
#: config's JSON Schema too).
SETTINGS_CONFIG = ConfigDict(
    extra="forbid", str_strip_whitespace=True, use_attribute_docstrings=True
)

_T = TypeVar("_T")


def _is_token(value: Any) -> bool:
    return (
        isinstance(value, str | int | float)
        and not isinstance(value, bool)
        and Token.is_unresolved(value)
    )


def resolved(*values: Any) -> bool:
    """True when none of ``values`` is an unresolved token: a cross-field rule compares only
    values known at synth (a token is only known at deploy time)."""
    return not any(_is_token(v) for v in values)


def _keep_tokens(cls: type, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A token (a CloudFormation parameter, an attribute of another resource) is only known at
    # deploy time: it is passed through unchecked, as PropsCheck skips it too.
    return value if _is_token(value) else handler(value)


@dataclass_transform(frozen_default=True, field_specifiers=(Field, FieldInfo))
def settings(cls: type[_T]) -> type[_T]:
    """Make ``cls`` a frozen pydantic dataclass validated as :data:`SETTINGS_CONFIG` says,
    whose values may be unresolved tokens (passed through, unchecked)."""
    # Every field goes through the token check first (a wrap validator runs around the
    # field's own type and bounds).
    check: Any = field_validator("*", mode="wrap")(classmethod(_keep_tokens))
    setattr(cls, "_keep_tokens", check)  # noqa: B010 - added before pydantic reads the class
    return cast(type[_T], _pydantic_dataclass(frozen=True, config=SETTINGS_CONFIG)(cls))


INSTANCE_TYPE_RE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


def _instance_type(value: str) -> str:
    if not INSTANCE_TYPE_RE.match(value):
        raise ValueError("expected a SageMaker instance type such as 'ml.m5.large'")
    return value


#: A SageMaker instance type, ``ml.<family>.<size>``.
InstanceType = Annotated[str, AfterValidator(_instance_type)]


def is_instance_type(value: str) -> bool:
    """True for strings shaped like a SageMaker instance type (``ml.m5.large``)."""
    return bool(INSTANCE_TYPE_RE.match(value))


_CRON_FIELD = {
    "minutes": re.compile(r"^(\*|[0-5]?\d([-/,][0-5]?\d)*(/\d+)?)$"),
    "hours": re.compile(r"^(\*|[01]?\d|2[0-3])([-/,]([01]?\d|2[0-3]))*(/\d+)?$|^\*(/\d+)?$"),
    "day_of_month": re.compile(r"^(\?|\*|L|W|([1-9]|[12]\d|3[01])W?([-,/]([1-9]|[12]\d|3[01]))*)$"),
    "month": re.compile(
        r"^(\*|((1[0-2]|0?[1-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)"
        r"([-,/](1[0-2]|0?[1-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC))*))(/\d+)?$"
    ),
    "day_of_week": re.compile(
        r"^(\?|\*|L|([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(#[1-5]|L)?"
        r"([-,]([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT))*)$"
    ),
    "year": re.compile(r"^(\*|(19[7-9]\d|2[01]\d\d)([-,/](19[7-9]\d|2[01]\d\d|\d+))*)$"),
}


def check_aws_cron(value: str) -> str:
    """``value`` stripped if it is an EventBridge, Application Auto Scaling, Glue or
    DataBrew schedule ``cron(m h dom mon dow year)``, else a ``ValueError`` saying why."""
    match = re.match(r"^cron\((.*)\)$", value.strip())
    if not match:
        raise ValueError("expected a schedule such as 'cron(0 2 * * ? *)'")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ValueError(
            f"expected 6 cron fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(fields)}"
        )
    bad = [
        name
        for (name, pattern), field in zip(_CRON_FIELD.items(), fields, strict=True)
        if not pattern.match(field.upper())
    ]
    if bad:
        raise ValueError(f"invalid cron field(s) {bad}")
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be '?'")
    return value.strip()


#: A ``cron(minutes hours day-of-month month day-of-week year)`` schedule expression.
AwsCron = Annotated[str, AfterValidator(check_aws_cron)]


def settings_field(cls: type, name: str, **changes: Any) -> Any:
    """The declaration of the settings type ``cls``'s field ``name`` (default, bounds,
    validators, docstring), for a model that keeps another shape (the app's config) to
    reuse as ``its_name: <the same type> = settings_field(cls, name)``. The type is written
    again (a type checker needs it; the config's tests compare the two); ``changes`` replace
    parts of the declaration (``default=PydanticUndefined`` makes the field required)."""
    fields: dict[str, FieldInfo] = cls.__pydantic_fields__  # type: ignore[attr-defined]
    declared = copy.copy(fields[name])
    if "default" in changes:
        # A default replaces a default factory.
        declared.default_factory = None
    for attribute, value in changes.items():
        setattr(declared, attribute, value)
    return declared

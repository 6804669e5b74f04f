"""Prop validation shared by the constructs: collect every problem, then raise once."""

from __future__ import annotations

from typing import Any

from aws_cdk import Token


class PropsError(ValueError):
    """A construct was given props it cannot work with; the message lists every problem."""


class PropsCheck:
    """Collects problems with a construct's props and raises them together.

    Values that are unresolved tokens are skipped: they are only known at deploy time.
    """

    def __init__(self, construct_name: str) -> None:
        self._construct = construct_name
        self._problems: list[str] = []

    def require(self, ok: bool, prop: str, value: Any, expected: str) -> None:
        """Record a problem unless ``ok``; ``expected`` says what would be valid."""
        if ok or _is_token(value):
            return
        self._problems.append(f"{prop}: got {value!r}; {expected}")

    def raise_if_any(self) -> None:
        if self._problems:
            lines = "\n".join(f"  - {p}" for p in self._problems)
            raise PropsError(f"{self._construct} received invalid props:\n{lines}")


def _is_token(value: Any) -> bool:
    if isinstance(value, str | int | float):
        return Token.is_unresolved(value)
    return False

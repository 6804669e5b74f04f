"""Prop validation shared by the constructs: collect every problem, then raise once."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from aws_cdk import Stack, Token
from constructs import IConstruct

#: How a library user installs the SageMaker SDK: the package's ``pipelines`` extra
#: (pyproject.toml), left out of the base install as it is about 1 GB.
SAGEMAKER_SDK_INSTALL = 'pip install "mlops-platform-constructs[pipelines]"'


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

    def exactly_one(self, given: dict[str, Any], what: str) -> None:
        """Record a problem unless exactly one of ``given`` (prop name -> value) is set:
        ``what`` is given one way (an importer takes a resource or its name, not both)."""
        names = list(given)
        count = sum(v is not None for v in given.values())
        self.require(
            count == 1,
            "/".join(names),
            "neither" if count == 0 else "both",
            f"give {what} one way: {' or '.join(names)}",
        )

    def add(self, prop: str, problem: str) -> None:
        """Record a problem that is not about one prop's value (a package, the region)."""
        self._problems.append(f"{prop}: {problem}")

    def require_sagemaker_sdk(self, scope: IConstruct, needs: str) -> None:
        """Record what keeps the SageMaker SDK from authoring ``needs`` for ``scope``, offline.

        The SDK is an optional dependency, and it looks images up by region, which in an
        environment-agnostic stack is a token: both would otherwise fail deep in the SDK.
        """
        try:
            importlib.metadata.version("sagemaker")
        except importlib.metadata.PackageNotFoundError:
            self.add(
                "sagemaker",
                f"{needs} needs the SageMaker Python SDK, which is not installed; install the "
                f"optional extra: {SAGEMAKER_SDK_INSTALL}",
            )
        stack = Stack.of(scope)
        if Token.is_unresolved(stack.region):
            self.add(
                "region",
                f"stack {stack.node.path!r} has no explicit region (it is environment-"
                f"agnostic), but {needs} needs one: SageMaker images differ per region; "
                "give the stack an env with an explicit region, e.g. "
                'Stack(app, "Ml", env=Environment(account="123456789012", region="eu-west-1"))',
            )

    def raise_if_any(self) -> None:
        if self._problems:
            lines = "\n".join(f"  - {p}" for p in self._problems)
            raise PropsError(f"{self._construct} received invalid props:\n{lines}")


def _is_token(value: Any) -> bool:
    if isinstance(value, str | int | float):
        return Token.is_unresolved(value)
    return False

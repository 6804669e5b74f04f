"""Shared helpers of the capability packages: props validation, cdk-nag acknowledgements,
S3 and KMS grants, event-driven functions, and where the runtime code lives."""

from mlops_constructs.core.validation import PropsCheck, PropsError

__all__ = [
    "PropsCheck",
    "PropsError",
]

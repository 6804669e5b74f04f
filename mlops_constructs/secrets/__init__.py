"""Secrets Manager secrets for credentials of external systems."""

from mlops_constructs.secrets.external_credential import ExternalCredentialSecret

__all__ = [
    "ExternalCredentialSecret",
]

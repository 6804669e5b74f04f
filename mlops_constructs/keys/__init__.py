"""KMS keys: one customer-managed key per purpose, rotated yearly."""

from mlops_constructs.keys.platform_keys import KeyPurpose, PlatformKeys

__all__ = [
    "KeyPurpose",
    "PlatformKeys",
]

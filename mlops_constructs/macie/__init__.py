"""Amazon Macie: sensitive-data discovery on the lake, and remediation of its findings (its
Lambda handler is ``runtime/macie_remediation``)."""

from mlops_constructs.macie.discovery import MacieDiscovery
from mlops_constructs.macie.props import AllowList, CustomDataIdentifier, DiscoverySchedule
from mlops_constructs.macie.remediation import MacieRemediation

__all__ = [
    "AllowList",
    "CustomDataIdentifier",
    "DiscoverySchedule",
    "MacieDiscovery",
    "MacieRemediation",
]

"""The VPC the platform's jobs and endpoints run in: isolated subnets, interface endpoints."""

from mlops_constructs.network.vpc import DEFAULT_INTERFACE_ENDPOINTS, Network

__all__ = [
    "DEFAULT_INTERFACE_ENDPOINTS",
    "Network",
]

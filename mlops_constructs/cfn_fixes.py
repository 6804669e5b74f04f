"""Former import path, kept working: the code lives in :mod:`mlops_constructs.core.cfn_fixes`."""

from mlops_constructs.core.cfn_fixes import drop_redundant_provider_dependency, ignore_cfn_lint

__all__ = [
    "drop_redundant_provider_dependency",
    "ignore_cfn_lint",
]

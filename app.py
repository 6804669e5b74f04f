#!/usr/bin/env python3
"""The CDK app: one stage per environment configured in ``config/``.

The settings are layered: ``config/base.yaml`` holds what every environment shares and
``config/<env>.yaml`` (dev, staging, prod) names an environment's tier, account and region
and only what differs; ``config/delivery.yaml`` configures the delivery pipeline
(``stacks/config_files.py`` describes the merge rule). ``cdk.json`` holds the app command
and the feature flags.

Synthesize all environments with ``make synth``; one with ``make synth ENV=dev`` (or
``npx cdk synth -c mlops:select=dev``). Invalid configuration stops here with one message
that lists every problem, and nothing is written.
"""

import os
import sys

from mlops_constructs.training import PIPELINE_DEFINITION_CACHE_ENV as CACHE_ENV
from stacks.app_factory import REPO_ROOT, create_app
from stacks.config import ConfigError


def main() -> int:
    # Keep the SageMaker pipeline definitions between synths (keyed by everything they
    # depend on): an unchanged pipeline is not rebuilt.
    os.environ.setdefault(CACHE_ENV, str(REPO_ROOT / ".cache" / "pipeline-definitions"))
    try:
        app, _ = create_app()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

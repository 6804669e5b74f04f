"""One deployable environment as a ``cdk.Stage``: every stack of the platform, wired."""

from __future__ import annotations

from typing import cast

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from mlops_constructs.glue import FeatureEtlJob
from stacks.config import EnvironmentConfig, Tier
from stacks.data_stack import DataStack
from stacks.lake_stack import LakeStack
from stacks.monitoring_stack import MonitoringStack
from stacks.network_stack import NetworkStack
from stacks.protection_stack import ProtectionStack
from stacks.security_stack import SecurityStack
from stacks.serving_stack import ServingStack
from stacks.training_stack import TrainingStack


class PlatformStage(Stage):
    """The stacks of one environment, in its account and region, tagged.

    Stateful stacks (keys, the lake, later the artifacts) get termination protection when
    the environment's tier is prod. cdk-nag checks the stage as part of the app
    (:func:`stacks.app_factory.create_app` adds the gate once, for every stage).
    """

    def __init__(self, scope: Construct, id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(
            scope,
            id,
            env=Environment(account=config.account, region=config.region),
        )
        self.config = config
        protect = config.tier == Tier.PROD

        self.security = SecurityStack(
            self,
            "Security",
            config=config,
            description=f"ML platform {config.name}: KMS keys and secrets (stateful)",
            termination_protection=protect,
        )
        self.network = NetworkStack(
            self,
            "Network",
            config=config,
            logs_key=self.security.keys.logs_key,
            description=f"ML platform {config.name}: VPC, endpoints, flow logs, security groups",
        )
        self.lake = LakeStack(
            self,
            "Lake",
            config=config,
            data_key=self.security.keys.data_lake_key,
            artifacts_key=self.security.keys.artifacts_key,
            description=f"ML platform {config.name}: S3 data lake zones (stateful)",
            termination_protection=protect,
        )
        self.data = DataStack(
            self,
            "Data",
            config=config,
            keys=self.security.keys,
            lake=self.lake.lake,
            network=self.network.network,
            description=f"ML platform {config.name}: Glue catalog, crawlers, ETL, DataBrew",
        )
        self.training = None
        if config.training:
            self.training = TrainingStack(
                self,
                "Training",
                config=config,
                lake=self.lake.lake,
                artifacts=self.lake.artifacts,
                network=self.network.network,
                etl_jobs={
                    name: cast(FeatureEtlJob, made["job"]).job_name
                    for name, made in self.data.datasets.items()
                },
                description=f"ML platform {config.name}: model registry and training pipelines",
            )
        self.serving = None
        if config.serving is not None and self.training is not None:
            self.serving = ServingStack(
                self,
                "Serving",
                config=config,
                serving=config.serving,
                keys=self.security.keys,
                network=self.network.network,
                artifacts=self.lake.artifacts,
                registries=self.training.registries,
                description=(
                    f"ML platform {config.name}: "
                    + (
                        "inference-component endpoint"
                        if config.serving.hosting == "inference-components"
                        else "multi-model endpoint"
                    )
                    + ", approved models"
                ),
            )
        self.monitoring = None
        if config.monitoring and self.training is not None:
            self.monitoring = MonitoringStack(
                self,
                "Monitoring",
                config=config,
                keys=self.security.keys,
                network=self.network.network,
                artifacts=self.lake.artifacts,
                pipelines=self.training.pipelines,
                registries=self.training.registries,
                serving_endpoint=None if self.serving is None else self.serving.endpoint,
                description=f"ML platform {config.name}: model monitoring and retraining",
            )
            if self.serving is not None:
                # The engine watches the serving endpoint's capture: deploy that first.
                self.monitoring.node.add_dependency(self.serving)
        self.protection = None
        if config.macie is not None:
            self.protection = ProtectionStack(
                self,
                "Protection",
                config=config,
                macie_config=config.macie,
                keys=self.security.keys,
                lake=self.lake.lake,
                description=f"ML platform {config.name}: Macie discovery and remediation",
                termination_protection=protect,
            )

        tags = Tags.of(self)
        tags.add("project", config.tags.project)
        tags.add("environment", config.name)
        tags.add("cost-center", config.tags.cost_center)
        tags.add("owner", config.tags.owner)
        for key, value in config.tags.extra.items():
            tags.add(key, value)

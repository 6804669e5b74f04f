"""Glue DataBrew: dataset, recipe, recipe job, ruleset, profile job and schedule."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_databrew as databrew
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.sdk_calls import acknowledge_sdk_function
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.databrew.props import (
    _NAME_RE,
    _OPERATION_RE,
    _PARAM_KEY_RE,
    QualityRule,
    RecipeStep,
)
from mlops_constructs.lake.interfaces import IDataLake


class DataBrewPipeline(Construct):
    """Makes a DataBrew dataset, recipe, recipe job, ruleset, profile job and schedule.

    * The dataset reads every CSV file (with a header row) under ``source_prefix`` of
      ``source_zone``.
    * The recipe runs ``steps`` in order. CloudFormation creates recipes unpublished, and
      recipe jobs run published versions, so the construct publishes each change of the
      steps (a custom resource calling ``PublishRecipe``) and pins the job to that
      version; superseded versions are deleted, and the last one with the stack.
    * The recipe job writes Snappy Parquet to ``target_prefix`` of ``target_zone``,
      replacing its previous output; the profile job writes its profile and the data-quality
      validation of ``rules`` (at least one) to ``report_prefix`` of ``report_zone``.
    * Both jobs: SSE-KMS with the lake's key for their output (and CloudWatch logs, which
      DataBrew encrypts with the same key), logging on, ``max_capacity`` nodes (5),
      ``timeout`` (120 minutes), no retries.
    * With ``schedule`` (a ``cron(...)`` expression), both jobs run on it.
    * The role (trusted by DataBrew only) reads only the source prefix and writes only the
      target and report prefixes.

    Names: DataBrew requires them; they are ``<name_prefix>-<kind>``, e.g.
    ``mlops-platform-dev-customers-recipe-job``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lake: IDataLake,
        name_prefix: str,
        source_zone: str,
        source_prefix: str,
        target_zone: str,
        target_prefix: str,
        steps: Sequence[RecipeStep],
        rules: Sequence[QualityRule],
        report_zone: str | None = None,
        report_prefix: str | None = None,
        csv_delimiter: str = ",",
        schedule: str | None = None,
        max_capacity: int = 5,
        timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        timeout = timeout or Duration.minutes(120)
        report_zone = report_zone or target_zone
        report_prefix = report_prefix or f"databrew-reports/{source_prefix}"
        self._check(
            lake, name_prefix, source_zone, target_zone, report_zone,
            [source_prefix, target_prefix, report_prefix], steps, rules, schedule, max_capacity,
        )  # fmt: skip
        stack = Stack.of(self)
        key_arn = lake.encryption_key.key_arn

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("databrew.amazonaws.com"),
            description=f"DataBrew jobs of {name_prefix}",
        )
        lake.grant_read(self.role, source_zone, source_prefix)
        lake.grant_read_write(self.role, target_zone, target_prefix)
        lake.grant_read_write(self.role, report_zone, report_prefix)
        log_groups = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws-glue-databrew/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DataBrewJobLogs",
                # DataBrew encrypts job logs with the job's (lake) key: AssociateKmsKey.
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:AssociateKmsKey",
                ],
                resources=[log_groups],
            )
        )
        acknowledge_wildcards(
            self.role,
            "DataBrew creates its job log groups at run time under /aws-glue-databrew/ in this "
            "account and region.",
            resources=[log_groups],
        )

        self.dataset = databrew.CfnDataset(
            self,
            "Dataset",
            name=f"{name_prefix}-dataset",
            format="CSV",
            format_options=databrew.CfnDataset.FormatOptionsProperty(
                csv=databrew.CfnDataset.CsvOptionsProperty(delimiter=csv_delimiter, header_row=True)
            ),
            input=databrew.CfnDataset.InputProperty(
                s3_input_definition=databrew.CfnDataset.S3LocationProperty(
                    bucket=lake.bucket(source_zone).bucket_name, key=source_prefix
                )
            ),
        )
        self.recipe = databrew.CfnRecipe(
            self,
            "Recipe",
            name=f"{name_prefix}-recipe",
            description="Feature engineering: fill missing, split, one-hot encode, log transform",
            steps=[
                databrew.CfnRecipe.RecipeStepProperty(
                    action=databrew.CfnRecipe.ActionProperty(
                        operation=s.operation, parameters=dict(s.parameters)
                    )
                )
                for s in steps
            ],
        )
        self.recipe_version = self._publish(self.recipe, steps)

        # Both jobs: encrypted output and logs with the lake key, bounded size and time.
        job_settings: dict[str, Any] = {
            "role_arn": self.role.role_arn,
            "dataset_name": self.dataset.ref,
            "log_subscription": "ENABLE",
            "max_capacity": max_capacity,
            "max_retries": 0,
            "timeout": int(timeout.to_minutes()),
            "encryption_mode": "SSE-KMS",
            "encryption_key_arn": key_arn,
        }
        self.recipe_job = databrew.CfnJob(
            self,
            "RecipeJob",
            name=f"{name_prefix}-recipe-job",
            type="RECIPE",
            recipe=databrew.CfnJob.RecipeProperty(
                name=self.recipe.ref, version=self.recipe_version
            ),
            outputs=[
                databrew.CfnJob.OutputProperty(
                    location=databrew.CfnJob.S3LocationProperty(
                        bucket=lake.bucket(target_zone).bucket_name, key=target_prefix
                    ),
                    format="PARQUET",
                    compression_format="SNAPPY",
                    overwrite=True,
                )
            ],
            **job_settings,
        )
        self.ruleset = databrew.CfnRuleset(
            self,
            "Ruleset",
            name=f"{name_prefix}-quality",
            description="Data-quality rules checked by the profile job",
            target_arn=stack.format_arn(
                service="databrew", resource="dataset", resource_name=self.dataset.ref
            ),
            rules=[_rule(r) for r in rules],
        )
        self.profile_job = databrew.CfnJob(
            self,
            "ProfileJob",
            name=f"{name_prefix}-profile-job",
            type="PROFILE",
            output_location=databrew.CfnJob.OutputLocationProperty(
                bucket=lake.bucket(report_zone).bucket_name, key=report_prefix
            ),
            validation_configurations=[
                databrew.CfnJob.ValidationConfigurationProperty(
                    ruleset_arn=stack.format_arn(
                        service="databrew", resource="ruleset", resource_name=self.ruleset.ref
                    ),
                    validation_mode="CHECK_ALL",
                )
            ],
            job_sample=databrew.CfnJob.JobSampleProperty(mode="FULL_DATASET"),
            **job_settings,
        )
        policy = self.role.node.find_child("DefaultPolicy")
        for job in (self.recipe_job, self.profile_job):
            job.node.add_dependency(policy)
        self.schedule = None
        if schedule is not None:
            self.schedule = databrew.CfnSchedule(
                self,
                "Schedule",
                name=f"{name_prefix}-schedule",
                cron_expression=schedule,
                job_names=[self.recipe_job.ref, self.profile_job.ref],
            )

    def _publish(self, recipe: databrew.CfnRecipe, steps: Sequence[RecipeStep]) -> str:
        """Publish the recipe whenever its steps change; return the published version."""
        digest = hashlib.sha256(
            json.dumps([[s.operation, dict(s.parameters)] for s in steps], sort_keys=True).encode()
        ).hexdigest()[:16]
        recipe_arn = Stack.of(self).format_arn(
            service="databrew", resource="recipe", resource_name=recipe.ref
        )
        policy = cr.AwsCustomResourcePolicy.from_statements(
            [
                iam.PolicyStatement(
                    actions=[
                        "databrew:PublishRecipe",
                        "databrew:DescribeRecipe",
                        "databrew:DeleteRecipeVersion",
                    ],
                    resources=[recipe_arn],
                )
            ]
        )
        publish_call = cr.AwsSdkCall(
            service="DataBrew",
            action="publishRecipe",
            parameters={"Name": recipe.ref, "Description": f"steps {digest}"},
            physical_resource_id=cr.PhysicalResourceId.of(f"publish-{digest}"),
        )
        publish = cr.AwsCustomResource(
            self,
            "PublishRecipe",
            on_create=publish_call,
            on_update=publish_call,
            policy=policy,
            install_latest_aws_sdk=False,
        )
        describe_call = cr.AwsSdkCall(
            service="DataBrew",
            action="describeRecipe",
            # No RecipeVersion: DataBrew answers with the latest published one.
            parameters={"Name": recipe.ref},
            physical_resource_id=cr.PhysicalResourceId.from_response("RecipeVersion"),
            output_paths=["RecipeVersion"],
        )
        version = cr.AwsCustomResource(
            self,
            "RecipeVersion",
            on_create=describe_call,
            on_update=describe_call,
            # Runs for the superseded version on update, and for the last one on delete.
            on_delete=cr.AwsSdkCall(
                service="DataBrew",
                action="deleteRecipeVersion",
                parameters={
                    "Name": recipe.ref,
                    "RecipeVersion": cr.PhysicalResourceIdReference(),
                },
            ),
            policy=policy,
            install_latest_aws_sdk=False,
        )
        acknowledge_sdk_function(self)
        version.node.add_dependency(publish)
        # A new digest makes the describe call new too, so the version is read again.
        version_resource = version.node.find_child("Resource").node.default_child
        version_resource.add_property_override("StepsDigest", digest)  # type: ignore[union-attr]
        return version.get_response_field("RecipeVersion")

    @staticmethod
    def _check(
        lake: IDataLake,
        name_prefix: str,
        source_zone: str,
        target_zone: str,
        report_zone: str,
        prefixes: Sequence[str],
        steps: Sequence[RecipeStep],
        rules: Sequence[QualityRule],
        schedule: str | None,
        max_capacity: int,
    ) -> None:
        check = PropsCheck("DataBrewPipeline")
        check.require(
            bool(_NAME_RE.match(name_prefix)),
            "name_prefix",
            name_prefix,
            "expected up to 200 letters, digits, '-', '.' or spaces (DataBrew's name rules)",
        )
        for prop, zone in (
            ("source_zone", source_zone),
            ("target_zone", target_zone),
            ("report_zone", report_zone),
        ):
            check.require(zone in lake.zones, prop, zone, f"expected one of {lake.zones}")
        bad = [p for p in prefixes if not p.endswith("/") or p.startswith("/")]
        check.require(not bad, "prefixes", bad, "expected key prefixes such as 'customers/'")
        check.require(0 < len(steps) <= 100, "steps", len(steps), "expected 1 to 100 recipe steps")
        for step in steps:
            check.require(
                bool(_OPERATION_RE.match(step.operation)),
                "steps",
                step.operation,
                "expected an operation name such as 'ONE_HOT_ENCODING'",
            )
            bad_keys = [k for k in step.parameters if not _PARAM_KEY_RE.match(k)]
            check.require(not bad_keys, "steps", bad_keys, "expected alphanumeric parameter names")
            empty = [k for k, v in step.parameters.items() if not v]
            check.require(not empty, "steps", empty, "expected non-empty parameter values")
        check.require(bool(rules), "rules", list(rules), "expected at least one quality rule")
        names = [r.name for r in rules]
        check.require(len(set(names)) == len(names), "rules", names, "expected unique rule names")
        if schedule is not None:
            check.require(
                schedule.startswith("cron(") and schedule.endswith(")"),
                "schedule",
                schedule,
                "expected a cron expression such as 'cron(0 4 * * ? *)'",
            )
        check.require(
            1 <= max_capacity <= 149, "max_capacity", max_capacity, "expected 1 to 149 nodes"
        )
        check.raise_if_any()


def _rule(rule: QualityRule) -> databrew.CfnRuleset.RuleProperty:
    return databrew.CfnRuleset.RuleProperty(
        name=rule.name,
        check_expression=rule.check_expression,
        substitution_map=[
            databrew.CfnRuleset.SubstitutionValueProperty(value_reference=k, value=v)
            for k, v in rule.substitutions.items()
        ]
        or None,
        column_selectors=[databrew.CfnRuleset.ColumnSelectorProperty(name=c) for c in rule.columns]
        or None,
    )

"""Amazon Macie sensitive-data discovery on the lake's buckets."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_macie as macie
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from mlops_constructs.core.nag import acknowledge_wildcards
from mlops_constructs.core.policies import add_statement_or_warn
from mlops_constructs.core.sdk_calls import acknowledge_sdk_function
from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.macie.props import (
    _MACIE_SLR,
    _NAME_RE,
    AllowList,
    CustomDataIdentifier,
    DiscoverySchedule,
)


def _bucket_identity(bucket: s3.IBucket) -> str:
    """What names ``bucket`` at synth time: its name when known, else its construct path.

    Buckets made by CloudFormation have generated names (unresolved tokens); their construct
    path is what fixes their logical id, so it changes exactly when the bucket does.
    """
    name = bucket.bucket_name
    return bucket.node.path if Token.is_unresolved(name) else name


class MacieDiscovery(Construct):
    """Makes Macie sensitive-data discovery for lake buckets.

    * The Macie session for the account and region, with ``finding_publishing_frequency``
      (one hour by default), only when ``manage_session`` is true (the default): there
      can be one session per account and region, so pass ``manage_session=False`` where
      Macie is already enabled. Deleting the stack then disables Macie only if the stack
      enabled it.
    * Custom data identifiers and allow lists, as CloudFormation resources.
    * A scheduled classification job over ``buckets`` (``weekly`` on Sunday by default),
      with the recommended managed data identifiers plus the custom ones and the allow
      lists, sampling ``sampling_percentage`` (100) of objects. CloudFormation has no type
      for jobs, so a custom resource calls ``CreateClassificationJob``. Jobs cannot be
      deleted: when the job's settings change, a new job is created and the previous one is
      cancelled; when the stack is deleted, its job is cancelled (it stays listed in Macie
      as cancelled). A job created with the same settings again reuses its idempotency
      token, so a retried deployment never duplicates it.
    * The lake key lets Macie's service-linked role decrypt objects, so it can scan them.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name_prefix: str,
        buckets: Sequence[s3.IBucket],
        bucket_keys: Sequence[kms.IKey] = (),
        manage_session: bool = True,
        finding_publishing_frequency: str = "ONE_HOUR",
        schedule: DiscoverySchedule | None = None,
        sampling_percentage: int = 100,
        custom_data_identifiers: Sequence[CustomDataIdentifier] = (),
        allow_lists: Sequence[AllowList] = (),
    ) -> None:
        super().__init__(scope, id)
        schedule = schedule or DiscoverySchedule()
        check = PropsCheck("MacieDiscovery")
        check.require(
            bool(_NAME_RE.match(name_prefix)),
            "name_prefix",
            name_prefix,
            "expected letters, digits, '-' or '_'",
        )
        check.require(
            bool(buckets), "buckets", list(buckets), "expected at least one bucket to scan"
        )
        check.require(
            finding_publishing_frequency in ("FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"),
            "finding_publishing_frequency",
            finding_publishing_frequency,
            "expected FIFTEEN_MINUTES, ONE_HOUR or SIX_HOURS",
        )
        check.require(
            1 <= sampling_percentage <= 100,
            "sampling_percentage",
            sampling_percentage,
            "expected 1 to 100",
        )
        check.raise_if_any()
        stack = Stack.of(self)

        self.session: macie.CfnSession | None = None
        if manage_session:
            self.session = macie.CfnSession(
                self,
                "Session",
                status="ENABLED",
                finding_publishing_frequency=finding_publishing_frequency,
            )
        self.custom_data_identifiers = [
            macie.CfnCustomDataIdentifier(
                self,
                f"Identifier{i}",
                name=f"{name_prefix}-{c.name}",
                regex=c.regex,
                keywords=list(c.keywords) or None,
                maximum_match_distance=c.maximum_match_distance,
                description=c.description or None,
            )
            for i, c in enumerate(custom_data_identifiers)
        ]
        self.allow_lists = [
            macie.CfnAllowList(
                self,
                f"AllowList{i}",
                name=f"{name_prefix}-{a.name}",
                description=a.description or None,
                criteria=macie.CfnAllowList.CriteriaProperty(regex=a.regex),
            )
            for i, a in enumerate(allow_lists)
        ]
        for resource in [*self.custom_data_identifiers, *self.allow_lists]:
            if self.session is not None:
                resource.node.add_dependency(self.session)

        self.job_request = {
            "jobType": "SCHEDULED",
            "scheduleFrequency": schedule.to_api(),
            "s3JobDefinition": {
                "bucketDefinitions": [
                    {"accountId": stack.account, "buckets": [b.bucket_name for b in buckets]}
                ]
            },
            "managedDataIdentifierSelector": "RECOMMENDED",
            "customDataIdentifierIds": [c.attr_id for c in self.custom_data_identifiers],
            "allowListIds": [a.attr_id for a in self.allow_lists],
            "samplingPercentage": sampling_percentage,
            "initialRun": True,
            "description": f"Sensitive-data discovery over the {name_prefix} data lake",
        }
        # Settings that are known at synth time decide the job's identity: a change makes a
        # new job (and cancels the old one); the same settings reuse the idempotency token.
        digest = hashlib.sha256(
            json.dumps(
                {
                    "schedule": schedule.to_api(),
                    "buckets": sorted(_bucket_identity(b) for b in buckets),
                    "sampling": sampling_percentage,
                    "identifiers": [vars(c) for c in custom_data_identifiers],
                    "allow": [vars(a) for a in allow_lists],
                    "prefix": name_prefix,
                },
                sort_keys=True,
                default=list,
            ).encode()
        ).hexdigest()[:12]
        create = cr.AwsSdkCall(
            service="Macie2",
            action="createClassificationJob",
            parameters={
                **self.job_request,
                "name": f"{name_prefix}-discovery-{digest}",
                "clientToken": f"{name_prefix}-{digest}",
            },
            physical_resource_id=cr.PhysicalResourceId.from_response("jobId"),
        )
        job_arns = stack.format_arn(
            service="macie2", resource="classification-job", resource_name="*"
        )
        self.job = cr.AwsCustomResource(
            self,
            "ClassificationJob",
            on_create=create,
            # A settings change creates the new job; its new id makes CloudFormation delete
            # the old resource, which cancels the old job.
            on_update=create,
            on_delete=cr.AwsSdkCall(
                service="Macie2",
                action="updateClassificationJob",
                parameters={"jobId": cr.PhysicalResourceIdReference(), "jobStatus": "CANCELLED"},
                # After a failed create there is no job to cancel; the rollback must not stick.
                ignore_error_codes_matching="ValidationException|ResourceNotFoundException",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=[
                            "macie2:CreateClassificationJob",
                            "macie2:UpdateClassificationJob",
                            "macie2:TagResource",
                        ],
                        resources=[job_arns],
                    ),
                    iam.PolicyStatement(
                        # Macie checks that the job may use these identifiers and lists.
                        actions=["macie2:GetCustomDataIdentifier", "macie2:GetAllowList"],
                        resources=[
                            stack.format_arn(
                                service="macie2",
                                resource="custom-data-identifier",
                                resource_name="*",
                            ),
                            stack.format_arn(
                                service="macie2", resource="allow-list", resource_name="*"
                            ),
                        ],
                    ),
                ]
            ),
            install_latest_aws_sdk=False,
        )
        # The job changes (replaced, with the old one cancelled) whenever the digest does.
        job_resource = self.job.node.find_child("Resource").node.default_child
        job_resource.add_property_override("SettingsDigest", digest)  # type: ignore[union-attr]
        if self.session is not None:
            self.job.node.add_dependency(self.session)
        policy = self.job.node.try_find_child("CustomResourcePolicy")
        if policy is not None:
            acknowledge_wildcards(
                policy,
                "Classification job ids, and the ids of the custom identifiers and allow lists "
                "the job uses, are assigned by Macie at run time; these are this account's and "
                "region's only.",
                resources=[
                    job_arns,
                    stack.format_arn(
                        service="macie2", resource="custom-data-identifier", resource_name="*"
                    ),
                    stack.format_arn(service="macie2", resource="allow-list", resource_name="*"),
                ],
            )
        acknowledge_sdk_function(self)

        slr = f"arn:{stack.partition}:iam::{stack.account}:{_MACIE_SLR}"
        for key in bucket_keys:
            add_statement_or_warn(
                self,
                key,
                iam.PolicyStatement(
                    sid="AllowMacieToDecryptObjectsItScans",
                    # A condition on the principal ARN, not the role as principal: the role
                    # exists only once Macie is enabled, and KMS rejects unknown principals.
                    principals=[iam.AnyPrincipal()],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={"ArnEquals": {"aws:PrincipalArn": slr}},
                ),
            )

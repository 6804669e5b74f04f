"""Customer-managed KMS keys, one per purpose."""

from __future__ import annotations

from enum import StrEnum

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_constructs.core.validation import PropsCheck


class KeyPurpose(StrEnum):
    """What a key protects. The value is the last part of the key's alias."""

    DATA_LAKE = "data-lake"
    ARTIFACTS = "ml-artifacts"
    LOGS = "logs-monitoring"
    SECRETS = "secrets"


_CONSTRUCT_IDS = {
    KeyPurpose.DATA_LAKE: "DataLakeKey",
    KeyPurpose.ARTIFACTS: "ArtifactsKey",
    KeyPurpose.LOGS: "LogsKey",
    KeyPurpose.SECRETS: "SecretsKey",
}

_DESCRIPTIONS = {
    KeyPurpose.DATA_LAKE: "Encrypts the data lake zones, the Glue catalog and DataBrew output",
    KeyPurpose.ARTIFACTS: "Encrypts ML artifacts: models, training volumes, captures, reports",
    KeyPurpose.LOGS: "Encrypts CloudWatch log groups, flow logs and alarm/notification topics",
    KeyPurpose.SECRETS: "Encrypts Secrets Manager secrets",
}


class PlatformKeys(Construct):
    """Makes one customer-managed KMS key per :class:`KeyPurpose`, each with an alias.

    Defaults, for every key:

    * symmetric, automatic rotation **on**, every ``rotation_period`` (365 days by default);
    * alias ``alias/<alias_prefix>/<purpose>``, e.g. ``alias/mlops/dev/data-lake``;
    * removal policy **RETAIN** by default; pass ``RemovalPolicy.DESTROY`` only for a
      disposable environment, and the key is then scheduled for deletion after
      ``pending_window`` (30 days by default, 7 at least);
    * the CDK default key policy, which gives the account's root principal full control so
      that the key can never be locked out of the account; IAM policies then decide who
      may use it (S3, Glue, SageMaker and Secrets Manager use the caller's credentials,
      so they need no statement in the key policy: grant the role, e.g.
      ``keys.data_lake_key.grant_encrypt_decrypt(role)``).

    What the construct always adds (after the defaults and props):

    * the logs key lets CloudWatch Logs of this account and region use it, only for log
      groups of this account (``kms:EncryptionContext:aws:logs:arn``);
    * the logs key lets CloudWatch alarms and EventBridge deliver to SNS topics encrypted
      with it (``kms:Decrypt`` and ``kms:GenerateDataKey*`` only);
    * the data-lake key lets CloudWatch Logs use it for DataBrew job log groups
      (``/aws-glue-databrew/*``) only: DataBrew encrypts a job's logs with its output key.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        alias_prefix: str,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        pending_window: Duration | None = None,
        rotation_period: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        pending_window = pending_window or Duration.days(30)
        rotation_period = rotation_period or Duration.days(365)

        check = PropsCheck("PlatformKeys")
        check.require(
            bool(alias_prefix)
            and all(
                part.replace("-", "").replace("_", "").isalnum() for part in alias_prefix.split("/")
            )
            and not alias_prefix.lower().startswith("aws"),
            "alias_prefix",
            alias_prefix,
            "expected path parts of letters, digits, '-' or '_' such as 'mlops/dev', "
            "not starting with 'aws' (reserved by AWS)",
        )
        days = pending_window.to_days()
        check.require(7 <= days <= 30, "pending_window", f"{days} days", "expected 7 to 30 days")
        rotation_days = rotation_period.to_days()
        check.require(
            90 <= rotation_days <= 2560,
            "rotation_period",
            f"{rotation_days} days",
            "expected 90 to 2560 days (the range KMS accepts)",
        )
        check.raise_if_any()

        self._keys: dict[KeyPurpose, kms.Key] = {}
        for purpose in KeyPurpose:
            self._keys[purpose] = kms.Key(
                self,
                _CONSTRUCT_IDS[purpose],
                description=f"{_DESCRIPTIONS[purpose]} ({alias_prefix})",
                alias=f"alias/{alias_prefix}/{purpose.value}",
                enable_key_rotation=True,
                rotation_period=rotation_period,
                removal_policy=removal_policy,
                pending_window=pending_window,
            )
        self._allow_logs_and_notifications(self._keys[KeyPurpose.LOGS])
        self._allow_databrew_logs(self._keys[KeyPurpose.DATA_LAKE])

    @property
    def data_lake_key(self) -> kms.IKey:
        return self._keys[KeyPurpose.DATA_LAKE]

    @property
    def artifacts_key(self) -> kms.IKey:
        return self._keys[KeyPurpose.ARTIFACTS]

    @property
    def logs_key(self) -> kms.IKey:
        return self._keys[KeyPurpose.LOGS]

    @property
    def secrets_key(self) -> kms.IKey:
        return self._keys[KeyPurpose.SECRETS]

    def key(self, purpose: KeyPurpose) -> kms.IKey:
        """The key for ``purpose``."""
        return self._keys[purpose]

    @staticmethod
    def _allow_databrew_logs(key: kms.Key) -> None:
        # DataBrew encrypts a job's CloudWatch logs with the key of its (lake) output.
        _allow_cloudwatch_logs(key, "AllowDataBrewJobLogsOfThisAccount", "/aws-glue-databrew/*")

    @staticmethod
    def _allow_logs_and_notifications(key: kms.Key) -> None:
        _allow_cloudwatch_logs(key, "AllowCloudWatchLogsOfThisAccount", "*")
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmAndEventDeliveryToEncryptedTopics",
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )


def _allow_cloudwatch_logs(key: kms.Key, sid: str, log_groups: str) -> None:
    """Let CloudWatch Logs of this account and region use ``key`` for ``log_groups`` only."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            # In a key policy, "*" means this key.
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{stack.region}:{stack.account}"
                        f":log-group:{log_groups}"
                    )
                }
            },
        )
    )

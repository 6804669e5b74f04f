"""Glue FindMatches ML transform (Glue 2.0 only)."""

from __future__ import annotations

from aws_cdk import Annotations, Duration
from aws_cdk import aws_glue as glue
from constructs import Construct

from mlops_constructs.core.validation import PropsCheck
from mlops_constructs.glue._common import _after_role_policy, _allow_glue_metrics, _glue_role
from mlops_constructs.glue.catalog import CsvTable, LakeCatalog
from mlops_constructs.glue.props import GLUE_END_OF_LIFE, ML_TRANSFORM_GLUE_VERSIONS
from mlops_constructs.glue.security import GlueSecurityConfiguration
from mlops_constructs.lake.interfaces import IDataLake


class FindMatchesTransform(Construct):
    """Makes a Glue FindMatches ML transform over a catalog table (entity resolution).

    Defaults: precision-recall trade-off 0.9 (favour precision), accuracy-cost trade-off
    0.5, provided labels not enforced, Glue 2.0 ML workers ``G.1X`` x 2, 120-minute timeout.
    Its ML user data (labels, models) is encrypted with the data key (SSE-KMS) and its task
    runs use the security configuration. Its role reads the table's prefix and definition,
    and reads and writes ``labeling_prefix`` (``find-matches/<table>/`` of the table's zone
    by default), where labelling sets and labels live.

    ``glue_version`` must be one of :data:`ML_TRANSFORM_GLUE_VERSIONS`, the versions ML
    transforms run on (only ``2.0``). A version past its end of life
    (:data:`GLUE_END_OF_LIFE`: 2.0 on 2026-04-01) gets a synth warning: AWS no longer starts
    its task runs, so the transform can neither be trained nor run.

    The transform learns from labels, in three task runs (``<...>`` are :attr:`labeling_set_uri`,
    :attr:`labels_uri` and :attr:`exported_labels_uri`)::

        aws glue start-ml-labeling-set-generation-task-run --transform-id <id> \\
            --output-s3-path <labeling_set_uri>
        # label the CSV files written there (the label column), upload them, then:
        aws glue start-import-labels-task-run --transform-id <id> \\
            --input-s3-path <labels_uri> --no-replace-all-labels
        aws glue start-export-labels-task-run --transform-id <id> \\
            --output-s3-path <exported_labels_uri>
    """

    #: The Glue versions the construct accepts (see :data:`ML_TRANSFORM_GLUE_VERSIONS`).
    GLUE_VERSIONS = ML_TRANSFORM_GLUE_VERSIONS

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lake: IDataLake,
        catalog: LakeCatalog,
        table: CsvTable,
        primary_key: str,
        security_configuration: GlueSecurityConfiguration,
        precision_recall_tradeoff: float = 0.9,
        accuracy_cost_tradeoff: float = 0.5,
        enforce_provided_labels: bool = False,
        worker_type: str = "G.1X",
        number_of_workers: int = 2,
        timeout: Duration | None = None,
        glue_version: str = "2.0",
        labeling_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        timeout = timeout or Duration.minutes(120)
        check = PropsCheck("FindMatchesTransform")
        check.require(
            glue_version in ML_TRANSFORM_GLUE_VERSIONS,
            "glue_version",
            glue_version,
            f"expected one of {ML_TRANSFORM_GLUE_VERSIONS}, the Glue versions FindMatches ML "
            "transforms run on",
        )
        check.require(
            0 <= precision_recall_tradeoff <= 1,
            "precision_recall_tradeoff",
            precision_recall_tradeoff,
            "expected 0.0 to 1.0",
        )
        check.require(
            0 <= accuracy_cost_tradeoff <= 1,
            "accuracy_cost_tradeoff",
            accuracy_cost_tradeoff,
            "expected 0.0 to 1.0",
        )
        check.require(
            worker_type in ("G.1X", "G.2X"), "worker_type", worker_type, "expected G.1X or G.2X"
        )
        check.require(
            2 <= number_of_workers <= 100,
            "number_of_workers",
            number_of_workers,
            "expected 2 to 100",
        )
        check.require(bool(primary_key), "primary_key", primary_key, "expected a column name")
        labeling_prefix = labeling_prefix or f"find-matches/{table.table_name}/"
        check.require(
            labeling_prefix.endswith("/") and not labeling_prefix.startswith("/"),
            "labeling_prefix",
            labeling_prefix,
            "expected a key prefix such as 'find-matches/customers/'",
        )
        check.raise_if_any()
        if glue_version in GLUE_END_OF_LIFE:
            Annotations.of(self).add_warning_v2(
                "mlops:FindMatchesGlueEndOfLife",
                f"Glue {glue_version} reached end of life on {GLUE_END_OF_LIFE[glue_version]} "
                "(AWS Glue version support policy) and FindMatches runs on no later version: "
                "the transform can be created but not trained or run.",
            )
        self.glue_version = glue_version
        self.labeling_prefix = labeling_prefix
        #: Where the labelling task runs read and write: the table's zone, since labelling
        #: sets hold the table's records.
        self.labeling_uri = f"s3://{lake.bucket(table.zone).bucket_name}/{labeling_prefix}"
        self.labeling_set_uri = f"{self.labeling_uri}labeling-set/"
        self.labels_uri = f"{self.labeling_uri}labels/"
        self.exported_labels_uri = f"{self.labeling_uri}exported-labels/"

        self.role = _glue_role(self, "Role", f"FindMatches over {table.table_name}")
        lake.grant_read(self.role, table.zone, table.prefix)
        # StartMLLabelingSetGenerationTaskRun and StartExportLabelsTaskRun write under the
        # prefix, StartImportLabelsTaskRun reads the labels uploaded there.
        lake.grant_read_write(self.role, table.zone, labeling_prefix)
        catalog.grant_read_tables(self.role, table.zone, table.table_name)
        security_configuration.grant_use(self.role)
        _allow_glue_metrics(self.role)

        # L1: aws-cdk-lib has no Glue ML transform construct.
        self.transform = glue.CfnMLTransform(
            self,
            "Resource",
            role=self.role.role_arn,
            description=f"Finds records of {table.table_name} that refer to the same entity",
            glue_version=glue_version,
            worker_type=worker_type,
            number_of_workers=number_of_workers,
            timeout=int(timeout.to_minutes()),
            max_retries=0,
            input_record_tables=glue.CfnMLTransform.InputRecordTablesProperty(
                glue_tables=[
                    glue.CfnMLTransform.GlueTablesProperty(
                        database_name=table.database_name, table_name=table.table_name
                    )
                ]
            ),
            transform_parameters=glue.CfnMLTransform.TransformParametersProperty(
                transform_type="FIND_MATCHES",
                find_matches_parameters=glue.CfnMLTransform.FindMatchesParametersProperty(
                    primary_key_column_name=primary_key,
                    precision_recall_tradeoff=precision_recall_tradeoff,
                    accuracy_cost_tradeoff=accuracy_cost_tradeoff,
                    enforce_provided_labels=enforce_provided_labels,
                ),
            ),
            transform_encryption=glue.CfnMLTransform.TransformEncryptionProperty(
                ml_user_data_encryption=glue.CfnMLTransform.MLUserDataEncryptionProperty(
                    ml_user_data_encryption_mode="SSE-KMS",
                    kms_key_id=security_configuration.data_key.key_arn,
                ),
                task_run_security_configuration_name=security_configuration.name,
            ),
        )
        _after_role_policy(self.transform, self.role)
        self.transform.node.add_dependency(table.resource)

"""Authors the monitoring pipeline's definition with the SageMaker Python SDK v3, offline.

Imported only by :class:`mlops_constructs.monitoring.engine.MonitoringEngine`; it reuses the
training definition's offline measures (``offline_sdk``, ``sdk_cached``, token masking), see
``training/_definition.py`` and docs/design/training-pipeline.md. Nothing here calls AWS.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_constructs.training._definition import (
    _memoize_config_validation,
    _quiet_sdk_loggers,
    _TokenMasker,
    offline_sdk,
    offline_session,
    sdk_cached,
)

#: The pipeline's one step.
STEP_NAME = "MonitorModel"
#: Its processing output holding results.json, metrics.json, report.md and plots/ (the
#: name the metrics publisher looks for in the job state change event).
OUTPUT_NAME = "output"
#: The pipeline parameters every start gives (the launcher, ``runtime/monitoring_launcher``);
#: none has a default, so a start without one fails instead of watching the wrong thing.
PARAMETERS = (
    "ModelVersion",
    "BaselineUri",
    "ModelUri",
    "CaptureManifestUri",
    "GroundTruthManifestUri",
    "WindowEnd",
)
#: The inputs read from a ManifestFile (the launcher lists the window's keys): SageMaker
#: downloads each listed object; ``monitor.py`` reads every ``*.jsonl`` below the input's
#: folder, recursively, whatever sub-folders the objects land in.
MANIFEST_INPUTS = {"capture": "CaptureManifestUri", "ground-truth": "GroundTruthManifestUri"}
#: Where monitor.py reads and writes (its ``/opt/ml/processing``).
ROOT = "/opt/ml/processing"


@dataclass(frozen=True)
class MonitoringSpec:
    """Everything the definition needs; strings may be CDK tokens."""

    name: str
    region: str
    role_arn: str
    bucket: str
    kms_key_id: str
    subnets: list[str]
    security_group_ids: list[str]
    script_uri: str
    output_uri: str
    job_name_prefix: str
    xgboost_version: str
    instance_type: str
    volume_size_gb: int
    max_runtime_seconds: int
    arguments: list[str]


def build_definition(spec: MonitoringSpec) -> str:
    """The pipeline definition JSON; imports the SDK on first use (cached like training's)."""
    masker = _TokenMasker()
    masked = dataclasses.replace(
        spec,
        role_arn=masker.mask(spec.role_arn, role=True),
        bucket=masker.mask(spec.bucket),
        kms_key_id=masker.mask(spec.kms_key_id),
        subnets=masker.mask(list(spec.subnets)),
        security_group_ids=masker.mask(list(spec.security_group_ids)),
        script_uri=masker.mask(spec.script_uri),
        output_uri=masker.mask(spec.output_uri),
        arguments=masker.mask(list(spec.arguments)),
    )

    def build() -> dict[str, Any]:
        with offline_sdk(spec.region):
            return {"body": _build(masked)}

    # This module's source is part of the key (sdk_cached hashes only training's).
    source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    inputs = {"spec": dataclasses.asdict(masked), "source": source}
    cached = sdk_cached("monitoring-pipeline-definition", inputs, build)
    return masker.unmask(cached["body"])


def _build(spec: MonitoringSpec) -> str:
    from sagemaker.core import image_uris
    from sagemaker.core.config.config_manager import SageMakerConfig
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.core.workflow.pipeline_definition_config import PipelineDefinitionConfig
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep

    _memoize_config_validation(SageMakerConfig)
    _quiet_sdk_loggers()

    session = offline_session(spec.region, spec.bucket, uploads=False)
    p = {name: ParameterString(name=name) for name in PARAMETERS}

    image = image_uris.retrieve(
        framework="xgboost", region=spec.region, version=spec.xgboost_version
    )
    processor = ScriptProcessor(
        role=spec.role_arn,
        image_uri=image,
        command=["python3"],
        instance_type=spec.instance_type,
        instance_count=1,
        volume_size_in_gb=spec.volume_size_gb,
        volume_kms_key=spec.kms_key_id,
        output_kms_key=spec.kms_key_id,
        max_runtime_in_seconds=spec.max_runtime_seconds,
        base_job_name=spec.job_name_prefix,
        sagemaker_session=session,
        network_config=NetworkConfig(
            enable_network_isolation=True,
            security_group_ids=list(spec.security_group_ids),
            subnets=list(spec.subnets),
            encrypt_inter_container_traffic=True,
        ),
    )

    def s3_input(name: str, uri: Any, data_type: str = "S3Prefix") -> Any:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri,
                local_path=f"{ROOT}/{name}",
                s3_data_type=data_type,
                s3_input_mode="File",
            ),
        )

    arguments = [
        *spec.arguments,
        "--model-version",
        p["ModelVersion"],
        "--window-end",
        p["WindowEnd"],
    ]
    step = ProcessingStep(
        name=STEP_NAME,
        step_args=processor.run(
            code=spec.script_uri,
            inputs=[
                *(
                    s3_input(name, p[parameter], "ManifestFile")
                    for name, parameter in MANIFEST_INPUTS.items()
                ),
                s3_input("baseline", p["BaselineUri"]),
                s3_input("model", p["ModelUri"]),
            ],
            outputs=[
                ProcessingOutput(
                    output_name=OUTPUT_NAME,
                    s3_output=ProcessingS3Output(
                        s3_uri=Join(
                            on="/",
                            values=[spec.output_uri, ExecutionVariables.PIPELINE_EXECUTION_ID],
                        ),
                        local_path=f"{ROOT}/output",
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
            arguments=arguments,
        ),
    )
    pipeline = Pipeline(
        name=spec.name,
        parameters=list(p.values()),
        steps=[step],
        sagemaker_session=session,
        pipeline_experiment_config=None,
        # Jobs are named <job_name_prefix>-<suffix>, which the metrics publisher's rule
        # matches; without it Pipelines names them pipelines-<execution id>-... .
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=True),
    )
    body = pipeline.definition()
    json.loads(body)  # fail here, not at deploy, if the SDK produced something else
    return str(body)

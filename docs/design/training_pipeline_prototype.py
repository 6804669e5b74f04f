#!/usr/bin/env python
"""Reference prototype for issue 4 (not part of the library, not run by the test suite).

It shows, working against sagemaker 3.27.0 with no AWS access, every workaround described in
docs/design/training-pipeline.md. The TrainingPipeline construct is to be built from it.

Author a SageMaker Pipeline with the SageMaker Python SDK v3 and print its JSON definition.

Offline: no AWS API call is made (enforced by a socket guard, see ``_install_network_guard``).
The printed string is what CloudFormation's AWS::SageMaker::Pipeline takes in
PipelineDefinition.PipelineDefinitionBody.

All inputs that would otherwise be looked up in AWS (role, bucket, image URIs, code location)
are passed explicitly; they may be CDK token strings (e.g. "s3://${Token[TOKEN.123]}/abc.py").

Usage:
    python build_definition.py                 # definition JSON on stdout
    python build_definition.py --pretty        # indented
    python build_definition.py --assets-dir D  # also write files the SDK wanted to upload to S3
    python build_definition.py --tokens        # use CDK-token-like placeholder strings as inputs
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import socket
import sys
import time
import traceback
import warnings

# ---------------------------------------------------------------------------------------------
# 0. Process-level settings that must be in place BEFORE the SDK is imported.
# ---------------------------------------------------------------------------------------------
# ModelTrainer (and ModelBuilder when no role is given) calls resolve_and_validate_role(), which
# runs iam:SimulatePrincipalPolicy + iam:GetRole on the role unless this is set.
os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
# Make sure no admin/user SDK-defaults config (which could point at s3://) is picked up from
# the environment; the sessions below get an explicit in-memory config instead.
os.environ.pop("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", None)
os.environ.pop("SAGEMAKER_USER_CONFIG_OVERRIDE", None)
# botocore resolves credentials when a client is CREATED (the SDK creates ~15 clients: in
# Session._initialize, LocalSession() inside every ProcessingStep(), AIRHub at import).
# With no credentials configured the chain ends at the EC2 instance-metadata endpoint
# 169.254.169.254 (a network attempt + 1 s timeouts). Credentials are never needed here.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
# Importing sagemaker.serve creates boto3.client("sagemaker") at class-definition time
# (sagemaker.ai_registry.air_hub.AIRHub) and every ProcessingStep() builds a LocalSession with
# boto3.Session(): both raise NoRegionError when no region is configured. Creating a client
# sends nothing, so a default region is enough (no credentials needed).
PIPELINE_REGION = os.environ.get("PIPELINE_REGION", "eu-west-1")
if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
    os.environ["AWS_DEFAULT_REGION"] = PIPELINE_REGION

# Logging. Importing the SDK runs logging.basicConfig(level=INFO) (in
# sagemaker.core.experiments._metrics), which makes every INFO record of botocore and the SDK
# print on stderr. basicConfig() is a no-op once the root logger has a handler, so configure
# logging first. --verbose keeps the SDK's behaviour.
VERBOSE = "--verbose" in sys.argv
if not VERBOSE:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # sets itself to INFO when NOTSET ("Applied value from config key = ...TelemetryOptOut",
    # "Not applying SDK defaults from location: ...")
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    # "Popping out 'ProcessingJobName'/'HyperParameterTuningJobName'/'ModelPackageName'
    #  from the pipeline definition ..." and "Popping out 'CertifyForMarketplace' ..."
    logging.getLogger("sagemaker.core.workflow.utilities").setLevel(logging.ERROR)
    logging.getLogger("sagemaker.mlops.workflow.model_step").setLevel(logging.ERROR)
    warnings.filterwarnings(
        "ignore", message="Running within a PipelineSession", category=UserWarning
    )

NETWORK_ATTEMPTS: list[str] = []


def _install_network_guard() -> None:
    """Fail loudly on ANY outbound connection or DNS lookup (AWS API, STS, telemetry, ...)."""

    def _deny(what, *args, **kwargs):
        stack = "".join(traceback.format_stack(limit=int(os.environ.get("GUARD_STACK", "12"))))
        NETWORK_ATTEMPTS.append(f"{what} {args!r}\n{stack}")
        raise OSError(f"offline guard: blocked {what} {args!r}")

    socket.socket.connect = lambda self, *a, **k: _deny("connect", *a)  # type: ignore[assignment]
    socket.socket.connect_ex = lambda self, *a, **k: _deny("connect_ex", *a)  # type: ignore
    socket.create_connection = lambda *a, **k: _deny("create_connection", *a)  # type: ignore
    socket.getaddrinfo = lambda *a, **k: _deny("getaddrinfo", *a)  # type: ignore


if "--no-guard" not in sys.argv:
    _install_network_guard()

_t0 = time.perf_counter()
import boto3  # noqa: E402

# --- v3 imports ------------------------------------------------------------------------------
from sagemaker.core import image_uris  # noqa: E402
from sagemaker.core.workflow.pipeline_context import PipelineSession  # noqa: E402
from sagemaker.core.workflow.parameters import (  # noqa: E402
    ParameterFloat,
    ParameterString,
)
from sagemaker.core.workflow.properties import PropertyFile  # noqa: E402
from sagemaker.core.workflow.functions import Join, JsonGet  # noqa: E402
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo  # noqa: E402
from sagemaker.core.processing import ScriptProcessor  # noqa: E402
from sagemaker.core.network import NetworkConfig  # noqa: E402
from sagemaker.core.shapes import (  # noqa: E402
    Channel,
    DataSource,
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
    S3DataSource,
)
from sagemaker.core.training.configs import (  # noqa: E402
    CheckpointConfig,
    Compute,
    Networking,
    OutputDataConfig,
    StoppingCondition,
)
from sagemaker.core.parameter import ContinuousParameter, IntegerParameter  # noqa: E402
from sagemaker.core.model_monitor import DatasetFormat  # noqa: E402
from sagemaker.core.clarify import BiasConfig, DataConfig  # noqa: E402
from sagemaker.core.model_metrics import FileSource, MetricsSource, ModelMetrics  # noqa: E402
from sagemaker.core.drift_check_baselines import DriftCheckBaselines  # noqa: E402
from sagemaker.train.model_trainer import ModelTrainer  # noqa: E402
from sagemaker.train.tuner import HyperparameterTuner  # noqa: E402
from sagemaker.serve.model_builder import ModelBuilder  # noqa: E402
from sagemaker.mlops.workflow.pipeline import Pipeline  # noqa: E402
from sagemaker.mlops.workflow.steps import ProcessingStep, TuningStep  # noqa: E402
from sagemaker.mlops.workflow.check_job_config import CheckJobConfig  # noqa: E402
from sagemaker.mlops.workflow.quality_check_step import (  # noqa: E402
    DataQualityCheckConfig,
    QualityCheckStep,
)
from sagemaker.mlops.workflow.clarify_check_step import (  # noqa: E402
    ClarifyCheckStep,
    DataBiasCheckConfig,
)
from sagemaker.mlops.workflow.condition_step import ConditionStep  # noqa: E402
from sagemaker.mlops.workflow.fail_step import FailStep  # noqa: E402
from sagemaker.mlops.workflow.model_step import ModelStep  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _t0


def _memoize_sdk_config_validation() -> None:
    """Speed-up only (semantics unchanged): every config lookup in the SDK
    (resolve_value_from_config -> get_sagemaker_config_value) re-validates the whole
    sagemaker_config dict against the JSON schema (~0.3 s each, ~70 lookups for this pipeline,
    i.e. ~20 s). Validate each distinct config once."""
    from sagemaker.core.config.config_manager import SageMakerConfig

    original = SageMakerConfig.validate_sagemaker_config
    validated: set[str] = set()

    def validate_once(sagemaker_config=None):
        key = json.dumps(sagemaker_config, sort_keys=True, default=str)
        if key not in validated:
            original(sagemaker_config)
            validated.add(key)

    SageMakerConfig.validate_sagemaker_config = staticmethod(validate_once)


_memoize_sdk_config_validation()


# ---------------------------------------------------------------------------------------------
# 1. An offline PipelineSession.
# ---------------------------------------------------------------------------------------------
# In-memory SDK-defaults config: skips reading /etc/xdg/sagemaker/config.yaml and
# ~/.config/sagemaker/config.yaml and opts out of telemetry (telemetry would otherwise call
# sts:GetCallerIdentity and GET https://sm-pysdk-t-<region>.s3.<region>.amazonaws.com/...).
OFFLINE_SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


class OfflinePipelineSession(PipelineSession):
    """PipelineSession that never talks to AWS.

    * ``default_bucket()`` returns the configured name without HeadBucket/CreateBucket/STS.
    * ``expand_role()`` returns the role as given (the base class calls iam:GetRole when the
      role has no "/", e.g. a bare CDK token "${Token[TOKEN.12]}").
    * uploads (``upload_data`` / ``upload_string_as_file_body``) are NOT performed; they are
      recorded in ``self.captured_uploads`` so that the caller can ship them (e.g. with a CDK
      BucketDeployment). Only ClarifyCheckStep needs this (it writes its analysis config).
    """

    def __init__(self, region: str, bucket: str):
        boto_session = boto3.Session(region_name=region)  # no credentials needed: nothing is sent
        super().__init__(
            boto_session=boto_session,
            default_bucket=bucket,
            sagemaker_config=OFFLINE_SDK_CONFIG,
        )
        self.captured_uploads: list[dict] = []

    def default_bucket(self):  # noqa: D102
        return self._default_bucket_name_override

    def expand_role(self, role):  # noqa: D102
        return role

    def account_id(self):  # noqa: D102
        raise RuntimeError("offline session: account_id() would call sts:GetCallerIdentity")

    def get_caller_identity_arn(self):  # noqa: D102
        raise RuntimeError("offline session: get_caller_identity_arn() would call STS/IAM")

    def upload_data(self, path, bucket=None, key_prefix="data", callback=None, extra_args=None):
        bucket = bucket or self.default_bucket()
        key_prefix = key_prefix.strip("/")
        if os.path.isdir(path):
            for dirpath, _, filenames in os.walk(path):
                for name in filenames:
                    local = os.path.join(dirpath, name)
                    rel = os.path.relpath(local, path)
                    with open(local, "rb") as fh:
                        self.captured_uploads.append(
                            {"uri": f"s3://{bucket}/{key_prefix}/{rel}", "body": fh.read()}
                        )
            return f"s3://{bucket}/{key_prefix}"
        name = os.path.basename(path)
        with open(path, "rb") as fh:
            self.captured_uploads.append(
                {"uri": f"s3://{bucket}/{key_prefix}/{name}", "body": fh.read()}
            )
        return f"s3://{bucket}/{key_prefix}/{name}"

    def relocate_capture(self, old_uri: str, new_uri: str) -> None:
        """Change the destination of a captured upload (to make its key deterministic)."""
        for upload in self.captured_uploads:
            if upload["uri"] == old_uri:
                upload["uri"] = new_uri
                return
        raise KeyError(old_uri)

    def write_captures(self, directory: str) -> str:
        """Write captured uploads to <directory>/<key> plus manifest.json (uri -> file)."""
        manifest = []
        for upload in self.captured_uploads:
            bucket, _, key = upload["uri"][len("s3://"):].partition("/")
            local = os.path.join(directory, key)
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "wb") as fh:
                fh.write(upload["body"])
            manifest.append({"s3_uri": upload["uri"], "bucket": bucket, "key": key,
                             "file": os.path.relpath(local, directory)})
        path = os.path.join(directory, "manifest.json")
        with open(path, "w") as fh:
            json.dump(manifest, fh, indent=2)
        return path

    def upload_string_as_file_body(self, body, bucket, key, kms_key=None):
        self.captured_uploads.append({"uri": f"s3://{bucket}/{key}", "body": body.encode()})
        return f"s3://{bucket}/{key}"


# ---------------------------------------------------------------------------------------------
# 2. Inputs (in the CDK app these come from constructs and are token strings).
# ---------------------------------------------------------------------------------------------
def default_config(tokens: bool) -> dict:
    if tokens:
        # what a CDK app hands to Python at synth time: unresolved tokens
        bucket = "${Token[TOKEN.123]}"  # bucket.bucket_name
        role = "${Token[TOKEN.201]}"  # role.role_arn (a single token, no "arn:" prefix)
        kms = "${Token[TOKEN.301]}"  # key.key_arn
        subnets = ["${Token[TOKEN.401]}", "${Token[TOKEN.402]}"]
        sgs = ["${Token[TOKEN.501]}"]
        group = "${Token[TOKEN.601]}"  # model package group name
    else:
        bucket = "mlops-artifacts-111122223333-eu-west-1"
        role = "arn:aws:iam::111122223333:role/mlops-sagemaker-execution"
        kms = "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555"
        subnets = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
        sgs = ["sg-0bbbbbbbbbbbbbbb1"]
        group = "churn-xgb-models"
    return dict(
        region=PIPELINE_REGION,
        pipeline_name="churn-xgb-training",
        bucket=bucket,
        prefix="pipelines/churn-xgb",
        role_arn=role,
        kms_key_id=kms,
        subnets=subnets,
        security_group_ids=sgs,
        model_package_group_name=group,
        prepare_script_uri=f"s3://{bucket}/code/prepare_features.py",
        evaluate_script_uri=f"s3://{bucket}/code/evaluate.py",
        default_input_uri=f"s3://{bucket}/raw/churn/",
        sklearn_version="1.2-1",
        xgboost_version="1.7-1",
        # column layout of the prepared CSVs (label first, no header: XGBoost built-in format)
        headers=["churn", "tenure", "monthly_charges", "total_charges", "senior_citizen"],
        label="churn",
        facet="senior_citizen",
    )


class TokenMasker:
    """Swap CDK tokens for inert placeholders while the SDK runs, and back afterwards.

    Raw CDK tokens cannot be handed to the SDK everywhere:
      * "s3://${Token[TOKEN.123]}/x" -> urllib.parse.urlparse() raises
        ValueError("'TOKEN.123' does not appear to be an IPv4 or IPv6 address") on Python
        >= 3.11.4 (bracketed netloc = IPv6 literal). The SDK urlparses code/input/output URIs.
      * role "${Token[TOKEN.201]}" (no "arn:...:iam::" prefix) -> ModelTrainer runs
        resolve_and_validate_role() -> iam:GetRole, even with SAGEMAKER_VALIDATE_ROLE=false.
    Placeholders are lowercase DNS-safe words (valid bucket names); a whole-token role becomes
    a syntactically valid role ARN. After pipeline.definition(), unmask() puts the original
    token strings back; CDK then resolves them in PipelineDefinitionBody.
    """

    TOKEN_RE = re.compile(r"\$\{Token\[[^\]]*\]\}")

    def __init__(self):
        self.placeholders: dict[str, str] = {}  # placeholder -> original

    def _placeholder(self, original: str, template: str) -> str:
        for placeholder, value in self.placeholders.items():
            if value == original:
                return placeholder
        placeholder = template.format(n=len(self.placeholders))
        self.placeholders[placeholder] = original
        return placeholder

    def mask(self, value, *, arn_service: str | None = None):
        if isinstance(value, list):
            return [self.mask(v, arn_service=arn_service) for v in value]
        if not isinstance(value, str) or "${Token[" not in value:
            return value
        if arn_service == "iam" and not value.startswith("arn:"):
            return self._placeholder(value, "arn:aws:iam::000000000000:role/cdktoken{n}role")
        return self.TOKEN_RE.sub(lambda m: self._placeholder(m.group(0), "cdktoken{n}x"), value)

    def unmask(self, text: str) -> str:
        # longest first so that no placeholder is a prefix of another one being replaced
        for placeholder in sorted(self.placeholders, key=len, reverse=True):
            text = text.replace(placeholder, self.placeholders[placeholder])
        return text


# ---------------------------------------------------------------------------------------------
# 3. The pipeline.
# ---------------------------------------------------------------------------------------------
def build_pipeline(cfg: dict) -> tuple[Pipeline, OfflinePipelineSession, dict]:
    region, bucket, prefix = cfg["region"], cfg["bucket"], cfg["prefix"]
    role, kms = cfg["role_arn"], cfg["kms_key_id"]
    base = f"s3://{bucket}/{prefix}"
    session = OfflinePipelineSession(region=region, bucket=bucket)

    # -- parameters ----------------------------------------------------------------------------
    p_input = ParameterString(name="InputDataUri", default_value=cfg["default_input_uri"])
    p_threshold = ParameterFloat(name="AucThreshold", default_value=0.75)
    p_approval = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    p_proc_type = ParameterString(name="ProcessingInstanceType", default_value="ml.m5.xlarge")
    p_train_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge")

    # -- images (static tables shipped with the SDK, no ECR call) -----------------------------
    sklearn_image = image_uris.retrieve(
        framework="sklearn", region=region, version=cfg["sklearn_version"],
        instance_type="ml.m5.xlarge",
    )
    xgb_image = image_uris.retrieve(framework="xgboost", region=region,
                                    version=cfg["xgboost_version"])

    # network settings shared by every processing job
    proc_network = NetworkConfig(
        enable_network_isolation=True,
        security_group_ids=cfg["security_group_ids"],
        subnets=cfg["subnets"],
        encrypt_inter_container_traffic=True,
    )

    # -- 2. PrepareFeatures ------------------------------------------------------------------
    prep_processor = ScriptProcessor(
        role=role,
        image_uri=sklearn_image,
        command=["python3"],
        instance_type=p_proc_type,
        instance_count=1,
        volume_kms_key=kms,
        output_kms_key=kms,
        max_runtime_in_seconds=3600,
        base_job_name="prepare-features",
        sagemaker_session=session,
        network_config=proc_network,
    )
    prep_args = prep_processor.run(
        code=cfg["prepare_script_uri"],  # s3:// URI -> used as-is, nothing uploaded
        inputs=[
            ProcessingInput(
                input_name="raw",
                s3_input=ProcessingS3Input(
                    s3_uri=p_input, local_path="/opt/ml/processing/input",
                    s3_data_type="S3Prefix", s3_input_mode="File",
                ),
            )
        ],
        outputs=[
            ProcessingOutput(
                output_name=split,
                s3_output=ProcessingS3Output(
                    s3_uri=Join(on="/", values=[base, "executions",
                                                _exec_id(), "prepare", split]),
                    local_path=f"/opt/ml/processing/{split}",
                    s3_upload_mode="EndOfJob",
                ),
            )
            for split in ("train", "validation", "test")
        ],
        arguments=["--test-size", "0.2", "--validation-size", "0.1"],
    )
    step_prepare = ProcessingStep(name="PrepareFeatures", step_args=prep_args)

    def split_uri(split: str):
        return step_prepare.properties.ProcessingOutputConfig.Outputs[split].S3Output.S3Uri

    # -- 3. TuneModel ----------------------------------------------------------------------------
    tuning_output = f"{base}/tuning"
    trainer = ModelTrainer(
        training_image=xgb_image,
        role=role,
        sagemaker_session=session,
        base_job_name="churn-xgb",
        compute=Compute(
            instance_type=p_train_type,
            instance_count=1,
            volume_size_in_gb=30,
            volume_kms_key_id=kms,
            enable_managed_spot_training=True,
        ),
        networking=Networking(
            subnets=cfg["subnets"],
            security_group_ids=cfg["security_group_ids"],
            enable_network_isolation=True,
            enable_inter_container_traffic_encryption=True,
        ),
        stopping_condition=StoppingCondition(
            max_runtime_in_seconds=3600, max_wait_time_in_seconds=7200
        ),
        checkpoint_config=CheckpointConfig(
            s3_uri=f"{base}/checkpoints", local_path="/opt/ml/checkpoints"
        ),
        output_data_config=OutputDataConfig(
            s3_output_path=tuning_output, kms_key_id=kms, compression_type="GZIP"
        ),
        training_input_mode="FastFile",
        hyperparameters={
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "num_round": "300",
            "early_stopping_rounds": "20",
        },
    )
    tuner = _HardenedTuner(
        model_trainer=trainer,
        objective_metric_name="validation:auc",
        objective_type="Maximize",
        hyperparameter_ranges={
            "max_depth": IntegerParameter(3, 10),
            "eta": ContinuousParameter(0.01, 0.3),
            "min_child_weight": ContinuousParameter(1, 10),
            "subsample": ContinuousParameter(0.5, 1.0),
        },
        strategy="Bayesian",
        early_stopping_type="Auto",
        max_jobs=12,  # ParameterInteger rejected by pydantic ResourceLimits
        max_parallel_jobs=3,
        base_tuning_job_name="churn-xgb-hpo",
    )
    tune_args = tuner.tune(
        inputs=[
            Channel(
                channel_name=ch,
                content_type="text/csv",
                input_mode="FastFile",
                data_source=DataSource(
                    s3_data_source=S3DataSource(
                        s3_data_type="S3Prefix",
                        s3_uri=split_uri(ch),
                        s3_data_distribution_type="FullyReplicated",
                    )
                ),
            )
            for ch in ("train", "validation")
        ],
    )
    step_tune = TuningStep(name="TuneModel", step_args=tune_args)

    # -- 4. baselines ----------------------------------------------------------------------------
    check_cfg = CheckJobConfig(
        role=role,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        volume_kms_key=kms,
        output_kms_key=kms,
        max_runtime_in_seconds=3600,
        sagemaker_session=session,
        network_config=proc_network,
    )
    step_data_quality = FixedQualityCheckStep(
        name="DataQualityBaseline",
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=split_uri("train"),
            dataset_format=DatasetFormat.csv(header=False, output_columns_position="START"),
            output_s3_uri=f"{base}/baselines/data-quality",
        ),
        check_job_config=check_cfg,
        skip_check=True,  # first run: nothing to compare with; just calculate the baseline
        register_new_baseline=True,
        model_package_group_name=cfg["model_package_group_name"],
    )
    bias_data_config = DataConfig(
        s3_data_input_path=split_uri("train"),
        s3_output_path=f"{base}/baselines/data-bias",
        s3_analysis_config_output_path=f"{base}/baselines/data-bias-config",
        label=cfg["label"],
        headers=cfg["headers"],
        dataset_type="text/csv",
    )
    bias_check_config = DataBiasCheckConfig(
        data_config=bias_data_config,
        data_bias_config=BiasConfig(
            label_values_or_threshold=[1], facet_name=cfg["facet"], facet_values_or_threshold=[1]
        ),
        methods="all",
        kms_key=kms,
    )
    step_data_bias = FixedClarifyCheckStep(
        name="DataBiasBaseline",
        clarify_check_config=bias_check_config,
        check_job_config=check_cfg,
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=cfg["model_package_group_name"],
    )
    # ClarifyCheckStep "uploads" two files at construction time (captured, not sent):
    #  * <s3_analysis_config_output_path>/analysis_config.json  -> input of the check job
    #    (deterministic key), and
    #  * <...>/bias-monitoring-configuration/bias-monitoring-config-<timestamp>/<uuid4>/
    #    analysis_config.json -> used below as DriftCheckBaselines.Bias.ConfigFile.
    # The second key changes on every synth; move it to a stable key so that the definition
    # (and the CloudFormation resource) only changes when the content changes.
    stable_bias_cfg = f"{base}/baselines/data-bias-config/bias-monitoring-configuration.json"
    session.relocate_capture(bias_check_config.monitoring_analysis_config_uri, stable_bias_cfg)
    bias_check_config.monitoring_analysis_config_uri = stable_bias_cfg

    # -- 5. EvaluateModel ------------------------------------------------------------------------
    best_model_uri = step_tune.get_top_model_s3_uri(
        top_k=0, s3_bucket=bucket, prefix=f"{prefix}/tuning"
    )
    eval_processor = ScriptProcessor(
        role=role,
        image_uri=xgb_image,  # has xgboost + sklearn + pandas
        command=["python3"],
        instance_type=p_proc_type,
        instance_count=1,
        volume_kms_key=kms,
        output_kms_key=kms,
        max_runtime_in_seconds=3600,
        base_job_name="evaluate-model",
        sagemaker_session=session,
        network_config=proc_network,
    )
    evaluation_report = PropertyFile(
        name="EvaluationReport", output_name="evaluation", path="evaluation.json"
    )
    eval_output_uri = Join(on="/", values=[base, "executions", _exec_id(), "evaluation"])
    eval_args = eval_processor.run(
        code=cfg["evaluate_script_uri"],
        inputs=[
            ProcessingInput(
                input_name="model",
                s3_input=ProcessingS3Input(
                    s3_uri=best_model_uri, local_path="/opt/ml/processing/model",
                    s3_data_type="S3Prefix", s3_input_mode="File",
                ),
            ),
            ProcessingInput(
                input_name="test",
                s3_input=ProcessingS3Input(
                    s3_uri=split_uri("test"), local_path="/opt/ml/processing/test",
                    s3_data_type="S3Prefix", s3_input_mode="File",
                ),
            ),
        ],
        outputs=[
            ProcessingOutput(
                output_name="evaluation",
                s3_output=ProcessingS3Output(
                    s3_uri=eval_output_uri,
                    local_path="/opt/ml/processing/evaluation",
                    s3_upload_mode="EndOfJob",
                ),
            )
        ],
    )
    step_evaluate = ProcessingStep(
        name="EvaluateModel", step_args=eval_args, property_files=[evaluation_report]
    )

    # -- 6. register / fail ------------------------------------------------------------------------
    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=Join(on="/", values=[eval_output_uri, "evaluation.json"]),
            content_type="application/json",
        ),
        model_data_statistics=MetricsSource(
            s3_uri=step_data_quality.properties.CalculatedBaselineStatistics,
            content_type="application/json",
        ),
        model_data_constraints=MetricsSource(
            s3_uri=step_data_quality.properties.CalculatedBaselineConstraints,
            content_type="application/json",
        ),
        bias_pre_training=MetricsSource(
            s3_uri=step_data_bias.properties.CalculatedBaselineConstraints,
            content_type="application/json",
        ),
    )
    drift_check_baselines = DriftCheckBaselines(
        model_data_statistics=MetricsSource(
            s3_uri=step_data_quality.properties.BaselineUsedForDriftCheckStatistics,
            content_type="application/json",
        ),
        model_data_constraints=MetricsSource(
            s3_uri=step_data_quality.properties.BaselineUsedForDriftCheckConstraints,
            content_type="application/json",
        ),
        bias_pre_training_constraints=MetricsSource(
            s3_uri=step_data_bias.properties.BaselineUsedForDriftCheckConstraints,
            content_type="application/json",
        ),
        bias_config_file=FileSource(
            s3_uri=bias_check_config.monitoring_analysis_config_uri,
            content_type="application/json",
        ),
    )
    model_builder = ModelBuilder(
        image_uri=xgb_image,
        s3_model_data_url=best_model_uri,
        role_arn=role,
        sagemaker_session=session,
        instance_type="ml.m5.large",
        network=Networking(
            subnets=cfg["subnets"],
            security_group_ids=cfg["security_group_ids"],
            enable_network_isolation=True,
        ),
    )
    register_args = model_builder.register(
        model_package_group_name=cfg["model_package_group_name"],
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.m5.large", "ml.m5.xlarge"],
        transform_instances=["ml.m5.xlarge"],
        model_metrics=model_metrics,
        drift_check_baselines=drift_check_baselines,
        approval_status=p_approval,
    )
    # ModelBuilder adds SAGEMAKER_PROGRAM="" and SAGEMAKER_SUBMIT_DIRECTORY="" (script-mode
    # variables) to the container even without source code; the built-in XGBoost algorithm
    # needs neither, so drop empty values.
    for container in register_args.create_model_package_request["InferenceSpecification"][
        "Containers"
    ]:
        env = container.get("Environment") or {}
        for key in ("SAGEMAKER_PROGRAM", "SAGEMAKER_SUBMIT_DIRECTORY"):
            if env.get(key) == "":
                env.pop(key)
    step_register = ModelStep(name="RegisterModel", step_args=register_args)

    step_fail = FailStep(
        name="AucBelowThreshold",
        error_message=Join(on=" ", values=["Test AUC is below the threshold", p_threshold]),
    )
    step_check = ConditionStep(
        name="CheckMetric",
        conditions=[
            ConditionGreaterThanOrEqualTo(
                left=JsonGet(
                    step_name=step_evaluate.name,
                    property_file=evaluation_report,
                    json_path="binary_classification_metrics.auc.value",
                ),
                right=p_threshold,
            )
        ],
        if_steps=[step_register],
        else_steps=[step_fail],
    )

    pipeline = Pipeline(
        name=cfg["pipeline_name"],
        parameters=[p_input, p_threshold, p_approval, p_proc_type, p_train_type,
                    ],
        steps=[step_prepare, step_tune, step_data_quality, step_data_bias, step_evaluate,
               step_check],
        sagemaker_session=session,
        pipeline_experiment_config=None,
    )
    extras = {"bias_check_config": bias_check_config}
    return pipeline, session, extras


def _exec_id():
    from sagemaker.core.workflow.execution_variables import ExecutionVariables

    return ExecutionVariables.PIPELINE_EXECUTION_ID


class _HardenedTuner(HyperparameterTuner):
    """SDK 3.27.0 gap: HyperparameterTuner._build_training_job_definition() copies only the
    VPC part of ModelTrainer.networking and builds ResourceConfig from instance type/count/
    volume size only. It drops EnableNetworkIsolation, EnableInterContainerTrafficEncryption
    and ResourceConfig.VolumeKmsKeyId. Put them back from the ModelTrainer."""

    def _build_training_job_definition(self, inputs):
        definition = super()._build_training_job_definition(inputs)
        trainer = self.model_trainer
        networking = trainer.networking
        if networking is not None:
            if networking.enable_network_isolation is not None:
                definition.enable_network_isolation = networking.enable_network_isolation
            if networking.enable_inter_container_traffic_encryption is not None:
                definition.enable_inter_container_traffic_encryption = (
                    networking.enable_inter_container_traffic_encryption
                )
        if trainer.compute is not None and trainer.compute.volume_kms_key_id:
            definition.resource_config.volume_kms_key_id = trainer.compute.volume_kms_key_id
        return definition


class _CheckStepNetworkConfigFix:
    """SDK 3.27.0 bug: _build_check_job_request() puts the NetworkConfig *object* into the
    CreateProcessingJob request of QualityCheckStep/ClarifyCheckStep, so json.dumps() in
    Pipeline.definition() fails ("Object of type NetworkConfig is not JSON serializable").
    Convert it to its request dict."""

    @property
    def arguments(self):
        request = super().arguments
        network = request.get("NetworkConfig")
        if isinstance(network, NetworkConfig):
            request["NetworkConfig"] = network._to_request_dict()
        return request


class FixedQualityCheckStep(_CheckStepNetworkConfigFix, QualityCheckStep):
    """QualityCheckStep with a serialisable NetworkConfig."""


class FixedClarifyCheckStep(_CheckStepNetworkConfigFix, ClarifyCheckStep):
    """ClarifyCheckStep with a serialisable NetworkConfig."""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pretty", action="store_true")
    ap.add_argument("--tokens", action="store_true")
    ap.add_argument("--assets-dir")
    ap.add_argument("--no-guard", action="store_true", help="do not block sockets")
    ap.add_argument("--verbose", action="store_true", help="keep the SDK's log output")
    args = ap.parse_args(argv)

    cfg = default_config(args.tokens)
    masker = TokenMasker()
    safe_cfg = {k: masker.mask(v, arn_service="iam" if k == "role_arn" else None)
                for k, v in cfg.items()}
    t = time.perf_counter()
    pipeline, session, _ = build_pipeline(safe_cfg)
    definition = masker.unmask(pipeline.definition())
    for upload in session.captured_uploads:
        upload["uri"] = masker.unmask(upload["uri"])
    build_seconds = time.perf_counter() - t

    if args.assets_dir:
        session.write_captures(args.assets_dir)
    if args.pretty:
        definition = json.dumps(json.loads(definition), indent=2)
    sys.stdout.write(definition + "\n")
    print(
        f"import {IMPORT_SECONDS:.2f}s, build+definition {build_seconds:.2f}s, "
        f"captured uploads {[u['uri'] for u in session.captured_uploads]}, "
        f"network attempts {len(NETWORK_ATTEMPTS)}",
        file=sys.stderr,
    )
    if NETWORK_ATTEMPTS:
        print("\n".join(NETWORK_ATTEMPTS), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Authors the training pipeline's definition with the SageMaker Python SDK v3, offline.

Imported only by :class:`mlops_constructs.training_pipeline.TrainingPipeline` when it builds a
definition: the SDK is large (about 3 s to import). Nothing here calls AWS; see
docs/design/training-pipeline.md for why each measure below is needed (SDK 3.27.0).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TOKEN_RE = re.compile(r"\$\{Token\[[^\]]*\]\}")

#: The splits' format: CSV, label first, no header (what built-in XGBoost reads; see
#: training/xgboost_channels.py for the input modes it accepts with it).
CSV_CONTENT_TYPE = "text/csv"
#: Clarify's pre-training bias metrics the baseline computes: all of them but CDDL, which
#: needs a ``group_variable`` the baseline has none of (Clarify reports it as an error).
#: "Configure the Analysis",
#: https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-configure-analysis.html
PRE_TRAINING_BIAS_METHODS = ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS")
#: What the ``MonitoringBaseline`` step writes (runtime/baseline.py) in its ``baseline``
#: output; registered as the model package's ``ModelMetrics.ModelDataQuality.Statistics``.
BASELINE_FILE = "baseline.json"
#: The ``DataQualityBaseline`` step's dataset format (``DatasetFormat.csv`` arguments): the
#: splits are header-less with the label first. Model Monitor's analyzer then names the
#: columns by position, which the ModelMonitor's drift alarms follow
#: (``monitoring/model_monitor.py`` ``analyzer_column``).
DATA_QUALITY_DATASET_FORMAT: dict[str, Any] = {"header": False, "output_columns_position": "START"}


@dataclass(frozen=True)
class PipelineSpec:
    """Everything the definition needs; strings may be CDK tokens."""

    name: str
    region: str
    role_arn: str
    bucket: str
    prefix: str
    kms_key_id: str
    subnets: list[str]
    security_group_ids: list[str]
    model_package_group_name: str
    prepare_script_uri: str
    evaluate_script_uri: str
    #: ``runtime/baseline.py``: the ``MonitoringBaseline`` step's script.
    baseline_script_uri: str
    input_uri: str
    label: str
    key_column: str
    headers: list[str]
    problem_type: str
    objective_metric: str
    objective_type: str
    xgboost_version: str
    sklearn_version: str
    hyperparameter_ranges: list[dict[str, Any]]
    static_hyperparameters: dict[str, str]
    max_jobs: int
    max_parallel_jobs: int
    use_spot: bool
    max_runtime_seconds: int
    max_wait_seconds: int
    training_instance_type: str
    processing_instance_type: str
    evaluation_threshold: float
    approval_status: str
    bias_facet: str
    #: Clarify's positive outcome: label values or one threshold; [0.5] by default, the
    #: class 1 of a 0/1 label. The splits are float CSV columns, which Clarify treats as
    #: continuous (smclarify ``bias/metrics/common.py`` ``series_datatype``): one value is a
    #: threshold selecting (threshold, max] (``bias/report.py`` ``_interval_index``), so [1]
    #: would select nothing.
    bias_label_values_or_threshold: list[float] = field(default_factory=lambda: [0.5])
    #: The facet's sensitive group, the same way: [0.5] by default, a one-hot facet's 1.0 rows.
    bias_facet_values_or_threshold: list[float] = field(default_factory=lambda: [0.5])
    #: ``TrainingInputMode`` of the tuning jobs and their channels (``File`` or ``Pipe``).
    input_mode: str = "File"
    #: Instance types the registered model package declares for endpoints / batch transform.
    inference_instances: list[str] = field(default_factory=lambda: ["ml.m5.large"])
    transform_instances: list[str] = field(default_factory=lambda: ["ml.m5.xlarge"])
    #: Keep the Model Monitor (``DataQualityBaseline``, a QualityCheckStep) and Clarify
    #: (``DataBiasBaseline``, a ClarifyCheckStep) baseline steps: only for accounts that have
    #: those services (both are closed to new customers). The ``MonitoringBaseline`` step
    #: runs either way.
    model_monitor_baselines: bool = False


@dataclass
class Definition:
    """The pipeline definition JSON and the files the SDK wanted to upload (uri -> bytes)."""

    body: str
    uploads: dict[str, bytes]


class _TokenMasker:
    """Swaps CDK tokens for inert placeholders while the SDK runs, and back afterwards.

    A token as an S3 bucket breaks ``urllib.parse`` (``[...]`` reads as an IPv6 literal), and
    a role ARN that is a single token makes the SDK call IAM.
    """

    def __init__(self) -> None:
        self.placeholders: dict[str, str] = {}

    def _placeholder(self, original: str, template: str) -> str:
        for placeholder, value in self.placeholders.items():
            if value == original:
                return placeholder
        placeholder = template.format(n=len(self.placeholders))
        self.placeholders[placeholder] = original
        return placeholder

    def mask(self, value: Any, *, role: bool = False) -> Any:
        if isinstance(value, list):
            return [self.mask(v) for v in value]
        if not isinstance(value, str) or "${Token[" not in value:
            return value
        if role and not value.startswith("arn:"):
            return self._placeholder(value, "arn:aws:iam::000000000000:role/cdktoken{n}role")
        return _TOKEN_RE.sub(lambda m: self._placeholder(m.group(0), "cdktoken{n}x"), value)

    def unmask(self, text: str) -> str:
        for placeholder in sorted(self.placeholders, key=len, reverse=True):
            text = text.replace(placeholder, self.placeholders[placeholder])
        return text


def _prepare_process() -> None:
    # Settings the SDK reads at import or while building; none of them sends anything.
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"  # else IAM policy simulation
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # else metadata probes
    os.environ.pop("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", None)
    os.environ.pop("SAGEMAKER_USER_CONFIG_OVERRIDE", None)
    # The SDK calls logging.basicConfig(level=INFO) on import; a handler first makes it a no-op.
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING)
    for name, level in (
        ("sagemaker.config", logging.WARNING),
        ("sagemaker.core.workflow.utilities", logging.ERROR),
        ("sagemaker.mlops.workflow.model_step", logging.ERROR),
    ):
        logging.getLogger(name).setLevel(level)
    warnings.filterwarnings("ignore", message="Running within a PipelineSession")
    # Raised by the SDK about its own internal imports.
    warnings.filterwarnings("ignore", message="sagemaker.train.configs has been moved")


@contextlib.contextmanager
def offline_sdk(region: str) -> Iterator[None]:
    """Use the SageMaker SDK offline for ``region`` inside the block (nothing is sent)."""
    _prepare_process()
    region_was_set = "AWS_DEFAULT_REGION" in os.environ
    # Importing sagemaker.serve creates a client, which needs a region (it sends nothing).
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    try:
        with _shared_botocore_loader():
            yield
    finally:
        if not region_was_set:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        _quiet_sdk_loggers()


#: botocore data loaders by search path, shared by every session the SDK makes in this process.
_LOADERS: dict[str | None, Any] = {}


@contextlib.contextmanager
def _shared_botocore_loader() -> Iterator[None]:
    """Inside the block, every botocore session and the SDK's own endpoint lookups share one
    data loader (per search path), which keeps each JSON file it has parsed.

    The SDK makes a new boto3 session for each pipeline session and each step's local
    session, and a new loader for each image URI: each loader parses botocore's service
    models again (SageMaker's alone is several MB of JSON), about 2 s of a cold synth for
    the same, read-only data; one session's clients share their loader the same way.
    """
    import botocore.loaders
    import botocore.session

    original = botocore.loaders.create_loader

    def create_loader(search_path_string: str | None = None) -> Any:
        if search_path_string not in _LOADERS:
            _LOADERS[search_path_string] = original(search_path_string)
        return _LOADERS[search_path_string]

    botocore.loaders.create_loader = create_loader
    botocore.session.create_loader = create_loader
    try:
        yield
    finally:
        botocore.loaders.create_loader = original
        botocore.session.create_loader = original


def image_uri(framework: str, region: str, version: str | None = None) -> str:
    """The SageMaker SDK's image URI of ``framework`` (e.g. ``xgboost``, ``model-monitor``,
    ``clarify``) in ``region``, without any AWS call (cached like definitions)."""

    def retrieve() -> dict[str, Any]:
        with offline_sdk(region):
            from sagemaker.core import image_uris

            return {"uri": image_uris.retrieve(framework=framework, region=region, version=version)}

    return str(sdk_cached("image-uri", [framework, region, version], retrieve)["uri"])


#: Environment variable naming a folder where SDK results are kept between synths.
CACHE_ENV = "MLOPS_PIPELINE_DEFINITION_CACHE"
_MEMORY: dict[str, dict[str, Any]] = {}


def sdk_cached(kind: str, inputs: Any, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()`` (a JSON object made with the SageMaker SDK), kept in memory and, when
    the environment variable ``MLOPS_PIPELINE_DEFINITION_CACHE`` names a folder, on disk,
    keyed by ``kind``, ``inputs`` (JSON), the SDK's version and this module's source: the
    same inputs never run the SDK twice, and any change to them or to this code does."""
    key = _cache_key(kind, inputs)
    value = _MEMORY.get(key)
    if value is None:
        # Concurrent synths sharing the folder (test workers, parallel CLI runs) compute
        # each result once: the others wait for it, then read it.
        with _cache_lock(key):
            value = _read_cached(key)
            if value is None:
                value = compute()
                _write_cached(key, value)
    _MEMORY[key] = value
    return value


def build_definition(spec: PipelineSpec) -> Definition:
    """Author the pipeline and return its definition; imports the SDK on first use.

    The SDK runs on a *masked* spec (CDK tokens swapped for inert placeholders, numbered in
    the order they appear), so the same platform settings give the same masked definition
    in every synth, which :func:`sdk_cached` keeps: an unchanged pipeline is not rebuilt.
    """
    masker = _TokenMasker()
    masked = dataclasses.replace(
        spec,
        bucket=masker.mask(spec.bucket),
        role_arn=masker.mask(spec.role_arn, role=True),
        kms_key_id=masker.mask(spec.kms_key_id),
        subnets=masker.mask(list(spec.subnets)),
        security_group_ids=masker.mask(list(spec.security_group_ids)),
        model_package_group_name=masker.mask(spec.model_package_group_name),
        input_uri=masker.mask(spec.input_uri),
        prepare_script_uri=masker.mask(spec.prepare_script_uri),
        evaluate_script_uri=masker.mask(spec.evaluate_script_uri),
        baseline_script_uri=masker.mask(spec.baseline_script_uri),
    )

    def build() -> dict[str, Any]:
        with offline_sdk(spec.region):
            definition = _build(masked)
        return {
            "body": definition.body,
            "uploads": {u: base64.b64encode(b).decode() for u, b in definition.uploads.items()},
        }

    cached = sdk_cached("pipeline-definition", dataclasses.asdict(masked), build)
    return Definition(
        body=masker.unmask(cached["body"]),
        uploads={masker.unmask(u): base64.b64decode(b) for u, b in cached["uploads"].items()},
    )


def _cache_key(kind: str, inputs: Any) -> str:
    from importlib.metadata import version

    digest = hashlib.sha256()
    digest.update(json.dumps([kind, inputs], sort_keys=True).encode())
    digest.update(version("sagemaker").encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def _cache_file(key: str) -> Path | None:
    folder = os.environ.get(CACHE_ENV)
    return Path(folder) / f"{key}.json" if folder else None


@contextlib.contextmanager
def _cache_lock(key: str) -> Iterator[None]:
    """Holds an exclusive lock on ``key`` in the cache folder, if one is set (and the
    platform has ``fcntl``); released when the block ends or the process dies."""
    path = _cache_file(key)
    try:
        import fcntl
    except ImportError:  # Windows: no lock, at worst a result is computed twice
        fcntl = None  # type: ignore[assignment]
    if path is None or fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_suffix(".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_cached(key: str) -> dict[str, Any] | None:
    path = _cache_file(key)
    if path is None or not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable: computed again (and overwritten)
    return value if isinstance(value, dict) else None


def _write_cached(key: str, value: dict[str, Any]) -> None:
    path = _cache_file(key)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole and then renamed: a concurrent synth never reads half a file.
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(value), encoding="utf-8")
    temporary.replace(path)


def _build(spec: PipelineSpec) -> Definition:
    from sagemaker.core import image_uris
    from sagemaker.core.clarify import BiasConfig, DataConfig
    from sagemaker.core.config.config_manager import SageMakerConfig
    from sagemaker.core.drift_check_baselines import DriftCheckBaselines
    from sagemaker.core.model_metrics import FileSource, MetricsSource, ModelMetrics
    from sagemaker.core.model_monitor import DatasetFormat
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.parameter import CategoricalParameter, ContinuousParameter, IntegerParameter
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import (
        Channel,
        DataSource,
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
        S3DataSource,
    )
    from sagemaker.core.training.configs import (
        Compute,
        Networking,
        OutputDataConfig,
        StoppingCondition,
    )
    from sagemaker.core.workflow.conditions import (
        ConditionGreaterThanOrEqualTo,
        ConditionLessThanOrEqualTo,
    )
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
    from sagemaker.mlops.workflow.clarify_check_step import ClarifyCheckStep, DataBiasCheckConfig
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
    from sagemaker.mlops.workflow.steps import ProcessingStep, TuningStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.model_trainer import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    _memoize_config_validation(SageMakerConfig)
    _quiet_sdk_loggers()

    class HardenedTuner(HyperparameterTuner):
        """Puts back what the SDK's tuner drops from the training job definition."""

        def _build_training_job_definition(self, inputs):
            definition = super()._build_training_job_definition(inputs)
            networking = self.model_trainer.networking
            definition.enable_network_isolation = networking.enable_network_isolation
            definition.enable_inter_container_traffic_encryption = (
                networking.enable_inter_container_traffic_encryption
            )
            definition.resource_config.volume_kms_key_id = (
                self.model_trainer.compute.volume_kms_key_id
            )
            return definition

    class SerializableNetwork:
        """The check steps put a NetworkConfig object into their request; make it a dict."""

        @property
        def arguments(self):
            request = super().arguments  # type: ignore[misc]
            if isinstance(request.get("NetworkConfig"), NetworkConfig):
                request["NetworkConfig"] = request["NetworkConfig"]._to_request_dict()
            return request

    class DataQualityStep(SerializableNetwork, QualityCheckStep):
        pass

    class DataBiasStep(SerializableNetwork, ClarifyCheckStep):
        pass

    # The spec is masked (see build_definition): no CDK token reaches the SDK.
    bucket = spec.bucket
    role = spec.role_arn
    kms = spec.kms_key_id
    subnets = list(spec.subnets)
    groups = list(spec.security_group_ids)
    group_name = spec.model_package_group_name
    base = f"s3://{bucket}/{spec.prefix}"
    session = offline_session(spec.region, bucket, uploads=True)

    p_input = ParameterString(name="InputDataUri", default_value=spec.input_uri)
    p_threshold = ParameterFloat(name="MetricThreshold", default_value=spec.evaluation_threshold)
    p_approval = ParameterString(name="ModelApprovalStatus", default_value=spec.approval_status)
    p_reason = ParameterString(name="TriggerReason", default_value="schedule")
    # Set by the retraining trigger: which alarm started the run and why (for the audit trail).
    p_alarm = ParameterString(name="TriggerAlarm", default_value="")
    p_detail = ParameterString(name="TriggerDetail", default_value="")

    sklearn_image = image_uris.retrieve(
        framework="sklearn",
        region=spec.region,
        version=spec.sklearn_version,
        instance_type=spec.processing_instance_type,
    )
    xgb_image = image_uris.retrieve(
        framework="xgboost", region=spec.region, version=spec.xgboost_version
    )
    network = NetworkConfig(
        enable_network_isolation=True,
        security_group_ids=groups,
        subnets=subnets,
        encrypt_inter_container_traffic=True,
    )

    def processor(image: str, job: str) -> Any:
        return ScriptProcessor(
            role=role,
            image_uri=image,
            command=["python3"],
            instance_type=spec.processing_instance_type,
            instance_count=1,
            volume_kms_key=kms,
            output_kms_key=kms,
            max_runtime_in_seconds=spec.max_runtime_seconds,
            base_job_name=job,
            sagemaker_session=session,
            network_config=network,
        )

    def execution_uri(*parts: str) -> Any:
        return Join(
            on="/", values=[base, "executions", ExecutionVariables.PIPELINE_EXECUTION_ID, *parts]
        )

    def metrics(uri: Any) -> Any:
        return MetricsSource(s3_uri=uri, content_type="application/json")

    splits = ("train", "validation", "test")
    prepare = ProcessingStep(
        name="PrepareFeatures",
        step_args=processor(sklearn_image, "prepare-features").run(
            code=spec.prepare_script_uri,
            inputs=[
                ProcessingInput(
                    input_name="features",
                    s3_input=ProcessingS3Input(
                        s3_uri=p_input,
                        # Beside, not above, the SDK's code input (input/code): a dataset
                        # reader walking input/ would read the script as data.
                        local_path="/opt/ml/processing/input/features",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name=split,
                    s3_output=ProcessingS3Output(
                        s3_uri=execution_uri("prepare", split),
                        local_path=f"/opt/ml/processing/{split}",
                        s3_upload_mode="EndOfJob",
                    ),
                )
                for split in splits
            ],
            arguments=[
                "--label",
                spec.label,
                "--key",
                spec.key_column,
                "--features",
                ",".join(spec.headers[1:]),
            ],
        ),
    )

    def split_uri(split: str) -> Any:
        return prepare.properties.ProcessingOutputConfig.Outputs[split].S3Output.S3Uri

    trainer = ModelTrainer(
        training_image=xgb_image,
        role=role,
        sagemaker_session=session,
        base_job_name=f"{spec.name}-train"[:30],
        compute=Compute(
            instance_type=spec.training_instance_type,
            instance_count=1,
            volume_size_in_gb=30,
            volume_kms_key_id=kms,
            enable_managed_spot_training=spec.use_spot,
        ),
        networking=Networking(
            subnets=subnets,
            security_group_ids=groups,
            enable_network_isolation=True,
            enable_inter_container_traffic_encryption=True,
        ),
        stopping_condition=StoppingCondition(
            max_runtime_in_seconds=spec.max_runtime_seconds,
            max_wait_time_in_seconds=spec.max_wait_seconds if spec.use_spot else None,
        ),
        # No CheckpointConfig: a tuning job gives every training job the same checkpoint
        # URI (the API documents no per-job suffix), and built-in XGBoost resumes from the
        # newest checkpoint it finds there (num_round minus the rounds already done), so
        # parallel and later jobs would continue other jobs' boosters. A spot interruption
        # now restarts the job from round 0, within MaxWaitTimeInSeconds.
        output_data_config=OutputDataConfig(
            s3_output_path=f"{base}/tuning", kms_key_id=kms, compression_type="GZIP"
        ),
        training_input_mode=spec.input_mode,
        hyperparameters=dict(spec.static_hyperparameters),
    )
    ranges: dict[str, Any] = {}
    for r in spec.hyperparameter_ranges:
        scaling = r.get("scaling", "Auto")
        if r["type"] == "integer":
            ranges[r["name"]] = IntegerParameter(int(r["min"]), int(r["max"]), scaling_type=scaling)
        elif r["type"] == "continuous":
            ranges[r["name"]] = ContinuousParameter(r["min"], r["max"], scaling_type=scaling)
        else:
            ranges[r["name"]] = CategoricalParameter(r["values"])
    tuner = HardenedTuner(
        model_trainer=trainer,
        objective_metric_name=spec.objective_metric,
        objective_type=spec.objective_type,
        hyperparameter_ranges=ranges,
        strategy="Bayesian",
        early_stopping_type="Auto",
        max_jobs=spec.max_jobs,
        max_parallel_jobs=spec.max_parallel_jobs,
        base_tuning_job_name=f"{spec.name}-hpo"[:30],
    )
    tune = TuningStep(
        name="TuneModel",
        step_args=tuner.tune(
            inputs=[
                Channel(
                    channel_name=channel,
                    content_type=CSV_CONTENT_TYPE,
                    input_mode=spec.input_mode,
                    data_source=DataSource(
                        s3_data_source=S3DataSource(
                            s3_data_type="S3Prefix",
                            s3_uri=split_uri(channel),
                            s3_data_distribution_type="FullyReplicated",
                        )
                    ),
                )
                for channel in ("train", "validation")
            ]
        ),
    )

    # Model Monitor's and Clarify's own baselines, only for accounts that have them.
    check_steps: list[Any] = []
    monitor_metrics: dict[str, Any] = {}
    monitor_baselines: dict[str, Any] = {}
    if spec.model_monitor_baselines:
        check_job = CheckJobConfig(
            role=role,
            instance_count=1,
            instance_type=spec.processing_instance_type,
            volume_kms_key=kms,
            output_kms_key=kms,
            max_runtime_in_seconds=spec.max_runtime_seconds,
            sagemaker_session=session,
            network_config=network,
        )
        data_quality = DataQualityStep(
            name="DataQualityBaseline",
            quality_check_config=DataQualityCheckConfig(
                baseline_dataset=split_uri("train"),
                dataset_format=DatasetFormat.csv(**DATA_QUALITY_DATASET_FORMAT),
                # Under the execution: each run's baselines stay those of the version it
                # registers (a fixed prefix would be overwritten by every later run).
                output_s3_uri=execution_uri("baselines", "data-quality"),
            ),
            check_job_config=check_job,
            skip_check=True,
            register_new_baseline=True,
            model_package_group_name=group_name,
        )
        bias_config = DataBiasCheckConfig(
            data_config=DataConfig(
                s3_data_input_path=split_uri("train"),
                s3_output_path=execution_uri("baselines", "data-bias"),
                s3_analysis_config_output_path=f"{base}/baselines/data-bias-config",
                label=spec.label,
                headers=list(spec.headers),
                dataset_type="text/csv",
            ),
            data_bias_config=BiasConfig(
                label_values_or_threshold=list(spec.bias_label_values_or_threshold),
                facet_name=spec.bias_facet,
                facet_values_or_threshold=list(spec.bias_facet_values_or_threshold),
            ),
            methods=list(PRE_TRAINING_BIAS_METHODS),
            kms_key=kms,
        )
        data_bias = DataBiasStep(
            name="DataBiasBaseline",
            clarify_check_config=bias_config,
            check_job_config=check_job,
            skip_check=True,
            register_new_baseline=True,
            model_package_group_name=group_name,
        )
        # The monitoring config key holds a timestamp and a UUID: key it by its content, so
        # the definition only changes when the content does, and a version registered
        # earlier keeps pointing at the configuration it was registered with.
        content = session.uploads.pop(bias_config.monitoring_analysis_config_uri)
        digest = hashlib.sha256(content).hexdigest()[:16]
        stable = f"{base}/baselines/data-bias-config/bias-monitoring-configuration-{digest}.json"
        session.uploads[stable] = content
        bias_config.monitoring_analysis_config_uri = stable
        check_steps = [data_quality, data_bias]
        # Model Monitor's data-quality statistics and constraints are registered as the
        # drift check baselines only: ModelMetrics' ModelDataQuality holds baseline.json.
        monitor_metrics = {
            "bias_pre_training": metrics(data_bias.properties.CalculatedBaselineConstraints)
        }
        monitor_baselines = {
            "drift_check_baselines": DriftCheckBaselines(
                model_data_statistics=metrics(
                    data_quality.properties.BaselineUsedForDriftCheckStatistics
                ),
                model_data_constraints=metrics(
                    data_quality.properties.BaselineUsedForDriftCheckConstraints
                ),
                bias_pre_training_constraints=metrics(
                    data_bias.properties.BaselineUsedForDriftCheckConstraints
                ),
                bias_config_file=FileSource(s3_uri=stable, content_type="application/json"),
            )
        }

    best_model = tune.get_top_model_s3_uri(
        top_k=0, s3_bucket=bucket, prefix=f"{spec.prefix}/tuning"
    )
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluation_uri = execution_uri("evaluation")
    evaluate = ProcessingStep(
        name="EvaluateModel",
        property_files=[report],
        step_args=processor(xgb_image, "evaluate-model").run(
            code=spec.evaluate_script_uri,
            inputs=[
                ProcessingInput(
                    input_name="model",
                    s3_input=ProcessingS3Input(
                        s3_uri=best_model,
                        local_path="/opt/ml/processing/model",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
                ProcessingInput(
                    input_name="test",
                    s3_input=ProcessingS3Input(
                        s3_uri=split_uri("test"),
                        local_path="/opt/ml/processing/test",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    s3_output=ProcessingS3Output(
                        s3_uri=evaluation_uri,
                        local_path="/opt/ml/processing/evaluation",
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
            arguments=["--problem-type", spec.problem_type],
        ),
    )

    # The statistics this version is monitored against (runtime/baseline.py): the train
    # split the best model learnt from, and its archive for the mean |SHAP| per feature.
    baseline = ProcessingStep(
        name="MonitoringBaseline",
        step_args=processor(xgb_image, "monitoring-baseline").run(
            code=spec.baseline_script_uri,
            inputs=[
                ProcessingInput(
                    input_name="train",
                    s3_input=ProcessingS3Input(
                        s3_uri=split_uri("train"),
                        local_path="/opt/ml/processing/train",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
                ProcessingInput(
                    input_name="model",
                    s3_input=ProcessingS3Input(
                        s3_uri=best_model,
                        local_path="/opt/ml/processing/model",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="baseline",
                    s3_output=ProcessingS3Output(
                        s3_uri=execution_uri("baseline"),
                        local_path="/opt/ml/processing/baseline",
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
            arguments=["--features", ",".join(spec.headers[1:])],
        ),
    )

    builder = ModelBuilder(
        image_uri=xgb_image,
        s3_model_data_url=best_model,
        role_arn=role,
        sagemaker_session=session,
        instance_type=spec.inference_instances[0],
        network=Networking(
            subnets=subnets, security_group_ids=groups, enable_network_isolation=True
        ),
    )
    register_args = builder.register(
        model_package_group_name=group_name,
        content_types=[CSV_CONTENT_TYPE],
        response_types=[CSV_CONTENT_TYPE],
        inference_instances=list(spec.inference_instances),
        transform_instances=list(spec.transform_instances),
        model_metrics=ModelMetrics(
            model_statistics=metrics(Join(on="/", values=[evaluation_uri, "evaluation.json"])),
            # This version's monitoring baseline (baseline.py's layout, not Model Monitor's
            # statistics.json): the same field whether or not Model Monitor's steps run.
            model_data_statistics=metrics(
                Join(
                    on="/",
                    values=[
                        baseline.properties.ProcessingOutputConfig.Outputs[
                            "baseline"
                        ].S3Output.S3Uri,
                        BASELINE_FILE,
                    ],
                )
            ),
            **monitor_metrics,
        ),
        **monitor_baselines,
        approval_status=p_approval,
    )
    for container in register_args.create_model_package_request["InferenceSpecification"][
        "Containers"
    ]:
        environment = container.get("Environment") or {}
        for key in ("SAGEMAKER_PROGRAM", "SAGEMAKER_SUBMIT_DIRECTORY"):
            if environment.get(key) == "":
                environment.pop(key)
    # The SDK sends every ModelMetrics section, empty ones too (Bias, Explainability).
    request_metrics = register_args.create_model_package_request.get("ModelMetrics") or {}
    for section in [k for k, v in request_metrics.items() if not v]:
        request_metrics.pop(section)
    register = ModelStep(name="RegisterModel", step_args=register_args)

    metric_path = (
        "binary_classification_metrics.auc.value"
        if spec.problem_type == "binary_classification"
        else "regression_metrics.rmse.value"
    )
    comparison = (
        ConditionGreaterThanOrEqualTo
        if spec.objective_type == "Maximize"
        else ConditionLessThanOrEqualTo
    )
    check = ConditionStep(
        name="CheckMetric",
        conditions=[
            comparison(
                left=JsonGet(step_name=evaluate.name, property_file=report, json_path=metric_path),
                right=p_threshold,
            )
        ],
        if_steps=[register],
        else_steps=[
            FailStep(
                name="MetricBelowThreshold",
                error_message=Join(
                    on=" ", values=["Test metric misses the threshold", p_threshold]
                ),
            )
        ],
    )
    pipeline = Pipeline(
        name=spec.name,
        parameters=[p_input, p_threshold, p_approval, p_reason, p_alarm, p_detail],
        steps=[prepare, tune, *check_steps, evaluate, baseline, check],
        sagemaker_session=session,
        pipeline_experiment_config=None,
    )
    body = pipeline.definition()
    json.loads(body)  # fail here, not at deploy, if the SDK produced something else
    return Definition(body=body, uploads=dict(session.uploads))


def offline_session(region: str, bucket: str, *, uploads: bool) -> Any:
    """A SageMaker ``PipelineSession`` that never talks to AWS, for writing pipeline
    definitions at synth time: ``bucket`` is its default bucket, roles are taken as given, and
    what the SDK would upload is kept in its ``uploads`` (URI to bytes) when ``uploads`` is
    True (only ClarifyCheckStep uploads, a single file), else refused with a RuntimeError."""
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    class OfflineSession(PipelineSession):
        def __init__(self) -> None:
            super().__init__(
                boto_session=boto3.Session(region_name=region),
                default_bucket=bucket,
                sagemaker_config={
                    "SchemaVersion": "1.0",
                    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
                },
            )
            self.uploads: dict[str, bytes] = {}

        def default_bucket(self) -> str:
            return self._default_bucket_name_override

        def expand_role(self, role: str) -> str:
            return role

        def upload_string_as_file_body(self, body, bucket, key, kms_key=None):
            uri = f"s3://{bucket}/{key}"
            if not uploads:
                raise RuntimeError(f"the pipeline definition must not upload {uri}")
            self.uploads[uri] = body.encode()
            return uri

        def upload_data(self, path, bucket=None, key_prefix="data", callback=None, extra_args=None):
            if not uploads:
                raise RuntimeError(f"the pipeline definition must not upload {path}")
            if os.path.isdir(path):
                raise RuntimeError(f"the pipeline definition must not upload folders ({path})")
            name = os.path.basename(path)
            uri = f"s3://{bucket or self.default_bucket()}/{key_prefix.strip('/')}/{name}"
            with open(path, "rb") as handle:
                self.uploads[uri] = handle.read()
            return uri

    return OfflineSession()


def _memoize_config_validation(config_class: Any) -> None:
    """Validate each distinct SDK config once (the SDK re-validates on every lookup, ~0.3 s)."""
    original = config_class.validate_sagemaker_config
    if getattr(original, "_memoized", False):
        return
    seen: set[str] = set()

    def validate_once(sagemaker_config: Any = None) -> None:
        key = json.dumps(sagemaker_config, sort_keys=True, default=str)
        if key not in seen:
            original(sagemaker_config)
            seen.add(key)

    validate_once._memoized = True  # type: ignore[attr-defined]
    config_class.validate_sagemaker_config = staticmethod(validate_once)


def _quiet_sdk_loggers() -> None:
    """Some SDK modules set their loggers to INFO themselves; keep synth output clean."""
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (
            name.startswith("sagemaker")
            and isinstance(logger, logging.Logger)
            and logging.NOTSET < logger.level < logging.WARNING
        ):
            logger.setLevel(logging.WARNING)

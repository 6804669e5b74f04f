"""Glue settings: the supported Glue versions and worker types, and table columns."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Annotated, Any

from pydantic import AfterValidator

from mlops_constructs.core.props import settings
from mlops_constructs.glue.runtime import feature_etl

_GLUE_VERSIONS = ("4.0", "5.0")

#: The Glue versions FindMatches ML transforms run on. "Using FindMatches in a visual job"
#: (AWS Glue Developer Guide, find-matches-visual-job): "Currently, the FindMatches API only
#: works with Glue 2.0"; no later Glue version lists ML transforms.
ML_TRANSFORM_GLUE_VERSIONS = ("2.0",)
#: End of life of the Glue versions, from "AWS Glue version support policy"
#: (glue-version-support-policy): after it, job and task runs can no longer be started.
GLUE_END_OF_LIFE = {"0.9": "2026-04-01", "1.0": "2026-04-01", "2.0": "2026-04-01"}
_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")  # G.025X: streaming jobs only


_IDENT_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_GLUE_TYPE_RE = re.compile(
    r"^(string|boolean|tinyint|smallint|int|bigint|float|double|date|timestamp|"
    r"decimal\(\d{1,2},\d{1,2}\))$"
)


def check_identifier(value: str) -> str:
    """``value`` if it is a lower-case identifier (a Glue column or a model name), else an error."""
    if not _IDENT_RE.match(value):
        raise ValueError(
            "expected a lower-case identifier: letters, digits, '_', starting with a letter"
        )
    return value


def _glue_type(value: str) -> str:
    if not _GLUE_TYPE_RE.match(value):
        raise ValueError("expected a Glue column type such as string, bigint, double, timestamp")
    return value


#: A catalog name: lower-case letters, digits and '_', starting with a letter, at most 63
#: characters (Glue stores names lower-case; Athena reads them so).
Identifier = Annotated[str, AfterValidator(check_identifier)]


@settings
class Column:
    """A table column: a Glue (Hive) type such as ``string``, ``double``, ``timestamp``."""

    name: Identifier
    """The column's name (required)."""
    type: Annotated[str, AfterValidator(_glue_type)] = "string"
    """Its Glue type: string, boolean, tinyint, smallint, int, bigint, float, double, date,
    timestamp or decimal(p,s); ``string`` by default."""


# The feature spec: one parser, the Glue script's own (stdlib-only at import), so the job,
# this library and the app's config cannot disagree on what a spec means.
FeatureSpec = feature_etl.FeatureSpec
FeatureSpecError = feature_etl.FeatureSpecError
sanitize_category = feature_etl.sanitize_category


def feature_spec_data(spec: FeatureSpec | Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` as the JSON object of the ``--feature_spec`` job argument, unchecked: a
    :class:`FeatureSpec` in its field order (one_hot, log_transform, split, dedup,
    partition_by, drop_columns), a mapping as given."""
    if isinstance(spec, FeatureSpec):
        # Through JSON: tuples become lists, as the job receives them.
        data: dict[str, Any] = json.loads(json.dumps(asdict(spec)))
        return data
    return dict(spec)


def parse_feature_spec(spec: FeatureSpec | Mapping[str, Any]) -> FeatureSpec:
    """``spec`` checked and typed by the feature ETL job's own parser
    (``glue/runtime/feature_etl.py`` ``parse_spec``), a :class:`FeatureSpec` too (its fields
    may have been made by hand). A :class:`FeatureSpecError` (a ``ValueError``) lists every
    problem: field, value received, what is expected."""
    return feature_etl.parse_spec(feature_spec_data(spec))


def feature_spec_argument(spec: FeatureSpec | Mapping[str, Any]) -> dict[str, Any]:
    """The ``--feature_spec`` job argument of ``spec``, once the job's parser accepts it."""
    parse_feature_spec(spec)
    return feature_spec_data(spec)


def engineered_columns(columns: Sequence[str], spec: FeatureSpec) -> list[str]:
    """The columns the feature ETL job makes of a table of ``columns`` before dropping
    ``drop_columns``: split and one-hot sources replaced by their outputs, ``<column>_log``
    added (the order of ``feature_etl.transform``)."""
    split_source = [spec.split.column] if spec.split else []
    kept = [c for c in columns if c not in (spec.one_hot.column, *split_source)]
    split_into = list(spec.split.into) if spec.split else []
    return [
        *kept,
        *split_into,
        *spec.one_hot.output_columns,
        feature_etl.log_column(spec.log_transform.column),
    ]


def feature_columns(columns: Sequence[str], spec: FeatureSpec) -> list[str]:
    """The columns the feature ETL job writes for a table of ``columns``:
    :func:`engineered_columns` without ``drop_columns``."""
    return [c for c in engineered_columns(columns, spec) if c not in spec.drop_columns]

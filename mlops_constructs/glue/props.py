"""Glue settings: the supported Glue versions and worker types, and table columns."""

from __future__ import annotations

from dataclasses import dataclass

_GLUE_VERSIONS = ("4.0", "5.0")

#: The Glue versions FindMatches ML transforms run on. "Using FindMatches in a visual job"
#: (AWS Glue Developer Guide, find-matches-visual-job): "Currently, the FindMatches API only
#: works with Glue 2.0"; no later Glue version lists ML transforms.
ML_TRANSFORM_GLUE_VERSIONS = ("2.0",)
#: End of life of the Glue versions, from "AWS Glue version support policy"
#: (glue-version-support-policy): after it, job and task runs can no longer be started.
GLUE_END_OF_LIFE = {"0.9": "2026-04-01", "1.0": "2026-04-01", "2.0": "2026-04-01"}
_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")  # G.025X: streaming jobs only


@dataclass(frozen=True)
class Column:
    """A table column: a Glue (Hive) type such as ``string``, ``double``, ``timestamp``."""

    name: str
    type: str = "string"

"""Metrics Insights queries for alarms that follow whatever version reports, and a pure check
of which published data points an alarm selects.

Every data point ``monitor.py`` publishes carries ``ModelVersion``; an alarm on exact
dimensions would stop seeing data when the next version is approved. An alarm on a Metrics
Insights query (``SELECT MAX(FeatureDrifted) FROM SCHEMA("MLOps/ModelMonitoring", Endpoint,
Feature, Model, ModelVersion) WHERE Endpoint = '...' AND Model = '...' AND Feature = '...'``,
no ``GROUP BY``: one time series) matches every version. The rules followed, from the
CloudWatch User Guide:

* "Query components and syntax in CloudWatch Metrics Insights": ``SCHEMA(namespace, dims...)``
  keeps only metrics with exactly those dimensions; identifiers (metric, namespace, dimension
  names) are case sensitive, and one with a character other than a letter, digit or
  underscore is put in double quotes (``"MLOps/ModelMonitoring"``); label values are in
  single quotes. Values holding a quote or a backslash are refused here rather than escaped.
* "Metrics Insights quotas": an alarm evaluates the most recent three hours of data at most,
  so ``period`` times the evaluation periods must stay within three hours; data below one
  minute's resolution is aggregated to one minute (the engine publishes hourly).
* "Create a CloudWatch alarm based on a Metrics Insights query": a query without
  ``GROUP BY`` gives one aggregated series (``SELECT FUNCTION(metricName) FROM SCHEMA(...)
  WHERE condition``).

:func:`alarm_selects` says whether an alarm's properties (a Metrics Insights query, or a
plain metric) select a given ``PutMetricData`` datum: tests and the rehearsal use it to prove
that an alarm watches the metric the job writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: The aggregate functions of a Metrics Insights SELECT.
FUNCTIONS = ("AVG", "COUNT", "MAX", "MIN", "SUM")
#: "Metrics Insights quotas": alarms query at most the last three hours.
MAX_ALARM_WINDOW_SECONDS = 3 * 3600

_IDENT = r'(?:"[^"\\]+"|[A-Za-z_][A-Za-z0-9_]*)'
_QUERY = re.compile(
    rf"SELECT (?P<function>[A-Z]+)\((?P<metric>{_IDENT})\) "
    rf"FROM SCHEMA\((?P<schema>{_IDENT}(?:, {_IDENT})*)\)"
    rf"(?: WHERE (?P<where>{_IDENT} = '[^'\\]*'(?: AND {_IDENT} = '[^'\\]*')*))?"
)
_CONDITION = re.compile(rf"({_IDENT}) = '([^'\\]*)'")


def quote_identifier(name: str) -> str:
    """``name`` in double quotes, as a Metrics Insights identifier: quoted, a reserved word
    (``MONITOR``, ``SCHEMA``, ...) is a name too ("Metrics Insights query components and
    syntax"). ValueError for an empty name or one with a double quote or backslash."""
    if not name or '"' in name or "\\" in name:
        raise ValueError(f"identifier {name!r}: empty, or holds a double quote or backslash")
    return f'"{name}"'


def quote_value(value: str) -> str:
    """``value`` as a label value in single quotes. ValueError for a quote or backslash."""
    if "'" in value or "\\" in value:
        raise ValueError(f"label value {value!r} holds a single quote or backslash")
    return f"'{value}'"


def insights_query(
    function: str,
    metric: str,
    namespace: str,
    dimensions: Sequence[str],
    where: Mapping[str, str],
) -> str:
    """``SELECT function(metric) FROM SCHEMA(namespace, dimensions...) WHERE k = 'v' AND ...``
    (dimensions in the order given; conditions in the order of ``where``)."""
    if function not in FUNCTIONS:
        raise ValueError(f"function {function!r}: expected one of {FUNCTIONS}")
    unknown = sorted(set(where) - set(dimensions))
    if unknown:
        raise ValueError(f"conditions on {unknown}, which are not among the SCHEMA dimensions")
    schema = ", ".join(quote_identifier(n) for n in (namespace, *dimensions))
    query = f"SELECT {function}({quote_identifier(metric)}) FROM SCHEMA({schema})"
    if where:
        query += " WHERE " + " AND ".join(
            f"{quote_identifier(k)} = {quote_value(v)}" for k, v in where.items()
        )
    return query


def _unquote(identifier: str) -> str:
    return identifier[1:-1] if identifier.startswith('"') else identifier


def parse_query(query: str) -> dict[str, Any]:
    """``{"function", "metric", "namespace", "dimensions", "where"}`` of a query of the form
    :func:`insights_query` writes; ValueError for anything else."""
    match = _QUERY.fullmatch(query)
    if not match:
        raise ValueError(f"not a query of the form insights_query() writes: {query!r}")
    schema = [_unquote(s) for s in re.findall(_IDENT, match["schema"])]
    where = {_unquote(k): v for k, v in _CONDITION.findall(match["where"] or "")}
    if match["function"] not in FUNCTIONS:
        raise ValueError(f"unknown function {match['function']!r} in {query!r}")
    return {
        "function": match["function"],
        "metric": _unquote(match["metric"]),
        "namespace": schema[0],
        "dimensions": schema[1:],
        "where": where,
    }


def _datum_dimensions(datum: Mapping[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in datum.get("Dimensions", [])}


def query_selects(query: str, namespace: str, datum: Mapping[str, Any]) -> bool:
    """Whether ``query`` selects ``datum`` (a ``PutMetricData`` entry) published into
    ``namespace``: same namespace and metric name, exactly the SCHEMA's dimensions, and
    every WHERE value equal."""
    parsed = parse_query(query)
    dimensions = _datum_dimensions(datum)
    return (
        parsed["namespace"] == namespace
        and parsed["metric"] == datum.get("MetricName")
        and set(parsed["dimensions"]) == set(dimensions)
        and all(dimensions.get(k) == v for k, v in parsed["where"].items())
    )


def alarm_selects(properties: Mapping[str, Any], namespace: str, datum: Mapping[str, Any]) -> bool:
    """Whether the alarm with these ``AWS::CloudWatch::Alarm`` properties (resolved) watches
    ``datum`` published into ``namespace``: through its one returned Metrics Insights query,
    or, for a plain metric alarm, the same namespace, metric name and exactly its dimensions.
    """
    queries = properties.get("Metrics")
    if queries:
        returned = [q for q in queries if q.get("ReturnData", True)]
        if len(returned) != 1 or "Expression" not in returned[0]:
            raise ValueError("expected one returned Metrics Insights expression")
        return query_selects(returned[0]["Expression"], namespace, datum)
    wanted = {d["Name"]: d["Value"] for d in properties.get("Dimensions", [])}
    return (
        properties.get("Namespace") == namespace
        and properties.get("MetricName") == datum.get("MetricName")
        and wanted == _datum_dimensions(datum)
    )

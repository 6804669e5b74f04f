"""Metrics Insights queries of the engine's alarms: quoting."""

from __future__ import annotations

from mlops_constructs.monitoring.alarm_queries import insights_query, query_selects


def test_every_identifier_is_quoted_so_reserved_words_are_names():
    # Metrics Insights reserves keywords (MONITOR, SCHEMA, ...): quoted, they are names.
    query = insights_query("MAX", "Monitor", "MONITOR", ["Schema", "Feature"], {"Feature": "x"})
    assert query == (
        'SELECT MAX("Monitor") FROM SCHEMA("MONITOR", "Schema", "Feature") WHERE "Feature" = \'x\''
    )
    datum = {
        "MetricName": "Monitor",
        "Dimensions": [{"Name": "Schema", "Value": "s"}, {"Name": "Feature", "Value": "x"}],
    }
    assert query_selects(query, "MONITOR", datum)
    assert not query_selects(query, "MONITOR", {**datum, "MetricName": "Other"})

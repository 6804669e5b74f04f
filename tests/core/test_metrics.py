"""Every ``metric_*`` method takes the ``cloudwatch.MetricOptions`` fields, as aws-cdk's do."""

from __future__ import annotations

import inspect
import typing

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms

import mlops_constructs
from mlops_constructs import DataLake
from mlops_constructs.core.metrics import METRIC_OPTIONS, MetricOptionsArgs

OPTIONS = set(inspect.signature(cloudwatch.MetricOptions.__init__).parameters) - {"self"}


def _metric_methods() -> list[tuple[str, object]]:
    found = []
    for name in mlops_constructs.__all__:
        cls = getattr(mlops_constructs, name)
        if not inspect.isclass(cls):
            continue
        for attr, method in inspect.getmembers(cls, inspect.isfunction):
            returns = str(inspect.signature(method).return_annotation)
            if attr.startswith("metric") and returns.endswith("Metric"):
                found.append((f"{name}.{attr}", method))
    return found


def test_the_options_are_cdks():
    assert set(METRIC_OPTIONS) == OPTIONS


def test_every_metric_method_takes_every_option_by_keyword():
    methods = _metric_methods()
    # The lake, the endpoints, the feature job and the event functions at least.
    assert len(methods) >= 15, [n for n, _ in methods]
    for name, method in methods:
        (kwargs,) = [
            p
            for p in inspect.signature(method).parameters.values()
            if p.kind is inspect.Parameter.VAR_KEYWORD
        ]
        hint = typing.get_type_hints(method, include_extras=True)[kwargs.name]
        assert typing.get_origin(hint) is typing.Unpack, name
        assert typing.get_args(hint) == (MetricOptionsArgs,), name


def test_an_option_reaches_the_metric():
    stack = cdk.Stack(cdk.App(), "S")
    lake = DataLake(stack, "Lake", encryption_key=kms.Key(stack, "Key"))
    metric = lake.metric_number_of_objects("raw", label="objects", stack_region="eu-west-1")
    assert metric.label == "objects"
    assert metric.region == "eu-west-1"

"""Every numeric field name ends in a unit from the closed glossary in dpmodel.units."""

import dataclasses
import typing

import pytest

from dpmodel import units
from dpmodel.profiles import ClusterProfile, ModelSpec, WorkloadProfile
from dpmodel.profiles.cost import CostProfile
from dpmodel.profiles.schema import numeric_paths
from dpmodel.scenario import Deployment


@pytest.mark.parametrize("cls", [ClusterProfile, ModelSpec, WorkloadProfile, CostProfile])
def test_profile_numeric_fields_carry_units(cls):
    for path in numeric_paths(cls):
        leaf = path.rsplit(".", 1)[-1]
        assert units.unit_suffix(leaf), f"{cls.__name__}.{path} has no unit suffix from the glossary"


def test_deployment_fields_carry_units():
    hints = typing.get_type_hints(Deployment)
    for f in dataclasses.fields(Deployment):
        if hints[f.name] in (int, float):
            assert units.unit_suffix(f.name), f"Deployment.{f.name} has no unit suffix"


def test_unit_suffix_prefers_longest_match():
    assert units.unit_suffix("x_flops_per_s") == "_flops_per_s"
    assert units.unit_suffix("snic_Gbps") == "_Gbps"
    assert units.unit_suffix("bandwidth") is None


def test_conversions():
    assert units.gbps_to_Bps(400) == pytest.approx(50e9)
    assert units.GBps_to_Bps(1.5) == pytest.approx(1.5e9)
    assert units.GiB_to_bytes(1) == 2**30

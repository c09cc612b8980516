"""Profiles: TOML files validated into frozen dataclasses (hardware, model, workload)."""

from .hardware import ClusterProfile
from .hfconfig import load_model
from .loader import (
    KINDS,
    from_mapping,
    hardware_dir,
    list_profiles,
    load_cluster,
    load_cost,
    load_profile,
    load_workload,
    resolve,
)
from .model import ModelSpec
from .schema import Provenance, field_table
from .workload import WorkloadProfile

__all__ = [
    "KINDS",
    "ClusterProfile",
    "ModelSpec",
    "Provenance",
    "WorkloadProfile",
    "field_table",
    "from_mapping",
    "hardware_dir",
    "list_profiles",
    "load_cluster",
    "load_cost",
    "load_model",
    "load_profile",
    "load_workload",
    "resolve",
]

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from dpmodel.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TRACES = SHARED / "data" / "traces"

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def default_scenario() -> Scenario:
    return Scenario.load()


@pytest.fixture(scope="session")
def snic_only_scenario() -> Scenario:
    """The default scenario with everything but the storage NICs made effectively unlimited."""
    return Scenario.load(prefill_efficiency_frac=1.0, decode_step_overhead_s=0.0)


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """The public request traces (third-party data, never copied into the project)."""
    if not TRACES.is_dir():
        pytest.skip(f"public traces not found at {TRACES} (third-party data is not copied into the project)")
    return TRACES

"""Discrete-event simulator (SimPy) that checks the analytic models."""

from .engine import DYNAMIC_POLICIES, POLICIES, PSLink, ServingSim, SimResult
from .run import simulate_offline, simulate_saturated

__all__ = ["DYNAMIC_POLICIES", "POLICIES", "PSLink", "ServingSim", "SimResult", "simulate_offline", "simulate_saturated"]

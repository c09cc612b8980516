"""Discrete-event simulator (SimPy) that checks the analytic models."""

from .engine import PSLink, ServingSim, SimResult
from .run import simulate_offline, simulate_saturated

__all__ = ["PSLink", "ServingSim", "SimResult", "simulate_offline", "simulate_saturated"]

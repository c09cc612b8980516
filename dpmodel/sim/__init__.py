"""Discrete-event simulator (SimPy) that checks the analytic models."""

from .engine import DYNAMIC_POLICIES, POLICIES, ServingSim, Turn
from .net import FluidNet
from .replicate import Replications, replicate_online
from .run import (
    SimResult,
    simulate_offline,
    simulate_online,
    simulate_saturated,
    simulate_trace,
)

__all__ = [
    "DYNAMIC_POLICIES",
    "POLICIES",
    "FluidNet",
    "Replications",
    "ServingSim",
    "SimResult",
    "Turn",
    "replicate_online",
    "simulate_offline",
    "simulate_online",
    "simulate_saturated",
    "simulate_trace",
]

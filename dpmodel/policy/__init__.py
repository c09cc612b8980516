"""Scheduler policy: the per-request read split and policy tables built from it."""

from ..read_split import finish_time_s, optimal_split, optimal_split_cvxpy, whole_request_side
from .table import PolicyTable, PolicyTableError

__all__ = ["PolicyTable", "PolicyTableError", "finish_time_s", "optimal_split", "optimal_split_cvxpy", "whole_request_side"]

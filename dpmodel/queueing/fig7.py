"""Calibration against the paper's Fig. 7, honestly scoped.

The paper does not report compute efficiency or decode step costs. Only those two knobs
(``prefill_efficiency_frac``, ``decode_step_overhead_s``) are calibrated, per model, and only from
the Oracle bars (no KV I/O). Basic and DualPath JCTs are then *predicted* with the I/O model
untouched; they are never fitted.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ProfileError
from ..profiles.loader import parse_toml
from ..reference import FIG7_CLUSTER, FIG7_JCT_S
from ..scenario import Scenario
from .offline import offline_jct_many

CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "catalog" / "calibration" / "fig7-oracle.toml"
KNOBS = ("prefill_efficiency_frac", "decode_step_overhead_s")


def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, dict[str, float]]:
    """Per-model calibrated knobs from the committed TOML (validated)."""
    data = parse_toml(path, f"calibration file {path}")
    if "provenance" not in data or "source" not in data["provenance"]:
        raise ProfileError(f"calibration file {path}: missing [provenance] source")
    out = {}
    for model, knobs in data.get("models", {}).items():
        unknown = set(knobs) - set(KNOBS)
        if unknown:
            raise ProfileError(f"calibration file {path} field models.{model}.{sorted(unknown)[0]}: unknown knob; use {', '.join(KNOBS)}")
        eff, ovh = knobs.get("prefill_efficiency_frac"), knobs.get("decode_step_overhead_s")
        num = (int, float)
        if not (isinstance(eff, num) and not isinstance(eff, bool) and 0 < eff <= 1 and isinstance(ovh, num) and not isinstance(ovh, bool) and 0 <= ovh < 1):
            raise ProfileError(f"calibration file {path} field models.{model}: knobs out of range")
        out[model] = {"prefill_efficiency_frac": float(eff), "decode_step_overhead_s": float(ovh)}
    return out


def scenario_for(model: str, workload: str, knobs: dict[str, float] | None = None, snic_efficiency_frac: float | None = None) -> Scenario:
    """The Fig. 7 scenario of ``model`` on ``workload``; ``snic_efficiency_frac`` replaces the
    profile's achievable share of the storage NIC's line rate (a sensitivity, not a fit)."""
    spec = FIG7_JCT_S[model]
    sc = Scenario.load(
        cluster=FIG7_CLUSTER, model=model, workload=workload, prefill_nodes=spec["prefill_nodes"], decode_nodes=spec["decode_nodes"], **(knobs or {})
    )
    if snic_efficiency_frac is not None:
        cl = sc.cluster
        sc = dataclasses.replace(sc, cluster=dataclasses.replace(cl, node=dataclasses.replace(cl.node, snic_efficiency_frac=float(snic_efficiency_frac))))
    return sc


@dataclass(frozen=True)
class Fig7Cell:
    model: str
    workload: str
    agents: int
    mode: str
    jct_s_pred: float
    jct_s_paper: float

    @property
    def error_frac(self) -> float:
        return self.jct_s_pred / self.jct_s_paper - 1.0


def predict(model: str, knobs: dict[str, float] | None = None, modes=("oracle", "dualpath", "basic"), seed: int = 0,
            reading: str = "turn-weighted", snic_efficiency_frac: float | None = None) -> list[Fig7Cell]:
    """Predicted vs paper JCT for every Fig. 7 cell of ``model``."""
    cells = []
    for wl, ref in FIG7_JCT_S[model]["cells"].items():
        sc = scenario_for(model, wl, knobs, snic_efficiency_frac)
        for mode in modes:
            for r, paper in zip(offline_jct_many(sc, mode, ref["agents"], seed=seed, turns_reading=reading), ref[mode], strict=True):
                cells.append(Fig7Cell(model, wl, r.agents, mode, r.jct_s, float(paper)))
    return cells


def speedup_errors(cells: list[Fig7Cell]) -> list[dict]:
    """Basic/DualPath speedup, predicted vs paper, per (workload, agents)."""
    by = {(c.workload, c.agents, c.mode): c for c in cells}
    out = []
    for (wl, n, mode), c in by.items():
        if mode != "basic" or (wl, n, "dualpath") not in by:
            continue
        d = by[(wl, n, "dualpath")]
        pred, paper = c.jct_s_pred / d.jct_s_pred, c.jct_s_paper / d.jct_s_paper
        out.append({"workload": wl, "agents": n, "speedup_pred": pred, "speedup_paper": paper, "error_frac": pred / paper - 1.0})
    return out


def calibrate_oracle(model: str, seed: int = 0, maxiter: int = 60, reading: str = "turn-weighted") -> tuple[dict[str, float], float]:
    """Fit the two knobs to the Oracle cells of ``model`` (least squares on log JCT)."""
    from scipy.optimize import minimize

    def knobs_of(x):
        return {"prefill_efficiency_frac": float(1 / (1 + math.exp(-x[0]))), "decode_step_overhead_s": float(math.exp(x[1]))}

    def loss(x):
        cells = predict(model, knobs_of(x), modes=("oracle",), seed=seed, reading=reading)
        return float(np.mean([math.log(c.jct_s_pred / c.jct_s_paper) ** 2 for c in cells]))

    best = None
    for x0 in ([math.log(0.4 / 0.6), math.log(0.005)], [math.log(0.15 / 0.85), math.log(0.02)]):
        r = minimize(loss, np.array(x0), method="Nelder-Mead", options={"maxiter": maxiter, "xatol": 1e-3, "fatol": 1e-6})
        if best is None or r.fun < best.fun:
            best = r
    return knobs_of(best.x), float(math.sqrt(best.fun))

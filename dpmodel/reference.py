"""Published reference results used for calibration and validation (not model inputs).

FIG7_JCT_S: the DualPath paper's Fig. 7 offline job completion times [s], read off the figure by
pixel measurement (about +-3 %; shared/reference/dualpath-brief.md section 10.1). Per model: the
deployment (P, D), and per MAL workload the agent counts and the JCTs of Oracle, DualPath ("Ours")
and Basic. Values marked approximate in the brief (a leading "~") are kept as read.
"""

from __future__ import annotations

FIG7_JCT_S: dict[str, dict] = {
    "ds-27b": {
        "prefill_nodes": 1,
        "decode_nodes": 1,
        "cells": {
            "agentic-32k": {
                "agents": [512, 1024, 2048, 4096],
                "oracle": [380, 450, 724, 1307],
                "dualpath": [415, 671, 1113, 2110],
                "basic": [512, 989, 1863, 3560],
            },
            "agentic-48k": {
                "agents": [512, 1024, 2048, 4096],
                "oracle": [603, 744, 1226, 3116],
                "dualpath": [764, 1327, 2251, 4804],
                "basic": [1206, 2151, 4020, 7280],
            },
            "agentic-64k": {
                "agents": [512, 1024, 2048, 4096],
                "oracle": [828, 1420, 2367, 5207],
                "dualpath": [1262, 2367, 4458, 9428],
                "basic": [2170, 4103, 7850, 16700],
            },
        },
    },
    "deepseek-v3.2": {
        "prefill_nodes": 2,
        "decode_nodes": 4,
        "cells": {
            "agentic-32k": {
                "agents": [512, 1024, 2048, 4096],
                "oracle": [862, 1083, 1664, 2987],
                "dualpath": [862, 1083, 1624, 2867],
                "basic": [962, 1504, 2526, 4672],
            },
            "agentic-48k": {
                "agents": [512, 1024, 2048, 4096],
                "oracle": [1385, 1732, 2987, 5584],
                "dualpath": [1385, 1818, 3117, 5887],
                "basic": [1775, 3030, 5455, 10346],
            },
            "agentic-64k": {
                "agents": [512, 1024, 2048, 4096],
                "oracle": [1922, 2649, 4883, 9299],
                "dualpath": [2026, 2909, 5351, 10286],
                "basic": [2857, 5351, 10026, 19300],
            },
        },
    },
    "qwen2.5-32b": {
        "prefill_nodes": 1,
        "decode_nodes": 2,
        "cells": {
            "agentic-32k": {
                "agents": [128, 256, 512],
                "oracle": [508, 762, 1159],
                "dualpath": [730, 1238, 1778],
                "basic": [1032, 2032, 3794],
            },
            "agentic-48k": {
                "agents": [128, 256, 512],
                "oracle": [992, 1489, 2595],
                "dualpath": [1603, 2366, 4427],
                "basic": [2557, 4771, 9122],
            },
            "agentic-64k": {
                "agents": [32, 64, 128],
                "oracle": [1220, 1323, 1592],
                "dualpath": [1654, 1984, 2791],
                "basic": [1860, 2625, 4941],
            },
        },
    },
}
FIG7_SOURCE = "DualPath arXiv 2602.21548, Fig. 7 (read off the figure, about +-3 %; shared/reference/dualpath-brief.md 10.1)"

#: How the paper builds a run's agents: each dataset holds this many trajectories; a run of more
#: agents adds copies of randomly drawn ones with a synthetic first round prepended (random tokens,
#: one generated token). The synthetic round's length is not given.
PAPER_TRAJECTORIES_PER_SET = 500
PAPER_TRAJECTORIES_SOURCE = (
    "DualPath arXiv 2602.21548, Table 2 (500 trajectories per set) and appendix A.3 (more agents by "
    "prepending a synthetic round to a sampled trajectory); shared/reference/dualpath-brief.md 9"
)

#: TPOT the paper measured [s] (low, high), per model: DS 660B (DeepSeek-V3.2) on 2P4D and DS 27B,
#: which its compute-NIC QoS keeps about unchanged. A check on the Oracle-calibrated decode step,
#: never an input.
PAPER_TPOT_S: dict[str, tuple[float, float]] = {"deepseek-v3.2": (0.031, 0.049), "ds-27b": (0.011, 0.025)}
PAPER_TPOT_SOURCE = "DualPath arXiv 2602.21548, measured TPOT as shared/reference/dualpath-brief.md 14.3 reports it"
FIG7_CLUSTER = "dualpath-hopper"
#: the name suffix of the testbed cluster carrying the committed bounded roofline fit (dpmodel.fig7.calibrated_cluster)
CALIBRATED_SUFFIX = "+roofline-oracle"

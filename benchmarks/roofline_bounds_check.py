import dataclasses

from dpmodel import fig7
from dpmodel.reference import FIG7_JCT_S

slow = dict(
    gemm_eff_max_frac=0.5,
    gemm_half_rows_count=400.0,
    attention_efficiency_frac=0.35,
    hbm_efficiency_frac=0.45,
    prefill_layer_fixed_us=200.0,
    decode_layer_fixed_us=100.0,
    ep_normal_latency_us=450.0,
    ep_low_latency_us=170.0,
    comm_overlap_frac=0.0,
)
orig = fig7.scenario_for


def sc_slow(*a, **k):
    sc = orig(*a, **k)
    return dataclasses.replace(sc, cluster=dataclasses.replace(sc.cluster, kernels=dataclasses.replace(sc.cluster.kernels, **slow)))


fig7.scenario_for = sc_slow
for m in FIG7_JCT_S:
    sc = sc_slow(m, "agentic-64k")
    n = sc.prefill_batch_turns()
    print(
        m,
        "slowest-bound rate TF %.0f" % (sc.prefill_rate_flops_per_s() / 1e12),
        "TPOT ms %.1f" % (sc.decode_capacity()["step_s"] * 1e3),
        flush=True,
    )
    cells = fig7.predict(m, None, modes=("oracle",))
    print(m, "oracle errors at the slowest bounds:", " ".join("%+.0f" % (100 * c.error_frac) for c in cells), flush=True)

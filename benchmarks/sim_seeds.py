"""Old vs new simulator, seed by seed: is a change of the numbers inside the seed-to-seed spread?

    git worktree add --detach /tmp/simbefore main
    .venv/bin/python benchmarks/sim_seeds.py --before /tmp/simbefore --agents 512 --seeds 0,1,2,3,4,5
    .venv/bin/python benchmarks/sim_seeds.py --before /tmp/simbefore --agents 2048 --seeds 0,1,2
    .venv/bin/python benchmarks/sim_seeds.py --render --out benchmarks/results/sim_seeds.md

Each run is a fresh process (DeepSeek-V3.2 2P4D, agentic-64k, offline, ``dualpath-paper``), the
old and the new code of one seed side by side; the runs are kept in
``benchmarks/results/sim_seeds.json``. A discrete-event run is a chaotic function of its
inputs: once one rounding differs, the rest of the run is another sample path of the same model,
as another seed would be. So the check is on the distribution, not the path: for every metric,
per agent count, the difference of the means over the seeds (new - old) against its standard
error from the seed-to-seed spread, ``sd * sqrt(2 / n)`` (``sd`` the pooled standard deviation
of the old and new runs); equivalent when ``|z| <= 2`` (a two-sided test at about 95 %). The
largest per-seed difference over ``sd`` is shown beside it (about 1.4 when two paths are
independent, 0 when identical).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
STORE = HERE / "results" / "sim_seeds.json"
METRICS = (
    "jct_s",
    "turns_per_s",
    "ttft_mean_s",
    "ttft_p99_s",
    "tpot_mean_s",
    "de_read_frac",
    "u_pe_snic",
    "u_de_snic",
    "u_pe_gpu",
    "u_de_cnic_w",
)
#: |difference of the means| over its standard error must stay under this
Z_MAX = 2.0


def one(agents: int, seed: int) -> dict:
    import time

    from dpmodel.scenario import Scenario
    from dpmodel.sim import simulate_offline

    t = time.process_time()
    r = simulate_offline(Scenario.load(), "dualpath-paper", agents, seed=seed)
    u = r.utilization_sim  # a dict by resource name in both versions
    return {
        "seed": seed,
        "agents": agents,
        "cpu_s": time.process_time() - t,
        "jct_s": r.jct_s_sim,
        "turns_per_s": r.turns_per_s_sim,
        "ttft_mean_s": r.ttft_s_sim["mean"],
        "ttft_p99_s": r.ttft_s_sim["p99"],
        "tpot_mean_s": r.tpot_s_sim["mean"],
        "de_read_frac": r.decode_side_read_frac_sim,
        "u_pe_snic": u["pe.snic.read"],
        "u_de_snic": u["de.snic.read"],
        "u_pe_gpu": u["pe.gpu.time"],
        "u_de_cnic_w": u["de.cnic.write"],
    }


def render() -> list[str]:
    rows = json.loads(STORE.read_text()) if STORE.exists() else []
    out = [
        "# Simulator: old vs new code, seed by seed",
        "",
        "Rendered by `python benchmarks/sim_seeds.py --render --out benchmarks/results/sim_seeds.md` from `benchmarks/results/sim_seeds.json`;",
        "DeepSeek-V3.2 2P4D, agentic-64k, offline, `dualpath-paper`; old = main f92bbb7, new = the simspeed branch (the event loop",
        "serves the fluid network's completions). Per metric: the means over the seeds, the seed-to-seed standard deviation `sd`",
        f"(pooled), z = (difference of the means) / (sd sqrt(2 / n)), equivalent when |z| <= {Z_MAX:g}; and the largest per-seed",
        "|new - old| / sd (0 where the runs are identical; about 1.4 for independent sample paths: one rounding that differs",
        "makes the rest of a run another sample path, as another seed would).",
        "",
    ]
    for n in sorted({r["agents"] for r in rows}):
        old = {r["seed"]: r for r in rows if r["agents"] == n and r["code"] == "before"}
        new = {r["seed"]: r for r in rows if r["agents"] == n and r["code"] == "after"}
        seeds = sorted(set(old) & set(new))
        if len(seeds) < 2:
            continue
        same = sum(all(old[s][m] == new[s][m] for m in METRICS) for s in seeds)
        out += [
            f"## {n:,} agents, seeds {', '.join(map(str, seeds))}: {same} of {len(seeds)} seeds identical in every metric",
            "",
            "| metric | old: mean | new: mean | sd (pooled) | z | max per-seed abs(new - old) / sd | equivalent |",
            "|---|---|---|---|---|---|---|",
        ]
        k = len(seeds)
        for m in METRICS:
            vo, vn = [old[s][m] for s in seeds], [new[s][m] for s in seeds]
            sd = ((statistics.variance(vo) + statistics.variance(vn)) / 2) ** 0.5
            dm = statistics.mean(vn) - statistics.mean(vo)
            z = dm / (sd * (2 / k) ** 0.5) if sd > 0 else (0.0 if dm == 0 else float("inf"))
            d = max(abs(b - a) for a, b in zip(vo, vn, strict=True))
            r = d / sd if sd > 0 else 0.0
            out.append(
                f"| {m} | {statistics.mean(vo):.6g} | {statistics.mean(vn):.6g} | {sd:.3g} | {z:+.2f} | {r:.2f} | {'yes' if abs(z) <= Z_MAX else 'NO'} |"
            )
        out.append("")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--before", default=None, help="a checkout of the previous code")
    ap.add_argument("--agents", type=int, default=512)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--render", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.one:
        a, s = args.one.split(",")
        print(json.dumps(one(int(a), int(s))))
        return 0
    if args.before:
        from dpmodel.fileio import atomic_write_text

        for s in (int(x) for x in args.seeds.split(",")):
            for code, tree in (("before", pathlib.Path(args.before)), ("after", ROOT)):
                env = {**os.environ, "PYTHONPATH": str(tree)}
                cmd = [sys.executable, str(HERE / "sim_seeds.py"), "--one", f"{args.agents},{s}"]
                res = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=True)
                row = {"code": code, **json.loads(res.stdout.strip().splitlines()[-1])}
                rows = json.loads(STORE.read_text()) if STORE.exists() else []
                atomic_write_text(STORE, json.dumps([*rows, row], indent=1) + "\n")
                print(json.dumps(row), flush=True)
    if args.render:
        sys.path.insert(0, str(HERE))
        from _common import emit

        return emit(render(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CHGNet against SevenNet-0 on the same delithiated Li15Si4 configurations.

Runs the channel-stability flow on the 38-atom primitive Li15Si4 cell twice, with
the same seed (so the same configurations: checked below), once relaxed by CHGNet
and once by SevenNet-0, both with the default relax settings (FIRE, cell relaxed,
fmax 0.05 eV/A, 1000-step cap). Prints each slope with its standard error and 95 %
bootstrap interval, the volume slopes, the wall time of each potential, and the
slope difference with its paired bootstrap interval. The paper's pure-Si slope
is 0.85 +- 0.23 A per 100 % SOC (database structures, unrelaxed).

    python benchmarks/bench_potentials.py [--configs 30] [--seed 0] [--threads 1]
        [--engine batched|ase]

``--threads`` sets torch's intra-op threads for both potentials. On a CPU shared with
other jobs, use 1: with more threads than free cores every small operator waits for a
descheduled thread, and SevenNet's many small tensor products slow down 3-50 fold,
CHGNet's less, which would distort the comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import time
import warnings

import torch
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from sianode_flows.builtin import li15si4
from sianode_flows.jobs.cross_check import cross_check_document
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.makers import ChannelStabilityMaker


def run(potential: str, n_configs: int, seed: int, workdir: str, batched: bool = True) -> dict:
    """Run one flow on a fresh memory store; return its fit, wall time and configurations."""
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    maker = ChannelStabilityMaker(
        n_configs=n_configs,
        seed=seed,
        relax_maker=default_relax_maker(potential, batched=batched),
    )
    flow = maker.make(li15si4(primitive=True))
    start = time.perf_counter()
    # CHGNet prints a banner at every model load: keep standard output for the figures
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        run_locally(flow, store=store, log=False, create_folders=True, root_dir=workdir)
    elapsed = time.perf_counter() - start
    configurations = store.query_one({"name": "delithiate"}, load=True)["output"]
    steps = [
        d["output"]["relaxation"]["n_steps"]
        for d in store.query({"name": {"$regex": "^channel"}}, load=True)
    ]
    return {
        "fit": flow.output.resolve(store),
        "elapsed": elapsed,
        "removed": [c["removed_sites"] for c in configurations],
        "steps": [s for s in steps if s is not None],
    }


def describe(label: str, result: dict) -> str:
    """One line per potential."""
    fit = result["fit"]
    steps = result["steps"]
    return (
        f"{label:9s} slope {fit.slope:.3f} +- {fit.slope_err:.3f} A/100% SOC, "
        f"95% CI [{fit.slope_ci_low:.3f}, {fit.slope_ci_high:.3f}], "
        f"Pearson r {fit.pearson_r:.3f}, volume slope {fit.volume_slope:.3f} "
        f"[{fit.volume_fit.slope_ci_low:.3f}, {fit.volume_fit.slope_ci_high:.3f}], "
        f"{fit.n_configs} configs ({fit.n_failed} failed, {fit.n_unconverged} unconverged), "
        f"steps median {statistics.median(steps):.0f} max {max(steps)}, "
        f"wall {result['elapsed']:.0f} s ({result['elapsed'] / fit.n_configs:.1f} s/relax), "
        f"verdict {fit.verdict}"
    )


def main() -> None:
    """Run both potentials and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default="bench_runs")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument(
        "--engine",
        choices=["batched", "ase"],
        default="batched",
        help="batched (torch-sim) or atomate2's per-structure ASE relax, for both potentials",
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)
    results = {}
    for label, potential in (("CHGNet", "chgnet"), ("SevenNet", "sevennet")):
        results[label] = run(
            potential, args.configs, args.seed, args.workdir, batched=args.engine == "batched"
        )
        print(describe(label, results[label]), flush=True)
    chgnet, sevennet = results["CHGNet"], results["SevenNet"]
    if chgnet["removed"] != sevennet["removed"]:
        raise RuntimeError("the two runs drew different configurations")
    check = cross_check_document(chgnet["fit"], sevennet["fit"], seed=args.seed)
    print(
        f"same {len(chgnet['removed'])} configurations (seed {args.seed}); "
        f"slope difference CHGNet - SevenNet {check.slope_difference:+.3f} A/100% SOC, "
        f"paired 95% CI [{check.difference_ci_low:+.3f}, {check.difference_ci_high:+.3f}], "
        f"mean |R_t difference| {check.r_t_mean_abs_difference:.3f} A, "
        f"agree within {check.tolerance} A: {check.agree}"
    )
    print(f"wall time SevenNet / CHGNet: {sevennet['elapsed'] / chgnet['elapsed']:.2f}x")
    print(f"torch threads: {torch.get_num_threads()}, relax engine: {args.engine}")
    print("paper (pure Si, database structures): 0.85 +- 0.23 A/100% SOC")


if __name__ == "__main__":
    main()

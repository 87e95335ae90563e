"""Cost of one channel-stability flow, primitive against conventional Li15Si4 cell.

Runs the full flow (delithiate -> CHGNet relax each -> CAVD channel each -> fit)
with the default relax settings (fmax 0.05 eV/A, 1000-step cap) on the 38-atom
primitive cell and on the 76-atom conventional cell, same seed and number of
configurations, side by side, and prints wall time, relaxations per hour, ionic
steps and the fitted slopes.

    python benchmarks/bench_channel_stability.py [--configs 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings

from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from sianode_flows.builtin import li15si4
from sianode_flows.makers import ChannelStabilityMaker


def run(structure, n_configs: int, seed: int, workdir: str) -> dict:
    """Run one flow on a fresh memory store; return timings and the fit."""
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    flow = ChannelStabilityMaker(n_configs=n_configs, seed=seed).make(structure)
    start = time.perf_counter()
    run_locally(flow, store=store, log=False, create_folders=True, root_dir=workdir)
    elapsed = time.perf_counter() - start
    fit = flow.output.resolve(store)
    steps = [
        d["output"]["relaxation"]["n_steps"]
        for d in store.query({"name": {"$regex": "^channel"}}, load=True)
    ]
    return {"elapsed": elapsed, "fit": fit, "steps": steps}


def main() -> None:
    """Run both cells and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default="bench_runs")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)
    results = {}
    for label, primitive in (("conventional (76 atoms)", False), ("primitive (38 atoms)", True)):
        results[label] = run(li15si4(primitive), args.configs, args.seed, args.workdir)
    for label, result in results.items():
        fit = result["fit"]
        per_hour = args.configs / result["elapsed"] * 3600
        print(
            f"{label:24s} {result['elapsed']:7.1f} s  {per_hour:6.1f} relaxations/h  "
            f"steps median {statistics.median(result['steps']):.0f} max {max(result['steps'])}  "
            f"slope {fit.slope:.3f} +- {fit.slope_err:.3f} A/100% SOC  verdict {fit.verdict}"
        )
    base, fast = (r["elapsed"] for r in results.values())
    print(f"speed-up of the primitive cell: {base / fast:.2f}x")


if __name__ == "__main__":
    main()

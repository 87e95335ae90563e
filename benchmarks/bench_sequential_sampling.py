"""Fixed 30 configurations against sequential sampling (10 + 10 ... up to 60), side by side.

For every candidate, the built-in demo cells (Li15Si4 and Li30Si7X, X = Ge, Sn, Zn)
and the Li-Si(-X) candidates above 1500 mAh/g that a harvest of ``../shared/data``
finds (duplicates of a built-in cell left out), two channel-stability flows run on
one on-disk store with the default relax (CHGNet, batched FIRE, fmax 0.05 eV/A,
1000-step cap) and the default verdict rule (the slope's 95 % bootstrap interval
against +-0.5 A per 100 % SOC):

- fixed: ``ChannelStabilityMaker(n_configs=30)``, today's ``--configs 30``;
- sequential: ``ChannelStabilityMaker(n_configs=10, round_size=10, max_configs=60)``,
  the default of ``sianode screen``.

It prints, per candidate and mode, the verdict, the interval and the relaxations
spent, then per mode the relaxations per decided candidate and the candidates left
undecided. The store keeps every relaxation, so an interrupted run resumes where it
stopped (the relaxations then count as spent, as they were).

    OMP_NUM_THREADS=2 python benchmarks/bench_sequential_sampling.py [--max-sites 40]

Options: ``--store`` (default ``bench_sequential``), ``--only-builtin``.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

from jobflow import run_locally
from pymatgen.analysis.structure_matcher import StructureMatcher

from sianode_flows.builtin import builtin_records
from sianode_flows.jobs.candidates import select_from_records
from sianode_flows.makers import ChannelStabilityMaker
from sianode_flows.stores import build_job_store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

MODES = {
    "fixed 30": {"n_configs": 30},
    "sequential 10+10..60": {"n_configs": 10, "round_size": 10, "max_configs": 60},
}


def candidates(max_sites: int, only_builtin: bool) -> list:
    """Return the built-in candidates and the shared-data ones that are not duplicates."""
    selection = select_from_records(builtin_records(), min_capacity=1500, max_sites=max_sites)
    found = list(selection.selected)
    if only_builtin or not DATA.is_dir():
        return found
    from sianode_flows.jobs.harvest import fetch_all, harvest_results
    from sianode_flows.sources import ElementCriteria, LocalFileSource

    sources = [LocalFileSource(str(p), name=p.name) for p in sorted(DATA.glob("*.csv.gz"))]
    results, _ = fetch_all(sources, ElementCriteria())
    harvested = harvest_results(results, min_capacity=1500, max_sites=max_sites).candidates
    matcher = StructureMatcher()
    for candidate in sorted(harvested, key=lambda c: c.nsites):
        if not any(matcher.fit(candidate.structure, known.structure) for known in found):
            found.append(candidate)
    return found


def run(candidate, mode: str, store, workdir: Path):
    """Run one candidate in one mode; return its fit and the wall time."""
    maker = ChannelStabilityMaker(**MODES[mode])
    flow = maker.make(candidate)
    start = time.perf_counter()
    run_locally(flow, store=store, log=False, create_folders=True, root_dir=workdir)
    return flow.output.resolve(store), time.perf_counter() - start


def interval(fit) -> str:
    """Return the 95 % interval of a fit's slope as text."""
    if fit.slope_ci_low is None:
        return "-"
    return f"[{fit.slope_ci_low:+.3f}, {fit.slope_ci_high:+.3f}]"


def main() -> None:
    """Run both modes on every candidate and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-sites", type=int, default=400)
    parser.add_argument("--store", default="bench_sequential")
    parser.add_argument("--only-builtin", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)
    found = candidates(args.max_sites, args.only_builtin)
    print(f"{len(found)} candidates: " + ", ".join(f"{c.formula} ({c.nsites})" for c in found))
    store = build_job_store(args.store)
    workdir = Path(args.store) / "runs"
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    header = f"{'candidate':28s} {'mode':22s} {'verdict':10s} {'slope':>7s} {'95% CI':>18s}"
    print(header + f" {'relaxations':>11s} {'rounds':>6s} {'stop':>12s} {'wall (s)':>9s}")
    for candidate in found:
        for mode in MODES:
            fit, elapsed = run(candidate, mode, store, workdir)
            spent = sum(len(r.config_indices) for r in fit.rounds) or fit.n_configs
            rows.append((candidate, mode, fit, spent))
            slope = "-" if fit.slope is None else f"{fit.slope:+.3f}"
            print(
                f"{candidate.formula + ' ' + (candidate.source_id or ''):28.28s} {mode:22s} "
                f"{fit.verdict:10s} {slope:>7s} {interval(fit):>18s} {spent:11d} "
                f"{len(fit.rounds):6d} {fit.stop_reason or '-':>12s} {elapsed:9.0f}",
                flush=True,
            )
    print()
    totals = {}
    for mode in MODES:
        fits = [(fit, spent) for _, m, fit, spent in rows if m == mode]
        spent = sum(s for _, s in fits)
        decided = sum(1 for fit, _ in fits if fit.verdict in ("stable", "unstable"))
        undecided = sum(1 for fit, _ in fits if fit.verdict == "undecided")
        per_decided = spent / decided if decided else float("inf")
        totals[mode] = per_decided
        print(
            f"{mode:22s} relaxations {spent:5d}  decided {decided:2d}  undecided {undecided:2d}  "
            f"relaxations per decided candidate {per_decided:6.1f}"
        )
    fixed, sequential = totals.values()
    if fixed == float("inf") or sequential == float("inf"):
        print(
            "sequential / fixed relaxations per decided candidate: undefined (a mode decided none)"
        )
    else:
        print(f"sequential / fixed relaxations per decided candidate: {sequential / fixed:.2f}")


if __name__ == "__main__":
    main()

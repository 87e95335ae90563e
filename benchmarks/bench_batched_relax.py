"""Per-structure (atomate2) against batched (torch-sim) relaxation, side by side.

Both paths relax the same delithiated configurations of Li15Si4 (the 38-atom
primitive cell, drawn as the channel-stability flow draws them) with the same
potential, FIRE with the Frechet cell filter, the same fmax and step cap:

- per structure: atomate2's ``ForceFieldRelaxMaker`` given the whole list, which
  relaxes the structures one after another in one job with the calculator loaded
  once (the fair baseline: no model reload per structure);
- batched: :class:`sianode_flows.jobs.batched_relax.BatchedRelaxMaker`.

Each path runs as a job (``run_locally``) in its own child process, so that its
peak memory is its own. Prints relaxations per hour, the ratio, peak memory,
steps, and the largest differences in final energy per atom and in channel
radius R_t (CAVD, framework without Li) between the two paths.

    python benchmarks/bench_batched_relax.py [--configs 30] [--seed 0] [--steps 1000]
        [--fmax 0.05] [--max-atoms N] [--device cpu|cuda] [--potential chgnet]
        [--only batched] [--threads N]

On a GPU, ``--only batched --configs 300`` gives the batched throughput alone for a
larger set (the CPU baseline for the ratio comes from a CPU run of the same script).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import statistics
import sys
import time
import warnings


def configurations(n_configs: int, seed: int) -> list:
    """Return the delithiated configurations of the primitive Li15Si4 cell."""
    from sianode_flows.analysis.delithiation import delithiate
    from sianode_flows.builtin import li15si4

    return [c.structure for c in delithiate(li15si4(primitive=True), n_configs, seed)]


def relax_in_child(path: str, args: argparse.Namespace, queue: multiprocessing.Queue) -> None:
    """Run one path as a job; put its final energies, structures, steps and timings."""
    warnings.filterwarnings("ignore")
    import torch
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    from sianode_flows.jobs.relax import default_relax_maker, summarize_relaxation

    if args.threads:
        torch.set_num_threads(args.threads)
    structures = configurations(args.configs, args.seed)
    overrides = {"device": args.device, "max_atoms": args.max_atoms} if path == "batched" else {}
    maker = default_relax_maker(
        args.potential, batched=path == "batched", steps=args.steps, fmax=args.fmax, **overrides
    )
    relax_job = maker.make(structures)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    start = time.perf_counter()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        run_locally(relax_job, store=store, log=False, ensure_success=True)
    elapsed = time.perf_counter() - start
    results = []
    for doc in relax_job.output.resolve(store):
        try:
            structure, summary = summarize_relaxation(doc)
        except ValueError:
            results.append(None)
            continue
        results.append(
            (structure.as_dict(), summary.energy_per_atom, summary.n_steps, summary.converged)
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "elapsed": elapsed,
            "results": results,
            "peak_mib": peak_mib,
            "threads": torch.get_num_threads(),
        }
    )


def run_path(path: str, args: argparse.Namespace) -> dict:
    """Run a path in a fresh process (spawned: nothing inherited)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=relax_in_child, args=(path, args, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def summarize(label: str, result: dict, n_structures: int) -> str:
    """One line per path."""
    done = [r for r in result["results"] if r is not None]
    steps = [r[2] for r in done if r[2] is not None]
    per_hour = n_structures / result["elapsed"] * 3600
    return (
        f"{label:14s} {result['elapsed']:8.1f} s  {per_hour:8.0f} relax/h  "
        f"peak {result['peak_mib']:6.0f} MiB  converged {sum(bool(r[3]) for r in done)}"
        f"/{n_structures}  steps median {statistics.median(steps):.0f} max {max(steps)}  "
        f"(torch threads {result['threads']})"
    )


def main() -> None:
    """Run both paths and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--fmax", type=float, default=0.05)
    parser.add_argument("--potential", default="chgnet")
    parser.add_argument("--device", default=None)
    parser.add_argument("--max-atoms", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--only", choices=["batched", "per-structure"], default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from pymatgen.core import Structure

    from sianode_flows.analysis.channel import channel_radii

    n = args.configs
    atoms = sum(len(s) for s in configurations(n, args.seed))
    print(
        f"{n} delithiated configurations of Li15Si4 (primitive, {atoms} atoms in all), "
        f"{args.potential}, fmax {args.fmax} eV/A, cap {args.steps} steps",
        flush=True,
    )
    paths = [p for p in ("per-structure", "batched") if args.only in (None, p)]
    results = {}
    for path in paths:
        results[path] = run_path(path, args)
        print(summarize(path, results[path], n), flush=True)
    if len(results) < 2:
        return
    base, batched = results["per-structure"], results["batched"]
    print(f"throughput ratio batched / per-structure: {base['elapsed'] / batched['elapsed']:.2f}x")
    energy_gaps, radius_gaps = [], []
    for one, two in zip(base["results"], batched["results"], strict=True):
        if one is None or two is None:
            continue
        energy_gaps.append(abs(one[1] - two[1]) * 1000)
        radius_one = channel_radii(Structure.from_dict(one[0])).r_t
        radius_two = channel_radii(Structure.from_dict(two[0])).r_t
        radius_gaps.append(abs(radius_one - radius_two))
    failed = sum(r is None for r in batched["results"]) + sum(r is None for r in base["results"])
    print(
        f"final energy per atom: max |diff| {max(energy_gaps):.2f} meV/atom, "
        f"median {statistics.median(energy_gaps):.2f}; "
        f"R_t: max |diff| {max(radius_gaps):.4f} A, median {statistics.median(radius_gaps):.4f} A, "
        f"{sum(g > 0.02 for g in radius_gaps)} above 0.02 A; {failed} failed",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())

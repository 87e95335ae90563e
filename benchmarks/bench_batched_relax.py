"""Per-structure (atomate2) against batched (torch-sim) relaxation, side by side.

All paths relax the same delithiated configurations of Li15Si4 (drawn as the
channel-stability flow draws them) with the same potential, Frechet cell filter,
fmax and step cap:

- ``per-structure``: atomate2's ``ForceFieldRelaxMaker`` (ASE's FIRE) given the
  whole list, which relaxes the structures one after another in one job with the
  calculator loaded once (the fair baseline: no model reload per structure);
- ``fire``: :class:`sianode_flows.jobs.batched_relax.BatchedRelaxMaker` with
  torch-sim's FIRE in ASE's flavour (the default);
- ``lbfgs``: the same maker with torch-sim's batched L-BFGS;
- ``fire-converter``: batched FIRE with CHGNet's graphs built by CHGNet's own
  converter, one pymatgen ``Structure`` per system at every step
  (``SIANODE_CHGNET_GRAPH=converter``; the path before the batched graph builder).

``--cell primitive`` draws from the 38-atom primitive cell (689 atoms for 30
configurations: one batch of up to 1024 atoms holds them all); ``--cell
conventional`` from the 76-atom cell (about 1,400 atoms: structures leave and join
the batch as others converge).

Each path runs as a job (``run_locally``) in its own spawned process, so that its
peak memory is its own. Prints, per path: wall time, relaxations per hour and the
ratio to the first path, peak memory, converged fraction, steps (median / max);
then per path against batched FIRE: the largest and median |dE| (final energy per
atom) and |dR_t| (CAVD channel radius of the framework), how many configurations
differ by more than 0.02 A in R_t, and the slope of R_t against SOC +- its standard
error for each path.

    python benchmarks/bench_batched_relax.py [--cell primitive|conventional]
        [--configs 30] [--seed 0] [--steps 1000] [--fmax 0.05]
        [--paths per-structure,fire,lbfgs,fire-converter] [--max-atoms N] [--device cpu|cuda]
        [--potential chgnet] [--threads N]

On a GPU, ``--paths fire,lbfgs --device cuda --configs 300`` gives the batched
throughput alone for a larger set.
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
from queue import Empty

PATHS = ("per-structure", "fire", "lbfgs", "fire-converter")


def configurations(cell: str, n_configs: int, seed: int) -> list:
    """Return the delithiated configurations of Li15Si4 (``DelithiatedStructure``)."""
    from sianode_flows.analysis.delithiation import delithiate
    from sianode_flows.builtin import li15si4

    return delithiate(li15si4(primitive=cell == "primitive"), n_configs, seed)


def relax_in_child(path: str, args: argparse.Namespace, queue: multiprocessing.Queue) -> None:
    """Run one path as a job; put its final energies, structures, steps and timings."""
    warnings.filterwarnings("ignore")
    import torch
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    from sianode_flows.jobs.relax import default_relax_maker, summarize_relaxation

    if args.threads:
        torch.set_num_threads(args.threads)
    if path == "fire-converter":
        os.environ["SIANODE_CHGNET_GRAPH"] = "converter"
        path = "fire"
    structures = [c.structure for c in configurations(args.cell, args.configs, args.seed)]
    batched = path != "per-structure"
    overrides = {"device": args.device, "max_atoms": args.max_atoms} if batched else {}
    maker = default_relax_maker(
        args.potential,
        batched=batched,
        steps=args.steps,
        fmax=args.fmax,
        optimizer=path if batched else "fire",
        **overrides,
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
        # atomate2 counts frames: the input, every step, the final state again
        steps = None if summary.n_steps is None else summary.n_steps - 2
        results.append((structure.as_dict(), summary.energy_per_atom, steps, summary.converged))
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
    child = context.Process(target=relax_in_child, args=(path, args, queue), daemon=True)
    child.start()
    while child.is_alive() or not queue.empty():
        with contextlib.suppress(Empty):
            result = queue.get(timeout=5)
            child.join()
            return result
    raise RuntimeError(f"the {path} path ended without a result (exit code {child.exitcode})")


def summarize(label: str, result: dict, n_structures: int, baseline: dict) -> str:
    """One line per path."""
    done = [r for r in result["results"] if r is not None]
    steps = [r[2] for r in done if r[2] is not None]
    per_hour = n_structures / result["elapsed"] * 3600
    return (
        f"{label:14s} {result['elapsed']:8.1f} s  {per_hour:7.0f} relax/h  "
        f"x{baseline['elapsed'] / result['elapsed']:5.2f}  peak {result['peak_mib']:6.0f} MiB  "
        f"converged {sum(bool(r[3]) for r in done)}/{n_structures}  "
        f"steps median {statistics.median(steps):.0f} max {max(steps)}  "
        f"(torch threads {result['threads']})"
    )


def radii_and_slope(result: dict, socs: list[float]) -> tuple[list[float | None], str]:
    """Channel radius of each relaxed configuration, and the slope of R_t against SOC."""
    from pymatgen.core import Structure

    from sianode_flows.analysis.channel import channel_radii
    from sianode_flows.analysis.fit import fit_slope

    radii = [
        None if r is None else channel_radii(Structure.from_dict(r[0])).r_t
        for r in result["results"]
    ]
    points = [(soc, r_t) for soc, r_t in zip(socs, radii, strict=True) if r_t is not None]
    fit = fit_slope([p[0] for p in points], [p[1] for p in points])
    return radii, f"{fit.slope:.3f} +- {fit.slope_err:.3f}"


def compare(label: str, result: dict, reference: dict, radii: list, reference_radii: list) -> str:
    """Largest and median differences of one path against batched FIRE."""
    energy_gaps, radius_gaps = [], []
    for one, two, r_one, r_two in zip(
        result["results"], reference["results"], radii, reference_radii, strict=True
    ):
        if one is None or two is None:
            continue
        energy_gaps.append(abs(one[1] - two[1]) * 1000)
        radius_gaps.append(abs(r_one - r_two))
    return (
        f"{label:14s} vs fire: |dE| max {max(energy_gaps):.2f} median "
        f"{statistics.median(energy_gaps):.2f} meV/atom; |dR_t| max {max(radius_gaps):.4f} "
        f"median {statistics.median(radius_gaps):.4f} A, "
        f"{sum(g > 0.02 for g in radius_gaps)} above 0.02 A"
    )


def main() -> None:
    """Run the paths and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", choices=["primitive", "conventional"], default="primitive")
    parser.add_argument("--configs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--fmax", type=float, default=0.05)
    parser.add_argument("--potential", default="chgnet")
    parser.add_argument("--device", default=None)
    parser.add_argument("--max-atoms", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--paths", default="per-structure,fire,lbfgs")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    paths = [p for p in args.paths.split(",") if p]
    unknown = set(paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown paths {sorted(unknown)}; choose from {', '.join(PATHS)}")

    configs = configurations(args.cell, args.configs, args.seed)
    socs = [c.soc for c in configs]
    atoms = sum(len(c.structure) for c in configs)
    print(
        f"{len(configs)} delithiated configurations of Li15Si4 ({args.cell} cell, {atoms} atoms "
        f"in all), {args.potential}, fmax {args.fmax} eV/A, cap {args.steps} steps",
        flush=True,
    )
    results = {}
    for path in paths:
        results[path] = run_path(path, args)
        print(summarize(path, results[path], len(configs), results[paths[0]]), flush=True)
    radii, slopes = {}, {}
    for path in paths:
        radii[path], slopes[path] = radii_and_slope(results[path], socs)
        print(f"{path:14s} slope of R_t against SOC: {slopes[path]} A per 100 % SOC", flush=True)
    if "fire" in results:
        for path in paths:
            if path != "fire":
                line = compare(path, results[path], results["fire"], radii[path], radii["fire"])
                print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())

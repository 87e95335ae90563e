"""CHGNet's graphs: its own converter against the batched builder, side by side in one run.

On the 30 delithiated configurations of the primitive Li15Si4 cell that
``bench_batched_relax.py`` relaxes (drawn as the channel-stability flow draws
them), with the CHGNet 0.3.0 weights shipped in the wheel:

1. **graph building**, per call and per 1,000 atoms: CHGNet's converter as the
   batched model used it before (the batch copied to the CPU, one pymatgen
   ``Structure`` and one conversion per system), the batched builder searching
   anew (``neighbor_skin=0``), and the batched builder reusing its neighbour list
   between steps (each call after the first moves every atom by a random 0.01 A
   and strains the cell by 0.05 %, as an optimizer step does);
2. **the whole step**: the model's energies, forces and stresses of the batch,
   each way, and the share of it spent building graphs;
3. **relaxations**: ``bench_batched_relax.py``'s paths, each in its own spawned
   process (peak memory its own): atomate2's per-structure relax, batched FIRE
   through the converter (the path before), batched FIRE through the builder
   (the default now): wall time, relaxations per hour, ratios, peak memory, and
   the largest difference of final energies and channel radii against the
   builder's path.

Timings are medians of ``--repeats`` calls after one warm-up call.

    OMP_NUM_THREADS=2 python benchmarks/bench_chgnet_graph.py [--configs 30]
        [--repeats 20] [--threads 2] [--device cpu|cuda] [--skip-relax]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def timed(function, repeats: int) -> float:
    """Return the median wall time of ``function()`` over ``repeats`` calls (s)."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def moving_state(state, generator):
    """Return a copy of a state with every atom moved and the cell strained a little."""
    import torch

    moved = state.clone()
    noise = torch.randn(moved.positions.shape, generator=generator, dtype=moved.positions.dtype)
    moved.positions = moved.positions + 0.01 * noise.to(moved.positions.device) / 3**0.5
    strain = 1 + 0.0005 * torch.randn(1, generator=generator).item()
    moved.cell = moved.cell * strain
    moved.positions = moved.positions * strain
    return moved


def main() -> None:
    """Print the graph, step and relaxation figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-relax", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch
    from bench_batched_relax import configurations, run_path, summarize
    from torch_sim.io import structures_to_state

    from sianode_flows.forcefields.chgnet import CHGNetModel

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    structures = [c.structure for c in configurations("primitive", args.configs, args.seed)]
    state = structures_to_state(structures, device, torch.float64)
    n_atoms = state.n_atoms
    print(
        f"{len(structures)} delithiated Li15Si4 configurations (primitive cell), {n_atoms} "
        f"atoms, device {device}, torch threads {torch.get_num_threads()}",
        flush=True,
    )
    builder = CHGNetModel(device=device)
    fresh = CHGNetModel(model=builder.model, device=device, neighbor_skin=0)
    converter = CHGNetModel(model=builder.model, device=device, graph_builder="converter")
    generator = torch.Generator().manual_seed(args.seed)
    states = [state] + [moving_state(state, generator) for _ in range(args.repeats + 1)]
    cursor = iter(range(10**9))

    def next_state():
        return states[next(cursor) % len(states)]

    graph_times = {
        "converter (the path before)": timed(lambda: converter.graphs(state), args.repeats),
        "builder, searched anew": timed(lambda: fresh.batch_graph(state), args.repeats),
        "builder, list reused": timed(lambda: builder.batch_graph(next_state()), args.repeats),
    }
    rebuilds = f"{builder.pairs.builds} searches in {builder.pairs.calls} calls"
    baseline = graph_times["converter (the path before)"]
    print("\ngraph building, median of calls:")
    for label, seconds in graph_times.items():
        print(
            f"  {label:30s} {seconds * 1000:8.1f} ms  {seconds / n_atoms * 1e6:8.1f} ms per "
            f"1,000 atoms  x{baseline / seconds:5.1f}"
        )
    print(f"  (the reused list: {rebuilds})")

    def step(model):
        model.graph_seconds = 0.0
        model(next_state())
        return model.graph_seconds

    print("\nthe whole step (energies, forces, stresses of the batch), median of calls:")
    step_times = {}
    for label, model in (("converter", converter), ("builder", builder)):
        graph_share = []

        def one(model=model, graph_share=graph_share):
            start = time.perf_counter()
            graph = step(model)
            graph_share.append(graph / (time.perf_counter() - start))

        step_times[label] = timed(one, args.repeats)
        print(
            f"  {label:10s} {step_times[label]:7.3f} s  {step_times[label] / n_atoms * 1e6:7.1f} "
            f"us per atom  graphs {statistics.median(graph_share) * 100:4.1f} % of the step  "
            f"x{step_times['converter'] / step_times[label]:4.2f}"
        )

    if args.skip_relax:
        return
    relax_args = argparse.Namespace(
        cell="primitive",
        configs=args.configs,
        seed=args.seed,
        steps=1000,
        fmax=0.05,
        potential="chgnet",
        device=args.device,
        max_atoms=None,
        threads=args.threads,
    )
    print(
        "\nrelaxations (CHGNet, FIRE, Frechet cell filter, fmax 0.05 eV/A, cap 1000), "
        "each path in its own process:",
        flush=True,
    )
    paths = ("per-structure", "fire-converter", "fire")
    results = {}
    for path in paths:
        if path == "per-structure" and args.device != "cpu":
            continue
        results[path] = run_path(path, relax_args)
        print("  " + summarize(path, results[path], args.configs, results[next(iter(results))]))
    reference = results["fire"]["results"]
    for path, result in results.items():
        if path == "fire":
            continue
        gaps = [
            abs(a[1] - b[1]) * 1000
            for a, b in zip(result["results"], reference, strict=True)
            if a is not None and b is not None
        ]
        print(f"  {path} against fire (builder): largest |dE| {max(gaps):.3f} meV/atom")


if __name__ == "__main__":
    sys.exit(main())

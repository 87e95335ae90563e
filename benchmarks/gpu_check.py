"""A pooled batched relaxation on a GPU: throughput, cost per atom-step, graph share, memory.

Relaxes one pooled batch of delithiated Li15Si4 configurations (the 76-atom
conventional cell, Li removed at random over the whole range, as a screen pools
its candidates' configurations) with the relax path alone: the batched model
(:func:`sianode_flows.forcefields.load_model`) and the batched relaxation
(:func:`sianode_flows.forcefields.relax_structures`), no jobflow, atomate2 or
CAVD. Prints, per potential: relaxations per hour, microseconds per atom per step,
the share of the wall time spent building CHGNet's graphs (with the batched
builder, and for a few steps through CHGNet's converter, the path before), and the
peak GPU memory.

    python benchmarks/gpu_check.py [--configs 500] [--steps 300] [--potentials chgnet,sevennet]

Called by ``benchmarks/gpu_check.sh``, which installs what the machine lacks.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def configurations(n_configs: int, seed: int) -> list:
    """Return ``n_configs`` Li15Si4 cells with a random number of Li removed at random."""
    from sianode_flows.builtin import li15si4

    cell = li15si4(primitive=False)
    lithium = [i for i, site in enumerate(cell) if site.specie.symbol == "Li"]
    rng = np.random.default_rng(seed)
    structures = []
    for _ in range(n_configs):
        removed = rng.choice(lithium, size=rng.integers(0, len(lithium) + 1), replace=False)
        structure = cell.copy()
        structure.remove_sites(sorted(int(i) for i in removed))
        structure.perturb(0.05)
        structures.append(structure)
    return structures


def run(potential: str, structures: list, steps: int, device: str, graph: str) -> dict:
    """Relax the pool; return the figures."""
    import torch

    from sianode_flows.forcefields import load_model, relax_structures

    model = load_model(potential, device=device, chgnet_graph=graph)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    outcomes = relax_structures(structures, model, fmax=0.05, steps=steps)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    atom_steps = sum(len(o.initial_structure) * max(o.n_steps, 1) for o in outcomes)
    return {
        "elapsed": elapsed,
        "per_hour": len(outcomes) / elapsed * 3600,
        "us_per_atom_step": elapsed / atom_steps * 1e6,
        "graph_share": getattr(model, "graph_seconds", float("nan")) / elapsed,
        "memory_gib": (
            torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
        ),
        "converged": sum(o.converged for o in outcomes),
        "failed": sum(o.failed for o in outcomes),
        "n": len(outcomes),
    }


def main() -> None:
    """Relax the pool with each potential and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", type=int, default=500)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--potentials", default="chgnet,sevennet")
    parser.add_argument("--converter-configs", type=int, default=100)
    parser.add_argument("--converter-steps", type=int, default=20)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    structures = configurations(args.configs, args.seed)
    atoms = sum(len(s) for s in structures)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    print(f"{len(structures)} configurations, {atoms} atoms, on {name}, torch {torch.__version__}")
    runs = []
    for potential in [p for p in args.potentials.split(",") if p]:
        runs.append((potential, "torch", structures, args.steps))
        if potential == "chgnet":  # the converter's share, on a smaller pool, a few steps
            runs.append(
                (potential, "converter", structures[: args.converter_configs], args.converter_steps)
            )
    for potential, graph, pool, steps in runs:
        try:
            figures = run(potential, pool, steps, args.device, graph)
        except ImportError as error:
            print(f"{potential}: not installed here ({error})")
            continue
        label = f"{potential} ({graph} graphs)" if potential == "chgnet" else potential
        print(
            f"{label:26s} {figures['n']} configurations, cap {steps} steps: "
            f"{figures['elapsed']:7.1f} s, {figures['per_hour']:9.0f} relax/h, "
            f"{figures['us_per_atom_step']:7.2f} us per atom-step, graphs "
            f"{figures['graph_share'] * 100:5.1f} % of the time, peak GPU memory "
            f"{figures['memory_gib']:5.1f} GiB, converged {figures['converged']}, "
            f"failed {figures['failed']}",
            flush=True,
        )


if __name__ == "__main__":
    main()

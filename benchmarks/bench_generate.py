"""Train the conditional generator, sample for a target, verify, and compare to baselines.

1. Training set: structures of ``../shared/data`` with Li or Si, at most
   ``--max-atoms`` sites, all elements metals or metalloids (alloys: the
   chemistry of the target); labels computed here (capacity; R_t by CAVD).
2. Train the default small model for ``--train-seconds`` on the CPU (or CUDA).
3. Sample ``--samples`` structures for the target: Li and Si required, capacity of
   at least 1500 mAh/g, R_t 1.6 A.
4. Baselines with the same number of samples: pyxtal random crystals with the
   model's compositions, and element substitution into the known Li-Si(-X)
   phases of the training set.
5. Verify every sample the same way (validity, batched CHGNet relaxation capped at
   ``--steps``, energy change, capacity, R_t, novelty against the training set,
   uniqueness) and print every metric per method.

    python benchmarks/bench_generate.py [--train-seconds 300] [--samples 100]
        [--steps 150] [--seed 0] [--checkpoint bench_generate.pt] [--device cpu]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def print_metrics(metrics: list) -> None:
    """One block per method: every metric of the issue."""
    for doc in metrics:
        capacity, radius = doc.capacity, doc.r_t

        def stat(stats: dict, key: str) -> str:
            value = stats.get(key) if stats else None
            return "n/a" if value is None else f"{value:.2f}"

        print(
            f"{doc.method:13s} n {doc.n_samples:3d}  valid {doc.validity_rate:.2f}  "
            f"unique {doc.uniqueness_rate or 0:.2f}  novel {doc.novelty_rate or 0:.2f}  "
            f"Li+Si {doc.required_elements_rate:.2f}  "
            f"dE<4% (paper) {doc.energy_change_stable_rate or 0:.2f}  "
            f"capacity>=min {doc.capacity_on_target_rate:.2f}"
        )
        print(
            f"{'':13s} capacity median {stat(capacity, 'median')} mAh/g "
            f"[{stat(capacity, 'p25')}, {stat(capacity, 'p75')}]; "
            f"R_t median {stat(radius, 'median')} A [{stat(radius, 'p25')}, "
            f"{stat(radius, 'p75')}], median |R_t - target| {stat(radius, 'median_abs_error')} A"
        )


def main() -> None:
    """Train, sample, verify and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-seconds", type=float, default=300)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-atoms", type=int, default=20)
    parser.add_argument("--checkpoint", default="bench_generate.pt")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)

    from sianode_flows.analysis.validation import is_alloy
    from sianode_flows.generative import GenerationTarget
    from sianode_flows.generative.checkpoint import load_checkpoint, save_checkpoint
    from sianode_flows.generative.data import build_examples, load_shared_structures
    from sianode_flows.generative.train import train_model
    from sianode_flows.jobs.generate import draw_baseline, metrics_document, verify_structures

    start = time.perf_counter()
    pairs = load_shared_structures(DATA, ("Li", "Si"), max_atoms=args.max_atoms)
    pairs = [(key, s) for key, s in pairs if is_alloy(s)]
    examples = build_examples(pairs, max_atoms=args.max_atoms, workers=2)
    training = [e.structure for e in examples]
    n_target = sum(e.capacity_mAh_g >= 1500 for e in examples)
    print(
        f"training set: {len(examples)} alloy structures with Li or Si (<= {args.max_atoms} "
        f"sites), {n_target} at >= 1500 mAh/g; labelled in {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    result = train_model(
        examples,
        seed=args.seed,
        device=args.device,
        progress=False,
        time_limit_s=args.train_seconds,
        epochs=1000,
        patience=20,
    )
    save_checkpoint(args.checkpoint, result.model, result.summary())
    first, last = result.initial_losses, result.final_losses
    print(
        f"trained {len(result.history)} epochs in {result.elapsed_s:.0f} s: "
        f"train loss {first['train_loss']:.2f} -> {last['train_loss']:.2f}, "
        f"validation loss {first['val_loss']:.2f} -> {last['val_loss']:.2f}",
        flush=True,
    )

    target = GenerationTarget(
        required_elements=("Li", "Si"), capacity_mAh_g=2000.0, channel_radius=1.6
    )
    model = load_checkpoint(args.checkpoint)
    start = time.perf_counter()
    samples = {"model": model.sample(args.samples, target, seed=args.seed)}
    print(f"sampled {args.samples} in {time.perf_counter() - start:.1f} s", flush=True)
    compositions = [s.composition for s in samples["model"]]
    samples["pyxtal"] = draw_baseline("pyxtal", compositions, args.samples, target, args.seed)
    references = [
        s for s in training if {"Li", "Si"} <= {el.symbol for el in s.composition.elements}
    ]
    samples["substitution"] = draw_baseline(
        "substitution", references, args.samples, target, args.seed
    )
    metrics = []
    for method, structures in samples.items():
        start = time.perf_counter()
        docs = verify_structures(structures, method, target, args.seed, training, steps=args.steps)
        metrics.append(metrics_document(docs, method, target))
        print(
            f"verified {len(docs)} {method} samples in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    print(f"target: Li and Si, capacity >= {target.min_capacity_mAh_g:.0f} mAh/g, R_t 1.6 A")
    print_metrics(metrics)


if __name__ == "__main__":
    main()

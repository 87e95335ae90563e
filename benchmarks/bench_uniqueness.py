"""Uniqueness of the generator's samples: prior temperature and distinct sampling.

Samples ``--samples`` structures for one target at several prior temperatures,
plainly and with :func:`~sianode_flows.generative.sampling.sample_distinct`
(draw until every sample matches none of the others), and prints per setting:
validity, uniqueness among the valid samples (pymatgen's StructureMatcher on the
samples as generated), the capacity and R_t medians (R_t by CAVD, unrelaxed) and
the sampling time. Needs a checkpoint (``sianode train`` or bench_discovery.py).

    python benchmarks/bench_uniqueness.py --checkpoint bench_discovery.pt
        [--samples 100] [--temperatures 1 1.5 2] [--r-t 1.0] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    """Sample at each setting and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 1.5, 2.0])
    parser.add_argument("--r-t", type=float, default=1.0)
    parser.add_argument("--capacity", type=float, default=2000.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from sianode_flows.analysis.capacity import gravimetric_capacity
    from sianode_flows.analysis.channel import channel_radii_many
    from sianode_flows.generative.checkpoint import load_checkpoint
    from sianode_flows.generative.metrics import check_validity, unique_mask
    from sianode_flows.generative.sampling import sample_distinct
    from sianode_flows.generative.target import GenerationTarget

    model = load_checkpoint(args.checkpoint)
    target = GenerationTarget(capacity_mAh_g=args.capacity, channel_radius=args.r_t)
    print(f"{args.samples} samples, target R_t {args.r_t} A, capacity {args.capacity:.0f} mAh/g")
    print("temperature distinct  valid unique  capacity med  R_t med  R_t hit  time (s)")
    for temperature in args.temperatures:
        for distinct in (False, True):
            start = time.perf_counter()
            if distinct:
                samples = sample_distinct(model, args.samples, target, args.seed, temperature)
            else:
                samples = model.sample(args.samples, target, args.seed, temperature=temperature)
            elapsed = time.perf_counter() - start
            valid = [s for s in samples if check_validity(s)[0]]
            unique = sum(unique_mask(valid)) / len(valid) if valid else 0.0
            capacities = [gravimetric_capacity(s) for s in valid]
            radii = [r.r_t for r in channel_radii_many(valid) if not isinstance(r, Exception)]
            hits = sum(abs(r - args.r_t) <= 0.2 for r in radii) / max(len(samples), 1)
            print(
                f"{temperature:11.1f} {distinct!s:8s} {len(valid) / len(samples):6.2f} "
                f"{unique:6.2f} {np.median(capacities):13.0f} {np.median(radii):8.2f} "
                f"{hits:8.2f} {elapsed:9.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

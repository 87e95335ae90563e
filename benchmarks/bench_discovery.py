"""The discovery loop, measured: model vs substitution vs pyxtal at the same targets.

1. Training set: the Li/Si alloys of ``../shared/data`` (<= 20 sites), labelled here
   (capacity; R_t by CAVD). Train the default model for ``--epochs`` (or load
   ``--checkpoint`` when it exists).
2. For each R_t target (``--targets``, capacity ``--capacity``): ``--samples``
   samples from the model; as many from the substitution baseline (capacity-aware,
   references: the Li-Si(-X) phases of the training data) and from pyxtal (the
   model's compositions at that target).
3. Every set goes through the same ``VerifyMaker``: CHGNet relaxation (``--steps``),
   reference hulls of each system from ``../shared/data`` (same settings, built once),
   novelty against the data, capacity, R_t, hit rates.
4. Per method: validity, uniqueness, novelty, S.U.N. at 0.1 and 0.0 eV/atom, hit
   rates per target and Spearman's rho between target and achieved R_t.
5. Stage 2: the promoted samples (valid, converged, unique, novel, E_hull <= 0.1,
   >= 1500 mAh/g, not over-lithiated) of every method, up to ``--screen-top`` each,
   through ``ChannelStabilityMaker`` (sequential: 10 + 10 per round up to
   ``--max-configs``); the verdicts are counted.

``model+select`` is the same model with generate-then-select (``--oversample K``
samples drawn per sample kept, the nearest to the target by capacity and R_t as
generated): a sampling strategy on top of the model, shown beside it.

    python benchmarks/bench_discovery.py [--epochs 25] [--samples 30]
        [--targets 0.6 1.0 1.4] [--steps 150] [--screen-top 4] [--max-configs 30]
        [--oversample 4] [--distinct] [--seed 0] [--checkpoint bench_discovery.pt]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
METHODS = ("model", "model+select", "substitution", "pyxtal")
"""Rows of the table; ``model+select`` is the model with generate-then-select."""


def train_or_load(path: Path, epochs: int, seed: int) -> tuple[Path, list]:
    """Label the training alloys; train unless the checkpoint exists."""
    from sianode_flows.analysis.validation import is_alloy
    from sianode_flows.generative.checkpoint import save_checkpoint
    from sianode_flows.generative.data import build_examples, load_shared_structures
    from sianode_flows.generative.train import train_model

    start = time.perf_counter()
    pairs = [p for p in load_shared_structures(DATA, ("Li", "Si"), max_atoms=20) if is_alloy(p[1])]
    references = [
        s
        for _, s in load_shared_structures(DATA, ("Li", "Si"), max_atoms=200)
        if {"Li", "Si"} <= {el.symbol for el in s.composition.elements} and is_alloy(s)
    ]
    if not path.is_file():
        examples = build_examples(pairs, max_atoms=20, workers=2)
        result = train_model(examples, seed=seed, epochs=epochs, patience=epochs, progress=False)
        save_checkpoint(path, result.model, result.summary())
        print(
            f"trained on {len(examples)} alloys, {len(result.history)} epochs, "
            f"{time.perf_counter() - start:.0f} s with labelling",
            flush=True,
        )
    return path, references


def run_flows(flows: list, store) -> None:
    """Run flows locally on a store."""
    from jobflow import Flow, run_locally

    run_locally(Flow(flows), store=store, log=False, ensure_success=False)


def main() -> None:
    """Generate, verify, screen and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.6, 1.0, 1.4])
    parser.add_argument("--capacity", type=float, default=2000.0)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--screen-top", type=int, default=4)
    parser.add_argument("--max-configs", type=int, default=30)
    parser.add_argument("--oversample", type=int, default=4)
    parser.add_argument(
        "--distinct", action="store_true", help="Draw distinct model samples (sianode's default)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default="bench_discovery.pt")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)

    from jobflow import JobStore
    from maggma.stores import MemoryStore
    from scipy.stats import spearmanr

    from sianode_flows.generative.target import GenerationTarget
    from sianode_flows.jobs.generate import compositions_of
    from sianode_flows.jobs.promote import promote
    from sianode_flows.jobs.relax import default_relax_maker
    from sianode_flows.makers import (
        BaselineMaker,
        ChannelStabilityMaker,
        GenerateMaker,
        ScreeningMaker,
        VerifyMaker,
    )
    from sianode_flows.makers.generate import verified_samples

    total = time.perf_counter()
    checkpoint, references = train_or_load(Path(args.checkpoint), args.epochs, args.seed)
    known = [str(DATA)]
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    verify_maker = VerifyMaker(steps=args.steps)
    verified: dict[tuple[str, float], object] = {}
    metrics: dict[tuple[str, float], object] = {}
    for index, value in enumerate(args.targets):
        target = GenerationTarget(capacity_mAh_g=args.capacity, channel_radius=value)
        seed = args.seed + index
        start = time.perf_counter()
        model = GenerateMaker(
            checkpoint=str(checkpoint.resolve()),
            n_samples=args.samples,
            target=target,
            seed=seed,
            distinct=args.distinct,
        ).make()
        selected = GenerateMaker(
            checkpoint=str(checkpoint.resolve()),
            n_samples=args.samples,
            target=target,
            seed=seed,
            oversample=args.oversample,
            distinct=args.distinct,
        ).make()
        formulas = compositions_of(model.output)
        pyxtal = BaselineMaker(method="pyxtal", n_samples=args.samples, target=target, seed=seed)
        pyxtal = pyxtal.make(formulas.output)
        substitution = BaselineMaker(n_samples=args.samples, target=target, seed=seed)
        substitution = substitution.make(references)
        flows = [model, selected, formulas, pyxtal, substitution]
        sets = {"model": model, "model+select": selected}
        sets.update(substitution=substitution, pyxtal=pyxtal)
        for row, drawn in sets.items():
            method = row.split("+")[0]
            flow = verify_maker.make(drawn.output, method, target, known, seed, known)
            flows.append(flow)
            verified[(row, value)] = verified_samples(flow)
            metrics[(row, value)] = flow.output
        run_flows(flows, store)
        print(
            f"target R_t {value} A: generated and verified in {time.perf_counter() - start:.0f} s"
        )

    docs = {key: ref.resolve(store) for key, ref in verified.items()}
    stats = {key: ref.resolve(store)[0] for key, ref in metrics.items()}
    print(f"\n{args.samples} samples per method and target; capacity target {args.capacity:.0f}")
    header = (
        "method        R_t target  valid unique novel SUN0.1 SUN0.0 E_hull<=0.1 over-Li "
        "R_t med  R_t hit cap hit"
    )
    print(header)
    for method in METHODS:
        for value in args.targets:
            m = stats[(method, value)]

            def rate(x: float | None) -> str:
                return "  n/a" if x is None else f"{x:5.2f}"

            print(
                f"{method:13s} {value:10.2f} {rate(m.validity_rate)} {rate(m.uniqueness_rate)}  "
                f"{rate(m.novelty_rate)} {rate(m.sun_rate.get('0.1'))}  "
                f"{rate(m.sun_rate.get('0.0'))}  {rate(m.hull_stable_rate.get('0.1'))}       "
                f"{rate(m.over_lithiated_rate)}  {rate(m.r_t.get('median'))}   "
                f"{rate(m.r_t_hit_rate)}  {rate(m.capacity_hit_rate)}"
            )
        xs = [v for v in args.targets for d in docs[(method, v)] if d.r_t is not None]
        ys = [d.r_t for v in args.targets for d in docs[(method, v)] if d.r_t is not None]
        rho = spearmanr(xs, ys) if len(set(ys)) > 1 else None
        rho_text = "n/a" if rho is None else f"{rho.statistic:.2f} (p {rho.pvalue:.1e})"
        print(f"{method:13s} Spearman rho (target, achieved R_t) over all targets: {rho_text}")

    # stage 2: promoted samples of each method through the channel screen
    channel = ChannelStabilityMaker(
        n_configs=10,
        round_size=10,
        max_configs=args.max_configs,
        relax_maker=default_relax_maker(steps=300),
    )
    promoted = {}
    for method in METHODS:
        samples = [d for v in args.targets for d in docs[(method, v)]]
        promoted[method] = promote(samples, 1500.0, 0.1, str(checkpoint))[: args.screen_top]
    flows = [
        ScreeningMaker(channel_maker=channel, min_capacity=1500.0).make(promoted[m])
        for m in METHODS
        if promoted[m]
    ]
    start = time.perf_counter()
    if flows:
        run_flows(flows, store)
    print(f"\nstage 2 ({time.perf_counter() - start:.0f} s): channel verdicts of promoted samples")
    from sianode_flows.results import fit_documents

    fits = {f.candidate_id: f for f in fit_documents(store)}
    for method in METHODS:
        verdicts = Counter(
            fits[c.candidate_id].verdict for c in promoted[method] if c.candidate_id in fits
        )
        slopes = [
            f"{c.formula} {fits[c.candidate_id].slope:.2f}"
            for c in promoted[method]
            if c.candidate_id in fits and fits[c.candidate_id].slope is not None
        ]
        print(f"{method:13s} promoted {len(promoted[method])}: {dict(verdicts)}; slopes {slopes}")
    energies = [
        d.e_above_hull
        for key, group in docs.items()
        for d in group
        if key[0] == "model" and d.e_above_hull is not None
    ]
    if energies:
        print(f"model E_hull median {np.median(energies):.3f} eV/atom over {len(energies)}")
    print(f"total {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()

"""Calibrate the slope interval: independent replicate designs with real relaxations.

Two phases, each rerunnable:

``relax``
    For each system (the built-in Li15Si4 and Li30Si7Ge cells, and Li13Si4 mp-672287
    from ``../shared/data``) and each seed, one fixed design of ``--configs``
    configurations (ends included) is drawn, relaxed (CHGNet, batched FIRE, fmax
    0.05 eV/A, 1000-step cap: the screen's default) and measured (CAVD R_t), exactly
    as ``ChannelStabilityMaker(n_configs=N, seed=S)`` does. Li15Si4 and Li30Si7Ge
    share their Li sites, so one seed draws the same removed sites in both (common
    random numbers). The points go to ``benchmarks/data/calibration_points.json``
    (every relaxation is also kept in the on-disk store, so an interrupted run
    resumes where it stopped).

``analyze``
    Compares interval methods on those points (see
    :mod:`sianode_flows.analysis.calibration`): for each method the mean width and
    the coverage over the replicate designs (of the replicates' mean slope), and
    the coverage and width over many designs simulated from the measured points.

    OMP_NUM_THREADS=2 python benchmarks/bench_calibration.py relax --seeds 100-107
    python benchmarks/bench_calibration.py analyze

On a GPU, more replicates (a finer population, and first rounds other than 20):
``python benchmarks/bench_calibration.py relax --device cuda --seeds 100-163 --store
bench_calibration_gpu``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POINTS = Path(__file__).resolve().parent / "data" / "calibration_points.json"
HARVESTED = ("mp2018_cgcnn.csv.gz", "mp-672287")  # Li13Si4, Pbam, 34 sites


def seed_range(text: str) -> list[int]:
    """Parse ``100-107`` or ``100,101`` into seeds."""
    if "-" in text:
        first, last = (int(part) for part in text.split("-"))
        return list(range(first, last + 1))
    return [int(part) for part in text.split(",")]


def systems() -> dict:
    """Return the calibration candidates by label."""
    from sianode_flows.builtin import builtin_records
    from sianode_flows.io import iter_csv_rows, record_from_row
    from sianode_flows.jobs.candidates import select_from_records

    records = [r for r in builtin_records() if r.source_id in ("Li15Si4", "Li30Si7Ge1")]
    path = DATA / HARVESTED[0]
    if path.is_file():
        for number, row in enumerate(iter_csv_rows(path), 1):
            if row.get("source_id") == HARVESTED[1]:
                records.append(record_from_row(row, path.name, number))
                break
    selected = select_from_records(records, min_capacity=0).selected
    return {candidate.formula: candidate for candidate in selected}


def load_points() -> dict:
    """Return the stored points: ``{system: {seed: [point, ...]}}``."""
    if not POINTS.is_file():
        return {"systems": {}}
    return json.loads(POINTS.read_text())


def relax(args: argparse.Namespace) -> None:
    """Run the replicate designs and store their points."""
    from jobflow import run_locally

    from sianode_flows.jobs.relax import default_relax_maker
    from sianode_flows.makers import ChannelStabilityMaker
    from sianode_flows.stores import build_job_store

    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)
    store = build_job_store(args.store)
    workdir = Path(args.store) / "runs"
    workdir.mkdir(parents=True, exist_ok=True)
    found = systems()
    data = load_points()
    data["protocol"] = {"n_configs": args.configs, "relax": "CHGNet batched FIRE, fmax 0.05"}
    for seed in seed_range(args.seeds):
        for label, candidate in found.items():
            entry = data["systems"].setdefault(label, {"candidate_id": candidate.candidate_id})
            designs = entry.setdefault("designs", {})
            if str(seed) in designs and len(designs[str(seed)]) >= args.configs:
                continue
            relax = default_relax_maker(device=args.device) if args.device else None
            maker = ChannelStabilityMaker(
                n_configs=args.configs, seed=seed, **({"relax_maker": relax} if relax else {})
            )
            flow = maker.make(candidate)
            start = time.perf_counter()
            run_locally(flow, store=store, log=False, create_folders=True, root_dir=workdir)
            fit = flow.output.resolve(store)
            designs[str(seed)] = [
                {
                    "config_index": p.config_index,
                    "soc": p.soc,
                    "r_t": p.r_t,
                    "converged": p.converged,
                    "volume_per_framework_atom": p.volume_per_framework_atom,
                }
                for p in fit.points
            ]
            entry["n_failed"] = entry.get("n_failed", 0) + fit.n_failed
            POINTS.parent.mkdir(parents=True, exist_ok=True)
            POINTS.write_text(json.dumps(data, indent=1))
            print(
                f"{label:12s} seed {seed}: slope {fit.slope:+.3f} over {fit.n_configs} points, "
                f"{fit.n_failed} failed, {time.perf_counter() - start:.0f} s",
                flush=True,
            )


def populations(data: dict) -> dict:
    """Return the measured populations by system label."""
    from sianode_flows.analysis.calibration import Population

    n_configs = data["protocol"]["n_configs"]
    return {
        label: Population.from_designs(label, entry["designs"], n_configs)
        for label, entry in data["systems"].items()
    }


def replicate_table(data: dict, pops: dict) -> None:
    """Print each system's replicate slopes and each method's width and coverage on them."""
    import numpy as np

    from sianode_flows.analysis.calibration import METHODS

    n_configs = data["protocol"]["n_configs"]
    rng = np.random.default_rng(0)
    print(f"Replicate designs ({n_configs} configurations each, ends included)")
    for label, population in pops.items():
        designs = data["systems"][label]["designs"]
        truth = population.truth(n_configs)
        slopes = []
        rows = {name: [] for name in METHODS}
        for seed in sorted(designs, key=int):
            points = population.design([replicate_rounds(population, seed, designs)], n_configs)
            from sianode_flows.analysis.intervals import estimate_slope

            slopes.append(estimate_slope(points).slope)
            for name, method in METHODS.items():
                rows[name].append(method(points, rng))
        spread = np.std(slopes, ddof=1)
        print(
            f"\n{label}: {len(slopes)} replicates, slopes "
            + " ".join(f"{s:.3f}" for s in slopes)
            + f"\n  mean {np.mean(slopes):.3f}, sd {spread:.3f}: replicate 95 % spread "
            f"+-{1.96 * spread:.3f} (width {3.92 * spread:.3f}); population slope {truth:.3f}"
        )
        for name, intervals in rows.items():
            found = [i for i in intervals if i is not None]
            if not found:
                print(f"  {name:30s} -")
                continue
            widths = [high - low for low, high in found]
            covered = sum(low <= truth <= high for low, high in found)
            print(
                f"  {name:30s} width {np.mean(widths):.3f} ({min(widths):.3f}-{max(widths):.3f})"
                f", {np.mean(widths) / (3.92 * spread):.2f}x the replicate spread, "
                f"holds the population slope {covered}/{len(found)}"
            )


def replicate_rounds(population, seed: str, designs: dict):
    """Return the choice array that reproduces one replicate design from the population."""
    import numpy as np

    column = sorted(designs, key=int).index(seed)
    strata = np.arange(population.n_strata)
    return np.stack([strata, np.full(strata.size, column)], axis=1)


def pairing_table(data: dict, pops: dict) -> None:
    """Print the slope difference Li30Si7Ge - Li15Si4 per replicate, paired and unpaired."""
    import numpy as np

    from sianode_flows.analysis.intervals import estimate_difference

    n_configs = data["protocol"]["n_configs"]
    si, ge = pops["Li15Si4"], pops["Li30Si7Ge"]
    seeds = sorted(data["systems"]["Li15Si4"]["designs"], key=int)
    designs = data["systems"]["Li15Si4"]["designs"]
    differences, paired, unpaired, shuffled = [], [], [], []
    for k, seed in enumerate(seeds):
        rounds = [replicate_rounds(si, seed, designs)]
        other = [replicate_rounds(si, seeds[(k + 1) % len(seeds)], designs)]
        mine, theirs = ge.design(rounds, n_configs), si.design(rounds, n_configs)
        same = estimate_difference(mine, theirs, paired=True)
        differences.append(same.slope)
        paired.append(np.subtract(*same.interval()[::-1]))
        unpaired.append(np.subtract(*estimate_difference(mine, theirs, False).interval()[::-1]))
        shuffled.append(estimate_difference(ge.design(other, n_configs), theirs, False).slope)
    print(
        f"\nLi30Si7Ge - Li15Si4 over the {len(seeds)} replicates: paired (the same seed, "
        f"the same removed sites) sd {np.std(differences, ddof=1):.3f}, mean "
        f"{np.mean(differences):+.3f}; unpaired (the next seed's Li30Si7Ge) sd "
        f"{np.std(shuffled, ddof=1):.3f}; interval width paired {np.mean(paired):.3f}, "
        f"unpaired {np.mean(unpaired):.3f}"
    )


def simulated_table(data: dict, pops: dict, args: argparse.Namespace) -> None:
    """Print each method's coverage over designs simulated from the measured points."""
    from sianode_flows.analysis.calibration import simulated_coverage

    n_configs = data["protocol"]["n_configs"]
    layouts = [(n_configs, 1), (n_configs, 5), (n_configs, 9)]
    print(f"\nSimulated designs ({args.designs} per row) drawn from the measured points")
    for label, population in pops.items():
        for first, rounds in layouts:
            total = first + (rounds - 1) * 10
            results, truth, spread = simulated_coverage(
                population, first, 10, rounds, args.designs, seed=args.seed
            )
            print(
                f"{label:10s} {total:3d} configurations ({rounds} rounds): population slope "
                f"{truth:.3f}, sd of the slope {spread:.3f} (95 % spread width {3.92 * spread:.3f})"
            )
            for result in results:
                if not result.total:
                    continue
                print(
                    f"  {result.method:30s} coverage {result.rate:.3f} +- "
                    f"{result.standard_error:.3f}, mean width {result.mean_width:.3f}"
                )


def procedure_table(pops: dict, args: argparse.Namespace) -> None:
    """Print what the sequential procedure decides, and how often wrongly, on real points."""
    import numpy as np

    from sianode_flows.analysis.calibration import simulate_comparison, simulate_threshold
    from sianode_flows.analysis.fit import bootstrap_slope_interval, fit_slope
    from sianode_flows.analysis.sequential import LookPlan
    from sianode_flows.makers import ChannelStabilityMaker
    from sianode_flows.settings import get_settings

    # sianode screen's sequential protocol; its first round is the replicate designs'
    # (the populations' strata), whose finer strata the 8 replicates could not fill
    settings = get_settings()
    defaults = ChannelStabilityMaker(
        n_configs=settings.first_round,
        round_size=settings.round_size,
        max_configs=settings.max_configs,
    )
    plan = LookPlan(
        defaults.n_configs,
        defaults.round_size,
        defaults.max_configs,
        2,
        defaults.min_configs,
        defaults.level,
        defaults.spending,
    )
    reference = pops["Li15Si4"]
    first = plan.first_round
    print(
        f"\nThe sequential procedure ({args.screens} screens per row): {first} + "
        f"{plan.round_size} per round up to {plan.max_configs}, {plan.spending} spending, "
        f"{plan.level:.0%} over all looks, margin {defaults.margin}, against Li15Si4"
    )

    def row(label: str, outcomes: list) -> None:
        verdicts = [o.verdict for o in outcomes]
        shares = ", ".join(
            f"{v} {verdicts.count(v) / len(verdicts):.3f}" for v in sorted(set(verdicts))
        )
        configs = np.mean([o.configs for o in outcomes])
        print(f"  {label:46s} {shares}; mean configurations {configs:.1f}")

    for label, paired in (("Li30Si7Ge", True), ("Li13Si4", False)):
        candidate = pops[label]
        measured = candidate.truth(first) - reference.truth(first)
        kind = "paired" if paired else "unpaired"
        for name, shift in (
            (f"as measured (difference {measured:+.3f})", 0.0),
            ("shifted to the reference's slope (0)", -measured),
            ("shifted to +margin (+0.100)", defaults.margin - measured),
        ):
            outcomes = simulate_comparison(
                reference, candidate, paired, plan, defaults.margin, args.screens, shift, args.seed
            )
            row(f"{label} ({kind}), {name}", outcomes)

    def old_interval(points, plan, drawn):
        interval = bootstrap_slope_interval(points.soc, points.value, 1000, 0.95, drawn)
        return fit_slope(points.soc, points.value).slope, interval.low, interval.high

    shift = 0.5 - reference.truth(10)
    old_plan = LookPlan(10, 10, 60, 2, 3, 0.95, "none")
    shifted = reference.truth(first)
    print("\nAt the threshold: Li15Si4's points shifted to a slope of exactly 0.5")
    row(
        "today's rule (10 + 10 to 60, plain 95 % each look)",
        simulate_threshold(
            reference, old_plan, 0.5, args.screens // 4, shift, args.seed, old_interval
        ),
    )
    row(
        "the new rule (absolute, against +-0.5)",
        simulate_threshold(reference, plan, 0.5, args.screens, 0.5 - shifted, args.seed),
    )


def analyze(data: dict, args: argparse.Namespace) -> None:
    """Print the calibration tables."""
    pops = populations(data)
    replicate_table(data, pops)
    pairing_table(data, pops)
    simulated_table(data, pops, args)
    procedure_table(pops, args)


def main() -> None:
    """Run one phase."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="phase", required=True)
    run = sub.add_parser("relax")
    run.add_argument("--seeds", default="100-107")
    run.add_argument("--configs", type=int, default=20)
    run.add_argument("--store", default="bench_calibration")
    run.add_argument("--device", default=None, help="e.g. cuda: relax on a GPU")
    study = sub.add_parser("analyze")
    study.add_argument("--designs", type=int, default=2000, help="simulated designs per row")
    study.add_argument("--screens", type=int, default=2000, help="simulated screens per row")
    study.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.phase == "relax":
        relax(args)
    else:
        analyze(load_points(), args)


if __name__ == "__main__":
    main()

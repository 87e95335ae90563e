"""The paper's question under one protocol: is a candidate's slope lower than pure Si's.

For every candidate, the built-in demo cells (Li15Si4 and Li30Si7X, X = Ge, Sn, Zn)
and the Li-Si(-X) candidates above 1500 mAh/g that a harvest of ``../shared/data``
finds (duplicates of a built-in cell left out), on one on-disk store, with the default
relax (CHGNet, batched FIRE, fmax 0.05 eV/A, 1000-step cap), side by side:

- **today's rule**: a fixed 30 configurations, the pairs-bootstrap 95 % interval of
  the least-squares slope, judged against +-0.5 A per 100 % SOC (the rule before
  this benchmark, computed here from the fixed-30 fits' points);
- **the new procedure**: ``ScreeningMaker`` with its defaults, every candidate
  compared with pure Si (the built-in Li15Si4) measured by the same protocol: a first
  round of 20, rounds of 10 while the relative verdict is undecided, up to 120, the
  repeated intervals of the slope difference (collapsed strata, O'Brien-Fleming
  spending, 95 % over all looks; paired where a candidate shares Li15Si4's cell);
- **fixed designs** of N = 20, 30, ..., 120 configurations with the same intervals
  (one look each, so the plain 95 % value), read from the same configurations: for
  that, every candidate and the reference are sampled on to 120 afterwards (the new
  procedure's relaxations are reused, so it spends only what it spent).

It prints, per candidate, both rules' slope, interval, verdict and relaxations spent,
then the relaxations per decided candidate for each protocol and how many stay
undecided. The reference's relaxations count for the procedures that need it. The
store keeps every relaxation, so an interrupted run resumes where it stopped.

    OMP_NUM_THREADS=2 python benchmarks/bench_verdicts.py [--max-sites 40]

Options: ``--store`` (default ``bench_sequential``), ``--only-builtin``, ``--device``
and ``--pool-atoms`` (relax on a GPU, all candidates' configurations in shared pools).
On a GPU, every candidate of the shared data whatever its size (Li21Si5, Li22Si5 and
Li12Si7 have 104-152 sites):

    python benchmarks/bench_verdicts.py --device cuda --pool-atoms 20000 --store bench_gpu

and, to see what a higher cap decides (``--max-configs``, default 120):

    python benchmarks/bench_verdicts.py --device cuda --pool-atoms 20000 --max-configs 400
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
from sianode_flows.stores import build_job_store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CAP = 120


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


def run(flow, store, workdir: Path) -> float:
    """Run a flow on the store; return the wall time."""
    start = time.perf_counter()
    run_locally(flow, store=store, log=False, create_folders=True, root_dir=workdir)
    return time.perf_counter() - start


def todays_rule(fit) -> tuple[str, float | None, float | None]:
    """Judge a fixed fit as the rule before the reference did: pairs bootstrap, +-0.5."""
    from sianode_flows.analysis.fit import bootstrap_slope_interval, fit_slope
    from sianode_flows.jobs.fit import judge

    fitted = [p for p in fit.points if p.excluded is None]
    soc, r_t = [p.soc for p in fitted], [p.r_t for p in fitted]
    slope = fit_slope(soc, r_t).slope
    interval = bootstrap_slope_interval(soc, r_t, 1000, 0.95, fit.protocol.seed)
    return judge(slope, 0.5, "interval", (interval.low, interval.high)), interval.low, interval.high


def fixed_design(fit, reference, n_configs: int, margin: float) -> tuple[str, float, tuple]:
    """Judge a candidate on its first ``n_configs`` configurations, one look at 95 %."""
    from sianode_flows.analysis.sequential import LookPlan
    from sianode_flows.jobs.fit import relative_fields

    def first(doc):
        return [p for p in doc.points if p.excluded is None and p.config_index < n_configs]

    protocol = fit.protocol
    plan = LookPlan(n_configs, protocol.round_size, None, 2, 20, 0.95, "none")
    shortened = reference.model_copy(update={"points": first(reference)})
    fields = relative_fields(
        first(fit), shortened, protocol, plan, n_configs, margin, bool(fit.paired)
    )
    return (
        fields["relative_verdict"],
        fields.get("relative_difference"),
        (fields.get("relative_ci_low"), fields.get("relative_ci_high")),
    )


def drawn(fit) -> int:
    """Return the configurations a fit drew (every round, failures included)."""
    return sum(len(r.config_indices) for r in fit.rounds) or fit.n_configs


def interval(low, high) -> str:
    """Return an interval as text."""
    return "-" if low is None or high is None else f"[{low:+.3f}, {high:+.3f}]"


def main() -> None:
    """Run today's rule and the new procedure on every candidate; print the comparison."""
    from sianode_flows.jobs.relax import default_relax_maker
    from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker

    parser = argparse.ArgumentParser()
    parser.add_argument("--max-sites", type=int, default=400)
    parser.add_argument("--store", default="bench_sequential")
    parser.add_argument("--only-builtin", action="store_true")
    parser.add_argument("--device", default=None, help="e.g. cuda")
    parser.add_argument("--pool-atoms", type=int, default=None)
    parser.add_argument(
        "--max-configs", type=int, default=CAP, help="the sequential cap (default 120)"
    )
    args = parser.parse_args()
    cap = args.max_configs
    relax = {"relax_maker": default_relax_maker(device=args.device)} if args.device else {}
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)
    found = candidates(args.max_sites, args.only_builtin)
    print(f"{len(found)} candidates: " + ", ".join(f"{c.formula} ({c.nsites})" for c in found))
    store = build_job_store(args.store)
    workdir = Path(args.store) / "runs"
    workdir.mkdir(parents=True, exist_ok=True)

    fixed30 = {}
    for candidate in found:
        flow = ChannelStabilityMaker(n_configs=30, **relax).make(candidate)
        elapsed = run(flow, store, workdir)
        fixed30[candidate.candidate_id] = flow.output.resolve(store)
        print(f"today's rule, {candidate.formula}: {elapsed:.0f} s", flush=True)

    sequential = {"n_configs": 20, "round_size": 10, "max_configs": cap}  # sianode screen's
    screening = ScreeningMaker(
        channel_maker=ChannelStabilityMaker(**sequential, **relax), pool_atoms=args.pool_atoms
    )
    flow = screening.make(found)
    elapsed = run(flow, store, workdir)
    new = {f.candidate_id: f for f in flow.output.resolve(store)}
    print(f"new procedure: {elapsed:.0f} s", flush=True)
    reference = next(f for f in new.values() if f.role == "reference")

    to_cap = ScreeningMaker(
        channel_maker=ChannelStabilityMaker(**sequential, **relax, min_configs=cap),
        pool_atoms=args.pool_atoms,
    )
    flow = to_cap.make(found)
    elapsed = run(flow, store, workdir)
    full = {f.candidate_id: f for f in flow.output.resolve(store)}
    full_reference = next(f for f in full.values() if f.role == "reference")
    print(f"every candidate to {cap}: {elapsed:.0f} s\n", flush=True)

    print(
        f"{'candidate':26s} | today: fixed 30, pairs bootstrap vs +-0.5 | new: against "
        f"{reference.formula} ({reference.n_configs} configurations, slope "
        f"{reference.slope:.3f} {interval(reference.slope_ci_low, reference.slope_ci_high)})"
    )
    print(
        f"{'':26s} | {'slope':>7s} {'95% CI':>18s} {'verdict':9s} | {'slope':>7s} "
        f"{'interval':>18s} {'minus Si':>8s} {'interval':>18s} {'paired':6s} "
        f"{'verdict':9s} {'configs':>7s}"
    )
    today_spent = new_spent = 0
    today_decided = new_decided = 0
    for candidate in found:
        if candidate.candidate_id == reference.candidate_id:
            continue
        old = fixed30[candidate.candidate_id]
        verdict, low, high = todays_rule(old)
        fit = new[candidate.candidate_id]
        today_spent += drawn(old)
        new_spent += drawn(fit)
        today_decided += verdict in ("stable", "unstable")
        new_decided += fit.relative_verdict in ("lower", "higher", "similar")
        print(
            f"{candidate.formula + ' ' + (candidate.source_id or ''):26.26s} | "
            f"{old.slope:+7.3f} {interval(low, high):>18s} {verdict:9s} | {fit.slope:+7.3f} "
            f"{interval(fit.slope_ci_low, fit.slope_ci_high):>18s} "
            f"{fit.relative_difference:+8.3f} "
            f"{interval(fit.relative_ci_low, fit.relative_ci_high):>18s} "
            f"{'yes' if fit.paired else 'no':6s} {fit.relative_verdict:9s} {drawn(fit):7d}",
            flush=True,
        )
    new_spent += drawn(reference)
    n_others = len(found) - 1
    print()
    print(
        f"today's rule: {today_spent} relaxations, {today_decided} of {n_others} decided "
        f"(against +-0.5), {per(today_spent, today_decided)} relaxations per decided"
    )
    print(
        f"new procedure: {new_spent} relaxations (reference {drawn(reference)} included), "
        f"{new_decided} of {n_others} decided against {reference.formula}, "
        f"{per(new_spent, new_decided)} relaxations per decided"
    )
    for n_configs in range(20, cap + 1, 10):
        verdicts = [
            fixed_design(
                full[c.candidate_id], full_reference, n_configs, screening.channel_maker.margin
            )[0]
            for c in found
            if c.candidate_id != reference.candidate_id
        ]
        decided = sum(v in ("lower", "higher", "similar") for v in verdicts)
        spent = n_configs * len(found)
        print(
            f"fixed {n_configs:3d} against {reference.formula}: {spent} relaxations, "
            f"{decided} of {n_others} decided ({', '.join(verdicts)}), "
            f"{per(spent, decided)} relaxations per decided"
        )


def per(spent: int, decided: int) -> str:
    """Return relaxations per decided candidate as text."""
    return "-" if decided == 0 else f"{spent / decided:.1f}"


if __name__ == "__main__":
    main()

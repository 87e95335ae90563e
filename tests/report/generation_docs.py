"""Generation documents for the report tests: real structures, values put in by hand.

The samples are real pymatgen structures (Li15Si4 and Li30Si7Ge, their capacity and
CAVD channel radius computed); the verification flags, the metrics and the sweep
are set here so that the page can be checked against known numbers. They are
stored as jobflow stores them: list outputs of jobs named as the generation flow
names them, the structures of ``verify`` moved to the data store.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from jobflow import job, run_locally
from pymatgen.core import Lattice, Structure
from scipy.stats import spearmanr

from sianode_flows.analysis.capacity import gravimetric_capacity
from sianode_flows.analysis.channel import channel_radii
from sianode_flows.builtin import li15si4, substituted
from sianode_flows.generative.target import GenerationTarget
from sianode_flows.schemas import (
    CandidateDocument,
    GeneratedStructureDocument,
    GenerationMetricsDocument,
    Provenance,
)
from sianode_flows.schemas.generation import ConditioningSweepDocument, TargetOutcome
from tests.report.conftest import built_fit, store_documents

TARGET = GenerationTarget(capacity_mAh_g=3000.0, channel_radius=1.6)
"""Target of the generation run."""
OTHER_TARGET = GenerationTarget(capacity_mAh_g=2500.0, channel_radius=1.2)
"""Target of a second run (a second metrics table)."""
GENERATED_ID = "generated:Li30Si7Ge:0123456789"
"""Identifier of the generated candidate promoted from sample ``model-7-1``."""
SWEEP_TARGETS = (0.6, 0.9, 1.2, 1.5)
"""Target R_t (A) of the conditioning sweep."""

MODEL_METRICS = {
    "n_samples": 4,
    "validity_rate": 0.75,
    "uniqueness_rate": 2 / 3,
    "novelty_rate": 1.0,
    "energy_change_stable_rate": 0.5,
    "hull_stable_rate_0.1": 0.75,
    "hull_stable_rate_0.0": 0.5,
    "sun_rate_0.1": 0.5,
    "sun_rate_0.0": 0.25,
    "over_lithiated_rate": 0.0,
    "r_t_hit_rate": 0.25,
    "capacity_hit_rate": 0.5,
    "r_t_median": 1.41,
    "capacity_median": 3578.6,
    "e_above_hull_median": 0.02,
    "n_errors": 1,
}
"""The model's metrics as the page must show them (``data-metric`` -> value)."""
PYXTAL_METRICS = {
    "n_samples": 10,
    "validity_rate": 0.9,
    "uniqueness_rate": 0.8,
    "novelty_rate": 0.3,
    "energy_change_stable_rate": 0.7,
    "hull_stable_rate_0.1": 0.2,
    "hull_stable_rate_0.0": 0.1,
    "sun_rate_0.1": 0.1,
    "sun_rate_0.0": 0.0,
    "over_lithiated_rate": 0.4,
    "r_t_hit_rate": 0.1,
    "capacity_hit_rate": 0.2,
    "r_t_median": 0.95,
    "capacity_median": 2100.5,
    "e_above_hull_median": 0.31,
    "n_errors": 0,
}


def metrics_of(method: str, values: dict, target: GenerationTarget) -> GenerationMetricsDocument:
    """A metrics document holding the values of a ``MODEL_METRICS``-like dict."""
    n = values["n_samples"]
    return GenerationMetricsDocument(
        method=method,
        n_samples=n,
        n_valid=round(values["validity_rate"] * n),
        n_errors=values["n_errors"],
        validity_rate=values["validity_rate"],
        uniqueness_rate=values["uniqueness_rate"],
        novelty_rate=values["novelty_rate"],
        required_elements_rate=1.0,
        energy_change_stable_rate=values["energy_change_stable_rate"],
        hull_stable_rate={t: values[f"hull_stable_rate_{t}"] for t in ("0.1", "0.0")},
        sun_rate={t: values[f"sun_rate_{t}"] for t in ("0.1", "0.0")},
        over_lithiated_rate=values["over_lithiated_rate"],
        e_above_hull={"count": n, "median": values["e_above_hull_median"]},
        r_t_hit_rate=values["r_t_hit_rate"],
        capacity_hit_rate=values["capacity_hit_rate"],
        capacity={"count": n, "median": values["capacity_median"]},
        r_t={"count": n, "median": values["r_t_median"]},
        capacity_on_target_rate=1.0,
        target=target,
    )


def sample(
    index: int,
    structure: Structure,
    *,
    valid: bool = True,
    unique: bool | None = True,
    novel: bool | None = True,
    e_above_hull: float | None = None,
    decomposition: dict[str, float] | None = None,
    seed: int = 7,
    method: str = "model",
    target: GenerationTarget = TARGET,
    **fields,
) -> GeneratedStructureDocument:
    """A verified sample of a real structure: its capacity and R_t computed.

    Hull stability and S.U.N. follow from ``e_above_hull`` (converged relaxation),
    uniqueness and novelty as ``verify_structures`` sets them.
    """
    doc = {
        "sample_id": f"{method}-{seed}-{index}",
        "method": method,
        "seed": seed,
        "target": target,
        "structure": structure,
        "formula": structure.composition.reduced_formula,
        "valid": valid,
        "has_required_elements": True,
        "has_forbidden_elements": False,
        "unique": unique if valid else None,
        "novel": novel if valid else None,
        "capacity_mAh_g": gravimetric_capacity(structure),
    }
    if valid:
        doc |= {
            "relaxed_structure": structure,
            "relax_converged": True,
            "energy_change_stable": True,
            "r_t": channel_radii(structure).r_t,
        }
    if e_above_hull is not None:
        stable = {t: e_above_hull <= float(t) + 1e-9 for t in ("0.1", "0.0")}
        doc |= {
            "e_above_hull": e_above_hull,
            "decomposition": decomposition or {doc["formula"]: 1.0},
            "hull_stable": stable,
            "sun": {t: bool(s and unique and novel) for t, s in stable.items()},
            "over_lithiated": False,
        }
    return GeneratedStructureDocument(**(doc | fields))


def model_samples() -> list[GeneratedStructureDocument]:
    """Four model samples: two S.U.N. (0.0 and 0.04 eV/atom), a duplicate, an invalid one."""
    host = li15si4()
    germanium = substituted(host, "Ge")
    broken = Structure(Lattice.cubic(3.0), ["Li", "Si"], [[0, 0, 0], [0.05, 0, 0]])
    return [
        sample(0, host, e_above_hull=0.0),
        sample(
            1,
            germanium,
            e_above_hull=0.04,
            decomposition={"Li15Si4": 0.75, "Li15Ge4": 0.25},
        ),
        sample(2, host, unique=False, e_above_hull=0.0),
        sample(3, broken, valid=False, invalid_reason="atoms too close"),
    ]


def generated_candidate(samples: list[GeneratedStructureDocument]) -> CandidateDocument:
    """The candidate promoted from sample ``model-7-1`` (Li30Si7Ge), as ``promote`` builds it."""
    doc = samples[1]
    provenance = Provenance(
        source="generated",
        source_id=doc.sample_id,
        properties={
            "method": doc.method,
            "checkpoint": "model.pt",
            "target": doc.target.model_dump(),
            "seed": doc.seed,
            "sample_id": doc.sample_id,
            "e_above_hull": doc.e_above_hull,
            "decomposition": doc.decomposition,
        },
    )
    candidate = CandidateDocument.from_structure(
        doc.relaxed_structure, [provenance], candidate_id=GENERATED_ID
    )
    candidate.e_above_hull = doc.e_above_hull
    return candidate


def outcome(target: float | None, values: list[float], tolerance: float) -> TargetOutcome:
    """What the samples of one target achieved: quartiles, hit rate."""
    p25, median, p75 = (float(v) for v in np.percentile(values, [25, 50, 75]))
    hit = (
        None if target is None else sum(abs(v - target) <= tolerance for v in values) / len(values)
    )
    return TargetOutcome(
        target=target,
        n_samples=len(values),
        achieved=values,
        median=median,
        p25=p25,
        p75=p75,
        hit_rate=hit,
    )


def r_t_sweep(seed: int = 0) -> ConditioningSweepDocument:
    """An R_t sweep whose samples follow their targets with noise; a wide control."""
    rng = np.random.default_rng(seed)
    achieved = {t: list(0.2 + 0.8 * t + 0.12 * rng.standard_normal(12)) for t in SWEEP_TARGETS}
    xs = [t for t, values in achieved.items() for _ in values]
    ys = [v for values in achieved.values() for v in values]
    rho = spearmanr(xs, ys)
    return ConditioningSweepDocument(
        method="model",
        checkpoint="model.pt",
        property="r_t",
        unit="A",
        tolerance=0.2,
        relaxed=False,
        seed=seed,
        outcomes=[outcome(t, [float(v) for v in achieved[t]], 0.2) for t in SWEEP_TARGETS],
        control=outcome(None, [float(v) for v in 1.0 + 0.4 * rng.standard_normal(12)], 0.2),
        spearman_rho=float(rho.statistic),
        spearman_p=float(rho.pvalue),
        monotone=True,
    )


def older(document, days: int = 1, **update):
    """A copy of a document made some days earlier, with other fields if given."""
    return document.model_copy(
        update={"created_at": document.created_at - timedelta(days=days), **update}
    )


@job(name="verify", data=Structure)
def verify(documents):
    """Store verified samples as the verify job does: a list, structures in the data store."""
    return documents


@job(name="generation metrics")
def generation_metrics(documents):
    """Store metrics as the generation metrics job does: a list, one per method."""
    return documents


@job(name="conditioning sweep")
def conditioning_sweep(document):
    """Store a sweep as the conditioning sweep job does."""
    return document


@job(name="promote samples")
def promote_samples(documents):
    """Store promoted candidates as the promote job does: a list."""
    return documents


def store_outputs(store, maker, output) -> None:
    """Run one job that returns ``output``, storing it as jobflow does."""
    run_locally(maker(output), store=store, ensure_success=True, log=False)


def generation_documents() -> dict:
    """Samples, metrics of two methods and two targets, a sweep, a promoted candidate and fits.

    The generated candidate's fit is stable with the smallest slope: it ranks first;
    the known fit (``mp:mp-1201871``) is unstable.
    """
    samples = model_samples()
    candidate = generated_candidate(samples)
    return {
        "samples": samples,
        "candidate": candidate,
        "generated_fit": built_fit(
            GENERATED_ID, candidate.formula, candidate.capacity_mAh_g, 0.1, 0.05, seed=5
        ),
        "known_fit": built_fit("mp:mp-1201871", "Li21Si5", 4010.9, 1.6, 0.05, seed=2),
        "metrics": [
            metrics_of("model", MODEL_METRICS, TARGET),
            metrics_of("pyxtal", PYXTAL_METRICS, TARGET),
        ],
        "other_metrics": [metrics_of("model", PYXTAL_METRICS, OTHER_TARGET)],
        "sweep": r_t_sweep(),
    }


def fill(store, documents: dict) -> None:
    """Store a generation run, a sweep, a promoted candidate and the fits as jobflow does.

    An older metrics document and an older sweep are stored too: the report must
    show the newest of each.
    """
    store_outputs(store, verify, documents["samples"])
    stale = older(documents["metrics"][0], validity_rate=0.125)
    store_outputs(store, generation_metrics, [stale])
    store_outputs(store, generation_metrics, documents["metrics"])
    store_outputs(store, generation_metrics, documents["other_metrics"])
    store_outputs(store, conditioning_sweep, older(documents["sweep"], spearman_rho=-0.5))
    store_outputs(store, conditioning_sweep, documents["sweep"])
    store_outputs(store, promote_samples, [documents["candidate"]])
    store_documents(store, documents["generated_fit"], documents["known_fit"])

"""Jobs that generate Li-Si-X samples (model or baselines) and verify them.

Verification: validity checks, one batched CHGNet relaxation of all valid samples,
the energy above the convex hull of the known phases of each sample's system
(relaxed the same way, :mod:`sianode_flows.jobs.hull`) with its decomposition
products, capacity (and whether the sample holds more Li than any known phase),
CAVD channel radius R_t of the relaxed structure, uniqueness among the samples and
novelty against the training set. The paper's own criterion, the relative energy
change on relaxation below 4 %, is kept as its figure (``energy_change_stable``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobflow import job
from pymatgen.core import Composition, Structure

from sianode_flows.analysis.capacity import gravimetric_capacity
from sianode_flows.analysis.channel import channel_radii_many
from sianode_flows.analysis.hull import chemsys_of, hull_position, li_per_host
from sianode_flows.generative.baseline import pyxtal_baseline, substitution_baseline
from sianode_flows.generative.metrics import (
    STABLE_ENERGY_CHANGE,
    check_validity,
    energy_change_fraction,
    novel_mask,
    summarize_targets,
    unique_mask,
    within_tolerance,
)
from sianode_flows.generative.target import GenerationTarget
from sianode_flows.jobs.hull import as_pairs, diagram_of, known_in_system, relax_for_energies
from sianode_flows.schemas.generation import (
    HULL_TOLERANCES,
    GeneratedStructureDocument,
    GenerationMethod,
    GenerationMetricsDocument,
)
from sianode_flows.schemas.hull import HullDocument

logger = logging.getLogger(__name__)


def _as_structure(item: Any) -> Structure:
    """Return a structure from a structure or a record with a ``structure``."""
    return item if isinstance(item, Structure) else item.structure


@job(name="generate", data=Structure)
def generate_samples(
    checkpoint: str,
    n: int,
    target: GenerationTarget,
    seed: int,
    temperature: float = 1.0,
    distinct: bool = False,
    oversample: int = 1,
) -> list[Structure]:
    """Job: sample structures from a trained generative model.

    Parameters
    ----------
    checkpoint
        Path of the model checkpoint.
    n
        Number of samples.
    target
        Conditions of the generation.
    seed
        Seed of the sampling.
    temperature
        Spread of the prior when drawing the latent vectors.
    distinct
        Draw until ``n`` samples match none of the others
        (:func:`sianode_flows.generative.sampling.sample_distinct`).
    oversample
        Draw this many samples per sample kept and keep those nearest the target
        (:func:`sianode_flows.generative.sampling.sample_selected`); 1: none.

    Returns
    -------
    list of Structure
        The samples, as generated.
    """
    from sianode_flows.generative.checkpoint import load_checkpoint
    from sianode_flows.generative.sampling import sample_distinct, sample_selected

    model = load_checkpoint(checkpoint)
    if oversample > 1:
        return sample_selected(model, n, target, seed, oversample, temperature, distinct)
    if distinct:
        return sample_distinct(model, n, target, seed, temperature)
    return list(model.sample(n, target, seed, temperature=temperature))


def draw_baseline(
    method: str,
    inputs: Sequence[Any],
    n: int,
    target: GenerationTarget,
    seed: int,
) -> list[Structure]:
    """Draw baseline samples.

    Parameters
    ----------
    method
        ``"substitution"`` (inputs: reference structures or records) or
        ``"pyxtal"`` (inputs: compositions or formulas).
    inputs
        References or compositions.
    n
        Number of samples.
    target
        Required and forbidden elements.
    seed
        Seed of the draws.

    Returns
    -------
    list of Structure
        The samples (pyxtal may return fewer than ``n``).
    """
    if method == "substitution":
        return substitution_baseline([_as_structure(i) for i in inputs], target, n, seed)
    if method == "pyxtal":
        return pyxtal_baseline([Composition(i) for i in inputs], n, seed)
    raise ValueError(f"unknown baseline {method!r}: 'substitution' or 'pyxtal'")


@job(name="baseline", data=Structure)
def baseline_samples(
    method: str, inputs: Sequence[Any], n: int, target: GenerationTarget, seed: int
) -> list[Structure]:
    """Job: draw baseline samples (see :func:`draw_baseline`)."""
    return draw_baseline(method, inputs, n, target, seed)


@job(name="compositions")
def compositions_of(structures: Sequence[Structure]) -> list[str]:
    """Job: the formulas of some samples (the pyxtal baseline draws the same ones)."""
    return [structure.composition.formula.replace(" ", "") for structure in structures]


def known_of_samples(known: Sequence[Any], samples: Sequence[Structure]) -> list[Structure]:
    """Return the known structures novelty is judged against, for these samples.

    Structures and records are taken as they are; data files (paths) are read
    for the samples' chemical systems only (novelty compares equal formulas).
    """
    inline = [pair[1] for pair in as_pairs(known)]
    if not any(isinstance(item, str | Path) for item in known):
        return inline
    paths = [item for item in known if isinstance(item, str | Path)]
    loaded = []
    for chemsys in sorted({chemsys_of(s) for s in samples}):
        loaded += [s for _, s in known_in_system(paths, chemsys)]
    return inline + loaded


def _capacity(structure: Structure) -> float | None:
    """Return the gravimetric capacity (mAh/g), or ``None`` without Li or host."""
    try:
        return gravimetric_capacity(structure)
    except ValueError:
        return None


def _judge_against_hulls(
    fields: list[dict[str, Any]], hulls: Sequence[HullDocument] | None
) -> None:
    """Set each relaxed sample's energy above hull, decomposition and lithiation flag."""
    by_system = {hull.chemsys: hull for hull in hulls or ()}
    diagrams: dict[str, Any] = {}
    for doc in fields:
        structure: Structure = doc["structure"]
        doc["chemsys"] = chemsys_of(structure)
        doc["li_per_host"] = li_per_host(structure)
        hull = by_system.get(doc["chemsys"])
        if hull is None:
            continue
        doc["hull_key"] = hull.hull_key
        if hull.max_li_per_host is not None and doc["li_per_host"] is not None:
            doc["over_lithiated"] = doc["li_per_host"] > hull.max_li_per_host + 1e-9
        energy = doc.get("final_energy_per_atom")
        if energy is None or not hull.entries:
            continue
        if hull.chemsys not in diagrams:
            diagrams[hull.chemsys] = diagram_of(hull)
        position = hull_position(diagrams[hull.chemsys], structure.composition, energy)
        doc["e_above_hull"] = position.e_above_hull
        doc["decomposition"] = position.decomposition


def _targets_and_stability(doc: dict[str, Any], target: GenerationTarget) -> None:
    """Set the hit flags, hull stability (converged only) and S.U.N. of one sample."""
    capacity, r_t = doc.get("capacity_mAh_g"), doc.get("r_t")
    if capacity is not None:
        within = within_tolerance(capacity, target.capacity_mAh_g, "capacity")
        doc["capacity_hit"] = within and not doc.get("over_lithiated")
        if doc.get("over_lithiated"):
            doc["capacity_on_target"] = False
    if r_t is not None:
        doc["r_t_hit"] = within_tolerance(r_t, target.channel_radius, "r_t")
    e_hull = doc.get("e_above_hull")
    if e_hull is None:
        return
    converged = bool(doc.get("relax_converged"))
    for tolerance in HULL_TOLERANCES:
        stable = converged and e_hull <= tolerance + 1e-9
        doc.setdefault("hull_stable", {})[str(tolerance)] = stable
        novel, unique = doc.get("novel"), doc.get("unique")
        doc.setdefault("sun", {})[str(tolerance)] = (
            None if novel is None or unique is None else bool(stable and unique and novel)
        )


def verify_structures(
    structures: Sequence[Structure],
    method: GenerationMethod,
    target: GenerationTarget,
    seed: int,
    training_structures: Sequence[Any] | None = None,
    steps: int = 300,
    fmax: float = 0.05,
    relax: bool = True,
    hulls: Sequence[HullDocument] | None = None,
) -> list[GeneratedStructureDocument]:
    """Verify generated structures and build one document per sample.

    Parameters
    ----------
    structures
        The samples, as generated.
    method
        What generated them.
    target
        Conditions of the generation run.
    seed
        Seed of the generation run (goes into the sample ids).
    training_structures
        Structures (or records) the novelty is judged against: the training set
        and every known structure; none: not judged.
    steps
        Step cap of the relaxation.
    fmax
        Force criterion of the relaxation (eV/A).
    relax
        Relax the valid samples with CHGNet; without, R_t is of the structure as
        generated and stability is not judged.
    hulls
        Reference hulls (:func:`sianode_flows.jobs.hull.reference_hulls`, same
        potential and settings); a sample of a system without one gets no energy
        above hull.

    Returns
    -------
    list of GeneratedStructureDocument
        One per sample, in order; failures are recorded in ``error``.
    """
    fields: list[dict[str, Any]] = []
    for index, structure in enumerate(structures):
        try:
            valid, reason = check_validity(structure)
        except Exception as exc:  # a broken structure is invalid, not a crash
            valid, reason = False, f"{type(exc).__name__}: {exc}"
        symbols = {el.symbol for el in structure.composition.elements}
        capacity = _capacity(structure)
        fields.append(
            {
                "sample_id": f"{method}-{seed}-{index}",
                "method": method,
                "seed": seed,
                "target": target,
                "structure": structure,
                "formula": structure.composition.reduced_formula,
                "valid": valid,
                "invalid_reason": reason,
                "has_required_elements": set(target.required_elements) <= symbols,
                "has_forbidden_elements": bool(symbols & set(target.forbidden_elements)),
                "capacity_mAh_g": capacity,
                "capacity_on_target": capacity is not None
                and capacity >= target.min_capacity_mAh_g,
            }
        )
    valid_indices = [i for i, f in enumerate(fields) if f["valid"]]

    # one batched relaxation of every valid sample
    final: dict[int, Structure] = {}
    if relax:
        for doc in fields:
            doc["energy_change_stable"] = False
        results = relax_for_energies([structures[i] for i in valid_indices], steps, fmax)
        for index, (outcome, error) in zip(valid_indices, results, strict=True):
            doc = fields[index]
            if outcome is not None:
                doc["relax_steps"] = outcome.n_steps
                doc["relax_converged"] = outcome.converged
                if outcome.energies:
                    doc["initial_energy_per_atom"] = outcome.energies[0] / len(structures[index])
            if error is not None:
                doc["error"] = error
                continue
            e0 = doc["initial_energy_per_atom"]
            e1 = outcome.energies[-1] / len(outcome.structure)
            change = energy_change_fraction(e0, e1)
            doc["relaxed_structure"] = outcome.structure
            doc["final_energy_per_atom"] = e1
            doc["energy_change_fraction"] = change
            doc["energy_change_stable"] = change < STABLE_ENERGY_CHANGE
            final[index] = outcome.structure
    else:
        final = {i: structures[i] for i in valid_indices}
    _judge_against_hulls(fields, hulls)

    # channel radius of the relaxed (or, unrelaxed, the given) structures
    measured = sorted(final)
    radii = channel_radii_many([final[i] for i in measured])
    for index, found in zip(measured, radii, strict=True):
        doc = fields[index]
        if isinstance(found, Exception):
            doc["error"] = f"channel: {found}"
            continue
        doc["r_t"] = found.r_t
        doc["r_t_error"] = abs(found.r_t - target.channel_radius)

    # uniqueness among the valid samples, novelty against the training set
    compared = [final.get(i, structures[i]) for i in valid_indices]
    try:
        unique = unique_mask(compared)
        novel = (
            novel_mask(compared, known_of_samples(training_structures, compared))
            if training_structures is not None
            else [None] * len(compared)
        )
    except Exception as exc:  # the matcher failing must not lose the samples
        logger.exception("structure matching failed")
        unique = novel = [None] * len(compared)
        for index in valid_indices:
            fields[index]["error"] = fields[index].get("error") or f"matching: {exc}"
    for index, is_unique, is_novel in zip(valid_indices, unique, novel, strict=True):
        fields[index]["unique"] = is_unique
        fields[index]["novel"] = is_novel
    for doc in fields:
        _targets_and_stability(doc, target)
    return [GeneratedStructureDocument(**f) for f in fields]


@job(name="verify", data=Structure)
def verify_samples(
    structures: Sequence[Structure],
    method: GenerationMethod,
    target: GenerationTarget,
    seed: int,
    training_structures: Sequence[Any] | None = None,
    steps: int = 300,
    fmax: float = 0.05,
    relax: bool = True,
    hulls: Sequence[HullDocument] | None = None,
) -> list[GeneratedStructureDocument]:
    """Job: verify generated structures (see :func:`verify_structures`)."""
    docs = verify_structures(
        structures, method, target, seed, training_structures, steps, fmax, relax, hulls
    )
    judged = sum(bool(d.hull_stable) for d in docs)
    logger.info(
        "verified %d %s samples: %d valid, %d errors; %d of %d judged against a hull "
        "within 0.1 eV/atom of it",
        len(docs),
        method,
        sum(d.valid for d in docs),
        sum(d.error is not None for d in docs),
        sum(bool(d.hull_stable.get("0.1")) for d in docs),
        judged,
    )
    return docs


def _rate(flags: Sequence[bool | None], total: int) -> float | None:
    """Return the fraction of ``total`` that is ``True``; ``None`` when total is zero."""
    return sum(bool(f) for f in flags) / total if total else None


def metrics_document(
    documents: Sequence[GeneratedStructureDocument],
    method: GenerationMethod,
    target: GenerationTarget,
) -> GenerationMetricsDocument:
    """Compute the metrics of one method's samples.

    Parameters
    ----------
    documents
        The samples' documents (all of one method).
    method
        The method.
    target
        Conditions of the generation run.

    Returns
    -------
    GenerationMetricsDocument
        Rates over all samples (uniqueness and novelty over the valid ones) and
        capacity and R_t statistics against the target.
    """
    n = len(documents)
    valid = [d for d in documents if d.valid]
    relaxed = [d for d in documents if d.energy_change_stable is not None]
    judged_novel = [d for d in valid if d.novel is not None]
    judged_hull = [d for d in documents if d.hull_stable]
    judged_sun = [d for d in documents if any(v is not None for v in d.sun.values())]
    tolerances = [str(t) for t in HULL_TOLERANCES]
    return GenerationMetricsDocument(
        method=method,
        n_samples=n,
        n_valid=len(valid),
        n_errors=sum(d.error is not None for d in documents),
        validity_rate=_rate([d.valid for d in documents], n) or 0.0,
        uniqueness_rate=_rate([d.unique for d in valid], len(valid)),
        novelty_rate=_rate([d.novel for d in valid], len(valid)) if judged_novel else None,
        required_elements_rate=_rate(
            [d.has_required_elements and not d.has_forbidden_elements for d in documents], n
        )
        or 0.0,
        energy_change_stable_rate=(
            _rate([d.energy_change_stable for d in documents], n) if relaxed else None
        ),
        hull_stable_rate=(
            {t: _rate([d.hull_stable.get(t) for d in documents], n) or 0.0 for t in tolerances}
            if judged_hull
            else {}
        ),
        sun_rate=(
            {t: _rate([d.sun.get(t) for d in documents], n) or 0.0 for t in tolerances}
            if judged_sun
            else {}
        ),
        over_lithiated_rate=(
            _rate([d.over_lithiated for d in documents], n)
            if any(d.over_lithiated is not None for d in documents)
            else None
        ),
        e_above_hull=summarize_targets([d.e_above_hull for d in documents], 0.0),
        r_t_hit_rate=_rate([d.r_t_hit for d in documents], n),
        capacity_hit_rate=_rate([d.capacity_hit for d in documents], n),
        capacity=summarize_targets([d.capacity_mAh_g for d in documents], target.capacity_mAh_g),
        r_t=summarize_targets([d.r_t for d in documents], target.channel_radius),
        capacity_on_target_rate=_rate([d.capacity_on_target for d in documents], n) or 0.0,
        target=target,
    )


@job(name="generation metrics")
def generation_metrics(
    documents: Sequence[GeneratedStructureDocument], target: GenerationTarget
) -> list[GenerationMetricsDocument]:
    """Job: the metrics of each method present, in order of first appearance.

    Parameters
    ----------
    documents
        Verified samples, of one or several methods.
    target
        Conditions of the generation run.

    Returns
    -------
    list of GenerationMetricsDocument
        One per method.
    """
    methods = list(dict.fromkeys(d.method for d in documents))
    return [metrics_document([d for d in documents if d.method == m], m, target) for m in methods]

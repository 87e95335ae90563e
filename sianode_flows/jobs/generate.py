"""Jobs that generate Li-Si-X samples (model or baselines) and verify them.

Verification follows the paper's protocol: validity checks, one batched CHGNet
relaxation of all valid samples, the relative energy change on relaxation (below
4 % counts as stable), capacity, CAVD channel radius R_t of the relaxed structure,
uniqueness among the samples and novelty against the training set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from jobflow import job
from pymatgen.core import Composition, Structure

from sianode_flows.analysis.capacity import gravimetric_capacity
from sianode_flows.analysis.channel import channel_radii_many
from sianode_flows.generative.baseline import pyxtal_baseline, substitution_baseline
from sianode_flows.generative.metrics import (
    STABLE_ENERGY_CHANGE,
    check_validity,
    energy_change_fraction,
    novel_mask,
    summarize_targets,
    unique_mask,
)
from sianode_flows.generative.target import GenerationTarget
from sianode_flows.schemas.generation import (
    GeneratedStructureDocument,
    GenerationMethod,
    GenerationMetricsDocument,
)

logger = logging.getLogger(__name__)


def _as_structure(item: Any) -> Structure:
    """Return a structure from a structure or a record with a ``structure``."""
    return item if isinstance(item, Structure) else item.structure


@job(name="generate", data=Structure)
def generate_samples(
    checkpoint: str, n: int, target: GenerationTarget, seed: int
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

    Returns
    -------
    list of Structure
        The samples, as generated.
    """
    from sianode_flows.generative.checkpoint import load_checkpoint

    model = load_checkpoint(checkpoint)
    return list(model.sample(n, target, seed))


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


def _capacity(structure: Structure) -> float | None:
    """Return the gravimetric capacity (mAh/g), or ``None`` without Li or host."""
    try:
        return gravimetric_capacity(structure)
    except ValueError:
        return None


def _relax(
    structures: list[Structure], steps: int, fmax: float
) -> list[tuple[Any | None, str | None]]:
    """Relax structures in one batch; per structure its outcome or why there is none."""
    if not structures:
        return []
    try:
        from sianode_flows.forcefields import relax_structures
        from sianode_flows.jobs.batched_relax import cached_model

        model = cached_model("chgnet", None)
        outcomes = relax_structures(structures, model, fmax=fmax, steps=steps)
    except Exception as exc:  # the batch failed as a whole: every sample says so
        logger.exception("batched relaxation failed")
        return [(None, f"relax: {type(exc).__name__}: {exc}")] * len(structures)
    return [
        (outcome, f"relax: {outcome.error or 'failed'}" if outcome.failed else None)
        for outcome in outcomes
    ]


def verify_structures(
    structures: Sequence[Structure],
    method: GenerationMethod,
    target: GenerationTarget,
    seed: int,
    training_structures: Sequence[Any] | None = None,
    steps: int = 300,
    fmax: float = 0.05,
    relax: bool = True,
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
        Structures (or records) the novelty is judged against; none: not judged.
    steps
        Step cap of the relaxation.
    fmax
        Force criterion of the relaxation (eV/A).
    relax
        Relax the valid samples with CHGNet; without, R_t is of the structure as
        generated and stability is not judged.

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
            doc["stable"] = False
        results = _relax([structures[i] for i in valid_indices], steps, fmax)
        for index, (outcome, error) in zip(valid_indices, results, strict=True):
            doc = fields[index]
            if outcome is not None:
                doc["relax_steps"] = outcome.n_steps
                doc["relax_converged"] = outcome.converged
                if outcome.energies:
                    doc["initial_energy_per_atom"] = outcome.energies[0] / len(structures[index])
                elif error is None:
                    error = "relax: no energy recorded"
            if error is not None:
                doc["error"] = error
                continue
            e0 = doc["initial_energy_per_atom"]
            e1 = outcome.energies[-1] / len(outcome.structure)
            change = energy_change_fraction(e0, e1)
            doc["relaxed_structure"] = outcome.structure
            doc["final_energy_per_atom"] = e1
            doc["energy_change_fraction"] = change
            doc["stable"] = change < STABLE_ENERGY_CHANGE
            final[index] = outcome.structure
    else:
        final = {i: structures[i] for i in valid_indices}

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
            novel_mask(compared, [_as_structure(s) for s in training_structures])
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
) -> list[GeneratedStructureDocument]:
    """Job: verify generated structures (see :func:`verify_structures`)."""
    docs = verify_structures(
        structures, method, target, seed, training_structures, steps, fmax, relax
    )
    logger.info(
        "verified %d %s samples: %d valid, %d stable, %d errors",
        len(docs),
        method,
        sum(d.valid for d in docs),
        sum(bool(d.stable) for d in docs),
        sum(d.error is not None for d in docs),
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
    relaxed = [d for d in documents if d.stable is not None]
    judged_novel = [d for d in valid if d.novel is not None]
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
        stable_rate=_rate([d.stable for d in documents], n) if relaxed else None,
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

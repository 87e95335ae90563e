"""Generated structures, their verification, and the metrics of a generation run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pymatgen.core import Structure

from sianode_flows.generative.target import GenerationTarget
from sianode_flows.schemas.base import SianodeDocument

GenerationMethod = Literal["model", "substitution", "pyxtal"]


class GeneratedStructureDocument(SianodeDocument):
    """One generated structure and what verification found about it.

    A sample that fails anywhere (relaxation, CAVD) keeps its document, with the
    reason in ``error``.
    """

    sample_id: str = Field(..., description="Identifier: method, seed and position.")
    method: GenerationMethod = Field(..., description="What generated it.")
    seed: int = Field(..., description="Seed of the generation run.")
    target: GenerationTarget = Field(
        default_factory=GenerationTarget, description="Conditions of the generation run."
    )
    structure: Structure = Field(..., description="The structure as generated.")
    formula: str | None = Field(None, description="Reduced formula of the structure.")
    valid: bool = Field(..., description="Whether it passed the validity checks.")
    invalid_reason: str | None = Field(None, description="Why it is invalid, if it is.")
    has_required_elements: bool = Field(..., description="Whether it has every required element.")
    has_forbidden_elements: bool = Field(..., description="Whether it has a forbidden element.")
    relaxed_structure: Structure | None = Field(
        None, description="Structure after the force-field relaxation."
    )
    initial_energy_per_atom: float | None = Field(
        None, description="Energy of the structure as generated (eV/atom)."
    )
    final_energy_per_atom: float | None = Field(
        None, description="Energy after relaxation (eV/atom)."
    )
    energy_change_fraction: float | None = Field(
        None, description="|E_final - E_initial| / |E_initial| of the energy per atom."
    )
    relax_converged: bool | None = Field(None, description="Whether the relaxation converged.")
    relax_steps: int | None = Field(None, description="Optimizer steps of the relaxation.")
    stable: bool | None = Field(
        None,
        description="Valid, relaxed without failure and energy change below 4 %; "
        "None when not relaxed.",
    )
    capacity_mAh_g: float | None = Field(
        None, description="Gravimetric capacity (mAh/g); None without Li or host."
    )
    r_t: float | None = Field(
        None, description="CAVD channel radius R_t of the relaxed structure (A)."
    )
    r_t_error: float | None = Field(None, description="|R_t - target channel radius| (A).")
    capacity_on_target: bool | None = Field(
        None, description="Whether the capacity reaches the target's minimum."
    )
    novel: bool | None = Field(
        None, description="Matches no training structure; None without training set or if invalid."
    )
    unique: bool | None = Field(
        None, description="Matches no earlier valid sample of the run; None if invalid."
    )
    error: str | None = Field(None, description="Why relaxation or CAVD failed, if one did.")


class GenerationMetricsDocument(SianodeDocument):
    """The metrics of the samples of one generation method.

    Validity, required-element, stability and on-target rates are fractions of all
    samples; uniqueness and novelty rates are fractions of the valid samples.
    """

    method: GenerationMethod = Field(..., description="What generated the samples.")
    n_samples: int = Field(..., description="Number of samples.")
    n_valid: int = Field(0, description="Number of valid samples.")
    n_errors: int = Field(0, description="Samples whose relaxation or CAVD failed.")
    validity_rate: float = Field(..., description="Fraction of samples that are valid.")
    uniqueness_rate: float | None = Field(
        None, description="Fraction of valid samples that are unique."
    )
    novelty_rate: float | None = Field(
        None, description="Fraction of valid samples that are novel; None without training set."
    )
    required_elements_rate: float = Field(
        ..., description="Fraction of samples with every required and no forbidden element."
    )
    stable_rate: float | None = Field(
        None, description="Fraction of samples that are stable; None when none was relaxed."
    )
    capacity: dict[str, float | int | None] = Field(
        default_factory=dict,
        description="Capacity statistics (mAh/g): count, median, p25, p75, median_abs_error.",
    )
    r_t: dict[str, float | int | None] = Field(
        default_factory=dict,
        description="R_t statistics (A): count, median, p25, p75, median_abs_error.",
    )
    capacity_on_target_rate: float = Field(
        ..., description="Fraction of samples whose capacity reaches the target's minimum."
    )
    target: GenerationTarget = Field(
        default_factory=GenerationTarget, description="Conditions of the generation run."
    )

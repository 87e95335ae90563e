"""Generated structures, their verification, and the metrics of a generation run."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, Field
from pymatgen.core import Structure

from sianode_flows.generative.target import GenerationTarget
from sianode_flows.schemas.base import SianodeDocument

GenerationMethod = Literal["model", "substitution", "pyxtal"]

HULL_TOLERANCES = (0.1, 0.0)
"""Energies above the hull (eV/atom) counted as stable: the literature's two conventions."""

R_T_HIT_TOLERANCE = 0.2
"""A sample hits its R_t target within this distance (A)."""

CAPACITY_HIT_TOLERANCE = 0.15
"""A sample hits its capacity target within this fraction of the target."""


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
    energy_change_stable: bool | None = Field(
        None,
        validation_alias=AliasChoices("energy_change_stable", "stable"),
        description="The paper's own criterion, kept as its figure: valid, relaxed without "
        "failure and |dE|/|E| below 4 %; None when not relaxed. Not a stability verdict: "
        "see e_above_hull.",
    )
    chemsys: str | None = Field(None, description="Chemical system, e.g. 'Li-Si-Ge'.")
    e_above_hull: float | None = Field(
        None,
        description="Energy of the relaxed sample above the reference hull of its system "
        "(eV/atom, same potential and settings); None when not relaxed or no hull.",
    )
    decomposition: dict[str, float] = Field(
        default_factory=dict,
        description="Hull phases the sample decomposes into, formula -> fraction of atoms "
        "(the sample's own formula alone when it is on the hull).",
    )
    hull_key: str | None = Field(None, description="Key of the HullDocument judged against.")
    li_per_host: float | None = Field(None, description="Li atoms per host (non-Li) atom.")
    over_lithiated: bool | None = Field(
        None,
        description="More Li per host atom than the most lithiated known phase of its system "
        "(plated Li rather than an anode); never on target for capacity.",
    )
    hull_stable: dict[str, bool] = Field(
        default_factory=dict,
        description="Tolerance (eV/atom, as text: '0.1', '0.0') -> converged and within it of "
        "the hull. An unconverged sample is never stable.",
    )
    sun: dict[str, bool | None] = Field(
        default_factory=dict,
        description="Tolerance -> stable, unique and novel (S.U.N.); None when novelty "
        "was not judged.",
    )
    capacity_hit: bool | None = Field(
        None, description="Capacity within 15 % of the target and not over-lithiated."
    )
    r_t_hit: bool | None = Field(None, description="R_t within 0.2 A of the target.")
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
    energy_change_stable_rate: float | None = Field(
        None,
        validation_alias=AliasChoices("energy_change_stable_rate", "stable_rate"),
        description="The paper's figure: fraction of samples whose energy changed by less "
        "than 4 % on relaxation; None when none was relaxed.",
    )
    hull_stable_rate: dict[str, float] = Field(
        default_factory=dict,
        description="Tolerance (eV/atom) -> fraction of samples converged and within it of "
        "the hull.",
    )
    sun_rate: dict[str, float] = Field(
        default_factory=dict,
        description="Tolerance (eV/atom) -> fraction of samples stable, unique and novel.",
    )
    over_lithiated_rate: float | None = Field(
        None, description="Fraction of samples with more Li per host than any known phase."
    )
    e_above_hull: dict[str, float | int | None] = Field(
        default_factory=dict,
        description="Energy above hull statistics (eV/atom): count, median, p25, p75.",
    )
    r_t_hit_rate: float | None = Field(
        None, description="Fraction of samples whose R_t is within 0.2 A of the target."
    )
    capacity_hit_rate: float | None = Field(
        None,
        description="Fraction of samples within 15 % of the capacity target, not over-lithiated.",
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


class TargetOutcome(BaseModel):
    """What the samples drawn for one target value achieved."""

    target: float | None = Field(..., description="Target value; None for the control.")
    n_samples: int = Field(..., description="Samples drawn.")
    achieved: list[float] = Field(
        default_factory=list, description="Achieved value of every sample that has one."
    )
    median: float | None = Field(None, description="Median achieved value.")
    p25: float | None = Field(None, description="First quartile.")
    p75: float | None = Field(None, description="Third quartile.")
    hit_rate: float | None = Field(
        None, description="Fraction of the samples within the tolerance of the target."
    )


class ConditioningSweepDocument(SianodeDocument):
    """Whether changing a condition changes what the generator makes (paper, Figure 5B).

    Samples are drawn at several target values of one property (the other condition
    fixed) and, as the control, with conditions drawn from the training labels
    (the model's unconditional distribution).
    """

    method: GenerationMethod = Field("model", description="What generated the samples.")
    checkpoint: str | None = Field(None, description="Checkpoint of the model.")
    property: Literal["r_t", "capacity"] = Field(..., description="The swept condition.")
    unit: str = Field(..., description="Unit of the property.")
    tolerance: float = Field(
        ..., description="Hit tolerance: A for R_t, a fraction of the target for capacity."
    )
    relaxed: bool = Field(..., description="Whether achieved values are of relaxed samples.")
    base_target: dict = Field(
        default_factory=dict, description="The GenerationTarget the swept values replace."
    )
    seed: int = Field(0, description="Seed of the sampling.")
    outcomes: list[TargetOutcome] = Field(
        default_factory=list, description="One per target value, in increasing order."
    )
    control: TargetOutcome | None = Field(
        None, description="Samples with conditions drawn from the training labels."
    )
    spearman_rho: float | None = Field(
        None, description="Spearman's rho between target and achieved over every sample."
    )
    spearman_p: float | None = Field(None, description="Its p-value.")
    monotone: bool | None = Field(
        None, description="Whether the achieved medians rise with the target."
    )

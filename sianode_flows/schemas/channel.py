"""Delithiated configurations and their channel measurements."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from sianode_flows.schemas.base import SianodeDocument


class DelithiatedConfiguration(SianodeDocument):
    """A charged structure with some Li removed at random, before relaxation."""

    candidate_id: str = Field(..., description="Candidate it was made from.")
    config_index: int = Field(..., description="Index of the configuration (0-based).")
    soc: float = Field(..., description="State of charge: Li kept / Li in the charged cell.")
    n_li: int = Field(..., description="Li atoms kept.")
    n_li_charged: int = Field(..., description="Li atoms in the charged cell.")
    removed_sites: list[int] = Field(
        default_factory=list, description="Indices of the removed Li sites."
    )
    seed: int = Field(..., description="Seed of the random draw.")
    round: int = Field(1, description="Sampling round that drew it (1-based).")
    structure: Structure = Field(..., description="The configuration, unrelaxed.")


class RelaxationSummary(BaseModel):
    """What a relax job did, read from its task document whatever the code."""

    job_name: str | None = Field(None, description="Name of the relax job.")
    code: str | None = Field(None, description="Force field or code, e.g. 'CHGNet'.")
    energy_per_atom: float | None = Field(None, description="Final energy (eV/atom).")
    initial_energy_per_atom: float | None = Field(
        None, description="Energy of the first ionic step (eV/atom)."
    )
    n_steps: int | None = Field(None, description="Ionic steps taken.")
    converged: bool | None = Field(None, description="Whether the relaxation converged.")


class ChannelDocument(SianodeDocument):
    """Channel radii of one relaxed configuration at one state of charge."""

    candidate_id: str = Field(..., description="Candidate the configuration belongs to.")
    config_index: int = Field(..., description="Index of the configuration.")
    soc: float = Field(..., description="State of charge: Li kept / Li in the charged cell.")
    n_li: int = Field(..., description="Li atoms in the configuration.")
    n_li_charged: int = Field(..., description="Li atoms in the charged cell.")
    formula: str = Field(..., description="Formula of the configuration cell.")
    structure: Structure = Field(..., description="Relaxed structure (in the data store).")
    volume: float = Field(..., description="Relaxed cell volume (A^3).")
    volume_per_framework_atom: float = Field(
        ..., description="Relaxed volume per non-Li atom (A^3/atom)."
    )
    relaxation: RelaxationSummary = Field(
        default_factory=RelaxationSummary, description="Summary of the relaxation."
    )
    r_a: float = Field(..., description="Largest percolating radius along a (A).")
    r_b: float = Field(..., description="Largest percolating radius along b (A).")
    r_c: float = Field(..., description="Largest percolating radius along c (A).")
    r_t: float = Field(..., description="Channel radius R_t = max(R_a, R_b, R_c) (A).")
    radii: dict[str, float] = Field(..., description="Framework element radii used (A).")
    method: str = Field("cavd", description="How the radii were computed (CAVD, no face centres).")
    r_free_sphere_zeopp: float | None = Field(
        None, description="Zeo++ largest free sphere radius Df/2, cross-check (A)."
    )
    round: int = Field(1, description="Sampling round that drew the configuration.")
    relax_key: str | None = Field(
        None,
        description="Identity of the relaxation: candidate structure, draw, relax settings, "
        "potential and its version. A rerun reuses a stored relaxation with the same key.",
    )
    config_key: str | None = Field(
        None, description="Identity of this measurement: the relax key, radii and checks."
    )

"""A charged Li-Si-X anode candidate and where it came from."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from sianode_flows.schemas.base import SianodeDocument


class Provenance(BaseModel):
    """One database entry a candidate was taken from."""

    source: str = Field(..., description="Database or origin, e.g. 'mp', 'gnome', 'file'.")
    source_id: str | None = Field(None, description="Identifier in that source.")
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields as the source gave them (energies on the source's scale).",
    )


class CandidateDocument(SianodeDocument):
    """A fully lithiated (charged) structure with its capacity and channel radius."""

    candidate_id: str = Field(..., description="Stable identifier, e.g. 'mp:mp-569849'.")
    provenance: list[Provenance] = Field(
        default_factory=list,
        description="Every source entry merged into this candidate.",
    )
    structure: Structure = Field(..., description="Charged structure as given.")
    formula: str = Field(..., description="Reduced formula of the charged structure.")
    formula_cell: str = Field(..., description="Formula of the cell as given.")
    chemsys: str = Field(..., description="Chemical system, e.g. 'Li-Si'.")
    nsites: int = Field(..., description="Number of sites in the cell.")
    n_li: int = Field(..., description="Number of Li atoms in the cell.")
    host_formula: str = Field(..., description="Reduced formula with every Li removed.")
    capacity_mAh_g: float = Field(
        ..., description="Gravimetric capacity per mass of delithiated host (mAh/g)."
    )
    r_t_charged: float | None = Field(
        None,
        description="CAVD channel radius R_t of the charged structure, unrelaxed (A).",
    )
    e_above_hull: float | None = Field(
        None,
        description="Energy above the reference hull of its system (eV/atom); set for "
        "generated candidates, judged with the verification potential.",
    )

    @property
    def source(self) -> str:
        """Source of the first provenance entry."""
        return self.provenance[0].source if self.provenance else "unknown"

    @property
    def source_id(self) -> str | None:
        """Identifier of the first provenance entry."""
        return self.provenance[0].source_id if self.provenance else None

    @classmethod
    def from_structure(
        cls,
        structure: Structure,
        provenance: list[Provenance],
        candidate_id: str | None = None,
        radii: dict[str, float] | None = None,
    ) -> CandidateDocument:
        """Build a candidate: capacity and charged channel radius of a structure.

        Parameters
        ----------
        structure
            Ordered charged structure containing Li.
        provenance
            Source entries; the first names the candidate.
        candidate_id
            Identifier; ``"<source>:<source_id>"`` of the first entry by default.
        radii
            Framework radii overriding the covalent defaults (A).

        Returns
        -------
        CandidateDocument
            The candidate.
        """
        from sianode_flows.analysis.capacity import (
            gravimetric_capacity,
            host_composition,
        )
        from sianode_flows.analysis.channel import channel_radii

        comp = structure.composition
        if candidate_id is None:
            first = provenance[0] if provenance else Provenance(source="unknown")
            candidate_id = f"{first.source}:{first.source_id or comp.reduced_formula}"
        return cls(
            candidate_id=candidate_id,
            provenance=provenance,
            structure=structure,
            formula=comp.reduced_formula,
            formula_cell=comp.formula.replace(" ", ""),
            chemsys=comp.chemical_system,
            nsites=len(structure),
            n_li=int(comp["Li"]),
            host_formula=host_composition(comp).reduced_formula,
            capacity_mAh_g=gravimetric_capacity(comp),
            r_t_charged=channel_radii(structure, radii).r_t,
        )

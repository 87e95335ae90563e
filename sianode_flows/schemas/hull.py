"""A reference convex hull: known phases of one chemical system, relaxed and ranked."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sianode_flows.schemas.base import SianodeDocument


class HullEntry(BaseModel):
    """One known phase of a reference hull, after relaxation with the hull's potential."""

    formula: str = Field(..., description="Reduced formula.")
    formula_cell: str = Field(..., description="Formula of the relaxed cell.")
    source_id: str = Field(..., description="Where the structure came from.")
    nsites: int = Field(..., description="Sites in the cell.")
    energy_per_atom: float = Field(..., description="Energy of the relaxed cell (eV/atom).")
    converged: bool = Field(..., description="Whether the relaxation met the force criterion.")
    prototype: bool = Field(
        False,
        description="An element with no known structure in the references, built from a "
        "simple prototype (bcc, fcc, hcp or diamond) and relaxed.",
    )
    e_above_hull: float | None = Field(
        None, description="Energy above the hull of the other entries (eV/atom); 0 on the hull."
    )


class HullDocument(SianodeDocument):
    """The convex hull of one chemical system, for one potential and relax settings.

    Built once per system, potential and settings (``hull_key``) and reused from the
    store; generated samples of the system are judged against it.
    """

    hull_key: str = Field(..., description="Hash of system, references, potential and settings.")
    chemsys: str = Field(..., description="Chemical system, e.g. 'Li-Si'.")
    potential: str = Field(..., description="Potential and its version, e.g. 'chgnet 0.4.2'.")
    relax_settings: dict = Field(default_factory=dict, description="Step cap and fmax.")
    entries: list[HullEntry] = Field(default_factory=list, description="Every relaxed phase.")
    failures: list[str] = Field(
        default_factory=list, description="References whose relaxation failed, with the reason."
    )
    error: str | None = Field(
        None,
        description="Why no hull could be built (its samples then get no energy above "
        "hull); a hull with an error is built again on the next run.",
    )
    max_li_per_host: float | None = Field(
        None,
        description="Most Li per host atom of any known (non-prototype) phase of the system: "
        "a sample beyond it is over-lithiated.",
    )

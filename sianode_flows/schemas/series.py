"""Channel radius of database structures against their Li content (paper, Figure 2)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sianode_flows.schemas.base import SianodeDocument
from sianode_flows.schemas.fit import FitStatistics

LITHIATION_DEFINITION = (
    "Li per host atom, divided by the largest Li per host atom in the series "
    "(1 = the most lithiated structure, 0 = no Li)"
)


class SeriesPoint(BaseModel):
    """One database structure of the series."""

    source: str = Field(..., description="Source database.")
    source_id: str | None = Field(None, description="Identifier in the source.")
    formula: str = Field(..., description="Reduced formula.")
    li_per_host: float = Field(..., description="Li atoms per non-Li atom.")
    lithiation: float = Field(..., description="Relative lithiation, the fit's x (0-1).")
    r_t: float = Field(..., description="Channel radius of the framework, unrelaxed (A).")


class DatabaseSeriesDocument(SianodeDocument, FitStatistics):
    """R_t of every database structure of a chemical system against its Li content.

    No relaxation: each structure is taken as the database gives it, its Li removed
    for the channel analysis. The slope is in A per 100 % relative lithiation; the
    paper finds 0.85 +- 0.23 for Li-Si (Pearson r 0.634, Spearman rho 0.764).
    """

    chemsys: str = Field(..., description="Chemical system, e.g. 'Li-Si'.")
    lithiation_definition: str = Field(LITHIATION_DEFINITION, description="The fit's x.")
    points: list[SeriesPoint] = Field(default_factory=list, description="Fitted points.")
    n_structures: int = Field(..., description="Structures fitted.")
    n_failed: int = Field(0, description="Structures whose channel analysis failed.")
    note: str | None = Field(None, description="Why no slope could be fitted, if so.")

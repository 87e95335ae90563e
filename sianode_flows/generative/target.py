"""What a generation run asks for: required and forbidden elements, capacity, R_t."""

from __future__ import annotations

from pydantic import BaseModel, Field


class GenerationTarget(BaseModel):
    """The conditions of a conditional generation run (paper, section 3.4).

    Parameters
    ----------
    required_elements
        Elements every sample must contain (Li and Si by default).
    forbidden_elements
        Elements no sample may contain.
    capacity_mAh_g
        Target gravimetric capacity (mAh/g); samples should reach at least
        ``min_capacity_mAh_g``.
    min_capacity_mAh_g
        The capacity a sample must reach to count as on target.
    channel_radius
        Target channel radius R_t of the charged structure (A).
    """

    required_elements: tuple[str, ...] = Field(("Li", "Si"))
    forbidden_elements: tuple[str, ...] = Field(())
    capacity_mAh_g: float = Field(2000.0)
    min_capacity_mAh_g: float = Field(1500.0)
    channel_radius: float = Field(1.6)

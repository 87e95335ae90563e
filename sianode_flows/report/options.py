"""What a report draws: its options, apart from the code that draws them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sianode_flows.settings import get_settings

DEFAULT_R_T_WINDOW = (1.5, 2.5)
"""Channel radii (A) of the paper's promising charged candidates (Figure 3)."""


@dataclass
class ReportOptions:
    """What a report draws.

    Parameters
    ----------
    min_capacity
        Capacity line of the capacity figure (mAh/g); settings' ``min_capacity``
        (1500) by default.
    r_t_window
        Channel-radius window marked on the capacity figure (A).
    top
        Top-ranked candidates whose structures are drawn.
    max_fit_figures
        Top-ranked candidates that get an R_t against SOC figure (``None``: all).
    embed
        Embed the figures in the page (one self-contained file) rather than
        reference them by relative path.
    reference_chemsys
        Chemical system marked as the reference on the slope figure.
    generated_top
        Best generated candidates (or S.U.N. samples) whose structures are drawn in
        the generation section (paper, Figure 5A).
    """

    min_capacity: float = field(default_factory=lambda: get_settings().min_capacity)
    r_t_window: tuple[float, float] = DEFAULT_R_T_WINDOW
    top: int = 3
    max_fit_figures: int | None = 100
    embed: bool = True
    reference_chemsys: str = "Li-Si"
    generated_top: int = 3

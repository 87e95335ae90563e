"""What the report's figures share: resolution, colors, saving."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from matplotlib.lines import Line2D

from sianode_flows.schemas.fit import SHOWN_VERDICTS

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

DPI = 150
"""Resolution of every PNG (dots per inch)."""
ANGSTROM = "\N{ANGSTROM SIGN}"
FIT_COLOR = "#d62728"
VERDICTS: tuple[str, ...] = SHOWN_VERDICTS
"""Every verdict a fit can show, in ranking order: against the reference, the absolute
one without a reference, and the reference's own."""
STATUS_COLORS = {
    "lower": "#1a9850",
    "stable": "#2ca02c",
    "similar": "#17becf",
    "undecided": "#ff7f0e",
    "higher": "#a50026",
    "unstable": "#d62728",
    "insufficient-data": "#7f7f7f",
    "reference": "#000000",
    "below capacity": "#c7c7c7",
    "not screened": "#1f77b4",
}
"""Colors of candidate statuses (fit verdicts, or why there is no fit), in legend order."""
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
"""Colors of other categories (sources), in order of use."""


def save(fig: Figure, path: Path) -> Path:
    """Write a figure as a PNG, creating its folder; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    logger.debug("wrote %s", path)
    return path


def legend_text(handles: list, text: str) -> None:
    """Add a line of text to a legend (an invisible handle)."""
    handles.append(Line2D([], [], linestyle="none", label=text))


def slug(text: str) -> str:
    """Return a file-name-safe version of an identifier."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def legend_beside(ax: Any, handles: list) -> None:
    """Put a legend beside the axes (upper left outside), where it hides no point."""
    ax.legend(
        handles=handles,
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0,
        framealpha=0.9,
    )

"""Static views of crystal structures: the charged cell and its framework without Li."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ase.data import atomic_numbers
from ase.data.colors import jmol_colors
from ase.visualize.plot import plot_atoms
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from sianode_flows.report.style import save

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.axes import Axes
    from pymatgen.core import Structure

logger = logging.getLogger(__name__)

ROTATION = "10x,-20y,0z"
"""Viewing direction (ASE rotation string): slightly off an axis, so channels show."""
RADIUS_SCALE = 0.6
"""Atoms drawn at this fraction of their covalent radius, so the cell can be seen into."""
MAX_CONVENTIONAL_SITES = 400
"""Largest conventional cell drawn instead of the cell as given."""


def display_cell(structure: Structure) -> Structure:
    """Return the conventional standard cell of a structure, or the structure as given.

    The conventional cell shows the symmetry (a cube for Li15Si4 instead of its
    rhombohedral primitive cell); cells that would grow past
    :data:`MAX_CONVENTIONAL_SITES`, or that spglib cannot analyse, are kept as given.

    Parameters
    ----------
    structure
        An ordered structure.

    Returns
    -------
    Structure
        The cell to draw.
    """
    try:
        conventional = SpacegroupAnalyzer(structure).get_conventional_standard_structure()
    except Exception as exc:  # spglib refuses some cells; drawing the given one is fine
        logger.debug("no conventional cell for %s: %s", structure.formula, exc)
        return structure
    return conventional if len(conventional) <= MAX_CONVENTIONAL_SITES else structure


def _draw(ax: Axes, structure: Structure, title: str, rotation: str) -> None:
    atoms = AseAtomsAdaptor.get_atoms(structure)
    plot_atoms(atoms, ax, rotation=rotation, radii=RADIUS_SCALE, show_unit_cell=2)
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)


def element_legend(structure: Structure) -> list[Patch]:
    """Return legend patches: each element in its Jmol color, with its count in the cell.

    Parameters
    ----------
    structure
        An ordered structure.

    Returns
    -------
    list[matplotlib.patches.Patch]
        One patch per element, in order of electronegativity.
    """
    composition = structure.composition
    return [
        Patch(
            facecolor=jmol_colors[atomic_numbers[element.symbol]],
            edgecolor="black",
            label=f"{element.symbol} ({int(composition[element])})",
        )
        for element in sorted(composition.elements, key=lambda e: e.X)
    ]


def structure_figure(
    structure: Structure, title: str, path: Path, rotation: str = ROTATION
) -> Path:
    """Draw a charged structure beside its framework with every Li removed.

    Both are drawn in the conventional cell (:func:`display_cell`).

    Parameters
    ----------
    structure
        Charged structure (ordered, containing Li).
    title
        Figure title, e.g. the formula and rank.
    path
        PNG to write.
    rotation
        ASE rotation string of the view.

    Returns
    -------
    Path
        The PNG written.
    """
    structure = display_cell(structure)
    framework = structure.copy()
    framework.remove_species(["Li"])
    fig = Figure(figsize=(8.0, 4.4))
    _draw(
        fig.add_subplot(1, 2, 1), structure, f"charged: {structure.composition.formula}", rotation
    )
    if len(framework):
        _draw(fig.add_subplot(1, 2, 2), framework, "framework (Li removed)", rotation)
    fig.suptitle(title, fontsize=11)
    fig.legend(
        handles=element_legend(structure),
        loc="lower center",
        ncol=len(structure.composition.elements),
        fontsize=9,
        frameon=False,
    )
    return save(fig, path)

"""Training examples for the generative model: structures, labels and crystal graphs.

The labels are computed by the project itself: the gravimetric capacity of
:func:`sianode_flows.analysis.capacity.gravimetric_capacity` (0 for a structure
without Li) and the CAVD channel radius R_t of
:func:`sianode_flows.analysis.channel.channel_radii_many`.
"""

from __future__ import annotations

import csv
import gzip
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from pymatgen.core import Composition, Element, Structure
from torch_geometric.data import Data

from sianode_flows.analysis.capacity import MIGRANT, gravimetric_capacity
from sianode_flows.analysis.channel import channel_radii, channel_radii_many

if TYPE_CHECKING:
    from collections.abc import Iterator

logger = logging.getLogger(__name__)

ELEMENTS: tuple[str, ...] = tuple(Element.from_Z(z).symbol for z in range(1, 95))
"""The element vocabulary of the model: H (Z = 1) to Pu (Z = 94), index Z - 1."""

ELEMENT_INDEX: dict[str, int] = {symbol: i for i, symbol in enumerate(ELEMENTS)}
"""Index of every element symbol in :data:`ELEMENTS`."""

DEFAULT_CUTOFF = 6.0
"""Radius (A) of the periodic neighbour graph."""

DEFAULT_MAX_NEIGHBORS = 20
"""Nearest neighbours kept per atom in the graph."""


@dataclass
class CrystalExample:
    """One training example: an ordered structure and its condition labels.

    Parameters
    ----------
    structure
        The ordered crystal structure.
    capacity_mAh_g
        Gravimetric capacity (mAh/g); 0.0 when the structure has no Li.
    channel_radius
        CAVD channel radius R_t of the framework without Li (A).
    source_id
        Where the structure came from (e.g. ``materials_project:mp-1234``).
    """

    structure: Structure
    capacity_mAh_g: float
    channel_radius: float
    source_id: str


def capacity_label(structure: Structure) -> float | None:
    """Return the capacity label (mAh/g): 0.0 without Li, None for pure Li."""
    if structure.composition[MIGRANT] <= 0:
        return 0.0
    try:
        return gravimetric_capacity(structure)
    except ValueError:  # only Li: no host to count against
        return None


def _pair(item: Any, index: int) -> tuple[str, Structure]:
    """Return (source_id, structure) from a pair in either order or a record."""
    if isinstance(item, Structure):
        return f"structure-{index}", item
    if hasattr(item, "structure") and hasattr(item, "source_id"):
        source = getattr(item, "source", None)
        name = f"{source}:{item.source_id}" if source else str(item.source_id)
        return name, item.structure
    first, second = item
    if isinstance(first, Structure):
        return str(second), first
    return str(first), second


def build_examples(
    structures_with_ids: Iterable[Any],
    max_atoms: int = 20,
    workers: int = 1,
) -> list[CrystalExample]:
    """Label structures with their capacity and channel radius.

    Disordered structures, structures of more than ``max_atoms`` sites, structures
    made only of Li and those whose channel radius CAVD cannot measure are dropped.

    Parameters
    ----------
    structures_with_ids
        ``(source_id, structure)`` pairs (``(structure, source_id)`` and records
        with ``structure`` and ``source_id`` attributes are accepted too).
    max_atoms
        Largest number of sites kept.
    workers
        Processes for the channel radii.

    Returns
    -------
    list of CrystalExample
        The labelled examples, in input order.
    """
    kept: list[tuple[str, Structure, float]] = []
    skipped = {"none": 0, "disordered": 0, "too large": 0, "only Li": 0}
    for index, item in enumerate(structures_with_ids):
        source_id, structure = _pair(item, index)
        if structure is None or len(structure) == 0:
            skipped["none"] += 1
        elif not structure.is_ordered:
            skipped["disordered"] += 1
        elif len(structure) > max_atoms:
            skipped["too large"] += 1
        elif (capacity := capacity_label(structure)) is None:
            skipped["only Li"] += 1
        else:
            kept.append((source_id, structure, capacity))
    radii = channel_radii_many([s for _, s, _ in kept], workers=workers)
    examples = []
    n_cavd = 0
    for (source_id, structure, capacity), result in zip(kept, radii, strict=True):
        if isinstance(result, ValueError):
            n_cavd += 1
            continue
        examples.append(
            CrystalExample(
                structure=structure,
                capacity_mAh_g=float(capacity),
                channel_radius=float(result.r_t),
                source_id=source_id,
            )
        )
    logger.info("built %d examples; skipped %s, CAVD failed on %d", len(examples), skipped, n_cavd)
    return examples


def _data_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (``*.csv.gz`` inside) into a sorted list of files."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        files.extend(sorted(path.glob("*.csv.gz")) if path.is_dir() else [path])
    return files


def _iter_rows(path: Path) -> Iterator[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        yield from csv.DictReader(handle)


def _formula_passes(
    formula: str, elements_any: set[str], max_atoms: int, system: set[str] | None = None
) -> bool:
    """Cheap prefilter on a cell formula: any wanted element, in the system, not too many atoms."""
    try:
        composition = Composition(formula)
    except Exception:  # an unreadable formula is decided after parsing the CIF
        return True
    symbols = {el.symbol for el in composition.elements}
    if system is not None and not symbols <= system:
        return False
    return bool(symbols & elements_any) and composition.num_atoms <= max_atoms + 1e-6


def load_shared_structures(
    paths: str | Path | Iterable[str | Path],
    elements_any: Sequence[str] = ("Li", "Si"),
    max_atoms: int = 20,
    limit: int | None = None,
    chemsys: str | None = None,
) -> list[tuple[str, Structure]]:
    """Read structures from gzip'd CSV files with a ``cif`` column (``shared/data``).

    Rows are prefiltered on their ``formula`` (any of ``elements_any`` present, at
    most ``max_atoms`` atoms in the cell) before their CIF is parsed with
    :func:`sianode_flows.io.parse_cif`; parsed structures are checked again.

    Parameters
    ----------
    paths
        CSV(.gz) files, or folders whose ``*.csv.gz`` files are read.
    elements_any
        Keep structures that contain at least one of these elements.
    max_atoms
        Largest number of sites kept.
    limit
        Stop after this many structures.
    chemsys
        Keep only structures whose elements all lie in this system (e.g.
        ``"Li-Si"``: Li, Si and Li-Si phases).

    Returns
    -------
    list of (str, Structure)
        ``("<source>:<source_id>", structure)`` pairs, ready for
        :func:`build_examples`.
    """
    from sianode_flows.io import parse_cif

    wanted = set(elements_any)
    system = set(chemsys.split("-")) if chemsys else None
    found: list[tuple[str, Structure]] = []
    for path in _data_files(paths):
        for number, row in enumerate(_iter_rows(path)):
            if limit is not None and len(found) >= limit:
                return found
            formula = row.get("formula") or ""
            if formula and not _formula_passes(formula, wanted, max_atoms, system):
                continue
            try:
                structure = parse_cif(row.get("cif") or "")[0]
            except Exception as exc:  # a bad row is skipped, the file goes on
                logger.debug("%s row %d: %s", path.name, number, exc)
                continue
            symbols = {el.symbol for el in structure.composition.elements}
            if len(structure) > max_atoms or not symbols & wanted:
                continue
            if system is not None and not symbols <= system:
                continue
            source = row.get("source") or path.name.split(".")[0]
            source_id = row.get("source_id") or f"row-{number}"
            found.append((f"{source}:{source_id}", structure))
    return found


def lattice_matrix_np(lengths: Sequence[float], angles: Sequence[float]) -> np.ndarray:
    """Return the 3x3 lattice (rows a, b, c; a along x, b in the xy plane) (A)."""
    a, b, c = (float(x) for x in lengths)
    alpha, beta, gamma = np.radians(np.asarray(angles, dtype=float))
    cos_a, cos_b, cos_g = np.cos(alpha), np.cos(beta), np.cos(gamma)
    sin_g = np.sin(gamma)
    cx = c * cos_b
    cy = c * (cos_a - cos_b * cos_g) / sin_g
    cz = np.sqrt(max(c * c - cx * cx - cy * cy, 1e-8))
    return np.array([[a, 0.0, 0.0], [b * cos_g, b * sin_g, 0.0], [cx, cy, cz]])


def pbc_edges(
    frac_coords: np.ndarray,
    matrix: np.ndarray,
    cutoff: float = DEFAULT_CUTOFF,
    max_neighbors: int | None = DEFAULT_MAX_NEIGHBORS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the periodic neighbour graph of one crystal.

    Parameters
    ----------
    frac_coords
        Fractional coordinates, shape (n, 3).
    matrix
        Lattice vectors as rows (A).
    cutoff
        Neighbour radius (A).
    max_neighbors
        Keep only this many nearest neighbours of each atom, and any neighbour tied
        with the last one (None: all).

    Returns
    -------
    edge_index
        Shape (2, E): row 0 the neighbour j, row 1 the centre i (messages j -> i).
    images
        Shape (E, 3), integer lattice offsets of j's image.
    distances
        Shape (E,), |r_j + images @ matrix - r_i| (A).
    """
    from pymatgen.optimization.neighbors import find_points_in_spheres

    matrix = np.ascontiguousarray(matrix, dtype=float)
    cart = np.ascontiguousarray(np.asarray(frac_coords, dtype=float) @ matrix)
    centres, neighbours, images, distances = find_points_in_spheres(
        cart, cart, float(cutoff), np.array([1, 1, 1], dtype=np.int64), matrix, tol=1e-8
    )
    images = np.rint(images).astype(np.int64)
    not_self = (centres != neighbours) | np.any(images != 0, axis=1)
    centres, neighbours, images, distances = (
        centres[not_self],
        neighbours[not_self],
        images[not_self],
        distances[not_self],
    )
    if max_neighbors is not None and len(centres):
        order = np.lexsort((distances, centres))
        centres, neighbours, images, distances = (
            centres[order],
            neighbours[order],
            images[order],
            distances[order],
        )
        # the k-th nearest distance of every centre; ties with it are all kept, so
        # that the graph does not depend on the order of the atoms
        starts = np.searchsorted(centres, np.arange(len(frac_coords)), side="left")
        stops = np.searchsorted(centres, np.arange(len(frac_coords)), side="right")
        kth = np.full(len(frac_coords), np.inf)
        full = stops - starts > max_neighbors
        kth[full] = distances[starts[full] + max_neighbors - 1]
        keep = distances <= kth[centres] + 1e-4
        centres, neighbours, images, distances = (
            centres[keep],
            neighbours[keep],
            images[keep],
            distances[keep],
        )
    edge_index = np.stack([neighbours, centres]).astype(np.int64)
    return edge_index, images, np.asarray(distances, dtype=float)


def element_multi_hot(symbols: Iterable[str]) -> torch.Tensor:
    """Return a (len(ELEMENTS),) float tensor with ones at the given elements.

    Raises
    ------
    ValueError
        If a symbol is outside the vocabulary.
    """
    vector = torch.zeros(len(ELEMENTS))
    for symbol in symbols:
        if symbol not in ELEMENT_INDEX:
            raise ValueError(f"element {symbol!r} is outside the model's vocabulary (H-Pu)")
        vector[ELEMENT_INDEX[symbol]] = 1.0
    return vector


def to_graph(
    item: CrystalExample | Structure,
    cutoff: float = DEFAULT_CUTOFF,
    max_neighbors: int | None = DEFAULT_MAX_NEIGHBORS,
    capacity: float | None = None,
    channel_radius: float | None = None,
) -> Data:
    """Turn an example (or a bare structure) into a periodic crystal graph.

    Parameters
    ----------
    item
        A labelled example, or a structure whose labels are computed here
        (capacity, and R_t with CAVD) unless given.
    cutoff
        Neighbour radius (A).
    max_neighbors
        Nearest neighbours kept per atom.
    capacity
        Capacity label (mAh/g) overriding the example's.
    channel_radius
        R_t label (A) overriding the example's.

    Returns
    -------
    torch_geometric.data.Data
        ``atom_types`` (index into :data:`ELEMENTS`), ``frac_coords``, ``lengths``
        (1, 3) (A), ``angles`` (1, 3) (degrees), ``num_atoms``, ``edge_index``,
        ``to_jimages`` (image offsets), ``edge_dist`` (A), ``capacity`` (mAh/g),
        ``channel_radius`` (A) and ``elements`` (1, len(ELEMENTS)) multi-hot.

    Raises
    ------
    ValueError
        If the structure is disordered or has an element outside the vocabulary.
    """
    if isinstance(item, CrystalExample):
        structure = item.structure
        capacity = item.capacity_mAh_g if capacity is None else capacity
        radius = item.channel_radius if channel_radius is None else channel_radius
    else:
        structure = item
        capacity = capacity_label(structure) if capacity is None else capacity
        radius = channel_radii(structure).r_t if channel_radius is None else channel_radius
    if not structure.is_ordered:
        raise ValueError("a crystal graph needs an ordered structure")
    symbols = [site.specie.symbol for site in structure]
    unknown = sorted(set(symbols) - set(ELEMENT_INDEX))
    if unknown:
        raise ValueError(f"elements outside the model's vocabulary: {unknown}")
    lattice = structure.lattice
    frac = np.mod(structure.frac_coords, 1.0)
    matrix = lattice_matrix_np(lattice.abc, lattice.angles)
    edge_index, images, distances = pbc_edges(frac, matrix, cutoff, max_neighbors)
    return Data(
        atom_types=torch.tensor([ELEMENT_INDEX[s] for s in symbols], dtype=torch.long),
        frac_coords=torch.tensor(frac, dtype=torch.float32),
        lengths=torch.tensor([lattice.abc], dtype=torch.float32),
        angles=torch.tensor([lattice.angles], dtype=torch.float32),
        num_atoms=torch.tensor([len(structure)], dtype=torch.long),
        num_nodes=len(structure),
        edge_index=torch.from_numpy(edge_index),
        to_jimages=torch.from_numpy(images),
        edge_dist=torch.tensor(distances, dtype=torch.float32),
        capacity=torch.tensor([float(capacity or 0.0)], dtype=torch.float32),
        channel_radius=torch.tensor([float(radius)], dtype=torch.float32),
        elements=element_multi_hot(set(symbols)).unsqueeze(0),
    )

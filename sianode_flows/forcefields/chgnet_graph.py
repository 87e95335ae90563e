"""CHGNet's crystal graph for a whole batch, built with tensors on the batch's device.

CHGNet's own converter (``chgnet.graph.CrystalGraphConverter``) turns one pymatgen
``Structure`` at a time into a graph, on the CPU: pymatgen's neighbour search, then
a Python (or Cython) pass over the pairs. At every optimizer step of a batched
relaxation that is a copy of the batch to the CPU and one conversion per system.
The functions here build the same graph for every system of a batch at once, from
the batched fractional coordinates, cells and system index, with no pymatgen and no
loop over systems:

- the **atom graph**: every directed pair (i, j, n) with the image n of atom j
  within the atom cutoff of atom i (6 A for CHGNet 0.3.0), periodic images
  included, self-images too when a cell is shorter than the cutoff;
- the **undirected bonds**: each pair (i, j, n) with its reverse (j, i, -n), one
  bond feature for the two;
- the **bond graph** (CHGNet's angles): every ordered pair of distinct directed
  bonds out of one atom, both within the bond cutoff (3 A), the first one up to
  and including the cutoff, the second strictly inside it, as the converter
  tests them.

Within a system the edges come in a canonical order (by centre, neighbour and
image), so a system's graph, and the model's sums over it, do not depend on the
other systems of the batch nor on when a neighbour list was rebuilt.

:class:`VerletPairs` keeps a list of candidate pairs within the cutoff plus a skin
and filters it at each call; it rebuilds the list only when atoms or the cell have
moved enough that a pair outside the list could have come within the cutoff (a
bound that holds for the cell's change too, so a cell relaxation is exact as well).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

DISTANCE_TOLERANCE = 1e-8
"""Pairs closer than this are an atom and itself (pymatgen's ``numerical_tol``)."""

MAX_CANDIDATES = 2**21
"""Candidate pairs tested at once by the neighbour search (bounds its memory)."""


@dataclass
class PeriodicPairs:
    """Directed pairs of atoms within a cutoff, with the neighbour's periodic image.

    Attributes
    ----------
    centers, neighbors
        Global atom indices of each pair [n_pairs].
    images
        Lattice translation of the neighbour, in cell vectors, relative to the
        fractional coordinates as given (not wrapped) [n_pairs, 3], int64.
    distances
        Pair distances (A) [n_pairs], in the coordinates' precision.
    """

    centers: torch.Tensor
    neighbors: torch.Tensor
    images: torch.Tensor
    distances: torch.Tensor

    def select(self, mask: torch.Tensor) -> PeriodicPairs:
        """Return the pairs where ``mask`` holds."""
        return PeriodicPairs(
            self.centers[mask], self.neighbors[mask], self.images[mask], self.distances[mask]
        )


@dataclass
class CrystalGraphBatch:
    """CHGNet's graph of a batch of systems, as index tensors.

    Attributes
    ----------
    atom_graph
        Directed edges (centre, neighbour), global atom indices [n_directed, 2].
    images
        The neighbour's periodic image of each directed edge [n_directed, 3].
    distances
        Length of each directed edge (A) [n_directed].
    directed2undirected
        The undirected bond of each directed edge [n_directed].
    undirected2directed
        One directed edge of each undirected bond [n_undirected].
    angles
        CHGNet's bond graph: (centre atom, first directed edge, second directed
        edge) of each angle [n_angles, 3].
    """

    atom_graph: torch.Tensor
    images: torch.Tensor
    distances: torch.Tensor
    directed2undirected: torch.Tensor
    undirected2directed: torch.Tensor
    angles: torch.Tensor

    @property
    def n_undirected(self) -> int:
        """Number of undirected bonds."""
        return int(self.undirected2directed.shape[0])


def vector_times_matrix(vectors: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Return ``v @ M`` for rows ``v`` [..., 3] and matrices [..., 3, 3], elementwise.

    Written out term by term rather than as a batched matrix product, whose
    rounding can depend on how many matrices are in the batch: a system's numbers
    must not depend on its batch.
    """
    return (
        vectors[..., 0, None] * matrices[..., 0, :]
        + vectors[..., 1, None] * matrices[..., 1, :]
        + vectors[..., 2, None] * matrices[..., 2, :]
    )


def vector_norm(vectors: torch.Tensor) -> torch.Tensor:
    """Return the length of each row [..., 3], term by term (see :func:`vector_times_matrix`)."""
    return torch.sqrt(
        vectors[..., 0] * vectors[..., 0]
        + vectors[..., 1] * vectors[..., 1]
        + vectors[..., 2] * vectors[..., 2]
    )


def reciprocal_columns(cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the inverse of row-vector cells [n, 3, 3] and their volumes [n].

    The inverse's columns are ``b x c``, ``c x a`` and ``a x b`` over the volume,
    computed term by term (batch-independent rounding, as above).
    """
    a, b, c = cells[:, 0], cells[:, 1], cells[:, 2]
    cross = torch.stack(
        [torch.linalg.cross(b, c), torch.linalg.cross(c, a), torch.linalg.cross(a, b)], dim=2
    )
    first = cross[:, :, 0]
    volumes = a[:, 0] * first[:, 0] + a[:, 1] * first[:, 1] + a[:, 2] * first[:, 2]
    return cross / volumes[:, None, None], volumes


def fractional_coordinates(
    positions: torch.Tensor, cells: torch.Tensor, system_idx: torch.Tensor
) -> torch.Tensor:
    """Return fractional coordinates of Cartesian positions (row-vector cells).

    Parameters
    ----------
    positions
        Cartesian positions [n_atoms, 3].
    cells
        Cell vectors as rows [n_systems, 3, 3].
    system_idx
        System of each atom [n_atoms].
    """
    inverse, _ = reciprocal_columns(cells)
    return vector_times_matrix(positions, inverse[system_idx])


def check_finite(frac: torch.Tensor, cells: torch.Tensor, system_idx: torch.Tensor) -> None:
    """Raise ``ValueError`` naming the systems whose coordinates or cell are not finite."""
    bad = ~torch.isfinite(cells).flatten(1).all(dim=1)
    atoms_bad = ~torch.isfinite(frac).all(dim=1)
    if bool(atoms_bad.any()):
        bad[system_idx[atoms_bad]] = True
    if bool(bad.any()):
        systems = torch.nonzero(bad).flatten().tolist()
        raise ValueError(f"non-finite positions or cell in system(s) {systems}")


def periodic_pairs(
    frac: torch.Tensor,
    cells: torch.Tensor,
    system_idx: torch.Tensor,
    cutoff: float,
    max_candidates: int = MAX_CANDIDATES,
) -> PeriodicPairs:
    """Return every directed pair within ``cutoff``, periodic images included.

    Each system is searched over the images its own cell needs (the cutoff over
    the spacing of its lattice planes, at least), all systems together: the pairs
    of atoms of one system with each of its images are enumerated as ragged
    ranges of flat indices, tested in chunks of ``max_candidates``.

    Parameters
    ----------
    frac
        Fractional coordinates [n_atoms, 3], float64 preferably, any values
        (atoms outside the cell are fine).
    cells
        Cell vectors as rows [n_systems, 3, 3].
    system_idx
        System of each atom [n_atoms], systems contiguous and in order.
    cutoff
        Largest distance of a pair (A), inclusive, as pymatgen's neighbour list.
    max_candidates
        Candidate pairs tested at once.

    Returns
    -------
    PeriodicPairs
        The pairs, in no particular order.
    """
    device = frac.device
    n_systems = cells.shape[0]
    counts = torch.bincount(system_idx, minlength=n_systems)
    starts = torch.cumsum(counts, 0) - counts
    shift = torch.floor(frac)
    wrapped = frac - shift
    wrapped_cart = vector_times_matrix(wrapped, cells[system_idx])
    # images needed along axis k: the cutoff over the spacing of planes (1/|b_k|)
    reach = torch.ceil(cutoff * torch.linalg.norm(reciprocal_columns(cells)[0], dim=1)).long()
    widest = int(reach.max()) if n_systems else 0
    span = torch.arange(-widest, widest + 1, device=device)
    grid = torch.cartesian_prod(span, span, span).reshape(-1, 3)
    wanted = (grid.abs().unsqueeze(0) <= reach.unsqueeze(1)).all(dim=-1)
    entry_system, entry_image = torch.nonzero(wanted, as_tuple=True)
    entry_translation = vector_times_matrix(grid[entry_image].to(cells.dtype), cells[entry_system])
    entry_pairs = counts[entry_system] ** 2
    found: list[PeriodicPairs] = []
    for chunk in _chunks(entry_pairs, max_candidates):
        sizes = entry_pairs[chunk]
        owner = chunk[torch.repeat_interleave(torch.arange(len(chunk), device=device), sizes)]
        offsets = torch.cumsum(sizes, 0) - sizes
        local = torch.arange(int(sizes.sum()), device=device) - torch.repeat_interleave(
            offsets, sizes
        )
        system = entry_system[owner]
        n_atoms = counts[system]
        first = starts[system]
        centers = first + torch.div(local, n_atoms, rounding_mode="floor")
        neighbors = first + local % n_atoms
        vectors = wrapped_cart[neighbors] - wrapped_cart[centers] + entry_translation[owner]
        squared = (vectors * vectors).sum(dim=1)
        keep = (squared <= cutoff * cutoff) & (squared >= DISTANCE_TOLERANCE**2)
        centers, neighbors, owner = centers[keep], neighbors[keep], owner[keep]
        images = grid[entry_image[owner]] + (shift[centers] - shift[neighbors]).long()
        found.append(PeriodicPairs(centers, neighbors, images, torch.sqrt(squared[keep])))
    if not found:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return PeriodicPairs(
            empty, empty, torch.zeros(0, 3, dtype=torch.long, device=device), frac.new_zeros(0)
        )
    return PeriodicPairs(
        *(torch.cat([getattr(p, name) for p in found]) for name in PeriodicPairs.__annotations__)
    )


def _chunks(sizes: torch.Tensor, budget: int) -> list[torch.Tensor]:
    """Split entries into consecutive groups of at most ``budget`` (or one entry)."""
    if sizes.numel() == 0:
        return []
    ends = torch.cumsum(sizes, 0)
    group = torch.div(ends - 1, budget, rounding_mode="floor")
    _, per_group = torch.unique_consecutive(group, return_counts=True)
    indices = torch.arange(sizes.numel(), device=sizes.device)
    return list(torch.split(indices, per_group.tolist()))


def pair_distances(
    pairs: PeriodicPairs, frac: torch.Tensor, cells: torch.Tensor, system_idx: torch.Tensor
) -> torch.Tensor:
    """Return the current length of each pair (A)."""
    cell = cells[system_idx[pairs.centers]]
    delta = frac[pairs.neighbors] - frac[pairs.centers] + pairs.images.to(frac.dtype)
    return vector_norm(vector_times_matrix(delta, cell))


def crystal_graph(pairs: PeriodicPairs, bond_cutoff: float, n_atoms: int) -> CrystalGraphBatch:
    """Return CHGNet's atom graph, undirected bonds and angles from directed pairs.

    Parameters
    ----------
    pairs
        Every directed pair within the atom cutoff (both directions of each).
    bond_cutoff
        CHGNet's bond-graph cutoff (A).
    n_atoms
        Atoms in the batch.

    Returns
    -------
    CrystalGraphBatch
        The graph, edges in canonical order.

    Raises
    ------
    RuntimeError
        If a directed pair lacks its reverse (cannot happen for a complete list).
    """
    device = pairs.centers.device
    # canonical order: by centre, neighbour, image
    directed_keys = torch.cat(
        [pairs.centers.unsqueeze(1), pairs.neighbors.unsqueeze(1), pairs.images], dim=1
    )
    order = _lexicographic_order(directed_keys)
    centers, neighbors = pairs.centers[order], pairs.neighbors[order]
    images, distances = pairs.images[order], pairs.distances[order]
    n_directed = centers.shape[0]

    # an undirected bond: (i, j, n) and (j, i, -n), named by the one with i < j
    # (or i == j and the image lexicographically positive)
    forward = (centers < neighbors) | ((centers == neighbors) & _positive(images))
    lower = torch.where(forward, centers, neighbors)
    upper = torch.where(forward, neighbors, centers)
    signed = torch.where(forward.unsqueeze(1), images, -images)
    bond_keys = torch.cat([lower.unsqueeze(1), upper.unsqueeze(1), signed], dim=1)
    if n_directed:
        _, directed2undirected = torch.unique(bond_keys, dim=0, return_inverse=True)
    else:
        directed2undirected = torch.zeros(0, dtype=torch.long, device=device)
    n_undirected = int(directed2undirected.max()) + 1 if n_directed else 0
    if n_directed and not bool(
        (torch.bincount(directed2undirected, minlength=n_undirected) == 2).all()
    ):
        raise RuntimeError("a directed pair has no reverse: the neighbour list is incomplete")
    undirected2directed = torch.zeros(n_undirected, dtype=torch.long, device=device)
    forward_edges = torch.nonzero(forward).flatten()
    undirected2directed[directed2undirected[forward_edges]] = forward_edges

    # angles: ordered pairs of distinct short directed edges out of one atom
    first_ok = torch.nonzero(distances <= bond_cutoff).flatten()
    second_ok = torch.nonzero(distances < bond_cutoff).flatten()
    per_center = torch.bincount(centers[second_ok], minlength=n_atoms)
    center_start = torch.cumsum(per_center, 0) - per_center
    repeats = per_center[centers[first_ok]]
    first = torch.repeat_interleave(first_ok, repeats)
    offsets = torch.cumsum(repeats, 0) - repeats
    local = torch.arange(int(repeats.sum()), device=device) - torch.repeat_interleave(
        offsets, repeats
    )
    second = second_ok[center_start[centers[first]] + local]
    distinct = first != second
    first, second = first[distinct], second[distinct]
    angles = torch.stack([centers[first], first, second], dim=1)
    return CrystalGraphBatch(
        atom_graph=torch.stack([centers, neighbors], dim=1),
        images=images,
        distances=distances,
        directed2undirected=directed2undirected,
        undirected2directed=undirected2directed,
        angles=angles,
    )


def _positive(images: torch.Tensor) -> torch.Tensor:
    """Whether each image vector is lexicographically positive."""
    first_nonzero = torch.where(
        images[:, 0] != 0, images[:, 0], torch.where(images[:, 1] != 0, images[:, 1], images[:, 2])
    )
    return first_nonzero > 0


def _lexicographic_order(keys: torch.Tensor) -> torch.Tensor:
    """Return the permutation that sorts integer rows lexicographically."""
    order = torch.arange(keys.shape[0], device=keys.device)
    for column in range(keys.shape[1] - 1, -1, -1):  # stable sorts, last key first
        order = order[torch.sort(keys[order, column], stable=True).indices]
    return order


class VerletPairs:
    """Directed pairs within a cutoff, reused across steps while exact (a Verlet list).

    The candidate list holds every pair within ``cutoff + skin`` at the last
    rebuild. At each call the candidates are filtered by their current length; the
    list is rebuilt when a pair outside it could have come within the cutoff: with
    ``d`` the largest displacement of an atom and ``M`` the cell's change relative
    to the rebuild (``L = L0 (1 + M)``), a pair at least ``cutoff + skin`` apart is
    still farther than ``cutoff`` while ``(cutoff + skin) (1 - |M|) - 2 d >= cutoff``.

    Parameters
    ----------
    cutoff
        Largest pair distance (A).
    skin
        Extra distance of the candidates (A); 0 rebuilds at every call.
    """

    def __init__(self, cutoff: float, skin: float = 1.0) -> None:
        self.cutoff = cutoff
        self.skin = skin
        self.builds = 0
        self.calls = 0
        self._candidates: PeriodicPairs | None = None
        self._frac: torch.Tensor | None = None
        self._cells: torch.Tensor | None = None
        self._system_idx: torch.Tensor | None = None

    def __call__(
        self, frac: torch.Tensor, cells: torch.Tensor, system_idx: torch.Tensor
    ) -> PeriodicPairs:
        """Return every directed pair within the cutoff at these coordinates."""
        self.calls += 1
        if self.skin <= 0:
            self.builds += 1
            return periodic_pairs(frac, cells, system_idx, self.cutoff)
        if not self._still_valid(frac, cells, system_idx):
            self.builds += 1
            self._candidates = periodic_pairs(frac, cells, system_idx, self.cutoff + self.skin)
            self._frac, self._cells, self._system_idx = (
                frac.detach().clone(),
                cells.detach().clone(),
                system_idx.clone(),
            )
        candidates = self._candidates
        lengths = pair_distances(candidates, frac, cells, system_idx)
        keep = (lengths <= self.cutoff) & (lengths >= DISTANCE_TOLERANCE)
        selected = candidates.select(keep)
        selected.distances = lengths[keep]
        return selected

    def _still_valid(
        self, frac: torch.Tensor, cells: torch.Tensor, system_idx: torch.Tensor
    ) -> bool:
        """Whether the candidate list still holds every pair within the cutoff."""
        if self._candidates is None or self._system_idx is None:
            return False
        if self._system_idx.shape != system_idx.shape or not torch.equal(
            self._system_idx, system_idx
        ):
            return False
        change = torch.linalg.solve(self._cells, cells) - torch.eye(
            3, dtype=cells.dtype, device=cells.device
        )
        strain = torch.linalg.matrix_norm(change, ord=2)
        moved = vector_times_matrix(frac - self._frac, cells[system_idx])
        displacement = torch.zeros(cells.shape[0], dtype=cells.dtype, device=cells.device)
        displacement = displacement.scatter_reduce(0, system_idx, vector_norm(moved), reduce="amax")
        reach = self.cutoff + self.skin
        return bool(((reach * (1 - strain) - 2 * displacement) >= self.cutoff).all())

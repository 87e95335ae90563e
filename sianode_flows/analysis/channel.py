"""Li-ion channel radius of a framework: CAVD percolation radii, Zeo++ cross-check.

The channel radius R_t is the radius of the largest sphere that can travel through
the framework (the structure with every Li removed) along at least one axis. CAVD
gives it per axis (R_a, R_b, R_c) from a radical Voronoi decomposition of the
framework atoms with chosen radii; R_t is the largest of the three.

The atom network is built directly from the pymatgen structure. CAVD's file-based
entry points need oxidation states and bond-valence data that Li-Si intermetallics
do not have, and adding Voronoi face centres gives a spuriously large radius for
exactly symmetric cells (2.05 instead of 1.61 A for Li15Si4), so neither is used.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ase.data import atomic_numbers, covalent_radii

from sianode_flows.analysis.capacity import MIGRANT

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from pymatgen.core import Structure

_LIBC = ctypes.CDLL(None)

DEFAULT_NTOL = 0.02
"""Tolerance (A) with which CAVD merges Voronoi nodes."""


@dataclass(frozen=True)
class ChannelRadii:
    """Largest percolating sphere radius along each lattice vector (A)."""

    r_a: float
    r_b: float
    r_c: float
    radii: dict[str, float]

    @property
    def r_t(self) -> float:
        """Channel radius R_t: the largest of R_a, R_b and R_c (A)."""
        return max(self.r_a, self.r_b, self.r_c)


def framework_of(structure: Structure, migrant: str = MIGRANT) -> Structure:
    """Return a copy of the structure with every migrant site removed."""
    framework = structure.copy()
    framework.remove_species([migrant])
    return framework


def framework_radii(
    framework: Structure, radii: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Return the radius (A) of every element of the framework.

    Covalent radii (Cordero et al. 2008, as tabulated by ASE) are the default;
    ``radii`` overrides them element by element.
    """
    chosen = dict(radii or {})
    return {
        el.symbol: float(chosen.get(el.symbol, covalent_radii[atomic_numbers[el.symbol]]))
        for el in framework.composition.elements
    }


@contextlib.contextmanager
def silenced_output() -> Iterator[None]:
    """Send file descriptors 1 and 2 to /dev/null around C++ code that prints there.

    CAVD and voro++ write progress straight to the process's standard output and
    error, bypassing Python's ``sys.stdout``; failures still surface as exceptions.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        with open(os.devnull, "w") as devnull:
            for fd in saved:
                os.dup2(devnull.fileno(), fd)
            try:
                yield
            finally:
                _LIBC.fflush(None)  # drain C stdio buffers while still silenced
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


def channel_radii(
    structure: Structure,
    radii: Mapping[str, float] | None = None,
    migrant: str = MIGRANT,
    ntol: float = DEFAULT_NTOL,
    scratch_dir: str | Path | None = None,
    save_voronoi_cells: bool = False,
) -> ChannelRadii:
    """Compute the CAVD channel radii of the framework left when Li is removed.

    Parameters
    ----------
    structure
        An ordered structure; its migrant sites are ignored.
    radii
        Element radii (A) overriding the covalent defaults.
    migrant
        Element symbol of the mobile ion.
    ntol
        CAVD node-merging tolerance (A).
    scratch_dir
        Folder in which CAVD may write its files; a temporary one by default.
    save_voronoi_cells
        Keep CAVD's Voronoi cells (``saveVorCells``). They serve only face centres,
        which are not used; off, the decomposition is 10-80 times faster and the
        radii are the same (``benchmarks/bench_channel.py`` checks both).

    Returns
    -------
    ChannelRadii
        R_a, R_b, R_c and the radii used; ``r_t`` is their maximum.

    Raises
    ------
    ValueError
        If the framework is empty or disordered, or CAVD finds no network.
    """
    from cavd.netstorage import AtomNetwork, connection_values_list

    if not structure.is_ordered:
        raise ValueError("CAVD needs an ordered structure (found partial occupancies)")
    framework = framework_of(structure, migrant)
    if len(framework) == 0:
        raise ValueError("the framework is empty once Li is removed")
    used_radii = framework_radii(framework, radii)
    with (
        tempfile.TemporaryDirectory(dir=scratch_dir, prefix="cavd-") as workdir,
        silenced_output(),
    ):
        network = AtomNetwork()
        network.c_make(*framework.lattice.abc, *framework.lattice.angles)
        # CAVD puts the lattice in its own standard orientation (a along x, b in
        # the xy plane): Cartesian coordinates are rebuilt from fractional ones.
        atoms = []
        for index, site in enumerate(framework):
            symbol = site.specie.symbol
            frac = [float(x) for x in site.frac_coords]
            cart = list(network.relative_to_absolute(*frac))
            atoms.append([f"{symbol}{index}", symbol, used_radii[symbol], cart, frac])
        network.atoms = atoms
        network.atoms_num = len(atoms)
        vornet, *_ = network.perform_voronoi_decomposition(
            rad_flag=True, saveVorCells=save_voronoi_cells, ntol=ntol
        )
        values = connection_values_list(str(Path(workdir) / "network.resex"), vornet)
    if len(values) != 3:
        raise ValueError(f"CAVD returned {len(values)} connection values, expected 3")
    r_a, r_b, r_c = (float(v) for v in values)
    return ChannelRadii(r_a=r_a, r_b=r_b, r_c=r_c, radii=used_radii)


def _radii_or_error(
    structure: Structure, radii: Mapping[str, float] | None, migrant: str
) -> ChannelRadii | ValueError:
    """Channel radii, or the reason they could not be computed (pool worker)."""
    try:
        return channel_radii(structure, radii, migrant=migrant)
    except Exception as exc:  # returned, so that one structure does not stop the pool
        return ValueError(f"{type(exc).__name__}: {exc}")


def channel_radii_many(
    structures: Sequence[Structure],
    radii: Mapping[str, float] | None = None,
    migrant: str = MIGRANT,
    workers: int = 1,
) -> list[ChannelRadii | ValueError]:
    """Compute the channel radii of many structures, in a process pool if asked.

    CAVD is single-threaded C++: ``workers`` processes each take an equal share of
    the structures (each call works in its own scratch folder).

    Parameters
    ----------
    structures
        Ordered structures.
    radii
        Element radii (A) overriding the covalent defaults.
    migrant
        Element symbol of the mobile ion.
    workers
        Processes; 1 computes them here, one after another.

    Returns
    -------
    list
        Per structure, in order: its :class:`ChannelRadii`, or a ``ValueError``
        saying why CAVD could not measure it.
    """
    if workers <= 1 or len(structures) < 2:
        return [_radii_or_error(s, radii, migrant) for s in structures]
    n = len(structures)
    chunksize = max(1, n // (4 * workers))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(
            pool.map(_radii_or_error, structures, [radii] * n, [migrant] * n, chunksize=chunksize)
        )


def zeopp_free_sphere_radius(
    structure: Structure,
    radii: Mapping[str, float] | None = None,
    migrant: str = MIGRANT,
    scratch_dir: str | Path | None = None,
) -> float:
    """Return Zeo++'s largest free sphere radius (Df / 2, A) of the framework.

    A cross-check of :func:`channel_radii`: without Voronoi face centres the two
    agree within about 0.01 A. Needs the optional ``pyzeo`` package.

    Parameters
    ----------
    structure
        An ordered structure; its migrant sites are ignored.
    radii
        Element radii (A) overriding the covalent defaults.
    migrant
        Element symbol of the mobile ion.
    scratch_dir
        Folder in which Zeo++ may write its files; a temporary one by default.

    Returns
    -------
    float
        Half the free-sphere diameter (A).
    """
    from pymatgen.io.zeopp import ZeoCssr
    from pyzeo.netstorage import AtomNetwork as ZeoAtomNetwork

    framework = framework_of(structure, migrant)
    used_radii = framework_radii(framework, radii)
    with tempfile.TemporaryDirectory(dir=scratch_dir, prefix="zeopp-") as workdir:
        cssr_file = Path(workdir) / "framework.cssr"
        radii_file = Path(workdir) / "framework.rad"
        result_file = Path(workdir) / "framework.res"
        ZeoCssr(framework).write_file(str(cssr_file))
        radii_file.write_text("".join(f"{el} {r}\n" for el, r in used_radii.items()))
        with silenced_output():
            network = ZeoAtomNetwork.read_from_CSSR(
                str(cssr_file), rad_flag=True, rad_file=str(radii_file)
            )
            network.calculate_free_sphere_parameters(str(result_file))
        fields = result_file.read_text().split()
    if len(fields) < 4:
        raise ValueError(f"Zeo++ wrote no free-sphere parameters: {fields!r}")
    return float(fields[2]) / 2

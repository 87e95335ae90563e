"""Names of the potentials and optimizers, and where a potential's weights come from.

Shared by the per-structure relax maker (:mod:`sianode_flows.jobs.relax`) and the
batched one (:mod:`sianode_flows.jobs.batched_relax`), so that neither imports the
other's module for them. Nothing here imports a potential's package (or torch): the
weights are found from where the package is installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

POTENTIALS = {"chgnet": "CHGNet", "sevennet": "SevenNet"}
"""Potentials that run offline here (weights in their wheels), by short name."""

OPTIMIZER_NAMES = {"fire": "FIRE", "lbfgs": "LBFGS", "bfgs": "BFGS"}
"""ASE's names of the optimizers, as atomate2's makers and documents spell them."""

CHECKSUM_LENGTH = 16
"""Hex digits of a weights checksum that are kept (the start of its sha256)."""


@dataclass(frozen=True)
class ShippedWeights:
    """Weights a potential loads by default from the package that ships them.

    Parameters
    ----------
    package
        The importable package (``chgnet``).
    pattern
        Glob of the weights file(s) inside the package's folder.
    names
        Model names that select these weights in atomate2's calculator arguments
        (``calculator_kwargs={"model": "7net-0"}``).
    """

    package: str
    pattern: str
    names: tuple[str, ...] = ()


SHIPPED_WEIGHTS = {
    "CHGNet": ShippedWeights("chgnet", "pretrained/0.3.0/*.pth.tar"),
    "SevenNet": ShippedWeights(
        "sevenn",
        "pretrained_potentials/SevenNet_0__11Jul2024/*.pth",
        names=("7net-0", "sevennet-0", "7net-0_11july2024", "sevennet-0_11july2024"),
    ),
}
"""Default weights of each potential, by atomate2's name: CHGNet 0.3.0 (``CHGNet.load``'s
default, the batched model's and atomate2's calculator's) and SevenNet-0 (``7net-0``)."""


def force_field_name(potential: str) -> str:
    """Return atomate2's force-field name of a potential: ``sevennet`` -> ``SevenNet``.

    Short names of :data:`POTENTIALS` are matched case-insensitively; any other
    name is passed on to atomate2 as it is.
    """
    return POTENTIALS.get(potential.lower(), potential)


def package_version(package: str) -> str | None:
    """Return the installed version of a distribution (``torch-sim-atomistic``), if any."""
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def shipped_weights_files(potential: str) -> tuple[Path, ...]:
    """Return the files of the weights a potential loads by default, from its package.

    Parameters
    ----------
    potential
        atomate2's name of the potential (``CHGNet``) or a short name (``chgnet``).

    Returns
    -------
    tuple of Path
        The files, sorted; empty for a potential whose weights are not shipped in
        an installed package (or not known here).
    """
    shipped = SHIPPED_WEIGHTS.get(force_field_name(potential))
    if shipped is None:
        return ()
    spec = importlib.util.find_spec(shipped.package)  # finds the folder; imports nothing
    if spec is None or not spec.submodule_search_locations:
        return ()
    folder = Path(next(iter(spec.submodule_search_locations)))
    return tuple(sorted(path for path in folder.glob(shipped.pattern) if path.is_file()))


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@cache
def weights_checksum(files: tuple[Path, ...]) -> str | None:
    """Return the start of the sha256 of weights files, computed once per process.

    Parameters
    ----------
    files
        The files, in order.

    Returns
    -------
    str or None
        The first :data:`CHECKSUM_LENGTH` hex digits of the file's sha256 (of the
        sha256 of the files' sha256s, one after another, for several files); ``None``
        without files.
    """
    if not files:
        return None
    if len(files) == 1:
        return _file_sha256(files[0])[:CHECKSUM_LENGTH]
    joined = "".join(_file_sha256(path) for path in files)
    return hashlib.sha256(joined.encode()).hexdigest()[:CHECKSUM_LENGTH]

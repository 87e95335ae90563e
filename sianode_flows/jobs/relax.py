"""The swappable relax step: the default CHGNet maker and a code-agnostic reader.

Any maker whose ``make(structure)`` returns a Job or Flow with a task document as
output can relax the configurations: atomate2's force-field makers today, its VASP
makers later. :func:`summarize_relaxation` reads the fields those documents share.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from atomate2.forcefields.jobs import ForceFieldRelaxMaker
from pymatgen.core import Structure

from sianode_flows.jobs.potentials import (
    OPTIMIZER_NAMES,
    SHIPPED_WEIGHTS,
    force_field_name,
    package_version,
    shipped_weights_files,
    weights_checksum,
)
from sianode_flows.schemas import RelaxationSummary
from sianode_flows.settings import get_settings

if TYPE_CHECKING:
    from jobflow import Maker


def default_relax_maker(
    potential: str | None = None,
    *,
    batched: bool | None = None,
    steps: int | None = None,
    fmax: float | None = None,
    optimizer: str | None = None,
    **overrides: Any,
) -> Maker:
    """Return the default relax maker: batched (torch-sim) or atomate2's per structure.

    CHGNet (its shipped weights) unless a potential or the settings say otherwise,
    FIRE with the Frechet cell filter, ``fmax`` 0.05 eV/A and a cap of 1000 steps:
    looser criteria leave delithiated cells 13-15 % too large. The batched maker
    (:class:`~sianode_flows.jobs.batched_relax.BatchedRelaxMaker`) relaxes all
    configurations of a candidate in one job; atomate2's ``ForceFieldRelaxMaker``
    makes one ASE relax job per configuration, keeping only the energy per ionic
    step. Both write the same task documents.

    Parameters
    ----------
    potential
        ``"chgnet"`` or ``"sevennet"`` (SevenNet-0, shipped in the ``sevenn`` wheel),
        or, per structure only, any atomate2 force-field name; settings' ``force_field``.
    batched
        Batched maker or atomate2's; the settings' ``relax_engine`` by default.
    steps
        Step cap per structure (settings: ``relax_steps``).
    fmax
        Force criterion in eV/A (settings: ``relax_fmax``).
    optimizer
        ``"fire"``, ``"lbfgs"`` or ``"bfgs"`` (settings: ``relax_optimizer``):
        torch-sim's batched optimizer, or ASE's of the same name per structure.
    **overrides
        Other fields of the maker (``name``, ``max_atoms``, ``relax_kwargs``...).

    Returns
    -------
    Maker
        The relax maker.
    """
    settings = get_settings()
    potential = potential or settings.force_field
    steps = steps if steps is not None else settings.relax_steps
    fmax = fmax if fmax is not None else settings.relax_fmax
    optimizer = (optimizer or settings.relax_optimizer).lower()
    if optimizer not in OPTIMIZER_NAMES:
        raise ValueError(
            f"unknown optimizer {optimizer!r}; use one of {', '.join(OPTIMIZER_NAMES)}"
        )
    if batched is None:
        batched = settings.relax_engine == "batched"
    if batched:
        from sianode_flows.jobs.batched_relax import BatchedRelaxMaker

        return BatchedRelaxMaker(
            potential=potential, steps=steps, fmax=fmax, optimizer=optimizer, **overrides
        )
    fields: dict[str, Any] = {
        "name": "relax",
        "force_field_name": force_field_name(potential),
        "relax_cell": True,
        "steps": steps,
        "relax_kwargs": {"fmax": fmax},
        "optimizer_kwargs": {"optimizer": OPTIMIZER_NAMES[optimizer]},
        "ionic_step_data": ("energy",),
    }
    fields.update(overrides)
    return ForceFieldRelaxMaker(**fields)


def _get(obj: Any, *path: str) -> Any:
    """Follow attributes or keys along a path; ``None`` where one is missing."""
    for key in path:
        if obj is None:
            return None
        obj = obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
    return obj


def _first_ionic_energy(task_doc: Any) -> float | None:
    steps = _get(task_doc, "output", "ionic_steps") or []
    if not steps:
        return None
    first = steps[0]
    energy = _get(first, "e_0_energy")
    if energy is None:
        energy = _get(first, "energy")
    return float(energy) if energy is not None else None


def summarize_relaxation(task_doc: Any) -> tuple[Structure, RelaxationSummary]:
    """Read the relaxed structure and a summary from any relax task document.

    Works with atomate2's force-field and ASE task documents and with emmet's VASP
    ``TaskDoc`` (objects or their serialized dicts).

    Parameters
    ----------
    task_doc
        Output of the relax job.

    Returns
    -------
    tuple of Structure and RelaxationSummary
        The final structure and what the relaxation did.

    Raises
    ------
    ValueError
        If the document holds no final structure.
    """
    structure = _get(task_doc, "structure") or _get(task_doc, "output", "structure")
    if isinstance(structure, dict):
        structure = Structure.from_dict(structure)
    if not isinstance(structure, Structure):
        raise ValueError("the relax output holds no final structure")
    nsites = len(structure)
    energy_per_atom = _get(task_doc, "output", "energy_per_atom")
    if energy_per_atom is None and _get(task_doc, "output", "energy") is not None:
        energy_per_atom = float(_get(task_doc, "output", "energy")) / nsites
    initial = _first_ionic_energy(task_doc)
    state = _get(task_doc, "state")
    state_value = getattr(state, "value", state)
    converged = None if state_value is None else state_value == "successful"
    code = _get(task_doc, "forcefield_name") or _get(task_doc, "calc_type")
    summary = RelaxationSummary(
        job_name=_get(task_doc, "task_label"),
        code=str(getattr(code, "value", code)).removeprefix("MLFF.") if code else None,
        energy_per_atom=float(energy_per_atom) if energy_per_atom is not None else None,
        initial_energy_per_atom=initial / nsites if initial is not None else None,
        n_steps=_get(task_doc, "output", "n_steps"),
        converged=converged,
    )
    return structure, summary


POTENTIAL_PACKAGES = {
    "CHGNet": "chgnet",
    "SevenNet": "sevenn",
    "MACE": "mace-torch",
    "M3GNet": "matgl",
    "GAP": "quippy-ase",
    "Nequip": "nequip",
}
"""Python package that ships each force field's code and weights."""

IGNORED_RELAX_FIELDS = {"name", "max_atoms", "device"}
"""Maker fields that do not change a relaxation's result (batch-invariant batches)."""


def describe_maker(maker: Maker) -> str:
    """Return a short description of a relax maker, e.g. ``ForceFieldRelaxMaker(CHGNet)``."""
    detail = getattr(maker, "force_field_name", None) or getattr(maker, "name", "")
    detail = str(getattr(detail, "value", detail)).removeprefix("MLFF.")
    return f"{type(maker).__name__}({detail})"


def potential_label(maker: Maker) -> str:
    """Return a short label of a relax maker's potential: ``"CHGNet"``, or its class name."""
    name = getattr(maker, "force_field_name", None)
    if name is None:
        return type(maker).__name__
    return str(getattr(name, "value", name)).removeprefix("MLFF.")


def engine_label(maker: Maker) -> str:
    """Return what runs a relax maker's relaxations: ``"torch-sim"``, ``"ase"`` or its class."""
    if getattr(maker, "batched", False):
        return "torch-sim"
    if isinstance(maker, ForceFieldRelaxMaker):
        return "ase"
    return type(maker).__name__


def potential_version(maker: Maker) -> str | None:
    """Return ``"package version"`` of the potential of a force-field maker, if known."""
    package = POTENTIAL_PACKAGES.get(potential_label(maker))
    if package is None:
        return None
    installed = package_version(package)
    return f"{package} {installed}" if installed is not None else None


ENGINE_PACKAGES = {
    "torch-sim": ("torch-sim-atomistic", "torch"),
    "ase": ("ase", "atomate2", "torch"),
}
"""Packages that run the relaxations of each engine (see :func:`engine_label`)."""

MODEL_ARGUMENTS = ("model", "model_path", "path")
"""Arguments of atomate2's calculators that choose a potential's weights."""


def weights_files(maker: Maker) -> tuple[Path, ...]:
    """Return the weights files a force-field maker's potential loads.

    The weights shipped with the potential's package (:data:`SHIPPED_WEIGHTS`),
    unless the maker's ``calculator_kwargs`` choose others: a file (its path), or a
    model name that is not the shipped one (nothing known here; the name is in the
    maker's settings).

    Returns
    -------
    tuple of Path
        The files; empty where they are not known.
    """
    potential = potential_label(maker)
    calculator_kwargs = getattr(maker, "calculator_kwargs", None) or {}
    chosen = next((calculator_kwargs[k] for k in MODEL_ARGUMENTS if k in calculator_kwargs), None)
    if chosen is None:
        return shipped_weights_files(potential)
    if isinstance(chosen, str | Path) and Path(chosen).is_file():
        return (Path(chosen),)
    shipped = SHIPPED_WEIGHTS.get(potential)
    if shipped is not None and str(chosen).lower() in shipped.names:
        return shipped_weights_files(potential)
    return ()


def engine_versions(maker: Maker) -> dict[str, str | None]:
    """Return the versions of the packages that run a maker's relaxations.

    torch-sim and torch for the batched maker; ASE, atomate2 and torch for atomate2's
    per-structure force-field maker; for any other maker, its own package's (say
    atomate2's), where that is an installed distribution.
    """
    packages = ENGINE_PACKAGES.get(engine_label(maker))
    if packages is None:
        top_level = type(maker).__module__.partition(".")[0]
        packages = (top_level,) if package_version(top_level) is not None else ()
    return {package: package_version(package) for package in packages}


def potential_provenance(maker: Maker) -> dict[str, Any]:
    """Return what identifies the potential and the code behind a maker's relaxations.

    Returns
    -------
    dict
        ``potential`` (``"CHGNet"``), ``potential_version`` (``"chgnet 0.4.2"``),
        ``weights_sha256`` (the first 16 hex digits of the sha256 of the weights it
        loads, ``None`` where they are not known) and ``engine_versions`` (package ->
        version of the relax engine's packages).
    """
    return {
        "potential": potential_label(maker),
        "potential_version": potential_version(maker),
        "weights_sha256": weights_checksum(weights_files(maker)),
        "engine_versions": engine_versions(maker),
    }


def relax_settings(maker: Maker) -> dict[str, Any]:
    """Return the serialized settings of a relax maker that decide its results.

    The maker's name, the batch size and the device are left out (the batched relax
    gives the same result whatever the batch), and so are the ``@version`` stamps;
    the potential's provenance (:func:`potential_provenance`: its name, its
    package's version, the checksum of its weights and the relax engine's versions)
    is added, so that a new potential or engine gives new run keys.
    """

    def unversioned(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: unversioned(v) for k, v in value.items() if k != "@version"}
        if isinstance(value, list | tuple):
            return [unversioned(v) for v in value]
        return value

    fields = {k: v for k, v in maker.as_dict().items() if k not in IGNORED_RELAX_FIELDS}
    return {"maker": unversioned(fields), **potential_provenance(maker)}

"""Jobs that build reference convex hulls, once per chemical system and potential.

The known phases of a system are relaxed with the same potential and settings as
the generated samples (one batched relaxation), their energies make the hull
(:mod:`sianode_flows.analysis.hull`), and the hull is stored as a
:class:`~sianode_flows.schemas.hull.HullDocument` under a key of the system, the
reference structures, the potential's version and the settings: a later run that
asks for the same hull reads it from the store instead of relaxing again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from jobflow import CURRENT_JOB, Flow, JobConfig, Response, job
from monty.json import MontyDecoder
from pymatgen.analysis.phase_diagram import PhaseDiagram
from pymatgen.core import Composition, Structure

from sianode_flows.analysis.hull import (
    ON_HULL,
    chemsys_of,
    element_prototype,
    hull_position,
    in_system,
    max_li_per_host,
    missing_elements,
    phase_diagram,
    phases_in_system,
)
from sianode_flows.jobs.potentials import force_field_name
from sianode_flows.jobs.relax import POTENTIAL_PACKAGES
from sianode_flows.schemas.hull import HullDocument, HullEntry

logger = logging.getLogger(__name__)

POTENTIAL = "chgnet"
"""Potential of the verification relaxations (samples and hulls alike)."""


def potential_with_version(potential: str = POTENTIAL) -> str:
    """Return ``"chgnet 0.4.2"``: the potential and the version of its package."""
    package = POTENTIAL_PACKAGES.get(force_field_name(potential), potential)
    try:
        return f"{potential} {version(package)}"
    except PackageNotFoundError:
        return potential


def _is_pair(item: Any) -> bool:
    """Whether an item is a ``(source_id, structure)`` pair (a list after serialization)."""
    return (
        isinstance(item, list | tuple)
        and len(item) == 2
        and any(isinstance(x, Structure) for x in item)
        and any(isinstance(x, str) for x in item)
    )


def as_pairs(references: Sequence[Any]) -> list[tuple[str, Structure]]:
    """Return ``(source_id, structure)`` of structures, records or pairs (paths are skipped).

    A nested list (the resolved output of a harvest, say) is read item by item.
    """
    pairs = []
    for index, item in enumerate(references):
        if isinstance(item, str | Path):
            continue
        if isinstance(item, list | tuple) and not _is_pair(item):
            pairs.extend(as_pairs(item))
        elif isinstance(item, Structure):
            pairs.append((f"reference-{index}", item))
        elif hasattr(item, "structure"):
            name = getattr(item, "candidate_id", None) or getattr(item, "source_id", None)
            if item.structure is not None:
                pairs.append((str(name or f"reference-{index}"), item.structure))
        else:
            first, second = item
            pairs.append((str(first), second) if isinstance(second, Structure) else (second, first))
    return pairs


@lru_cache(maxsize=4)
def _indexed_rows(files: tuple[str, ...]) -> tuple[tuple[frozenset[str], float, str, str], ...]:
    """Read data files once per process: (elements, atoms in cell, id, CIF) per row."""
    from sianode_flows.generative.data import _data_files, _iter_rows

    rows = []
    for path in _data_files(files):
        for number, row in enumerate(_iter_rows(path)):
            try:
                composition = Composition(row.get("formula") or "")
            except Exception:  # no usable formula: the row cannot be placed in a system
                continue
            source = row.get("source") or path.name.split(".")[0]
            source_id = f"{source}:{row.get('source_id') or f'row-{number}'}"
            symbols = frozenset(el.symbol for el in composition.elements)
            rows.append((symbols, composition.num_atoms, source_id, row.get("cif") or ""))
    return tuple(rows)


@lru_cache(maxsize=4096)
def _parsed(cif: str) -> Structure | None:
    """Parse a CIF once per process (None when it cannot be read)."""
    from sianode_flows.io import parse_cif

    try:
        return parse_cif(cif)[0]
    except Exception:  # a bad row is skipped, the file goes on
        return None


def known_in_system(
    references: Sequence[Any], chemsys: str, max_atoms: int = 1000
) -> list[tuple[str, Structure]]:
    """Return the known structures of a system (and its subsystems).

    Parameters
    ----------
    references
        Structures, records, ``(source_id, structure)`` pairs, or paths of data
        files (CSV(.gz) with ``formula`` and ``cif`` columns, or folders of them):
        files are read once per process and only the rows of the system are
        parsed, so a job's input holds a path rather than thousands of structures.
    chemsys
        The system, e.g. ``"Li-Si-Ge"``.
    max_atoms
        Largest cell read from files.

    Returns
    -------
    list of (str, Structure)
        Inline structures first, then those read from files.
    """
    kept = [pair for pair in as_pairs(references) if in_system(pair[1], chemsys)]
    files = tuple(str(item) for item in references if isinstance(item, str | Path))
    if not files:
        return kept
    system = set(chemsys.split("-"))
    for symbols, n_atoms, source_id, cif in _indexed_rows(files):
        if symbols and symbols <= system and n_atoms <= max_atoms:
            structure = _parsed(cif)
            if structure is not None and in_system(structure, chemsys):
                kept.append((source_id, structure.copy()))
    return kept


def hull_key(
    chemsys: str,
    phases: Sequence[tuple[str, Structure]],
    steps: int,
    fmax: float,
    max_lithiation: float | None = None,
) -> str:
    """Hash what decides a hull: system, references, lithiation limit, potential, settings."""
    structures = sorted(
        hashlib.sha256(json.dumps(s.as_dict(), sort_keys=True).encode()).hexdigest()
        for _, s in phases
    )
    payload = {
        "chemsys": chemsys,
        "structures": structures,
        "potential": potential_with_version(),
        "steps": steps,
        "fmax": fmax,
        "max_lithiation": max_lithiation,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def relax_for_energies(
    structures: Sequence[Structure], steps: int, fmax: float
) -> list[tuple[Any | None, str | None]]:
    """Relax structures in one batch with the verification potential.

    Returns
    -------
    list of (outcome or None, error or None)
        Per structure, its relaxation outcome or why there is none.
    """
    if not structures:
        return []
    try:
        from sianode_flows.forcefields import relax_structures
        from sianode_flows.jobs.batched_relax import cached_model

        model = cached_model(POTENTIAL, None)
        outcomes = relax_structures(structures, model, fmax=fmax, steps=steps)
    except Exception as exc:  # the batch failed as a whole: every structure says so
        logger.exception("batched relaxation failed")
        return [(None, f"relax: {type(exc).__name__}: {exc}")] * len(structures)
    results: list[tuple[Any | None, str | None]] = []
    for outcome in outcomes:
        if outcome.failed:
            results.append((outcome, f"relax: {outcome.error or 'failed'}"))
        elif not outcome.energies:
            results.append((outcome, "relax: no energy recorded"))
        else:
            results.append((outcome, None))
    return results


def build_hull(
    chemsys: str,
    phases: Sequence[tuple[str, Structure]],
    steps: int = 300,
    fmax: float = 0.05,
    key: str | None = None,
    max_lithiation: float | None = None,
) -> HullDocument:
    """Relax the known phases of a system and build its hull.

    An element with no known structure among ``phases`` gets a prototype
    (:func:`~sianode_flows.analysis.hull.element_prototype`), relaxed likewise and
    marked as such. Failed relaxations are recorded and left out.

    Parameters
    ----------
    chemsys
        The system, e.g. ``"Li-Si"``.
    phases
        ``(source_id, structure)`` of its known phases
        (:func:`~sianode_flows.analysis.hull.phases_in_system`).
    steps
        Step cap of each relaxation.
    fmax
        Force criterion (eV/A).
    key
        Key of the hull; computed when None.
    max_lithiation
        Most Li per host atom of any known phase of the system, large cells
        included (:func:`~sianode_flows.analysis.hull.max_li_per_host`); from
        ``phases`` when None.

    Returns
    -------
    HullDocument
        Every relaxed phase with its energy above the hull of all of them.

    Raises
    ------
    ValueError
        If an element of the system ends with no relaxed elemental phase.
    """
    phases = list(phases)
    prototypes = [
        (f"prototype:{el}", element_prototype(el))
        for el in missing_elements([structure for _, structure in phases], chemsys)
    ]
    everything = phases + prototypes
    relaxed = relax_for_energies([s for _, s in everything], steps, fmax)
    entries: list[HullEntry] = []
    failures: list[str] = []
    for (source_id, _), (outcome, error) in zip(everything, relaxed, strict=True):
        if error is not None:
            failures.append(f"{source_id}: {error}")
            continue
        structure = outcome.structure
        comp = structure.composition
        entries.append(
            HullEntry(
                formula=comp.reduced_formula,
                formula_cell=comp.formula.replace(" ", ""),
                source_id=source_id,
                nsites=len(structure),
                energy_per_atom=float(outcome.energies[-1] / len(structure)),
                converged=bool(outcome.converged),
                prototype=source_id.startswith("prototype:"),
            )
        )
    lacking = missing_elements([Composition(e.formula) for e in entries], chemsys)
    if lacking:
        raise ValueError(f"hull of {chemsys}: no relaxed phase of {', '.join(lacking)}")
    if max_lithiation is None:
        max_lithiation = max_li_per_host([structure for _, structure in phases], chemsys)
    hull = HullDocument(
        hull_key=key or hull_key(chemsys, phases, steps, fmax, max_lithiation),
        chemsys=chemsys,
        potential=potential_with_version(),
        relax_settings={"steps": steps, "fmax": fmax},
        entries=entries,
        failures=failures,
        max_li_per_host=max_lithiation,
    )
    diagram = diagram_of(hull)
    for entry in hull.entries:
        position = hull_position(diagram, Composition(entry.formula_cell), entry.energy_per_atom)
        entry.e_above_hull = max(position.e_above_hull, 0.0)
    return hull


def diagram_of(hull: HullDocument) -> PhaseDiagram:
    """Return the pymatgen phase diagram of a stored hull."""
    return phase_diagram([(Composition(e.formula_cell), e.energy_per_atom) for e in hull.entries])


def on_hull(hull: HullDocument) -> list[str]:
    """Return the formulas of a hull's phases that lie on it."""
    return sorted(
        {
            e.formula
            for e in hull.entries
            if e.e_above_hull is not None and e.e_above_hull <= ON_HULL
        }
    )


def stored_hull(key: str) -> HullDocument | None:
    """Return the hull stored under a key in the running job's store, if any."""
    store = CURRENT_JOB.store
    if store is None:
        return None
    found = store.query_one(
        {"output.@class": "HullDocument", "output.hull_key": key, "output.error": None},
        properties=["output"],
        load=True,
    )
    if not found:
        return None
    output: Any = MontyDecoder().process_decoded(found["output"])
    return output if isinstance(output, HullDocument) else None


@job(name="reference hull")
def reference_hull(
    chemsys: str,
    phases: list[tuple[str, Structure]],
    steps: int,
    fmax: float,
    key: str,
    max_lithiation: float | None = None,
) -> HullDocument:
    """Job: relax the known phases of one system and build its hull (see :func:`build_hull`).

    A hull that cannot be built is returned with its ``error`` (the samples of the
    system are then verified without an energy above hull): the batch goes on.
    """
    try:
        hull = build_hull(chemsys, phases, steps, fmax, key, max_lithiation)
    except Exception as exc:  # recorded, not fatal: the samples are still verified
        logger.exception("hull of %s could not be built", chemsys)
        return HullDocument(
            hull_key=key,
            chemsys=chemsys,
            potential=potential_with_version(),
            relax_settings={"steps": steps, "fmax": fmax},
            error=f"{type(exc).__name__}: {exc}",
            max_li_per_host=max_lithiation,
        )
    logger.info(
        "hull of %s: %d phases, on it %s; %d failed",
        chemsys,
        len(hull.entries),
        ", ".join(on_hull(hull)),
        len(hull.failures),
    )
    return hull


@job(name="reference hulls", config=JobConfig(expose_store=True))
def reference_hulls(
    samples: Sequence[Structure],
    references: Sequence[Any],
    steps: int = 300,
    fmax: float = 0.05,
    per_formula: int = 4,
    max_sites: int = 80,
) -> Response | list[HullDocument]:
    """Job: the hull of every chemical system among some samples, reused or built.

    Parameters
    ----------
    samples
        Generated structures: their systems get a hull.
    references
        Known structures, records, ``(source_id, structure)`` pairs or data files
        (see :func:`known_in_system`).
    steps, fmax
        Relaxation settings, the same as the samples'.
    per_formula, max_sites
        Which known phases are relaxed (see
        :func:`~sianode_flows.analysis.hull.phases_in_system`).

    Returns
    -------
    list of HullDocument, or a Response
        The hulls found in the store; when some must be built, the job is replaced
        by one ``reference hull`` job per missing system.
    """
    systems = sorted({chemsys_of(s) for s in samples if len(s)})
    found: list[Any] = []
    jobs = []
    for chemsys in systems:
        pairs = known_in_system(references, chemsys)
        phases = phases_in_system(pairs, chemsys, per_formula, max_sites)
        lithiation = max_li_per_host([structure for _, structure in pairs], chemsys)
        key = hull_key(chemsys, phases, steps, fmax, lithiation)
        stored = stored_hull(key)
        if stored is not None:
            logger.info("hull of %s reused from the store", chemsys)
            found.append(stored)
            continue
        built = reference_hull(chemsys, phases, steps, fmax, key, lithiation)
        built.name = f"reference hull {chemsys}"
        jobs.append(built)
        found.append(built.output)
    if not jobs:
        return found
    return Response(replace=Flow(jobs, output=found, name="reference hulls"))

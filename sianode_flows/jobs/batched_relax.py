"""The batched relax maker: many configurations in one job, the model loaded once.

Its documents are atomate2's ``ForceFieldTaskDocument`` (one per structure, as the
per-structure ``ForceFieldRelaxMaker`` makes them), so the channel and fit jobs
read either. A structure whose relaxation fails gets a ``FailureDocument`` in its
place and the others are kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from atomate2.ase.schemas import AseResult, IonicStep
from atomate2.forcefields.schemas import ForceFieldTaskDocument
from jobflow import Maker, job
from pymatgen.core import Structure

from sianode_flows.forcefields import RelaxOutcome, load_model, relax_structures
from sianode_flows.jobs.potentials import OPTIMIZER_NAMES, force_field_name
from sianode_flows.progress import ProgressLog
from sianode_flows.schemas import FailureDocument
from sianode_flows.settings import get_settings

if TYPE_CHECKING:
    from torch_sim.models.interface import ModelInterface

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def cached_model(potential: str, device: str | None) -> ModelInterface:
    """Load a potential once per process (jobs run one after another reuse it)."""
    return load_model(potential, device=device)


def task_document(
    outcome: RelaxOutcome, maker: BatchedRelaxMaker, label: str
) -> ForceFieldTaskDocument | FailureDocument:
    """Turn one outcome into the document atomate2's per-structure relax would store.

    Parameters
    ----------
    outcome
        The structure's relaxation.
    maker
        The maker that ran it (its settings go into the document's input).
    label
        Task label, e.g. ``"batched relax 3"``.

    Returns
    -------
    ForceFieldTaskDocument or FailureDocument
        The task document; a failure document if the relaxation failed.
    """
    if outcome.failed:
        return FailureDocument(
            input=f"{outcome.initial_structure.composition.reduced_formula} #{outcome.index}",
            step="relax",
            error_type="RelaxFailed",
            message=outcome.error or "the relaxation failed",
        )
    final = outcome.structure
    result = AseResult(
        final_mol_or_struct=final,
        final_energy=outcome.energies[-1],
        converged=outcome.converged,
        is_force_converged=outcome.converged,
        energy_downhill=outcome.energies[-1] <= outcome.energies[0],
        elapsed_time=outcome.elapsed,
    )
    name = maker.force_field_name
    doc = ForceFieldTaskDocument.from_ase_compatible_result(
        f"MLFF.{name}",
        result,
        maker.steps,
        relax_kwargs={"fmax": maker.fmax},
        optimizer_kwargs={
            "optimizer": OPTIMIZER_NAMES[maker.optimizer.lower()],
            "engine": "torch-sim",
            **maker.optimizer_kwargs,
        },
        relax_cell=maker.relax_cell,
        ionic_step_data=("energy",),
        task_label=label,
        tags=["batched"],
    )
    # atomate2's observer records the input, every step, and the final state once
    # more after the optimizer returns: the same frames here
    frames = [*outcome.energies, outcome.energies[-1]]
    doc.input.mol_or_struct = outcome.initial_structure
    doc.output.n_steps = len(frames)
    doc.output.ionic_steps = [IonicStep(energy=energy) for energy in frames]
    doc.output.forces = outcome.forces
    doc.output.stress = outcome.stress
    return doc


@dataclass
class BatchedRelaxMaker(Maker):
    """Relax a list of structures in one job, batched on one loaded model.

    The same algorithm and criteria as atomate2's ``ForceFieldRelaxMaker`` (FIRE,
    Frechet cell filter, ``fmax`` on atoms and cell, a step cap per structure),
    run by torch-sim on many structures at once: see
    :func:`sianode_flows.forcefields.relax_structures`. Swappable with the
    per-structure maker wherever a relax maker is asked for.

    atomate2's own batched maker (``atomate2.torchsim.TorchSimOptimizeMaker``) is
    not used under it: it loads only the models of its ``TorchSimModelType`` (no
    CHGNet), writes one document for all structures rather than one per structure,
    runs ``torch_sim.optimize`` (convergence tested every few steps on the raw
    forces, no steps or convergence per structure), and one failing structure fails
    the whole job.

    Parameters
    ----------
    name
        Job name (task labels are the name and the structure's position).
    potential
        ``"chgnet"`` or ``"sevennet"``; the settings' ``force_field`` by default.
    fmax
        Force criterion (eV/A), settings: 0.05.
    steps
        Step cap of each structure, settings: 1000.
    relax_cell
        Relax the cell too.
    max_atoms
        Atoms in one batch; ``None``: torch-sim's memory probe on a GPU, 1024 on a CPU.
    device
        ``"cpu"``, ``"cuda"``; CUDA when available by default.
    optimizer
        ``"fire"`` (ASE's FIRE, atomate2's default), ``"lbfgs"`` or ``"bfgs"``:
        torch-sim's batched optimizers; the settings' ``relax_optimizer``.
    optimizer_kwargs
        Extra arguments of torch-sim's optimizer.

    Notes
    -----
    While it runs, the job logs its progress (structures done of all, steps per
    second) every ``progress_interval`` seconds of the settings (30 by default),
    and after every step at debug level.
    """

    name: str = "batched relax"
    potential: str = field(default_factory=lambda: get_settings().force_field)
    fmax: float = field(default_factory=lambda: get_settings().relax_fmax)
    steps: int = field(default_factory=lambda: get_settings().relax_steps)
    relax_cell: bool = True
    max_atoms: int | None = None
    device: str | None = None
    optimizer: str = field(default_factory=lambda: get_settings().relax_optimizer)
    optimizer_kwargs: dict[str, Any] = field(default_factory=dict)

    batched: ClassVar[bool] = True
    """Fan-outs give this maker all configurations at once."""

    @property
    def force_field_name(self) -> str:
        """atomate2's name of the potential, e.g. ``CHGNet``."""
        return force_field_name(self.potential)

    @job(data=[Structure, "ionic_steps"])
    def make(
        self, structure: Structure | list[Structure], prev_dir: str | Path | None = None
    ) -> ForceFieldTaskDocument | FailureDocument | list:
        """Job: relax one structure or a list of them.

        The structures and ionic steps of the task documents go to the data store
        (GridFS on MongoDB), as atomate2's force-field jobs put their trajectories
        there, so that a batch of hundreds of structures stays a small document.

        Parameters
        ----------
        structure
            A structure, or a list of structures relaxed together.
        prev_dir
            Unused; kept for the common maker signature.

        Returns
        -------
        ForceFieldTaskDocument or FailureDocument, or a list of them
            One document per structure, in order (a list if a list was given).
        """
        structures = list(structure) if isinstance(structure, list | tuple) else [structure]
        model = cached_model(self.potential.lower(), self.device)
        outcomes = relax_structures(
            structures,
            model,
            fmax=self.fmax,
            steps=self.steps,
            relax_cell=self.relax_cell,
            max_atoms=self.max_atoms,
            optimizer=self.optimizer,
            optimizer_kwargs=self.optimizer_kwargs,
            progress=ProgressLog(get_settings().progress_interval),
            label=self.name,
        )
        docs = [task_document(o, self, f"{self.name} {o.index}") for o in outcomes]
        n_failed = sum(isinstance(doc, FailureDocument) for doc in docs)
        n_converged = sum(o.converged for o in outcomes)
        logger.info(
            "%s: %d structures, %d converged, %d failed, %d steps in all",
            self.name,
            len(docs),
            n_converged,
            n_failed,
            sum(o.n_steps for o in outcomes),
        )
        return docs if isinstance(structure, list | tuple) else docs[0]

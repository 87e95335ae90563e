"""A real screening stored on disk once per test session, for builder and query tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from sianode_flows.builtin import builtin_records
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker
from sianode_flows.schemas import StructureRecord
from sianode_flows.stores import build_job_store

RELAX_STEPS = 5
LI15SI4 = "builtin:Li15Si4"
LI30SI7GE = "builtin:Li30Si7Ge1"


def channel_maker() -> ChannelStabilityMaker:
    """The channel-stability settings of the stored screening (reruns reuse them)."""
    return ChannelStabilityMaker(
        n_configs=3, relax_maker=default_relax_maker(steps=RELAX_STEPS), fit_unconverged=True
    )


def _screen(folder: Path) -> None:
    import torch

    silicon = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    records = [
        *builtin_records()[:2],  # Li15Si4 and Li30Si7Ge
        StructureRecord(source="file", source_id="broken.cif", error="ValueError: bad CIF"),
        StructureRecord(source="test", source_id="no-li", structure=silicon),
    ]
    flow = ScreeningMaker(channel_maker=channel_maker()).make(records)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # far faster on a busy 2-core machine
    try:
        run_locally(flow, store=build_job_store(str(folder)), ensure_success=True, log=False)
    finally:
        torch.set_num_threads(threads)


def screened_copy(base: Path, destination: Path) -> str:
    """Copy the session's screened store (screening it on first use) to a new folder.

    Parameters
    ----------
    base
        The session's base temporary folder (``tmp_path_factory.getbasetemp()``).
    destination
        Folder of the copy, the test's own.

    Returns
    -------
    str
        The store location of the copy.
    """
    folder = base / "screened_store"
    marker = base / "screened_store.done"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        _screen(folder)
        marker.touch()
    return str(shutil.copytree(folder, destination))

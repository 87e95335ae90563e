"""Submit flows to a FireWorks launchpad: a MongoDB one, or one persisted to a file.

A cluster uses a launchpad on MongoDB (``my_launchpad.yaml``); its workers run
``rlaunch``/``qlaunch`` and write job outputs to the jobflow store of their
``jobflow.yaml`` (``JOBFLOW_CONFIG_FILE``), or to a store embedded in the workflow.

Without a server, FireWorks keeps its launchpad in a JSON file when
``MONGOMOCK_SERVERSTORE_FILE`` names one: the file is read once when the launchpad's
client is built and written back when the process exits normally. It hands the
launchpad over between processes run one after another (``sianode submit``, then
``rlaunch rapidfire``); it is not a database: run one worker at a time, and know that
a worker killed with SIGKILL writes nothing back. Job outputs still reach the jobflow
store as each job finishes, so a rerun skips the candidates already fitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monty.json import jsanitize

if TYPE_CHECKING:
    from fireworks import LaunchPad, Workflow
    from jobflow import Flow, JobStore, OutputReference

    from sianode_flows.makers import ScreeningMaker
    from sianode_flows.schemas import StructureRecord

logger = logging.getLogger(__name__)

LAUNCHPAD_FILE_ENV = "MONGOMOCK_SERVERSTORE_FILE"
SUBMISSION_KEY = "sianode_submission"
"""Workflow metadata field holding the submission key (see :func:`submission_key`)."""


def file_launchpad(path: str | Path) -> LaunchPad:
    """Open (or create) a launchpad persisted to a JSON file, with no server.

    The variable ``MONGOMOCK_SERVERSTORE_FILE`` must name the file before FireWorks
    is imported, since FireWorks picks its client class at import time: this
    function sets it, and refuses to go on if FireWorks was already imported with a
    real MongoDB client (start a fresh process, as ``sianode submit`` does).

    Parameters
    ----------
    path
        The JSON file; created (as an empty launchpad) if missing.

    Returns
    -------
    LaunchPad
        The launchpad; its content is written back to the file when the process
        exits normally.

    Raises
    ------
    RuntimeError
        If ``mongomock-persistence`` is missing, or FireWorks was imported before the
        file was chosen, or ``MONGOMOCK_SERVERSTORE_FILE`` names another file.
    """
    path = Path(path).expanduser().resolve()
    current = os.environ.get(LAUNCHPAD_FILE_ENV)
    if current and Path(current).expanduser().resolve() != path:
        raise RuntimeError(f"{LAUNCHPAD_FILE_ENV} already names another file: {current}")
    try:
        import mongomock_persistence
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise RuntimeError(
            "a file launchpad needs mongomock-persistence: pip install 'fireworks[mongomock]'"
        ) from exc
    config = sys.modules.get("fireworks.fw_config")
    if config is not None and config.MongoClient is not mongomock_persistence.MongoClient:
        raise RuntimeError(
            "FireWorks was imported before the launchpad file was chosen; set "
            f"{LAUNCHPAD_FILE_ENV}={path} before starting Python"
        )
    if not path.is_file() or path.stat().st_size == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    os.environ[LAUNCHPAD_FILE_ENV] = str(path)
    from fireworks.core import launchpad as launchpad_module

    return ensure_initialized(launchpad_module.LaunchPad())


def ensure_initialized(launchpad: LaunchPad) -> LaunchPad:
    """Initialize a launchpad that never held a workflow (``lpad reset`` of a new one).

    A launchpad whose id counter exists is left alone: nothing is ever deleted.

    Parameters
    ----------
    launchpad
        The launchpad.

    Returns
    -------
    LaunchPad
        The same launchpad, ready to take workflows.
    """
    if launchpad.fw_id_assigner.find_one() is None and launchpad.workflows.find_one() is None:
        launchpad.reset("", require_password=False)
        logger.info("initialized the new launchpad %s", launchpad.name)
    return launchpad


def load_launchpad(launchpad_file: str | Path | None = None) -> LaunchPad:
    """Return the launchpad of a ``my_launchpad.yaml``, or FireWorks' default one.

    Parameters
    ----------
    launchpad_file
        A launchpad YAML file; FireWorks' own lookup (``LAUNCHPAD_LOC``,
        ``./my_launchpad.yaml``, ``~/.fireworks``) when omitted.

    Returns
    -------
    LaunchPad
        The launchpad.
    """
    from fireworks import LaunchPad

    if launchpad_file is None:
        return LaunchPad.auto_load()
    return LaunchPad.from_file(str(launchpad_file))


def submission_key(records: list[StructureRecord], maker: ScreeningMaker) -> str:
    """Hash the input records and every setting of a screening.

    Two submissions with the same key would compute the same thing: the second is
    not added again (see :func:`submit_flow`).

    Parameters
    ----------
    records
        The input records.
    maker
        The screening maker.

    Returns
    -------
    str
        A 24-character hexadecimal key.
    """
    payload = {
        "records": [record.model_dump() for record in records],
        "maker": maker.as_dict(),
    }
    text = json.dumps(jsanitize(payload, strict=False, enum_values=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class Submission:
    """What a submission did.

    Parameters
    ----------
    key
        Submission key of the workflow.
    added
        Whether a new workflow was added (False: the same one was already there).
    fw_ids
        Firework ids of the workflow.
    state
        State of the workflow in the launchpad.
    """

    key: str
    added: bool
    fw_ids: list[int] = field(default_factory=list)
    state: str = "READY"

    def as_dict(self) -> dict[str, Any]:
        """Return the submission as a JSON-ready dict."""
        return {"key": self.key, "added": self.added, "fw_ids": self.fw_ids, "state": self.state}


def to_workflow(flow: Flow, store: JobStore | None = None, key: str | None = None) -> Workflow:
    """Convert a flow to a FireWorks workflow, tagged with its submission key.

    Parameters
    ----------
    flow
        The flow.
    store
        Job store embedded in every firework (also in those the fan-out jobs add at run
        time); ``None`` lets each worker use its own ``jobflow.yaml`` store.
    key
        Submission key, stored in the workflow metadata.

    Returns
    -------
    Workflow
        The workflow.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    metadata = {SUBMISSION_KEY: key} if key else {}
    # the staged input records are an external reference (see stage_records)
    return flow_to_workflow(flow, store=store, metadata=metadata, allow_external_references=True)


def submitted(launchpad: LaunchPad, key: str) -> Submission | None:
    """Return the workflow already submitted with this key, or ``None``.

    Parameters
    ----------
    launchpad
        The launchpad (initialized here if new).
    key
        Submission key (:func:`submission_key`).

    Returns
    -------
    Submission or None
        The existing workflow (``added`` False), if any.
    """
    ensure_initialized(launchpad)
    existing = launchpad.workflows.find_one(
        {f"metadata.{SUBMISSION_KEY}": key}, {"nodes": 1, "state": 1}
    )
    if existing is None:
        return None
    logger.info("workflow %s already submitted (state %s): not added", key, existing["state"])
    return Submission(key, False, sorted(existing["nodes"]), existing["state"])


def submit_flow(
    launchpad: LaunchPad,
    flow: Flow,
    key: str,
    store: JobStore | None = None,
    force: bool = False,
) -> Submission:
    """Add a flow to a launchpad, unless a workflow with the same key is already there.

    Parameters
    ----------
    launchpad
        The launchpad.
    flow
        The flow.
    key
        Submission key (:func:`submission_key`).
    store
        Job store embedded in the workflow; ``None`` for the workers' ``jobflow.yaml``.
    force
        Add the workflow even if one with the same key exists (the fan-out still skips
        candidates whose fit is stored).

    Returns
    -------
    Submission
        The workflow's fireworks and whether it was added.
    """
    existing = submitted(launchpad, key)
    if existing is not None and not force:
        return existing
    workflow = to_workflow(flow, store=store, key=key)
    id_map = launchpad.add_wf(workflow)
    logger.info("added workflow %s with %d fireworks", key, len(workflow.fws))
    return Submission(key, True, sorted(id_map.values()), "READY")


def stage_records(
    records: list[StructureRecord], store: JobStore | None = None
) -> OutputReference | None:
    """Store input records in the job store and return the reference a workflow takes.

    A FireWorks spec holds its job's inputs: a screening of thousands of records
    given inline would put them all in one firework document, past MongoDB's 16 MB.
    Run once here, an ``input records`` job keeps them in the store (structures in
    its data store) and the workflow carries only a reference to its output.

    Parameters
    ----------
    records
        The input records.
    store
        The job store the workers write to; jobflow's own (``jobflow.yaml``) when
        ``None``.

    Returns
    -------
    OutputReference or None
        The reference to the stored records; ``None`` when the store lives in
        memory (no ``store`` and no ``jobflow.yaml``: jobflow's default store), where
        workers could not read them, and the records must travel in the workflow.
    """
    from jobflow import SETTINGS
    from maggma.stores import MemoryStore

    from sianode_flows.jobs.candidates import input_records

    job_store = store if store is not None else SETTINGS.JOB_STORE
    # exactly a MemoryStore: the embedded MontyStore derives from it but is on disk
    if type(job_store.docs_store) is MemoryStore:
        logger.warning(
            "no job store to stage the %d input records in (an in-memory store: no "
            "--store and no jobflow.yaml here): they travel in the workflow's specs",
            len(records),
        )
        return None
    staged = input_records(records)
    job_store.connect()
    staged.run(job_store)
    logger.info("staged %d input records as job %s", len(records), staged.uuid)
    return staged.output


def submit_screening(
    launchpad: LaunchPad,
    records: list[StructureRecord],
    maker: ScreeningMaker,
    store: JobStore | None = None,
    force: bool = False,
) -> Submission:
    """Make the screening flow of some records and add it to a launchpad once.

    The records are staged in the job store first (see :func:`stage_records`), so
    the workflow's specs hold a reference to them, not the records.

    Parameters
    ----------
    launchpad
        The launchpad.
    records
        Input records (:mod:`sianode_flows.io`, :mod:`sianode_flows.builtin`).
    maker
        The screening maker.
    store
        Job store embedded in the workflow; ``None`` for the workers' ``jobflow.yaml``
        (the submitting machine's must name the same store).
    force
        Add it even if the same submission is there.

    Returns
    -------
    Submission
        The workflow's fireworks and whether it was added.
    """
    key = submission_key(records, maker)
    existing = submitted(launchpad, key)
    if existing is not None and not force:
        return existing
    staged = stage_records(records, store)
    flow = maker.make(records if staged is None else staged)
    return submit_flow(launchpad, flow, key, store=store, force=True)

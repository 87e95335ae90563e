r"""Submit a screening flow to a FireWorks launchpad from Python (a template to adapt).

``sianode submit`` does the same from the command line. Usage on a cluster's head
node, the workers' store set in their ``jobflow.yaml`` (``JOBFLOW_CONFIG_FILE``)::

    python launchers/submit_screening.py --input candidates.csv.gz --configs 30 \
        --launchpad launchers/my_launchpad.yaml
    qlaunch -q launchers/my_qadapter.yaml rapidfire     # or: rlaunch rapidfire

On one machine, no server (a launchpad persisted to a file)::

    python launchers/submit_screening.py --local launchpad.json --store sianode_data
    MONGOMOCK_SERVERSTORE_FILE=$PWD/launchpad.json rlaunch rapidfire

Without ``--input`` the built-in demo candidates are submitted.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fireworks import Workflow

    from sianode_flows.makers import ScreeningMaker
    from sianode_flows.schemas import StructureRecord

logger = logging.getLogger("sianode_flows.launchers")


def screening(
    input_path: Path | None, n_configs: int, seed: int
) -> tuple[list[StructureRecord], ScreeningMaker]:
    """Return the records and the screening maker of a submission."""
    from sianode_flows.builtin import builtin_records
    from sianode_flows.io import read_structure_file
    from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker

    records = builtin_records() if input_path is None else read_structure_file(input_path)
    maker = ScreeningMaker(channel_maker=ChannelStabilityMaker(n_configs=n_configs, seed=seed))
    return records, maker


def build_workflow(input_path: Path | None, n_configs: int, seed: int) -> Workflow:
    """Return the FireWorks workflow of a screening flow (store: the workers' own)."""
    from sianode_flows.launchpad import submission_key, to_workflow

    records, maker = screening(input_path, n_configs, seed)
    return to_workflow(maker.make(records), key=submission_key(records, maker))


def main() -> None:
    """Parse the arguments and add the workflow to the launchpad once."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=None, help="structure file or folder")
    parser.add_argument("--launchpad", type=Path, default=None, help="my_launchpad.yaml")
    parser.add_argument("--local", type=Path, default=None, help="launchpad JSON file")
    parser.add_argument("--store", default=None, help="job store embedded in the workflow")
    parser.add_argument("--configs", type=int, default=30, help="configurations per candidate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the delithiation")
    parser.add_argument("--force", action="store_true", help="submit even if already there")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    # choose the launchpad first: a file launchpad must be set before FireWorks loads
    from sianode_flows.launchpad import file_launchpad, load_launchpad, submit_screening
    from sianode_flows.stores import build_job_store

    launchpad = file_launchpad(args.local) if args.local else load_launchpad(args.launchpad)
    records, maker = screening(args.input, args.configs, args.seed)
    store = build_job_store(args.store) if args.store else None
    submission = submit_screening(launchpad, records, maker, store=store, force=args.force)
    logger.info("submission %s", submission.as_dict())


if __name__ == "__main__":
    main()

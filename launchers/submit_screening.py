"""Submit a screening flow to a FireWorks launchpad.

Usage (on a cluster's head node, with the jobflow store configured for the workers
through ``JOBFLOW_CONFIG_FILE`` / ``~/.jobflow.yaml``)::

    python launchers/submit_screening.py --input candidates.csv.gz \
        --launchpad my_launchpad.yaml --configs 30
    qlaunch rapidfire        # or: rlaunch rapidfire

Without ``--input`` the built-in demo candidates are submitted.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from fireworks import LaunchPad
from jobflow.managers.fireworks import flow_to_workflow

from sianode_flows.builtin import builtin_records
from sianode_flows.io import read_structure_file
from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker

logger = logging.getLogger("sianode_flows.launchers")


def build_workflow(input_path: Path | None, n_configs: int, seed: int):
    """Return the FireWorks workflow of a screening flow."""
    records = builtin_records() if input_path is None else read_structure_file(input_path)
    maker = ScreeningMaker(channel_maker=ChannelStabilityMaker(n_configs=n_configs, seed=seed))
    return flow_to_workflow(maker.make(records))


def main() -> None:
    """Parse the arguments and add the workflow to the launchpad."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=None, help="structure file or folder")
    parser.add_argument("--launchpad", type=Path, default=None, help="my_launchpad.yaml")
    parser.add_argument("--configs", type=int, default=30, help="configurations per candidate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the delithiation")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    launchpad = LaunchPad.from_file(args.launchpad) if args.launchpad else LaunchPad.auto_load()
    workflow = build_workflow(args.input, args.configs, args.seed)
    launchpad.add_wf(workflow)
    logger.info("added workflow %s with %d fireworks", workflow.name, len(workflow.fws))


if __name__ == "__main__":
    main()

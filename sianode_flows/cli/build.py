"""``sianode build``: update the candidates and failures collections (maggma builders)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from sianode_flows.cli.output import configure_logging
from sianode_flows.settings import get_settings

logger = logging.getLogger("sianode_flows.cli")


def build(
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Folder of the embedded store or a mongodb:// URI "
            "[default: SIANODE_STORE or ./sianode_data].",
        ),
    ] = None,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save",
            help="Write the serialized builders to this JSON file for `mrun` instead of "
            "running them.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Build the candidate summaries and failures from new job outputs (incremental)."""
    configure_logging(verbose)
    from maggma.cli.serial import serial
    from monty.serialization import dumpfn

    from sianode_flows.builders import summary_builders

    location = store or get_settings().store
    builders = summary_builders(location)
    if save is not None:
        dumpfn(builders, save, indent=1)
        logger.info("builders written to %s: run them with `mrun %s`", save, save)
        return
    for builder in builders:
        serial(builder, no_bars=True)
        logger.info(
            "%s: %s documents (re)built into %s",
            type(builder).__name__,
            builder.total,
            builder.target.name,
        )

"""``sianode report``: figures and one HTML page from whatever a store holds."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from sianode_flows.cli.output import configure_logging

logger = logging.getLogger("sianode_flows.cli")


def report(
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Folder of the embedded store or a mongodb:// URI "
            "(default: SIANODE_STORE, else ./sianode_data).",
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder of the page (report.html) and its figures."),
    ] = Path("sianode_report"),
    min_capacity: Annotated[
        float | None,
        typer.Option("--min-capacity", help="Capacity line of the capacity figure (mAh/g)."),
    ] = None,
    r_t_window: Annotated[
        tuple[float, float],
        typer.Option("--rt-window", help="Channel-radius window marked (A): LOW HIGH."),
    ] = (1.5, 2.5),
    top: Annotated[
        int, typer.Option("--top", help="Top-ranked candidates whose structures are drawn.")
    ] = 3,
    fit_figures: Annotated[
        int,
        typer.Option("--fit-figures", help="Top-ranked candidates drawn R_t against SOC (0: all)."),
    ] = 100,
    embed: Annotated[
        bool,
        typer.Option(
            "--embed/--no-embed",
            help="Embed the figures in the page, or reference figures/*.png beside it.",
        ),
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Write the report of a store: PNG figures and one self-contained HTML page."""
    configure_logging(verbose)
    from sianode_flows.report import ReportOptions, build_report
    from sianode_flows.settings import get_settings
    from sianode_flows.stores import build_job_store, is_mongo_uri

    low, high = r_t_window
    if not 0 < low < high:
        raise typer.BadParameter("give LOW HIGH with 0 < LOW < HIGH", param_hint="--rt-window")
    location = store or get_settings().store
    if not is_mongo_uri(location) and not Path(location).expanduser().is_dir():
        raise typer.BadParameter(
            f"no store at {location}: run `sianode screen` first", param_hint="--store"
        )
    options = ReportOptions(
        r_t_window=(low, high), top=top, max_fit_figures=fit_figures or None, embed=embed
    )
    if min_capacity is not None:
        options.min_capacity = min_capacity
    job_store = build_job_store(location)
    job_store.connect()
    try:
        written = build_report(job_store, out, options, location=location)
    finally:
        job_store.close()
    logger.info(
        "%d figures for %d fits, %d candidates, %d failures",
        len(written.figure_paths),
        len(written.data.fits),
        len(written.data.candidates),
        len(written.data.failures),
    )
    sys.stdout.write(f"{written.page.resolve()}\n")

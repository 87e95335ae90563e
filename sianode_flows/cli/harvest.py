"""``sianode harvest`` and ``sianode series``: databases in, candidates and Figure 2 out."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from typing import Annotated

import typer
from rich.table import Table

from sianode_flows.cli.options import ConfigsOption, MaxConfigsOption, sampling_fields
from sianode_flows.cli.output import (
    configure_logging,
    relax_progress,
    stderr_console,
    stdout_console,
)
from sianode_flows.settings import get_settings
from sianode_flows.sources.spec import SPEC_HELP

logger = logging.getLogger("sianode_flows.cli")

SourcesOption = Annotated[
    list[str], typer.Option("--source", "-s", help=f"Repeatable. {SPEC_HELP}.")
]
StoreOption = Annotated[
    str | None, typer.Option("--store", help="Folder of the embedded store or a mongodb:// URI.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on standard output.")]


def _sources(specs: list[str]) -> list:
    from sianode_flows.sources.spec import parse_source

    if not specs:
        stderr_console.print("[red]give at least one --source[/red]")
        raise typer.Exit(code=2)
    try:
        return [parse_source(spec) for spec in specs]
    except ValueError as exc:
        stderr_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc


def _run(flow, location: str | None):
    from jobflow import run_locally

    from sianode_flows.stores import build_job_store

    store = build_job_store(location)
    with relax_progress():
        run_locally(flow, store=store, log=False)
    store.connect()
    return store


def harvest_tables(document) -> list[Table]:
    """Return the per-source and per-stage tables of a harvest."""
    sources = Table(title="sources")
    for header in ("source", "entries seen", "prefiltered", "kept", "unparsable", "error"):
        sources.add_column(header, justify="left" if header in ("source", "error") else "right")
    for s in document.sources:
        sources.add_row(
            s.name,
            str(s.n_seen),
            str(s.n_prefiltered),
            str(s.n_records),
            str(s.n_unparsable),
            s.error or "",
        )
    stages = Table(title="filter stages")
    for header in ("stage", "in", "dropped", "why"):
        stages.add_column(header, justify="left" if header in ("stage", "why") else "right")
    for stage in document.stages:
        why = "; ".join(f"{n} {reason}" for reason, n in stage.reasons.items())
        stages.add_row(stage.stage, str(stage.n_in), str(stage.n_dropped), why)
    candidates = Table(title=f"{len(document.candidates)} candidates")
    for header in ("formula", "capacity (mAh/g)", "R_t charged (A)", "sources"):
        candidates.add_column(
            header, justify="left" if header in ("formula", "sources") else "right"
        )
    for c in document.candidates:
        sources_text = ", ".join(f"{p.source}:{p.source_id}" for p in c.provenance)
        r_t = "-" if c.r_t_charged is None else f"{c.r_t_charged:.3f}"
        candidates.add_row(c.formula, f"{c.capacity_mAh_g:.1f}", r_t, sources_text)
    return [sources, stages, candidates]


def harvest(
    source: SourcesOption = None,  # type: ignore[assignment]
    min_capacity: Annotated[
        float | None, typer.Option("--min-capacity", help="Capacity threshold (mAh/g).")
    ] = None,
    max_sites: Annotated[
        int | None, typer.Option("--max-sites", help="Largest cell accepted.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes [default: all cores].")
    ] = None,
    screen: Annotated[
        bool, typer.Option("--screen", help="Screen the harvested candidates afterwards.")
    ] = False,
    configs: ConfigsOption = None,
    max_configs: MaxConfigsOption = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Harvest Li-Si-X candidates: fetch, filter, harmonize, deduplicate, count."""
    configure_logging(False)
    warnings.filterwarnings("ignore")
    from jobflow import Flow

    from sianode_flows.makers import ChannelStabilityMaker, HarvestMaker, ScreeningMaker

    settings = get_settings()
    maker = HarvestMaker(
        min_capacity=min_capacity if min_capacity is not None else settings.min_capacity,
        max_sites=max_sites if max_sites is not None else settings.max_sites,
        workers=workers,
    )
    harvest_flow = maker.make(_sources(source or []))
    jobs = [harvest_flow]
    if screen:
        channel_maker = ChannelStabilityMaker(**sampling_fields(configs, max_configs, settings))
        jobs.append(
            ScreeningMaker(channel_maker=channel_maker, min_capacity=maker.min_capacity).make(
                harvest_flow.output.candidates
            )
        )
    job_store = _run(Flow(jobs, name="harvest"), store)
    document = harvest_flow.output.resolve(job_store)
    if as_json:
        payload = document.model_dump(
            mode="json", include={"sources", "stages", "n_duplicates_merged"}
        )
        payload["candidates"] = [
            {
                "candidate_id": c.candidate_id,
                "formula": c.formula,
                "capacity_mAh_g": c.capacity_mAh_g,
                "r_t_charged": c.r_t_charged,
                "provenance": [[p.source, p.source_id] for p in c.provenance],
            }
            for c in document.candidates
        ]
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    console = stdout_console()
    for table in harvest_tables(document):
        console.print(table)
    console.print(
        f"{document.n_duplicates_merged} duplicates merged, {len(document.failures)} failures; "
        f"documents in {store or settings.store}"
    )


def series(
    source: SourcesOption = None,  # type: ignore[assignment]
    chemsys: Annotated[str, typer.Option("--chemsys", help="Chemical system.")] = "Li-Si",
    deduplicate: Annotated[
        bool, typer.Option("--dedupe", help="One point per unique structure.")
    ] = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit R_t of every database structure of a system against its Li content (Fig. 2)."""
    configure_logging(False)
    warnings.filterwarnings("ignore")
    from sianode_flows.makers import DatabaseSeriesMaker

    flow = DatabaseSeriesMaker(chemsys=chemsys, deduplicate=deduplicate).make(
        _sources(source or [])
    )
    document = flow.output.resolve(_run(flow, store))
    if as_json:
        sys.stdout.write(document.model_dump_json(indent=2, exclude={"builder_meta"}) + "\n")
        return
    console = stdout_console()
    points = Table(title=f"{document.chemsys}: {document.n_structures} structures")
    for header in ("formula", "source", "id", "Li per host", "lithiation", "R_t (A)"):
        points.add_column(header)
    for p in sorted(document.points, key=lambda p: p.lithiation):
        points.add_row(
            p.formula,
            p.source,
            p.source_id or "",
            f"{p.li_per_host:.3f}",
            f"{p.lithiation:.3f}",
            f"{p.r_t:.3f}",
        )
    console.print(points)
    if document.slope is None:
        console.print(f"no fit: {document.note}")
        return
    console.print(
        f"slope {document.slope:.3f} +- {document.slope_err:.3f} A per 100 % lithiation; "
        f"Pearson r {document.pearson_r:.3f} (p {document.pearson_p:.2g}), "
        f"Spearman rho {document.spearman_rho:.3f} (p {document.spearman_p:.2g})"
    )

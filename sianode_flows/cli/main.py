"""``sianode``: screen Si-based anode candidates and query the results."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Literal

import typer

from sianode_flows.cli.options import (
    ConfigsOption,
    EngineOption,
    FmaxOption,
    KeepUnconvergedOption,
    MarginOption,
    MaxConfigsOption,
    MaxSitesOption,
    MinCapacityOption,
    MinConfigsOption,
    OptimizerOption,
    PoolAtomsOption,
    PotentialOption,
    ReferenceOption,
    RetryFailedOption,
    SeedOption,
    SpendingOption,
    StepsOption,
    ThresholdOption,
    VerdictRuleOption,
    channel_maker_from_options,
    is_batched,
    jobs_per_candidate,
    screening_maker_from_options,
)
from sianode_flows.cli.output import (
    configure_logging,
    cross_check_table,
    failures_table,
    fits_table,
    job_progress,
    print_json,
    relax_progress,
    screen_results,
    screen_title,
    stderr_console,
    stdout_console,
    too_few_note,
)
from sianode_flows.settings import get_settings

app = typer.Typer(
    help="Find Si-based Li-ion anodes whose Li channels survive cycling.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
logger = logging.getLogger("sianode_flows.cli")

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Folder of the embedded store or a mongodb:// URI "
        "[default: SIANODE_STORE or ./sianode_data].",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON list on standard output.")]


@app.command()
def screen(
    input: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="CIF/POSCAR/JSON/CSV(.gz) file or folder [default: built-in set].",
        ),
    ] = None,
    configs: ConfigsOption = None,
    max_configs: MaxConfigsOption = None,
    seed: SeedOption = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
    min_capacity: MinCapacityOption = None,
    max_sites: MaxSitesOption = None,
    pool_atoms: PoolAtomsOption = None,
    threshold: ThresholdOption = None,
    steps: StepsOption = None,
    fmax: FmaxOption = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            "--run-dir",
            help="Folder for job working directories [default: STORE/runs].",
        ),
    ] = None,
    zeopp_check: Annotated[
        bool, typer.Option("--zeopp-check", help="Also compute Zeo++'s free sphere radius.")
    ] = False,
    potential: PotentialOption = None,
    engine: EngineOption = None,
    optimizer: OptimizerOption = None,
    cross_check: Annotated[
        bool,
        typer.Option(
            "--cross-check",
            help="Also relax the same configurations with the other potential; "
            "stable only when both are stable and their slopes agree.",
        ),
    ] = False,
    verdict_rule: VerdictRuleOption = "interval",
    reference: ReferenceOption = None,
    margin: MarginOption = None,
    min_configs: MinConfigsOption = None,
    spending: SpendingOption = None,
    retry_failed: RetryFailedOption = False,
    keep_unconverged: KeepUnconvergedOption = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Screen candidates: capacity filter, delithiate, relax, channel radius, slope fit.

    Each candidate's slope is compared with the reference's (pure Si, Li15Si4, by the
    same protocol and settings): lower, higher, similar or undecided, from an
    interval that holds its level over all the rounds sampled.
    """
    configure_logging(verbose)
    warnings.filterwarnings("ignore")
    from jobflow import run_locally

    from sianode_flows.builtin import builtin_records
    from sianode_flows.io import read_structure_file
    from sianode_flows.jobs.relax import default_relax_maker
    from sianode_flows.stores import build_job_store, is_mongo_uri

    settings = get_settings()
    location = store or settings.store
    records = builtin_records() if input is None else read_structure_file(input)
    relax_maker = default_relax_maker(
        potential, batched=is_batched(engine), steps=steps, fmax=fmax, optimizer=optimizer
    )
    channel_maker = channel_maker_from_options(
        settings,
        configs=configs,
        max_configs=max_configs,
        seed=seed,
        threshold=threshold,
        verdict_rule=verdict_rule,
        margin=margin,
        min_configs=min_configs,
        spending=spending,
        relax_maker=relax_maker,
        zeopp_check=zeopp_check,
        retry_failed=retry_failed,
        fit_unconverged=keep_unconverged,
    )
    n_configs = channel_maker.n_configs
    sampling_text = (
        str(n_configs)
        if channel_maker.max_configs is None
        else f"{n_configs} + {channel_maker.round_size} per round while undecided, up to "
        f"{channel_maker.max_configs}"
    )
    if cross_check:
        from sianode_flows.makers.cross_check import CrossCheckMaker, other_potential

        second = other_potential(potential or settings.force_field)
        channel_maker = CrossCheckMaker.against(channel_maker, second)
        reference = "none"  # a cross-check judges each potential against the threshold
    maker = screening_maker_from_options(
        settings, channel_maker, min_capacity, max_sites, pool_atoms, reference
    )
    flow = maker.make(records)
    job_store = build_job_store(location)
    if run_dir is None:
        run_dir = Path("sianode_runs") if is_mongo_uri(location) else Path(location) / "runs"
    run_dir.mkdir(parents=True, exist_ok=True)
    logger.info(
        "screening %d inputs, %s configurations each, into %s",
        len(records),
        sampling_text,
        location,
    )
    progress, handler = job_progress(
        total=3
        + len(records)
        * (1 + cross_check)
        * jobs_per_candidate(n_configs, getattr(relax_maker, "batched", False))
    )
    job_logger = logging.getLogger("jobflow.core.job")
    job_logger.setLevel(logging.INFO)
    job_logger.propagate = False
    job_logger.addHandler(handler)
    try:
        # CHGNet prints a banner on standard output at every model load: drop it,
        # standard output is kept for results.
        with (
            progress,
            relax_progress(progress),
            open(os.devnull, "w") as sink,
            contextlib.redirect_stdout(sink),
        ):
            run_locally(flow, store=job_store, log=False, create_folders=True, root_dir=run_dir)
    finally:
        job_logger.removeHandler(handler)
        job_logger.propagate = True
    job_store.connect()
    try:
        fits, checks = screen_results(flow.output.resolve(job_store) or [])
        selection = flow.jobs[0].output.resolve(job_store)
    except Exception as exc:
        stderr_console.print(f"[red]the screening did not finish: {exc}[/red]")
        raise typer.Exit(code=1) from exc
    if as_json:
        print_json(fits, checks)
    else:
        console = stdout_console()
        console.print(fits_table(fits, title=screen_title(fits)))
        note = too_few_note(fits)
        if note:
            console.print(note)
        if checks:
            console.print(cross_check_table(checks))
        if selection.failures:
            console.print(failures_table(selection.failures))
    logger.info(
        "%d selected, %d below %.0f mAh/g, %d failed inputs; documents in %s",
        len(selection.selected),
        len(selection.below_threshold),
        selection.min_capacity_mAh_g,
        len(selection.failures),
        location,
    )


@app.command()
def results(
    store: StoreOption = None,
    as_json: JsonOption = False,
    failures: Annotated[
        bool, typer.Option("--failures", help="List the recorded failures instead.")
    ] = False,
    min_capacity: Annotated[
        float | None, typer.Option("--min-capacity", help="Smallest capacity kept (mAh/g).")
    ] = None,
    max_slope: Annotated[
        float | None,
        typer.Option("--max-slope", help="Largest |slope| kept (A per 100 % SOC)."),
    ] = None,
    elements: Annotated[
        str | None,
        typer.Option("--elements", help="Elements every candidate must contain, e.g. Ge,Si."),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Source database, e.g. mp, gnome, file.")
    ] = None,
    verdict: Annotated[
        str | None,
        typer.Option(
            "--verdict",
            help="The verdict shown: against the reference lower, higher or similar; "
            "absolute stable or unstable; undecided, insufficient-data or reference.",
        ),
    ] = None,
    potential: Annotated[
        str,
        typer.Option(
            "--potential",
            help="Potential whose fits are shown, e.g. chgnet or sevennet; 'all' for every "
            "one [default: SIANODE_FORCE_FIELD or chgnet].",
        ),
    ] = "",
    output_format: Annotated[
        Literal["table", "json", "csv"],
        typer.Option("--format", help="table, json (as --json) or csv, on standard output."),
    ] = "table",
    build: Annotated[
        bool,
        typer.Option(
            "--build/--no-build",
            help="Update the candidates collection from new job outputs first.",
        ),
    ] = True,
) -> None:
    """Print the ranked candidates (or the failures) of a store, with filters."""
    configure_logging(False)
    import csv

    from sianode_flows.results import (
        SUMMARY_FIELDS,
        failure_documents,
        query_candidates,
        summary_row,
    )
    from sianode_flows.stores import build_job_store

    console = stdout_console()
    if failures:
        job_store = build_job_store(store)
        job_store.connect()
        found = failure_documents(job_store)
        if as_json:
            sys.stdout.write("[" + ",".join(f.model_dump_json() for f in found) + "]\n")
        else:
            console.print(failures_table(found))
        return
    filters = {
        "min_capacity": min_capacity,
        "max_slope": max_slope,
        "elements": [e.strip() for e in elements.split(",") if e.strip()] if elements else None,
        "source": source,
        "verdict": verdict,
    }
    potential_filter = potential_criterion(potential or get_settings().force_field)
    found = query_candidates(
        store or get_settings().store, build=build, potential=potential_filter, **filters
    )
    output_format = "json" if as_json else output_format
    if output_format == "json":
        print_json(found)
    elif output_format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(summary_row(s) for s in found)
    elif not found and any(v is not None for v in filters.values()):
        console.print("no candidate matches the filters")
    elif (
        not found
        and potential_filter
        and (others := query_candidates(store or get_settings().store, build=False))
    ):
        console.print(
            f"no fit with potential {potential_filter}; {len(others)} with others: "
            "--potential all shows them"
        )
    elif not found:
        console.print("the store holds no slope fit yet: run `sianode screen` first")
    else:
        shown = f" ({potential_filter})" if potential_filter else ""
        console.print(fits_table(found, title=f"{len(found)} candidates in the store{shown}"))


def potential_criterion(potential: str) -> str | None:
    """Return the potential label the results are filtered on (``None``: every one)."""
    from sianode_flows.jobs.relax import force_field_name

    return None if potential.lower() == "all" else force_field_name(potential)


from sianode_flows.cli.report import report  # noqa: E402

app.command(name="report")(report)

from sianode_flows.cli.build import build  # noqa: E402
from sianode_flows.cli.submit import submit  # noqa: E402

app.command(name="build")(build)
app.command(name="submit")(submit)

from sianode_flows.cli.harvest import harvest, series  # noqa: E402

app.command(name="harvest")(harvest)
app.command(name="series")(series)

from sianode_flows.cli.generate import generate, sweep, train  # noqa: E402

app.command(name="train")(train)
app.command(name="generate")(generate)
app.command(name="sweep")(sweep)

from sianode_flows.cli.discover import discover  # noqa: E402

app.command(name="discover")(discover)


if __name__ == "__main__":  # pragma: no cover
    app()

"""``sianode submit``: add a screening to a FireWorks launchpad, for ``rlaunch`` workers."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Annotated

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
    screening_maker_from_options,
)
from sianode_flows.cli.output import configure_logging, stderr_console
from sianode_flows.launchpad import LAUNCHPAD_FILE_ENV
from sianode_flows.settings import get_settings

logger = logging.getLogger("sianode_flows.cli")


def submit(
    input: Annotated[
        Path | None,
        typer.Option(
            "--input", "-i", help="CIF/POSCAR/JSON/CSV(.gz) file or folder [default: built-in set]."
        ),
    ] = None,
    launchpad: Annotated[
        Path | None,
        typer.Option(
            "--launchpad",
            "-l",
            help="my_launchpad.yaml of a MongoDB launchpad [default: FireWorks' own lookup].",
        ),
    ] = None,
    local: Annotated[
        Path | None,
        typer.Option(
            "--local",
            help="Launchpad persisted to this JSON file, no server (one worker at a time).",
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Job store embedded in the workflow: a folder or a mongodb:// URI "
            "[default: with --local, SIANODE_STORE or ./sianode_data; otherwise none, "
            "the workers' jobflow.yaml].",
        ),
    ] = None,
    worker_store: Annotated[
        bool,
        typer.Option(
            "--worker-store",
            help="Embed no store, even with --local: each worker uses the store of its "
            "jobflow.yaml (JOBFLOW_CONFIG_FILE).",
        ),
    ] = False,
    configs: ConfigsOption = None,
    max_configs: MaxConfigsOption = None,
    seed: SeedOption = None,
    min_capacity: MinCapacityOption = None,
    max_sites: MaxSitesOption = None,
    pool_atoms: PoolAtomsOption = None,
    threshold: ThresholdOption = None,
    steps: StepsOption = None,
    fmax: FmaxOption = None,
    potential: PotentialOption = None,
    engine: EngineOption = None,
    optimizer: OptimizerOption = None,
    verdict_rule: VerdictRuleOption = "interval",
    reference: ReferenceOption = None,
    margin: MarginOption = None,
    min_configs: MinConfigsOption = None,
    spending: SpendingOption = None,
    retry_failed: RetryFailedOption = False,
    keep_unconverged: KeepUnconvergedOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Add it even if the same submission is there.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the submission as JSON on standard output.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Submit a screening to a FireWorks launchpad; workers run it with `rlaunch rapidfire`."""
    configure_logging(verbose)
    warnings.filterwarnings("ignore")
    if local is not None and launchpad is not None:
        stderr_console.print("[red]give --launchpad or --local, not both[/red]")
        raise typer.Exit(code=2)
    settings = get_settings()
    # FireWorks logs to standard output: keep it for the JSON result
    with contextlib.redirect_stdout(sys.stderr):
        # the file launchpad must be chosen before anything imports FireWorks
        from sianode_flows.launchpad import file_launchpad, load_launchpad, submit_screening

        try:
            lpad = file_launchpad(local) if local is not None else load_launchpad(launchpad)
        except RuntimeError as exc:
            stderr_console.print(f"[red]{exc}[/red]")
            raise typer.Exit(code=1) from exc

        from sianode_flows.builtin import builtin_records
        from sianode_flows.io import read_structure_file
        from sianode_flows.jobs.relax import default_relax_maker
        from sianode_flows.stores import build_job_store, is_mongo_uri

        records = builtin_records() if input is None else read_structure_file(input)
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
            relax_maker=default_relax_maker(
                potential, batched=is_batched(engine), steps=steps, fmax=fmax, optimizer=optimizer
            ),
            retry_failed=retry_failed,
            fit_unconverged=keep_unconverged,
        )
        maker = screening_maker_from_options(
            settings, channel_maker, min_capacity, max_sites, pool_atoms, reference
        )
        location = store if store is not None else (settings.store if local else None)
        if worker_store:
            location = None
        elif location is not None and not is_mongo_uri(location):
            location = str(Path(location).expanduser().resolve())
        job_store = build_job_store(location) if location is not None else None
        submission = submit_screening(lpad, records, maker, store=job_store, force=force)
    if as_json:
        sys.stdout.write(json.dumps({**submission.as_dict(), "store": location}) + "\n")
    where = f"{LAUNCHPAD_FILE_ENV}={Path(local).resolve()} " if local is not None else ""
    verb = "added" if submission.added else "already there, not added"
    logger.info(
        "%d inputs: workflow %s %s (fireworks %s, %s); job outputs to %s",
        len(records),
        submission.key,
        verb,
        submission.fw_ids,
        submission.state,
        location or "the workers' jobflow.yaml store",
    )
    logger.info("run it with: %srlaunch rapidfire", where)

"""``sianode discover``: the whole loop, known and generated candidates in one ranking."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path
from typing import Annotated

import typer

from sianode_flows.cli.generate import DataOption, OversampleOption, known_structures
from sianode_flows.cli.options import (
    ConfigsOption,
    MaxConfigsOption,
    MinCapacityOption,
    StepsOption,
    ThresholdOption,
    channel_maker_from_options,
)
from sianode_flows.cli.output import (
    configure_logging,
    fits_table,
    relax_progress,
    stderr_console,
    stdout_console,
)
from sianode_flows.settings import get_settings

logger = logging.getLogger("sianode_flows.cli")


def _train(data: list[Path], output: Path, seconds: float, seed: int) -> Path:
    """Train the generator on the data's Li/Si alloys and save it."""
    from sianode_flows.cli.generate import load_training_structures
    from sianode_flows.generative.checkpoint import save_checkpoint
    from sianode_flows.generative.data import build_examples
    from sianode_flows.generative.train import train_model

    pairs = load_training_structures(data, 20, alloys_only=True)
    if not pairs:
        stderr_console.print("[red]no structure with Li or Si in the training data[/red]")
        raise typer.Exit(code=1)
    examples = build_examples(pairs, max_atoms=20, workers=2)
    logger.info("training the generator on %d structures for %.0f s", len(examples), seconds)
    result = train_model(
        examples, epochs=1000, patience=20, seed=seed, progress=True, time_limit_s=seconds
    )
    return save_checkpoint(output, result.model, result.summary())


def discover(
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            "-s",
            help="Repeatable harvest source (as sianode harvest) [default: the built-in "
            "Li15Si4 set, no harvest].",
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", "-c", help="Generator checkpoint; trained when absent."),
    ] = None,
    train_data: DataOption = None,  # type: ignore[assignment]
    train_seconds: Annotated[
        float, typer.Option("--train-seconds", help="Training time when no checkpoint.")
    ] = 300.0,
    samples: Annotated[int, typer.Option("--samples", help="Samples generated.")] = 40,
    capacity: Annotated[
        float, typer.Option("--capacity", help="Target capacity (mAh/g).")
    ] = 2000.0,
    r_t: Annotated[float, typer.Option("--r-t", help="Target channel radius R_t (A).")] = 1.6,
    seed: Annotated[int, typer.Option("--seed", help="Seed of sampling and screening.")] = 0,
    oversample: OversampleOption = 1,
    verify_steps: Annotated[
        int, typer.Option("--verify-steps", help="Step cap of the samples' and hulls' relax.")
    ] = 300,
    hull_tolerance: Annotated[
        float,
        typer.Option("--hull-tolerance", help="Largest E_hull promoted to stage 2 (eV/atom)."),
    ] = 0.1,
    configs: ConfigsOption = None,
    max_configs: MaxConfigsOption = None,
    min_capacity: MinCapacityOption = None,
    threshold: ThresholdOption = None,
    steps: StepsOption = None,
    keep_unconverged: Annotated[
        bool,
        typer.Option("--keep-unconverged", help="Fit unconverged configurations too."),
    ] = False,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Folder of the embedded store or a mongodb:// URI."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Harvest and screen known candidates, generate, verify, screen the generated ones."""
    configure_logging(verbose)
    warnings.filterwarnings("ignore")
    from jobflow import Flow, run_locally

    from sianode_flows.builtin import builtin_records
    from sianode_flows.generative.target import GenerationTarget
    from sianode_flows.jobs.promote import promote_samples
    from sianode_flows.jobs.relax import default_relax_maker
    from sianode_flows.makers import GenerateMaker, HarvestMaker, ScreeningMaker, VerifyMaker
    from sianode_flows.makers.generate import verified_samples
    from sianode_flows.results import fit_documents, rank
    from sianode_flows.stores import build_job_store

    settings = get_settings()
    location = store or settings.store
    threshold_capacity = min_capacity if min_capacity is not None else settings.min_capacity
    if checkpoint is None or not checkpoint.is_file():
        if not train_data:
            stderr_console.print("[red]give --checkpoint, or --data to train one[/red]")
            raise typer.Exit(code=1)
        checkpoint = _train(
            train_data, checkpoint or Path(location) / "generator.pt", train_seconds, seed
        )
    channel_maker = channel_maker_from_options(
        settings,
        configs=configs,
        max_configs=max_configs,
        seed=seed,
        threshold=threshold,
        verdict_rule="interval",
        relax_maker=default_relax_maker(steps=steps),
        fit_unconverged=keep_unconverged,
    )
    screening = ScreeningMaker(channel_maker=channel_maker, min_capacity=threshold_capacity)
    jobs: list = []
    if source:
        from sianode_flows.cli.harvest import _sources

        harvest = HarvestMaker(min_capacity=threshold_capacity).make(_sources(source))
        jobs += [harvest, screening.make(harvest.output.candidates)]
    else:
        jobs.append(screening.make(builtin_records()))
    known: list = known_structures(train_data, location)
    if source:  # the harvest's candidates, once it has run
        known.append(harvest.output.candidates)
    else:
        known += [(f"builtin:{r.source_id}", r.structure) for r in builtin_records()]
    target = GenerationTarget(
        capacity_mAh_g=capacity, min_capacity_mAh_g=threshold_capacity, channel_radius=r_t
    )
    generate = GenerateMaker(
        checkpoint=str(checkpoint.resolve()),
        n_samples=samples,
        target=target,
        seed=seed,
        oversample=oversample,
    ).make()
    verify = VerifyMaker(steps=verify_steps).make(
        generate.output, "model", target, known, seed, known
    )
    promote = promote_samples(
        verified_samples(verify), threshold_capacity, hull_tolerance, str(checkpoint.resolve())
    )
    jobs += [generate, verify, promote, screening.make(promote.output)]
    job_store = build_job_store(location)
    with (
        relax_progress(),
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
    ):
        run_locally(Flow(jobs, name="discover"), store=job_store, log=False)
    job_store.connect()
    promoted = promote.output.resolve(job_store) or []
    fits = rank(fit_documents(job_store))
    console = stdout_console()
    screened = sum(1 for f in fits if f.role != "reference")
    reference = next((f.reference for f in fits if f.reference), None)
    against = f", against {reference}" if reference else ""
    console.print(fits_table(fits, title=f"{screened} candidates, known and generated{against}"))
    console.print(
        f"{len(promoted)} of {samples} generated samples promoted to the channel screen "
        f"(valid, converged, unique, novel, E_hull <= {hull_tolerance} eV/atom, "
        f">= {threshold_capacity:.0f} mAh/g, not over-lithiated); documents in {location}; "
        f"sianode report --store {location} draws them"
    )

"""``sianode train`` and ``sianode generate``: the conditional generator and its check."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from sianode_flows.cli.output import configure_logging, stderr_console, stdout_console
from sianode_flows.settings import get_settings

logger = logging.getLogger("sianode_flows.cli")

DataOption = Annotated[
    list[Path],
    typer.Option(
        "--data",
        "-d",
        help="Repeatable. CSV(.gz) file with a cif column (e.g. ../shared/data/*.csv.gz), "
        "or a folder of them.",
    ),
]


OversampleOption = Annotated[
    int,
    typer.Option(
        "--oversample",
        help="Generate-then-select: draw K samples per sample kept and keep those nearest "
        "the target by capacity and R_t as generated [default: 1, the model alone].",
    ),
]


def require_checkpoint(checkpoint: Path) -> None:
    """End the command with a clear message when the checkpoint file is missing."""
    if not checkpoint.is_file():
        stderr_console.print(f"[red]no checkpoint at {checkpoint}: run sianode train[/red]")
        raise typer.Exit(code=1)


def load_training_structures(
    data: list[Path], max_atoms: int, alloys_only: bool
) -> list[tuple[str, object]]:
    """Read (id, structure) pairs with Li or Si from data files, alloys only if asked."""
    from sianode_flows.analysis.validation import is_alloy
    from sianode_flows.generative.data import load_shared_structures

    pairs = load_shared_structures(data, ("Li", "Si"), max_atoms=max_atoms)
    return [(key, s) for key, s in pairs if not alloys_only or is_alloy(s)]


def train(
    data: DataOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="Checkpoint to write.")] = Path(
        "sianode_generator.pt"
    ),
    max_atoms: Annotated[int, typer.Option("--max-atoms", help="Largest cell kept.")] = 20,
    alloys_only: Annotated[
        bool,
        typer.Option(
            "--alloys-only/--all", help="Keep only Li, metals and metalloids (no O, S, N...)."
        ),
    ] = True,
    seconds: Annotated[
        float | None, typer.Option("--seconds", help="Stop training after this long.")
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Most epochs.")] = 200,
    patience: Annotated[
        int, typer.Option("--patience", help="Epochs without a better validation loss.")
    ] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and weights.")] = 0,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu or cuda [default: cuda if present].")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes computing the R_t labels.")
    ] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Train the conditional crystal generator on structures with Li or Si."""
    configure_logging(verbose)
    warnings.filterwarnings("ignore")
    from sianode_flows.generative.checkpoint import save_checkpoint
    from sianode_flows.generative.data import build_examples
    from sianode_flows.generative.train import train_model

    pairs = load_training_structures(data, max_atoms, alloys_only)
    if not pairs:
        stderr_console.print("[red]no structure with Li or Si in the data given[/red]")
        raise typer.Exit(code=1)
    examples = build_examples(pairs, max_atoms=max_atoms, workers=workers)
    logger.info("training on %d labelled structures", len(examples))
    result = train_model(
        examples,
        epochs=epochs,
        patience=patience,
        seed=seed,
        device=device,
        progress=True,
        time_limit_s=seconds,
    )
    save_checkpoint(output, result.model, result.summary())
    summary = {
        "checkpoint": str(output),
        "n_examples": len(examples),
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "elapsed_s": round(result.elapsed_s, 1),
        "train_loss": [result.initial_losses["train_loss"], result.final_losses["train_loss"]],
        "val_loss": [result.initial_losses["val_loss"], result.final_losses["val_loss"]],
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    first, last = summary["train_loss"], summary["val_loss"]
    stdout_console().print(
        f"{summary['n_examples']} structures, {summary['epochs']} epochs "
        f"({summary['elapsed_s']} s): train loss {first[0]:.2f} -> {first[1]:.2f}, "
        f"validation loss {last[0]:.2f} -> {last[1]:.2f}; saved {output}"
    )


def metrics_table(metrics: list) -> Table:
    """Return the table of generation metrics, one row per method."""
    table = Table(title="Generation metrics")
    for column in (
        "method", "n", "valid", "unique", "novel", "Li+Si", "dE<4% (paper)",
        "E_hull<=0.1", "SUN 0.1", "SUN 0.0", "over-Li", "capacity median (mAh/g)",
        "capacity hit", "R_t median (A)", "R_t hit",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column == "method" else "right")

    def rate(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    def stat(stats: dict, key: str, digits: int = 2) -> str:
        value = stats.get(key) if stats else None
        return "n/a" if value is None else f"{value:.{digits}f}"

    for doc in metrics:
        table.add_row(
            doc.method,
            str(doc.n_samples),
            rate(doc.validity_rate),
            rate(doc.uniqueness_rate),
            rate(doc.novelty_rate),
            rate(doc.required_elements_rate),
            rate(doc.energy_change_stable_rate),
            rate(doc.hull_stable_rate.get("0.1")),
            rate(doc.sun_rate.get("0.1")),
            rate(doc.sun_rate.get("0.0")),
            rate(doc.over_lithiated_rate),
            stat(doc.capacity, "median", 0),
            rate(doc.capacity_hit_rate),
            stat(doc.r_t, "median"),
            rate(doc.r_t_hit_rate),
        )
    return table


def known_structures(training: list[Path] | None, location: str) -> list:
    """Return what is known: the training data files and the store's candidates.

    Novelty is judged against them and the reference hulls are built from them;
    data files are passed as paths and read for the samples' systems only. Without
    training data or candidates, the built-in Li15Si4 records stand in (elements
    missing from a hull then come from simple prototypes).
    """
    from sianode_flows.builtin import builtin_records
    from sianode_flows.results import candidate_documents
    from sianode_flows.stores import build_job_store

    known: list = [str(path.resolve()) for path in training or []]
    store = build_job_store(location)
    store.connect()
    try:
        known += [(c.candidate_id, c.structure) for c in candidate_documents(store)]
    finally:
        store.close()
    if not known:
        known = [(f"builtin:{r.source_id}", r.structure) for r in builtin_records()]
    return known


def generate(
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", "-c", help="Checkpoint from sianode train.")
    ],
    samples: Annotated[int, typer.Option("--samples", "-n", help="Samples per method.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sampling.")] = 0,
    require: Annotated[
        list[str] | None, typer.Option("--require", help="Required element (repeatable).")
    ] = None,
    forbid: Annotated[
        list[str] | None, typer.Option("--forbid", help="Forbidden element (repeatable).")
    ] = None,
    capacity: Annotated[
        float, typer.Option("--capacity", help="Target capacity (mAh/g).")
    ] = 2000.0,
    min_capacity: Annotated[
        float, typer.Option("--min-capacity", help="Capacity counted as on target (mAh/g).")
    ] = 1500.0,
    r_t: Annotated[float, typer.Option("--r-t", help="Target channel radius R_t (A).")] = 1.6,
    distinct: Annotated[
        bool,
        typer.Option("--distinct/--any", help="Draw until every sample matches no other sample."),
    ] = True,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Spread of the prior (1: as learned).")
    ] = 1.0,
    oversample: OversampleOption = 1,
    baseline: Annotated[
        Literal["substitution", "pyxtal", "none"],
        typer.Option(
            "--baseline",
            help="Baseline verified beside the model: substitution into the built-in "
            "Li-Si phases (or --references), or pyxtal crystals of the model's compositions.",
        ),
    ] = "substitution",
    references: Annotated[
        Path | None,
        typer.Option("--references", help="Structure file of the substitution references."),
    ] = None,
    training: Annotated[
        list[Path] | None,
        typer.Option(
            "--training",
            help="Data the model was trained on: novelty is judged against its Li/Si "
            "alloys and the store's candidates, and the reference hulls are built from "
            "them (repeatable; without it: the built-in Li15Si4 set).",
        ),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", help="Step cap of the CHGNet relax.")] = 300,
    relax: Annotated[
        bool, typer.Option("--relax/--no-relax", help="Relax the valid samples with CHGNet.")
    ] = True,
    hull: Annotated[
        bool,
        typer.Option(
            "--hull/--no-hull",
            help="Judge each sample against the convex hull of the known phases of its "
            "system (relaxed once per system with the same settings, kept in the store).",
        ),
    ] = True,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Folder of the embedded store or a mongodb:// URI."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Sample for a target, verify every sample and a baseline's, print the metrics."""
    configure_logging(verbose)
    warnings.filterwarnings("ignore")
    from jobflow import Flow, run_locally
    from monty.json import jsanitize

    from sianode_flows.builtin import builtin_records
    from sianode_flows.generative.target import GenerationTarget
    from sianode_flows.io import read_structure_file
    from sianode_flows.makers.generate import BaselineMaker, GenerateMaker, VerifyMaker
    from sianode_flows.stores import build_job_store

    require_checkpoint(checkpoint)
    target = GenerationTarget(
        required_elements=tuple(require or ("Li", "Si")),
        forbidden_elements=tuple(forbid or ()),
        capacity_mAh_g=capacity,
        min_capacity_mAh_g=min_capacity,
        channel_radius=r_t,
    )
    location = store or get_settings().store
    known = known_structures(training, location)
    hull_references = known if hull else None
    verify = VerifyMaker(steps=steps, relax=relax)
    generated = GenerateMaker(
        checkpoint=str(checkpoint.resolve()),
        n_samples=samples,
        target=target,
        seed=seed,
        temperature=temperature,
        distinct=distinct,
        oversample=oversample,
    ).make()
    flows = [
        generated,
        verify.make(generated.output, "model", target, known, seed, hull_references),
    ]
    if baseline == "substitution":
        records = read_structure_file(references) if references else builtin_records()
        inputs = [r.structure for r in records if r.structure is not None]
        if training and not references:  # the known Li-Si(-X) phases of the training data
            pairs = load_training_structures(training, 400, alloys_only=True)
            inputs += [s for _, s in pairs if {"Li", "Si"} <= _symbols(s)]
        drawn = BaselineMaker(method="substitution", n_samples=samples, target=target, seed=seed)
        drawn = drawn.make(inputs)
        flows += [
            drawn,
            verify.make(drawn.output, "substitution", target, known, seed, hull_references),
        ]
    elif baseline == "pyxtal":
        from sianode_flows.jobs.generate import compositions_of

        formulas = compositions_of(generated.output)
        drawn = BaselineMaker(method="pyxtal", n_samples=samples, target=target, seed=seed)
        drawn = drawn.make(formulas.output)
        flows += [
            formulas,
            drawn,
            verify.make(drawn.output, "pyxtal", target, known, seed, hull_references),
        ]
    job_store = build_job_store(location)
    flow = Flow(flows, name="generate and verify")
    with contextlib.redirect_stdout(sys.stderr):
        responses = run_locally(flow, store=job_store, log=False, ensure_success=False)
    metrics = []
    for uuid in responses:
        for response in responses[uuid].values():
            output = response.output
            if (
                isinstance(output, list)
                and output
                and type(output[0]).__name__ == ("GenerationMetricsDocument")
            ):
                metrics.extend(output)
    if as_json:
        rows = jsanitize([m.model_dump() for m in metrics], strict=False, enum_values=True)
        sys.stdout.write(json.dumps(rows) + "\n")
    else:
        stdout_console().print(metrics_table(metrics))
        stdout_console().print(f"documents stored in {location}")
    if not metrics:
        raise typer.Exit(code=1)


def _symbols(structure) -> set[str]:
    """Element symbols of a structure."""
    return {el.symbol for el in structure.composition.elements}


def sweep_table(sweep) -> Table:
    """Return the table of a conditioning sweep: one row per target and the control."""
    unit = sweep.unit
    table = Table(
        title=f"Conditioning on {sweep.property} ({unit}): Spearman rho "
        f"{'n/a' if sweep.spearman_rho is None else f'{sweep.spearman_rho:.2f}'}"
        f" (p {'n/a' if sweep.spearman_p is None else f'{sweep.spearman_p:.1e}'})"
    )
    for column in ("target", "n", "achieved median", "p25", "p75", "hit rate"):
        table.add_column(column, justify="right")

    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4g}"

    rows = [*sweep.outcomes, *([sweep.control] if sweep.control else [])]
    for outcome in rows:
        table.add_row(
            "control" if outcome.target is None else number(outcome.target),
            str(outcome.n_samples),
            number(outcome.median),
            number(outcome.p25),
            number(outcome.p75),
            "-" if outcome.hit_rate is None else f"{outcome.hit_rate:.2f}",
        )
    return table


def sweep(
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", "-c", help="Checkpoint from sianode train.")
    ],
    prop: Annotated[
        Literal["r_t", "capacity"], typer.Option("--property", help="The swept condition.")
    ] = "r_t",
    targets: Annotated[
        list[float] | None,
        typer.Option(
            "--target",
            "-t",
            help="Repeatable target value [default: R_t 0.3 0.6 0.9 1.2 A, or "
            "capacity 500 1000 2000 mAh/g].",
        ),
    ] = None,
    samples: Annotated[int, typer.Option("--samples", "-n", help="Samples per target.")] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sampling.")] = 0,
    capacity: Annotated[
        float, typer.Option("--capacity", help="Capacity held fixed in an R_t sweep (mAh/g).")
    ] = 2000.0,
    r_t: Annotated[
        float, typer.Option("--r-t", help="R_t held fixed in a capacity sweep (A).")
    ] = 1.6,
    oversample: OversampleOption = 1,
    relax: Annotated[
        bool,
        typer.Option("--relax/--no-relax", help="Measure relaxed samples (CHGNet, --steps)."),
    ] = False,
    steps: Annotated[int, typer.Option("--steps", help="Step cap of the CHGNet relax.")] = 150,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Folder of the embedded store or a mongodb:// URI."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sweep as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Sweep one condition and show whether the samples follow it (paper, Figure 5B)."""
    configure_logging(verbose)
    warnings.filterwarnings("ignore")
    from jobflow import run_locally

    from sianode_flows.generative.target import GenerationTarget
    from sianode_flows.makers import ConditioningSweepMaker, VerifyMaker
    from sianode_flows.stores import build_job_store

    require_checkpoint(checkpoint)
    default_targets = (0.3, 0.6, 0.9, 1.2) if prop == "r_t" else (500.0, 1000.0, 2000.0)
    maker = ConditioningSweepMaker(
        checkpoint=str(checkpoint.resolve()),
        property=prop,
        targets=tuple(targets or default_targets),
        n_samples=samples,
        target=GenerationTarget(capacity_mAh_g=capacity, channel_radius=r_t),
        seed=seed,
        oversample=oversample,
        verify_maker=VerifyMaker(relax=relax, steps=steps),
    )
    flow = maker.make()
    location = store or get_settings().store
    job_store = build_job_store(location)
    with contextlib.redirect_stdout(sys.stderr):
        run_locally(flow, store=job_store, log=False, ensure_success=True)
    job_store.connect()
    result = flow.output.resolve(job_store)
    if as_json:
        sys.stdout.write(result.model_dump_json() + "\n")
        return
    stdout_console().print(sweep_table(result))
    stdout_console().print(f"documents stored in {location}")

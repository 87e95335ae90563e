"""Command-line options shared by ``sianode screen`` and ``sianode submit``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

if TYPE_CHECKING:
    from jobflow import Maker

    from sianode_flows.makers import ScreeningMaker
    from sianode_flows.settings import SianodeSettings

Engine = Literal["batched", "ase"]

EngineOption = Annotated[
    Engine | None,
    typer.Option(
        "--engine",
        help="batched: all configurations of a candidate relaxed together in one torch-sim "
        "job; ase: atomate2's ForceFieldRelaxMaker, one ASE job per configuration "
        "[default: SIANODE_RELAX_ENGINE or batched].",
    ),
]
ConfigsOption = Annotated[
    int | None,
    typer.Option(
        "--configs",
        "-n",
        help="A fixed number of configurations per candidate (with --max-configs: the "
        "first round) [default: sequential rounds, SIANODE_FIRST_ROUND=20 + "
        "SIANODE_ROUND_SIZE=10 while undecided].",
    ),
]
MaxConfigsOption = Annotated[
    int | None,
    typer.Option(
        "--max-configs",
        help="Cap of sequential sampling per candidate [default: SIANODE_MAX_CONFIGS or 120].",
    ),
]
ReferenceOption = Annotated[
    str | None,
    typer.Option(
        "--reference",
        help="What every slope is compared with, by the same protocol and settings: "
        "builtin:Li15Si4 (pure Si), another built-in cell, a structure file, or 'none' for "
        "the absolute verdict against --threshold "
        "[default: SIANODE_REFERENCE or builtin:Li15Si4].",
    ),
]
MarginOption = Annotated[
    float | None,
    typer.Option(
        "--margin",
        help="Half-width of the 'similar' band of a slope minus the reference's "
        "(A per 100 % SOC) [default: SIANODE_MARGIN or 0.1].",
    ),
]
MinConfigsOption = Annotated[
    int | None,
    typer.Option(
        "--min-configs",
        help="Fewest fitted configurations for any verdict [default: SIANODE_MIN_CONFIGS or 20].",
    ),
]
SpendingOption = Annotated[
    Literal["obrien-fleming", "pocock", "bonferroni"] | None,
    typer.Option(
        "--spending",
        help="How the error is spent over the sequential looks, so that the intervals hold "
        "their level over all of them [default: SIANODE_SPENDING or obrien-fleming].",
    ),
]
PoolAtomsOption = Annotated[
    int | None,
    typer.Option(
        "--pool-atoms",
        help="Relax the configurations of all candidates together, in batched jobs of at "
        "most this many atoms (e.g. 20000 on a GPU, 2000 on a CPU) [default: one job "
        "per candidate].",
    ),
]
MaxSitesOption = Annotated[
    int | None,
    typer.Option(
        "--max-sites",
        help="Largest cell screened; larger ones are recorded as failures "
        "[default: SIANODE_MAX_SITES or 400].",
    ),
]
RetryFailedOption = Annotated[
    bool,
    typer.Option(
        "--retry-failed",
        help="Relax again the configurations whose stored attempt failed "
        "(by default a rerun counts them as failed without relaxing them).",
    ),
]
KeepUnconvergedOption = Annotated[
    bool,
    typer.Option(
        "--keep-unconverged",
        help="Fit unconverged relaxations too (by default they are left out and counted).",
    ),
]
VerdictRuleOption = Annotated[
    Literal["interval", "point"],
    typer.Option(
        "--verdict-rule",
        help="Of the absolute verdict: interval: stable when the slope's 95% interval lies "
        "within +-threshold, unstable when wholly outside, else undecided; point: "
        "|slope| <= threshold (fixed samples only).",
    ),
]
SeedOption = Annotated[int | None, typer.Option("--seed", help="Seed of the delithiation.")]
MinCapacityOption = Annotated[
    float | None, typer.Option("--min-capacity", help="Capacity threshold (mAh/g).")
]
ThresholdOption = Annotated[
    float | None,
    typer.Option("--threshold", help="Largest |slope| judged stable (A per 100 % SOC)."),
]
StepsOption = Annotated[int | None, typer.Option("--steps", help="Step cap of each relaxation.")]
FmaxOption = Annotated[
    float | None, typer.Option("--fmax", help="Force criterion of the relaxation (eV/A).")
]
OptimizerOption = Annotated[
    Literal["fire", "lbfgs", "bfgs"] | None,
    typer.Option(
        "--optimizer",
        help="Optimizer of the relaxations: ASE's FIRE (atomate2's), L-BFGS or BFGS "
        "[default: SIANODE_RELAX_OPTIMIZER or fire].",
    ),
]
PotentialOption = Annotated[
    Literal["chgnet", "sevennet"] | None,
    typer.Option(
        "--potential",
        help="Potential of the relaxations [default: SIANODE_FORCE_FIELD or chgnet].",
    ),
]


def is_batched(engine: Engine | None) -> bool | None:
    """Return whether the relax engine is the batched one (``None``: the settings')."""
    return None if engine is None else engine == "batched"


def jobs_per_candidate(n_configs: int, batched: bool) -> int:
    """Jobs a channel-stability flow runs for one candidate (for progress bars)."""
    relax_jobs = 1 if batched else n_configs
    return relax_jobs + n_configs + 4


def sampling_fields(
    configs: int | None,
    max_configs: int | None,
    settings: SianodeSettings,
    verdict_rule: str = "interval",
) -> dict[str, Any]:
    """Return the sampling fields of a channel maker from the command-line options.

    ``--configs N`` alone is a fixed sample of N; ``--max-configs`` (or nothing,
    with the settings' ``sampling`` sequential) samples in rounds while undecided,
    the first round being ``--configs`` or the settings' ``first_round``. The point
    rule never leaves a candidate undecided, so it always takes a fixed sample.
    """
    sequential = max_configs is not None or (configs is None and settings.sampling == "sequential")
    if verdict_rule == "point" or not sequential:
        return {"n_configs": configs if configs is not None else settings.n_configs}
    return {
        "n_configs": configs if configs is not None else settings.first_round,
        "round_size": settings.round_size,
        "max_configs": max_configs if max_configs is not None else settings.max_configs,
    }


def channel_maker_from_options(
    settings: SianodeSettings,
    *,
    configs: int | None,
    max_configs: int | None,
    seed: int | None,
    threshold: float | None,
    verdict_rule: str,
    margin: float | None = None,
    min_configs: int | None = None,
    spending: str | None = None,
    **fields: Any,
) -> Any:
    """Return the channel-stability maker of ``screen`` and ``submit`` from their options.

    Settings fill what the options leave out; an inconsistent combination (the point
    rule with sequential sampling, say) ends the command with its reason.
    """
    from sianode_flows.cli.output import stderr_console
    from sianode_flows.makers import ChannelStabilityMaker

    chosen = {
        "margin": margin,
        "min_configs": min_configs,
        "spending": spending,
    }
    try:
        return ChannelStabilityMaker(
            **sampling_fields(configs, max_configs, settings, verdict_rule),
            seed=seed if seed is not None else settings.seed,
            slope_threshold=threshold if threshold is not None else settings.slope_threshold,
            verdict_rule=verdict_rule,
            **{name: value for name, value in chosen.items() if value is not None},
            **fields,
        )
    except ValueError as exc:
        stderr_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc


def screening_maker_from_options(
    settings: SianodeSettings,
    channel_maker: Maker,
    min_capacity: float | None,
    max_sites: int | None,
    pool_atoms: int | None,
    reference: str | None = None,
) -> ScreeningMaker:
    """Build the screening maker from command-line options, settings filling the gaps.

    A maker the options make inconsistent (pooling without a batched relax) or a
    reference that cannot be read is a :class:`typer.BadParameter` with the reason.
    """
    from sianode_flows.makers import ScreeningMaker
    from sianode_flows.makers.screening import reference_candidate

    try:
        maker = ScreeningMaker(
            channel_maker=channel_maker,
            min_capacity=min_capacity if min_capacity is not None else settings.min_capacity,
            max_sites=max_sites if max_sites is not None else settings.max_sites,
            pool_atoms=pool_atoms,
            reference=reference_of(reference, settings),
        )
        reference_candidate(maker.reference, maker.max_sites)  # readable now, not mid-run
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return maker


def reference_of(option: str | None, settings: SianodeSettings) -> str | None:
    """Return the reference a command compares with: the option, else the settings'."""
    chosen = option if option is not None else settings.reference
    return None if chosen.lower() == "none" else chosen

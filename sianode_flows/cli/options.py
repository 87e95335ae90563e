"""Command-line options shared by ``sianode screen`` and ``sianode submit``."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

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
    int | None, typer.Option("--configs", "-n", help="Configurations per candidate.")
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

"""Stores for the report tests: a real small screening run, and a real database series."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from jobflow import job, run_locally
from pymatgen.core import Composition, Lattice, Structure

from sianode_flows.analysis.channel import channel_radii
from sianode_flows.builtin import builtin_records
from sianode_flows.io import iter_csv_rows, parse_cif
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker
from sianode_flows.report.style import VERDICTS
from sianode_flows.schemas import (
    ChannelPoint,
    DatabaseSeriesDocument,
    DelithiationProtocol,
    FitStatistics,
    SamplingRound,
    SeriesPoint,
    SlopeFitDocument,
    StructureRecord,
)
from sianode_flows.stores import build_job_store
from tests.conftest import TEST_RELAX_STEPS


def bad_record() -> StructureRecord:
    """Diamond Si: valid structure, no Li, so the screening records a failure."""
    silicon = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    return StructureRecord(source="test", source_id="no-li", structure=silicon)


@pytest.fixture(scope="session")
def screened_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An on-disk store filled by a real screening: Li15Si4, Li30Si7Ge and a bad input.

    CHGNet relaxations capped at a few steps, three configurations per candidate;
    run once per session, read by the library and the command-line tests.
    """
    warnings.filterwarnings("ignore", message="logm result may be inaccurate")
    location = tmp_path_factory.mktemp("screened") / "store"
    runs = tmp_path_factory.mktemp("runs")
    maker = ScreeningMaker(
        channel_maker=ChannelStabilityMaker(
            n_configs=3,
            relax_maker=default_relax_maker(steps=TEST_RELAX_STEPS),
            fit_unconverged=True,
        )
    )
    flow = maker.make([*builtin_records()[:2], bad_record()])
    store = build_job_store(str(location))
    run_locally(
        flow, store=store, ensure_success=True, log=False, create_folders=True, root_dir=runs
    )
    return location


@pytest.fixture
def screened_store(screened_store_path: Path):
    """The screened store, connected."""
    store = build_job_store(str(screened_store_path))
    store.connect()
    yield store
    store.close()


def lisi_series(data_folder: Path) -> DatabaseSeriesDocument:
    """R_t of every Li-Si and Si structure of the MP-2018 snapshot against lithiation."""
    entries = []
    for row in iter_csv_rows(data_folder / "mp2018_cgcnn.csv.gz"):
        elements = {e.symbol for e in Composition(row["formula"]).elements}
        if elements in ({"Li", "Si"}, {"Si"}):
            structure = parse_cif(row["cif"])[0]
            li_per_host = structure.composition["Li"] / structure.composition["Si"]
            entries.append((row["source_id"], structure, li_per_host))
    most = max(li for _, _, li in entries)
    points = [
        SeriesPoint(
            source="mp",
            source_id=source_id,
            formula=structure.composition.reduced_formula,
            li_per_host=li_per_host,
            lithiation=li_per_host / most,
            r_t=channel_radii(structure).r_t,
        )
        for source_id, structure, li_per_host in entries
    ]
    fields, note = FitStatistics.fitted([p.lithiation for p in points], [p.r_t for p in points])
    return DatabaseSeriesDocument(
        chemsys="Li-Si", points=points, n_structures=len(points), note=note, **fields
    )


@pytest.fixture(scope="session")
def series_document(shared_data: Path) -> DatabaseSeriesDocument:
    """The Li-Si database series, computed with CAVD from real structures."""
    return lisi_series(shared_data)


@job
def emit(document):
    """Store a document as a job output, as a harvest job would."""
    return document


def store_documents(store, *documents) -> None:
    """Put documents into a job store as job outputs."""
    for document in documents:
        run_locally(emit(document), store=store, ensure_success=True, log=False)


THRESHOLD = 0.5
"""Stability threshold of the fits built here (A per 100 % SOC)."""


def interval_verdict(fields: dict) -> str:
    """The interval rule: stable inside +-threshold, unstable wholly outside, else undecided."""
    low, high = fields.get("slope_ci_low"), fields.get("slope_ci_high")
    if low is None or high is None:
        return "insufficient-data"
    if low >= -THRESHOLD and high <= THRESHOLD:
        return "stable"
    if high < -THRESHOLD or low > THRESHOLD:
        return "unstable"
    return "undecided"


def built_fit(
    candidate_id: str,
    formula: str,
    capacity: float,
    slope: float,
    noise: float,
    *,
    n: int = 10,
    excluded: dict[int, str] | None = None,
    n_rounds: int = 1,
    seed: int = 0,
) -> SlopeFitDocument:
    """A slope fit as the fit job writes it, from points on a noisy line.

    Parameters
    ----------
    candidate_id, formula, capacity
        The candidate.
    slope, noise
        Line the R_t follow (A per 100 % SOC) and the spread of the points about it (A).
    n
        Configurations measured.
    excluded
        Configuration index -> why it is left out of the fit.
    n_rounds
        Sampling rounds the configurations were drawn in (sequential sampling if > 1).
    seed
        Seed of the noise.
    """
    excluded = excluded or {}
    rng = np.random.default_rng(seed)
    soc = np.linspace(0.0, 1.0, n)
    r_t = 1.2 + slope * soc + noise * rng.standard_normal(n)
    volume = 18.0 * (1 + 0.6 * soc) + 0.3 * rng.standard_normal(n)
    per_round = -(-n // n_rounds)
    points = [
        ChannelPoint(
            config_index=i,
            soc=float(soc[i]),
            r_t=float(r_t[i]),
            volume_per_framework_atom=float(volume[i]),
            converged=excluded.get(i) != "not converged",
            excluded=excluded.get(i),
            round=1 + i // per_round,
        )
        for i in range(n)
    ]
    kept = [p for p in points if p.excluded is None]
    fields, note = FitStatistics.fitted([p.soc for p in kept], [p.r_t for p in kept], 200)
    reference = kept[-1].volume_per_framework_atom
    volume_fields, _ = FitStatistics.fitted(
        [p.soc for p in kept], [p.volume_per_framework_atom / reference for p in kept], 0
    )
    verdict = interval_verdict(fields)
    rounds = [
        SamplingRound(
            round=k,
            config_indices=[p.config_index for p in points if p.round == k],
            n_relaxed=sum(p.round == k for p in points),
            n_points=sum(p.round <= k and p.excluded is None for p in points),
            verdict=verdict if k == n_rounds else "undecided",
        )
        for k in range(1, n_rounds + 1)
    ]
    source, _, source_id = candidate_id.partition(":")
    return SlopeFitDocument(
        candidate_id=candidate_id,
        formula=formula,
        source=source,
        source_id=source_id,
        capacity_mAh_g=capacity,
        r_t_charged=float(r_t[-1]),
        points=points,
        n_configs=len(kept),
        n_excluded=len(excluded),
        n_unconverged=sum(r == "not converged" for r in excluded.values()),
        slope_threshold=THRESHOLD,
        verdict=verdict,
        rounds=rounds,
        stop_reason=("decided" if verdict != "undecided" else "cap reached")
        if n_rounds > 1
        else "fixed",
        n_relaxed=n,
        potential="CHGNet",
        engine="torch-sim",
        volume_fit=FitStatistics(**volume_fields) if volume_fields else None,
        volume_reference="charged",
        volume_reference_per_framework_atom=reference,
        protocol=DelithiationProtocol(
            n_configs=per_round,
            max_configs=n if n_rounds > 1 else None,
            seed=seed,
            soc_range=(0.0, 1.0),
            include_charged=True,
            include_delithiated=True,
        ),
        note=note,
        **fields,
    )


def against_reference(
    fit: SlopeFitDocument, verdict: str, difference: float, half: float
) -> SlopeFitDocument:
    """The fit as a screen against the reference writes it (Li15Si4, paired)."""
    return fit.model_copy(
        update={
            "reference": "builtin:Li15Si4",
            "relative_verdict": verdict,
            "relative_difference": difference,
            "relative_ci_low": difference - half,
            "relative_ci_high": difference + half,
            "paired": True,
            "margin": 0.1,
        }
    )


def ranked(fits: list[SlopeFitDocument]) -> list[SlopeFitDocument]:
    """Fits in the report's order: by verdict shown, then |slope|, then capacity."""
    return sorted(
        fits,
        key=lambda f: (
            VERDICTS.index(f.shown_verdict),
            abs(f.slope) if f.slope is not None else float("inf"),
            -f.capacity_mAh_g,
        ),
    )


@pytest.fixture(scope="session")
def verdict_fits() -> list[SlopeFitDocument]:
    """One fit of each verdict shown, ranked, with long identifiers as the databases give them.

    Three are against the reference (lower, similar, higher), one is the reference's
    own fit, the others absolute. The undecided one was sampled in three rounds and
    left two points out of its fit.
    """
    fits = ranked(
        [
            against_reference(
                built_fit("gnome:gnome-77a0", "Li22Si4Ge", 3650.0, 0.2, 0.05, n=24, seed=5),
                "lower",
                -0.3,
                0.08,
            ),
            against_reference(
                built_fit("alexandria:agm001", "Li30Si7Sn", 2900.0, 0.48, 0.05, n=24, seed=6),
                "similar",
                -0.02,
                0.05,
            ),
            against_reference(
                built_fit("oqmd:oqmd-7654321", "Li12Al3Si4", 2500.0, 0.9, 0.05, n=24, seed=7),
                "higher",
                0.4,
                0.1,
            ),
            built_fit("builtin:Li15Si4", "Li15Si4", 3578.6, 0.5, 0.05, n=24, seed=8).model_copy(
                update={"role": "reference"}
            ),
            built_fit("alexandria:agm002153498", "Li14ZnSi8", 2712.4, 0.1, 0.05, seed=1),
            built_fit("mp:mp-1201871", "Li21Si5", 4010.9, 1.6, 0.05, seed=2),
            built_fit(
                "oqmd:oqmd-1234567",
                "Li30Si7Ge",
                3120.0,
                0.45,
                0.35,
                n=30,
                n_rounds=3,
                excluded={4: "not converged", 17: "not converged", 22: "channel not found"},
                seed=3,
            ),
            built_fit("builtin:Li13Si4", "Li13Si4", 3102.0, 0.8, 0.05, n=2, seed=4),
        ]
    )
    assert [f.shown_verdict for f in fits] == list(VERDICTS)
    return fits


@pytest.fixture(scope="session")
def crowded_fits() -> list[SlopeFitDocument]:
    """Nine fits whose points crowd together on the slope-capacity plane."""
    formulas = [
        "Li15Si4",
        "Li21Si5",
        "Li13Si4",
        "Li7Si3",
        "Li12Si7",
        "Li30Si7Ge",
        "Li14ZnSi8",
        "Li22Si5",
        "LiSi",
    ]
    return [
        built_fit(f"mp:mp-{100 + i}", formula, 3000.0 + 8 * i, 0.3 + 0.01 * (i % 4), 0.02, seed=i)
        for i, formula in enumerate(formulas)
    ]

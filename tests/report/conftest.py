"""Stores for the report tests: a real small screening run, and a real database series."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from jobflow import job, run_locally
from pymatgen.core import Composition, Lattice, Structure

from sianode_flows.analysis.channel import channel_radii
from sianode_flows.builtin import builtin_records
from sianode_flows.io import iter_csv_rows, parse_cif
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker
from sianode_flows.schemas import (
    DatabaseSeriesDocument,
    FitStatistics,
    SeriesPoint,
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
            n_configs=3, relax_maker=default_relax_maker(steps=TEST_RELAX_STEPS)
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

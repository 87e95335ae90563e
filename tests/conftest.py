"""Shared fixtures: a clean working directory, memory and on-disk stores, structures."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from jobflow import JobStore
from maggma.stores import MemoryStore

from sianode_flows.builtin import li15si4
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.sources.base import ElementCriteria
from tests.sources.servers import shared_rows

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Relax settings for tests: small cells, few steps (the science is in the slow tests).
TEST_RELAX_STEPS = 15


@pytest.fixture(autouse=True)
def clean_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test in its own temporary folder with default settings."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("SIANODE_") and key != "SIANODE_TEST_MONGO_URI":
            monkeypatch.delenv(key)
    monkeypatch.setenv("SIANODE_CONFIG_FILE", str(tmp_path / "no-config.yaml"))
    warnings.filterwarnings("ignore", message="logm result may be inaccurate")
    return tmp_path


@pytest.fixture
def one_thread():
    """Run torch on one thread, so that numbers compare bit for bit across runs.

    Multithreaded CPU reductions add a round-off of their own that depends on the
    sizes involved (a batch's, say); the workers of the launcher tests run on one.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def memory_store() -> JobStore:
    """An in-memory job store with a data store, as atomate2's tests use."""
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    return store


@pytest.fixture(scope="session")
def li15si4_primitive():
    """Li15Si4, 38-atom primitive cell."""
    return li15si4(primitive=True)


@pytest.fixture(scope="session")
def li15si4_conventional():
    """Li15Si4, 76-atom conventional cell."""
    return li15si4(primitive=False)


@pytest.fixture
def quick_relax_maker():
    """CHGNet relax capped at a few steps."""
    return default_relax_maker(steps=TEST_RELAX_STEPS)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared folder of real database structures; skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def li_si_rows(shared_data):
    """Rows of the MP-2018 snapshot whose formula has Li and Si (340 of them)."""
    criteria = ElementCriteria()
    return shared_rows(
        shared_data / "mp2018_cgcnn.csv.gz", lambda r: criteria.matches_formula(r["formula"])
    )


@pytest.fixture(scope="session")
def other_rows(shared_data):
    """A few rows without Si from the Alexandria/OQMD sample."""
    return shared_rows(
        shared_data / "lemat_baseline_mp_alex_oqmd.csv.gz",
        lambda r: r["source"] in ("alexandria", "oqmd") and "Si" not in r["formula"],
        limit=12,
    )

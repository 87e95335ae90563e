"""The launchers: the screening converts to a workflow; the example configs load."""

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml
from fireworks import FWorker, LaunchPad
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter
from jobflow import JobStore
from maggma.stores import MemoryStore, MongoURIStore

from sianode_flows.builtin import builtin_records
from sianode_flows.launchpad import SUBMISSION_KEY, file_launchpad, stage_records, to_workflow
from sianode_flows.makers import ScreeningMaker
from sianode_flows.stores import DATA_COLLECTION, DOCS_COLLECTION, build_job_store

ROOT = Path(__file__).resolve().parents[1]
LAUNCHERS = ROOT / "launchers"


def load_script():
    spec = importlib.util.spec_from_file_location(
        "submit_screening", LAUNCHERS / "submit_screening.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_screening_flow_converts_to_a_fireworks_workflow():
    workflow = load_script().build_workflow(None, n_configs=3, seed=0)
    names = sorted(fw.name for fw in workflow.fws)
    assert names == ["candidates", "screen"]
    # the channel-stability flows are created at run time by the screen job
    screen = next(fw for fw in workflow.fws if fw.name == "screen")
    parents = workflow.links.parent_links[screen.fw_id]
    assert [workflow.id_fw[p].name for p in parents] == ["candidates"]
    # no store embedded: the workers use their jobflow.yaml; the key marks resubmissions
    assert all(fw.tasks[0]["store"] is None for fw in workflow.fws)
    again = load_script().build_workflow(None, n_configs=3, seed=0)
    assert workflow.metadata[SUBMISSION_KEY] == again.metadata[SUBMISSION_KEY]
    other = load_script().build_workflow(None, n_configs=4, seed=0)
    assert other.metadata[SUBMISSION_KEY] != workflow.metadata[SUBMISSION_KEY]


def test_staged_records_keep_the_firework_specs_small(tmp_path):
    records = builtin_records()
    store = build_job_store(str(tmp_path / "store"))
    staged = stage_records(records, store)
    # on the embedded store (on disk), the records are a job output there
    assert [r.source_id for r in staged.resolve(store)] == [r.source_id for r in records]
    assert store.additional_stores["data"].count() == len(records)
    inline, referred = (
        to_workflow(ScreeningMaker().make(given), store) for given in (records, staged)
    )
    sizes = [
        {fw.name: len(str(fw.to_dict())) for fw in workflow.fws} for workflow in (inline, referred)
    ]
    assert sizes[1]["candidates"] < 3000 < sizes[0]["candidates"]
    # jobflow's default store lives in memory: nothing to stage in, the records go inline
    assert stage_records(records, JobStore(MemoryStore())) is None


def test_a_file_launchpad_needs_a_fresh_process(tmp_path, monkeypatch):
    monkeypatch.delenv("MONGOMOCK_SERVERSTORE_FILE", raising=False)
    assert "fireworks.fw_config" in sys.modules  # imported above, with a real client
    with pytest.raises(RuntimeError, match="before starting Python"):
        file_launchpad(tmp_path / "launchpad.json")
    assert not (tmp_path / "launchpad.json").exists()


@pytest.mark.parametrize("name", ["jobflow.yaml", "docker/jobflow.yaml"])
def test_example_jobflow_configs_build_the_package_store_layout(name):
    config = yaml.safe_load((LAUNCHERS / name).read_text())
    store = JobStore.from_dict_spec(config["JOB_STORE"])
    assert isinstance(store.docs_store, MongoURIStore)
    assert store.docs_store.collection_name == DOCS_COLLECTION
    data = store.additional_stores["data"]
    assert type(data).__name__ == "GridFSURIStore"
    assert data.collection_name == DATA_COLLECTION


def test_example_fireworks_configs_load(tmp_path):
    launchpad = LaunchPad.from_file(str(LAUNCHERS / "my_launchpad.yaml"))
    assert launchpad.name == "sianode_fireworks"
    assert LaunchPad.from_file(str(LAUNCHERS / "docker" / "my_launchpad.yaml")).host == "mongo"
    assert FWorker.from_file(str(LAUNCHERS / "my_fworker.yaml")).name == "slurm_cpu"
    adapter = CommonAdapter.from_file(str(LAUNCHERS / "my_qadapter.yaml"))
    script = adapter.get_script_str(str(tmp_path))
    assert "#SBATCH --cpus-per-task=4" in script
    assert "export JOBFLOW_CONFIG_FILE=" in script
    assert "rlaunch -w" in script and "rapidfire" in script


def test_compose_worker_waits_for_a_healthy_pinned_mongodb():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mongo, worker = compose["services"]["mongo"], compose["services"]["worker"]
    assert mongo["image"].startswith("mongo:7.") and "healthcheck" in mongo
    assert worker["depends_on"] == {"mongo": {"condition": "service_healthy"}}
    assert (ROOT / worker["build"]["dockerfile"]).is_file()
    assert worker["command"][:2] == ["rlaunch", "-l"]
    # the configs named inside the image exist in the repository (copied to /sianode)
    for path in (worker["command"][2], worker["environment"]["JOBFLOW_CONFIG_FILE"]):
        assert (ROOT / path.removeprefix("/sianode/")).is_file(), path
    dockerfile = (ROOT / worker["build"]["dockerfile"]).read_text()
    assert "FROM python:3.12-" in dockerfile and "TORCH_INDEX_URL" in dockerfile

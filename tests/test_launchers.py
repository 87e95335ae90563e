"""The FireWorks launcher builds a real workflow from the screening flow."""

import importlib.util
from pathlib import Path

LAUNCHER = Path(__file__).resolve().parents[1] / "launchers" / "submit_screening.py"


def test_screening_flow_converts_to_a_fireworks_workflow():
    spec = importlib.util.spec_from_file_location("submit_screening", LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    workflow = module.build_workflow(None, n_configs=3, seed=0)
    names = sorted(fw.name for fw in workflow.fws)
    assert names == ["candidates", "screen"]
    # the channel-stability flows are created at run time by the screen job
    screen = next(fw for fw in workflow.fws if fw.name == "screen")
    parents = workflow.links.parent_links[screen.fw_id]
    assert [workflow.id_fw[p].name for p in parents] == ["candidates"]

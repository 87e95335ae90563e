"""The run keys name the potential, its version, its weights and the relax engine."""

import hashlib
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from sianode_flows.jobs import relax
from sianode_flows.jobs.fanout import run_key
from sianode_flows.jobs.relax import default_relax_maker, potential_provenance, relax_settings
from sianode_flows.makers import ChannelStabilityMaker
from sianode_flows.schemas import CandidateDocument, Provenance


def chgnet_default_checkpoint(monkeypatch) -> Path:
    """Return the file ``CHGNet.load()`` opens by default (caught before it is read)."""
    from chgnet.model import CHGNet

    opened = []

    class CheckpointOpenedError(Exception):
        pass

    def from_file(cls, path, **kwargs):
        opened.append(Path(path))
        raise CheckpointOpenedError

    monkeypatch.setattr(CHGNet, "from_file", classmethod(from_file))
    with pytest.raises(CheckpointOpenedError):
        CHGNet.load(verbose=False)
    return opened[0]


@pytest.mark.parametrize(
    ("batched", "engine"),
    [
        (True, ("torch-sim-atomistic", "torch")),
        (False, ("ase", "atomate2", "torch")),
    ],
    ids=["batched", "per-structure"],
)
def test_default_chgnet_maker_names_its_weights(monkeypatch, batched, engine):
    provenance = potential_provenance(default_relax_maker(batched=batched))
    checkpoint = chgnet_default_checkpoint(monkeypatch)
    assert checkpoint.is_file()
    assert provenance["potential"] == "CHGNet"
    assert provenance["potential_version"] == f"chgnet {version('chgnet')}"
    assert re.fullmatch("[0-9a-f]{16}", provenance["weights_sha256"])
    assert provenance["weights_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:16]
    assert provenance["engine_versions"] == {package: version(package) for package in engine}


def test_sevennet_weights_follow_the_model_argument(tmp_path):
    shipped = potential_provenance(default_relax_maker("sevennet", batched=False))
    assert re.fullmatch("[0-9a-f]{16}", shipped["weights_sha256"])
    batched = potential_provenance(default_relax_maker("sevennet", batched=True))
    assert batched["weights_sha256"] == shipped["weights_sha256"]
    assert (
        shipped["weights_sha256"] != potential_provenance(default_relax_maker())["weights_sha256"]
    )

    weights = tmp_path / "fine-tuned.pth"
    weights.write_bytes(b"not really weights")
    maker = default_relax_maker("sevennet", batched=False, calculator_kwargs={"model": weights})
    expected = hashlib.sha256(b"not really weights").hexdigest()[:16]
    assert potential_provenance(maker)["weights_sha256"] == expected
    unknown = default_relax_maker("sevennet", batched=False, calculator_kwargs={"model": "other"})
    assert potential_provenance(unknown)["weights_sha256"] is None


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "per-structure"])
def test_run_key_changes_with_weights_and_versions(li15si4_primitive, monkeypatch, batched):
    candidate = CandidateDocument.from_structure(li15si4_primitive, [Provenance(source="test")])
    maker = ChannelStabilityMaker(relax_maker=default_relax_maker(batched=batched))
    before = run_key(candidate, maker)
    assert run_key(candidate, maker) == before
    real_version = relax.package_version

    def newer(changed: str):
        return lambda package: "9.9.9" if package == changed else real_version(package)

    engine_package = "torch-sim-atomistic" if batched else "ase"
    changes = [  # (what changes, the function replaced, the setting it shows in)
        ("weights_checksum", lambda files: "0" * 16, ("weights_sha256",), "0" * 16),
        ("package_version", newer("chgnet"), ("potential_version",), "chgnet 9.9.9"),
        ("package_version", newer(engine_package), ("engine_versions", engine_package), "9.9.9"),
        ("package_version", newer("torch"), ("engine_versions", "torch"), "9.9.9"),
    ]
    for name, replacement, setting, shown in changes:
        with monkeypatch.context() as patch:
            patch.setattr(relax, name, replacement)
            value = relax_settings(maker.relax_maker)
            for key in setting:
                value = value[key]
            assert value == shown
            assert run_key(candidate, maker) != before, setting
    assert run_key(candidate, maker) == before

"""The channel job: measured configurations, and relaxations refused as unphysical."""

import pytest

from sianode_flows.jobs.channel import measure_channel
from sianode_flows.jobs.delithiate import configurations_of
from sianode_flows.schemas import (
    CandidateDocument,
    ChannelDocument,
    DelithiationProtocol,
    FailureDocument,
    Provenance,
)


@pytest.fixture(scope="module")
def configuration(li15si4_primitive):
    candidate = CandidateDocument.from_structure(li15si4_primitive, [Provenance(source="user")])
    protocol = DelithiationProtocol(
        n_configs=3, seed=0, soc_range=(0.0, 1.0), include_charged=True, include_delithiated=True
    )
    return configurations_of(candidate, protocol)[2]


def task_document(structure):
    """The part of a relax task document the channel job reads."""
    return {"structure": structure.as_dict(), "output": {"energy": -100.0}, "state": "successful"}


def measure(relaxed, configuration, **kwargs):
    return measure_channel.original(
        task_document(relaxed), configuration, relax_key="r", config_key="c", **kwargs
    )


def test_a_relaxed_configuration_is_measured_with_its_keys(configuration):
    document = measure(configuration.structure, configuration)
    assert isinstance(document, ChannelDocument)
    assert document.relax_key == "r" and document.config_key == "c" and document.round == 1
    assert 0.5 < document.r_t < 2.5


@pytest.mark.parametrize("factor", [6.0, 1 / 6.0])
def test_an_exploded_or_collapsed_cell_is_a_failure(configuration, factor):
    relaxed = configuration.structure.copy()
    relaxed.scale_lattice(relaxed.volume * factor)
    failure = measure(relaxed, configuration)
    assert isinstance(failure, FailureDocument)
    assert failure.step == "relax" and failure.error_type == "UnphysicalRelaxationError"
    assert f"{factor:.2f}x" in failure.message and "5x either way" in failure.message
    assert failure.config_key == "c" and failure.config_index == configuration.config_index
    # within the bound (a framework may shrink ~4x as Li leaves), or with no bound: measured
    assert isinstance(measure(relaxed, configuration, max_volume_change=7.0), ChannelDocument)
    assert isinstance(measure(relaxed, configuration, max_volume_change=None), ChannelDocument)


def test_a_non_finite_cell_is_a_failure(configuration):
    relaxed = configuration.structure.as_dict()
    relaxed["lattice"]["matrix"][0][0] = float("nan")
    failure = measure_channel.original(
        {"structure": relaxed, "output": {}, "state": "successful"}, configuration
    )
    assert isinstance(failure, FailureDocument) and failure.step == "relax"
    assert failure.error_type == "UnphysicalRelaxationError", failure.message
    assert "not finite" in failure.message

import pytest
from pymatgen.core import Lattice, Structure

from sianode_flows.analysis.validation import CandidateError, check_candidate, is_alloy


def test_li15si4_passes(li15si4_primitive):
    check_candidate(li15si4_primitive)


@pytest.mark.parametrize(
    ("species", "message"),
    [
        (["Si", "Si"], "contains no Li"),
        (["Li", "Ge"], "contains no Si"),
        (["Li", "Si", "O"], "O is not a metal"),
    ],
)
def test_composition_checks(species, message):
    coords = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]][: len(species)]
    with pytest.raises(CandidateError, match=message):
        check_candidate(Structure(Lattice.cubic(5), species, coords))


def test_disordered(li15si4_primitive):
    disordered = li15si4_primitive.copy()
    disordered.replace(37, {"Si": 0.5, "Ge": 0.5})
    with pytest.raises(CandidateError, match="disordered"):
        check_candidate(disordered)


def test_too_many_sites(li15si4_primitive):
    with pytest.raises(CandidateError, match="more than the limit"):
        check_candidate(li15si4_primitive, max_sites=20)


def test_overlapping_atoms():
    broken = Structure(Lattice.cubic(5), ["Li", "Si"], [[0, 0, 0], [0.01, 0, 0]])
    with pytest.raises(CandidateError, match="broken"):
        check_candidate(broken)


def test_errors_name_their_stage(li15si4_primitive):
    from sianode_flows.analysis.validation import FILTER_STAGES

    silicon = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    with pytest.raises(CandidateError) as info:
        check_candidate(silicon)
    assert info.value.stage == "chemistry" == FILTER_STAGES[0]
    with pytest.raises(CandidateError) as info:
        check_candidate(li15si4_primitive, max_sites=10)
    assert info.value.stage == "size"


def test_is_alloy(li15si4_primitive):
    assert is_alloy(li15si4_primitive)
    oxide = li15si4_primitive.copy()
    oxide.replace(0, "O")
    assert not is_alloy(oxide)

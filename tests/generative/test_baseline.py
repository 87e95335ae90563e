import pytest
from pymatgen.core import Composition, Structure

from sianode_flows.builtin import builtin_records, li15si4
from sianode_flows.generative.baseline import (
    SUBSTITUENTS,
    pyxtal_baseline,
    radius_volume_ratio,
    substitute,
    substitution_baseline,
)
from sianode_flows.generative.metrics import check_validity
from sianode_flows.generative.target import GenerationTarget


@pytest.fixture(scope="module")
def references():
    return [record.structure for record in builtin_records()]


def same(a: Structure, b: Structure) -> bool:
    return (
        a.composition == b.composition
        and a.lattice == b.lattice
        and [s.species_string for s in a] == [s.species_string for s in b]
        and all((sa.frac_coords == sb.frac_coords).all() for sa, sb in zip(a, b, strict=True))
    )


def test_substitution_samples_are_valid_li_si_structures(references):
    samples = substitution_baseline(references, GenerationTarget(), n=6, seed=3)
    assert len(samples) == 6
    for sample in samples:
        assert isinstance(sample, Structure)
        symbols = {el.symbol for el in sample.composition.elements}
        assert {"Li", "Si"} <= symbols
        assert symbols - {"Li", "Si"}, "a substituent was put in"
        assert symbols - {"Li", "Si"} <= set(SUBSTITUENTS) | {"Ge", "Sn", "Zn"}
        assert check_validity(sample) == (True, None)


def test_substitution_is_reproducible_from_a_seed(references):
    first = substitution_baseline(references, GenerationTarget(), n=4, seed=7)
    again = substitution_baseline(references, GenerationTarget(), n=4, seed=7)
    other = substitution_baseline(references, GenerationTarget(), n=4, seed=8)
    assert all(same(a, b) for a, b in zip(first, again, strict=True))
    assert not all(same(a, b) for a, b in zip(first, other, strict=True))


def test_substitution_honours_required_and_forbidden_elements():
    host = li15si4()
    forbidden = tuple(el for el in SUBSTITUENTS if el != "Al")
    target = GenerationTarget(forbidden_elements=forbidden)
    for sample in substitution_baseline([host], target, n=3, seed=0):
        assert set(sample.composition.chemical_system.split("-")) == {"Al", "Li", "Si"}
    target = GenerationTarget(required_elements=("Li", "Si", "Ga"))
    for sample in substitution_baseline([host], target, n=3, seed=0):
        assert sample.composition["Ga"] >= 1
        assert sample.composition["Si"] >= 1
        assert sample.composition["Li"] == host.composition["Li"]


def test_substitution_scales_the_volume_with_the_radii():
    host = li15si4()
    si_sites = [i for i, site in enumerate(host) if site.specie.symbol == "Si"]
    bigger = substitute(host, "Sn", si_sites[:2])
    smaller = substitute(host, "B", si_sites[:2])
    assert bigger.volume > host.volume > smaller.volume
    assert bigger.volume == pytest.approx(
        host.volume * radius_volume_ratio(host.composition, bigger.composition)
    )


def test_substitution_needs_a_usable_reference():
    with pytest.raises(ValueError, match="no usable reference"):
        substitution_baseline(
            [Structure([[3, 0, 0], [0, 3, 0], [0, 0, 3]], ["Si"], [[0, 0, 0]])],
            GenerationTarget(),
            n=1,
            seed=0,
        )


def test_pyxtal_samples_have_the_composition_and_are_reproducible():
    compositions = [Composition("Li4Si2"), "Li3Si1Ge1"]
    first = pyxtal_baseline(compositions, n=3, seed=11)
    again = pyxtal_baseline(compositions, n=3, seed=11)
    assert 1 <= len(first) <= 3
    assert len(first) == len(again)
    for a, b in zip(first, again, strict=True):
        assert same(a, b)
    for sample in first:
        assert isinstance(sample, Structure)
        assert {"Li", "Si"} <= {el.symbol for el in sample.composition.elements}
        assert sample.composition.reduced_composition in (
            Composition("Li2Si"),
            Composition("Li3SiGe"),
        )


def test_substitution_draws_only_what_can_reach_the_capacity_target():
    from sianode_flows.analysis.capacity import gravimetric_capacity

    li_si = Structure.from_spacegroup(
        "Pm-3m", [[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0]], ["Li", "Si"], [[0, 0, 0], [0.5] * 3]
    ) * (2, 1, 1)  # Li2Si2, 954 mAh/g: no substitution brings it to 1,500
    both = [li_si, li15si4()]
    anything = substitution_baseline(both, GenerationTarget(min_capacity_mAh_g=0.0), n=12, seed=2)
    assert any(s.composition["Li"] == 2 for s in anything)  # LiSi is drawn without a target
    aimed = substitution_baseline(both, GenerationTarget(min_capacity_mAh_g=1500.0), n=12, seed=2)
    assert len(aimed) == 12
    assert all(gravimetric_capacity(s) >= 1500.0 for s in aimed)
    assert all(s.composition["Li"] == 30 for s in aimed)  # all from Li15Si4 (Li30Si8)
    # heavy substituents on up to half the Si sites can drop below: such products are redrawn
    heavy = substitution_baseline(
        both, GenerationTarget(min_capacity_mAh_g=2000.0), n=20, seed=2, substituents=("Sb",)
    )
    assert len(heavy) == 20 and all(gravimetric_capacity(s) >= 2000.0 for s in heavy)
    with pytest.raises(ValueError, match="no reference can reach 1500 mAh/g"):
        substitution_baseline([li_si], GenerationTarget(min_capacity_mAh_g=1500.0), n=1, seed=0)

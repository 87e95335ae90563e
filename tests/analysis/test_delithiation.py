import pytest

from sianode_flows.analysis.delithiation import delithiate


def test_configurations_are_reproducible(li15si4_primitive):
    first = delithiate(li15si4_primitive, n_configs=8, seed=7)
    again = delithiate(li15si4_primitive, n_configs=8, seed=7)
    other = delithiate(li15si4_primitive, n_configs=8, seed=8)
    assert [c.removed_sites for c in first] == [c.removed_sites for c in again]
    assert [c.removed_sites for c in first] != [c.removed_sites for c in other]


def test_ends_and_soc(li15si4_primitive):
    configs = delithiate(li15si4_primitive, n_configs=10, seed=0)
    assert len(configs) == 10
    assert configs[0].soc == 1.0 and len(configs[0].structure) == 38
    assert configs[1].soc == 0.0 and configs[1].structure.composition.formula == "Si8"
    for config in configs:
        n_li = config.structure.composition["Li"]
        assert n_li == config.n_migrant
        assert config.soc == pytest.approx(n_li / 30)
        assert config.structure.composition["Si"] == 8
    interior = [c.soc for c in configs[2:]]
    assert all(0 < soc < 1 for soc in interior)
    assert max(interior) - min(interior) > 0.5  # stratified over the range


def test_without_ends_and_with_a_range(li15si4_primitive):
    configs = delithiate(
        li15si4_primitive,
        n_configs=5,
        soc_range=(0.4, 0.8),
        include_charged=False,
        include_delithiated=False,
    )
    assert all(0.38 <= c.soc <= 0.82 for c in configs)


def test_no_li_is_refused():
    from pymatgen.core import Lattice, Structure

    with pytest.raises(ValueError, match="contains no Li"):
        delithiate(Structure(Lattice.cubic(5.43), ["Si"], [[0, 0, 0]]))


def test_too_few_configs_for_the_ends(li15si4_primitive):
    with pytest.raises(ValueError, match="smaller than"):
        delithiate(li15si4_primitive, n_configs=1)

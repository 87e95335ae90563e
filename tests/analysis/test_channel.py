import pytest
from pymatgen.core import Lattice, Structure

from sianode_flows.analysis.channel import (
    channel_radii,
    channel_radii_many,
    framework_radii,
    zeopp_free_sphere_radius,
)


def test_li15si4_channel_radius(li15si4_conventional, li15si4_primitive):
    conventional = channel_radii(li15si4_conventional)
    # 1.61 A, not the 2.05 A artifact of Voronoi face centres
    assert 1.55 < conventional.r_t < 1.70
    assert conventional.r_a == pytest.approx(conventional.r_b, abs=1e-6)
    assert conventional.radii == {"Si": pytest.approx(1.11)}
    assert channel_radii(li15si4_primitive).r_t == pytest.approx(conventional.r_t, abs=1e-4)


def test_channel_radius_is_independent_of_cell_choice(li15si4_conventional):
    sheared = li15si4_conventional.make_supercell([[1, 1, 0], [0, 1, 0], [0, 0, 1]], in_place=False)
    assert channel_radii(sheared).r_t == pytest.approx(
        channel_radii(li15si4_conventional).r_t, abs=1e-4
    )


def test_zeopp_cross_check_agrees(li15si4_primitive):
    pytest.importorskip("pyzeo")
    cavd = channel_radii(li15si4_primitive).r_t
    assert zeopp_free_sphere_radius(li15si4_primitive) == pytest.approx(cavd, abs=0.01)


def test_larger_radii_narrow_the_channel(li15si4_primitive):
    default = channel_radii(li15si4_primitive).r_t
    wider_atoms = channel_radii(li15si4_primitive, radii={"Si": 1.31}).r_t
    assert wider_atoms == pytest.approx(default - 0.2, abs=0.02)


def test_framework_radii_defaults_are_covalent():
    structure = Structure(
        Lattice.cubic(5), ["Si", "Ge", "Zn"], [[0, 0, 0], [0.5, 0.5, 0], [0, 0.5, 0.5]]
    )
    assert framework_radii(structure) == pytest.approx({"Si": 1.11, "Ge": 1.20, "Zn": 1.22})


def test_li_only_structure_has_no_framework():
    li_bcc = Structure(Lattice.cubic(3.5), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(ValueError, match="framework is empty"):
        channel_radii(li_bcc)


def test_disordered_structure_is_refused():
    disordered = Structure(Lattice.cubic(5), [{"Si": 0.5, "Ge": 0.5}, "Li"], [[0, 0, 0], [0.5] * 3])
    with pytest.raises(ValueError, match="ordered"):
        channel_radii(disordered)


def test_pooled_radii_match_and_failures_are_returned(li15si4_primitive, li15si4_conventional):
    li_only = Structure(Lattice.cubic(3.5), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    structures = [li15si4_primitive, li_only, li15si4_conventional]
    pooled = channel_radii_many(structures, workers=2)
    assert isinstance(pooled[1], ValueError) and "empty" in str(pooled[1])
    for structure, found in zip(structures[::2], pooled[::2], strict=True):
        assert found.r_t == pytest.approx(channel_radii(structure).r_t, abs=1e-9)
    assert pooled[0].r_t == pytest.approx(1.612, abs=0.01)

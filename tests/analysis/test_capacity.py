import pytest
from pymatgen.core import Composition

from sianode_flows.analysis.capacity import gravimetric_capacity, host_composition


def test_li15si4_capacity(li15si4_conventional, li15si4_primitive):
    assert gravimetric_capacity(Composition("Li15Si4")) == pytest.approx(3578.6, abs=1)
    assert gravimetric_capacity(li15si4_conventional) == pytest.approx(3578.6, abs=1)
    assert gravimetric_capacity(li15si4_primitive) == pytest.approx(3578.6, abs=1)


def test_capacity_counts_host_mass_only():
    # LiSi: one Li per Si -> 96485.33 / 3.6 / 28.0855 mAh/g
    assert gravimetric_capacity(Composition("LiSi")) == pytest.approx(954.3, abs=0.5)
    heavier = gravimetric_capacity(Composition("Li30Si7Sn"))
    assert heavier < gravimetric_capacity(Composition("Li30Si8"))


def test_host_composition():
    assert host_composition(Composition("Li30Si7Ge")).reduced_formula == "Si7Ge"


@pytest.mark.parametrize("formula", ["Si", "Li"])
def test_capacity_needs_li_and_host(formula):
    with pytest.raises(ValueError, match=r"contains no Li|no host atoms"):
        gravimetric_capacity(Composition(formula))

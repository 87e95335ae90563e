"""Structure views of candidates."""

import pytest

from sianode_flows.report.structures import display_cell, element_legend, structure_figure
from tests.report.images import assert_png


def test_structure_figure(li15si4_primitive, tmp_path):
    cell = display_cell(li15si4_primitive)
    assert len(cell) == 76 and cell.lattice.abc == pytest.approx((10.685,) * 3)
    assert [p.get_label() for p in element_legend(li15si4_primitive)] == ["Li (30)", "Si (8)"]
    assert_png(structure_figure(li15si4_primitive, "Li15Si4", tmp_path / "s.png"))

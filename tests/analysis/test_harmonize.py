"""Harmonize and deduplicate entries from several sources."""

import pytest

from sianode_flows.analysis.harmonize import group_duplicates, merge_group
from sianode_flows.builtin import li15si4
from sianode_flows.io import parse_cif
from sianode_flows.schemas import StructureRecord


def record(source, source_id, structure, **properties):
    return StructureRecord(
        source=source, source_id=source_id, structure=structure, properties=properties
    )


def test_same_compound_from_two_databases_is_one_candidate(li_si_rows):
    mp_row = next(r for r in li_si_rows if r["source_id"] == "mp-569849")
    from_mp = record("mp", "mp-569849", parse_cif(mp_row["cif"])[0], e_form=-0.2)
    # the same phase as published (a = 10.685 A) in a different cell setting
    from_paper = record("builtin", "Li15Si4", li15si4(primitive=False), reference="Obrovac")
    other = record(
        "mp",
        "mp-795",
        parse_cif(next(r["cif"] for r in li_si_rows if r["source_id"] == "mp-795"))[0],
    )
    groups = group_duplicates([from_mp, other, from_paper])
    assert [[r.source_id for r in g] for g in groups] == [["mp-569849", "Li15Si4"], ["mp-795"]]
    merged = merge_group(groups[0])
    assert merged.candidate_id == "mp:mp-569849"
    assert [(p.source, p.source_id) for p in merged.provenance] == [
        ("mp", "mp-569849"),
        ("builtin", "Li15Si4"),
    ]
    assert merged.provenance[0].properties == {"e_form": -0.2}
    assert merged.provenance[1].properties == {"reference": "Obrovac"}
    assert merged.capacity_mAh_g == pytest.approx(3578.6, abs=1)


def test_polymorphs_stay_apart(li_si_rows):
    silicon_like = [
        record("mp", r["source_id"], parse_cif(r["cif"])[0])
        for r in li_si_rows
        if r["formula"].replace(" ", "") in ("Li1Si1", "Li4Si4", "Li8Si8", "Li16Si16")
    ]
    groups = group_duplicates(silicon_like)
    assert sum(len(g) for g in groups) == len(silicon_like)

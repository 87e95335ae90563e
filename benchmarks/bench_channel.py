"""Channel radius: CAVD (direct atom network) against Zeo++'s free sphere.

Reads the Li- and Si-containing structures of ``../shared/data/mp2018_cgcnn.csv.gz``
(falls back to the built-in cells when the shared data is absent), computes R_t with
both tools on the framework without Li, and prints the time per structure, their
ratio and the largest difference.

    python benchmarks/bench_channel.py [--limit 200]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
import sys
import time
from pathlib import Path

from sianode_flows.analysis.channel import channel_radii, zeopp_free_sphere_radius
from sianode_flows.builtin import builtin_records
from sianode_flows.io import parse_cif

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mp2018_cgcnn.csv.gz"


def li_si_structures(limit: int):
    """Return up to ``limit`` ordered Li-Si-containing structures with a framework."""
    if not DATA.is_file():
        return [(r.source_id, r.structure) for r in builtin_records()]
    csv.field_size_limit(sys.maxsize)
    found = []
    with gzip.open(DATA, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            formula = row["formula"]
            if "Li" not in formula or "Si" not in formula:
                continue
            structure = parse_cif(row["cif"])[0]
            elements = {el.symbol for el in structure.composition.elements}
            if {"Li", "Si"} <= elements and structure.is_ordered:
                found.append((row["source_id"], structure))
            if len(found) >= limit:
                break
    return found


def main() -> None:
    """Time both tools on the same structures and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()
    structures = li_si_structures(args.limit)
    cavd_times, zeo_times, differences = [], [], []
    for _, structure in structures:
        start = time.perf_counter()
        r_cavd = channel_radii(structure).r_t
        cavd_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        r_zeo = zeopp_free_sphere_radius(structure)
        zeo_times.append(time.perf_counter() - start)
        differences.append(abs(r_cavd - r_zeo))
    n_sites = [len(s) for _, s in structures]
    median_sites, max_sites = statistics.median(n_sites), max(n_sites)
    print(f"structures: {len(structures)} (sites: median {median_sites}, max {max_sites})")
    for tool, times in (("CAVD", cavd_times), ("Zeo++", zeo_times)):
        mean_ms, median_ms = 1e3 * statistics.mean(times), 1e3 * statistics.median(times)
        print(f"{tool:6s}: {mean_ms:8.1f} ms/structure (median {median_ms:.1f})")
    print(f"CAVD / Zeo++ time ratio: {sum(cavd_times) / sum(zeo_times):.2f}")
    worst, typical = max(differences), statistics.median(differences)
    print(f"|R_t(CAVD) - Df/2(Zeo++)|: max {worst:.4f} A, median {typical:.4f} A")
    print(f"structures differing by more than 0.01 A: {sum(d > 0.01 for d in differences)}")


if __name__ == "__main__":
    main()

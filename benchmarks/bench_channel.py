"""Channel radius: CAVD with and without Voronoi cells, and Zeo++'s free sphere.

Reads the Li- and Si-containing structures of ``../shared/data/mp2018_cgcnn.csv.gz``
(falls back to the built-in cells when the shared data is absent) and computes R_t of
the framework without Li three ways, side by side: CAVD keeping its Voronoi cells
(``saveVorCells=True``, the baseline recipe), CAVD without them (the package default)
and Zeo++. Prints the time per structure, the ratios and the largest differences.

    python benchmarks/bench_channel.py [--limit 200] [--workers 2]

With ``--workers N`` it also times ``channel_radii_many`` (CAVD over all structures in
a pool of N processes) against the same call with one process, and checks that both
give the same radii.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
import sys
import time
from pathlib import Path

from sianode_flows.analysis.channel import (
    channel_radii,
    channel_radii_many,
    zeopp_free_sphere_radius,
)
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


def pool_comparison(structures: list, workers: int) -> None:
    """Time CAVD over all structures in one process and in a pool; print the ratio."""
    start = time.perf_counter()
    alone = channel_radii_many(structures, workers=1)
    one = time.perf_counter() - start
    start = time.perf_counter()
    pooled = channel_radii_many(structures, workers=workers)
    many = time.perf_counter() - start
    same = all(
        (isinstance(a, Exception) and isinstance(b, Exception)) or a.r_t == b.r_t
        for a, b in zip(alone, pooled, strict=True)
    )
    print(
        f"channel_radii_many over {len(structures)} structures: 1 process {one:.1f} s, "
        f"{workers} processes {many:.1f} s ({one / many:.2f}x), identical radii: {same}"
    )


def main() -> None:
    """Time both tools on the same structures and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0, help="also time a pool of N")
    args = parser.parse_args()
    structures = li_si_structures(args.limit)
    if args.workers > 1:
        pool_comparison([s for _, s in structures], args.workers)
    cells_times, cavd_times, zeo_times, differences, cell_differences = [], [], [], [], []
    for _, structure in structures:
        start = time.perf_counter()
        r_cells = channel_radii(structure, save_voronoi_cells=True).r_t
        cells_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        r_cavd = channel_radii(structure).r_t
        cavd_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        r_zeo = zeopp_free_sphere_radius(structure)
        zeo_times.append(time.perf_counter() - start)
        differences.append(abs(r_cavd - r_zeo))
        cell_differences.append(abs(r_cavd - r_cells))
    n_sites = [len(s) for _, s in structures]
    median_sites, max_sites = statistics.median(n_sites), max(n_sites)
    print(f"structures: {len(structures)} (sites: median {median_sites}, max {max_sites})")
    tools = (("CAVD + cells", cells_times), ("CAVD", cavd_times), ("Zeo++", zeo_times))
    for tool, times in tools:
        mean_ms, median_ms = 1e3 * statistics.mean(times), 1e3 * statistics.median(times)
        print(f"{tool:12s}: {mean_ms:8.1f} ms/structure (median {median_ms:.1f})")
    print(f"speed-up of CAVD without cells: {sum(cells_times) / sum(cavd_times):.1f}x")
    print(f"CAVD / Zeo++ time ratio: {sum(cavd_times) / sum(zeo_times):.2f}")
    print(f"|R_t(cells) - R_t(no cells)|: max {max(cell_differences):.2e} A")
    worst, typical = max(differences), statistics.median(differences)
    print(f"|R_t(CAVD) - Df/2(Zeo++)|: max {worst:.4f} A, median {typical:.4f} A")
    print(f"structures differing by more than 0.01 A: {sum(d > 0.01 for d in differences)}")


if __name__ == "__main__":
    main()

"""Harvest of every structure in ../shared/data: wall time, per stage, 1 vs N workers.

Runs the harvest (read and prefilter, parse, validate, deduplicate, capacity and CAVD
channel radius of every unique Li-Si-X entry) on all files of the shared data, once
with one process and once with every core, side by side, and prints the stage
times, the ratio, and the cost a harvest without the formula prefilter would pay to
parse every CIF (measured on a sample and scaled).

    python benchmarks/bench_harvest.py [--sample 2000]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import sys
import time
from pathlib import Path

from sianode_flows.io import parse_cif
from sianode_flows.jobs.harvest import default_workers, fetch_all, harvest_results
from sianode_flows.sources import ElementCriteria, LocalFileSource

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def harvest_once(workers: int) -> dict:
    """Run one harvest and return its stage times and document."""
    sources = [LocalFileSource(str(p), name=p.name) for p in sorted(DATA.glob("*.csv.gz"))]
    start = time.perf_counter()
    results, _ = fetch_all(sources, ElementCriteria())
    fetched = time.perf_counter()
    document = harvest_results(results, workers=workers)
    done = time.perf_counter()
    return {
        "fetch": fetched - start,
        "analyse": done - fetched,
        "total": done - start,
        "doc": document,
    }


def parse_cost(sample: int) -> tuple[float, int]:
    """Seconds per CIF parse on a sample of rows, and the number of rows in all files."""
    csv.field_size_limit(sys.maxsize)
    n_rows, texts = 0, []
    for path in sorted(DATA.glob("*.csv.gz")):
        with gzip.open(path, "rt", newline="") as handle:
            for row in csv.DictReader(handle):
                n_rows += 1
                if len(texts) < sample:
                    texts.append(row["cif"])
    start = time.perf_counter()
    for text in itertools.islice(texts, sample):
        parse_cif(text)
    return (time.perf_counter() - start) / len(texts), n_rows


def main() -> None:
    """Run and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=2000)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"shared data not found at {DATA}")
    workers = default_workers()
    runs = {1: harvest_once(1), workers: harvest_once(workers)}
    doc = runs[1]["doc"]
    seen = sum(s.n_seen for s in doc.sources)
    print(f"entries: {seen} in {len(doc.sources)} files; candidates: {len(doc.candidates)}")
    for stage in doc.stages:
        print(f"  {stage.stage:10s} in {stage.n_in:6d}  dropped {stage.n_dropped:6d}")
    for n, run in runs.items():
        print(
            f"workers={n}: read+prefilter+parse {run['fetch']:.1f} s, "
            f"filter+dedupe+analysis {run['analyse']:.1f} s, total {run['total']:.1f} s "
            f"({seen / run['total']:.0f} entries/s)"
        )
    print(f"speed-up with {workers} workers: {runs[1]['total'] / runs[workers]['total']:.2f}x")
    per_parse, n_rows = parse_cost(args.sample)
    naive = per_parse * n_rows
    print(
        f"parsing every CIF (no prefilter) would take ~{naive:.0f} s "
        f"({1e3 * per_parse:.1f} ms/CIF x {n_rows}): "
        f"{naive / runs[workers]['total']:.0f}x the harvest"
    )


if __name__ == "__main__":
    main()

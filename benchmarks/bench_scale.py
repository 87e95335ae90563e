"""Screening at scale: pooled against per-candidate relaxations, and a killed FireWorks worker.

``pooling`` screens the same candidates twice with ``run_locally`` on the embedded
store, each run in a spawned process of its own: one batched relax job per
candidate (``pool_atoms=None``), then pooled relax jobs of at most ``--pool-atoms``
atoms. It prints wall time, relaxations, relaxations per hour and their ratio, the
relax jobs each run made, and whether every fit (points and slope) is the same. On
a CPU expect parity (a batch costs about its atoms); on a GPU the pool fills the
device: the command it prints runs the same comparison there.

    python benchmarks/bench_scale.py pooling [--candidates 8] [--configs 3]
        [--steps 20] [--pool-atoms 2000] [--threads 2] [--device cpu|cuda]

``scale`` screens a few hundred candidates through FireWorks as a user would: the
Li-Si-X entries of ../shared/data above the capacity threshold and up to
``--max-sites`` sites, plus substitution variants (one or two Si of each host
replaced by Ge, Sn, Al, Ga, ...) to reach ``--candidates``, written as CIFs to a folder;
``sianode submit --local`` puts the screening on a file launchpad with the
embedded store; ``rlaunch rapidfire`` runs it and is killed (SIGKILL) once
``--kill-at`` of the configurations have their channel documents, then restarted
until the workflow completes. It prints: candidates selected and fitted, lost
candidates (selected, no fit), duplicated documents (more than one fit per
candidate and run key, more than one channel document per configuration), the
relaxations run (and those run twice: relaxed before the kill, their channel job
not yet run), the largest document of the docs store, the data store, the
launchpad's fireworks and launches and its workflow document (``bson.encode``),
data-store blobs no job document refers to, wall time, and relaxations per hour.

    python benchmarks/bench_scale.py scale [--candidates 300] [--configs 3]
        [--steps 5] [--pool-atoms 1500] [--kill-at 0.5] [--threads 2]
        [--workdir DIR]

``store`` writes ``--blobs`` structure blobs to the embedded data store and reads
them back with jobflow's ``$in`` query, with maggma's ``MontyStore`` and with
:class:`sianode_flows.stores.LockedMontyStore` side by side (times and ratios).

    python benchmarks/bench_scale.py store [--blobs 1000]

Nothing else should run meanwhile: torch threads oversubscribe two cores.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SUBSTITUTES = ("Ge", "Sn", "Al", "Ga", "Zn", "Mg", "B", "In", "Sb", "Cu", "Ag", "Ca", "Bi", "Pb")
CHANNEL = {"name": {"$regex": "^channel"}}
FIT = {"output.@class": "SlopeFitDocument"}
RELAX = {"name": {"$regex": "relax"}}


def variants(n_candidates: int, max_sites: int, min_capacity: float = 1500.0) -> list:
    """Return ``(name, structure)`` pairs: shared-data hosts, then substitution variants.

    Hosts are the Li-Si-X entries of the shared data that pass the harvest's
    checks (ordered, X a metal or metalloid, ...) with at most
    ``max_sites`` sites and at least ``min_capacity`` mAh/g, one per formula and
    cell size; variants replace the first Si of a host by each of
    :data:`SUBSTITUTES` in turn, then its first two Si by each pair of them, hosts
    taken round robin, while the capacity stays above the threshold.
    """
    from sianode_flows.analysis.capacity import gravimetric_capacity
    from sianode_flows.analysis.validation import CandidateError, check_candidate
    from sianode_flows.builtin import li15si4, substituted
    from sianode_flows.jobs.harvest import fetch_all
    from sianode_flows.sources import ElementCriteria, LocalFileSource

    hosts, seen = [], set()
    if DATA.is_dir():
        sources = [LocalFileSource(str(p), name=p.name) for p in sorted(DATA.glob("*.csv.gz"))]
        results, _ = fetch_all(sources, ElementCriteria())
        for result in results:
            for record in result.records:
                structure = record.structure
                if structure is None:
                    continue
                try:
                    check_candidate(structure, max_sites=max_sites)
                except CandidateError:
                    continue
                key = (structure.composition.reduced_formula, len(structure))
                if key in seen or gravimetric_capacity(structure) < min_capacity:
                    continue
                seen.add(key)
                hosts.append((f"{record.source}-{record.source_id}", structure))
    else:
        hosts.append(("Li15Si4", li15si4()))
        seen.add(("Li15Si4", len(hosts[0][1])))
    found = list(hosts)
    pairs = [(x, None) for x in SUBSTITUTES]
    pairs += [(x, y) for i, x in enumerate(SUBSTITUTES) for y in SUBSTITUTES[i:]]
    for first, second in pairs:
        for name, host in hosts:
            if len(found) >= n_candidates:
                return found
            present = {el.symbol for el in host.composition}
            if first in present or second in present:
                continue
            variant = substituted(host, first)
            label = f"{name}-{first}"
            if second is not None:
                if variant.composition["Si"] < 2:
                    continue
                variant, label = substituted(variant, second), f"{label}-{second}"
            key = (variant.composition.reduced_formula, len(variant))
            if key in seen or gravimetric_capacity(variant) < min_capacity:
                continue
            seen.add(key)
            found.append((label, variant))
    return found


# ---------------------------------------------------------------- pooling


def screen_in_child(pool_atoms: int | None, args: argparse.Namespace, queue) -> None:
    """Run one screening with ``run_locally`` on a fresh embedded store; report it."""
    import warnings

    warnings.filterwarnings("ignore")
    import torch
    from jobflow import run_locally

    from sianode_flows.jobs.relax import default_relax_maker
    from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker
    from sianode_flows.results import fit_documents
    from sianode_flows.stores import build_job_store

    torch.set_num_threads(args.threads)
    structures = [s for _, s in variants(args.candidates, args.max_sites)]
    relax_maker = default_relax_maker(batched=True, steps=args.steps, device=args.device)
    channel_maker = ChannelStabilityMaker(
        n_configs=args.configs, relax_maker=relax_maker, fit_unconverged=True, n_bootstrap=200
    )
    maker = ScreeningMaker(channel_maker=channel_maker, pool_atoms=pool_atoms)
    with tempfile.TemporaryDirectory() as folder:
        store = build_job_store(folder)
        store.connect()
        flow = maker.make(structures)
        start = time.perf_counter()
        run_locally(flow, store=store, ensure_success=True, log=False)
        wall = time.perf_counter() - start
        relax_jobs = list(store.query(RELAX, properties=["output"]))
        fits = fit_documents(store)
        queue.put(
            {
                "wall": wall,
                "relax_jobs": len(relax_jobs),
                "relaxations": sum(len(doc["output"]) for doc in relax_jobs),
                "atoms": sum(len(s) for s in structures),
                "fits": {
                    f.candidate_id: ([(p.config_index, p.r_t) for p in f.points], f.slope)
                    for f in fits
                },
            }
        )


def run_child(pool_atoms: int | None, args: argparse.Namespace) -> dict:
    """Run :func:`screen_in_child` in a spawned process and return its report."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=screen_in_child, args=(pool_atoms, args, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def pooling(args: argparse.Namespace) -> None:
    """Per-candidate against pooled relax jobs, side by side."""
    runs = {
        "per candidate": run_child(None, args),
        f"pooled ({args.pool_atoms} atoms)": run_child(args.pool_atoms, args),
    }
    base = None
    print(
        f"{args.candidates} candidates x {args.configs} configurations, {args.steps} steps, "
        f"{args.threads} threads, device {args.device}"
    )
    for name, run in runs.items():
        rate = run["relaxations"] / run["wall"] * 3600
        base = base or rate
        print(
            f"  {name:22s} {run['relax_jobs']:3d} relax jobs  {run['relaxations']:4d} relaxations "
            f"in {run['wall']:7.1f} s: {rate:8.0f} relaxations/h ({rate / base:.2f}x)"
        )
    fits = [run["fits"] for run in runs.values()]
    print(f"  same fits (points and slope) for all {len(fits[0])} candidates: {fits[0] == fits[1]}")
    print(
        "on a GPU: python benchmarks/bench_scale.py pooling --device cuda --candidates 200 "
        "--configs 30 --steps 200 --pool-atoms 20000"
    )


# ---------------------------------------------------------------- store


def store_speed(args: argparse.Namespace) -> None:
    """Write and read back jobflow blobs: maggma's MontyStore against the embedded store."""
    from maggma.stores import MontyStore

    from sianode_flows.builtin import li15si4
    from sianode_flows.stores import BLOB_KEY, LockedMontyStore

    structure = li15si4(primitive=False).as_dict()
    blobs = [{BLOB_KEY: f"blob-{i}", "data": structure} for i in range(args.blobs)]
    asked = {BLOB_KEY: {"$in": [b[BLOB_KEY] for b in blobs]}}
    print(f"{args.blobs} blobs of a 76-site structure, as jobflow writes and reads them")
    base = {}
    for kind in (MontyStore, LockedMontyStore):
        with tempfile.TemporaryDirectory() as folder:
            store = kind("outputs_blobs", database_path=folder)
            store.connect()
            start = time.perf_counter()
            store.update([dict(b) for b in blobs], key=BLOB_KEY)
            wrote = time.perf_counter() - start
            start = time.perf_counter()
            found = sum(1 for _ in store.query(asked, properties=[BLOB_KEY, "data"]))
            read = time.perf_counter() - start
            base = base or {"write": wrote, "read": read}
            print(
                f"  {kind.__name__:17s} write {wrote:7.1f} s ({base['write'] / wrote:6.1f}x)"
                f"  read back {found} by $in {read:6.1f} s ({base['read'] / read:5.1f}x)"
            )


# ---------------------------------------------------------------- scale


def bson_sizes(documents) -> int:
    """Return the BSON size of the largest of some documents, in bytes."""
    import bson

    return max((len(bson.encode(doc)) for doc in documents), default=0)


def blob_references(value, found: set[str]) -> None:
    """Add every ``blob_uuid`` a stored output refers to, to ``found``."""
    if isinstance(value, dict):
        if "blob_uuid" in value:
            found.add(value["blob_uuid"])
        for item in value.values():
            blob_references(item, found)
    elif isinstance(value, list):
        for item in value:
            blob_references(item, found)


def audit(location: str, launchpad_file: Path, n_configs: int) -> dict:
    """Count what the store and the launchpad hold after the run."""
    import bson
    from bson import json_util

    from sianode_flows.results import fit_documents, selections
    from sianode_flows.stores import build_job_store

    store = build_job_store(location)
    store.connect()
    docs = list(store.docs_store.query({}))
    blobs = list(store.additional_stores["data"].query({}, properties=["blob_uuid"]))
    referenced: set[str] = set()
    for doc in docs:
        blob_references(doc.get("output"), referenced)
    [selection] = selections(store)
    selected = {c.candidate_id for c in selection.selected}
    all_fits = fit_documents(store, latest_only=False)
    per_key = Counter((f.candidate_id, f.run_key) for f in all_fits)
    channels = Counter(
        json.dumps(doc["output"].get("config_key") or doc["uuid"], sort_keys=True)
        for doc in docs
        if doc["name"].startswith("channel") and isinstance(doc.get("output"), dict)
    )
    relaxations = [task for doc in docs if "relax" in doc["name"] for task in doc["output"] or []]
    database = json_util.loads(launchpad_file.read_text())["fireworks"]
    fireworks = [doc for _, doc in database["fireworks"]["documents"]]
    launches = [doc for _, doc in database["launches"]["documents"]]
    workflows = [doc for _, doc in database["workflows"]["documents"]]
    return {
        "selected": len(selected),
        "fitted": len({f.candidate_id for f in all_fits} & selected),
        "lost": len(selected - {f.candidate_id for f in all_fits}),
        "duplicated fits": sum(n - 1 for n in per_key.values()),
        "channel documents": sum(channels.values()),
        "duplicated channels": sum(n - 1 for n in channels.values()),
        "configurations": len(selected) * n_configs,
        "relaxations run": len(relaxations),
        "relaxed twice": len(relaxations) - len(selected) * n_configs,
        "job documents": len(docs),
        "largest job document": bson_sizes(docs),
        "largest job document's job": max(docs, key=lambda d: len(bson.encode(d)))["name"],
        "largest data document": bson_sizes(store.additional_stores["data"].query({})),
        "largest firework": bson_sizes(fireworks),
        "largest firework's job": max(fireworks, key=lambda d: len(bson.encode(d)))["name"],
        "largest launch": bson_sizes(launches),
        "workflow document": bson_sizes(workflows),
        "fireworks": len(fireworks),
        "states": dict(Counter(doc["state"] for doc in fireworks)),
        "blobs": len(blobs),
        "unreferenced blobs": len({b["blob_uuid"] for b in blobs} - referenced),
    }


def count_channels(location: str) -> int:
    """Return how many channel jobs the store holds."""
    from sianode_flows.stores import build_job_store

    store = build_job_store(location)
    store.connect()
    return store.docs_store.count(CHANNEL)


def scale(args: argparse.Namespace) -> None:
    """Submit, run, kill, restart; audit the store and the launchpad."""
    from pymatgen.io.cif import CifWriter

    work = Path(args.workdir or tempfile.mkdtemp(prefix="sianode-scale-"))
    if work.exists() and args.workdir:
        shutil.rmtree(work)
    inputs = work / "inputs"
    inputs.mkdir(parents=True)
    candidates = variants(args.candidates, args.max_sites)
    for name, structure in candidates:
        CifWriter(structure).write_file(inputs / f"{name.replace(':', '_')}.cif")
    n_atoms = sum(len(s) for _, s in candidates)
    print(f"{len(candidates)} inputs ({n_atoms} sites) in {inputs}")

    launchpad_file, location = work / "launchpad.json", str(work / "store")
    env = {k: v for k, v in os.environ.items() if k != "MONGOMOCK_SERVERSTORE_FILE"}
    env |= {"OMP_NUM_THREADS": str(args.threads), "PYTHONWARNINGS": "ignore"}
    submit = [sys.executable, "-m", "sianode_flows.cli.main", "submit", "--local"]
    submit += [str(launchpad_file), "--store", location, "--input", str(inputs), "--json"]
    submit += ["--configs", str(args.configs), "--steps", str(args.steps), "--keep-unconverged"]
    submit += ["--pool-atoms", str(args.pool_atoms), "--max-sites", str(args.max_sites)]
    start = time.perf_counter()
    done = subprocess.run(submit, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    submitted = time.perf_counter() - start
    print(f"submitted in {submitted:.1f} s: {done.stdout.strip()}")

    rlaunch = shutil.which("rlaunch", path=str(Path(sys.executable).parent)) or "rlaunch"
    worker_env = env | {"MONGOMOCK_SERVERSTORE_FILE": str(launchpad_file)}
    kill_at = int(args.kill_at * args.configs * len(candidates))
    attempts = []
    for attempt in range(1, args.max_restarts + 2):
        log = (work / f"worker{attempt}.log").open("w")
        began = time.perf_counter()
        worker = subprocess.Popen(
            [rlaunch, "rapidfire"],
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=work,  # its launcher_* folders
        )
        killed = False
        while worker.poll() is None:
            time.sleep(5)
            if attempt == 1 and kill_at and count_channels(location) >= kill_at:
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                killed = True
        attempts.append((attempt, time.perf_counter() - began, killed, worker.returncode))
        print(
            f"worker {attempt}: {attempts[-1][1]:.0f} s, "
            f"{'killed after ' + str(count_channels(location)) + ' channels' if killed else 'exit'}"
            f" (rc {worker.returncode})"
        )
        if not killed:
            break
    wall = time.perf_counter() - start
    figures = audit(location, launchpad_file, args.configs)
    for name, value in figures.items():
        print(f"  {name:22s} {value}")
    print(
        f"wall time {wall:.0f} s (submission {submitted:.0f} s, workers "
        f"{' + '.join(f'{a[1]:.0f}' for a in attempts)} s); "
        f"{figures['relaxations run'] / wall * 3600:.0f} relaxations/h, "
        f"{figures['configurations'] / wall * 3600:.0f} configurations fitted/h"
    )


def main() -> None:
    """Parse the arguments and run one benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    pool = sub.add_parser("pooling")
    pool.add_argument("--candidates", type=int, default=8)
    pool.add_argument("--configs", type=int, default=3)
    pool.add_argument("--steps", type=int, default=20)
    pool.add_argument("--pool-atoms", type=int, default=2000)
    pool.add_argument("--max-sites", type=int, default=40)
    pool.add_argument("--threads", type=int, default=2)
    pool.add_argument("--device", default="cpu")
    run = sub.add_parser("scale")
    run.add_argument("--candidates", type=int, default=300)
    run.add_argument("--configs", type=int, default=3)
    run.add_argument("--steps", type=int, default=5)
    run.add_argument("--pool-atoms", type=int, default=1500)
    run.add_argument("--max-sites", type=int, default=40)
    run.add_argument("--kill-at", type=float, default=0.5)
    run.add_argument("--max-restarts", type=int, default=3)
    run.add_argument("--threads", type=int, default=2)
    run.add_argument("--workdir", default=None)
    speed = sub.add_parser("store")
    speed.add_argument("--blobs", type=int, default=1000)
    speed.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    {"pooling": pooling, "scale": scale, "store": store_speed}[args.bench](args)


if __name__ == "__main__":
    main()

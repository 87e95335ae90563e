"""Real servers on loopback for the source tests: OPTIMADE's own and an MP-API one.

The OPTIMADE server is the ``optimade`` package's reference implementation (FastAPI
under uvicorn, mongomock backend) loaded from a JSONL file. The Materials Project
server is a small HTTP server that answers the routes ``mp-api`` calls
(``/heartbeat`` and ``/materials/summary/``) with the JSON layout of the real API,
filtering its rows by the query's elements and paging with ``_skip``/``_limit``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

from pymatgen.core import Structure


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_optimade_jsonl(entries: list[tuple[str, Structure]], path: Path) -> Path:
    """Write structures as an OPTIMADE JSONL file the reference server can load."""
    from optimade.adapters.structures.pymatgen import from_pymatgen

    with path.open("w") as handle:
        handle.write(json.dumps({"x-optimade": {"meta": {"api_version": "1.1.0"}}}) + "\n")
        for entry_id, structure in entries:
            attributes = from_pymatgen(structure).model_dump(mode="json", exclude_none=True)
            attributes["last_modified"] = "2024-01-01T00:00:00Z"
            line = {"type": "structures", "id": entry_id, "attributes": attributes}
            handle.write(json.dumps(line) + "\n")
    return path


@contextlib.contextmanager
def optimade_server(jsonl: Path, workdir: Path):
    """Run the optimade reference server on loopback; yield its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = workdir / "optimade_config.json"
    config.write_text(
        json.dumps(
            {
                "insert_test_data": False,
                "insert_from_jsonl": str(jsonl),
                "database_backend": "mongomock",
                "base_url": base_url,
            }
        )
    )
    env = {**os.environ, "OPTIMADE_CONFIG_FILE": str(config)}
    command = [sys.executable, "-m", "uvicorn", "optimade.server.main:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = (workdir / "optimade_server.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base_url}/v1/info", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((workdir / "optimade_server.log").read_text()) from None
                time.sleep(0.3)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


class _MPHandler(BaseHTTPRequestHandler):
    rows: ClassVar[list[dict]] = []
    requests_seen: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, payload: dict, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        self.requests_seen.append(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.rstrip("/") == "/heartbeat":
            self._send(
                {
                    "status": "OK",
                    "version": "0.86.3",
                    "db_version": "2025_09_25",
                    "access_controlled_batch_ids": [],
                }
            )
        elif self.headers.get("x-api-key") in (None, ""):
            self._send({"detail": "missing API key"}, status=403)
        elif url.path.rstrip("/") == "/materials/summary":
            self._send(self._summary(query))
        else:
            self._send({"detail": f"no route {url.path}"}, status=404)

    def _summary(self, query: dict[str, str]) -> dict:
        elements = [e for e in query.get("elements", "").split(",") if e]
        rows = [r for r in self.rows if set(elements) <= set(r["elements"])]
        if "nelements_max" in query:
            rows = [r for r in rows if len(r["elements"]) <= int(query["nelements_max"])]
        skip, limit = int(query.get("_skip", 0)), int(query.get("_limit", 1000))
        fields = [f for f in query.get("_fields", "").split(",") if f]
        page = rows[skip : skip + limit]
        data = [{k: v for k, v in r.items() if not fields or k in fields} for r in page]
        return {"data": data, "meta": {"total_doc": len(rows), "max_limit": 1000}}


@contextlib.contextmanager
def mp_api_server(entries: list[tuple[str, Structure, dict]]):
    """Serve (material_id, structure, extra fields) rows as the MP API; yield the URL."""
    rows = [
        {
            "material_id": material_id,
            "formula_pretty": structure.composition.reduced_formula,
            "elements": sorted(el.symbol for el in structure.composition.elements),
            "structure": structure.as_dict(),
            **extra,
        }
        for material_id, structure, extra in entries
    ]
    handler = type("MPHandler", (_MPHandler,), {"rows": rows, "requests_seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", handler
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def garbage_server(delay: float = 0.0):
    """Answer every request with HTML garbage, after ``delay`` seconds; yield the URL."""

    class Garbage(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(delay)
            body = b"<html><body>502 Bad Gateway</body></html>"
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up first
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def shared_rows(path: Path, keep, limit: int | None = None) -> list[dict[str, str]]:
    """Return rows of a shared CSV.gz that ``keep(row)`` accepts, up to ``limit``."""
    import csv
    import gzip

    csv.field_size_limit(sys.maxsize)
    rows = []
    with gzip.open(path, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            if keep(row):
                rows.append(row)
                if limit is not None and len(rows) >= limit:
                    break
    return rows


def write_rows(rows: list[dict[str, str]], path: Path) -> Path:
    """Write rows (all with the same columns) as a gzip'd CSV."""
    import csv
    import gzip

    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path

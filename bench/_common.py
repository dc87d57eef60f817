"""Shared helpers for benchmarks: timing, tables and the results file."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_database(engine: str = "postgresql") -> Iterator[str]:
    """A fresh, empty database URL, removed afterwards: a SQLite file in a temporary folder,
    or a PostgreSQL database made on ``TEST_DATABASE_URL`` (default: the local server)."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    admin_url = make_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL))
    name = f"udi_bench_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def flask(url: str, *args: str) -> str:
    """Run ``flask --app wsgi ARGS`` on the database at ``url``; return what it printed."""
    env = os.environ | {"DATABASE_URL": url}
    command = [str(BIN / "flask"), "--app", "wsgi", *args]
    done = subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True, text=True)
    return done.stdout


@contextmanager
def gunicorn(
    url: str, port: int, workers: int, threads: int, settings: dict[str, str] | None = None
) -> Iterator[None]:
    """gunicorn serving ``wsgi:app`` on ``url`` with keep-alive (gthread) workers, rate limits
    off (a benchmark measures the service, not the limiter), until the block ends.
    ``settings``: more environment variables (``UDI_COMBINE_SCANS``…).

    ``--reuse-port`` gives each worker a listening socket of its own, so the kernel spreads
    connections over the workers; with one shared socket, whichever gthread worker accepts
    first keeps every keep-alive connection, and 50 clients connecting at once all land on
    one worker, one core (docs/scaling.md)."""
    env = os.environ | {
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "UDI_RATELIMIT_ENABLED": "false",
        **(settings or {}),
    }
    command = [
        str(BIN / "gunicorn"),
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        f"--bind=127.0.0.1:{port}",
        "--keep-alive=30",
        "--reuse-port",
        "--log-level=warning",
        "wsgi:app",
    ]
    process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        _wait_for_workers(port, workers)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Expected gunicorn on port {port} within {seconds:.0f} s, got nothing.")


def _wait_for_workers(port: int, workers: int) -> None:
    """Return once every worker answers: the port accepts as soon as the master binds it, while
    each worker still imports the application (about 2 s), so a benchmark started then would
    time the boot. Each probe is a new connection, which ``--reuse-port`` hands to a worker
    by hash; ``8 × workers`` probes leave a worker unprobed with odds of 2^-15 for two."""
    for _ in range(8 * workers):
        with socket.create_connection(("127.0.0.1", port), timeout=60) as probe:
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = probe.recv(64)
        if not answer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"Expected 200 from /healthz, got {answer!r}.")


def percentile(values: Sequence[float], share: float) -> float:
    """The value at ``share`` (0..1) of the sorted values; NaN for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def best_rate(run: Callable[[], int], repeats: int = 5) -> tuple[float, list[float]]:
    """Call ``run`` (which returns how many items it processed) ``repeats`` times.

    Returns the best items/s and every run's items/s: the best run is the least disturbed by
    whatever else the machine was doing.
    """
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        count = run()
        rates.append(count / (time.perf_counter() - started))
    return max(rates), rates


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a Markdown table (pastes straight into an issue note)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` with the machine it ran on."""
    RESULTS.mkdir(exist_ok=True)
    body = {
        "benchmark": name,
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "processor": platform.processor() or platform.platform(),
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    return path


def median(values: Sequence[float]) -> float:
    return statistics.median(values)

"""A private PostgreSQL cluster and a real gunicorn serving the app on it, for fault tests.

The fault tests stop the database and kill workers, so they must not touch the shared
PostgreSQL the rest of the suite (and other projects on the machine) use: each run makes its
own cluster with ``initdb`` in a temporary folder, on a free port, and removes it afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def postgres_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None if PostgreSQL is not installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent  # /usr/local/bin may link only some tools
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return versions[0].parent if versions else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """A throw-away PostgreSQL cluster owned by the ``postgres`` user when we run as root."""

    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/faults"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb refuses root; run it as the cluster's owner
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(
                done.returncode, command, done.stdout, f"{done.stderr}\n{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        log = self.data / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def init(self) -> None:
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(self.data.parent, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.data / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "faults")


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """Make, start and finally remove a cluster in a fresh folder under the system temp dir
    (not pytest's: that is private to our user, and the cluster runs as ``postgres``)."""
    found = postgres_bin()
    if found is None:
        raise RuntimeError("Expected PostgreSQL's initdb and pg_ctl, found none on this machine.")
    root = Path(tempfile.mkdtemp(prefix="udi-faults-"))
    cluster = Cluster(found, root / "pgdata", free_port())
    try:
        cluster.init()
        cluster.start()
        cluster.create_database()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()  # a test may have stopped it already
        shutil.rmtree(root, ignore_errors=True)


def flask(url: str, *args: str) -> str:
    """Run ``flask --app wsgi ARGS`` against ``url``; return its output."""
    env = os.environ | {"DATABASE_URL": url}
    done = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout


def admin_token(demo_output: str) -> str:
    match = re.search(r"^admin token: (\S+)", demo_output, re.MULTILINE)
    if match is None:
        raise AssertionError(f"Expected an admin token in the demo output, got {demo_output!r}")
    return match.group(1)


@dataclass
class Server:
    """gunicorn serving ``wsgi:app``."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill_workers(self) -> None:
        for pid in self.worker_pids():
            os.kill(pid, signal.SIGKILL)


@contextmanager
def gunicorn(
    url: str, workers: int = 2, timeout: int = 60, threads: int | None = None
) -> Iterator[Server]:
    """gunicorn with ``workers`` sync workers, or gthread workers of ``threads`` threads."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    threaded = ["--worker-class", "gthread", "--threads", str(threads)] if threads else []
    command = [
        str(VENV_BIN / "gunicorn"),
        *threaded,
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        str(timeout),
        "wsgi:app",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = Server(process, port)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(server.base + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("Expected gunicorn to answer /healthz within 60 s, got nothing.")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def call(
    base: str, method: str, path: str, token: str, body: Any = None, timeout: float = 120
) -> Reply:
    """One HTTP request; any HTTP status is a reply, a broken connection raises OSError."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, dict(response.headers), json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), json.loads(error.read() or b"null"))

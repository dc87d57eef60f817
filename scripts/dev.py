#!/usr/bin/env python3
"""Developer entry point that needs nothing but Python 3.11.

    python3 scripts/dev.py serve   # venv + install + migrate SQLite + demo data + serve
    python3 scripts/dev.py test    # venv + install + lint + migrations check + tests on both DBs

Only the standard library is used here, because this runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("UDI_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API on SQLite with demo data")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", default="8000")
    test = commands.add_parser("test", help="lint, check migrations, run tests on both DBs")
    test.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL (not for CI)")
    test.add_argument("pytest_args", nargs="*", help="extra arguments for pytest")
    args = parser.parse_args()
    if args.command == "serve":
        return serve_demo(args.host, args.port)
    return run_tests(args.sqlite_only, args.pytest_args)


def ensure_venv(extras: str) -> None:
    """Create the virtualenv and install the project (skipped when nothing changed)."""
    if sys.version_info < (3, 11):  # noqa: UP036 - runs before any interpreter check
        sys.exit(f"Expected Python 3.11 or newer, got {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "setup.cfg").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / ".udi-install-stamp"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing the project{extras} (first run takes a minute)", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, "--upgrade", "pip"])
    run([*pip, "-e", f"{ROOT}{extras}"])
    stamp.write_text(digest)


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    """Run ``command`` in the repo; stop with its exit code if it fails."""
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        sys.exit(result.returncode)


def flask(*args: str, env: dict[str, str] | None = None) -> None:
    run([str(BIN / "flask"), "--app", "wsgi", *args], env=env)


def serve_demo(host: str, port: str) -> int:
    ensure_venv("")
    env = {**os.environ, "UDI_LOG_LEVEL": os.environ.get("UDI_LOG_LEVEL", "INFO")}
    flask("db", "upgrade", env=env)
    flask("demo", "load", env=env)
    print(f"\nserving on http://{host}:{port}  (Swagger UI: http://{host}:{port}/api/docs)")
    print("use a token above: curl -H 'Authorization: Bearer <token>' ...\n", flush=True)
    os.execv(BIN / "flask", [str(BIN / "flask"), "--app", "wsgi", "run", "-h", host, "-p", port])
    return 0  # unreachable: execv replaces this process


def run_tests(sqlite_only: bool, pytest_args: list[str]) -> int:
    ensure_venv("[test]")
    print("== ruff check / ruff format --check / import-linter", flush=True)
    run([str(BIN / "ruff"), "check", "."])
    run([str(BIN / "ruff"), "format", "--check", "."])
    run([str(BIN / "lint-imports")])
    print("== flask db upgrade + db check on each engine", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        check_migrations(f"sqlite:///{scratch}/check.sqlite3")
    if not sqlite_only:
        check_migrations(_scratch_postgres_url())
    print("== pytest (SQLite and PostgreSQL)", flush=True)
    env = {**os.environ, "UDI_REQUIRE_POSTGRES": "0" if sqlite_only else "1"}
    command = [str(PYTHON), "-m", "pytest", *pytest_args]
    if sqlite_only:
        command += ["-k", "not postgresql"]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def check_migrations(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "UDI_LOG_LEVEL": "WARNING"}
    flask("db", "upgrade", env=env)
    flask("db", "check", env=env)


def _scratch_postgres_url() -> str:
    """A freshly created, empty PostgreSQL database for the migration check."""
    base = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
    name = "udi_migration_check"
    code = (
        "import sys; from sqlalchemy import create_engine, text\n"
        "e = create_engine(sys.argv[1], isolation_level='AUTOCOMMIT')\n"
        "with e.connect() as c:\n"
        f"    c.execute(text('DROP DATABASE IF EXISTS {name} WITH (FORCE)'))\n"
        f"    c.execute(text('CREATE DATABASE {name}'))\n"
    )
    run([str(PYTHON), "-c", code, base])
    return base.rsplit("/", 1)[0] + f"/{name}"


if __name__ == "__main__":
    sys.exit(main())

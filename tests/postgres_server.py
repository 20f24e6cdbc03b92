"""A throw-away PostgreSQL cluster for the tests: Debian's PostgreSQL (initdb, pg_ctl) on a free loopback
port with its own socket folder under a temporary directory, removed after.

Run as root (CI), the server runs as the `postgres` user (PostgreSQL refuses root); run as anyone else, as
that user. Connections use a password over TCP, so the tests see a URL with a secret in it, as a real
deployment would have. `postgres_cluster` is the session fixture; `PostgresServer` also stops and
restarts the server for the fault tests.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("HANDWRITING_PG_BIN", "/usr/lib/postgresql/15/bin"))
PASSWORD = "s3cret-" + uuid.uuid4().hex[:12]  # a secret the tests look for in logs and messages


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One cluster in `base` (a fresh folder), started on a free port; `url(name)` for a database in it."""

    def __init__(self, base: Path | None = None, durable: bool = False):
        """`base`: a new folder the server's user can reach (default: a fresh temporary one). Not `durable`
        (the tests): no fsync, as a throw-away server needs none; durable (benchmarks): commits reach the
        disk as a real server's do."""
        self.durable = durable
        if not (PG_BIN / "initdb").is_file():
            raise RuntimeError(f"PostgreSQL is not installed in {PG_BIN} (scripts/test.sh installs Debian's postgresql)")
        self.base = Path(base or tempfile.mkdtemp(prefix="handwriting-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.log = self.base / "server.log"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._created = False

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            command = ("runuser", "-u", "postgres", "--", *command)
        result = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()[-2000:]}")
        return result

    def _create(self) -> None:
        for folder in (self.base, self.sockets):
            folder.mkdir(parents=True, exist_ok=True)
        pwfile = self.base / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.sockets, "postgres")
            shutil.chown(pwfile, "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", self.user, "--pwfile", str(pwfile),
                  "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", *([] if self.durable else ["--no-sync"]))
        pwfile.unlink()
        self._created = True

    def start(self) -> "PostgresServer":
        if not self._created:
            self._create()
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        result = self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                           "-t", "60", "start", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}\n{self.log_text()[-2000:]}")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server ("immediate": as if it crashed, connections cut)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status", check=False).returncode == 0

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` through the socket as the superuser; its output (unaligned, tuples only)."""
        result = self._run(str(PG_BIN / "psql"), "-h", str(self.sockets), "-p", str(self.port), "-U", self.user, "-d", database,
                           "-v", "ON_ERROR_STOP=1", "-Atqc", sql)
        return result.stdout.strip()

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; returns its URL (with the password)."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, name: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{self.user}:{password}@127.0.0.1:{self.port}/{name}"

    def terminate_connections(self, database: str) -> int:
        """Cut every client connection to `database` (a dropped connection, as a network or failover would)."""
        out = self.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")
        return int(out or 0)

    def destroy(self) -> None:
        if self._created:
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster():
    """One PostgreSQL server for the test session (each test takes its own database with create_database)."""
    server = PostgresServer().start()
    yield server
    server.destroy()


@pytest.fixture
def database_url(postgres_cluster) -> str:
    """A fresh, empty database's URL."""
    return postgres_cluster.create_database()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, monkeypatch) -> str:
    """Run a storage test on each backend: the SQLite default, then a fresh PostgreSQL database named by
    HANDWRITING_DATABASE_URL (subprocesses the test starts inherit it)."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_cluster").create_database()
        monkeypatch.setenv("HANDWRITING_DATABASE_URL", url)
    else:
        monkeypatch.delenv("HANDWRITING_DATABASE_URL", raising=False)
    yield request.param
    from handwriting.postgres import forget_databases

    if request.param == "postgres":
        from handwriting.feedback import postgres_store

        postgres_store._stores.clear()
        forget_databases()

"""The PostgreSQL database named by HANDWRITING_DATABASE_URL: one connection pool per process, schema
migrations applied when it is first reached, and messages that never show the URL's password.

Replicas share the database, so everything that must hold across them (a record stored once, a key used
once, a record sent once, one high-score table) is decided inside its transactions. The pool opens without
waiting: a database that is down at start only makes the calls that need it fail (with
`DatabaseUnavailable`, whose message is safe to show) until it is back; nothing here needs a restart.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence
from urllib.parse import unquote, urlsplit

SCHEMES = ("postgresql", "postgres")
CONNECT_TIMEOUT_S = 5  # a caller waits at most this long for a connection before hearing it is unavailable
# how long the pool keeps retrying one connection (backing off) before it gives up; the next caller starts
# a fresh attempt at once, so a database back after a long outage is used again within a request
RECONNECT_S = 10
POOL_SIZE = 8  # connections one process holds at most (a replica's requests share them)

log = logging.getLogger("handwriting.postgres")


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached (or refused us) right now; the message names no secret."""


class BadDatabaseUrl(ValueError):
    """HANDWRITING_DATABASE_URL is not a postgresql:// URL; the message names no secret."""


def is_database_url(url: str) -> bool:
    """Whether `url` names a PostgreSQL database (the variable is set and meant for us)."""
    return urlsplit(url.strip()).scheme in SCHEMES if url and url.strip() else False


def check_url(url: str) -> str:
    """`url` when it is a postgresql:// URL with a host or socket folder, else BadDatabaseUrl."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise BadDatabaseUrl("HANDWRITING_DATABASE_URL is not a valid URL") from None
    if parts.scheme not in SCHEMES:
        raise BadDatabaseUrl("HANDWRITING_DATABASE_URL must start with postgresql://")
    if not (parts.hostname or "host=" in parts.query) or not parts.path.strip("/"):
        raise BadDatabaseUrl("HANDWRITING_DATABASE_URL must name a host and a database: postgresql://user:password@host:5432/name")
    return url.strip()


def safe_url(url: str) -> str:
    """The URL as it may be shown: scheme, user, host, port and database, never the password or options."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or "local socket"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "postgresql://(unreadable URL)"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def scrub(text: str, url: str) -> str:
    """`text` with the URL's password (and the whole URL) taken out, for logs and messages."""
    secrets = [url.strip()]
    try:
        password = urlsplit(url.strip()).password
    except ValueError:
        password = None
    if password:
        secrets += [password, unquote(password)]
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"password=\S+", "password=***", text)


class Database:
    """One PostgreSQL database: a pool opened on first use and the migrations each part of the app needs.

    `transaction()` yields a connection inside one transaction (committed when the block ends); errors
    from reaching the server become DatabaseUnavailable with a message fit for a user and a log.
    """

    def __init__(self, url: str, pool_size: int = POOL_SIZE, connect_timeout: float = CONNECT_TIMEOUT_S):
        self.url = check_url(url)
        self.where = safe_url(self.url)
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self._pool = None
        self._lock = threading.Lock()
        self._migrated: dict[str, int] = {}  # component -> version applied in this process
        self._sweeping = threading.Event()
        self.last_error = ""  # why the pool last failed to connect (no secret in it), for messages
        self.pool_name = f"handwriting-{id(self):x}"  # in the pool's log lines: whose they are

    def __repr__(self) -> str:
        return f"Database({self.where})"

    def _get_pool(self):
        with self._lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    self.url, min_size=1, max_size=self.pool_size, open=False, name=self.pool_name,
                    timeout=self.connect_timeout, reconnect_timeout=RECONNECT_S,
                    check=ConnectionPool.check_connection,  # a connection the server dropped is replaced
                    kwargs={"connect_timeout": max(1, int(self.connect_timeout)), "application_name": "handwriting"},
                )
                self._pool.open(wait=False)
                _guard_driver_logs(self)
            return self._pool

    @contextmanager
    def connection(self) -> Iterator:
        """A pooled connection in one transaction (committed at the end of the block, rolled back on error)."""
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self._get_pool().connection() as conn:
                yield conn
        except PoolTimeout:
            self._sweep()
            why = f" ({self.last_error})" if self.last_error else ""
            raise DatabaseUnavailable(f"the database {self.where} cannot be reached{why}") from None
        except psycopg.OperationalError as exc:
            self._sweep()
            raise DatabaseUnavailable(f"the database {self.where} cannot be reached ({self.describe(exc)})") from None

    def _sweep(self) -> None:
        """A connection broke (a restart, a failover, a network cut): the idle ones likely broke with it.
        Check them all now, in the background, instead of one request at a time finding them dead."""
        pool = self._pool
        if pool is not None and not self._sweeping.is_set():
            self._sweeping.set()

            def sweep():
                try:
                    pool.check()
                except Exception:  # noqa: BLE001 (a closed pool, a server still down: the next request says)
                    pass
                finally:
                    self._sweeping.clear()

            threading.Thread(target=sweep, name="database-check", daemon=True).start()

    def transaction(self, *migrations: tuple[str, Sequence[str]]):
        """A transaction, with each (component, statements) migration applied first if this process has not
        seen it applied yet."""
        for component, statements in migrations:
            if self._migrated.get(component) != len(statements):
                self.migrate(component, statements)
        return self.connection()

    def migrate(self, component: str, statements: Sequence[str]) -> int:
        """Bring `component`'s tables to version len(statements): statement i is version i + 1, applied in
        order, each once, under a lock so replicas starting together do not apply one twice. Returns the
        version the database had before."""
        with self.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('handwriting schema migrations'))")
            conn.execute("CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, "
                         "version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            row = conn.execute("SELECT version FROM schema_versions WHERE component = %s", (component,)).fetchone()
            before = row[0] if row else 0
            if before > len(statements):
                raise RuntimeError(f"the database holds {component} schema version {before}, newer than this "
                                   f"app's {len(statements)}: upgrade the app")
            for version in range(before + 1, len(statements) + 1):
                conn.execute(statements[version - 1])
                log.info("%s schema: version %d applied to %s", component, version, self.where)
            conn.execute("INSERT INTO schema_versions (component, version) VALUES (%s, %s) ON CONFLICT (component) "
                         "DO UPDATE SET version = excluded.version, applied_at = now()", (component, len(statements)))
        self._migrated[component] = len(statements)
        return before

    def schema_version(self, component: str) -> int:
        with self.connection() as conn:
            if conn.execute("SELECT to_regclass('schema_versions')").fetchone()[0] is None:
                return 0
            row = conn.execute("SELECT version FROM schema_versions WHERE component = %s", (component,)).fetchone()
        return row[0] if row else 0

    def reachable(self) -> bool:
        try:
            with self.connection() as conn:
                conn.execute("SELECT 1")
            return True
        except DatabaseUnavailable:
            return False

    def describe(self, exc: BaseException) -> str:
        """One line about a driver error, without the URL's secrets."""
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return scrub(first, self.url)[:300]

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            self._migrated.clear()
        logger = logging.getLogger("psycopg.pool")
        for f in [f for f in logger.filters if isinstance(f, _DriverLog) and f.database is self]:
            logger.removeFilter(f)


class _DriverLog(logging.Filter):
    """The pool's own log lines for one database: its secrets taken out, a connection error in one line and
    only when it changes (the pool retries every few seconds while the server is down), and the last one
    kept for the messages that say why the database cannot be reached."""

    def __init__(self, database: "Database"):
        super().__init__()
        self.database = database
        self.last = ""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, self.database.url)
        if clean.startswith("error connecting") and self.database.pool_name in clean:
            reason = clean.strip().splitlines()[0].split("failed:")[-1].strip()[:200]  # "Connection refused"
            clean = " ".join(clean.split())
            self.database.last_error = reason
            if clean == self.last:
                return False
            self.last = clean
        if clean != message:
            record.msg, record.args = clean, None
        return True


def _guard_driver_logs(database: "Database") -> None:
    logger = logging.getLogger("psycopg.pool")
    if not any(isinstance(f, _DriverLog) and f.database is database for f in logger.filters):
        logger.addFilter(_DriverLog(database))


_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


def open_database(url: str) -> Database:
    """The one Database of a URL in this process (the feedback store and the high scores share its pool)."""
    with _databases_lock:
        if url not in _databases:
            _databases[url] = Database(url)
        return _databases[url]


def forget_databases() -> None:
    """Close every pool (tests that stop and start servers)."""
    with _databases_lock:
        for db in _databases.values():
            db.close()
        _databases.clear()

"""A SQLite file that several processes share (the feedback store, the high scores): WAL, a busy timeout,
and retries while another process is creating the same file."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

BUSY_TIMEOUT_S = 30  # how long a writer waits for another process holding the file


def is_busy(exc: Exception) -> bool:
    """Another connection holds the lock: worth trying again."""
    message = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message)


def open_shared(path: Path, schema: str, *pragmas: str) -> sqlite3.Connection:
    """A connection to `path` (autocommit, usable from any thread) in WAL mode with `pragmas` and `schema`
    (idempotent statements) applied. Switching to WAL and creating the schema take locks that SQLite does
    not always wait for (the busy handler is skipped while another process is creating the same file), so
    a second process starting at the same moment sees "database is locked": it tries again, up to
    BUSY_TIMEOUT_S. Other errors (and a lock held that long) are raised."""
    path = Path(path)
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            if is_busy(exc) and time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            raise
        try:
            for pragma in ("journal_mode=WAL", *pragmas):
                conn.execute(f"PRAGMA {pragma}")
            conn.executescript(schema)
            return conn
        except BaseException as exc:
            conn.close()
            if not (is_busy(exc) and time.monotonic() < deadline):
                raise
        time.sleep(0.01)

"""Where the high-score table is kept: its own SQLite file in the data folder (one process, or several on
one machine), or the PostgreSQL database every replica shares (HANDWRITING_DATABASE_URL).

`HighScores` holds the table's rules and writes its statements once, for both: `?` placeholders, the
round's insertion order in the column `seq` names, and `"right"` quoted (a keyword in PostgreSQL). A
backend gives it one write transaction at a time per table: SQLite's BEGIN IMMEDIATE within a machine,
an advisory lock across replicas.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

from handwriting.postgres import Database
from handwriting.sqlite_file import open_shared

DB_FILE = "game_scores.sqlite3"
OLD_DB_FILE = "feedback.sqlite3"  # where the table lived before

COLUMNS = 'id, created_at, mode, name, score, "right", drawn, best_streak, seconds, source'  # as an old table has them
_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS game_scores (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    mode TEXT NOT NULL,
    name TEXT NOT NULL,
    score INTEGER NOT NULL,
    right INTEGER NOT NULL,
    drawn INTEGER NOT NULL,
    best_streak INTEGER NOT NULL,
    seconds INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT 'page'
);
CREATE INDEX IF NOT EXISTS game_scores_by_mode ON game_scores (mode, score DESC, created_at);
"""
_CLIENT_COLUMN = "ALTER TABLE game_scores ADD COLUMN client TEXT NOT NULL DEFAULT ''"  # '' = no address known
_CLIENT_INDEX = "CREATE INDEX IF NOT EXISTS game_scores_by_client ON game_scores (mode, source, client, created_at)"

# PostgreSQL: version i + 1 is statement i (handwriting.postgres.Database.migrate); append, never edit.
PG_MIGRATIONS = (
    """CREATE TABLE game_scores (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        mode TEXT NOT NULL,
        name TEXT NOT NULL,
        score INTEGER NOT NULL,
        "right" INTEGER NOT NULL,
        drawn INTEGER NOT NULL,
        best_streak INTEGER NOT NULL,
        seconds INTEGER NOT NULL,
        source TEXT NOT NULL DEFAULT 'page',
        client TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX game_scores_by_mode ON game_scores (mode, score DESC, created_at);
    CREATE INDEX game_scores_by_client ON game_scores (mode, source, client, created_at)""",
)


class Cursor(Protocol):
    def fetchone(self) -> tuple | None: ...

    def fetchall(self) -> list[tuple]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: tuple = ()) -> Cursor: ...


class ScoreStore(Protocol):
    """One table's storage: `seq` names the insertion-order column; `transaction()` is exclusive per table."""

    seq: str
    where: str

    def transaction(self, write: bool = True) -> Iterator[Connection]: ...

    def close(self) -> None: ...


class SqliteScores:
    """The table in `folder`/game_scores.sqlite3: one connection, WAL and a busy timeout."""

    seq = "rowid"

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.path = self.folder / DB_FILE
        self.where = str(self.path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self, write: bool = True):
        with self._lock:
            if self._conn is None:
                self._conn = self._open()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _open(self) -> sqlite3.Connection:
        conn = open_shared(self.path, _SQLITE_SCHEMA)
        if "client" not in {row[1] for row in conn.execute("PRAGMA table_info(game_scores)")}:
            try:  # a table from before the daily limit
                conn.execute(_CLIENT_COLUMN)
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another process added it first
                    raise
        conn.execute(_CLIENT_INDEX)
        if conn.execute("SELECT 1 FROM game_scores LIMIT 1").fetchone() is None:  # new (or never scored in)
            _copy_old_table(conn, self.folder / OLD_DB_FILE)
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class _Placeholders:
    """A psycopg connection taking the table's `?` placeholders."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str, params: tuple = ()):
        return self.conn.execute(sql.replace("?", "%s"), params)


class PostgresScores:
    """The table in the shared PostgreSQL database; writers queue on an advisory lock, so the daily limit's
    check and its insert see one another across replicas."""

    seq = "seq"

    def __init__(self, database: Database):
        self.database = database
        self.where = database.where

    @contextmanager
    def transaction(self, write: bool = True):
        with self.database.transaction(("game_scores", PG_MIGRATIONS)) as conn:
            if write:
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('handwriting game_scores'))")
            yield _Placeholders(conn)

    def close(self) -> None:
        pass  # the pool is the process's (handwriting.postgres.open_database)


def _copy_old_table(conn: sqlite3.Connection, old: Path) -> None:
    """Copy the scores an earlier version kept in the feedback database into the empty new table (ids keep
    a second process doing the same from copying twice)."""
    if not old.is_file():
        return
    conn.execute("ATTACH DATABASE ? AS old", (str(old),))
    try:
        if conn.execute("SELECT 1 FROM old.sqlite_master WHERE name = 'game_scores'").fetchone():
            columns = {row[1] for row in conn.execute("PRAGMA old.table_info(game_scores)")}
            source = "source" if "source" in columns else "'legacy'"
            conn.execute(f"INSERT OR IGNORE INTO game_scores ({COLUMNS}) SELECT id, created_at, "
                         "CASE mode WHEN 'both' THEN 'all' ELSE mode END, name, score, right, drawn, best_streak, "
                         f"seconds, {source} FROM old.game_scores")
    finally:
        conn.execute("DETACH DATABASE old")

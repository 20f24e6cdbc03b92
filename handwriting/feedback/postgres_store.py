"""The feedback store in PostgreSQL (HANDWRITING_DATABASE_URL): records, reads, idempotency keys, kept
uploads and the remote sinks' outbox in the one database every replica shares.

It answers as `FeedbackStore` (the SQLite file) does, so the recorder and the sinks use either unchanged.
What differs is what replicas need: each thread has its own transaction on a pooled connection (the
SQLite store has one connection per process); an idempotency key is claimed by a unique row, so the
same key sent to two replicas stores once; kept uploads are bytes in the database (a file on one
replica's disk is not there for the others), within the same size budget. Driver errors become
FeedbackStorageError with a message that names no secret.
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from dataclasses import astuple
from pathlib import Path
from typing import Callable, Iterable

from handwriting.feedback.original import Original
from handwriting.feedback.postgres_outbox import OUTBOX_MIGRATION, PostgresOutbox
from handwriting.feedback.record import READ_COLUMNS, RECORD_COLUMNS, FeedbackRecord, FeedbackStorageError, ReadFeedback
from handwriting.postgres import Database, DatabaseUnavailable

ORIGINALS_DIR = "feedback_originals"  # the names kept uploads have, as in the SQLite store

# version i + 1 is statement i (handwriting.postgres.Database.migrate): append, never edit
MIGRATIONS = (
    """
CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    task TEXT NOT NULL,
    model_version TEXT NOT NULL,
    predicted TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    correct TEXT NOT NULL,
    was_correct BOOLEAN NOT NULL,
    source TEXT NOT NULL,
    image_png_b64 TEXT NOT NULL,
    original_file TEXT NOT NULL DEFAULT ''
);
CREATE INDEX feedback_by_task ON feedback (task, created_at);
CREATE TABLE request_keys (
    key TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT ''
);
CREATE TABLE originals (
    name TEXT PRIMARY KEY,
    data BYTEA NOT NULL,
    bytes INTEGER NOT NULL,
    used_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX originals_by_use ON originals (used_at);
CREATE TABLE reads (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    task TEXT NOT NULL,
    model_version TEXT NOT NULL,
    predicted TEXT NOT NULL,
    correct TEXT NOT NULL,
    matched BOOLEAN NOT NULL,
    boxes TEXT NOT NULL,
    record_ids TEXT NOT NULL,
    source TEXT NOT NULL,
    original_file TEXT NOT NULL DEFAULT ''
);
""" + OUTBOX_MIGRATION,
)



class PostgresFeedbackStore(PostgresOutbox):
    """The feedback tables in `database`; `folder` is the data folder the app would otherwise use (kept for
    callers that name it, e.g. the high scores' SQLite fallback)."""

    def __init__(self, database: Database, folder: Path | str = "."):
        self.database = database
        self.folder = Path(folder)
        self.path = database.where  # what `status` prints: the URL without its password
        self.identity = ("postgresql", database.where)  # one sender per database and sink in a process
        self._local = threading.local()

    @property
    def _state(self):
        state = self._local
        if not hasattr(state, "depth"):
            state.depth, state.conn, state.after = 0, None, []
        return state

    def _fail(self, exc: Exception) -> FeedbackStorageError:
        text = str(exc) if isinstance(exc, DatabaseUnavailable) else self.database.describe(exc)
        return FeedbackStorageError(f"The feedback database cannot be written: {text}")

    @contextmanager
    def transaction(self):
        """One transaction on this thread's pooled connection; nested calls join the outermost one.
        Callbacks registered with `after_commit` run once it has committed."""
        import psycopg

        state = self._state
        if state.depth:
            state.depth += 1
            try:
                yield state.conn
            finally:
                state.depth -= 1
            return
        state.after = []
        try:
            with self.database.transaction(("feedback", MIGRATIONS)) as conn:
                state.conn, state.depth = conn, 1
                try:
                    yield conn
                finally:
                    state.conn, state.depth = None, 0
        except (psycopg.Error, DatabaseUnavailable) as exc:
            state.after = []
            raise self._fail(exc) from None
        except BaseException:
            state.after = []
            raise
        callbacks, state.after = state.after, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the current transaction commits (at once outside a transaction)."""
        if self._state.depth:
            self._state.after.append(callback)
        else:
            callback()

    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self.transaction() as conn:
            return conn.execute(sql, tuple(params)).fetchall()

    def ping(self) -> None:
        """Raise FeedbackStorageError unless the database answers now."""
        self._query("SELECT 1")

    def close(self) -> None:
        """The pool belongs to the process (handwriting.postgres.open_database); nothing to close here."""

    # records ---------------------------------------------------------------------------------------

    def insert(self, record: FeedbackRecord, if_new: bool = False) -> None:
        """Store a record; with `if_new`, a record already stored under its id is left as it is."""
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO feedback ({', '.join(RECORD_COLUMNS)}, was_correct) VALUES "
                f"({', '.join(['%s'] * len(RECORD_COLUMNS))}, %s){' ON CONFLICT (id) DO NOTHING' if if_new else ''}",
                (*astuple(record), record.was_correct))

    def insert_read(self, read: ReadFeedback) -> None:
        with self.transaction() as conn:
            conn.execute(f"INSERT INTO reads ({', '.join(READ_COLUMNS)}) VALUES ({', '.join(['%s'] * len(READ_COLUMNS))})",
                         astuple(read))

    def reads(self, read_id: str | None = None) -> list[ReadFeedback]:
        where, params = ("WHERE id = %s", [read_id]) if read_id else ("", [])
        rows = self._query(f"SELECT {', '.join(READ_COLUMNS)} FROM reads {where} ORDER BY created_at, id", params)
        return [ReadFeedback(*row[:6], bool(row[6]), *row[7:]) for row in rows]

    def get(self, record_id: str) -> FeedbackRecord | None:
        rows = self._query(f"SELECT {', '.join(RECORD_COLUMNS)} FROM feedback WHERE id = %s", [record_id])
        return FeedbackRecord(*rows[0]) if rows else None

    def records(self, task: str | None = None) -> list[FeedbackRecord]:
        where, params = ("WHERE task = %s", [task]) if task else ("", [])
        rows = self._query(f"SELECT {', '.join(RECORD_COLUMNS)} FROM feedback {where} ORDER BY created_at, id", params)
        return [FeedbackRecord(*row) for row in rows]

    def count(self, task: str | None = None) -> int:
        where, params = ("WHERE task = %s", [task]) if task else ("", [])
        return self._query(f"SELECT COUNT(*) FROM feedback {where}", params)[0][0]

    # kept uploads ------------------------------------------------------------------------------------

    def save_original(self, original: Original, budget: int | None = None) -> str:
        """In a transaction: keep the upload's bytes (once per content), then drop the least recently used
        others while all kept uploads exceed `budget` bytes, clearing the names in their records. Rows
        another replica is writing at that moment are skipped (no deadlock; the next save catches up)."""
        if not re.fullmatch(r"[a-z0-9]{1,8}", original.extension):
            raise ValueError("unexpected extension")
        digest = original.digest
        name = f"{ORIGINALS_DIR}/{digest[:2]}/{digest}.{original.extension}"
        with self.transaction() as conn:
            conn.execute("INSERT INTO originals (name, data, bytes, used_at) VALUES (%s, %s, %s, %s) "
                         "ON CONFLICT (name) DO UPDATE SET used_at = excluded.used_at",
                         (name, original.data, len(original.data), time.time()))
            if budget is not None:
                self._prune_originals(conn, budget, keep=name)
        return name

    def _prune_originals(self, conn, budget: int, keep: str) -> None:
        total = conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM originals").fetchone()[0]
        if total <= budget:
            return
        candidates = conn.execute("SELECT name, bytes FROM originals WHERE name != %s ORDER BY used_at, name "
                                  "FOR UPDATE SKIP LOCKED", (keep,)).fetchall()
        for name, size in candidates:
            conn.execute("UPDATE feedback SET original_file = '' WHERE original_file = %s", (name,))
            conn.execute("UPDATE reads SET original_file = '' WHERE original_file = %s", (name,))
            conn.execute("DELETE FROM originals WHERE name = %s", (name,))
            total -= size
            if total <= budget:
                return

    def original_data(self, name: str) -> bytes | None:
        """The kept upload a record names (its `original_file`), if it is still kept."""
        rows = self._query("SELECT data FROM originals WHERE name = %s", [name])
        return bytes(rows[0][0]) if rows else None

    def originals_size(self) -> int:
        """Bytes of all kept uploads."""
        return self._query("SELECT COALESCE(SUM(bytes), 0) FROM originals")[0][0]

    def remove_orphan_originals(self, older_than_s: float = 600) -> int:
        """Nothing to sweep: an upload and its record commit together here (files could be left behind)."""
        self._query("SELECT 1")  # but reach the database now: the app says at launch whether it is there
        return 0

    # idempotency keys --------------------------------------------------------------------------------

    def key_use(self, key: str) -> tuple[str, str] | None:
        """(stored id, fingerprint) filed under an API caller's idempotency key, if any ('' : not known)."""
        rows = self._query("SELECT record_id, fingerprint FROM request_keys WHERE key = %s", [key])
        return tuple(rows[0]) if rows else None

    def claim_key(self, key: str, record_id: str, fingerprint: str = "") -> str:
        """In a transaction: file `record_id` under `key`, or return the id filed there before. A replica
        claiming the same key at the same moment waits on the key's row until the first commits (then sees
        its id) or rolls back (then takes the key)."""
        with self.transaction() as conn:
            row = conn.execute("INSERT INTO request_keys (key, record_id, created_at, fingerprint) VALUES "
                               "(%s, %s, %s, %s) ON CONFLICT (key) DO NOTHING RETURNING record_id",
                               (key, record_id, time.time(), fingerprint)).fetchone()
            if row:
                return row[0]
            return conn.execute("SELECT record_id FROM request_keys WHERE key = %s", (key,)).fetchone()[0]


_stores: dict[str, PostgresFeedbackStore] = {}
_stores_lock = threading.Lock()


def open_postgres_store(url: str, folder: Path | str = ".") -> PostgresFeedbackStore:
    """The one store of a database URL in this process (sinks share it to share transactions)."""
    from handwriting.postgres import open_database

    with _stores_lock:
        if url not in _stores:
            _stores[url] = PostgresFeedbackStore(open_database(url), folder)
        return _stores[url]

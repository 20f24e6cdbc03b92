"""The feedback database: records, reads, idempotency keys and kept uploads, in one SQLite file.

One file in the data folder, in WAL mode with a busy timeout, so concurrent requests and several
processes can write safely; the uploads are kept beside it, once per content and within a size budget
(the oldest go first; their records stay). The remote sinks' outbox lives in the same file
(`handwriting.feedback.outbox`), so storing a record and queuing it is ONE transaction: a crash never
leaves one without the other. Nothing here talks to the network (the training scripts read it too).
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import astuple
from pathlib import Path
from typing import Callable, Iterable

from handwriting.feedback.original import Original
from handwriting.feedback.outbox import OUTBOX_SCHEMA, OutboxTables
from handwriting.feedback.record import READ_COLUMNS, RECORD_COLUMNS, FeedbackRecord, FeedbackStorageError, ReadFeedback
from handwriting.sqlite_file import open_shared

DB_FILE = "feedback.sqlite3"
ORIGINALS_DIR = "feedback_originals"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    task TEXT NOT NULL,
    model_version TEXT NOT NULL,
    predicted TEXT NOT NULL,
    confidence REAL NOT NULL,
    correct TEXT NOT NULL,
    was_correct INTEGER NOT NULL,
    source TEXT NOT NULL,
    image_png_b64 TEXT NOT NULL,
    original_file TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_by_task ON feedback (task, created_at);
-- API callers' idempotency keys: a retried /feedback with the same key answers with the first record
-- (fingerprint: what the key was used for; the same key with another request is refused)
CREATE TABLE IF NOT EXISTS request_keys (
    key TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT ''
);
-- the kept uploads (files under feedback_originals/, named by content), for the size budget
CREATE TABLE IF NOT EXISTS originals (
    name TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL,
    used_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS originals_by_use ON originals (used_at);
-- feedback on a line read: its characters are feedback rows (record_ids) when the correction matched them
CREATE TABLE IF NOT EXISTS reads (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    task TEXT NOT NULL,
    model_version TEXT NOT NULL,
    predicted TEXT NOT NULL,
    correct TEXT NOT NULL,
    matched INTEGER NOT NULL,
    boxes TEXT NOT NULL,
    record_ids TEXT NOT NULL,
    source TEXT NOT NULL,
    original_file TEXT NOT NULL DEFAULT ''
);
"""



class FeedbackStore(OutboxTables):
    """The feedback records and the remote sinks' outbox, in one SQLite file under `folder`.

    One connection per store, guarded by a lock; `transaction()` nests, so several sinks writing one
    record join a single transaction. Use `open_store(folder)` to share one instance per folder.
    """

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.path = self.folder / DB_FILE
        self.identity = self.path.resolve()  # one sender per store and sink in a process
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []
        self._on_rollback: list[Callable[[], None]] = []

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:  # synchronous=FULL: a confirmed correction survives a power cut
                conn = open_shared(self.path, _SCHEMA + OUTBOX_SCHEMA, "synchronous=FULL")
                _add_fingerprints(conn)
            except (OSError, sqlite3.Error) as exc:
                raise FeedbackStorageError(f"The feedback store {self.path} cannot be opened: {exc}") from exc
            self._conn = conn
        return self._conn

    @contextmanager
    def transaction(self):
        """One write transaction (BEGIN IMMEDIATE); nested calls join the outermost one."""
        with self._lock:
            conn = self._connection()
            outer = self._depth == 0
            if outer:
                conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._roll_back(conn)
                raise
            self._depth -= 1
            if outer:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error:
                    self._roll_back(conn)
                    raise
                self._on_rollback.clear()
                callbacks, self._after_commit = self._after_commit, []
                for callback in callbacks:
                    callback()

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        """Undo the files the transaction wrote while it still holds the write lock (no other writer can
        have started using them), then its rows."""
        self._after_commit.clear()
        undo, self._on_rollback = self._on_rollback, []
        for callback in reversed(undo):
            try:
                callback()
            except OSError:
                pass  # an unnamed file left behind: the sweep at start removes it
        conn.execute("ROLLBACK")

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the current transaction commits (at once outside a transaction)."""
        with self._lock:
            if self._depth:
                self._after_commit.append(callback)
                return
        callback()

    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._connection().execute(sql, tuple(params)).fetchall()

    def ping(self) -> None:
        """Raise (FeedbackStorageError or sqlite3.Error) unless the store can be read now."""
        self._query("SELECT 1")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        with _stores_lock:
            if _stores.get(self.path.resolve()) is self:
                del _stores[self.path.resolve()]

    # records ---------------------------------------------------------------------------------------

    def insert(self, record: FeedbackRecord, if_new: bool = False) -> None:
        """Store a record; with `if_new`, a record already stored under its id is left as it is."""
        with self.transaction() as conn:
            conn.execute(
                f"INSERT {'OR IGNORE ' if if_new else ''}INTO feedback ({', '.join(RECORD_COLUMNS)}, was_correct) "
                f"VALUES ({', '.join('?' * len(RECORD_COLUMNS))}, ?)",
                (*astuple(record), int(record.was_correct)),
            )

    def insert_read(self, read: ReadFeedback) -> None:
        with self.transaction() as conn:
            conn.execute(f"INSERT INTO reads ({', '.join(READ_COLUMNS)}) VALUES ({', '.join('?' * len(READ_COLUMNS))})",
                         astuple(read))

    def reads(self, read_id: str | None = None) -> list[ReadFeedback]:
        where, params = ("WHERE id = ?", [read_id]) if read_id else ("", [])
        rows = self._query(f"SELECT {', '.join(READ_COLUMNS)} FROM reads {where} ORDER BY created_at, id", params)
        return [ReadFeedback(*row[:6], bool(row[6]), *row[7:]) for row in rows]

    def save_original(self, original: Original, budget: int | None = None) -> str:
        """In a transaction: keep the upload (once per content: a copy kept already is reused), then drop
        the least recently used others while all kept uploads exceed `budget` bytes, clearing the names in
        their records. Returns the upload's path in the data folder.

        Files are written and deleted inside the write transaction, so no other writer sees a file between
        its check and its use; a rollback deletes the file it wrote."""
        if not re.fullmatch(r"[a-z0-9]{1,8}", original.extension):
            raise ValueError("unexpected extension")
        digest = original.digest
        name = f"{ORIGINALS_DIR}/{digest[:2]}/{digest}.{original.extension}"
        path = self.folder / name
        with self.transaction() as conn:
            known = conn.execute("SELECT 1 FROM originals WHERE name = ?", (name,)).fetchone()
            if not (known and path.is_file()):
                self._write_file(path, original.data)
                if not known:
                    self._on_rollback.append(lambda: path.unlink(missing_ok=True))
            conn.execute("INSERT OR REPLACE INTO originals (name, bytes, used_at) VALUES (?, ?, ?)",
                         (name, len(original.data), time.time()))
            if budget is not None:
                self._prune_originals(conn, budget, keep=name)
        return name

    def _write_file(self, path: Path, data: bytes) -> None:
        """Durably: a temporary file, fsync, rename."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise FeedbackStorageError(f"The upload could not be saved in {self.folder}: {exc.strerror or exc}") from exc

    def _prune_originals(self, conn: sqlite3.Connection, budget: int, keep: str) -> None:
        total = conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM originals").fetchone()[0]
        if total <= budget:
            return
        for name, size in conn.execute("SELECT name, bytes FROM originals WHERE name != ? ORDER BY used_at, name",
                                       (keep,)).fetchall():
            conn.execute("UPDATE feedback SET original_file = '' WHERE original_file = ?", (name,))
            conn.execute("UPDATE reads SET original_file = '' WHERE original_file = ?", (name,))
            conn.execute("DELETE FROM originals WHERE name = ?", (name,))
            (self.folder / name).unlink(missing_ok=True)  # a crash before COMMIT: its rows name a missing file
            total -= size
            if total <= budget:
                return

    def originals_size(self) -> int:
        """Bytes of all kept uploads."""
        return self._query("SELECT COALESCE(SUM(bytes), 0) FROM originals")[0][0]

    def remove_orphan_originals(self, older_than_s: float = 600) -> int:
        """Delete saved uploads that nothing names (a crash between writing an upload and committing its
        record leaves one), once they are old enough that no request can still be committing them; uploads
        kept before the budget existed are entered into it."""
        folder = self.folder / ORIGINALS_DIR
        if not folder.is_dir():
            return 0
        removed = 0
        with self.transaction() as conn:
            kept = {row[0] for row in conn.execute("SELECT name FROM originals")}
            named = {row[0] for row in conn.execute("SELECT original_file FROM feedback WHERE original_file != '' UNION "
                                                    "SELECT original_file FROM reads WHERE original_file != ''")}
            cutoff = time.time() - older_than_s
            for path in folder.glob("*/*"):
                name = path.relative_to(self.folder).as_posix()
                try:
                    if name in kept or not path.is_file():
                        continue
                    stat = path.stat()
                    if name in named:
                        conn.execute("INSERT INTO originals (name, bytes, used_at) VALUES (?, ?, ?)",
                                     (name, stat.st_size, stat.st_mtime))
                    elif stat.st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except OSError:
                    pass
        return removed

    def key_use(self, key: str) -> tuple[str, str] | None:
        """(stored id, fingerprint) filed under an API caller's idempotency key, if any ('' : not known)."""
        rows = self._query("SELECT record_id, fingerprint FROM request_keys WHERE key = ?", [key])
        return rows[0] if rows else None

    def claim_key(self, key: str, record_id: str, fingerprint: str = "") -> str:
        """In a transaction: file `record_id` under `key` with what the request was, or return the id filed
        there before."""
        with self.transaction() as conn:
            row = conn.execute("SELECT record_id FROM request_keys WHERE key = ?", (key,)).fetchone()
            if row:
                return row[0]
            conn.execute("INSERT INTO request_keys (key, record_id, created_at, fingerprint) VALUES (?, ?, ?, ?)",
                         (key, record_id, time.time(), fingerprint))
            return record_id

    def get(self, record_id: str) -> FeedbackRecord | None:
        rows = self._query(f"SELECT {', '.join(RECORD_COLUMNS)} FROM feedback WHERE id = ?", [record_id])
        return FeedbackRecord(*rows[0]) if rows else None

    def records(self, task: str | None = None) -> list[FeedbackRecord]:
        where, params = ("WHERE task = ?", [task]) if task else ("", [])
        rows = self._query(f"SELECT {', '.join(RECORD_COLUMNS)} FROM feedback {where} ORDER BY created_at, id", params)
        return [FeedbackRecord(*row) for row in rows]

    def count(self, task: str | None = None) -> int:
        where, params = ("WHERE task = ?", [task]) if task else ("", [])
        return self._query(f"SELECT COUNT(*) FROM feedback {where}", params)[0][0]


def _add_fingerprints(conn: sqlite3.Connection) -> None:
    """A store made before keys had fingerprints gains the column (its old keys match any request)."""
    if "fingerprint" not in {row[1] for row in conn.execute("PRAGMA table_info(request_keys)")}:
        try:
            conn.execute("ALTER TABLE request_keys ADD COLUMN fingerprint TEXT NOT NULL DEFAULT ''")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):  # another process added it first
                raise


_stores: dict[Path, FeedbackStore] = {}
_stores_lock = threading.Lock()


def open_store(folder: Path | str, database_url: str | None = None):
    """The one store of a folder in this process (sinks share it to share transactions): the SQLite file
    in `folder`, or, when `database_url` (default: HANDWRITING_DATABASE_URL) names a PostgreSQL database,
    the `PostgresFeedbackStore` every replica shares."""
    if database_url is None:
        from handwriting.config import settings

        database_url = settings().database_url
    if database_url:
        from handwriting.feedback.postgres_store import open_postgres_store

        return open_postgres_store(database_url, folder)
    key = (Path(folder) / DB_FILE).resolve()
    with _stores_lock:
        if key not in _stores:
            _stores[key] = FeedbackStore(folder)
        return _stores[key]



"""The high-score table: the best rounds of each mode, in its own SQLite file in the data folder.

One connection per table, WAL and a busy timeout, so several app processes can share the file. It keeps
the best KEEP_SCORES rounds per mode and source; rounds started through the API are marked and shown apart
from the page's table. Earlier versions kept the table inside the feedback database: its rows are copied
over while the new table is empty (rows from before rounds were marked by source become "legacy"
and stay off the page's table; the old mode "both" becomes "all").
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from handwriting.game.rules import canonical_mode
from handwriting.sqlite_file import open_shared

DB_FILE = "game_scores.sqlite3"
OLD_DB_FILE = "feedback.sqlite3"  # where the table lived before
KEEP_SCORES = 100  # rows kept per mode and source

_COLUMNS = "id, created_at, mode, name, score, right, drawn, best_streak, seconds, source"
_SCHEMA = """
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


@dataclass(frozen=True)
class HighScore:
    rank: int
    name: str  # as typed (cleaned); escape it before showing it in a page
    score: int
    right: int
    drawn: int
    best_streak: int
    seconds: int
    created_at: str

    def as_dict(self) -> dict:
        return {"rank": self.rank, "name": self.name, "score": self.score, "right": self.right, "drawn": self.drawn,
                "best_streak": self.best_streak, "seconds": self.seconds, "time_utc": self.created_at}


class HighScores:
    """The table in `folder`. `shown` are the round sources it lists (the page's rounds; API rounds too
    when the operator allows them)."""

    def __init__(self, folder: Path | str, shown: tuple[str, ...] = ("page",)):
        self.folder = Path(folder)
        self.path = self.folder / DB_FILE
        self.shown = tuple(shown)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _transaction(self):
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
        conn = open_shared(self.path, _SCHEMA)
        if conn.execute("SELECT 1 FROM game_scores LIMIT 1").fetchone() is None:  # new (or never scored in)
            _copy_old_table(conn, self.folder / OLD_DB_FILE)
        return conn

    def add(self, rnd) -> int | None:
        """Enter a finished round; returns its rank in its mode's table (1 = best), None if the table
        does not show its source. Only the best KEEP_SCORES of each mode and source are kept."""
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._transaction() as conn:
            conn.execute(f"INSERT INTO game_scores ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (uuid.uuid4().hex, created, rnd.mode, rnd.name, rnd.score, rnd.right, len(rnd.drawn),
                          rnd.best_streak, rnd.seconds, rnd.source))
            conn.execute(
                "DELETE FROM game_scores WHERE mode = ? AND source = ? AND rowid NOT IN (SELECT rowid FROM "
                "game_scores WHERE mode = ? AND source = ? ORDER BY score DESC, created_at, rowid LIMIT ?)",
                (rnd.mode, rnd.source, rnd.mode, rnd.source, KEEP_SCORES),
            )
            if rnd.source not in self.shown:
                return None
            better = conn.execute(
                f"SELECT COUNT(*) FROM game_scores WHERE mode = ? AND score > ? AND source IN ({self._marks})",
                (rnd.mode, rnd.score, *self.shown)).fetchone()[0]
        return better + 1

    @property
    def _marks(self) -> str:
        return ", ".join("?" * len(self.shown))

    def top(self, mode: str, limit: int = 10) -> list[HighScore]:
        """The mode's best rounds among the shown sources, best first (ties: the earlier round first)."""
        mode = canonical_mode(mode)
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT name, score, right, drawn, best_streak, seconds, created_at FROM game_scores "
                f"WHERE mode = ? AND source IN ({self._marks}) ORDER BY score DESC, created_at, rowid LIMIT ?",
                (mode, *self.shown, int(limit)),
            ).fetchall()
        return [HighScore(i + 1, *row) for i, row in enumerate(rows)]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


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
            conn.execute(f"INSERT OR IGNORE INTO game_scores ({_COLUMNS}) SELECT id, created_at, "
                         "CASE mode WHEN 'both' THEN 'all' ELSE mode END, name, score, right, drawn, best_streak, "
                         f"seconds, {source} FROM old.game_scores")
    finally:
        conn.execute("DETACH DATABASE old")

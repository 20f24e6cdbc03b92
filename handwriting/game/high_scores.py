"""The high-score table: the best rounds of each mode, in its own SQLite file in the data folder, or in
the PostgreSQL database replicas share when HANDWRITING_DATABASE_URL is set (`score_store`).

It keeps the best KEEP_SCORES rounds per mode and source; rounds started through the API are marked and
shown apart from the page's table. A client address holds at most PER_CLIENT_DAY rows per mode, source and
UTC day (its best rounds of the day), so one address cannot fill the table; the address is kept only as a
hash, to compare. Earlier versions kept the table inside the feedback database: its rows are copied over
while the new SQLite table is empty (rows from before rounds were marked by source become "legacy"
and stay off the page's table; the old mode "both" becomes "all").
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, NamedTuple

from handwriting.game.rules import canonical_mode
from handwriting.game.score_store import COLUMNS, DB_FILE, PostgresScores, ScoreStore, SqliteScores

KEEP_SCORES = 100  # rows kept per mode and source
PER_CLIENT_DAY = 1  # rows one client address keeps per mode, source and UTC day (0: no limit)


def client_key(address: str) -> str:
    """What the table keeps of a client address: enough to tell two apart, not the address ('' for none)."""
    return hashlib.sha256(f"handwriting-game:{address}".encode()).hexdigest()[:16] if address else ""


class Entered(NamedTuple):
    """What became of a round offered to the table: its rank (None: not shown, or not entered) and, when
    it was not entered, why (for the player)."""

    rank: int | None
    held_back: str | None = None


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
    when the operator allows them); `per_client` the rows one address keeps a day (a classroom behind one
    address: raise it)."""

    def __init__(self, folder: Path | str, shown: tuple[str, ...] = ("page",), per_client: int = PER_CLIENT_DAY,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc), database_url: str | None = None):
        self.folder = Path(folder)
        self.per_client = per_client  # rounds one address keeps in a day's table of a mode (0: no limit)
        self.now = now  # UTC; tests pass a fake to cross midnight
        self.shown = tuple(shown)
        self.backend = open_score_store(self.folder, database_url)
        self.path = self.folder / DB_FILE  # the SQLite file (unused with a database URL)

    def add(self, rnd) -> Entered:
        """Enter a finished round, unless its client address already has `per_client` rounds as good in
        today's table of its mode and source (a better one takes the place of its worst). Returns its rank
        in its mode's table (1 = best; None if the table does not show its source) or why it was held back.
        Only the best KEEP_SCORES of each mode and source are kept."""
        now = self.now()
        created, day = now.strftime("%Y-%m-%dT%H:%M:%SZ"), now.strftime("%Y-%m-%d")
        client = client_key(getattr(rnd, "client", ""))
        limited = bool(client) and self.per_client > 0
        seq = self.backend.seq
        with self.backend.transaction() as conn:
            if limited:
                today = [row[0] for row in conn.execute(
                    "SELECT score FROM game_scores WHERE mode = ? AND source = ? AND client = ? AND created_at >= ? "
                    "ORDER BY score DESC", (rnd.mode, rnd.source, client, day))]
                if len(today) >= self.per_client and today[self.per_client - 1] >= rnd.score:
                    kept = "a round" if self.per_client == 1 else f"{self.per_client} rounds"
                    return Entered(None, f"your address already has {kept} of {today[self.per_client - 1]} points or "
                                         f"more in today's table (it keeps {kept} per address a day: the best)")
            conn.execute(f"INSERT INTO game_scores ({COLUMNS}, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (uuid.uuid4().hex, created, rnd.mode, rnd.name, rnd.score, rnd.right, len(rnd.drawn),
                          rnd.best_streak, rnd.seconds, rnd.source, client))
            if limited:
                today = "mode = ? AND source = ? AND client = ? AND created_at >= ?"
                conn.execute(
                    f"DELETE FROM game_scores WHERE {today} AND {seq} NOT IN (SELECT {seq} FROM game_scores WHERE "
                    f"{today} ORDER BY score DESC, created_at, {seq} LIMIT ?)",
                    (rnd.mode, rnd.source, client, day) * 2 + (self.per_client,))
            conn.execute(
                f"DELETE FROM game_scores WHERE mode = ? AND source = ? AND {seq} NOT IN (SELECT {seq} FROM "
                f"game_scores WHERE mode = ? AND source = ? ORDER BY score DESC, created_at, {seq} LIMIT ?)",
                (rnd.mode, rnd.source, rnd.mode, rnd.source, KEEP_SCORES),
            )
            if rnd.source not in self.shown:
                return Entered(None)
            better = conn.execute(
                f"SELECT COUNT(*) FROM game_scores WHERE mode = ? AND score > ? AND source IN ({self._marks})",
                (rnd.mode, rnd.score, *self.shown)).fetchone()[0]
        return Entered(better + 1)

    @property
    def _marks(self) -> str:
        return ", ".join("?" * len(self.shown))

    def top(self, mode: str, limit: int = 10) -> list[HighScore]:
        """The mode's best rounds among the shown sources, best first (ties: the earlier round first)."""
        mode = canonical_mode(mode)
        with self.backend.transaction(write=False) as conn:
            rows = conn.execute(
                'SELECT name, score, "right", drawn, best_streak, seconds, created_at FROM game_scores '
                f"WHERE mode = ? AND source IN ({self._marks}) ORDER BY score DESC, created_at, {self.backend.seq} LIMIT ?",
                (mode, *self.shown, int(limit)),
            ).fetchall()
        return [HighScore(i + 1, *row) for i, row in enumerate(rows)]

    def close(self) -> None:
        self.backend.close()


def open_score_store(folder: Path, database_url: str | None = None) -> ScoreStore:
    """The SQLite file in `folder`, or the database at `database_url` (default: HANDWRITING_DATABASE_URL)."""
    if database_url is None:
        from handwriting.config import settings

        database_url = settings().database_url
    if database_url:
        from handwriting.postgres import open_database

        return PostgresScores(open_database(database_url))
    return SqliteScores(folder)

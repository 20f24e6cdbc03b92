"""The remote sinks' outbox and the senders' leases: the tables and the statements on them.

A remote sink (a spreadsheet, a database server) never holds up a request: its records wait here, in the
store's own file, until its background sender delivers them, so a record queued is never lost and, with
the in-doubt mark, never sent twice. `FeedbackStore` carries these methods; every one takes the sink's name.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from handwriting.feedback.record import FeedbackRecord

OUTBOX_SCHEMA = """
-- records waiting for a remote sink; in_doubt: a send may have landed (timeout, 5xx), check before resending
CREATE TABLE IF NOT EXISTS outbox (
    sink TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES feedback (id),
    queued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    in_doubt INTEGER NOT NULL DEFAULT 0,
    parked INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (sink, record_id)
);
CREATE TABLE IF NOT EXISTS delivered (
    sink TEXT NOT NULL,
    record_id TEXT NOT NULL,
    delivered_at REAL NOT NULL,
    PRIMARY KEY (sink, record_id)
);
-- which process may send to a sink, so two processes sharing this file never send the same record
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""

RECORD_COLUMNS = [name for name in FeedbackRecord.__dataclass_fields__]


@dataclass(frozen=True)
class Queued:
    """A record waiting in a sink's outbox."""

    record: FeedbackRecord
    attempts: int
    in_doubt: bool


def owner_alive(owner: str) -> bool:
    """Whether a lease's owner ("host:pid") may still be sending: a dead process on this host is not."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: trust its lease until it expires
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutboxTables:
    """The outbox and lease statements of `FeedbackStore` (which supplies `transaction` and `_query`)."""

    def enqueue(self, sink: str, record_id: str) -> None:
        """Queue a stored record for `sink` (no-op if it is queued or delivered already)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO outbox (sink, record_id, queued_at) "
                "SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM delivered WHERE sink = ? AND record_id = ?)",
                (sink, record_id, time.time(), sink, record_id),
            )

    def due(self, sink: str, limit: int, now: float | None = None) -> list[Queued]:
        """The oldest records whose next attempt is due, at most `limit`."""
        cols = ", ".join(f"f.{c}" for c in RECORD_COLUMNS)
        rows = self._query(
            f"SELECT {cols}, o.attempts, o.in_doubt FROM outbox o JOIN feedback f ON f.id = o.record_id "
            "WHERE o.sink = ? AND o.parked = 0 AND o.next_attempt_at <= ? ORDER BY o.queued_at, o.rowid LIMIT ?",
            (sink, time.time() if now is None else now, limit),
        )
        n = len(RECORD_COLUMNS)
        return [Queued(FeedbackRecord(*row[:n]), row[n], bool(row[n + 1])) for row in rows]

    def next_due_in(self, sink: str) -> float | None:
        """Seconds until the next queued record is due (0 if one is due now), None if none waits."""
        row = self._query("SELECT MIN(next_attempt_at) FROM outbox WHERE sink = ? AND parked = 0", [sink])[0]
        return None if row[0] is None else max(0.0, row[0] - time.time())

    def mark_in_doubt(self, sink: str, ids: Sequence[str]) -> None:
        """Before a send: from now on a crash or an unclear answer means "it may have landed"."""
        self._update_outbox(sink, ids, "in_doubt = 1, attempts = attempts + 1")

    def mark_retry(self, sink: str, ids: Sequence[str], delay: float, error: str, in_doubt: bool | None) -> None:
        """Try again in `delay` seconds; `in_doubt=None` keeps what was known (nothing was sent this time)."""
        self._update_outbox(sink, ids, "in_doubt = COALESCE(?, in_doubt), next_attempt_at = ?, last_error = ?",
                            [None if in_doubt is None else int(in_doubt), time.time() + delay, error[:500]])

    def park(self, sink: str, record_id: str, error: str) -> None:
        """Stop sending a record the sink refuses outright (kept locally; `status` lists it)."""
        self._update_outbox(sink, [record_id], "parked = 1, in_doubt = 0, last_error = ?", [error[:500]])

    def mark_delivered(self, sink: str, ids: Sequence[str]) -> None:
        with self.transaction() as conn:
            now = time.time()
            conn.executemany("INSERT OR IGNORE INTO delivered (sink, record_id, delivered_at) VALUES (?, ?, ?)",
                             [(sink, i, now) for i in ids])
            conn.executemany("DELETE FROM outbox WHERE sink = ? AND record_id = ?", [(sink, i) for i in ids])

    def _update_outbox(self, sink: str, ids: Sequence[str], assignments: str, values: Sequence = ()) -> None:
        with self.transaction() as conn:
            conn.executemany(f"UPDATE outbox SET {assignments} WHERE sink = ? AND record_id = ?",
                             [(*values, sink, i) for i in ids])

    def outbox_counts(self, sink: str) -> dict[str, int]:
        """{"waiting", "in_doubt", "parked", "delivered"} for a sink."""
        waiting, in_doubt, parked = self._query(
            "SELECT COALESCE(SUM(parked = 0), 0), COALESCE(SUM(in_doubt), 0), COALESCE(SUM(parked), 0) "
            "FROM outbox WHERE sink = ?", [sink])[0]
        delivered = self._query("SELECT COUNT(*) FROM delivered WHERE sink = ?", [sink])[0][0]
        return {"waiting": waiting, "in_doubt": in_doubt, "parked": parked, "delivered": delivered}

    def waiting(self, sink: str) -> int:
        return self._query("SELECT COUNT(*) FROM outbox WHERE sink = ? AND parked = 0", [sink])[0][0]

    def last_errors(self, sink: str, limit: int = 5) -> list[tuple[str, str]]:
        return self._query("SELECT record_id, last_error FROM outbox WHERE sink = ? AND last_error != '' "
                           "ORDER BY parked DESC, queued_at LIMIT ?", [sink, limit])

    # leases ------------------------------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, seconds: float,
                      alive: Callable[[str], bool] = owner_alive) -> bool:
        """Hold `name` for `seconds` unless another live owner holds it; renews one's own lease."""
        with self.transaction() as conn:
            row = conn.execute("SELECT owner, expires_at FROM leases WHERE name = ?", (name,)).fetchone()
            if row and row[0] != owner and row[1] > time.time() and alive(row[0]):
                return False
            conn.execute("INSERT OR REPLACE INTO leases (name, owner, expires_at) VALUES (?, ?, ?)",
                         (name, owner, time.time() + seconds))
            return True

    def release_lease(self, name: str, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))



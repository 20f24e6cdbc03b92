"""The remote sinks' outbox and the senders' leases in PostgreSQL: `OutboxTables`' statements for the
database replicas share.

Several replicas run a sender each; the lease (a row locked while it is read and renewed) lets one of
them send at a time, and the in-doubt mark set before each send keeps a record a crashed sender may have
delivered from being sent again unchecked. `PostgresFeedbackStore` carries these methods.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from handwriting.feedback.outbox import RECORD_COLUMNS, Queued, owner_alive
from handwriting.feedback.record import FeedbackRecord

OUTBOX_MIGRATION = """
CREATE TABLE outbox (
    sink TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES feedback (id),
    queued_at DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    in_doubt BOOLEAN NOT NULL DEFAULT false,
    parked BOOLEAN NOT NULL DEFAULT false,
    last_error TEXT NOT NULL DEFAULT '',
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (sink, record_id)
);
CREATE INDEX outbox_due ON outbox (sink, parked, next_attempt_at);
CREATE TABLE delivered (
    sink TEXT NOT NULL,
    record_id TEXT NOT NULL,
    delivered_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (sink, record_id)
);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
"""


class PostgresOutbox:
    """The outbox and lease statements of `PostgresFeedbackStore` (which supplies `transaction` and `_query`)."""

    def enqueue(self, sink: str, record_id: str) -> None:
        """Queue a stored record for `sink` (no-op if it is queued or delivered already)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO outbox (sink, record_id, queued_at) SELECT %s, %s, %s WHERE NOT EXISTS "
                "(SELECT 1 FROM delivered WHERE sink = %s AND record_id = %s) ON CONFLICT DO NOTHING",
                (sink, record_id, time.time(), sink, record_id))

    def due(self, sink: str, limit: int, now: float | None = None) -> list[Queued]:
        """The oldest records whose next attempt is due, at most `limit`."""
        cols = ", ".join(f"f.{c}" for c in RECORD_COLUMNS)
        rows = self._query(
            f"SELECT {cols}, o.attempts, o.in_doubt FROM outbox o JOIN feedback f ON f.id = o.record_id "
            "WHERE o.sink = %s AND NOT o.parked AND o.next_attempt_at <= %s ORDER BY o.queued_at, o.seq LIMIT %s",
            (sink, time.time() if now is None else now, limit))
        n = len(RECORD_COLUMNS)
        return [Queued(FeedbackRecord(*row[:n]), row[n], bool(row[n + 1])) for row in rows]

    def next_due_in(self, sink: str) -> float | None:
        """Seconds until the next queued record is due (0 if one is due now), None if none waits."""
        row = self._query("SELECT MIN(next_attempt_at) FROM outbox WHERE sink = %s AND NOT parked", [sink])[0]
        return None if row[0] is None else max(0.0, row[0] - time.time())

    def mark_in_doubt(self, sink: str, ids: Sequence[str]) -> None:
        """Before a send: from now on a crash or an unclear answer means "it may have landed"."""
        self._update_outbox(sink, ids, "in_doubt = true, attempts = attempts + 1")

    def mark_retry(self, sink: str, ids: Sequence[str], delay: float, error: str, in_doubt: bool | None) -> None:
        """Try again in `delay` seconds; `in_doubt=None` keeps what was known (nothing was sent this time)."""
        self._update_outbox(sink, ids, "in_doubt = COALESCE(%s, in_doubt), next_attempt_at = %s, last_error = %s",
                            [in_doubt, time.time() + delay, error[:500]])

    def park(self, sink: str, record_id: str, error: str) -> None:
        """Stop sending a record the sink refuses outright (kept; `status` lists it)."""
        self._update_outbox(sink, [record_id], "parked = true, in_doubt = false, last_error = %s", [error[:500]])

    def mark_delivered(self, sink: str, ids: Sequence[str]) -> None:
        with self.transaction() as conn:
            now = time.time()
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO delivered (sink, record_id, delivered_at) VALUES (%s, %s, %s) "
                                "ON CONFLICT DO NOTHING", [(sink, i, now) for i in ids])
                cur.executemany("DELETE FROM outbox WHERE sink = %s AND record_id = %s", [(sink, i) for i in ids])

    def _update_outbox(self, sink: str, ids: Sequence[str], assignments: str, values: Sequence = ()) -> None:
        with self.transaction() as conn:
            with conn.cursor() as cur:
                cur.executemany(f"UPDATE outbox SET {assignments} WHERE sink = %s AND record_id = %s",
                                [(*values, sink, i) for i in ids])

    def outbox_counts(self, sink: str) -> dict[str, int]:
        """{"waiting", "in_doubt", "parked", "delivered"} for a sink."""
        waiting, in_doubt, parked = self._query(
            "SELECT COUNT(*) FILTER (WHERE NOT parked), COUNT(*) FILTER (WHERE in_doubt), "
            "COUNT(*) FILTER (WHERE parked) FROM outbox WHERE sink = %s", [sink])[0]
        delivered = self._query("SELECT COUNT(*) FROM delivered WHERE sink = %s", [sink])[0][0]
        return {"waiting": waiting, "in_doubt": in_doubt, "parked": parked, "delivered": delivered}

    def waiting(self, sink: str) -> int:
        return self._query("SELECT COUNT(*) FROM outbox WHERE sink = %s AND NOT parked", [sink])[0][0]

    def last_errors(self, sink: str, limit: int = 5) -> list[tuple[str, str]]:
        return [tuple(row) for row in self._query(
            "SELECT record_id, last_error FROM outbox WHERE sink = %s AND last_error != '' "
            "ORDER BY parked DESC, queued_at LIMIT %s", [sink, limit])]

    # leases ------------------------------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, seconds: float,
                      alive: Callable[[str], bool] = owner_alive) -> bool:
        """Hold `name` for `seconds` unless another live owner holds it; renews one's own lease. The lease's
        row stays locked from its read to its write, so two replicas never both take it."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO leases (name, owner, expires_at) VALUES (%s, '', 0) ON CONFLICT DO NOTHING",
                         (name,))
            held_by, expires = conn.execute("SELECT owner, expires_at FROM leases WHERE name = %s FOR UPDATE",
                                            (name,)).fetchone()
            if held_by and held_by != owner and expires > time.time() and alive(held_by):
                return False
            conn.execute("UPDATE leases SET owner = %s, expires_at = %s WHERE name = %s",
                         (owner, time.time() + seconds, name))
            return True

    def release_lease(self, name: str, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM leases WHERE name = %s AND owner = %s", (name, owner))

"""The background sender of a remote sink: it drains the sink's outbox into a `Destination`.

What every remote sink needs, written once: a thread woken when a record is queued, a lease so two
processes sharing a store never send the same records, requests spaced under the destination's quota,
exponential backoff with jitter, the "in doubt" mark before each send (after an unclear answer the
destination is asked which records landed before anything is resent), and a record the destination refuses
outright set aside so it cannot hold the others back. A sink brings only its `Destination`: how to connect,
send a batch, say which ids landed, and what an exception means.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

from handwriting.feedback.database import FeedbackStore
from handwriting.feedback.outbox import Queued
from handwriting.feedback.record import FeedbackRecord, FeedbackStorageError


@dataclass(frozen=True)
class Failure:
    """What a failed step means for the records it carried."""

    what: str  # for the log and `status`
    maybe_applied: bool | None = False  # could the write have landed? None: unknown (counts as yes)
    setup_problem: bool = False  # access, key or target: retried slowly until someone fixes it
    rows_refused: bool = False  # the destination rejects the records themselves
    retry_after: float | None = None  # seconds the server asked for
    reconnect: bool = False  # the connection is spoilt: open it again before the next step


class Pacing(Protocol):
    """How a sender paces itself (`handwriting.config.SheetsSettings` is one)."""

    batch_size: int
    writes_per_minute: float
    timeout_s: float
    retry_base_s: float
    retry_max_s: float
    idle_poll_s: float


class Destination(Protocol):
    """The part of a remote sink that knows the remote end; the sender calls it from its own thread only."""

    name: str  # the outbox's sink name (and the lease's): fixed, it names rows in existing stores
    place: str  # the destination for people and the log: "the Google Sheet"
    where: str  # the exact target (spreadsheet and worksheet, server and table): two senders must not differ

    def connect(self) -> None:
        """Open (or reopen) the connection and check the target is usable; raises what `describe` reads."""

    def landed(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` the destination already holds (asked after an unclear answer)."""

    def send(self, records: Sequence[FeedbackRecord]) -> None:
        """Write the records, in one request when the destination allows it."""

    def describe(self, exc: BaseException) -> Failure:
        """What an exception raised by `connect`, `landed` or `send` means."""


_running: dict[tuple[Path, str], "OutboxSender"] = {}
_running_lock = threading.Lock()


class OutboxSender:
    """Sends one store's records queued for `destination.name`, from a background thread.

    `run_once()` does one step (ask what landed if needed, send one batch) and says how long to wait; the
    thread repeats it, woken early by `wake()` when a record is queued. One sender per store and sink per
    process (`start` hands back the running one); a lease in the store keeps a second process out.
    """

    def __init__(self, store: FeedbackStore, destination: Destination, pacing: Pacing):
        self.store = store
        self.destination = destination
        self.cfg = pacing
        self.log = logging.getLogger(f"handwriting.{destination.name}")
        self._connected = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._solo = 0  # send this many records one at a time (to single out one the destination refuses)
        self._next_send = 0.0  # time.monotonic() before which no request is sent (quota pacing)
        self._lease_until = 0.0
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.state = "starting"  # "ok", "retrying" or "misconfigured"
        self.problem = ""
        self.stats: Counter = Counter()  # records sent, records found already there, failures

    @property
    def sink(self) -> str:
        return self.destination.name

    # the thread ----------------------------------------------------------------------------------------

    def start(self) -> "OutboxSender":
        """Start sending; if this process already sends this store's records there, that sender is returned."""
        key = (self.store.identity, self.sink)
        with _running_lock:
            other = _running.get(key)
            if other is not None and other.alive:
                if other.destination.where != self.destination.where:
                    self.log.warning("this store's records already go to another target; not starting a second sender")
                return other
            _running[key] = self
            self._thread = threading.Thread(target=self._loop, name=f"{self.sink}-sender", daemon=True)
            self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current step; what is still queued stays queued, on disk."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with _running_lock:
            if _running.get((self.store.identity, self.sink)) is self:
                del _running[(self.store.identity, self.sink)]
        try:
            self.store.release_lease(self.sink, self.owner)
        except Exception:  # the store may be unusable; the lease then just expires
            pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.run_once()
            except FeedbackStorageError as exc:  # the store is unreachable (a database down): one line a change
                level = logging.DEBUG if str(exc) == self.problem else logging.WARNING
                self.log.log(level, "the %s sender waits for the feedback store: %s", self.sink, exc)
                self.state, self.problem = "retrying", str(exc)
                wait = self._backoff()
            except Exception as exc:  # a bug or the store failing: log it, keep the thread alive
                self.log.exception("the %s sender failed a step: %s", self.sink, type(exc).__name__)
                wait = self._backoff()
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()
        self.state = "stopped"

    # one step ------------------------------------------------------------------------------------------

    def run_once(self) -> float:
        """Send at most one batch; returns the seconds to wait before the next step."""
        if not self._hold_lease():
            return max(self.cfg.idle_poll_s, 1.0)
        batch = self.store.due(self.sink, 1 if self._solo else self.cfg.batch_size)
        if not batch:
            due_in = self.store.next_due_in(self.sink)
            return self.cfg.idle_poll_s if due_in is None else min(max(due_in, 0.01), self.cfg.idle_poll_s)
        pause = self._next_send - time.monotonic()
        if pause > 0:
            return pause
        sent = False
        try:
            if not self._connected:
                self._pace()
                self.destination.connect()
                self._connected = True
            if any(q.in_doubt for q in batch):
                batch = self._skip_landed(batch)
                if not batch:
                    return 0.0
            self.store.mark_in_doubt(self.sink, [q.record.id for q in batch])
            sent = True
            self._pace()
            self.destination.send([q.record for q in batch])
        except Exception as exc:
            return self._failed(batch, exc, sent)
        self.store.mark_delivered(self.sink, [q.record.id for q in batch])
        self.stats["sent"] += len(batch)
        self._solo = max(0, self._solo - 1)
        self._succeeded()
        return 0.0

    def _skip_landed(self, batch: list[Queued]) -> list[Queued]:
        """After an unclear answer: mark what landed as delivered, keep the rest."""
        self._pace()
        present = self.destination.landed([q.record.id for q in batch])
        landed = [q.record.id for q in batch if q.record.id in present]
        if landed:
            self.store.mark_delivered(self.sink, landed)
            self.stats["already_there"] += len(landed)
            self.log.info("%d feedback records had reached %s despite an unclear answer", len(landed),
                          self.destination.place)
        self.stats["id_checks"] += 1
        return [q for q in batch if q.record.id not in present]

    def _pace(self) -> None:
        """Space requests evenly under the quota (each call books the next slot)."""
        now = time.monotonic()
        self._next_send = max(now, self._next_send) + 60.0 / max(self.cfg.writes_per_minute, 1e-6)

    def _hold_lease(self) -> bool:
        now = time.monotonic()
        lease_s = max(60.0, 4 * self.cfg.timeout_s + 10)
        if now < self._lease_until - lease_s * 2 / 3:
            return True  # renewed recently
        if self.store.acquire_lease(self.sink, self.owner, lease_s):
            self._lease_until = now + lease_s
            return True
        self.state, self.problem = "retrying", "another process is sending this store's feedback"
        return False

    def _succeeded(self) -> None:
        if self.state != "ok" and self._failures:
            self.log.info("feedback reaches %s again", self.destination.place)
        self._failures = 0
        self.state, self.problem = "ok", ""

    def _failed(self, batch: list[Queued], exc: Exception, sent: bool) -> float:
        """Reschedule the batch after a failure; `sent`: the write itself was attempted."""
        failure = self.destination.describe(exc)
        if failure.maybe_applied is None:
            self.log.warning("unexpected error from the %s client", self.sink, exc_info=exc)
        ids = [q.record.id for q in batch]
        self.stats["failures"] += 1
        self._failures += 1
        delay = max(self._backoff(), failure.retry_after or 0.0)
        in_doubt = (failure.maybe_applied is not False) if sent else None  # None: nothing new is known
        if in_doubt:
            delay = max(delay, min(self.cfg.timeout_s, self.cfg.retry_max_s))  # let a straggler land first
        if failure.setup_problem or failure.reconnect:
            self._connected = False  # reopen (and recheck access) next time
        if sent and failure.rows_refused:
            if len(batch) > 1:  # one bad record must not hold the others back: send them one by one
                self._solo = len(batch)
                delay = 0.0
            else:
                self.store.park(self.sink, ids[0], failure.what)
                self.log.error("%s refuses feedback record %s; it is kept locally only: %s",
                               self.destination.place, ids[0], failure.what)
                return 0.0
        self.store.mark_retry(self.sink, ids, delay, failure.what, in_doubt)
        # one line per new problem, not per retry (a rate-limit storm must not flood the log)
        level = logging.DEBUG if failure.what == self.problem else logging.ERROR if failure.setup_problem else logging.WARNING
        self.log.log(level, "feedback not sent to %s (%s); %d records wait, retrying in %.1f s",
                     self.destination.place, failure.what, len(ids), delay)
        self.state = "misconfigured" if failure.setup_problem else "retrying"
        self.problem = failure.what
        return 0.0

    def _backoff(self) -> float:
        """Exponential, capped, with jitter so restarted processes do not retry in step."""
        base = min(self.cfg.retry_max_s, self.cfg.retry_base_s * 2 ** max(self._failures - 1, 0))
        return base * random.uniform(0.5, 1.0)

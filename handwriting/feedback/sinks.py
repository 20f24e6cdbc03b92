"""Where feedback goes: the `Sink` protocol, the local SQLite sink, and the base of every remote sink.

`FeedbackRecorder` hands each record to every sink inside the store's ONE write transaction, so a record
is stored and queued together or not at all. A remote sink never talks to its remote end there: it queues
the record in the store's outbox and its `OutboxSender` (a background thread) delivers it. A new remote
sink is a `Destination` (see `handwriting.feedback.sender`) and an `OutboxSink` subclass that builds it.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from handwriting.feedback.database import FeedbackStore
from handwriting.feedback.record import FeedbackRecord
from handwriting.feedback.sender import Destination, OutboxSender, Pacing

log = logging.getLogger("handwriting.feedback")


@runtime_checkable
class Sink(Protocol):
    """One place feedback is kept or copied to."""

    name: str

    def setup(self, store: FeedbackStore) -> None:
        """Once, when the recorder starts (at the app's launch, never at import): open, start threads."""

    def accept(self, store: FeedbackStore, record: FeedbackRecord) -> None:
        """Take `record`, inside `store`'s write transaction: write or queue only, never wait on a network."""

    def note(self) -> str:
        """One sentence for the person who just sent feedback ("" when there is nothing to say)."""

    def close(self) -> None:
        """Stop what `setup` started; what is queued stays queued."""


class SinkConfigError(RuntimeError):
    """A remote sink cannot be used as configured; the message says what to fix (and holds no secret)."""


class LocalSink:
    """Every record into the SQLite store (always on: the outbox and the exporters read it)."""

    name = "local"

    def setup(self, store: FeedbackStore) -> None:
        pass

    def accept(self, store: FeedbackStore, record: FeedbackRecord) -> None:
        store.insert(record, if_new=True)

    def note(self) -> str:
        return ""

    def close(self) -> None:
        pass


class OutboxSink:
    """A remote sink: records queued in the store's outbox, delivered by a background `OutboxSender`.

    A subclass names itself (`name`, `title`, `place`) and builds its `Destination` in `destination()`,
    raising SinkConfigError when its settings cannot work: the sink then keeps queuing, so nothing is lost
    while someone fixes them, and says so in the log and to the person.
    """

    name = "remote"  # the outbox's name for this sink
    title = "Remote"  # for the log: "Google Sheets feedback is paused"
    place = "the remote copy"  # for people: "It is being copied to the Google Sheet in the background."

    def __init__(self, pacing: Pacing):
        self.cfg = pacing
        self.sender: OutboxSender | None = None
        self.problem = ""  # why the destination cannot be used as configured, for the log and the operator

    def destination(self) -> Destination:
        raise NotImplementedError

    def setup(self, store: FeedbackStore) -> None:
        try:
            destination = self.destination()
        except SinkConfigError as exc:
            self.problem = str(exc)
            log.error("%s feedback is paused (records are kept and queued locally): %s", self.title, exc)
            return
        self.sender = OutboxSender(store, destination, self.cfg).start()
        log.info("feedback is copied to %s", destination.where)

    def accept(self, store: FeedbackStore, record: FeedbackRecord) -> None:
        store.enqueue(self.name, record.id)
        if self.sender is not None:
            store.after_commit(self.sender.wake)

    def note(self) -> str:
        place = self.place[0].upper() + self.place[1:]
        kept = "your feedback is kept here and will be copied there once that is fixed."
        if self.sender is None:
            return f"{place} is not set up correctly (details in the server log): {kept}"
        if self.sender.state == "misconfigured":
            return f"{place} refuses our writes right now (details in the server log): {kept}"
        if self.sender.state == "retrying":
            return f"{place} cannot be reached right now: your feedback is kept here and will be copied there when it is back."
        return f"It is being copied to {self.place} in the background."

    def close(self) -> None:
        if self.sender is not None:
            self.sender.stop()
